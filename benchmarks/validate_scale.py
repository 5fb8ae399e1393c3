"""The engine's re-validation after a one-parameter edit at 1,000 blocks, against a full validation.

What the engine does per Validate request (``engine/process/server.py``: the request's bytes
decoded, the project validated, the answer encoded) and what the editor's client does with the
answer (decoded and checked, merged into the records it holds: ``client/validation_link.py``),
timed side by side in one run, the median of a few rounds. The requests are those the editor
sends (``ValidationLink.request``: whole, or after a params-only edit only the edited params):

* ``full_ms``: from scratch — the document decoded, every layer built and every block run on the
  sample batch (the Input's data already loaded: the data cache is warm, as in the editor);
* ``incremental_ms``: after one parameter edit (a Fully Connected block's activation, alternately
  "relu" and "none"): the editor sends only that block's params (``core/doc_diff.py``), the
  engine sets them in its copy of the document and revalidates (``Validator.revalidate``): the
  edited block and what is downstream of it run again, every other block keeps its record, layer
  and outputs, and only the records that changed come back.

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
    from dpg_blocks.engine.packs.registry import discover

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


def measure(branches: int, pairs: int) -> tuple[int, float, float, float]:
    """(blocks, full_ms, incremental_ms, blocks run per incremental validation), through the
    engine's own Validate handler: the request's bytes decoded, the project validated, the
    answer encoded (in this process, without the queues' transfer)."""
    import queue

    from dpg_blocks import protocol as m
    from dpg_blocks.client.validation_link import ValidationLink
    from dpg_blocks.core import SetParam
    from dpg_blocks.core.project_file import project_to_dict
    from dpg_blocks.engine.packs.registry import discover
    from dpg_blocks.engine.process.server import Engine
    from dpg_blocks.protocol import decode, encode

    b, middle = project(branches, pairs)
    events: queue.Queue[bytes] = queue.Queue()
    engine = Engine(queue.Queue(), events, queue.Queue(), None, {})
    engine.registry = discover(defaults=False)
    ran = [0]
    progress = engine.block_progress

    def counting(*args: Any) -> Any:
        report = progress(*args)
        return lambda node: (ran.__setitem__(0, ran[0] + 1), report(node))

    engine.block_progress = counting  # type: ignore[method-assign]

    link, rid = ValidationLink(), [0]

    def request() -> bytes:  # the editor's side (the document made, compared, encoded): not timed
        rid[0] += 1
        return encode(link.request(project_to_dict(b.project), str(ROOT), rid[0])[0])

    def answer(data: bytes) -> None:
        engine.validate(decode(data))
        while not events.empty():
            last = decode(events.get_nowait())
        assert isinstance(last, m.ValidationResult), last
        whole = link.answer(last)
        assert whole is not None and whole.ok and len(whole.records) == len(records), last

    def timed(prepare: Any) -> float:
        times = []
        for _ in range(ROUNDS):
            data = prepare()
            t0 = time.perf_counter()
            answer(data)
            times.append((time.perf_counter() - t0) * 1000)
        return statistics.median(times)

    def from_scratch() -> bytes:
        engine.layers = engine.steps = engine.last_validation = None  # the data stays loaded
        engine.document.drop()
        link.reset()  # the whole document goes, and every record comes back
        return request()

    flip = [False]

    def one_edit() -> bytes:
        flip[0] = not flip[0]
        b.history.do(SetParam(middle, "activation", "relu" if flip[0] else "none"))
        return request()

    records = [r for r in b.project.graph.walk()]  # one record per block
    answer(request())  # the data loaded once, as the editor's first validation does
    full = timed(from_scratch)
    answer(request())
    ran[0] = 0
    incremental = timed(one_edit)
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
