"""Scenario B's schedule: Custom blocks read the training progress, and gradient reversal ramps with it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from engine_fixtures import builder, registry, write_npz
from test_export import run_standalone

from dpg_blocks.builtin.custom import GRADIENT_REVERSAL_CODE
from dpg_blocks.core import load_project
from dpg_blocks.engine.compiling.compiler import validate_project
from dpg_blocks.engine.compiling.model import compile_project
from dpg_blocks.engine.compiling.progress import TrainingClock
from dpg_blocks.engine.interop.export import write_export
from dpg_blocks.engine.training.trainer import Trainer

EXAMPLES = Path(__file__).resolve().parents[1] / "assets" / "examples"

# Prints what it reads while training, and lets it change the loss, so that a different progress
# in the exported script would show in its losses as well as in its output.
PROGRESS_PRINTER = """def forward(ctx, x):
    if ctx.training:
        print(f"progress={ctx.progress!r} step={ctx.step} epoch={ctx.epoch}")
    return x * (1.0 + ctx.progress)
"""


@pytest.fixture(autouse=True)
def _user_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DPG_BLOCKS_USER_DIR", str(tmp_path / "user"))


def _project(folder: Path, code: str, epochs: int, **params):
    """64 samples in batches of 16 (4 steps an epoch) -> Custom -> fc -> cross-entropy."""
    write_npz(folder / "d.npz")
    b = builder("progress")
    data = b.add("builtin.Input", "data", source="npz", path="d.npz", batch_size=16, val_percent=0, test_percent=0)
    custom = b.add("builtin.Custom", "mine", code=code, **params)
    fc = b.add("builtin.Linear", "fc", out_features=3)
    loss = b.add("builtin.CrossEntropyLoss", "loss")
    b.chain((data, "x", ""), (custom, "y", "x"), (fc, "y", "x"), (loss, "", "input"))
    b.project.training.epochs = epochs
    return b.project, custom


def _lambda(p: float) -> float:
    return 2 / (1 + math.exp(-10 * p)) - 1


def test_progress_is_steps_done_over_planned_steps_from_0_at_the_first_step(tmp_path, capsys):
    code = "def forward(ctx, x):\n    ctx.values.setdefault('seen', []).append((ctx.training, ctx.progress, ctx.step, ctx.epoch))\n    return x\n"
    project, custom = _project(tmp_path, code, epochs=2)
    trainer = Trainer(project, registry(), tmp_path, device="cpu", trusted=True)
    seen = trainer.model.block_modules[custom].values.setdefault("seen", [])
    assert [s[1:] for s in seen] == [(0.0, 0, 0)]  # validation, before any training
    seen.clear()
    assert trainer.steps_per_epoch() == 4
    list(trainer.fit())
    training = [s[1:] for s in seen if s[0]]
    assert training == [(i / 8, i, i // 4) for i in range(8)]  # 0 first, rising, the last one 7/8 < 1
    assert trainer.clock.progress == 1.0  # evaluation after the last epoch reads the whole plan done


def test_the_exported_script_reads_the_same_progress_as_the_trainer(tmp_path, capsys):
    # a plan of 3 epochs of which only 1 runs: the plan is the project's epochs in both
    project, _ = _project(tmp_path, PROGRESS_PRINTER, epochs=3)
    (tmp_path / "out").mkdir()
    script = write_export(project, registry(), tmp_path, tmp_path / "out" / "model.py", trusted=True)
    trainer = Trainer(project, registry(), tmp_path, device="cpu", seed=0, trusted=True)
    capsys.readouterr()
    run = trainer.start_epoch()
    losses = []
    while not run.done:
        losses.append(float(run.step()[1]))
    engine = [line for line in capsys.readouterr().out.splitlines() if line.startswith("progress=")]
    assert engine == [f"progress={i / 12!r} step={i} epoch=0" for i in range(4)]

    result = run_standalone(script, "--epochs", "1", "--seed", "0", "--device", "cpu", "--steps-out", "steps.jsonl")
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stdout.splitlines() if line.startswith("progress=")] == engine
    steps = [json.loads(line)["losses"]["order_1"] for line in (script.parent / "steps.jsonl").read_text().splitlines()]
    assert steps == losses


def test_the_ganin_schedule_ramps_the_reversed_gradient_with_progress(tmp_path):
    project, custom = _project(tmp_path, GRADIENT_REVERSAL_CODE, epochs=1, gradient_scale=2.0,
                               gradient_schedule="ganin")
    module = compile_project(project, registry(), tmp_path, trusted=True).model.block_modules[custom]
    for p in (0.0, 0.25, 1.0):
        module.clock = TrainingClock(steps_per_epoch=100, planned_epochs=1, step=round(100 * p))
        x = torch.randn(3, 6, requires_grad=True)
        y = module(1, None, x)
        (y * torch.arange(6.0)).sum().backward()
        assert torch.equal(y, x)
        expected = -2.0 * _lambda(p) * torch.arange(6.0).expand(3, 6)
        assert torch.allclose(x.grad, expected, atol=0), p
    assert _lambda(0.25) == pytest.approx(0.848, abs=1e-3)  # the ramp is well under way at a quarter


def test_validation_checks_a_scheduled_reversal_against_its_scale_mid_ramp(tmp_path):
    def record(code: str):
        project, custom = _project(tmp_path, code, epochs=1, gradient_scale=1.0, gradient_schedule="ganin")
        return {r.id: r for r in validate_project(project, registry(), tmp_path, trusted=True)}[custom]

    assert record(GRADIENT_REVERSAL_CODE).status == "ok"
    ignores_schedule = GRADIENT_REVERSAL_CODE.replace("-ctx.gradient_scale * grad_y", "-1.0 * grad_y")
    rec = record(ignores_schedule)  # right at the end of training only: validation says so
    assert rec.error_type == "GradientCheckError" and "at progress 0.1" in rec.message


def test_an_unknown_gradient_schedule_is_refused_by_the_block(tmp_path):
    project, custom = _project(tmp_path, GRADIENT_REVERSAL_CODE, epochs=1, gradient_scale=1.0)
    next(b for b in project.graph.walk() if b.id == custom).params["gradient_schedule"] = "linear"
    rec = {r.id: r for r in validate_project(project, registry(), tmp_path, trusted=True)}[custom]
    assert rec.status == "error" and "linear" in rec.message


def test_the_dann_example_ramps_its_gradient_reversal():
    project = load_project(EXAMPLES / "dann_digits.dpgb")
    grl = next(b for b in project.graph.walk() if b.type == "builtin.Custom")
    assert grl.params["gradient_schedule"] == "ganin" and grl.params["gradient_scale"] > 0
