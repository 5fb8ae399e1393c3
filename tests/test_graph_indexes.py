"""The graph's indexes (driver per input, successors, link degree, names) stay true under every
edit, undo and redo; the reader's bulk link check refuses exactly what one-by-one insertion
refuses; and loading does work proportional to the document, not to its square."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from test_core_edits import draw_edit, random_project

import dpg_blocks.core.graph as graph_module
import dpg_blocks.core.project_file as project_file
from dpg_blocks.core import Block, Endpoint, Graph, GraphError, History, Link, Port, Project, loads
from dpg_blocks.core.graph import LinkRefused
from dpg_blocks.core.names import name_key

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from load_scale import synthetic_project  # noqa: E402


def rebuilt_indexes(g: Graph) -> dict[str, Any]:
    """The indexes recomputed from ``blocks`` and ``links`` alone, independently of Graph."""
    succ: dict[str, Counter[str]] = {}
    degree: Counter[str] = Counter()
    for lk in g.links:
        succ.setdefault(lk.src.block, Counter())[lk.dst.block] += 1
        degree.update({lk.src.block, lk.dst.block})
    return {"driver": {lk.dst: lk for lk in g.links}, "succ": {k: dict(v) for k, v in succ.items()},
            "degree": dict(degree), "by_name": {name_key(b.name): bid for bid, b in g.blocks.items()}}


def every_graph(p: Project) -> list[Graph]:
    return [p.graph] + [b.graph for b in p.graph.walk() if b.graph is not None]


class IndexedEdits(RuleBasedStateMachine):
    """Random edits (refused ones included), undos and redos; after each, every graph of the
    document has the indexes a rebuild from scratch gives."""

    @initialize(data=st.data())
    def random_graph(self, data: st.DataObject) -> None:
        self.project = random_project(data)
        self.history = History(self.project)

    @rule(data=st.data())
    def edit(self, data: st.DataObject) -> None:
        try:
            self.history.do(draw_edit(data, self.project))
        except GraphError:
            pass

    @rule(data=st.data())
    def another_edit(self, data: st.DataObject) -> None:
        self.edit(data)

    @rule()
    def undo(self) -> None:
        self.history.undo()

    @rule()
    def redo(self) -> None:
        self.history.redo()

    @invariant()
    def indexes_match_a_rebuild(self) -> None:
        for g in every_graph(self.project):
            assert g.indexes() == rebuilt_indexes(g)


IndexedEdits.TestCase.settings = settings(
    max_examples=100, stateful_step_count=20, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
test_random_edits_keep_the_indexes_exact = IndexedEdits.TestCase


def _random_blocks(data: st.DataObject) -> list[Block]:
    return [Block(f"b{i}", "t", f"n{i}", {}, [Port(n, data.draw(st.sampled_from(["tensor", "image", "any"])))
                                              for n in ("x", "x2")], [Port("y"), Port("y2", "image")])
            for i in range(data.draw(st.integers(1, 6)))]


@given(data=st.data())
@settings(max_examples=300, deadline=None, derandomize=True)
def test_bulk_links_refuse_what_one_by_one_insertion_refuses(data: st.DataObject) -> None:
    blocks = _random_blocks(data)
    ends = [Endpoint(b.id, p) for b in blocks for p in ("x", "x2", "y", "y2")] + [Endpoint("zz", "y")]
    links = data.draw(st.lists(st.builds(Link, st.sampled_from(ends), st.sampled_from(ends)), max_size=12))
    one_by_one, bulk = Graph(), Graph()
    for g in (one_by_one, bulk):
        for b in blocks:
            g.insert_block(b.clone())
    expected: tuple[int, str] | None = None
    for i, lk in enumerate(links):
        try:
            one_by_one.insert_link(lk)
        except GraphError as e:
            expected = (i, str(e))
            break
    try:
        bulk.add_links(links)
    except LinkRefused as e:
        assert (e.index, str(e)) == expected
        assert bulk.links == [] and bulk.indexes() == rebuilt_indexes(bulk)  # refused: unchanged
    else:
        assert expected is None
        assert bulk.links == one_by_one.links and bulk.indexes() == rebuilt_indexes(bulk)


def test_a_cycle_before_a_malformed_link_is_the_one_reported() -> None:
    doc = synthetic_project(20)
    graph = doc["graph"]
    cycle_at = len(graph["links"])
    graph["links"].append({"src": ["g0_5", "y"], "dst": ["g0_1", "skip"]})
    graph["blocks"][1]["inputs"].append({"name": "skip"})
    graph["links"].append({"src": ["g0_1"]})  # malformed, but after the cycle
    with pytest.raises(project_file.ProjectFileError) as e:
        loads(json.dumps(doc))
    assert e.value.json_path == f"$.graph.links[{cycle_at}]"
    assert e.value.reason == "linking 'g0_5'.y to 'g0_1'.skip would make a cycle"


def _comparisons(n_blocks: int, monkeypatch: pytest.MonkeyPatch) -> int:
    """Link and endpoint comparisons plus name normalisations made loading ``n_blocks`` blocks."""
    text = json.dumps(synthetic_project(n_blocks))
    count = Counter[str]()

    def counted(name: str, fn: Any) -> Any:
        def wrapper(*args: Any) -> Any:
            count[name] += 1
            return fn(*args)
        return wrapper

    for cls in (Link, Endpoint):
        monkeypatch.setattr(cls, "__eq__", counted(cls.__name__, cls.__eq__))
    for module in (graph_module, project_file):
        if hasattr(module, "name_key"):
            monkeypatch.setattr(module, "name_key", counted("name_key", module.name_key))
    loads(text)
    monkeypatch.undo()
    return sum(count.values())


def test_loading_does_work_in_proportion_to_the_document(monkeypatch: pytest.MonkeyPatch) -> None:
    small, large = _comparisons(300, monkeypatch), _comparisons(1200, monkeypatch)
    assert large <= 4.5 * small, f"4x the blocks cost {large / small:.1f}x the comparisons (quadratic)"
