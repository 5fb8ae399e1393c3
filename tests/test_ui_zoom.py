"""Canvas zoom: Ctrl+wheel by real input on a 200-block project until every block is in the
canvas and back, with the saved file byte-identical; a drag at 50 % stores the document
position the drag means; zooming alone never touches the document."""

from __future__ import annotations

import json
import shutil
import sys

import dearpygui.dearpygui as dpg
import pytest
from real_input import run_script
from ui_fixtures import EXAMPLES, ROOT, needs_xvfb

from dpg_blocks.core import dumps

sys.path.insert(0, str(ROOT / "benchmarks"))
from editor_scale import make_project  # noqa: E402 - the benchmark's generator

SCRIPT = r'''
import json, sys, time
from real_input import Driver, xdo
ed = Driver(sys.argv[1], sys.argv[2])
s = ed.poll(lambda s: s["validated"] and len(s["nodes"]) == 200, 150, "the 200 blocks validated")
c = s["widgets"]["canvas"]
centre = (c["x"] + c["w"] / 2, c["y"] + c["h"] / 2)
report = {"opened_zoom": s["zoom"]}

def fresh(since):
    """A dump written well after ``since``: the nodes are drawn at the new zoom by then."""
    return ed.poll(lambda s: s.get("time", 0) > since + 0.6, 10, "a fresh dump")

def inside(s):
    c = s["widgets"]["canvas"]
    return [n["name"] for n in s["nodes"].values()
            if n["w"] > 0 and c["x"] <= n["x"] and c["y"] <= n["y"]
            and n["x"] + n["w"] <= c["x"] + c["w"] and n["y"] + n["h"] <= c["y"] + c["h"]]

def wheel(button):
    """One notch of the wheel with Ctrl held, over the canvas' centre."""
    before = ed.state()["zoom"]
    ed.at(*centre)
    t = time.time()
    xdo("keydown", "ctrl")
    xdo("click", button)
    xdo("keyup", "ctrl")
    ed.poll(lambda s: s["zoom"] != before, 10, f"the zoom leaving {before}")
    return fresh(t)

ed.at(*centre)
ed.key("ctrl+0")
ed.poll(lambda s: s["zoom"] == 1.0, 10, "100 %")
s = fresh(time.time())
report["at_100"] = {"inside": len(inside(s)), "culled": s["culled"]}
steps = []
while len(inside(s)) < 200 and len(steps) < 15:
    s = wheel("5")  # wheel down: out
    steps.append(s["zoom"])
report["out"] = steps
report["zoomed_out"] = {"inside": len(inside(s)), "culled": s["culled"], "zoom": s["zoom"],
                        "drawn": sum(1 for n in s["nodes"].values() if n["w"] > 0)}
back = []
while s["zoom"] < 1.0 and len(back) < 15:
    s = wheel("4")  # wheel up: in
    back.append(s["zoom"])
report["back"] = back
report["saved"] = ed.save()["status"]
# Go to a block far outside the view: it and its row neighbour were culled, and are drawn
# again where the document puts them (imnodes forgets a hidden node's place).
ids = {b["name"]: b["id"] for b in ed.state()["blocks"]}
report["far_culled"] = ed.state()["nodes"][ids["fc_11_15"]]["w"] == 0
ed.key("ctrl+g")
ed.poll(lambda s: s["typing"], 10, "the Go to field focused")
ed.type("fc_11_15")
time.sleep(0.5)
ed.key("Return")
s = ed.poll(lambda s: s["selected"] == [ids["fc_11_15"]] and s["nodes"][ids["fc_11_15"]]["w"] > 0
            and s["nodes"][ids["fc_11_14"]]["w"] > 0, 15, "fc_11_15 shown")
s = fresh(time.time())
report["far"] = s["nodes"][ids["fc_11_15"]]
report["left_of_far"] = s["nodes"][ids["fc_11_14"]]
report["canvas"] = s["widgets"]["canvas"]
print(json.dumps(report), flush=True)
ed.close()
'''


@needs_xvfb
@pytest.mark.skipif(shutil.which("xdotool") is None, reason="needs xdotool")
def test_ctrl_wheel_zooms_a_200_block_project_into_the_canvas_and_back_and_saves_it_unchanged(tmp_path):
    project = tmp_path / "p200.dpgb"
    make_project(200, project, per_row=16, gap=(190.0, 130.0))
    original = project.read_bytes()
    out = run_script(SCRIPT, tmp_path, str(project), timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    # at 100 % most of the graph is off the canvas, and those nodes are not drawn
    assert r["at_100"]["inside"] < 60 and r["at_100"]["culled"] > 100, r["at_100"]
    # each notch is one zoom step out, until every block is drawn inside the canvas
    assert r["out"] == sorted(r["out"], reverse=True) and r["out"][0] == 0.9, r["out"]
    assert r["zoomed_out"]["inside"] == 200 and r["zoomed_out"]["culled"] == 0, r["zoomed_out"]
    assert 0.25 <= r["zoomed_out"]["zoom"] < 0.5
    assert r["back"][-1] == 1.0 and len(r["back"]) == len(r["out"]), r
    assert r["saved"].startswith("saved"), r["saved"]
    assert project.read_bytes() == original  # zooming moved no block
    # a culled block gone to is drawn centred, and its culled neighbour 190 px (document) left
    far, left, c = r["far"], r["left_of_far"], r["canvas"]
    assert r["far_culled"]
    assert abs(far["x"] + far["w"] / 2 - (c["x"] + c["w"] / 2)) <= 3, (far, c)
    assert abs(far["y"] + far["h"] / 2 - (c["y"] + c["h"] / 2)) <= 3, (far, c)
    assert far["x"] - left["x"] == 190 and far["y"] == left["y"], (far, left)


def test_a_drag_at_50_percent_stores_the_document_position_the_drag_means(editor):
    ed = editor
    bid = ed.state.add_block("builtin.Linear", pos=(400.0, 300.0))
    other = ed.state.add_block("builtin.ReLU", pos=(700.0, 300.0))
    before = dumps(ed.state.project)
    assert ed.canvas.zoom_to(0.5, about=(100.0, 80.0))
    assert dumps(ed.state.project) == before  # the zoom alone touches nothing
    assert ed.canvas.record_moves() is False  # nor does reading the nodes back
    node = ed.canvas.nodes[bid].node
    x, y = dpg.get_item_pos(node)
    ox, oy = dpg.get_item_pos(ed.canvas.nodes[other].node)
    assert ox - x == pytest.approx(150.0)  # 300 document units apart, drawn at half size
    dpg.set_item_pos(node, [x + 60.0, y - 25.0])  # the user drags it 60 px right, 25 up
    assert ed.canvas.record_moves()
    assert ed.state.block(bid).pos == pytest.approx((400.0 + 60.0 / 0.5, 300.0 - 25.0 / 0.5))
    assert ed.state.block(other).pos == (700.0, 300.0)


def test_each_graph_keeps_its_own_zoom_and_a_new_project_starts_at_100_percent(editor):
    ed = editor
    assert ed.controls.open(str(EXAMPLES / "dann_digits.dpgb"))
    ed.zoom_out()
    ed.zoom_out()
    assert ed.canvas.zoom == 0.8
    assert ed.canvas.zoomer.style.font(0.8) != 0  # the nodes got a smaller font
    assert all(v.font == ed.canvas.zoomer.style.font(0.8) for v in ed.canvas.nodes.values())
    fx = next(b.id for b in ed.state.graph.blocks.values() if b.name == "Feature Extractor")
    ed.state.enter(fx)
    assert ed.canvas.zoom == 1.0 and all(v.font == 0 for v in ed.canvas.nodes.values())
    ed.zoom_in()
    assert ed.canvas.zoom == 1.1
    ed.state.leave()
    assert ed.canvas.zoom == 0.8
    ed.zoom_reset()
    assert ed.canvas.zoom == 1.0
    ed.zoom_out()
    assert ed.controls.open(str(EXAMPLES / "mlp_digits.dpgb"))
    assert ed.canvas.zoom == 1.0


def test_zoomed_out_below_60_percent_the_pins_drop_their_shapes(editor):
    ed = editor
    bid = ed.state.add_block("builtin.Linear", pos=(100.0, 100.0))
    assert ed.state.validation_result(ed.state.validation.sent or 0, [
        {"id": bid, "name": "fc", "type": "builtin.Linear", "path": ["fc"], "status": "ok",
         "inputs": [{"port": "x", "shape": [4, 64], "dtype": "float32"}],
         "outputs": [{"port": "y", "shape": [4, 16], "dtype": "float32"}]}], ok=True)
    label = ed.canvas.nodes[bid].labels[("in", "x")]
    assert dpg.get_value(label) == "x  4×64"
    ed.canvas.zoom_to(0.5)
    assert dpg.get_value(label) == "x"
    ed.canvas.zoom_to(0.6)
    assert dpg.get_value(label) == "x  4×64"


@needs_xvfb
def test_a_bare_editor_with_nothing_to_frame_still_settles_for_its_screenshot(tmp_path):
    """An empty graph has nothing to frame: no framing may wait for nodes that never come (a
    bare editor's screenshot waited 90 s for one)."""
    import os
    import subprocess

    out = tmp_path / "bare.png"
    env = {**os.environ, "DPG_BLOCKS_USER_DIR": str(tmp_path / "user")}
    done = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", sys.executable, "-m", "dpg_blocks",
                           "screenshot", "-o", str(out), "--timeout", "60"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert out.stat().st_size > 0
