"""Shared helpers for engine tests: a registry with the built-in pack and tiny datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dpg_blocks.blocks.builder import ProjectBuilder
from dpg_blocks.engine.packs.registry import Registry, discover

_REGISTRY: Registry | None = None


def registry() -> Registry:
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = discover(defaults=False)
    return _REGISTRY


def builder(name: str = "test") -> ProjectBuilder:
    return ProjectBuilder(registry().specs, name)


def write_npz(path: Path, n: int = 64, features: int = 6, classes: int = 3, seed: int = 0) -> Path:
    """A separable toy classification set: the label is the argmax of the first features."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = x[:, :classes].argmax(1).astype(np.int64)
    np.savez(path, x=x, y=y)
    return path


# A one-block plugin (``demo.Scale``): what the registry and plugin-folder tests drop in folders.
SCALE_PLUGIN = '''
from dpg_blocks.blocks import In, Out, Param, block

@block("demo.Scale", category="Demo")
class Scale:
    """Multiply by a constant."""
    x = In()
    y = Out()
    factor = Param(float, default=2.0)

    def build(self, ctx):
        import torch
        factor = self.factor
        class M(torch.nn.Module):
            def forward(self, x):
                return x * factor
        return M()
'''


def write_regression_project(folder: Path, n: int = 600, loss: str = "builtin.MSELoss") -> Path:
    """A regression project: a CSV whose float ``label`` is a noisy linear function of 4 features,
    one Linear layer and an MSE (or L1) loss. A few epochs reach R² above 0.9."""
    from dpg_blocks.core.project_file import save_project

    rng = np.random.default_rng(3)
    x = rng.normal(size=(n, 4))
    y = x @ np.array([2.0, -1.0, 0.5, 0.0]) + 1.5 + rng.normal(scale=0.3, size=n)
    rows = ["label,a,b,c,d", *(",".join(f"{v:.5f}" for v in (t, *r)) for t, r in zip(y, x, strict=True))]
    (folder / "values.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    b = builder("regression")
    data = b.add("builtin.Input", "measurements", source="csv", path="values.csv", batch_size=32,
                 normalize="standardize")
    fc = b.add("builtin.Linear", "fit", out_features=1)
    head = b.add(loss, "error")
    b.link(data, "x", fc, "x")
    b.link(fc, "y", head, "input")
    b.link(data, "y", head, "target")
    b.project.training.epochs = 4
    b.project.orders[0].optimizer.lr = 0.1
    path = folder / "regression.dpgb"
    save_project(b.project, path)
    return path


def train_on(project: Any, data: dict[str, Any], loss_name: str = "loss", pos: tuple[float, float] = (0.0, 300.0)) -> str:
    """An imported project made trainable: its Input's params set to ``data`` and a Cross-Entropy
    loss scoring what feeds its Output against that Input's labels; the loss block's id."""
    from dpg_blocks.core import AddBlock, Connect, Endpoint, SetParam

    graph = project.graph
    x = next(b for b in graph.blocks.values() if b.type == "builtin.Input")
    output = next(b for b in graph.blocks.values() if b.type == "builtin.Output")
    scores = next(link.src for link in graph.links if link.dst.block == output.id)
    for name, value in data.items():
        SetParam(x.id, name, value).apply(project)
    loss = registry().specs["builtin.CrossEntropyLoss"].new_block(project.new_id(), loss_name, pos)
    AddBlock(loss).apply(project)
    Connect(scores, Endpoint(loss.id, "input")).apply(project)
    Connect(Endpoint(x.id, "y"), Endpoint(loss.id, "target")).apply(project)
    return loss.id
