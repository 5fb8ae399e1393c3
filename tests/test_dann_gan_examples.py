"""Scenarios B and C: the DANN and GAN examples build, train and behave as the paper says."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from engine_fixtures import registry

from dpg_blocks.cli import main
from dpg_blocks.core import load_project
from dpg_blocks.engine.training.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "assets" / "examples"
sys.path.insert(0, str(ROOT / "benchmarks"))
from dann_reference import Lockstep, first_steps_max_rel_diff  # noqa: E402


@pytest.fixture(autouse=True)
def _user_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DPG_BLOCKS_USER_DIR", str(tmp_path / "user"))


def _children(project, name):
    sb = next(b for b in project.graph.blocks.values() if b.name == name)
    return [b.type.removeprefix("builtin.") for b in sb.graph.blocks.values()]


def test_the_dann_example_is_scenario_b():
    project = load_project(EXAMPLES / "dann_digits.dpgb")
    root = {b.name: b.type.removeprefix("builtin.") for b in project.graph.blocks.values()}
    assert root["source digits"] == root["target digits"] == "Input"
    assert root["Concat"] == "Concat" and root["Copy"] == "Copy"
    assert root["Gradient Reversal"] == "Custom"
    assert root["label loss"] == "CrossEntropyLoss" and root["domain loss"] == "BCEWithLogitsLoss"
    assert _children(project, "Feature Extractor").count("Conv2d") == 3
    assert _children(project, "Label Classifier") == ["Linear"] * 3
    assert _children(project, "Domain Classifier") == ["Linear"] * 3
    grl = next(b for b in project.graph.blocks.values() if b.name == "Gradient Reversal")
    assert "def backward" in grl.params["code"] and grl.params["gradient_scale"] > 0
    target = next(b for b in project.graph.blocks.values() if b.name == "target digits")
    assert target.params["path"] == "../data/digits_shifted.csv"
    assert (EXAMPLES / target.params["path"]).is_file()


def test_the_compiled_dann_matches_the_handwritten_one_for_50_steps():
    assert first_steps_max_rel_diff(50, Lockstep(epochs=2)) <= 1e-5


def test_training_the_dann_reports_test_accuracy_for_source_and_target(tmp_path):
    metrics = tmp_path / "m.jsonl"
    args = ["train", str(EXAMPLES / "dann_digits.dpgb"), "--epochs", "1", "--metrics-out", str(metrics), "-q"]
    assert main(args) == 0
    (last,) = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert {"test_accuracy/source digits", "test_accuracy/target digits", "loss/order_1"} <= set(last)
    assert "test_accuracy/domain labels" not in last


def _params(trainer: Trainer, superblock: str) -> list[torch.Tensor]:
    nodes = trainer.compiled.flat.nodes.values()
    sid = next(sid for sid, (b, _) in trainer.compiled.flat.supers.items() if b.name == superblock)
    return [p.detach().clone() for n in nodes if sid in n.super_ids
            for p in trainer.model.block_modules[n.id].parameters()]


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_gan_order_1_trains_only_the_discriminator_and_order_2_only_the_generator():
    path = EXAMPLES / "gan_digits.dpgb"
    trainer = Trainer(load_project(path), registry(), path.parent, device="cpu")
    assert [len(trainer.model.input_ids[k]) for k in (1, 2)] == [2, 1]  # order 2: noise only
    iters = {i: s.batches("train", epoch=0, shuffle=True) for i, s in trainer.sources.items()}
    for _ in range(3):
        g0, d0 = _params(trainer, "Generator"), _params(trainer, "Discriminator")
        batch = [t for i in trainer.model.input_ids[1] for t in next(iters[i])]
        trainer.train_step(1, batch)
        assert _same(g0, _params(trainer, "Generator"))
        assert not _same(d0, _params(trainer, "Discriminator"))

        g1, d1 = _params(trainer, "Generator"), _params(trainer, "Discriminator")
        batch = [t for i in trainer.model.input_ids[2] for t in next(iters[i])]
        trainer.train_step(2, batch)
        assert _same(d1, _params(trainer, "Discriminator"))
        assert not _same(g1, _params(trainer, "Generator"))


def test_gan_labels_depend_on_the_order():
    path = EXAMPLES / "gan_digits.dpgb"
    trainer = Trainer(load_project(path), registry(), path.parent, device="cpu")
    batches = {i: s.sample(4) for i, s in trainer.sources.items()}
    for order, expected in ((1, [1.0] * 4 + [0.0] * 4), (2, [1.0] * 4)):
        batch = [t for i in trainer.model.input_ids[order] for t in batches[i]]
        (_pred, labels), = trainer.model.run_order(order, *batch)[2]
        assert labels.tolist() == expected


def test_training_the_gan_logs_both_orders_losses(tmp_path):
    metrics = tmp_path / "m.jsonl"
    assert main(["train", str(EXAMPLES / "gan_digits.dpgb"), "--no-run", "--epochs", "1", "--metrics-out", str(metrics), "-q"]) == 0
    (last,) = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert {"loss/order_1", "loss/order_2", "lr/order_1", "lr/order_2"} <= set(last)
