"""Activation functions, applied element by element (Softmax: along one dimension)."""

from __future__ import annotations

from typing import Any

from dpg_blocks.blocks import BuildContext, In, Out, Param, block

from .shapes import require_dim


class _Activation:
    x = In("tensor", doc="Input of any shape.")
    y = Out("tensor", doc="Output, same shape as the input.")


@block("builtin.ReLU", category="Activations", name="ReLU", version=1)
class ReLU(_Activation):
    """Rectified linear unit: keeps positive values and replaces negative ones with 0."""

    def build(self, ctx: BuildContext) -> Any:
        """An ``nn.ReLU``."""
        from torch import nn

        return nn.ReLU()


@block("builtin.LeakyReLU", category="Activations", name="Leaky ReLU", version=1)
class LeakyReLU(_Activation):
    """Like ReLU, but negative values are multiplied by a small slope instead of set to 0."""

    negative_slope = Param(float, 0.01, min=0, doc="Factor applied to negative values.")

    def build(self, ctx: BuildContext) -> Any:
        """An ``nn.LeakyReLU``."""
        from torch import nn

        return nn.LeakyReLU(self.negative_slope)


@block("builtin.GELU", category="Activations", name="GELU", version=1)
class GELU(_Activation):
    """Gaussian error linear unit: a smooth ReLU, common in transformers."""

    def build(self, ctx: BuildContext) -> Any:
        """An ``nn.GELU``."""
        from torch import nn

        return nn.GELU()


@block("builtin.Sigmoid", category="Activations", name="Sigmoid", version=1)
class Sigmoid(_Activation):
    """Squashes every value into 0..1; use BCE-with-logits on the raw values instead for training."""

    def build(self, ctx: BuildContext) -> Any:
        """An ``nn.Sigmoid``."""
        from torch import nn

        return nn.Sigmoid()


@block("builtin.Tanh", category="Activations", name="Tanh", version=1)
class Tanh(_Activation):
    """Hyperbolic tangent: squashes every value into −1..1."""

    def build(self, ctx: BuildContext) -> Any:
        """An ``nn.Tanh``."""
        from torch import nn

        return nn.Tanh()


@block("builtin.Softmax", category="Activations", name="Softmax", version=1)
class Softmax(_Activation):
    """Turns scores along one dimension into probabilities that are positive and sum to 1.

    Do not put it before a Cross-Entropy loss, which applies softmax itself.
    """

    dim = Param(int, 1, doc="Dimension that sums to 1 (0 is the batch; 1 is the classes for (N, classes)).")

    def build(self, ctx: BuildContext) -> Any:
        """An ``nn.Softmax(dim)``."""
        require_dim("Softmax", ctx.in_shape("x"), self.dim)
        from torch import nn

        return nn.Softmax(self.dim)
