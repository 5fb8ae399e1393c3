"""Validation after an edit, from scratch and incremental, against one plain forward.

A 200-block network (the digits Input, 99 pairs of Fully Connected 64→64 + ReLU, a classifier
and a loss) is validated as the engine does after every edit: from scratch (every layer built,
weight init included) and with the engine's ``ModuleCache`` after changing one block's params in
the middle (that layer is rebuilt, the others kept). Side by side in one run, the median of a
few rounds each, against one forward of the same layers written as an ``nn.Sequential`` on the
same 4-sample batch:

    cold_ms=… warm_ms=… forward_ms=… cold_vs_forward=… warm_vs_forward=…
    warm_over_cold=<f>      (the last line; smaller is better)

    .venv/bin/python benchmarks/validate_incremental.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

PAIRS, WIDTH, ROUNDS = 99, 64, 5


def project():  # noqa: ANN201 - a Project builder and the id of the middle layer
    """The digits Input, PAIRS pairs of FC + ReLU, a classifier and a loss (validate_scale's chain)."""
    from validate_scale import project as chain

    return chain(1, PAIRS)


def median_ms(fn) -> float:  # noqa: ANN001
    times = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    from dpg_blocks.core import SetParam
    from dpg_blocks.engine.compiling.compiler import Validator
    from dpg_blocks.engine.compiling.module_cache import ModuleCache
    from dpg_blocks.engine.compiling.source_cache import SourceCache
    from dpg_blocks.engine.packs.registry import discover

    registry = discover(defaults=False)
    b, middle = project()
    sources, layers = SourceCache(), ModuleCache()

    def cold() -> None:
        assert Validator(b.project, registry, ROOT, source_cache=sources).run()

    flip = [False]

    def warm() -> None:  # one edit, then the engine's validation with its caches
        flip[0] = not flip[0]
        b.history.do(SetParam(middle, "activation", "relu" if flip[0] else "none"))
        assert Validator(b.project, registry, ROOT, source_cache=sources, module_cache=layers).run()

    cold()
    warm()  # fills the cache
    built = layers.builds
    cold_ms, warm_ms = median_ms(cold), median_ms(warm)
    rebuilt = (layers.builds - built) / ROUNDS
    plain = nn.Sequential(nn.Linear(64, WIDTH), nn.ReLU(),
                          *[m for _ in range(PAIRS - 1) for m in (nn.Linear(WIDTH, WIDTH), nn.ReLU())],
                          nn.Linear(WIDTH, 10))
    x = torch.randn(4, 64)
    with torch.no_grad():
        forward_ms = median_ms(lambda: plain(x))
    blocks = sum(1 for _ in b.project.graph.walk())
    print(f"blocks={blocks} cold_ms={cold_ms:.1f} warm_ms={warm_ms:.1f} forward_ms={forward_ms:.2f} "
          f"cold_vs_forward={cold_ms / forward_ms:.1f} warm_vs_forward={warm_ms / forward_ms:.1f} "
          f"rebuilt_per_edit={rebuilt:.1f}")
    print(f"warm_over_cold={warm_ms / cold_ms:.3f}")


if __name__ == "__main__":
    main()
