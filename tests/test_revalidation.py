"""A params-only edit is revalidated, not validated from scratch: the engine compares the new
document with the last one (core/doc_diff.py), sets the new params on the blocks it validated,
and runs only those blocks and what is downstream of them; every other block keeps its record,
layer and outputs. The records are always those a validation from scratch gives."""

from __future__ import annotations

import copy
import json
import queue
from typing import Any

import pytest
from engine_fixtures import registry
from ui_fixtures import EXAMPLES

from dpg_blocks import protocol as m
from dpg_blocks.core.doc_diff import param_changes
from dpg_blocks.engine.process.server import Engine
from dpg_blocks.protocol import decode


def doc(name: str = "dann_digits") -> dict[str, Any]:
    return json.loads((EXAMPLES / f"{name}.dpgb").read_text(encoding="utf-8"))


def block(d: dict[str, Any], name: str) -> dict[str, Any]:
    """A block of the document by name, at any SuperBlock depth."""
    def walk(graph: dict[str, Any]) -> Any:
        for b in graph["blocks"]:
            if b["name"] == name:
                return b
            if "graph" in b and (found := walk(b["graph"])) is not None:
                return found
        return None
    found = walk(d["graph"])
    assert found is not None, name
    return found


class InProcessEngine:
    """The engine's Validate handler without a process, counting the blocks each answer ran."""

    def __init__(self) -> None:
        self.events: queue.Queue[bytes] = queue.Queue()
        self.engine = Engine(queue.Queue(), self.events, queue.Queue(), None, {})
        self.engine.registry = registry()
        self.ran: list[str] = []
        progress = self.engine.block_progress

        def counting(*args: Any) -> Any:
            report = progress(*args)
            return lambda node: (self.ran.append(node.block.name), report(node))

        self.engine.block_progress = counting  # type: ignore[method-assign]

    def validate(self, d: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
        self.ran = []
        self.engine.validate(m.Validate(project=copy.deepcopy(d), project_dir=str(EXAMPLES), request_id=1))
        events = []
        while not self.events.empty():
            events.append(decode(self.events.get_nowait()))
        (result,) = [e for e in events if not isinstance(e, m.Progress)]
        assert isinstance(result, m.ValidationResult), result
        return result.records, self.ran


def from_scratch(d: dict[str, Any]) -> list[dict[str, Any]]:
    return InProcessEngine().validate(d)[0]


def test_a_typed_param_runs_only_its_block_and_what_is_downstream_of_it():
    engine, d = InProcessEngine(), doc()
    first, ran = engine.validate(d)
    assert len(ran) > 15
    validator = engine.engine.last_validation[1]
    block(d, "fc2")["params"]["out_features"] = 48  # the Label Classifier's
    records, ran = engine.validate(d)
    assert engine.engine.last_validation[1] is validator  # revalidated, not decoded anew
    # the label side below fc2 only: the features, the domain side and the gradient reversal are kept
    assert ran == ["fc2", "fc3", "Split source/target", "label loss", "source prediction", "target prediction"]
    assert records == from_scratch(d)
    assert records != first


def test_an_error_typed_into_a_param_and_fixed_again_is_seen_each_time():
    engine, d = InProcessEngine(), doc()
    ok, _ = engine.validate(d)
    block(d, "conv2")["params"]["out_channels"] = 0  # below its minimum
    records, ran = engine.validate(d)
    assert "conv2" in ran or any(r["name"] == "conv2" and r["status"] == "error" for r in records)
    bad = next(r for r in records if r["name"] == "conv2")
    assert bad["status"] == "error" and records == from_scratch(d)
    block(d, "conv2")["params"]["out_channels"] = 32
    records, _ = engine.validate(d)
    assert records == ok


@pytest.mark.parametrize("edit", ["input", "link", "name"])
def test_anything_but_a_params_edit_is_validated_from_scratch(edit):
    engine, d = InProcessEngine(), doc()
    engine.validate(d)
    validator = engine.engine.last_validation[1]
    if edit == "input":
        block(d, "source digits")["params"]["batch_size"] = 16
    elif edit == "link":
        d["graph"]["links"].pop()
    else:
        block(d, "fc1")["name"] = "first"
    records, _ = engine.validate(d)
    assert engine.engine.last_validation[1] is not validator
    assert records == from_scratch(d)


def test_the_document_diff_finds_params_and_ignores_positions():
    a = doc()
    b = copy.deepcopy(a)
    assert param_changes(a, b) == {}
    block(b, "Copy")["pos"] = [999.0, 1.0]
    assert param_changes(a, b) == {}  # moving a block changes no result
    block(b, "conv1")["params"]["kernel_size"] = 5  # nested in the Feature Extractor
    assert param_changes(a, b) == {block(b, "conv1")["id"]: block(b, "conv1")["params"]}
    b["training"]["epochs"] = 3
    assert param_changes(a, b) is None
    c = copy.deepcopy(a)
    block(c, "fc1")["inputs"] = []
    assert param_changes(a, c) is None


def test_revalidation_runs_on_one_thread_and_gives_the_count_back():
    import torch

    engine, d = InProcessEngine(), doc()
    engine.validate(d)
    before, seen = torch.get_num_threads(), []
    progress = engine.engine.block_progress

    def watching(*args):
        report = progress(*args)
        return lambda node: (seen.append(torch.get_num_threads()), report(node))

    engine.engine.block_progress = watching
    block(d, "fc2")["params"]["out_features"] = 40
    engine.validate(d)
    assert seen and set(seen) == {1} and torch.get_num_threads() == before
