"""New blocks land where the user can see them: in view, next to the selection, on nothing."""

from __future__ import annotations

import json
import subprocess
import sys

from ui_fixtures import ROOT, needs_xvfb

from dpg_blocks.ui.canvas.placement import fits, free_spot, link_points

VIEW = (0.0, 0.0, 900.0, 500.0)


def test_the_spot_is_right_of_the_selection_when_that_is_free():
    anchor = (100.0, 100.0, 120.0, 90.0)
    assert free_spot((120, 90), [anchor], [], VIEW, anchor) == (260.0, 100.0)


def test_a_block_or_a_link_in_the_way_moves_the_spot_and_the_view_bounds_it():
    anchor = (700.0, 100.0, 120.0, 90.0)  # no room to its right inside the view
    other = (700.0, 230.0, 120.0, 90.0)  # nor below it
    link = (50.0, 145.0, 700.0, 145.0)  # a long link left of it, at its height
    spot = free_spot((120, 90), [anchor, other], [link], VIEW, anchor)
    assert spot is not None
    rect = (*spot, 120.0, 90.0)
    assert fits(rect, [anchor, other], [link], VIEW)
    assert not fits((300.0, 110.0, 120.0, 90.0), [anchor, other], [link], VIEW)  # on the link


def test_a_link_running_back_left_bulges_past_its_pins_and_that_spot_is_taken():
    # imnodes draws a link as a curve leaving the output pin rightwards and entering the input
    # pin from the left: one that runs back left loops out past both pins.
    link = (1100.0, 100.0, 300.0, 400.0)  # output pin -> input pin
    xs = [px for px, _ in link_points(link)]
    assert min(xs) < 300.0 - 20 and max(xs) > 1100.0 + 20
    in_the_loop = (170.0, 400.0, 120.0, 90.0)  # below-left of the input pin, off the straight line
    assert not fits(in_the_loop, [], [link], (0.0, 0.0, 1400.0, 700.0))
    assert fits((170.0, 520.0, 120.0, 90.0), [], [link], (0.0, 0.0, 1400.0, 700.0))


def test_a_block_is_not_placed_with_its_pins_beside_another_blocks_pins():
    # Scenario B by real input: a new classifier went left of the gradient reversal, its output
    # pin 27 px from the reversal's input pin, where Copy's link ends: it looked wired, and was not.
    reversal = (600.0, 260.0, 130.0, 90.0)
    view = (0.0, 0.0, 1200.0, 600.0)
    assert not fits((600.0 - 27 - 120, 270.0, 120.0, 90.0), [reversal], [], view)
    assert fits((600.0 - 40 - 120, 270.0, 120.0, 90.0), [reversal], [], view)
    assert fits((600.0, 260.0 + 90 + 16, 130.0, 90.0), [reversal], [], view)  # below: nearer is fine


def test_a_full_view_has_no_spot():
    blocks = [(x, y, 120.0, 90.0) for x in range(0, 900, 140) for y in range(0, 500, 110)]
    assert free_spot((120, 90), blocks, [], VIEW, blocks[0]) is None


# Scenario A's seven blocks added one after another from a bare editor, each with the previous
# one selected (as "+" in the Blocks menu leaves it): every one drawn inside the canvas, none on
# another. Before, they marched off the right edge (the Home key then showed 5 of 7).
BUILD = r'''
import json, sys
import dearpygui.dearpygui as dpg
from dpg_blocks.ui.editor import app
from dpg_blocks.ui.canvas.graph_canvas import NODE_PAD
sys.path.insert(0, sys.argv[2])
from ui_fixtures import builtin_catalog
ed = app._create((1600, 1000), None)
ed.state.set_catalog(builtin_catalog())
def frames(n):
    for _ in range(n):
        ed.frame(); dpg.render_dearpygui_frame()
frames(3)
for t in ["builtin.Input"] + ["builtin.Linear"] * 5 + ["builtin.CrossEntropyLoss"]:
    ed.state.add_block(t)
    frames(3)
(vx, vy), (vw, vh) = dpg.get_item_rect_min(ed.canvas.view), dpg.get_item_rect_size(ed.canvas.view)
out = {"view": [vx, vy, vw, vh], "nodes": list(ed.canvas.boxes().values())}
open(sys.argv[1], "w").write(json.dumps(out))
ed.close(); dpg.destroy_context()
'''


@needs_xvfb
def test_seven_blocks_added_in_a_row_are_all_drawn_inside_the_canvas_without_overlap(tmp_path):
    out = tmp_path / "drawn.json"
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", sys.executable, "-c", BUILD, str(out),
           str(ROOT / "tests")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    drawn = json.loads(out.read_text())
    vx, vy, vw, vh = drawn["view"]
    nodes = drawn["nodes"]
    assert len(nodes) == 7
    for n in nodes:
        assert vx <= n["x"] and n["x"] + n["w"] <= vx + vw and vy <= n["y"] and n["y"] + n["h"] <= vy + vh, n
    for i, a in enumerate(nodes):
        for b in nodes[i + 1:]:
            apart = (a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"]
                     or a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"])
            assert apart, (a["name"], b["name"])


