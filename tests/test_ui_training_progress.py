"""Training you can watch in the editor: progress within an epoch, Pause/Step, the failing
block outlined red on the canvas and named in the Debug pane, the live blocks marked."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dearpygui.dearpygui as dpg
import numpy as np
import pytest
from engine_fixtures import builder, write_npz
from test_training_errors import fails_at_32
from ui_fixtures import ROOT, click, enter, gui_context, needs_xvfb, wait_for

from dpg_blocks.cli import main
from dpg_blocks.core.project_file import save_project
from dpg_blocks.ui.editor.app import Editor
from dpg_blocks.ui.state.editor_state import EditorState
from dpg_blocks.ui.theme import LIVE

W, H = 1600, 1000


@pytest.fixture(autouse=True)
def _user_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DPG_BLOCKS_USER_DIR", str(tmp_path / "user"))


def long_epochs(folder: Path) -> Path:
    """A small classifier whose epoch is ~1500 batches: seconds on any machine, not a blink."""
    write_npz(folder / "d.npz", n=40000)
    b = builder("long epochs")
    data = b.add("builtin.Input", "data", source="npz", path="d.npz", batch_size=16)
    fc = b.add("builtin.Linear", "fc", out_features=3)
    b.chain((data, "x", ""), (fc, "y", "x"), (b.add("builtin.CrossEntropyLoss", "loss"), "", "input"))
    save_project(b.project, folder / "long.dpgb")
    return folder / "long.dpgb"


def test_the_progress_bar_advances_within_an_epoch_and_step_runs_one_batch(tmp_path):
    with gui_context():
        ed = Editor(EditorState())
        ed.start_engine(threads=1)
        try:
            st = ed.state
            st.open(str(long_epochs(tmp_path)))
            enter(ed.results.epochs, 2)
            wait_for(ed, lambda: bool(st.catalog) and bool(st.validation.received) and not st.validation.pending)
            click(ed.results.train_btn)
            readings: list[tuple[float, str, str]] = []

            def two_readings_in_epoch_1() -> bool:
                p = st.training.progress
                if p.get("epoch") == 1 and ed.results.progress_reading() not in readings:
                    readings.append(ed.results.progress_reading())
                return len(readings) >= 2 or st.training.state in ("finished", "failed") or p.get("epoch", 1) > 1

            wait_for(ed, two_readings_in_epoch_1, 60)
            assert len(readings) >= 2, (readings, st.training.state, st.training.reason)
            (bar1, over1, line1), (bar2, over2, line2) = readings[:2]
            assert over1.startswith("epoch 1/2 · batch ") and over1 != over2 and 0 < bar1 < bar2 < 0.5
            assert line2.startswith("epoch 1/2 · batch ") and "samples/s · ETA " in line2
            assert dpg.get_item_configuration(ed.results.step_btn)["enabled"] is False  # running
            click(ed.results.pause_btn)
            wait_for(ed, lambda: st.training.state == "paused", 30)
            _, overlay, _ = ed.results.progress_reading()
            assert overlay.startswith("paused · epoch ")
            assert st.engine_text.startswith("engine paused · epoch ")
            assert dpg.get_item_configuration(ed.results.step_btn)["enabled"] is True
            before = (st.training.progress["epoch"], st.training.progress["step"])
            click(ed.results.step_btn)
            wait_for(ed, lambda: (st.training.progress["epoch"], st.training.progress["step"]) != before, 30)
            epoch, step = st.training.progress["epoch"], st.training.progress["step"]
            assert (epoch, step) in ((before[0], before[1] + 1), (before[0] + 1, 0)) or step == 1
            assert st.training.state == "paused"
            click(ed.results.stop_btn)
            wait_for(ed, lambda: st.training.state == "stopped", 30)
        finally:
            ed.close()


def read_png(path: Path) -> np.ndarray:
    raw = subprocess.run(["convert", str(path), "-depth", "8", "rgb:-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(H, W, 3)


def border(img: np.ndarray, box: dict, band: int = 3) -> np.ndarray:
    x0, y0, x1, y1 = box["x"], box["y"], box["x"] + box["w"], box["y"] + box["h"]
    strips = [img[y0 - band:y0 + band, x0:x1], img[y1 - band:y1 + band, x0:x1],
              img[y0:y1, x0 - band:x0 + band], img[y0:y1, x1 - band:x1 + band]]
    return np.concatenate([s.reshape(-1, 3) for s in strips]).astype(int)


def share(pixels: np.ndarray, colour: tuple[int, int, int], tol: int = 30) -> float:
    return float(np.mean(np.all(np.abs(pixels - np.array(colour)) <= tol, axis=1)))


def red_share(pixels: np.ndarray) -> float:
    return float(np.mean((pixels[:, 0] > 190) & (pixels[:, 1] < 100) & (pixels[:, 2] < 100)))


@needs_xvfb
@pytest.mark.skipif(shutil.which("convert") is None, reason="needs ImageMagick's convert to read the PNG")
def test_a_block_failing_at_batch_32_is_outlined_red_during_training_and_named_in_the_debug_pane(tmp_path):
    path, _, _ = fails_at_32(tmp_path, spare=True)
    assert main(["trust", str(path)]) == 0
    png, boxes = tmp_path / "shot.png", tmp_path / "boxes.json"
    cmd = ["xvfb-run", "-a", "-s", f"-screen 0 {W}x{H}x24", sys.executable, "-m", "dpg_blocks", "screenshot",
           str(path), "-o", str(png), "--size", f"{W}x{H}", "--boxes", str(boxes), "--select", "view4",
           "--tab", "debug", "--train", "1"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=ROOT, env=dict(os.environ))
    assert out.returncode == 0, out.stderr[-3000:]
    info = json.loads(boxes.read_text())
    assert info["training"]["state"] == "paused"  # not "failed": fix it and Train again
    nodes = {n["name"]: n for n in info["nodes"].values()}
    assert nodes["view4"]["status"] == "error"
    debug = " ".join(info["debug"].split())
    assert debug.startswith("view4 (builtin.Custom)") and "status: error (RuntimeError)" in debug
    assert "shape '[4, 6]' is invalid for input of size 192 (line 2 of the code)" in debug
    assert "x: 32×6 float32" in debug and "return x.view(4, x.shape[1])" in debug
    assert info["engine"] == "engine paused"
    img = read_png(png)
    assert red_share(border(img, nodes["view4"])) > 0.3  # the red outline wins over "live"
    for live in ("data", "fc"):  # (the loss reaches under the Blocks pane)
        edge = border(img, nodes[live])
        assert share(edge, LIVE) > 0.1 and red_share(edge) < 0.02, live  # a 2.5 px line in a 6 px band
    spare = nodes["spare"]
    edge = border(img, spare)
    assert share(edge, LIVE) < 0.02 and red_share(edge) < 0.02  # no order uses it: dimmed
    inside = img[spare["y"] + 30:spare["y"] + spare["h"] - 5, spare["x"] + 5:spare["x"] + spare["w"] - 5]
    fc = nodes["fc"]
    fc_inside = img[fc["y"] + 30:fc["y"] + fc["h"] - 5, fc["x"] + 5:fc["x"] + fc["w"] - 5]
    assert np.median(inside) < np.median(fc_inside)


def _ancestors(item: int) -> list[int]:
    out = []
    while (item := dpg.get_item_parent(item)) is not None:
        out.append(item)
    return out


def test_train_pause_step_stop_sit_above_the_scrolling_settings(editor):
    pane = editor.results
    for button in (pane.train_btn, pane.pause_btn, pane.step_btn, pane.stop_btn, pane.progress_bar):
        assert pane.settings_area not in _ancestors(button)
    assert pane.settings_area in _ancestors(pane.epochs)  # the settings do scroll
    assert dpg.get_item_configuration(pane.step_btn)["enabled"] is False  # nothing to step yet


def test_the_status_line_and_the_bar_say_paused_with_where_the_run_stands(editor):
    st = editor.state
    st.set_engine("training")
    st.training.state = "paused"
    st.training.progress = {"epoch": 1, "epochs": 3, "step": 20, "steps": 40, "samples_per_s": 850.0,
                            "eta_epoch_s": 1.0, "eta_run_s": 80.0}
    st.emit("training")
    assert st.engine_text == "engine paused · epoch 1/3 · batch 20/40 · 850 samples/s · ETA 1:20 (epoch 0:01)"
    value, overlay, _ = editor.results.progress_reading()
    assert overlay == "paused · epoch 1/3 · batch 20/40" and value == pytest.approx(0.5 / 3)


def test_a_training_error_in_a_superblock_outlines_it_and_the_debug_pane_names_the_block(editor, tmp_path):
    from dpg_blocks import protocol as m

    path, _, custom = fails_at_32(tmp_path, in_super=True)
    st = editor.state
    st.open(str(path))
    sb = next(b.id for b in st.project.graph.walk() if b.is_super)
    st.training.request_id, st.training.state = 5, "starting"
    editor.handle(m.TrainingPlan(request_id=5, live={"1": [b.id for b in st.project.graph.walk()]}))
    editor.handle(m.TrainingState(state="running", request_id=5))
    view = editor.canvas.nodes[sb]
    assert view.theme == editor.themes.live_node
    rec = {"id": custom, "name": "view4", "type": "builtin.Custom", "path": ["Backbone", "view4"],
           "path_text": "Backbone › view4", "status": "error", "error_type": "RuntimeError",
           "message": "shape '[4, 6]' is invalid for input of size 192 (line 2 of the code)",
           "traceback": "", "inputs": [{"port": "x", "shape": [32, 6], "dtype": "float32"}],
           "outputs": [{"port": "y", "shape": None, "dtype": None}], "orders": [], "failing_path": [],
           "code_line": 2, "gradcheck": ""}
    sup = {**rec, "id": sb, "name": "Backbone", "type": "core.SuperBlock", "path": ["Backbone"],
           "path_text": "Backbone", "message": "view4: " + rec["message"], "inputs": [], "outputs": [],
           "failing_path": ["Backbone", "view4"]}
    editor.handle(m.TrainingError(request_id=5, phase="train", epoch=1, step=3, records=[rec, sup]))
    editor.handle(m.TrainingState(state="paused", reason="…", request_id=5))
    assert view.theme == editor.themes.failing_node  # red wins over the live outline
    assert st.status.startswith("block Backbone › view4 failed at epoch 1, step 3: RuntimeError: shape '[4, 6]'")
    st.select([sb])
    text = editor.debug.text()
    assert "status: error (RuntimeError) in Backbone › view4" in text and "view4: shape '[4, 6]'" in text
