"""Scenario E, leaving the tool: a project exported to one PyTorch script trains as the editor does.

The script runs in an interpreter that cannot import dpg_blocks (no site: the editable install's
finder is never loaded; only torch's and numpy's folder on the path), and its per-step losses
and per-epoch metrics must equal the Trainer's bit for bit.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from engine_fixtures import registry

from dpg_blocks.cli import main
from dpg_blocks.core import load_project, save_project
from dpg_blocks.engine.interop.export import write_export
from dpg_blocks.engine.training.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "assets" / "examples"
RUFF = Path(sys.executable).with_name("ruff")


def _standalone_env() -> dict[str, str]:
    """A PYTHONPATH with torch and numpy only; with ``-S`` no .pth file (dpg_blocks') is read."""
    folders = {str(Path(torch.__file__).parents[1]), str(Path(np.__file__).parents[1])}
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(sorted(folders)),
        # the same thread count as this process: float sums split across threads the same way
        "OMP_NUM_THREADS": str(torch.get_num_threads()),
    }


def run_standalone(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` (copied alone into a fresh folder) where dpg_blocks cannot be imported."""
    return subprocess.run(
        [sys.executable, "-S", script.name, *args], cwd=script.parent, env=_standalone_env(),
        capture_output=True, text=True, timeout=120,
    )


def exported(name: str, folder: Path) -> Path:
    """``assets/examples/<name>.dpgb`` exported into its own folder under ``folder``."""
    (folder / name).mkdir()
    path = EXAMPLES / f"{name}.dpgb"
    return write_export(load_project(path), registry(), path.parent, folder / name / "model.py", trusted=True)


def trainer_run(name: str, epochs: int) -> tuple[list[dict[str, float]], list[dict[str, Any]]]:
    """Per-step losses and per-epoch metrics of the Trainer (what ``dpg-blocks train`` runs)."""
    path = EXAMPLES / f"{name}.dpgb"
    trainer = Trainer(load_project(path), registry(), path.parent, device="cpu", seed=0, trusted=True)
    steps: list[dict[str, float]] = []
    epochs_out: list[dict[str, Any]] = []
    for _ in range(epochs):
        run = trainer.start_epoch()
        while not run.done:
            steps.append({f"order_{k}": float(v) for k, v in run.step().items()})
        epochs_out.append(trainer.finish_epoch(run.metrics(), time.perf_counter()))
    return steps, epochs_out


def script_run(script: Path, epochs: int) -> tuple[list[dict[str, float]], list[dict[str, Any]], str]:
    result = run_standalone(script, "--epochs", str(epochs), "--seed", "0", "--device", "cpu",
                            "--steps-out", "steps.jsonl", "--metrics-out", "metrics.jsonl")
    assert result.returncode == 0, result.stderr
    steps = [json.loads(line)["losses"] for line in (script.parent / "steps.jsonl").read_text().splitlines()]
    metrics = [json.loads(line) for line in (script.parent / "metrics.jsonl").read_text().splitlines()]
    return steps, metrics, result.stdout


def without_time(metrics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in m.items() if k != "time_s"} for m in metrics]


def test_the_standalone_interpreter_cannot_import_dpg_blocks(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import numpy, torch\nimport dpg_blocks\n")
    result = run_standalone(probe)
    assert result.returncode != 0 and "No module named 'dpg_blocks'" in result.stderr


def test_exported_mlp_trains_like_dpg_blocks_train_bit_for_bit(tmp_path):
    script = exported("mlp_digits", tmp_path)
    steps, metrics, stdout = script_run(script, 2)
    ref_steps, ref_metrics = trainer_run("mlp_digits", 2)
    assert len(steps) == len(ref_steps) == 2 * 40  # 1257 training digits, batches of 32
    assert steps == ref_steps  # every loss, bit for bit
    assert without_time(metrics) == without_time(ref_metrics)
    # and what `dpg-blocks train` writes for the same seed
    cli_metrics = tmp_path / "cli.jsonl"
    assert main(["train", str(EXAMPLES / "mlp_digits.dpgb"), "--no-run", "--epochs", "2", "--seed", "0", "--device", "cpu",
                 "-q", "--metrics-out", str(cli_metrics)]) == 0
    cli = [json.loads(line) for line in cli_metrics.read_text().splitlines()]
    assert without_time(metrics) == without_time(cli)
    assert f"test_accuracy={cli[-1]['test_accuracy']:.4f}" in stdout.splitlines()[-1]


def test_exported_gan_runs_both_orders_with_their_optimizers_like_the_trainer(tmp_path):
    script = exported("gan_digits", tmp_path)
    steps, metrics, _ = script_run(script, 1)
    ref_steps, ref_metrics = trainer_run("gan_digits", 1)
    assert len(steps) == 40 and set(steps[0]) == {"order_1", "order_2"}
    assert steps == ref_steps
    assert without_time(metrics) == without_time(ref_metrics)


def test_exported_dann_custom_code_and_superblocks_match_the_trainer(tmp_path):
    script = exported("dann_digits", tmp_path)
    steps, metrics, _ = script_run(script, 1)
    ref_steps, ref_metrics = trainer_run("dann_digits", 1)
    assert len(steps) == 40
    assert steps == ref_steps
    assert without_time(metrics) == without_time(ref_metrics)
    assert "test_accuracy/target digits" in metrics[0]


@pytest.mark.parametrize("name", ["mlp_digits", "gan_digits", "dann_digits"])
def test_the_exported_file_is_readable_python_without_dpg_blocks(tmp_path, name):
    script = exported(name, tmp_path)
    text = script.read_text()
    tree = ast.parse(text)
    compile(text, str(script), "exec")
    imported = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    imported += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [m for m in imported if m.split(".")[0] not in {"__future__", "torch", "numpy"} | sys.stdlib_module_names]
    assert "dpg_blocks" not in " ".join(imported)
    classes = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    supers = {"mlp_digits": set(), "gan_digits": {"Generator", "Discriminator"},
              "dann_digits": {"FeatureExtractor", "LabelClassifier", "DomainClassifier"}}[name]
    assert supers <= classes
    root = ast.get_docstring(tree) or ""
    assert "--data-dir" in root and str(EXAMPLES) in root
    for config in (["--isolated"], []):  # ruff's default rules, then this repository's
        lint = subprocess.run([str(RUFF), "check", *config, str(script)], capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout


def test_export_refuses_untrusted_custom_code_and_names_the_block(tmp_path, capsys):
    project = load_project(EXAMPLES / "dann_digits.dpgb")
    grl = next(b for b in project.graph.walk() if b.type == "builtin.Custom")
    grl.params["code"] = grl.params["code"].replace("return x.view_as(x)", "return x.view_as(x)  # edited")
    for csv in ("digits.csv", "digits_shifted.csv"):
        shutil.copy(ROOT / "assets" / "data" / csv, tmp_path / csv)
    for b in project.graph.walk():
        if b.type == "builtin.Input":
            b.params["path"] = b.params["path"].removeprefix("../data/")
    save_project(project, tmp_path / "edited.dpgb")
    out = tmp_path / "model.py"
    capsys.readouterr()
    assert main(["export", str(tmp_path / "edited.dpgb"), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "not been trusted" in err and "Gradient Reversal" in err and "--trust" in err
    assert not out.exists()
    assert main(["export", str(tmp_path / "edited.dpgb"), "-o", str(out), "--trust"]) == 0
    assert "# edited" in out.read_text() and "def backward(ctx, grad_y):" in out.read_text()


def test_export_refuses_an_invalid_project_with_the_validation_error(tmp_path, capsys):
    out = tmp_path / "model.py"
    assert main(["export", str(EXAMPLES / "mlp_digits_unflattened.dpgb"), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "does not validate" in err and "FC1" in err and "(4, 1, 8, 8)" in err
    assert not out.exists()


def _engine_answer(cmd: Any) -> Any:
    """What the engine process loop answers to ``cmd`` (its handler, without a process)."""
    import queue

    from dpg_blocks.engine.process.server import Engine
    from dpg_blocks.protocol import decode

    events: queue.Queue[bytes] = queue.Queue()
    engine = Engine(queue.Queue(), events, queue.Queue(), None, {})
    engine.registry = registry()
    engine.handle(cmd)
    return decode(events.get_nowait())


def test_the_engine_answers_export_with_the_file_or_the_reason(tmp_path):
    from dpg_blocks import protocol as m
    from dpg_blocks.core.project_file import project_to_dict

    def export(name: str, project: Any = None) -> Any:
        project = project or load_project(EXAMPLES / f"{name}.dpgb")
        return _engine_answer(m.Export(project=project_to_dict(project), project_dir=str(EXAMPLES),
                                       path=str(tmp_path / f"{name}.py"), request_id=7))

    ok = export("mlp_digits")
    assert ok == m.ExportResult(request_id=7, ok=True, path=str(tmp_path / "mlp_digits.py"))
    ast.parse(Path(ok.path).read_text())
    bad = export("mlp_digits_unflattened")
    assert not bad.ok and "FC1" in bad.error and not (tmp_path / "mlp_digits_unflattened.py").exists()
    edited = load_project(EXAMPLES / "dann_digits.dpgb")
    grl = next(b for b in edited.graph.walk() if b.type == "builtin.Custom")
    grl.params["code"] += "\n# edited\n"
    refused = export("dann_digits", edited)
    assert not refused.ok and "Gradient Reversal" in refused.error and "not trusted" in refused.error


def test_a_superblock_of_layers_built_in_different_orders_and_dropout_still_match(tmp_path):
    """Pair = {fcA (order 2), fcC (order 1)} with fcB (order 1) outside: nesting alone would draw
    fcA's weights before fcB's, so the script draws them again in build order; the dropout draws
    the same masks because validation does not touch the training stream."""
    from engine_fixtures import builder, write_npz

    write_npz(tmp_path / "d.npz", n=96)
    b = builder("apart")
    in1 = b.add("builtin.Input", "in1", source="npz", path="d.npz", batch_size=16, orders=[1])
    in2 = b.add("builtin.Input", "in2", source="npz", path="d.npz", batch_size=16, orders=[2], shuffle_seed=1)
    fc_a = b.add("builtin.Linear", "fcA", out_features=3)
    loss_a = b.add("builtin.CrossEntropyLoss", "lossA")
    fc_c = b.add("builtin.Linear", "fcC", out_features=8, activation="relu")
    drop = b.add("builtin.Dropout", "drop", p=0.5)
    fc_b = b.add("builtin.Linear", "fcB", out_features=3)
    loss_b = b.add("builtin.CrossEntropyLoss", "lossB")
    b.chain((in2, "x", ""), (fc_a, "y", "x"), (loss_a, "", "input"))
    b.chain((in1, "x", ""), (fc_c, "y", "x"), (drop, "y", "x"), (fc_b, "y", "x"), (loss_b, "", "input"))
    b.merge([fc_a, fc_c], "Pair")
    (tmp_path / "out").mkdir()
    script = write_export(b.project, registry(), tmp_path, tmp_path / "out" / "model.py")
    text = script.read_text()
    assert "def draw_initial_weights(self)" in text and "class Pair(nn.Module):" in text
    trainer = Trainer(b.project, registry(), tmp_path, device="cpu", seed=3)
    run = trainer.start_epoch()
    ref = [{f"order_{k}": float(v) for k, v in run.step().items()} for _ in range(run.n_steps)]
    result = run_standalone(script, "--epochs", "1", "--seed", "3", "--device", "cpu", "--steps-out", "s.jsonl")
    assert result.returncode == 0, result.stderr
    got = [json.loads(line)["losses"] for line in (script.parent / "s.jsonl").read_text().splitlines()]
    assert len(got) == 5 and set(got[0]) == {"order_1", "order_2"} and got == ref


def test_an_exported_regression_model_reports_the_same_r2_mse_and_mae(tmp_path):
    from engine_fixtures import write_regression_project

    project = write_regression_project(tmp_path)
    (tmp_path / "out").mkdir()
    script = write_export(load_project(project), registry(), tmp_path, tmp_path / "out" / "model.py", trusted=True)
    _, metrics, _ = script_run(script, 2)
    cli_metrics = tmp_path / "cli.jsonl"
    assert main(["train", str(project), "--no-run", "--epochs", "2", "--seed", "0", "--device", "cpu", "-q",
                 "--metrics-out", str(cli_metrics)]) == 0
    cli = [json.loads(line) for line in cli_metrics.read_text().splitlines()]
    assert without_time(metrics) == without_time(cli)
    assert {"test_r2", "test_mse", "test_mae"} <= set(metrics[-1])
