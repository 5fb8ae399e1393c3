"""Optimization › "Run on N processes": torchrun as a child of the editor, its epochs in the
Results plots, the command shown and copied, Stop ending every rank, a failure shown."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import dearpygui.dearpygui as dpg
import numpy as np
import pytest
from ui_fixtures import EXAMPLES, click, enter, gui_context, needs_xvfb

from dpg_blocks.ui.editor.app import Editor
from dpg_blocks.ui.state.editor_state import EditorState
from dpg_blocks.ui.training.process_run import ProcessRun, torchrun_command


@pytest.fixture(autouse=True)
def _user_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DPG_BLOCKS_USER_DIR", str(tmp_path / "user"))


def digits(folder: Path, **input_params: object) -> Path:
    """A copy of mlp_digits whose data path works from ``folder``."""
    doc = json.loads((EXAMPLES / "mlp_digits.dpgb").read_text(encoding="utf-8"))
    for block in doc["graph"]["blocks"]:
        if block["type"] == "builtin.Input":
            block["params"]["path"] = str((EXAMPLES / block["params"]["path"]).resolve())
            block["params"].update(input_params)
    path = folder / "digits.dpgb"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def frames_until(ed: Editor, pred, timeout: float) -> None:
    """Run the editor's frames (no rendering) until ``pred()``."""
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, f"timed out; status {ed.state.status!r}, stderr {ed.process.run and ed.process.run.stderr_lines}"
        ed.frame()
        time.sleep(0.02)


def proc_alive(pid: int) -> bool:
    """From /proc, not from the code under test: a process that runs (a zombie has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def rank_pids(pids: list[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"dpg_blocks" in cmd and b"torch.distributed.run" not in cmd:
            out.append(pid)
    return out


def test_two_processes_fill_the_plots_and_the_command_shown_is_the_one_started(tmp_path: Path) -> None:
    with gui_context():
        ed = Editor(EditorState())  # no engine: the processes need none
        try:
            st = ed.state
            st.open(str(digits(tmp_path)))
            enter(ed.results.epochs, 2)  # an unsaved change: Run asks to save first
            assert st.dirty
            click(ed.process.run_btn)
            assert dpg.is_item_shown(ed.controls.unsaved_window) and ed.process.run is None
            assert not dpg.is_item_shown(ed.controls.unsaved_discard)  # Save or Cancel, no "Don't save"
            click(ed.controls.unsaved_save)
            assert not st.dirty and json.loads(Path(st.path).read_text())["training"]["epochs"] == 2
            run = ed.process.run
            assert run is not None
            assert run.proc.args == ed.process.launched  # what was started …
            assert ed.process.text() == shlex.join(ed.process.launched)  # … is the line shown
            assert ed.process.launched[:4] == [sys.executable, "-m", "torch.distributed.run", "--standalone"]
            assert ed.process.launched[4:] == ["--nproc-per-node", "2", "-m", "dpg_blocks", "train", st.path,
                                               "--epochs", "2"]
            assert ed.results.progress_reading()[2].startswith("training on 2 processes · epoch 1/2")
            frames_until(ed, lambda: st.training.state != "running", 240)
            assert st.training.state == "finished", (st.training.reason, run.stderr_lines)
            assert [row["epoch"] for row in st.training.epochs] == [1, 2]
            xs, ys = dpg.get_value(ed.results.series["loss"])[:2]
            assert list(xs) == [1.0, 2.0] and ys[1] < ys[0]  # the loss curve: two epochs, falling
            xs, _ = dpg.get_value(ed.results.series["test_accuracy"])[:2]
            assert list(xs) == [1.0, 2.0]
            assert dpg.get_value(ed.results.state_text).startswith("finished on 2 processes · epoch 2")
            assert "2 processes finished" in st.status and "exit code 0" in st.status
            [kept] = ed.runs.runs  # the Runs tab lists the run rank 0 kept
            assert kept.path == run.run_folder and kept.state == "finished" and kept.epochs_done == 2
        finally:
            ed.close()


def test_stop_ends_torchrun_and_every_rank(tmp_path: Path) -> None:
    with gui_context():
        ed = Editor(EditorState())
        try:
            st = ed.state
            st.open(str(digits(tmp_path)))
            enter(ed.results.epochs, 500)  # far longer than the test waits
            assert ed.controls.save()
            click(ed.process.run_btn)
            run = ed.process.run
            assert run is not None
            # mid-run: both ranks are up and rank 0 has written its first epoch
            frames_until(ed, lambda: len(st.training.epochs) >= 1 or run.outcome is not None, 240)
            assert run.outcome is None, run.stderr_lines
            run.scan()
            ranks = rank_pids(list(run.seen))
            assert len(ranks) == 2 and all(proc_alive(p) for p in ranks)
            group = sorted(run.seen)
            click(ed.results.stop_btn)  # the Results pane's own Stop
            t0 = time.monotonic()
            frames_until(ed, lambda: run.outcome is not None, 30)
            assert [p for p in group if proc_alive(p)] == []
            assert time.monotonic() - t0 < 15
            assert st.training.state == "stopped" and "stopped the run on 2 processes after epoch " in st.status
            assert "File " not in st.status  # torchrun's traceback of the SIGTERM is no reason to show
        finally:
            ed.close()


def test_quitting_the_editor_ends_the_group(tmp_path: Path) -> None:
    with gui_context():
        ed = Editor(EditorState())
        st = ed.state
        st.open(str(digits(tmp_path)))
        enter(ed.results.epochs, 500)
        assert ed.controls.save()
        click(ed.process.run_btn)
        run = ed.process.run
        assert run is not None

        def ranks_up() -> bool:
            run.scan()
            return len(rank_pids(list(run.seen))) == 2 or run.outcome is not None

        frames_until(ed, ranks_up, 120)
        group = sorted(run.seen)
        ed.close()  # what File › Quit and the window's close button end with (run_editor)
        assert len(group) >= 3 and [p for p in group if proc_alive(p)] == []


def test_a_failing_run_shows_the_ranks_error_and_exit_code(tmp_path: Path) -> None:
    with gui_context():
        ed = Editor(EditorState())
        try:
            st = ed.state
            st.open(str(digits(tmp_path, batch_size=33)))  # 33 does not split over 2 processes
            enter(ed.results.epochs, 1)
            assert ed.controls.save()
            click(ed.process.run_btn)
            frames_until(ed, lambda: st.training.state != "running", 240)
            assert st.training.state == "failed"
            why = "the batch size 33 does not divide by the 2 processes"
            assert st.training.reason.startswith("exit code 1: cannot train: ") and why in st.training.reason
            assert "ChildFailedError" not in st.training.reason  # torchrun's own report is not the reason
            assert why in dpg.get_value(ed.results.state_text)  # under the Train buttons
            assert "failed, exit code 1" in st.status and why in st.status  # and in the status line
            assert dpg.is_item_shown(ed.process.output)  # torchrun's own report, opened, not swallowed
            assert "ChildFailedError" in dpg.get_value(ed.process.output)
        finally:
            ed.close()


def test_an_untitled_project_is_saved_before_it_runs_and_cancel_starts_nothing() -> None:
    with gui_context():
        ed = Editor(EditorState())
        try:
            assert ed.process.text().startswith("(save the project to a file first")
            click(ed.process.run_btn)
            assert dpg.is_item_shown(ed.controls.unsaved_window)
            assert "must be saved to a file before training on 2 processes" in dpg.get_value(ed.controls.unsaved_text)
            click(ed.controls.unsaved_cancel)
            assert ed.process.run is None and "cancelled" in ed.state.status
        finally:
            ed.close()


def test_the_command_follows_the_processes_field_and_refuses_bad_counts(tmp_path: Path) -> None:
    with gui_context():
        ed = Editor(EditorState())
        try:
            ed.state.open(str(digits(tmp_path)))
            enter(ed.process.processes, 8)
            assert dpg.get_item_label(ed.process.run_btn) == "Run on 8 processes"
            assert "--nproc-per-node 8 " in ed.process.text()
            enter(ed.process.processes, 1)  # clamped to 2
            assert "--nproc-per-node 2 " in ed.process.text()
        finally:
            ed.close()
    for bad in (1, 65, 2.5, True):
        with pytest.raises(ValueError, match="number of processes must be a whole number from 2 to 64"):
            torchrun_command("p.dpgb", bad)  # type: ignore[arg-type]


# A stand-in for torchrun, fast: it starts a "rank" in a session of its own (as torchrun does),
# prints what torchrun prints, then waits or fails.
FAKE = r"""
import subprocess, sys, time
rank = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
print("*****\nSetting OMP_NUM_THREADS environment variable for each process to be 1", file=sys.stderr)
print("cannot train: digits (digits.csv): something a rank said", file=sys.stderr, flush=True)
if sys.argv[1] == "fail":
    rank.kill()
    print("E1203 06:24:12.177000 10384 torch/distributed/elastic/multiprocessing/api.py:1002] failed "
          "(exitcode: 1) local_rank: 1", file=sys.stderr)
    print("Traceback (most recent call last):\n  File x\ntorch.distributed.elastic.multiprocessing.errors."
          "ChildFailedError:\n====\ndpg_blocks FAILED", file=sys.stderr)
    sys.exit(1)
time.sleep(300)
"""


def test_close_ends_a_rank_in_its_own_session_that_a_process_group_kill_would_miss(tmp_path: Path) -> None:
    run = ProcessRun([sys.executable, "-c", FAKE, "wait"], 1, 1, cwd=tmp_path)
    run.start()
    end = time.monotonic() + 30
    while len(run.seen) < 2 and time.monotonic() < end:
        run.poll()
        time.sleep(0.02)
    [rank] = [p for p in run.seen if p != run.pid]
    assert os.getsid(rank) != os.getsid(run.pid)  # out of reach of killpg(torchrun)
    run.close(grace=2.0)  # what the editor does when it quits
    assert not proc_alive(run.pid) and not proc_alive(rank)
    assert run.outcome is not None and run.outcome.stopped and run.outcome.text == "killed by SIGTERM"


def test_the_reason_of_a_failure_is_the_ranks_line_not_torchruns_report(tmp_path: Path) -> None:
    run = ProcessRun([sys.executable, "-c", FAKE, "fail"], 1, 1, cwd=tmp_path)
    run.start()
    end = time.monotonic() + 30
    while run.outcome is None and time.monotonic() < end:
        run.poll()
        time.sleep(0.02)
    assert run.outcome is not None and run.outcome.code == 1 and not run.outcome.stopped
    assert run.outcome.text == "exit code 1: cannot train: digits (digits.csv): something a rank said"
    assert "dpg_blocks FAILED" in run.stderr_lines  # the whole tail is kept (the Debug pane shows it)
    run.close()


COPY_SCRIPT = r'''
import json, sys, time
import dearpygui.dearpygui as dpg
from dpg_blocks.ui.editor.app import _create
editor = _create((1600, 1000), sys.argv[1])
editor.show_tab("optimization")
for _ in range(6):
    editor.frame()
    dpg.render_dearpygui_frame()
pc = editor.process
pc.copy()
dpg.render_dearpygui_frame()
out = {"clipboard": dpg.get_clipboard_text(), "shown": pc.text(), "argv": pc.argv(),
       "rects": {name: [*dpg.get_item_rect_min(item), *dpg.get_item_rect_size(item)]
                 for name, item in (("command", pc.command), ("copy", pc.copy_btn), ("run", pc.run_btn))}}
dpg.output_frame_buffer(sys.argv[2])
for _ in range(30):  # the file is written after the next frames
    dpg.render_dearpygui_frame()
    time.sleep(0.05)
editor.close()
dpg.destroy_context()
print(json.dumps(out))
'''


@needs_xvfb
def test_copy_puts_the_command_shown_on_the_clipboard_and_both_are_drawn(tmp_path: Path) -> None:
    from PIL import Image

    from dpg_blocks.ui.training.process_controls import COMMAND

    project = digits(tmp_path)
    env = {**os.environ, "DPG_BLOCKS_USER_DIR": str(tmp_path / "user")}
    png = tmp_path / "shot.png"
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", sys.executable, "-c", COPY_SCRIPT, str(project), str(png)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=150, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["clipboard"] == out["shown"] == shlex.join(out["argv"])
    assert "--nproc-per-node 2" in out["clipboard"] and str(project.resolve()) in out["clipboard"]
    image = Image.open(png).convert("RGB")
    for name, (x, y, w, h) in out["rects"].items():  # on screen, inside the window
        assert w > 20 and h > 10 and 0 <= x and x + w <= 1600 and 0 <= y and y + h <= 1000, (name, out["rects"])
    x, y, w, h = (int(v) for v in out["rects"]["command"])
    box = np.asarray(image.crop((x, y, x + w, y + h)), dtype=int)
    drawn = int((np.abs(box - np.array(COMMAND)).max(axis=2) < 40).sum())
    assert drawn > 200, drawn  # the command's letters, in its colour


def test_the_engine_crashing_or_reporting_does_not_end_a_run_on_processes_in_the_plots() -> None:
    from dpg_blocks import protocol as m
    from dpg_blocks.client.engine_client import EngineStatus
    from dpg_blocks.ui.state.editor_state import TrainingRun

    with gui_context():
        ed = Editor(EditorState())
        try:
            st = ed.state
            st.training = TrainingRun(request_id=-1, state="running", processes=2, progress={"epoch": 1, "epochs": 3})
            ed.handle(EngineStatus(state="crashed", reason="the engine process died"))
            ed.handle(m.TrainingState(state="stopped", reason="", request_id=None))
            assert st.training.state == "running"  # torchrun's group is not the engine's
            st.training = TrainingRun(request_id=4, state="running")
            ed.handle(EngineStatus(state="crashed", reason="the engine process died"))
            assert st.training.state == "failed"  # an engine run does end with it
        finally:
            ed.close()


def test_opening_another_project_ends_the_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dpg_blocks.ui.training.process_controls as pc

    monkeypatch.setattr(pc, "torchrun_command", lambda *a, **k: [sys.executable, "-c", FAKE, "wait"])
    with gui_context():
        ed = Editor(EditorState())
        try:
            ed.state.open(str(digits(tmp_path)))
            click(ed.process.run_btn)
            run = ed.process.run
            assert run is not None
            frames_until(ed, lambda: len(run.seen) >= 2, 30)  # the stand-in and its "rank"
            group = sorted(run.seen)
            other = tmp_path / "other"
            other.mkdir()
            ed.state.open(str(digits(other)))  # as the in-editor run would, the old project's run ends
            frames_until(ed, lambda: run.outcome is not None, 20)
            assert run.outcome.stopped and [p for p in group if proc_alive(p)] == []
            assert ed.state.training.processes == 0 and ed.state.training.epochs == []  # the new project's
        finally:
            ed.close()
