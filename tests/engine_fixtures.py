"""Shared helpers for engine tests: a registry with the built-in pack and tiny datasets."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dpg_blocks.blocks.builder import ProjectBuilder
from dpg_blocks.engine.registry import Registry, discover

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
