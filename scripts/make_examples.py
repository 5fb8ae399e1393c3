"""Write the example projects in assets/examples/ through the core's own edit commands.

Run: ``.venv/bin/python scripts/make_examples.py``. Regenerate after changing a block's
declaration; the files are committed so users and tests need no generation step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dpg_blocks.blocks.builder import ProjectBuilder
from dpg_blocks.core import Project, save_project
from dpg_blocks.engine.registry import discover

EXAMPLES = Path(__file__).resolve().parents[1] / "assets" / "examples"
REGISTRY = discover(defaults=False)


def john_mlp(flatten_first: bool) -> Project:
    """The paper's running example: Input, five Fully Connected blocks, a loss."""
    b = ProjectBuilder(REGISTRY.specs, "John's digits classifier" + ("" if flatten_first else " (unflattened)"))
    data = b.add(
        "builtin.Input", "digits", (40, 200),
        source="csv", path="../data/digits.csv", reshape=[1, 8, 8], batch_size=32,
        val_percent=10, test_percent=20, normalize="minmax",
    )
    sizes = [128, 128, 64, 64, 10]
    prev, port = data, "x"
    for i, size in enumerate(sizes, start=1):
        params: dict[str, Any] = {"out_features": size}
        if i < len(sizes):
            params["activation"] = "relu"
        if i == 1:
            params["flatten_input"] = flatten_first
        fc = b.add("builtin.Linear", f"FC{i}", (40 + 220 * i, 200), **params)
        b.link(prev, port, fc, "x")
        prev, port = fc, "y"
    loss = b.add("builtin.CrossEntropyLoss", "loss", (40 + 220 * (len(sizes) + 1), 200))
    b.link(prev, port, loss, "input")
    b.project.training.epochs = 10
    b.project.orders[0].optimizer.lr = 3e-3
    return b.project


def main() -> None:
    EXAMPLES.mkdir(parents=True, exist_ok=True)
    save_project(john_mlp(True), EXAMPLES / "mlp_digits.dpgb")
    save_project(john_mlp(False), EXAMPLES / "mlp_digits_unflattened.dpgb")
    print(f"wrote examples to {EXAMPLES}")


if __name__ == "__main__":
    main()
