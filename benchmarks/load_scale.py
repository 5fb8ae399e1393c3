"""Loading a project at scale: parse the JSON alone against the full load, side by side.

Generates synthetic projects of 100/200/500/1,000/2,000 blocks — chains of blocks with a skip
link every few blocks (into an Add-like block with two inputs) and every fifth group of ten
wrapped in a SuperBlock with boundary ports — and times, in the same run,

* ``parse_ms``: ``json.loads`` of the file text (the floor any reader pays);
* ``load_ms``: ``core.project_file.loads`` of the same text (parse, check every invariant,
  build the document and its indexes);

the median of a few rounds each. One line per size with both, the ratio load/parse and the
load time per block; the last line is ``load_ratio_2000=<f> growth_2000_1000=<f>
per_block_ratio_2000_100=<f>``: load/parse at 2,000 blocks, load(2,000)/load(1,000) (2 when
linear) and the load time per block at 2,000 against 100 (target <= 1.5: linear).

    .venv/bin/python benchmarks/load_scale.py
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

SIZES = (100, 200, 500, 1000, 2000)
GROUP, SUPER_EVERY, SKIP_EVERY = 10, 5, 4
BUDGET_S = 3.0  # per measurement: stop repeating once this is spent (old code is quadratic)


def _block(bid: str, inputs: list[str]) -> dict[str, Any]:
    return {"id": bid, "type": "builtin.Add" if len(inputs) > 1 else "builtin.Linear", "name": bid,
            "params": {"out_features": 8}, "pos": [0.0, 0.0],
            "inputs": [{"name": n, "kind": "tensor"} for n in inputs],
            "outputs": [{"name": "y", "kind": "tensor"}]}


def _link(src: str, sport: str, dst: str, dport: str) -> dict[str, Any]:
    return {"src": [src, sport], "dst": [dst, dport]}


def _chain(ids: list[str], blocks: list[dict[str, Any]], links: list[dict[str, Any]],
           first_src: tuple[str, str] | None) -> None:
    """Blocks ``ids`` in a chain, fed by ``first_src``, with a skip link every few blocks."""
    for k, bid in enumerate(ids):
        skip = k >= 2 and k % SKIP_EVERY == 0
        blocks.append(_block(bid, ["x", "skip"] if skip else ["x"]))
        src = (ids[k - 1], "y") if k else first_src
        if src is not None:
            links.append(_link(*src, bid, "x"))
        if skip:
            links.append(_link(ids[k - 2], "y", bid, "skip"))


def synthetic_project(n_blocks: int) -> dict[str, Any]:
    """A format-1 project document with ``n_blocks`` blocks in all (SuperBlocks included)."""
    blocks: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    made, group, prev = 0, 0, None
    while made < n_blocks:
        size = min(GROUP, n_blocks - made)
        if group % SUPER_EVERY == SUPER_EVERY - 1 and size > 1:
            sb = f"s{group}"
            inner_ids = [f"{sb}_{k}" for k in range(size - 1)]  # the SuperBlock counts as one
            inner_blocks: list[dict[str, Any]] = []
            inner_links: list[dict[str, Any]] = []
            _chain(inner_ids, inner_blocks, inner_links, (sb, "x"))
            inner_links.append(_link(inner_ids[-1], "y", sb, "y"))
            blocks.append({**_block(sb, ["x"]), "type": "core.SuperBlock", "params": {},
                           "graph": {"blocks": inner_blocks, "links": inner_links}})
            if prev is not None:
                links.append(_link(prev, "y", sb, "x"))
            prev = sb
        else:
            ids = [f"g{group}_{k}" for k in range(size)]
            _chain(ids, blocks, links, (prev, "y") if prev is not None else None)
            prev = ids[-1]
        made += size
        group += 1
    return {"format": 1, "name": f"synthetic {n_blocks}", "graph": {"blocks": blocks, "links": links}}


def _median_ms(fn: Any, text: str) -> float:
    times: list[float] = []
    spent = time.perf_counter()
    while len(times) < 5 and (len(times) < 1 or time.perf_counter() - spent < BUDGET_S):
        t0 = time.perf_counter()
        fn(text)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    from dpg_blocks.core.project_file import loads

    load: dict[int, float] = {}
    parse: dict[int, float] = {}
    for n in SIZES:
        text = json.dumps(synthetic_project(n))
        count = sum(1 for _ in loads(text).graph.walk())
        assert count == n, f"generated {count} blocks, wanted {n}"
        parse[n] = _median_ms(json.loads, text)
        load[n] = _median_ms(loads, text)
        print(f"blocks={n} parse_ms={parse[n]:.2f} load_ms={load[n]:.2f} "
              f"load/parse={load[n] / parse[n]:.1f} per_block_us={1000 * load[n] / n:.1f}", flush=True)
    per_block = (load[2000] / 2000) / (load[100] / 100)
    print(f"load_ratio_2000={load[2000] / parse[2000]:.2f} growth_2000_1000={load[2000] / load[1000]:.2f} "
          f"per_block_ratio_2000_100={per_block:.2f}")


if __name__ == "__main__":
    main()
