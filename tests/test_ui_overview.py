"""The canvas' overview: every block of a 200-block project, culled or not, drawn in the corner
(read back from the screen's pixels), and a click on a far block's rectangle moves the view there
without touching the document. imnodes' own minimap showed only the nodes in view."""

from __future__ import annotations

import json
import shutil
import sys

import pytest
from real_input import run_script
from ui_fixtures import ROOT, needs_xvfb

from dpg_blocks.ui.canvas.overview import SIZE, bounds_of, fit_map

sys.path.insert(0, str(ROOT / "benchmarks"))
from editor_scale import make_project  # noqa: E402 - the benchmark's generator


def test_the_map_fits_the_blocks_into_the_drawing_centred_without_distortion():
    bounds = bounds_of([(0.0, 0.0, 100.0, 50.0), (900.0, 150.0, 100.0, 50.0)])
    assert bounds == (0.0, 0.0, 1000.0, 200.0)
    k, dx, dy = fit_map(bounds, (220.0, 140.0), inset=5.0)
    assert k == pytest.approx(0.21)  # the width binds: 210 px for 1,000 units
    assert (0.0 * k + dx, 1000.0 * k + dx) == pytest.approx((5.0, 215.0))
    top, bottom = 0.0 * k + dy, 200.0 * k + dy
    assert top == pytest.approx(140.0 - bottom)  # centred vertically
    # a tall graph: the height binds, the width is centred
    k, dx, _dy = fit_map((0.0, 0.0, 100.0, 1000.0), (220.0, 140.0), inset=5.0)
    assert k == pytest.approx(0.13) and 0.0 * k + dx == pytest.approx(110.0 - 6.5)


SCRIPT = r'''
import json, subprocess, sys, time
from real_input import Driver
ed = Driver(sys.argv[1], sys.argv[2])
s = ed.poll(lambda s: s["validated"] and len(s["nodes"]) == 200, 150, "the 200 blocks validated")
c = s["widgets"]["canvas"]
ed.at(c["x"] + c["w"] / 2, c["y"] + c["h"] / 2)
ed.key("ctrl+0")
ed.poll(lambda s: s["zoom"] == 1.0, 10, "100 %")
steps = []
for key in ["ctrl+KP_Add"] + ["ctrl+equal"] * 20:  # the keypad's + and the = key both zoom in
    if ed.state()["zoom"] >= 2.0:
        break
    before = ed.state()["zoom"]
    ed.key(key)
    steps.append(ed.poll(lambda s: s["zoom"] != before, 10, f"{key} zooming in")["zoom"])
t = time.time()
s = ed.poll(lambda s: s.get("time", 0) > t + 0.6 and s["overview"].get("shown"), 10, "a fresh dump")
ov = s["overview"]

def inside(n, r):
    return n["w"] > 0 and r["x"] <= n["x"] and r["y"] <= n["y"] and n["x"] + n["w"] <= r["x"] + r["w"] \
        and n["y"] + n["h"] <= r["y"] + r["h"]

# the block farthest from the view's frame: culled at 200 %
f = ov["frame"]
def distance(b):
    return abs(b["x"] - f["x"]) + abs(b["y"] - f["y"])
target = max(ov["blocks"], key=lambda bid: distance(ov["blocks"][bid]))
tb = ov["blocks"][target]
report = {"zoom": s["zoom"], "steps": steps, "places": {b["id"]: b["pos"] for b in s["blocks"]}, "culled": s["culled"], "overview": {k: v for k, v in ov.items() if k != "blocks"},
          "mapped": len(ov["blocks"]), "target_culled": s["nodes"][target]["w"] == 0}

def pixel(x, y):
    """The screen's colour at (x, y), read back from a screenshot of the root window."""
    out = subprocess.run(["import", "-window", "root", "-crop", f"1x1+{int(x)}+{int(y)}", "-depth", "8", "txt:-"],
                         capture_output=True, text=True).stdout
    rgb = out.splitlines()[-1].split("(")[1].split(")")[0].split(",")[:3]
    return [round(float(v)) for v in rgb]

report["pixel_target"] = pixel(tb["x"] + tb["w"] / 2, tb["y"] + tb["h"] / 2)
report["pixel_empty"] = pixel(ov["x"] + 2, ov["y"] + 2)
s = ed.click_point(tb["x"] + tb["w"] / 2, tb["y"] + tb["h"] / 2,
                   lambda s: inside(s["nodes"][target], s["widgets"]["canvas"]), "the far block in the canvas")
report["after"] = {"target": s["nodes"][target], "canvas": s["widgets"]["canvas"], "zoom": s["zoom"],
                   "frame": s["overview"]["frame"], "target_map": s["overview"]["blocks"][target]}
report["saved"] = ed.save()["status"]
report["places_after"] = {b["id"]: b["pos"] for b in ed.state()["blocks"]}
ed.close()
print(json.dumps(report))
'''


@needs_xvfb
@pytest.mark.skipif(shutil.which("xdotool") is None or shutil.which("import") is None,
                    reason="needs xdotool and ImageMagick")
def test_the_overview_shows_every_block_at_200_percent_and_a_click_goes_there(tmp_path):
    project = tmp_path / "p200.dpgb"
    make_project(200, project)
    out = run_script(SCRIPT, tmp_path, str(project), timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    # Ctrl+= and Ctrl+keypad + zoom in one step each (Ctrl+= did nothing: a stale key code)
    assert r["steps"] == sorted(r["steps"]) and r["steps"][0] > 1.0 and r["steps"][-1] == 2.0, r["steps"]
    assert r["zoom"] == 2.0 and r["culled"] > 150, r  # most nodes are not drawn on the canvas...
    assert r["mapped"] == 200 and r["target_culled"], r  # ...but every block is on the overview
    ov = r["overview"]
    assert (ov["w"], ov["h"]) == SIZE
    canvas = r["after"]["canvas"]
    # in the canvas' bottom-right corner
    assert canvas["x"] + canvas["w"] - 260 < ov["x"] and ov["x"] + ov["w"] < canvas["x"] + canvas["w"], (ov, canvas)
    assert canvas["y"] + canvas["h"] - 180 < ov["y"] and ov["y"] + ov["h"] < canvas["y"] + canvas["h"], (ov, canvas)
    # on screen: the culled block's rectangle is drawn light, the overview's empty corner dark
    assert min(r["pixel_target"]) > 110, r["pixel_target"]
    assert max(r["pixel_empty"]) < 60, r["pixel_empty"]
    # the click centred the view on that block: it is drawn in the canvas, inside the frame
    after = r["after"]
    assert after["zoom"] == 2.0
    t, f = after["target_map"], after["frame"]
    assert f["x"] <= t["x"] + t["w"] / 2 <= f["x"] + f["w"] and f["y"] <= t["y"] + t["h"] / 2 <= f["y"] + f["h"], after
    # moving the view moved no block: the places before the click are the ones saved after it
    assert r["places_after"] == r["places"]
    assert r["saved"].startswith("saved"), r["saved"]
    saved = json.loads(project.read_text())["graph"]["blocks"]
    assert {b["id"]: b["pos"] for b in saved} == r["places"]
