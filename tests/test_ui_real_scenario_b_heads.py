"""Scenario B (DANN), its second half by real input (xdotool under Xvfb): from the project the
first half builds (tests/test_ui_real_scenario_b.py: two Inputs with the digits and the shifted
digits, their Concat, the Feature Extractor, Copy, the gradient reversal typed in the code
window), a user adds the Label Classifier (three fully connected layers, merged), Split and the
label loss on the source part, the Domain Classifier (the Label Classifier copied, pasted and
given one output), the domain labels (two Fills concatenated) and the domain loss; every block
validates green; one epoch trains from the Optimization tab and shows in the plots; Ctrl+S
saves; and the saved project trains from the CLI to the same first-epoch losses.

Aimed and checked through the editor's state dump (tests/real_input.py). The second half starts
from a file so the two halves run side by side on two test workers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from real_input import run_script
from ui_fixtures import ROOT, needs_xvfb

pytestmark = [needs_xvfb, pytest.mark.skipif(shutil.which("xdotool") is None, reason="needs xdotool"),
              pytest.mark.skipif(shutil.which("import") is None, reason="needs ImageMagick's import")]
FIRST_HALF = {"b1", "b2", "b3", "b26", "b10", "b18"}  # of the shipped DANN example: what the first half builds
LOSS_COLOUR = (90, 160, 255)  # ui/results_pane.SERIES

SCRIPT = r'''
import json, sys, time, subprocess
from real_input import Driver, middle, xdo
ed = Driver(sys.argv[1], sys.argv[2])
T0 = time.monotonic()
def step(text):
    print(f"step {time.monotonic()-T0:6.1f}s:", text, flush=True)
ed.wait_ready()
src, tgt, copy, grl = "b1", "b2", "b10", "b18"
ed.poll(lambda s: s["validated"], 60, "first validation")
step("ready")

def tick(field):
    bid, name = field.split(".", 1)
    ed.open_row(bid, field)
    ed.scroll_into_view(lambda s: s["fields"][field], field)
    r = ed.state()["fields"][field]
    ed.click([r[0], r[1], r[3], r[3]], done=lambda s: ed.param(bid, name) is True, what=f"{field} ticked")

step("the label classifier: three fully connected layers, merged")
fcs = [ed.add("builtin.Linear", "Fully") for _ in range(3)]
ed.drag(fcs[0], "y", fcs[1], "x")
ed.drag(fcs[1], "y", fcs[2], "x")
tick(f"{fcs[0]}.flatten_input")
ed.type_into(f"{fcs[2]}.out_features", "10")
ed.box_select(fcs)
n = len(ed.state()["blocks"])
s = ed.menu_entry(fcs[1], "Merge selected into a SuperBlock", done=lambda s: len(s["blocks"]) == n - 2)
lc = s["blocks"][-1]["id"]
step(f"merged {lc}")
lc_in = next(k for k in ed.state()["pins"][lc] if k.startswith("in:"))[3:]
lc_out = next(k for k in ed.state()["pins"][lc] if k.startswith("out:"))[4:]
ed.drag(copy, "y1", lc, lc_in)

step("Split back into source and target, and the label loss on the source part")
split = ed.add("builtin.Split")
ed.drag(lc, lc_out, split, "x")
ed.drag(src, "x", split, "like1")
ed.drag(tgt, "x", split, "like2")
ce = ed.add("builtin.CrossEntropyLoss", "Cross")
ed.drag(split, "y1", ce, "input")
ed.drag(src, "y", ce, "target")

step("the domain classifier: the label classifier copied and pasted, one output")
def free_point(w=170, h=120):
    s = ed.state()
    c = s["widgets"]["canvas"]
    rs = [(n["x"] - 30, n["y"] - 30, n["x"] + n["w"] + 30, n["y"] + n["h"] + 30) for n in s["nodes"].values()]
    for y in range(c["y"] + 20, c["y"] + c["h"] - h, 20):
        for x in range(c["x"] + 20, c["x"] + c["w"] - w - 220, 20):  # not under the minimap
            if not any(x < r[2] and r[0] < x + w and y < r[3] and r[1] < y + h for r in rs):
                return x, y
    raise SystemExit("no free spot on the canvas to paste at")
ed.click(ed.title(lc), done=lambda s: s["selected"] == [lc], what="the label classifier selected")
ed.key("ctrl+c")
n = len(ed.state()["blocks"])
for _ in range(4):
    ed.at(*free_point())
    ed.key("ctrl+v")
    try:
        s = ed.poll(lambda s: len(s["blocks"]) == n + 1, 5, "the pasted classifier")
        break
    except SystemExit:
        continue
dc = s["blocks"][-1]["id"]
ed.settled(dc)
last = next(k for k, b in ed.state()["inner"].items() if b["parent"] == dc and b["params"].get("out_features") == 10)
ed.type_into(f"{last}.out_features", "1", kept=lambda v: v == 1)
ed.drag(grl, "y", dc, lc_in)

step("domain labels: 0 for the source, 1 for the target, concatenated; the domain loss")
f0 = ed.add("builtin.Fill")
f1 = ed.add("builtin.Fill")
ed.type_into(f"{f1}.value", "1", kept=lambda v: v == 1.0)
ed.drag(src, "x", f0, "like")
ed.drag(tgt, "x", f1, "like")
dl = ed.add("builtin.Concat")
ed.type_into(f"{dl}.dim", "0", kept=lambda v: v == 0)
ed.drag(f0, "y", dl, "x1")
ed.drag(f1, "y", dl, "x2")
bce = ed.add("builtin.BCEWithLogitsLoss", "BCE")
ed.drag(dc, lc_out, bce, "input")
ed.drag(dl, "y", bce, "target")
ed.poll(lambda s: s["validated"] and all(v == "ok" for v in s["records"].values()), 60, "every block green")
step("validated")

step("train one epoch from the Optimization tab, then save")
ed.click(ed.rect("tab:optimization"), done=lambda s: s["widgets"]["train"]["w"] > 0, what="the Optimization tab")
for _ in range(4):
    r = ed.rect("epochs")  # the field is the left 50 px; its label is right of it
    ed.click([r[0], r[1], 40, r[3]], done=lambda s: s["typing"], what="the epochs field focused")
    ed.key("ctrl+a")
    ed.type("1")
    ed.key("Tab")
    try:
        ed.poll(lambda s: s["epochs"] == 1, 5, "one epoch")
        break
    except SystemExit:
        continue
ed.click(ed.rect("train"), done=lambda s: s["training"]["state"] in ("starting", "running", "finished"), what="Train")
ed.poll(lambda s: s["training"]["state"] == "finished", 120, "the epoch trained")
c = ed.state()["widgets"]["canvas"]
ed.at(c["x"] + c["w"] - 30, c["y"] + 30)
ed.save(lambda s: not s["dirty"])
step("saved")
subprocess.run(["import", "-window", "root", sys.argv[3]], check=True)  # the test reads the plots' pixels

print(json.dumps(ed.state()), flush=True)
ed.close()
'''


def first_half(path: Path) -> None:
    """The DANN example up to the gradient reversal, with one epoch to train."""
    doc = json.loads((ROOT / "assets" / "examples" / "dann_digits.dpgb").read_text(encoding="utf-8"))
    g = doc["graph"]
    g["blocks"] = [b for b in g["blocks"] if b["id"] in FIRST_HALF]
    g["links"] = [ln for ln in g["links"] if ln["src"][0] in FIRST_HALF and ln["dst"][0] in FIRST_HALF]
    for b in g["blocks"]:
        if b["type"] == "builtin.Input":
            b["params"]["path"] = str(ROOT / "assets" / "data" / Path(b["params"]["path"]).name)
    doc["training"]["epochs"] = 1
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DPG_BLOCKS_USER_DIR": str(tmp_path / "user")}
    return subprocess.run([sys.executable, "-m", "dpg_blocks", *args], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=300)


def test_scenario_b_heads_losses_training_and_save_by_real_input(tmp_path):
    from PIL import Image

    project = tmp_path / "dann.dpgb"
    first_half(project)
    assert cli(tmp_path, "trust", str(project)).returncode == 0  # the first half typed it: the user's own code
    shot = tmp_path / "trained.png"
    out = run_script(SCRIPT, tmp_path, str(project), str(shot), timeout=400)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    s = json.loads(out.stdout.strip().splitlines()[-1])
    types = sorted(b["type"] for b in s["blocks"])
    assert types.count("core.SuperBlock") == 3 and types.count("builtin.Fill") == 2, types
    assert {"builtin.Split", "builtin.CrossEntropyLoss", "builtin.BCEWithLogitsLoss"} <= set(types)
    assert all(v == "ok" for v in s["records"].values()), s["records"]
    assert not s["dirty"] and s["training"]["state"] == "finished"

    # the epoch shows: the loss's dot in the middle of the loss plot (the legend's swatch is in
    # its corner); a line series alone drew nothing for one point
    box = s["plots"]["loss"]
    img = Image.open(shot).convert("RGB")
    middle = [img.getpixel((x, y)) for x in range(box["x"] + box["w"] * 3 // 10, box["x"] + box["w"] * 7 // 10)
              for y in range(box["y"] + box["h"] * 3 // 10, box["y"] + box["h"] * 7 // 10)]
    assert sum(max(abs(a - b) for a, b in zip(p, LOSS_COLOUR, strict=True)) < 40 for p in middle) >= 6

    # the saved project trains from the CLI to the editor's first-epoch losses
    saved = json.loads(project.read_text(encoding="utf-8"))
    assert len(saved["graph"]["blocks"]) == len(s["blocks"])
    runs = sorted((tmp_path / "dann.runs").glob("*/metrics.jsonl"))
    assert len(runs) == 1, runs
    editor_epoch = json.loads(runs[0].read_text(encoding="utf-8").splitlines()[0])
    done = cli(tmp_path, "train", str(project), "--epochs", "1", "--no-run", "-q", "--metrics-out", "cli.jsonl")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    cli_epoch = json.loads((tmp_path / "cli.jsonl").read_text(encoding="utf-8").splitlines()[0])
    losses = [k for k in editor_epoch if "loss" in k]
    assert {"loss", "val_loss/order_1", "test_loss/order_1"} <= set(losses), losses
    for k in losses:
        assert cli_epoch[k] == pytest.approx(editor_epoch[k], rel=1e-6, abs=1e-7), k
