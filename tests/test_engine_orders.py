"""Orders: null propagation and per-order optimizers (DESIGN.md §3, the paper's orders)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from engine_fixtures import builder, registry, write_npz

from dpg_blocks.core import Order, SetOrders
from dpg_blocks.engine.compiling.compiler import validate_project
from dpg_blocks.engine.compiling.plan import flatten, plan_order
from dpg_blocks.engine.training.trainer import Trainer


@pytest.fixture
def two_orders(tmp_path: Path):
    """Input A (order 1) and input B (order 2), each with its own FC head and loss, plus
    Add(A, B) — needs both, so null in both orders — and OR(A, B) feeding a shared FC."""
    write_npz(tmp_path / "a.npz", seed=1)
    write_npz(tmp_path / "b.npz", seed=2)
    b = builder("two orders")
    common = dict(source="npz", val_percent=0, test_percent=25, batch_size=16, normalize="none")
    a = b.add("builtin.Input", "A", path="a.npz", orders=[1], **common)
    bb = b.add("builtin.Input", "B", path="b.npz", orders=[2], **common)
    fa = b.add("builtin.Linear", "FC_A", out_features=3)
    fb = b.add("builtin.Linear", "FC_B", out_features=3)
    la = b.add("builtin.CrossEntropyLoss", "loss_A")
    lb = b.add("builtin.CrossEntropyLoss", "loss_B")
    add = b.add("builtin.Add", "add")
    either = b.add("builtin.OR", "either")
    shared = b.add("builtin.Linear", "FC_shared", out_features=3)
    b.link(a, "x", fa, "x")
    b.link(fa, "y", la, "input")
    b.link(bb, "x", fb, "x")
    b.link(fb, "y", lb, "input")
    b.link(a, "x", add, "x1")
    b.link(bb, "x", add, "x2")
    b.link(a, "x", either, "x1")
    b.link(bb, "x", either, "x2")
    b.link(either, "y", shared, "x")
    b.history.do(SetOrders([Order(1, "A", optimize=[fa]), Order(2, "B", optimize=[fb])]))
    ids = dict(a=a, b=bb, fa=fa, fb=fb, la=la, lb=lb, add=add, either=either, shared=shared)
    return b.project, ids, tmp_path


def test_each_order_runs_only_its_inputs_and_nulls_propagate(two_orders):
    project, ids, _ = two_orders
    flat = flatten(project, registry())
    live = {k: {s.node.id for s in plan_order(flat, k).steps if s.live} for k in (1, 2)}
    assert ids["a"] in live[1] and ids["a"] not in live[2]
    assert ids["b"] in live[2] and ids["b"] not in live[1]
    assert ids["fa"] in live[1] and ids["fa"] not in live[2]
    assert ids["fb"] in live[2] and ids["fb"] not in live[1]
    # Add needs both inputs: one is null in every order, so Add is null in both.
    assert ids["add"] not in live[1] | live[2]
    # OR accepts nulls and passes the live input: it and the FC behind it run in both orders.
    assert {ids["either"], ids["shared"]} <= live[1] & live[2]


def test_validation_reports_null_blocks_as_idle_and_the_rest_ok(two_orders):
    project, ids, folder = two_orders
    records = {r.id: r for r in validate_project(project, registry(), folder)}
    assert records[ids["add"]].status == "idle"
    assert records[ids["either"]].status == "ok"
    assert records[ids["either"]].orders == [1, 2]
    assert records[ids["fa"]].orders == [1]
    assert records[ids["shared"]].outputs[0].shape == [4, 3]


def _snapshot(trainer: Trainer, block_id: str) -> list[torch.Tensor]:
    return [p.detach().clone() for p in trainer.model.block_modules[block_id].parameters()]


def _changed(before: list[torch.Tensor], trainer: Trainer, block_id: str) -> bool:
    after = list(trainer.model.block_modules[block_id].parameters())
    return any(not torch.equal(b, a) for b, a in zip(before, after, strict=True))


def test_each_orders_optimizer_updates_only_its_blocks(two_orders):
    project, ids, folder = two_orders
    trainer = Trainer(project, registry(), folder, device="cpu")
    xa, ya = trainer.sources[ids["a"]].sample(8)
    xb, yb = trainer.sources[ids["b"]].sample(8)

    before = {k: _snapshot(trainer, ids[k]) for k in ("fa", "fb", "shared")}
    total, losses, _ = trainer.train_step(1, [xa, ya])
    assert total is not None and len(losses) == 1
    assert _changed(before["fa"], trainer, ids["fa"])
    assert not _changed(before["fb"], trainer, ids["fb"])
    assert not _changed(before["shared"], trainer, ids["shared"])  # not in order 1's optimizer

    before = {k: _snapshot(trainer, ids[k]) for k in ("fa", "fb")}
    trainer.train_step(2, [xb, yb])
    assert _changed(before["fb"], trainer, ids["fb"])
    assert not _changed(before["fa"], trainer, ids["fa"])


def test_an_order_without_a_block_list_optimizes_every_live_block(two_orders):
    project, ids, folder = two_orders
    project.orders = [Order(1), Order(2)]
    trainer = Trainer(project, registry(), folder, device="cpu")
    params_1 = {id(p) for p in trainer.order_parameters(1)}
    mods = trainer.model.block_modules
    assert all(id(p) in params_1 for p in mods[ids["fa"]].parameters())
    assert all(id(p) in params_1 for p in mods[ids["shared"]].parameters())
    assert not any(id(p) in params_1 for p in mods[ids["fb"]].parameters())


def test_training_reports_a_loss_per_order_and_is_reproducible(two_orders):
    project, _, folder = two_orders
    runs = []
    for _ in range(2):
        trainer = Trainer(project, registry(), folder, device="cpu", seed=7)
        runs.append(list(trainer.fit(2)))
    first = runs[0][-1]
    assert {"loss/order_1", "loss/order_2", "test_accuracy"} <= set(first)
    assert "test_accuracy/A" in first and "test_accuracy/B" in first
    assert [m["loss"] for m in runs[0]] == [m["loss"] for m in runs[1]]
