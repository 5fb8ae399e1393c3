"""Normalisation layers (batch norm, layer norm) and dropout regularisation."""

from __future__ import annotations

from typing import Any

from dpg_blocks.blocks import BuildContext, In, Out, Param, block

from .shapes import fmt


@block("builtin.BatchNorm1d", category="Layers/Normalization", name="BatchNorm 1D", version=1)
class BatchNorm1d:
    """Normalises each feature over the batch to mean 0 and std 1, then scales and shifts it.

    Works on (batch, features) or (batch, channels, length). Training needs batches of more
    than one sample; at evaluation the running averages seen during training are used.
    """

    x = In("tensor", doc="Input of shape (batch, features) or (batch, channels, length).")
    y = Out("tensor", doc="Normalised output, same shape as the input.")

    def build(self, ctx: BuildContext) -> Any:
        """An ``nn.BatchNorm1d`` over dim 1 of the input."""
        shape = ctx.in_shape("x")
        if len(shape) not in (2, 3):
            raise ValueError(
                f"BatchNorm 1D expects a 2-D (N, features) or 3-D (N, channels, length) input but got "
                f"shape {fmt(shape)}; use BatchNorm 2D for images"
            )
        from torch import nn

        return nn.BatchNorm1d(shape[1])


@block("builtin.BatchNorm2d", category="Layers/Normalization", name="BatchNorm 2D", version=1)
class BatchNorm2d:
    """Normalises each channel of images over the batch and positions, then scales and shifts it.

    Works on (batch, channels, height, width), typically right after a convolution.
    """

    x = In("tensor", doc="Input of shape (batch, channels, height, width).")
    y = Out("tensor", doc="Normalised output, same shape as the input.")

    def build(self, ctx: BuildContext) -> Any:
        """An ``nn.BatchNorm2d`` over the channels of the input."""
        shape = ctx.in_shape("x")
        if len(shape) != 4:
            raise ValueError(
                f"BatchNorm 2D expects a 4-D input (N, channels, height, width) but got shape {fmt(shape)}; "
                "use BatchNorm 1D for flat features"
            )
        from torch import nn

        return nn.BatchNorm2d(shape[1])


@block("builtin.LayerNorm", category="Layers/Normalization", name="LayerNorm", version=1)
class LayerNorm:
    """Normalises each sample on its own over its last dimensions, then scales and shifts it.

    Unlike batch norm it does not depend on the other samples in the batch, so it behaves the
    same in training and evaluation and works with a batch of one.
    """

    x = In("tensor", doc="Input of any shape (batch, …).")
    y = Out("tensor", doc="Normalised output, same shape as the input.")

    normalized_dims = Param(int, 1, min=1, doc="How many trailing dimensions to normalise over together.")

    def build(self, ctx: BuildContext) -> Any:
        """An ``nn.LayerNorm`` over the last ``normalized_dims`` dims of the input."""
        shape = ctx.in_shape("x")
        k = self.normalized_dims
        if k > len(shape) - 1:
            raise ValueError(
                f"LayerNorm: cannot normalise over the last {k} dimensions of shape {fmt(shape)}; "
                f"samples have only {len(shape) - 1} (the first dimension is the batch)"
            )
        from torch import nn

        return nn.LayerNorm(tuple(shape[-k:]))


@block("builtin.Dropout", category="Layers/Regularization", name="Dropout", version=1)
class Dropout:
    """During training, zeroes each value with probability p and scales the rest by 1/(1−p).

    Reduces overfitting. At evaluation it passes its input through unchanged.
    """

    x = In("tensor", doc="Input of any shape.")
    y = Out("tensor", doc="Output, same shape as the input.")

    p = Param(float, 0.5, min=0, max=1, doc="Probability of zeroing each value during training.")

    def build(self, ctx: BuildContext) -> Any:
        """An ``nn.Dropout(p)``."""
        from torch import nn

        return nn.Dropout(self.p)


class _InstanceNorm:
    """InstanceNorm 1D/2D: the rank they take and the params they share."""

    rank, layout, label = 3, "(batch, channels, length)", "InstanceNorm 1D"

    x = In("tensor", doc="Input of shape (batch, channels, …).")
    y = Out("tensor", doc="Normalised output, same shape as the input.")

    affine = Param(bool, False, doc="Learn a scale and shift per channel after normalising.")
    track_running_stats = Param(bool, False, doc="Keep running averages for evaluation (as batch norm does).")

    def build(self, ctx: BuildContext) -> Any:
        """An ``nn.InstanceNorm1d``/``2d`` over the channels of the input."""
        from .shapes import require_rank

        shape = ctx.in_shape("x")
        require_rank(self.label, shape, self.rank, self.layout, spatial=self.rank - 2)
        from torch import nn

        cls = nn.InstanceNorm1d if self.rank == 3 else nn.InstanceNorm2d
        return cls(shape[1], affine=self.affine, track_running_stats=self.track_running_stats)


@block("builtin.InstanceNorm1d", category="Layers/Normalization", name="InstanceNorm 1D", version=1)
class InstanceNorm1d(_InstanceNorm):
    """Normalises each channel of each sample on its own over its length (style transfer,
    sequences), independent of the other samples in the batch."""


@block("builtin.InstanceNorm2d", category="Layers/Normalization", name="InstanceNorm 2D", version=1)
class InstanceNorm2d(_InstanceNorm):
    """Normalises each channel of each image on its own over its pixels (style transfer),
    independent of the other images in the batch."""

    rank, layout, label = 4, "(batch, channels, height, width)", "InstanceNorm 2D"


@block("builtin.GroupNorm", category="Layers/Normalization", name="GroupNorm", version=1)
class GroupNorm:
    """Normalises each sample over groups of channels: like batch norm, but independent of the
    batch size (works with small batches). One group is LayerNorm over channels and positions;
    as many groups as channels is InstanceNorm."""

    x = In("tensor", doc="Input of shape (batch, channels, …).")
    y = Out("tensor", doc="Normalised output, same shape as the input.")

    num_groups = Param(int, 8, min=1, doc="Groups the channels are split into; the channels must divide by it.")
    affine = Param(bool, True, doc="Learn a scale and shift per channel after normalising.")

    def build(self, ctx: BuildContext) -> Any:
        """An ``nn.GroupNorm`` over the channels (dim 1) of the input."""
        shape = ctx.in_shape("x")
        if len(shape) < 2:
            raise ValueError(f"GroupNorm expects (batch, channels, …) but got shape {fmt(shape)}")
        if shape[1] % self.num_groups:
            raise ValueError(
                f"GroupNorm: {shape[1]} channels (shape {fmt(shape)}) do not divide into {self.num_groups} groups"
            )
        from torch import nn

        return nn.GroupNorm(self.num_groups, shape[1], affine=self.affine)
