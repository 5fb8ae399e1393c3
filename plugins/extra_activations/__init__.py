"""An example plugin folder: two activations, declared exactly as the built-in pack declares
its blocks. Copy this folder into your user plugin folder (see `dpg-blocks plugins`) or point
DPG_BLOCKS_PLUGIN_PATH at its parent to use it as a starting point for your own pack."""

from __future__ import annotations

from typing import Any

from dpg_blocks.blocks import BuildContext, In, Out, Param, block


@block("extra.SiLU", category="Activations/Extra", name="SiLU (Swish)")
class SiLU:
    """x · sigmoid(βx): a smooth ReLU used by many modern networks (β = 1 is PyTorch's SiLU)."""

    x = In("tensor")
    y = Out("tensor")
    beta = Param(float, 1.0, min=0.0, doc="Sharpness; large values approach ReLU.")

    def build(self, ctx: BuildContext) -> Any:
        from .modules import Swish

        return Swish(self.beta)


@block("extra.Mish", category="Activations/Extra", name="Mish")
class Mish:
    """x · tanh(softplus(x)) (Misra, 2019)."""

    x = In("tensor")
    y = Out("tensor")

    def build(self, ctx: BuildContext) -> Any:
        from torch import nn

        return nn.Mish()


BLOCKS = [SiLU, Mish]
