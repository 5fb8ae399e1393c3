"""The panes' arrangement: tiled by default, following the window, and the user's own
arrangement saved and restored at the next start (each run in its own process under Xvfb)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ui_fixtures import ROOT, needs_xvfb

from dpg_blocks.ui.editor.workspace import default_rects

pytestmark = needs_xvfb

CHILD = r"""
import json, sys
import dearpygui.dearpygui as dpg
from dpg_blocks.ui.editor.app import _create

step = sys.argv[1]
editor = _create((1400, 900), None)
for _ in range(3):
    editor.frame(); dpg.render_dearpygui_frame()
ws = editor.workspace
def rects():
    return {k: [*dpg.get_item_pos(w), *dpg.get_item_rect_size(w)] for k, w in ws.windows.items()}
out = {"custom": ws.custom, "before": rects()}
if step == "arrange":
    # What a drag of the Blocks pane's title bar and its left edge does.
    dpg.configure_item(ws.windows["blocks"], pos=[900, 120], width=420, height=500)
    for _ in range(3):
        editor.frame(); dpg.render_dearpygui_frame()
    out["saved"] = str(ws.save())
elif step == "reset":
    ws.reset(1400, 900)
    for _ in range(3):
        editor.frame(); dpg.render_dearpygui_frame()
    out["after_reset"] = rects()
print("RESULT " + json.dumps(out))
editor.close()
dpg.destroy_context()
"""


def run(step: str, user_dir) -> dict:
    env = {**os.environ, "DPG_BLOCKS_USER_DIR": str(user_dir)}
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", sys.executable, "-c", CHILD, step]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def test_default_panes_tile_the_window_without_overlap():
    rects = default_rects(1400, 900)
    area = sum(w * h for _, _, w, h in rects.values())
    assert area == 1400 * (900 - 21)  # everything under the menu bar, nothing covered twice
    x, y, w, h = rects["canvas"]
    assert w >= 700 and h >= 500  # the canvas gets the room


def test_the_users_arrangement_is_saved_and_restored_and_reset_brings_back_the_default(tmp_path):
    first = run("arrange", tmp_path)
    assert first["custom"] is False
    assert first["before"]["canvas"][:2] == list(default_rects(1400, 900)["canvas"][:2])
    assert (tmp_path / "layout.ini").is_file() and first["saved"].endswith("layout.ini")
    second = run("reset", tmp_path)
    # The next start shows the Blocks pane where the user left it…
    assert second["custom"] is True
    assert second["before"]["blocks"] == [900, 120, 420, 500]
    # …and View › Reset layout tiles the window again and forgets the saved file.
    x, y, w, h = default_rects(1400, 900)["blocks"]
    assert second["after_reset"]["blocks"] == [x, y, w, h]
    assert not (tmp_path / "layout.ini").exists()
