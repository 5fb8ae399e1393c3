"""Split (the reverse of Concat), Fill (labels from settings, per order) and the param types
behind Custom blocks' ports and values."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from engine_fixtures import builder, registry, write_npz

from dpg_blocks.blocks import In, Out, Param, block
from dpg_blocks.blocks.spec import BlockDeclarationError, BlockSpec
from dpg_blocks.core import Order, SetOrders
from dpg_blocks.engine.compiling.compiler import validate_project
from dpg_blocks.engine.compiling.model import compile_project


def _two_inputs(folder: Path):
    write_npz(folder / "a.npz", n=40, seed=1)
    write_npz(folder / "b.npz", n=40, seed=2)
    b = builder("two")
    a = b.add("builtin.Input", "A", source="npz", path="a.npz", batch_size=8)
    c = b.add("builtin.Input", "B", source="npz", path="b.npz", batch_size=8)
    return b, a, c


def test_split_gives_back_the_parts_of_a_concat(tmp_path):
    b, a, c = _two_inputs(tmp_path)
    cat = b.add("builtin.Concat", "cat", dim=0)
    split = b.add("builtin.Split", "split")
    b.link(a, "x", cat, "x1")
    b.link(c, "x", cat, "x2")
    b.link(cat, "y", split, "x")
    b.link(a, "x", split, "like1")
    b.link(c, "x", split, "like2")
    result = compile_project(b.project, registry(), tmp_path)
    rec = {r.id: r for r in result.records}[split]
    assert [o.shape for o in rec.outputs] == [[4, 6], [4, 6]]
    xa, xb = torch.randn(3, 6), torch.randn(5, 6)
    y1, y2 = result.model.block_modules[split](torch.cat([xa, xb]), xa, xb)
    assert torch.equal(y1, xa) and torch.equal(y2, xb)


def test_split_says_when_the_references_do_not_add_up(tmp_path):
    b, a, c = _two_inputs(tmp_path)
    split = b.add("builtin.Split", "split")
    b.link(a, "x", split, "x")
    b.link(a, "x", split, "like1")
    b.link(c, "x", split, "like2")
    rec = {r.id: r for r in validate_project(b.project, registry(), tmp_path)}[split]
    assert rec.status == "error" and "add up to 8" in rec.message and "(4, 6)" in rec.message


def test_fill_makes_one_label_per_sample_and_can_differ_per_order(tmp_path):
    b, a, _ = _two_inputs(tmp_path)
    b.project.block(a).params["orders"] = [1, 2]
    fill = b.add("builtin.Fill", "labels", value=0.0, order_values={"2": 1.0})
    ints = b.add("builtin.Fill", "classes", value=3, dtype="int", shape=[2])
    b.link(a, "x", fill, "like")
    b.link(a, "x", ints, "like")
    b.history.do(SetOrders([Order(1), Order(2)]))
    result = compile_project(b.project, registry(), tmp_path)
    x = torch.zeros(5, 6)
    module = result.model.block_modules[fill]
    assert module(1, None, x).tolist() == [0.0] * 5
    assert module(2, None, x).tolist() == [1.0] * 5
    labels = result.model.block_modules[ints](1, None, x)
    assert labels.dtype == torch.int64 and labels.shape == (5, 2)


def test_fill_refuses_order_values_that_are_not_orders(tmp_path):
    b, a, _ = _two_inputs(tmp_path)
    fill = b.add("builtin.Fill", "labels", order_values={"second": 1.0})
    b.link(a, "x", fill, "like")
    rec = {r.id: r for r in validate_project(b.project, registry(), tmp_path)}[fill]
    assert rec.status == "error" and "'second' is not an order number" in rec.message


def test_names_and_values_params_are_checked_and_travel_as_plain_data():
    spec = registry()["builtin.Custom"]
    assert spec.takes_signal and spec.code_params() == ["code"]
    params = spec.check_params({"inputs": "a, b", "values": {"alpha": 0.5, "mode": "x", "on": True}})
    assert params["inputs"] == ["a", "b"]
    for bad in (["a", "a"], ["1x"], "a;b"):
        with pytest.raises(ValueError):
            spec.check_params({"inputs": bad})
    with pytest.raises(ValueError):
        spec.check_params({"values": {"alpha": [1, 2]}})
    again = BlockSpec.from_dict(spec.to_dict())
    assert again.takes_signal and again.inputs[0].named_by == "inputs"
    ins, outs = again.ports_for({"inputs": ["p", "q"], "outputs": ["r"]})
    assert [p.name for p in ins] == ["p", "q"] and [p.name for p in outs] == ["r"]


def test_a_port_named_by_something_that_is_not_a_names_param_is_refused():
    with pytest.raises(BlockDeclarationError, match="Bad.x: named_by='count'"):

        @block("test.Bad", category="Structure")
        class Bad:
            x = In(named_by="count")
            y = Out()
            count = Param(int, 2)

            def build(self, ctx):
                return None
