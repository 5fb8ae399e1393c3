"""A plugin loss declares the accuracy it is scored by (``@block(metric=...)``), like the built-in ones."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from engine_fixtures import write_npz

from dpg_blocks.blocks import In, block
from dpg_blocks.blocks.builder import ProjectBuilder
from dpg_blocks.blocks.spec import METRICS
from dpg_blocks.core import OptimizerSettings, Order, Project
from dpg_blocks.engine.packs.registry import Registry, discover
from dpg_blocks.engine.training.scoring import _score
from dpg_blocks.engine.training.trainer import Trainer


def plugin_cross_entropy(metric: str | None) -> type:
    """A cross-entropy loss as a plugin pack would declare it, scored by ``metric``."""

    @block("plugin.CrossEntropy", category="Losses", name="Plugin CE", role="loss", metric=metric)
    class PluginCrossEntropy:
        """Cross-entropy on class scores."""

        input = In()
        target = In(optional=True)

        def build(self, ctx):
            return torch.nn.CrossEntropyLoss()

    return PluginCrossEntropy


def with_plugin(loss: type) -> Registry:
    """The built-in pack plus a pack holding ``loss``."""
    registry = discover(defaults=False)
    registry.add_pack("plugin", [loss])
    return registry


def project(folder: Path, registry: Registry, loss_type: str) -> Project:
    """Data → two Linear layers → ``loss_type``, one order."""
    write_npz(folder / "d.npz", n=96)
    b = ProjectBuilder(registry.specs, "plugin loss")
    data = b.add("builtin.Input", "data", source="npz", path="d.npz", batch_size=16, test_percent=25, val_percent=10)
    fc1 = b.add("builtin.Linear", "fc1", out_features=16, activation="relu")
    fc2 = b.add("builtin.Linear", "fc2", out_features=3)
    loss = b.add(loss_type, "loss")
    b.chain((data, "x", ""), (fc1, "y", "x"), (fc2, "y", "x"), (loss, "", "input"))
    b.project.orders = [Order(1, "main", OptimizerSettings(lr=0.01))]
    return b.project


def train(folder: Path, registry: Registry, loss_type: str, epochs: int = 3) -> list[dict]:
    """Each epoch's metrics."""
    return list(Trainer(project(folder, registry, loss_type), registry, folder, device="cpu", seed=1).fit(epochs))


def test_a_plugin_loss_with_a_classification_metric_is_scored_like_the_built_in_cross_entropy(tmp_path):
    registry = with_plugin(plugin_cross_entropy("classification"))
    plugin = train(tmp_path, registry, "plugin.CrossEntropy")
    assert {"train_accuracy", "val_accuracy", "test_accuracy", "confusion_matrix"} <= set(plugin[-1])
    builtin = train(tmp_path, registry, "builtin.CrossEntropyLoss")
    for key in ("loss", "train_accuracy", "test_accuracy"):
        assert [m[key] for m in plugin] == pytest.approx([m[key] for m in builtin])
    assert plugin[-1]["confusion_matrix"] == builtin[-1]["confusion_matrix"]


def test_the_same_plugin_loss_without_a_metric_reports_only_losses(tmp_path):
    metrics = train(tmp_path, with_plugin(plugin_cross_entropy(None)), "plugin.CrossEntropy", epochs=1)[-1]
    assert "loss" in metrics and "test_loss/order_1" in metrics
    assert not [key for key in metrics if "accuracy" in key or key == "confusion_matrix"]


SCORED = {
    # kind: (prediction, target) with one of two right
    "classification": (torch.tensor([[0.1, 2.0], [3.0, 0.0]]), torch.tensor([1, 1])),
    "binary": (torch.tensor([[1.5], [-0.5]]), torch.tensor([1.0, 1.0])),
}


def test_every_metric_a_block_may_declare_is_one_training_scores():
    # "regression" gives no accuracy: evaluation reports R², MSE and MAE (test_evaluation.py)
    assert set(METRICS) == {None, "regression", *SCORED}
    assert _score("regression", torch.ones(2, 1), torch.ones(2)) is None
    for kind, (pred, target) in SCORED.items():
        correct, total = _score(kind, pred, target)
        assert (int(correct), total) == (1, 2), kind
