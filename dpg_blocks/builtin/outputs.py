"""The Output block: marks the predictions the engine scores (accuracy, error)."""

from __future__ import annotations

from typing import Any

from dpg_blocks.blocks import BuildContext, In, Param, block


@block("builtin.Output", category="Outputs", name="Output", role="output", version=1)
class Output:
    """Marks the network's predictions so training and testing can report how good they are.

    For classification the engine reports accuracy (the highest score against the label); for
    regression the mean error. It does not train anything by itself: add a loss block for that.
    """

    x = In("tensor", doc="The predictions, e.g. class scores of shape (batch, classes).")
    target = In("tensor", optional=True, doc="The true values; unconnected: the Input's labels.")

    task = Param(
        str, "classification", choices=["classification", "regression"], doc="How predictions are scored."
    )

    def build(self, ctx: BuildContext) -> Any:
        """A module returning the predictions unchanged."""
        from .modules import PassThrough

        return PassThrough()
