"""Resampling and padding: Upsample, PixelShuffle, Pad (constant, reflect, replicate, circular)."""

from __future__ import annotations

from typing import Any

from dpg_blocks.blocks import BuildContext, In, Out, Param, block

from .shapes import fmt

UPSAMPLE_MODES = {"nearest": (3, 4, 5), "linear": (3,), "bilinear": (4,), "bicubic": (4,), "trilinear": (5,)}


@block("builtin.Upsample", category="Layers/Resampling", name="Upsample", version=1)
class Upsample:
    """Enlarges each sample's length, image or volume by a factor, e.g. 8×8 -> 16×16 at 2."""

    x = In("tensor", doc="(batch, channels, length), (batch, channels, height, width) or a volume.")
    y = Out("tensor", doc="The input with every spatial dim times the scale factor.")

    scale_factor = Param(float, 2.0, min=0.01, max=64.0, doc="How much larger each spatial dim becomes.")
    mode = Param(str, "nearest", choices=list(UPSAMPLE_MODES), doc="How new values are made: copied or interpolated.")

    def build(self, ctx: BuildContext) -> Any:
        """An ``nn.Upsample``."""
        shape = ctx.in_shape("x")
        ranks = UPSAMPLE_MODES[self.mode]
        if len(shape) not in ranks:
            layouts = " or ".join(f"{r}-D" for r in ranks)
            raise ValueError(f"Upsample ({self.mode}) expects a {layouts} input (batch, channels, …) but got shape {fmt(shape)}")
        if any(int(d * self.scale_factor) < 1 for d in shape[2:]):
            raise ValueError(f"Upsample: scale factor {self.scale_factor} leaves nothing of shape {fmt(shape)}")
        from torch import nn

        return nn.Upsample(scale_factor=self.scale_factor, mode=self.mode)


@block("builtin.PixelShuffle", category="Layers/Resampling", name="PixelShuffle", version=1)
class PixelShuffle:
    """Rearranges channels into space: (C·r², H, W) -> (C, H·r, W·r), the sub-pixel upsampling of
    super-resolution networks."""

    x = In("tensor", doc="(batch, channels × factor², height, width).")
    y = Out("tensor", doc="(batch, channels, height × factor, width × factor).")

    upscale_factor = Param(int, 2, min=1, max=16, doc="The factor r each side grows by.")

    def build(self, ctx: BuildContext) -> Any:
        """An ``nn.PixelShuffle``."""
        from .shapes import require_rank

        shape = ctx.in_shape("x")
        require_rank("PixelShuffle", shape, 4, "(batch, channels, height, width)", spatial=2)
        r2 = self.upscale_factor**2
        if shape[1] % r2:
            raise ValueError(
                f"PixelShuffle: {shape[1]} channels (shape {fmt(shape)}) do not divide by the factor squared ({r2})"
            )
        from torch import nn

        return nn.PixelShuffle(self.upscale_factor)


@block("builtin.Pad", category="Layers/Resampling", name="Pad", version=1)
class Pad:
    """Adds values around the last dims: zeros (or 'value'), a mirror image (reflect), the edge
    repeated (replicate) or the other side (circular).

    'padding' lists before/after amounts from the last dim backwards, as torch's F.pad: [left,
    right] pads the last dim; [left, right, top, bottom] the last two.
    """

    x = In("tensor", doc="Input of shape (batch, …).")
    y = Out("tensor", doc="The padded input.")

    padding = Param("ints", [1, 1, 1, 1], doc="[before, after] per dim, last dim first, e.g. [1, 1, 1, 1].")
    mode = Param(str, "constant", choices=["constant", "reflect", "replicate", "circular"], doc="What fills the border.")
    value = Param(float, 0.0, doc="The fill value (mode 'constant').")

    def build(self, ctx: BuildContext) -> Any:
        """A ``Pad`` module (``F.pad``)."""
        shape = ctx.in_shape("x")
        pads = list(self.padding)
        if not pads or len(pads) % 2:
            raise ValueError(f"Pad: 'padding' needs before/after pairs, got {pads}")
        dims = len(pads) // 2
        if dims > len(shape) - 1:
            raise ValueError(f"Pad: {pads} pads {dims} dims but samples of shape {fmt(shape)} have {len(shape) - 1}")
        if self.mode != "constant":
            if any(p < 0 for p in pads):
                raise ValueError(f"Pad ({self.mode}): padding must not be negative, got {pads}")
            if len(shape) - dims < 2 or dims > 3:
                raise ValueError(
                    f"Pad ({self.mode}) pads 1 to 3 dims after (batch, channels); got {pads} for shape {fmt(shape)}"
                )
        if self.mode == "reflect":
            for i in range(dims):
                size = shape[len(shape) - 1 - i]
                if max(pads[2 * i], pads[2 * i + 1]) >= size:
                    raise ValueError(
                        f"Pad (reflect): padding {pads[2 * i:2 * i + 2]} must be smaller than the dim it pads "
                        f"({size} in shape {fmt(shape)})"
                    )
        from .sequence_modules import Pad as PadModule

        return PadModule(tuple(pads), self.mode, float(self.value))
