"""The graph as drawn: the shipped examples open whole on the default canvas, and a bigger font
spreads the nodes apart instead of piling them onto each other (rectangles from ``--boxes``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dearpygui.dearpygui as dpg
import pytest
from ui_fixtures import EXAMPLES, ROOT, builtin_catalog, gui_context, needs_xvfb

W, H = 1600, 1000
SHIPPED = sorted(p.name for p in EXAMPLES.glob("*.dpgb"))


def drawn(project: Path, tmp_path: Path, font_scale: float = 1.0, *args: str) -> dict:
    """The editor's node rectangles and canvas rectangle after opening ``project`` (at
    ``font_scale``, from the user's preferences as View › Font size leaves them; ``args`` go to
    ``dpg-blocks screenshot``)."""
    user = tmp_path / "user"
    user.mkdir(exist_ok=True)
    (user / "prefs.json").write_text(json.dumps({"format": 1, "recent": [], "font_scale": font_scale}))
    boxes = tmp_path / "boxes.json"
    cmd = ["xvfb-run", "-a", "-s", f"-screen 0 {W}x{H}x24", sys.executable, "-m", "dpg_blocks", "screenshot",
           str(project), "-o", str(tmp_path / "shot.png"), "--size", f"{W}x{H}", "--boxes", str(boxes), *args]
    env = {**os.environ, "DPG_BLOCKS_USER_DIR": str(user)}
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=150, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(boxes.read_text())


def overlapping(nodes: list[dict]) -> list[tuple[str, str]]:
    return [(a["name"], b["name"]) for i, a in enumerate(nodes) for b in nodes[i + 1:]
            if a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"]
            and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]]


@needs_xvfb
@pytest.mark.parametrize("example", SHIPPED)
def test_a_shipped_example_opens_whole_on_the_default_canvas(example, tmp_path):
    info = drawn(EXAMPLES / example, tmp_path)
    canvas, nodes = info["widgets"]["canvas"], list(info["nodes"].values())
    assert canvas["w"] > 900 and canvas["h"] > 500, canvas
    outside = [n["name"] for n in nodes
               if n["x"] < canvas["x"] or n["y"] < canvas["y"]
               or n["x"] + n["w"] > canvas["x"] + canvas["w"] or n["y"] + n["h"] > canvas["y"] + canvas["h"]]
    assert not outside, (canvas, outside)
    assert not overlapping(nodes)


@needs_xvfb
@pytest.mark.parametrize("example", ["mlp_digits.dpgb", "dann_digits.dpgb"])
def test_at_130_percent_font_no_two_nodes_overlap(example, tmp_path):
    opened = drawn(EXAMPLES / example, tmp_path, font_scale=1.3)
    assert not overlapping(list(opened["nodes"].values())), overlapping(list(opened["nodes"].values()))
    # at 100 % canvas zoom (opening zooms out to fit a graph grown too big for the canvas)
    nodes = [n for n in drawn(EXAMPLES / example, tmp_path, 1.3, "--zoom", "100")["nodes"].values() if n["w"] > 0]
    normal = {n["name"]: n for n in drawn(EXAMPLES / example, tmp_path, 1.0, "--zoom", "100")["nodes"].values()}
    assert len(nodes) >= 0.8 * len(normal)  # the rest lie outside the canvas, not drawn
    assert not overlapping(nodes), overlapping(nodes)
    # the nodes really are bigger (the font reached them), and so are the gaps between them
    assert all(n["h"] > normal[n["name"]]["h"] * 1.15 for n in nodes)


def test_positions_scale_with_the_font_and_drags_come_back_in_document_units():
    from dpg_blocks.ui.editor.app import Editor
    from dpg_blocks.ui.state.editor_state import EditorState

    with gui_context():
        ed = Editor(EditorState())
        ed.state.set_catalog(builtin_catalog())
        bid = ed.state.add_block("builtin.Linear", pos=(100.0, 200.0))
        node = ed.canvas.nodes[bid].node
        ed.controls.set_font_scale(1.3, save=False)
        ed.canvas.poll()  # the next frame follows the font
        ox, oy = ed.canvas.offset
        x, y = dpg.get_item_pos(node)
        assert (round(x - ox), round(y - oy)) == (130, 260)
        dpg.set_item_pos(node, [x + 130.0, y])  # the user drags it 130 px right
        ed.canvas.record_moves()
        assert ed.state.block(bid).pos == pytest.approx((200.0, 200.0))
        ed.controls.set_font_scale(1.0, save=False)
        ed.canvas.poll()
        x, _ = dpg.get_item_pos(node)
        assert round(x - ed.canvas.offset[0]) == 200


SELECT_ALL_SCRIPT = r'''
import json, subprocess, sys, time
import numpy as np
project, boxes, empty = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
from real_input import find_window, xdo
editor = subprocess.Popen([sys.executable, "-m", "dpg_blocks", project])
def blue_outlines():
    """Per node, the share of its outline pixels in Ctrl+A's white (SELECTED in ui/theme.py)."""
    raw = subprocess.run(["import", "-window", wid, "-depth", "8", "rgb:-"], capture_output=True).stdout
    if len(raw) != 1600 * 1000 * 3:
        return {}
    img = np.frombuffer(raw, np.uint8).reshape(1000, 1600, 3).astype(int)
    out = {}
    for n in boxes:
        x0, y0, x1, y1 = n["x"], n["y"], n["x"] + n["w"], n["y"] + n["h"]
        edge = np.concatenate([img[y0 - 2:y0 + 2, x0 + 10:x1 - 10].reshape(-1, 3),
                               img[y1 - 2:y1 + 2, x0 + 10:x1 - 10].reshape(-1, 3)])
        lit = (edge[:, 0] > 220) & (edge[:, 1] > 220) & (edge[:, 2] > 225)
        out[n["name"]] = float(lit.mean())
    return out
wid = find_window()
end = time.monotonic() + 60
before = {}
while time.monotonic() < end and len(before) < len(boxes):  # wait until the nodes are drawn
    time.sleep(1.0)
    before = blue_outlines()
after = {}
for attempt in range(6):  # under load the first key presses can come before the editor listens
    xdo("mousemove", "--window", wid, "700", "560")
    xdo("key", "--window", wid, "ctrl+a")
    time.sleep(1.5 + attempt)
    after = blue_outlines()
    if after and min(after.values()) > 0.3:
        break
cleared = after
for attempt in range(6):  # a click on empty canvas: imnodes needs a hover frame before it
    xdo("mousemove", "--window", wid, str(empty[0]), str(empty[1]))
    time.sleep(0.5 + attempt)
    xdo("click", "1")
    time.sleep(1.0 + attempt)
    cleared = blue_outlines()
    if cleared and max(cleared.values()) < 0.02:
        break
editor.terminate()
editor.wait(30)
print(json.dumps({"before": before, "after": after, "cleared": cleared}))
'''


@needs_xvfb
@pytest.mark.skipif(shutil.which("xdotool") is None or shutil.which("import") is None,
                    reason="needs xdotool (real input) and ImageMagick's import (window pixels)")
def test_ctrl_a_outlines_every_block_in_the_selection_colour_until_a_click_on_empty_canvas(tmp_path):
    project = EXAMPLES / "mlp_digits.dpgb"
    info = drawn(project, tmp_path)
    boxes, canvas = list(info["nodes"].values()), info["widgets"]["canvas"]
    empty = empty_spot(canvas, boxes)
    env = {**os.environ, "DPG_BLOCKS_USER_DIR": str(tmp_path / "user"),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])}
    cmd = ["xvfb-run", "-a", "-s", f"-screen 0 {W}x{H}x24", sys.executable, "-c", SELECT_ALL_SCRIPT,
           str(project), json.dumps(boxes), json.dumps(empty)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=150, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(result["before"]) == len(boxes) and max(result["before"].values()) < 0.02, result
    assert min(result["after"].values()) > 0.3, result
    assert max(result["cleared"].values()) < 0.02, result  # the click away ends the selection


def empty_spot(canvas: dict, nodes: list[dict]) -> list[int]:
    """A point of the canvas 30 px clear of every node, left of the minimap (bottom right)."""
    cx, cy, cw, ch = (int(canvas[k]) for k in ("x", "y", "w", "h"))
    for y in range(cy + 20, cy + ch - 20, 10):
        for x in range(cx + 20, cx + cw // 2, 10):
            if all(not (n["x"] - 30 < x < n["x"] + n["w"] + 30 and n["y"] - 30 < y < n["y"] + n["h"] + 30)
                   for n in nodes):
                return [x, y]
    raise AssertionError(f"no empty spot on the canvas {canvas} around {nodes}")


def inside(n: dict, canvas: dict) -> bool:
    """Whether a drawn node lies wholly inside the canvas."""
    return (n["w"] > 0 and canvas["x"] <= n["x"] and n["x"] + n["w"] <= canvas["x"] + canvas["w"]
            and canvas["y"] <= n["y"] and n["y"] + n["h"] <= canvas["y"] + canvas["h"])


def spread_copy(tmp_path: Path, factor: float, chain: int = 0) -> Path:
    """mlp_digits (its data path made absolute) with every position multiplied by ``factor``
    (a hand-edited or imported layout), and optionally ``chain`` more Linear blocks after FC5:
    too many for any layout to fit the canvas."""
    doc = json.loads((EXAMPLES / "mlp_digits.dpgb").read_text())
    blocks = doc["graph"]["blocks"]
    for b in blocks:
        b["pos"] = [b["pos"][0] * factor, b["pos"][1] * factor]
        if b["type"] == "builtin.Input":
            b["params"]["path"] = str((EXAMPLES / b["params"]["path"]).resolve())
    fc5 = next(b for b in blocks if b["name"] == "FC5")
    loss_link = next(ln for ln in doc["graph"]["links"] if ln["src"][0] == fc5["id"])
    prev = fc5
    for i in range(chain):
        extra = json.loads(json.dumps(fc5))
        extra.update(id=f"extra{i}", name=f"extra {i}", pos=[400.0 * i, 3000.0])
        extra["params"]["out_features"] = 10
        blocks.append(extra)
        doc["graph"]["links"].append({"src": [prev["id"], "y"], "dst": [extra["id"], "x"]})
        prev = extra
    loss_link["src"] = [prev["id"], "y"]
    path = tmp_path / "spread.dpgb"
    path.write_text(json.dumps(doc))
    return path


@needs_xvfb
def test_a_file_whose_layout_does_not_fit_is_laid_out_on_open_and_stays_clean(tmp_path):
    project = spread_copy(tmp_path, 5.0)
    on_disk = project.read_text()
    info = drawn(project, tmp_path)
    canvas, nodes = info["widgets"]["canvas"], list(info["nodes"].values())
    assert len(nodes) == 7
    outside = [n["name"] for n in nodes
               if n["x"] < canvas["x"] or n["y"] < canvas["y"]
               or n["x"] + n["w"] > canvas["x"] + canvas["w"] or n["y"] + n["h"] > canvas["y"] + canvas["h"]]
    assert not outside, (canvas, outside)
    assert not overlapping(nodes)
    assert "laid out to fit the canvas" in info["status"], info["status"]
    assert info["dirty"] is False  # a view fix, not the user's edit: no "save changes?" on quit
    assert project.read_text() == on_disk


@needs_xvfb
def test_a_graph_too_big_for_the_canvas_after_its_layout_is_zoomed_out_to_fit(tmp_path):
    project = spread_copy(tmp_path, 5.0, chain=30)
    info = drawn(project, tmp_path)
    status = info["status"]
    assert "laid out to fit the canvas" in status and f"zoomed to {info['zoom'] * 100:.0f} % to fit" in status, status
    assert 0.25 <= info["zoom"] < 1.0
    canvas, nodes = info["widgets"]["canvas"], list(info["nodes"].values())
    assert all(inside(n, canvas) for n in nodes)
    assert not overlapping(nodes)


@needs_xvfb
def test_a_127_block_chain_is_laid_out_in_bands_that_fit_the_canvas_at_a_readable_zoom(tmp_path):
    """Wrapped to the canvas' width a chain of 127 blocks was 30 bands tall and did not fit even at
    25 %; wrapped where the graph shows largest, it fits at about 40 %, every block in the canvas."""
    project = spread_copy(tmp_path, 5.0, chain=120)
    info = drawn(project, tmp_path)
    status = info["status"]
    assert "laid out to fit the canvas" in status and "zoomed to" in status, status
    assert 0.3 <= info["zoom"] < 1.0, info["zoom"]
    canvas, nodes = info["widgets"]["canvas"], list(info["nodes"].values())
    assert len(nodes) == 127 and all(inside(n, canvas) for n in nodes)
    assert not overlapping(nodes)


@needs_xvfb
def test_a_graph_too_big_even_at_25_percent_says_so_and_shows_its_top_left(tmp_path):
    project = spread_copy(tmp_path, 5.0, chain=400)
    info = drawn(project, tmp_path)
    status = info["status"]
    assert info["zoom"] == 0.25
    # laid out on open (the layout fits better than the file's), still too big at 25 %
    assert "laid out to fit the canvas and the graph is still" in status, status
    assert "px at 25 %" in status and "showing its top-left; the overview (bottom right) or a middle-drag" in status, status


def test_the_layout_on_open_is_one_undo_step_back_to_the_files_positions(tmp_path):
    from dpg_blocks.ui.state.editor_state import EditorState

    state = EditorState()
    state.open(str(spread_copy(tmp_path, 5.0)))
    before = {bid: b.pos for bid, b in state.graph.blocks.items()}
    assert state.lay_out_to_fit({}, max_width=940.0)
    assert not state.dirty and state.history.can_undo
    assert max(b.pos[0] for b in state.graph.blocks.values()) < 940.0
    state.undo()
    assert {bid: b.pos for bid, b in state.graph.blocks.items()} == before
    assert "lay out to fit the canvas" in state.status
