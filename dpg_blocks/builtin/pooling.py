"""Pooling: downsampling images by taking the max or the mean over small windows."""

from __future__ import annotations

from typing import Any

from dpg_blocks.blocks import BuildContext, In, Out, Param, block

from .shapes import conv_out, fmt, require_rank


class _Pool2d:
    x = In("tensor", doc="Input of shape (batch, channels, height, width).")
    y = Out("tensor", doc="Output of shape (batch, channels, smaller height, smaller width).")

    kernel_size = Param(int, 2, min=1, doc="Width and height of the pooling window.")
    stride = Param(int, 0, min=0, doc="Step between windows; 0 means the same as the kernel size.")

    def _checked(self, ctx: BuildContext, name: str) -> tuple[int, int]:
        shape = ctx.in_shape("x")
        require_rank(name, shape, 4, "(N, channels, height, width)", spatial=2)
        conv_out(name, shape, self.kernel_size, 1, 0)
        return self.kernel_size, self.stride or self.kernel_size


@block("builtin.MaxPool2d", category="Pooling", name="Max Pool 2D", version=1)
class MaxPool2d(_Pool2d):
    """Keeps the largest value of each window, shrinking images (2×2 windows halve them)."""

    def build(self, ctx: BuildContext) -> Any:
        """An ``nn.MaxPool2d``."""
        kernel, stride = self._checked(ctx, "Max Pool 2D")
        from torch import nn

        return nn.MaxPool2d(kernel, stride)


@block("builtin.AvgPool2d", category="Pooling", name="Average Pool 2D", version=1)
class AvgPool2d(_Pool2d):
    """Averages each window, shrinking images (2×2 windows halve them)."""

    def build(self, ctx: BuildContext) -> Any:
        """An ``nn.AvgPool2d``."""
        kernel, stride = self._checked(ctx, "Average Pool 2D")
        from torch import nn

        return nn.AvgPool2d(kernel, stride)


@block("builtin.AdaptiveAvgPool2d", category="Pooling", name="Adaptive Average Pool 2D", version=1)
class AdaptiveAvgPool2d:
    """Averages images down to a fixed output size whatever the input size ([1, 1]: one value per channel)."""

    x = In("tensor", doc="Input of shape (batch, channels, height, width).")
    y = Out("tensor", doc="Output of shape (batch, channels, output height, output width).")

    output_size = Param(
        "shape", [1, 1], doc="[height, width] of the output (one number for a square); -1 keeps that size."
    )

    def build(self, ctx: BuildContext) -> Any:
        """An ``nn.AdaptiveAvgPool2d``."""
        shape = ctx.in_shape("x")
        require_rank("Adaptive Average Pool 2D", shape, 4, "(N, channels, height, width)", spatial=2)
        size = list(self.output_size)
        if len(size) == 1:
            size = size * 2
        if len(size) != 2:
            raise ValueError(
                f"Adaptive Average Pool 2D: output size must be [height, width], got {fmt(size)}"
            )
        from torch import nn

        # torch spells "keep this dimension" as None
        return nn.AdaptiveAvgPool2d(tuple(None if s == -1 else s for s in size))
