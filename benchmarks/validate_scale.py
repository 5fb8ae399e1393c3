"""The engine's re-validation after a one-parameter edit at 1,000 blocks, against a full validation.

What the engine does per Validate request (``engine/process.py``): decode the project document the
editor sent, then validate it. Measured side by side in one run, the median of a few rounds each:

* ``full_ms``: from scratch — the document decoded, every layer built and every block run on the
  sample batch (the Input's data already loaded: the data cache is warm, as in the editor);
* ``incremental_ms``: the engine's validation after one parameter edit (a Fully Connected block's
  activation, alternately "relu" and "none"), with the layers and steps it kept from the last one
  (``engine/module_cache.py``): the edited block and what is downstream of it run again.

The project is 1,000 blocks: the digits Input feeding 10 branches of 49 Fully Connected + ReLU
pairs (64 wide), joined by a Concat into a classifier and a loss; the edit is in the middle of one
branch, so ~3 % of the blocks are downstream of it. ``chain_ratio`` is the same edit in the middle
of one 1,000-block chain, where half the graph is downstream (the worst case short of editing the
first block). Last line: ``incremental_ratio=<f>`` (target <= 0.1).

    .venv/bin/python benchmarks/validate_scale.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ROUNDS, WIDTH = 5, 64


def project(branches: int, pairs: int) -> tuple[Any, str]:
    """The Input, ``branches`` chains of ``pairs`` FC+ReLU, a Concat (if several), head and loss;
    and the id of the FC in the middle of the first branch."""
    from dpg_blocks.blocks.builder import ProjectBuilder
    from dpg_blocks.engine.registry import discover

    b = ProjectBuilder(discover(defaults=False).specs, "scale")
    x = b.add("builtin.Input", "digits")
    ends, middle = [], ""
    for branch in range(branches):
        prev, port = x, "x"
        for i in range(pairs):
            fc = b.add("builtin.Linear", f"fc{branch}_{i}", out_features=WIDTH)
            act = b.add("builtin.ReLU", f"relu{branch}_{i}")
            b.link(prev, port, fc, "x")
            b.link(fc, "y", act, "x")
            prev, port = act, "y"
            if branch == 0 and i == pairs // 2:
                middle = fc
        ends.append(prev)
    if len(ends) > 1:
        join = b.add("builtin.Concat", "join", n_inputs=len(ends))
        for i, end in enumerate(ends, 1):
            b.link(end, "y", join, f"x{i}")
        ends = [join]
    head = b.add("builtin.Linear", "classes", out_features=10)
    loss = b.add("builtin.CrossEntropyLoss", "loss")
    b.link(ends[0], "y", head, "x")
    b.link(head, "y", loss, "input")
    b.link(x, "y", loss, "target")
    return b, middle


def median_ms(fn: Any) -> float:
    times = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def measure(branches: int, pairs: int) -> tuple[int, float, float, float]:
    """(blocks, full_ms, incremental_ms, blocks run per incremental validation)."""
    from dpg_blocks.core import SetParam
    from dpg_blocks.core.project_file import project_from_dict, project_to_dict
    from dpg_blocks.engine.compiler import Validator
    from dpg_blocks.engine.module_cache import ModuleCache, StepCache
    from dpg_blocks.engine.registry import discover
    from dpg_blocks.engine.source_cache import SourceCache

    registry = discover(defaults=False)
    b, middle = project(branches, pairs)
    sources, layers, steps = SourceCache(), ModuleCache(), StepCache()
    ran = [0]

    def validate(caches: bool) -> None:
        doc = project_to_dict(b.project)  # what the editor sends (its encoding is the editor's time)
        v = Validator(project_from_dict(doc), registry, ROOT, source_cache=sources,
                      module_cache=layers if caches else None, step_cache=steps if caches else None)
        v.on_block = lambda node: ran.__setitem__(0, ran[0] + 1)
        assert v.run() and v.ok

    flip = [False]

    def edit_then_validate() -> None:
        flip[0] = not flip[0]
        b.history.do(SetParam(middle, "activation", "relu" if flip[0] else "none"))
        validate(True)

    validate(False)  # the data loaded once, as the editor's first validation does
    edit_then_validate()  # the caches filled
    full = median_ms(lambda: validate(False))
    ran[0] = 0
    incremental = median_ms(edit_then_validate)
    blocks = sum(1 for _ in b.project.graph.walk())
    return blocks, full, incremental, ran[0] / ROUNDS


def main() -> None:
    blocks, full, inc, ran = measure(10, 49)
    print(f"branches: blocks={blocks} full_ms={full:.1f} incremental_ms={inc:.1f} blocks_run={ran:.0f}")
    c_blocks, c_full, c_inc, c_ran = measure(1, 499)
    print(f"one chain: blocks={c_blocks} full_ms={c_full:.1f} incremental_ms={c_inc:.1f} blocks_run={c_ran:.0f}")
    print(f"chain_ratio={c_inc / c_full:.3f} incremental_ratio={inc / full:.3f}")


if __name__ == "__main__":
    main()
