"""The Runs tab: kept runs listed, overlaid, renamed, deleted, continued and used as weights."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg
import numpy as np
import pytest
from test_ui_render import H, W, read_png
from ui_fixtures import EXAMPLES, ROOT, click, needs_xvfb

from dpg_blocks.cli import main
from dpg_blocks.core.project_file import load_project, project_to_dict, save_project
from dpg_blocks.core.runs.folders import RunWriter, list_runs
from dpg_blocks.ui.training.runs_list import RUN_COLOURS


def _project(folder: Path, lr: float = 0.003) -> Path:
    project = load_project(EXAMPLES / "mlp_digits.dpgb")
    project.orders[0].optimizer.lr = lr
    for b in project.graph.walk():
        if b.type == "builtin.Input":
            b.params["source"] = "digits"  # the embedded digits: no file beside the copy
    path = folder / "p.dpgb"
    save_project(project, path)
    return path


def _run(path: Path, name: str, losses: list[float]) -> RunWriter:
    w = RunWriter.create(path.parent / "p.runs", name, project_to_dict(load_project(path)), 0, "cpu", len(losses))
    for i, loss in enumerate(losses, 1):
        w.append_metrics({"epoch": i, "loss": loss, "test_accuracy": 1 - loss / 3, "val_loss/order_1": loss})
    (w.path / "best.pt").write_bytes(b"weights")
    w.finish("finished")
    return w


class FakeClient:
    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.n = 0

    def request_id(self) -> int:
        self.n += 1
        return self.n

    def send(self, msg: Any) -> None:
        self.sent.append(msg)


def test_the_runs_of_the_open_project_are_listed_overlaid_and_managed(editor, tmp_path):
    path = _project(tmp_path)
    _run(path, "first", [2.0, 1.0, 0.5])
    second = _run(path, "second", [2.2, 1.5])
    editor.controls.open(str(path))
    runs = editor.runs
    assert [r.name for r in runs.runs] == ["second", "first"]  # newest first
    assert "first run" in dpg.get_value(runs.rows[runs.runs[1].id]["changes"])

    # ticking draws the run's loss and test accuracy in its own colour; unticking removes them
    before = len(dpg.get_item_children(editor.results.loss_axis, 1))
    click(runs.rows[second.id]["tick"], True)
    assert len(dpg.get_item_children(editor.results.loss_axis, 1)) == before + 1
    assert runs.boxes()["colours"] == {"second": list(RUN_COLOURS[0])}
    xs, ys = dpg.get_value(runs.series[second.id][0])[:2]
    assert list(xs) == [1.0, 2.0] and list(ys) == pytest.approx([2.2, 1.5])
    click(runs.rows[second.id]["tick"], False)
    assert len(dpg.get_item_children(editor.results.loss_axis, 1)) == before

    # rename (committed from the field), and delete after confirming
    first_id = runs.runs[1].id
    click(runs.rows[first_id]["name"], "baseline")
    assert {r.name for r in list_runs(tmp_path / "p.runs")} == {"baseline", "second"}
    click(runs.rows[second.id]["delete"])
    assert dpg.is_item_shown(runs.confirm) and "second" in dpg.get_value(runs.confirm_text)
    runs._delete_confirmed()
    assert [r.name for r in list_runs(tmp_path / "p.runs")] == ["baseline"] and not second.path.exists()

    # Load weights: the next Train starts from the run's best checkpoint, once; Continue resumes it
    editor.client = FakeClient()
    click(runs.rows[first_id]["weights"])
    assert "baseline" in dpg.get_value(runs.note)
    editor.training_command("train")
    train = editor.client.sent[-1]
    assert train.init_from.endswith("best.pt") and train.resume == "" and train.project_path == str(path)
    editor.training_command("train")
    assert editor.client.sent[-1].init_from == ""
    click(runs.rows[first_id]["continue"])
    assert editor.client.sent[-1].resume == str(tmp_path / "p.runs" / first_id)
    # Evaluate: the run's best checkpoint with the project it was trained from, shown in Evaluation
    click(runs.rows[first_id]["evaluate"])
    ask = editor.client.sent[-1]
    assert ask.checkpoint == str(tmp_path / "p.runs" / first_id / "best.pt") and ask.split == "test"
    assert ask.project == json.loads((tmp_path / "p.runs" / first_id / "project.dpgb").read_text())
    assert dpg.get_value(editor.results.view_tabs) == editor.results.evaluation_tab
    editor.results.evaluation.on_result({"confusion_matrix": [[3, 1], [0, 4]], "classes": ["0", "1"],
                                         "test_accuracy": 0.875}, editor._evaluations[ask.request_id])
    assert "run baseline (best.pt)" in dpg.get_value(editor.results.evaluation.title)


def test_an_untitled_project_says_where_its_runs_go(editor):
    assert "untitled project" in dpg.get_value(editor.runs.where)


@needs_xvfb
@pytest.mark.skipif(shutil.which("convert") is None, reason="needs ImageMagick's convert to read the PNG")
def test_two_real_runs_ticked_are_both_drawn_in_the_loss_plot(tmp_path):
    path = _project(tmp_path, lr=0.003)
    assert main(["train", str(path), "--epochs", "2", "-q", "--run-name", "fast"]) == 0
    slow = load_project(path)
    slow.orders[0].optimizer.lr = 0.0005
    save_project(slow, path)
    assert main(["train", str(path), "--epochs", "2", "-q", "--run-name", "slow"]) == 0
    png, boxes = tmp_path / "shot.png", tmp_path / "boxes.json"
    cmd = ["xvfb-run", "-a", "-s", f"-screen 0 {W}x{H}x24", sys.executable, "-m", "dpg_blocks", "screenshot",
           str(path), "-o", str(png), "--runs", "all", "--size", f"{W}x{H}", "--boxes", str(boxes)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    info = json.loads(boxes.read_text())
    assert sorted(info["runs"]["runs"]) == ["fast", "slow"]
    changes = {r.name: r.changes for r in list_runs(tmp_path / "p.runs")}
    assert changes["slow"] == ["learning rate of order 1: 0.003 → 0.0005"]
    box = info["plots"]["loss"]
    img = read_png(str(png)).astype(int)
    plot = img[box["y"]:box["y"] + box["h"], box["x"]:box["x"] + box["w"]].reshape(-1, 3)
    for name, colour in info["runs"]["colours"].items():
        near = np.abs(plot - np.array(colour)).max(axis=1) <= 30
        assert near.sum() > 250, (name, colour, int(near.sum()))  # a curve across the plot, not the legend swatch (~100 px)
