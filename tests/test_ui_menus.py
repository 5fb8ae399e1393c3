"""Escape closes an open menu-bar menu: real input (xdotool) on a bare ``dpg-blocks`` under Xvfb,
the open menu seen on the window's own pixels (ImageMagick's ``import``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from ui_fixtures import needs_xvfb

pytestmark = [needs_xvfb, pytest.mark.skipif(
    shutil.which("xdotool") is None or shutil.which("import") is None,
    reason="needs xdotool (real input) and ImageMagick's import (window pixels)")]

ESCAPE_SCRIPT = r'''
import json, subprocess, sys, time
editor = subprocess.Popen([sys.executable, "-m", "dpg_blocks"])
def xdo(*args):
    return subprocess.run(["xdotool", *args], capture_output=True, text=True).stdout.strip()
def region():
    """The pixels where the File menu drops down (the Network pane when it is closed)."""
    raw = subprocess.run(["import", "-window", wid, "-crop", "150x90+10+30", "-depth", "8", "rgb:-"],
                         capture_output=True).stdout
    return raw
def differs(a, b):
    return len(a) == len(b) and sum(x != y for x, y in zip(a, b)) > len(a) // 20
def poll(pred, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.3)
    return False
end = time.monotonic() + 60
wid = ""
while not wid and time.monotonic() < end:
    time.sleep(0.5)
    wid = xdo("search", "--name", "dpg-blocks").split("\n")[0]
# the closed look: two equal shots in a row (the first frames are still arriving)
shots = [region()]
def steady():
    shots.append(region())
    return shots[-1] == shots[-2]
poll(steady, 20)
base = shots[-1]
result = {"opened": False, "closed": False}
for attempt in range(4):
    xdo("mousemove", "--window", wid, "22", "9")
    time.sleep(0.5)
    xdo("click", "1")
    if not poll(lambda: differs(region(), base), 6):
        continue
    result["opened"] = True
    xdo("mousemove", "--window", wid, "800", "500")  # off the menu bar: hovering would reopen it
    time.sleep(0.5)
    opened = region()  # the menu as drawn; the pane under it may have changed since `base`
    xdo("key", "--window", wid, "Escape")
    result["closed"] = poll(lambda: differs(region(), opened), 8)
    break
editor.terminate()
editor.wait(30)
print(json.dumps(result))
'''


def test_escape_closes_the_open_menu_bar_menu(tmp_path):
    env = {**os.environ, "DPG_BLOCKS_USER_DIR": str(tmp_path / "user")}
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", sys.executable, "-c", ESCAPE_SCRIPT]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=150, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"opened": True, "closed": True}, (result, out.stderr[-2000:])
