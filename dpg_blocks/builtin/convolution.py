"""Convolution layers: 1-D, 2-D and transposed 2-D."""

from __future__ import annotations

from typing import Any

from dpg_blocks.blocks import BuildContext, In, Out, Param, block

from .shapes import conv_out, fmt, require_rank


class _ConvParams:
    # shared parameters; each block declares its own ports (their docs differ)
    out_channels = Param(int, 16, min=1, doc="Number of output channels (filters).")
    kernel_size = Param(int, 3, min=1, doc="Width (and height) of each filter.")
    stride = Param(int, 1, min=1, doc="Step between filter positions; 2 halves the size.")
    padding = Param(int, 0, min=0, doc="Zeros added on every border before convolving.")
    bias = Param(bool, True, doc="Add a learned bias to each output channel.")


@block("builtin.Conv1d", category="Layers/Convolution", name="Conv 1D", version=1)
class Conv1d(_ConvParams):
    """Slides learned filters along sequences of shape (batch, channels, length).

    Each output channel is one filter applied across all input channels. Output length is
    (length + 2·padding − kernel size) / stride + 1.
    """

    x = In("tensor", doc="Input of shape (batch, channels, length).")
    y = Out("tensor", doc="Output of shape (batch, out channels, new length).")

    def build(self, ctx: BuildContext) -> Any:
        """An ``nn.Conv1d`` with in_channels from the input."""
        shape = ctx.in_shape("x")
        require_rank("Conv 1D", shape, 3, "(N, channels, length)", spatial=1)
        conv_out("Conv 1D", shape, self.kernel_size, self.stride, self.padding)
        from torch import nn

        return nn.Conv1d(
            shape[1], self.out_channels, self.kernel_size, self.stride, self.padding, bias=self.bias
        )


@block("builtin.Conv2d", category="Layers/Convolution", name="Conv 2D", version=1)
class Conv2d(_ConvParams):
    """Slides learned filters over images of shape (batch, channels, height, width).

    Each output channel is one filter applied across all input channels. Flat inputs such as
    (batch, 64) must be reshaped first, e.g. to (batch, 1, 8, 8) with a Reshape block.
    """

    x = In("tensor", doc="Input of shape (batch, channels, height, width).")
    y = Out("tensor", doc="Output of shape (batch, out channels, new height, new width).")

    def build(self, ctx: BuildContext) -> Any:
        """An ``nn.Conv2d`` with in_channels from the input."""
        shape = ctx.in_shape("x")
        require_rank("Conv 2D", shape, 4, "(N, channels, height, width)", spatial=2)
        conv_out("Conv 2D", shape, self.kernel_size, self.stride, self.padding)
        from torch import nn

        return nn.Conv2d(
            shape[1], self.out_channels, self.kernel_size, self.stride, self.padding, bias=self.bias
        )


@block(
    "builtin.ConvTranspose2d",
    category="Layers/Convolution",
    name="Transposed Conv 2D",
    version=1,
)
class ConvTranspose2d(_ConvParams):
    """Upsamples images of shape (batch, channels, height, width) with learned filters.

    The reverse of a strided convolution, used in decoders and GAN generators. Output size is
    (size − 1)·stride − 2·padding + kernel size + output padding.
    """

    x = In("tensor", doc="Input of shape (batch, channels, height, width).")
    y = Out("tensor", doc="Output of shape (batch, out channels, larger height, larger width).")
    output_padding = Param(
        int, 0, min=0, doc="Extra rows/columns added to one side of the output; must be below stride."
    )

    def build(self, ctx: BuildContext) -> Any:
        """An ``nn.ConvTranspose2d`` with in_channels from the input."""
        shape = ctx.in_shape("x")
        require_rank("Transposed Conv 2D", shape, 4, "(N, channels, height, width)", spatial=2)
        if self.output_padding >= self.stride:
            raise ValueError(
                f"Transposed Conv 2D: output padding ({self.output_padding}) must be smaller than "
                f"stride ({self.stride})"
            )
        for size in shape[2:]:
            if (size - 1) * self.stride - 2 * self.padding + self.kernel_size + self.output_padding < 1:
                raise ValueError(
                    f"Transposed Conv 2D: padding {self.padding} leaves no output for input shape "
                    f"{fmt(shape)}; lower the padding"
                )
        from torch import nn

        return nn.ConvTranspose2d(
            shape[1],
            self.out_channels,
            self.kernel_size,
            self.stride,
            self.padding,
            self.output_padding,
            bias=self.bias,
        )
