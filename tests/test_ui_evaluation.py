"""The Evaluation tab: the confusion matrix the editor draws is the one `dpg-blocks train` writes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from test_ui_render import H, W, read_png
from ui_fixtures import EXAMPLES, ROOT, needs_xvfb

from dpg_blocks.cli import main
from dpg_blocks.ui.training.evaluation_pane import cell_colour, latest_evaluation


def test_the_latest_evaluation_is_the_last_epoch_with_a_matrix():
    assert latest_evaluation([]) is None
    epochs = [{"epoch": 1, "confusion_matrix": [[1]]}, {"epoch": 2, "confusion_matrix": [[2]]}, {"epoch": 3}]
    assert latest_evaluation(epochs)["epoch"] == 2
    assert cell_colour(0.0) != cell_colour(1.0) and cell_colour(2.0) == cell_colour(1.0)


@needs_xvfb
@pytest.mark.skipif(shutil.which("convert") is None, reason="needs ImageMagick's convert to read the PNG")
def test_the_drawn_confusion_matrix_agrees_with_metrics_out(tmp_path):
    png, boxes = tmp_path / "shot.png", tmp_path / "boxes.json"
    cmd = ["xvfb-run", "-a", "-s", f"-screen 0 {W}x{H}x24", sys.executable, "-m", "dpg_blocks", "screenshot",
           str(EXAMPLES / "mlp_digits.dpgb"), "-o", str(png), "--tab", "evaluation", "--train", "2",
           "--size", f"{W}x{H}", "--boxes", str(boxes)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    ev = json.loads(boxes.read_text())["evaluation"]
    epoch = int(re.search(r"epoch (\d+)", ev["title"]).group(1))
    drawn = np.array([[c["count"] for c in row] for row in ev["cells"]])
    assert drawn.shape == (10, 10) and ev["classes"] == [str(i) for i in range(10)]
    assert f"{drawn.sum()} samples" in ev["title"] and drawn.sum() == 359  # the test split of 1797 digits

    # the same training from the CLI (same seed, same device) writes the same matrix for that epoch
    metrics = tmp_path / "m.jsonl"
    assert main(["train", str(EXAMPLES / "mlp_digits.dpgb"), "--epochs", str(epoch), "--device", "cpu", "-q",
                 "--no-run", "--metrics-out", str(metrics)]) == 0
    last = json.loads(metrics.read_text().splitlines()[-1])
    assert last["epoch"] == epoch and last["confusion_matrix"] == drawn.tolist()

    # and the cells are drawn: an empty cell is the empty grey all over; a diagonal cell (most of
    # its class, right) is mostly bright blue under its count
    img = read_png(str(png)).astype(int)

    def pixels(c: dict) -> np.ndarray:
        return img[c["y"]:c["y"] + c["h"], c["x"]:c["x"] + c["w"]].reshape(-1, 3)

    empty = [c for row in ev["cells"] for c in row if c["count"] == 0]
    assert empty
    for c in empty:
        assert np.abs(pixels(c) - np.array(c["colour"])).max() <= 6, c
    for i in range(10):
        c = ev["cells"][i][i]
        blue = pixels(c)
        assert np.mean((blue[:, 2] > 180) & (blue[:, 0] < 110)) > 0.5, (i, c)

    # the gallery: misclassified test samples drawn (not a blank texture), each labelled true → predicted
    gallery = ev["gallery"]
    assert gallery["labels"] and all(a != b for a, b in (label.split("→") for label in gallery["labels"]))
    assert [f"{w['true']}→{w['pred']}" for w in last["misclassified"]] == gallery["labels"]
    area = img[gallery["y"]:gallery["y"] + gallery["h"], gallery["x"]:gallery["x"] + gallery["w"]]
    assert (area.max(axis=2) > 200).mean() > 0.05  # the digits' bright strokes



@needs_xvfb
@pytest.mark.skipif(shutil.which("convert") is None, reason="needs ImageMagick's convert to read the PNG")
def test_a_regression_head_shows_r2_and_a_predicted_vs_true_scatter(tmp_path):
    from engine_fixtures import write_regression_project

    project = write_regression_project(tmp_path)
    png, boxes = tmp_path / "shot.png", tmp_path / "boxes.json"
    cmd = ["xvfb-run", "-a", "-s", f"-screen 0 {W}x{H}x24", sys.executable, "-m", "dpg_blocks", "screenshot",
           str(project), "-o", str(png), "--tab", "evaluation", "--train", "4", "--size", f"{W}x{H}",
           "--boxes", str(boxes)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    ev = json.loads(boxes.read_text())["evaluation"]
    epoch = int(re.search(r"epoch (\d+)", ev["title"]).group(1))
    scatter = ev["scatter"]
    assert scatter["shown"] and scatter["points"] == 120 and scatter["head"] == "error"  # 20 % of 600 rows

    # the title's R² and MSE are the CLI's for that epoch
    metrics = tmp_path / "m.jsonl"
    assert main(["train", str(project), "--epochs", str(epoch), "--device", "cpu", "-q", "--no-run",
                 "--metrics-out", str(metrics)]) == 0
    last = json.loads(metrics.read_text().splitlines()[-1])
    assert f"R² {last['test_r2']:.3f}" in ev["title"] and f"MSE {last['test_mse']:.4g}" in ev["title"]

    # the points are drawn inside the plot, and (R² > 0.9) along its rising diagonal
    img = read_png(str(png)).astype(int)
    assert scatter["y"] + scatter["h"] <= img.shape[0], "the plot is cut off at the window's bottom"
    area = img[scatter["y"]:scatter["y"] + scatter["h"], scatter["x"]:scatter["x"] + scatter["w"]]
    orange = np.abs(area - np.array(scatter["colour"])).max(axis=2) <= 30
    assert orange.mean() > 0.01, orange.mean()
    ys, xs = orange.nonzero()
    assert np.corrcoef(xs, -ys)[0, 1] > 0.8  # image rows grow downwards: up-right is -y, +x
