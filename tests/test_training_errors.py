"""A block that fails only at the real batch size: its record, the run paused, the CLI's message."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_fixtures import builder, registry, write_npz

from dpg_blocks import protocol as m
from dpg_blocks.cli import EXIT_INVALID, main
from dpg_blocks.core.project_file import save_project
from dpg_blocks.engine.training.session import Throughput, TrainingSession
from dpg_blocks.protocol.block_error import error_text
from dpg_blocks.protocol.progress_text import duration, progress_text

# Validation runs 4 samples, so view(4, …) passes it; a training batch of 32 cannot be viewed so.
VIEW4 = "def forward(ctx, x):\n    return x.view(4, x.shape[1])\n"


@pytest.fixture(autouse=True)
def _user_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DPG_BLOCKS_USER_DIR", str(tmp_path / "user"))


def fails_at_32(folder: Path, in_super: bool = False, spare: bool = False) -> tuple[Path, object, str]:
    """data (batches of 32) -> view4 (optionally inside SuperBlock "Backbone") -> fc -> loss;
    with ``spare`` an unlinked Linear below view4 (no order uses it)."""
    write_npz(folder / "d.npz", n=128)
    b = builder("fails32")
    data = b.add("builtin.Input", "data", source="npz", path="d.npz", batch_size=32)
    custom = b.add("builtin.Custom", "view4", code=VIEW4)
    fc = b.add("builtin.Linear", "fc", out_features=3)
    loss = b.add("builtin.CrossEntropyLoss", "loss")
    b.chain((data, "x", ""), (custom, "y", "x"), (fc, "y", "x"), (loss, "", "input"))
    if spare:
        idle = b.add("builtin.Linear", "spare", out_features=3)
        x, y = b.project.graph.blocks[custom].pos
        b.project.graph.blocks[idle].pos = (x, y + 200.0)
    if in_super:
        b.merge([custom], "Backbone")
    path = folder / "fails32.dpgb"
    save_project(b.project, path)
    return path, b.project, custom


def run_session(project, folder: Path) -> list:
    events: list = []
    s = TrainingSession(events.append, events.append, project, registry(), str(folder), 1, trusted=True)
    events.append(s.plan())
    s.set_state("running")
    s.advance(5.0)
    return events


def test_a_block_failing_at_batch_32_is_its_record_and_pauses_the_run(tmp_path):
    _, project, custom = fails_at_32(tmp_path)
    events = run_session(project, tmp_path)
    errors = [e for e in events if isinstance(e, m.TrainingError)]
    assert len(errors) == 1
    err = errors[0]
    assert (err.phase, err.epoch, err.step) == ("train", 1, 1)
    rec = err.records[0]
    assert rec["id"] == custom and rec["status"] == "error" and rec["error_type"] == "RuntimeError"
    assert "shape '[4, 6]' is invalid for input of size 192" in rec["message"]
    assert "(line 2 of the code)" in rec["message"] and rec["code_line"] == 2
    assert rec["inputs"] == [{"port": "x", "shape": [32, 6], "dtype": "float32"}]
    # the traceback is the user's code only, as validation shows it
    assert '"<code of view4, code>", line 2' in rec["traceback"] and "session.py" not in rec["traceback"]
    states = [e for e in events if isinstance(e, m.TrainingState)]
    assert states[-1].state == "paused" and "block view4 failed at epoch 1, step 1" in states[-1].reason
    m.decode(m.encode(err))  # it crosses the queue


def test_the_superblock_holding_the_failing_block_is_named(tmp_path):
    _, project, custom = fails_at_32(tmp_path, in_super=True)
    err = next(e for e in run_session(project, tmp_path) if isinstance(e, m.TrainingError))
    rec, sup = err.records
    assert rec["path"] == ["Backbone", "view4"]
    assert sup["name"] == "Backbone" and sup["status"] == "error"
    assert sup["failing_path"] == ["Backbone", "view4"] and sup["message"].startswith("view4: shape '[4, 6]'")


def test_the_plan_names_the_live_blocks_of_each_order(tmp_path):
    _, project, _ = fails_at_32(tmp_path)
    plan = next(e for e in run_session(project, tmp_path) if isinstance(e, m.TrainingPlan))
    assert plan.live == {"1": [b.id for b in project.graph.walk()]}


def test_dpg_blocks_train_names_the_block_with_the_records_text_and_exits_1(tmp_path, capsys):
    path, _, _ = fails_at_32(tmp_path)
    code = main(["train", str(path), "--epochs", "1", "-q", "--trust"])
    err = capsys.readouterr().err
    assert code == EXIT_INVALID
    assert "Traceback" not in err
    text = " ".join(err.split())
    assert "block view4 failed at epoch 1, step 1: RuntimeError: shape '[4, 6]' is invalid" in text
    assert "inputs: x 32×6 float32" in text
    assert "at line 2 of the code: return x.view(4, x.shape[1])" in text


def test_step_metrics_say_batch_i_of_m_samples_per_s_and_eta(tmp_path):
    write_npz(tmp_path / "d.npz", n=80000)  # an epoch of ~3500 steps: several reports in it
    b = builder("ok")
    data = b.add("builtin.Input", "data", source="npz", path="d.npz", batch_size=16)
    fc = b.add("builtin.Linear", "fc", out_features=3)
    b.chain((data, "x", ""), (fc, "y", "x"), (b.add("builtin.CrossEntropyLoss", "loss"), "", "input"))
    b.project.training.epochs = 50
    events: list = []
    s = TrainingSession(events.append, events.append, b.project, registry(), str(tmp_path), 1)
    s.set_state("running")
    s.advance(0.6)
    # the reports inside epoch 1 (its last step always reports too)
    steps = [e for e in events if isinstance(e, m.StepMetrics) and e.epoch == 1 and e.step < e.steps]
    assert len(steps) >= 3
    last = steps[-1]
    assert last.epochs == 50 and last.steps == s.trainer.steps_per_epoch() and 0 < last.step
    assert last.samples_per_s > 0 and 0 < last.eta_epoch_s < last.eta_run_s
    assert len({e.step for e in steps}) == len(steps)  # each report is further on


def test_throughput_measures_over_its_window_and_forgets_a_pause():
    t = Throughput()
    for i in range(11):
        t.add(32)
        t.mark(i * 0.1)
    assert t.rates() == pytest.approx((320.0, 10.0))
    t.reset()
    assert t.rates() == (0.0, 0.0)


def test_the_progress_line_and_the_error_text_read_as_the_brief_says():
    assert progress_text(2, 10, 17, 56, 850.4, 9.2, 80) == \
        "epoch 2/10 · batch 17/56 · 850 samples/s · ETA 1:20 (epoch 0:09)"
    assert duration(-1) == "?" and duration(3723) == "1:02:03"
    rec = {"path_text": "Backbone › view4", "error_type": "RuntimeError", "message": "bad\nmore",
           "inputs": [{"port": "x", "shape": [32, 6], "dtype": "float32"}], "traceback": ""}
    assert error_text(rec, "at epoch 1, step 3") == \
        "block Backbone › view4 failed at epoch 1, step 3: RuntimeError: bad\n  inputs: x 32×6 float32"


def test_a_block_failing_only_in_evaluation_pauses_after_the_epoch_with_its_record(tmp_path):
    write_npz(tmp_path / "d.npz", n=128)
    b = builder("fails in eval")
    data = b.add("builtin.Input", "data", source="npz", path="d.npz", batch_size=32, test_percent=25)
    code = "def forward(ctx, x):\n    return x if ctx.training else x.view(4, x.shape[1])\n"
    custom = b.add("builtin.Custom", "eval4", code=code)
    fc = b.add("builtin.Linear", "fc", out_features=3)
    b.chain((data, "x", ""), (custom, "y", "x"), (fc, "y", "x"), (b.add("builtin.CrossEntropyLoss", "loss"), "", "input"))
    events = run_session(b.project, tmp_path)
    err = next(e for e in events if isinstance(e, m.TrainingError))
    assert err.phase == "evaluate" and err.epoch == 1 and err.records[0]["id"] == custom
    assert not any(isinstance(e, m.EpochMetrics) for e in events)
    state = [e for e in events if isinstance(e, m.TrainingState)][-1]
    assert state.state == "paused" and state.reason.startswith("block eval4 failed while evaluating after epoch 1")
