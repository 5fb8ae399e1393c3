"""Imported weights are the starting point: `train`, the editor's Train and the exported script
start from the module's own weights, and an imported model without a loss is not "trained"."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from engine_fixtures import registry, train_on
from test_export import script_run, without_time
from test_import_fx import MLP, user_folder  # noqa: F401 - the fixture is used by name

from dpg_blocks.cli import main
from dpg_blocks.core import load_project, save_project
from dpg_blocks.engine.interop.export import write_export
from dpg_blocks.engine.interop.import_fx import load_module
from dpg_blocks.engine.training.trainer import Trainer, starting_weights


def imported_with_a_loss(tmp_path: Path, capsys) -> Path:
    """HandwrittenMLP imported, its Input pointed at the digits and a Cross-Entropy loss added."""
    out = tmp_path / "mlp.dpgb"
    assert main(["import", MLP, "-o", str(out), "--input-shape", "1,8,8"]) == 0
    project = load_project(out)
    assert project.training.weights == "mlp.weights.pt"
    # as imported (noise in, no loss) there is nothing to train: it says so and exits 1
    capsys.readouterr()
    assert main(["train", str(out), "--epochs", "1", "-q", "--no-run"]) == 1
    assert "the project has no loss block" in capsys.readouterr().err
    train_on(project, {"source": "digits", "reshape": [1, 8, 8]}, pos=(0.0, 400.0))
    project.training.epochs = 1
    save_project(project, out)
    return out


def test_training_an_imported_model_starts_from_its_weights(tmp_path, capsys):
    path = imported_with_a_loss(tmp_path, capsys)
    project = load_project(path)
    weights = torch.load(starting_weights(project, tmp_path), weights_only=True)["model"]
    # the first step's loss is the original module's on the same batch
    trainer = Trainer(project, registry(), tmp_path, device="cpu", trusted=True)
    trainer.load_weights(starting_weights(project, tmp_path))
    run = trainer.start_epoch()
    losses = run.step()
    x, y = next(iter(run.last_batches.values()))[:2]
    # the original module with the weights the import wrote (by layer name: fc1.weight …)
    reference = load_module(MLP)
    by_layer = {".".join(k.split(".")[-2:]): v for k, v in weights.items()}
    reference.load_state_dict({k: by_layer[k] for k in reference.state_dict()})
    with torch.no_grad():
        expected = F.cross_entropy(reference(x), y)
    assert abs(float(next(iter(losses.values())).detach()) - float(expected)) < 1e-6

    # the CLI starts from them too (and says so), unlike a run from fresh weights
    out = tmp_path / "m.jsonl"
    capsys.readouterr()
    assert main(["train", str(path), "--no-run", "--device", "cpu", "-q", "--metrics-out", str(out)]) == 0
    assert "starting from the weights in" in capsys.readouterr().err
    started = [json.loads(line) for line in out.read_text().splitlines()]
    project.training.weights = ""
    save_project(project, tmp_path / "fresh.dpgb")
    fresh_out = tmp_path / "fresh.jsonl"
    assert main(["train", str(tmp_path / "fresh.dpgb"), "--no-run", "--device", "cpu", "-q",
                 "--metrics-out", str(fresh_out)]) == 0
    assert started[0]["loss"] != json.loads(fresh_out.read_text())["loss"]
    # `--weights` names them explicitly, with the same result
    explicit = tmp_path / "e.jsonl"
    assert main(["train", str(tmp_path / "fresh.dpgb"), "--no-run", "--device", "cpu", "-q", "--weights",
                 str(tmp_path / "mlp.weights.pt"), "--metrics-out", str(explicit)]) == 0
    assert without_time([json.loads(explicit.read_text())]) == without_time(started)

    # and the exported script
    (tmp_path / "out").mkdir()
    script = write_export(load_project(path), registry(), tmp_path, tmp_path / "out" / "model.py", trusted=True)
    _, metrics, _ = script_run(script, 1)
    assert without_time(metrics) == without_time(started)


def test_a_missing_starting_checkpoint_is_named(tmp_path, capsys):
    path = imported_with_a_loss(tmp_path, capsys)
    (tmp_path / "mlp.weights.pt").unlink()
    capsys.readouterr()
    assert main(["train", str(path), "--no-run", "-q"]) == 1
    assert "the project starts from the weights in mlp.weights.pt" in capsys.readouterr().err
