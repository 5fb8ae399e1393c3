"""Training settings a user picks: optimizers, schedulers, device, checkpoints, seeds."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from engine_fixtures import builder, registry, write_npz

from dpg_blocks.core import OptimizerSettings, Order
from dpg_blocks.engine.training.device import resolve_device
from dpg_blocks.engine.training.trainer import Trainer


def _project(folder: Path, optimizer: OptimizerSettings):
    write_npz(folder / "d.npz", n=96)
    b = builder("small")
    data = b.add("builtin.Input", "data", source="npz", path="d.npz", batch_size=16, test_percent=25, val_percent=10)
    fc1 = b.add("builtin.Linear", "fc1", out_features=16, activation="relu")
    fc2 = b.add("builtin.Linear", "fc2", out_features=3)
    loss = b.add("builtin.CrossEntropyLoss", "loss")
    b.chain((data, "x", ""), (fc1, "y", "x"), (fc2, "y", "x"), (loss, "", "input"))
    b.project.orders = [Order(1, "main", optimizer)]
    return b.project


@pytest.mark.parametrize("kind,cls", [("sgd", torch.optim.SGD), ("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)])
def test_the_chosen_optimizer_and_its_settings_are_used(tmp_path, kind, cls):
    settings = OptimizerSettings(type=kind, lr=0.05, weight_decay=1e-4)
    trainer = Trainer(_project(tmp_path, settings), registry(), tmp_path, device="cpu")
    opt = trainer.optimizers[1]
    assert isinstance(opt, cls)
    assert opt.param_groups[0]["lr"] == 0.05 and opt.param_groups[0]["weight_decay"] == 1e-4


def test_a_step_scheduler_decays_the_learning_rate_per_epoch(tmp_path):
    settings = OptimizerSettings(type="sgd", lr=0.1, scheduler="step", step_size=1, gamma=0.5)
    trainer = Trainer(_project(tmp_path, settings), registry(), tmp_path, device="cpu")
    lrs = [m["lr/order_1"] for m in trainer.fit(3)]
    assert lrs == pytest.approx([0.1, 0.05, 0.025])


def test_training_lowers_the_loss_and_reports_every_metric(tmp_path):
    trainer = Trainer(_project(tmp_path, OptimizerSettings(lr=0.01)), registry(), tmp_path, device="cpu")
    history = list(trainer.fit(15))
    assert history[-1]["loss"] < history[0]["loss"]
    assert {"train_accuracy", "val_accuracy", "test_accuracy", "val_loss/order_1", "confusion_matrix"} <= set(history[-1])
    cm = history[-1]["confusion_matrix"]
    assert sum(map(sum, cm)) == trainer.sources[trainer.model.input_ids[1][0]].split_size("test")


def test_the_same_seed_gives_the_same_run_and_another_seed_another(tmp_path):
    def run(seed: int) -> list[float]:
        t = Trainer(_project(tmp_path, OptimizerSettings()), registry(), tmp_path, device="cpu", seed=seed)
        return [m["loss"] for m in t.fit(2)]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_a_checkpoint_restores_weights_optimizer_and_epoch(tmp_path):
    project = _project(tmp_path, OptimizerSettings(lr=0.01))
    trainer = Trainer(project, registry(), tmp_path, device="cpu")
    list(trainer.fit(2))
    path = trainer.save_checkpoint(tmp_path / "ckpt")
    assert path.name == "epoch_0002.pt"
    fresh = Trainer(project, registry(), tmp_path, device="cpu", seed=99)
    fresh.load_checkpoint(tmp_path / "ckpt" / "last.pt")
    assert fresh.epoch == 2
    for a, b in zip(trainer.model.parameters(), fresh.model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert next(trainer.fit(1))["loss"] == pytest.approx(next(fresh.fit(1))["loss"], rel=1e-6)


def test_device_auto_picks_cuda_only_when_present_and_bad_names_are_refused():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device(None).type == expected
    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("toaster")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
