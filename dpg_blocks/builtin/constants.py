"""Blocks that make tensors from settings: Fill (constant labels per sample, per order)."""

from __future__ import annotations

from typing import Any

from dpg_blocks.blocks import BuildContext, In, Out, Param, block


def order_table(values: dict[str, Any], what: str) -> dict[int, float]:
    """``{"2": 1.0}`` as ``{2: 1.0}``, or ValueError naming the bad entry."""
    table: dict[int, float] = {}
    for key, value in values.items():
        try:
            order = int(key)
        except ValueError:
            order = 0
        if order < 1 or str(order) != key.strip():
            raise ValueError(f"{what}: {key!r} is not an order number (1, 2, …)")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{what}: the value for order {order} must be a number, got {value!r}")
        table[order] = float(value)
    return table


@block("builtin.Fill", category="Structure", name="Fill", takes_signal=True, version=1)
class Fill:
    """One constant value per sample of its input: labels made from settings.

    Examples: domain labels (0 for every source sample, 1 for every target sample) in domain
    adaptation; "real" and "fake" labels for a GAN discriminator. The value may differ per
    order (the signal carries the order): a GAN's generator order labels its fakes "real".
    """

    like = In("tensor", doc="Any tensor; only its batch size is used.")
    y = Out("tensor", doc="Shape (batch, *shape), every entry the value.")

    value = Param(float, 0.0, doc="The value in every order not listed in 'order values'.")
    order_values = Param("values", {}, doc='Per order, e.g. {"2": 1.0}: the value in order 2.')
    shape = Param("shape", [], doc="Shape of one sample's entry; empty gives shape (batch,).")
    dtype = Param(str, "float", choices=["float", "int"], doc="float for BCE/MSE targets, int for class labels.")

    def build(self, ctx: BuildContext) -> Any:
        """A module filling ``(batch, *shape)`` with the order's value."""
        ctx.in_shape("like")
        per_order = order_table(self.order_values, "Fill 'order values'")
        if self.dtype == "int":
            bad = [v for v in [self.value, *per_order.values()] if not float(v).is_integer()]
            if bad:
                raise ValueError(f"Fill: integer labels need whole numbers, got {bad[0]}")
        import torch

        from .modules import Fill as FillModule

        dtype = torch.int64 if self.dtype == "int" else torch.float32
        return FillModule(self.value, per_order, tuple(self.shape), dtype)
