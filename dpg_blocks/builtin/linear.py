"""The Fully Connected (linear) layer."""

from __future__ import annotations

import math
from typing import Any

from dpg_blocks.blocks import BuildContext, In, Out, Param, block

from .shapes import fmt

# the keys of modules.ACTIVATIONS (that module imports torch, so the names are repeated here)
ACTIVATION_CHOICES = ["none", "relu", "leaky_relu", "gelu", "sigmoid", "tanh"]


@block(
    "builtin.Linear",
    category="Layers/Linear",
    name="Fully Connected",
    legacy_ids=("FC", "Linear"),
    version=1,
)
class Linear:
    """Every output is a weighted sum of all input features plus a bias: y = x·Wᵀ + b.

    The input must be 2-D, (batch, features). Images or other multi-dimensional samples can be
    flattened on the way in by ticking 'flatten input', or with a Flatten block before it. For
    sequences, tick 'last dim' to apply the same layer at every position, as torch's nn.Linear
    does: (batch, length, features) -> (batch, length, out features). An activation (e.g. ReLU)
    can be applied to the outputs without a separate block.
    """

    x = In("tensor", doc="Input of shape (batch, features).")
    y = Out("tensor", doc="Output of shape (batch, out features).")

    out_features = Param(int, 64, min=1, doc="Number of outputs per sample (neurons).")
    bias = Param(bool, True, doc="Add a learned bias to each output.")
    flatten_input = Param(bool, False, doc="Flatten each sample to a vector first, e.g. (1, 8, 8) -> 64.")
    last_dim = Param(
        bool,
        False,
        doc="Apply to the last dim of a larger input, each position alike: (batch, length, features) -> (batch, "
        "length, out features).",
    )
    activation = Param(
        str,
        "none",
        choices=ACTIVATION_CHOICES,
        doc="Activation applied to the outputs, saving a separate activation block.",
    )

    def build(self, ctx: BuildContext) -> Any:
        """An ``nn.Linear`` sized from the input (or one that flattens first)."""
        shape = ctx.in_shape("x")
        if len(shape) < 2:
            raise ValueError(
                f"Fully Connected expects a 2-D input (N, features) but got shape {fmt(shape)}; "
                "insert a Reshape block (e.g. shape [1]) before it"
            )
        flat = (shape[0], math.prod(shape[1:]))
        if self.flatten_input and self.last_dim:
            raise ValueError("Fully Connected: tick either 'flatten input' or 'last dim', not both")
        if len(shape) > 2 and not (self.flatten_input or self.last_dim):
            raise ValueError(
                f"Fully Connected expects a 2-D input (N, features) but got shape {fmt(shape)}; "
                f"tick 'flatten input' or insert a Flatten block to get {fmt(flat)} (or, for a sequence, tick "
                "'last dim' to apply it at each position)"
            )
        from torch import nn

        from .modules import FlattenLinear, FlattenLinearAct, LinearAct

        if self.last_dim:  # nn.Linear itself acts on the last dim of any rank
            flat = (shape[0], shape[-1])
        # decided here, once, so forward never branches on the input's rank or the activation
        flatten = len(shape) > 2 and self.flatten_input
        if self.activation == "none":
            cls = FlattenLinear if flatten else nn.Linear
            return cls(flat[1], self.out_features, bias=self.bias)
        cls = FlattenLinearAct if flatten else LinearAct
        return cls(flat[1], self.out_features, self.bias, self.activation)
