"""Scenario A's start by real input (xdotool under Xvfb) from a bare ``dpg-blocks``: blocks added
with the Blocks menu's "+", wired by dragging pins, sizes typed and left by Tab and by a click
elsewhere. The script aims and checks through the editor's state dump (``DPG_BLOCKS_STATE_DUMP``,
ui/state_dump.py), polling with generous deadlines instead of fixed sleeps."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from ui_fixtures import needs_xvfb

pytestmark = [needs_xvfb, pytest.mark.skipif(shutil.which("xdotool") is None, reason="needs xdotool")]

SCRIPT = r'''
import json, subprocess, sys, time
dump_path = sys.argv[1]
editor = subprocess.Popen([sys.executable, "-m", "dpg_blocks"])
def xdo(*args):
    return subprocess.run(["xdotool", *args], capture_output=True, text=True).stdout.strip()
def state():
    try:
        return json.loads(open(dump_path).read())
    except (OSError, ValueError):
        return {}
def poll(pred, seconds=30):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        s = state()
        if s and pred(s):
            return s
        time.sleep(0.3)
    raise SystemExit(f"timed out waiting: {pred.__doc__ or pred}; last state blocks={[b['name'] for b in state().get('blocks', [])]}")
def at(x, y):
    xdo("mousemove", "--window", wid, str(int(x)), str(int(y)))
    time.sleep(0.25)
def click(rect, tries=4, done=None):
    """Click the middle of rect until done(state) holds (imnodes and ImGui need a hover frame)."""
    for _ in range(tries):
        at(rect[0] + rect[2] / 2, rect[1] + rect[3] / 2)
        xdo("click", "1")
        if done is None:
            return
        try:
            return poll(done, 5)
        except SystemExit:
            continue
    raise SystemExit(f"click on {rect} did nothing")
end = time.monotonic() + 60
wid = ""
while not wid and time.monotonic() < end:
    time.sleep(0.5)
    wid = xdo("search", "--name", "dpg-blocks").split("\n")[0]
s = poll(lambda s: "ready" in s["engine"] and s["buttons"].get("builtin.Input", [0, 0, 0])[2] > 0, 60)
def add(type_id, search=None):
    s = state()
    if s["buttons"].get(type_id, [0, 0, 0, 0])[2] == 0:  # folded away or filtered out in the Blocks menu: search for it
        for attempt in range(4):  # a click that lands before its hover frame leaves the field unfocused: again
            click(s["search"])
            time.sleep(0.3 * (attempt + 1))
            xdo("key", "--window", wid, "ctrl+a")
            xdo("type", "--delay", "60", search)
            try:
                poll(lambda s: s["buttons"].get(type_id, [0, 0, 0, 0])[2] > 0, 10)
                break
            except SystemExit:
                if attempt == 3:
                    raise
        time.sleep(1.2)  # rectangles of the previous (unfiltered) list can linger a frame or two
        s = state()
    n = len(s["blocks"])
    s = click(s["buttons"][type_id], done=lambda s: len(s["blocks"]) == n + 1)
    return s["blocks"][-1]["id"]
data = add("builtin.Input")
fc1 = add("builtin.Linear", "Fully")
fc2 = add("builtin.Linear", "Fully")
loss = add("builtin.CrossEntropyLoss", "Cross")
def drag(src, sport, dst, dport):
    for _ in range(4):
        s = state()
        a, b = s["pins"][src]["out:" + sport], s["pins"][dst]["in:" + dport]
        na, nb = s["nodes"][src], s["nodes"][dst]
        x0, y0 = na["x"] + na["w"], a[1] + a[3] / 2  # the pins: on the nodes' edges, level with the labels
        x1, y1 = nb["x"], b[1] + b[3] / 2
        n = len(s["links"])
        at(x0, y0)
        xdo("mousedown", "1")
        for f in (0.3, 0.7, 1.0):
            at(x0 + f * (x1 - x0), y0 + f * (y1 - y0))
        xdo("mouseup", "1")
        try:
            return poll(lambda s: len(s["links"]) == n + 1, 5)
        except SystemExit:
            continue
    raise SystemExit(f"could not wire {src}.{sport} -> {dst}.{dport}")
drag(data, "x", fc1, "x")
drag(fc1, "y", fc2, "x")
drag(fc2, "y", loss, "input")
def param(bid, name):
    return next(b for b in state()["blocks"] if b["id"] == bid)["params"][name]
def type_into(field, text, leave):
    bid, name = field.split(".", 1)
    if state()["fields"][field][2] == 0:  # its block's row in the Network pane is folded: open it
        row = state()["tree"][bid]
        click([row[0], row[1], 30, row[3]], done=lambda s: s["fields"][field][2] > 0)
        time.sleep(0.8)
    for _ in range(4):
        rect = state()["fields"][field]
        at(rect[0] + rect[2] / 2, rect[1] + rect[3] / 2)
        xdo("click", "1")
        time.sleep(0.4)
        xdo("key", "--window", wid, "ctrl+a")
        xdo("type", "--delay", "60", text)
        leave()
        try:
            return poll(lambda s: str(param(bid, name)) == text, 6)
        except SystemExit:
            continue
    raise SystemExit(f"{field} never took {text!r}; field at {state()['fields'].get(field)}")
canvas = state()["widgets"]["canvas"]
type_into(f"{fc1}.out_features", "32", lambda: xdo("key", "--window", wid, "Tab"))
type_into(f"{fc2}.out_features", "10",
          lambda: (at(canvas["x"] + 20, canvas["y"] + canvas["h"] - 20), xdo("click", "1")))
s = poll(lambda s: s["validated"], 60)
time.sleep(1.0)
print(json.dumps(state()))
editor.terminate()
editor.wait(30)
'''


def test_scenario_a_start_by_real_input_from_a_bare_editor(tmp_path):
    dump = tmp_path / "state.json"
    env = {**os.environ, "DPG_BLOCKS_USER_DIR": str(tmp_path / "user"), "DPG_BLOCKS_STATE_DUMP": str(dump)}
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", sys.executable, "-c", SCRIPT, str(dump)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=170, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stdout[-1500:] + out.stderr[-3000:]
    s = json.loads(out.stdout.strip().splitlines()[-1])
    names = {b["type"] for b in s["blocks"]}
    assert len(s["blocks"]) == 4 and names == {"builtin.Input", "builtin.Linear", "builtin.CrossEntropyLoss"}
    assert len(s["links"]) == 3
    sizes = sorted(b["params"]["out_features"] for b in s["blocks"] if b["type"] == "builtin.Linear")
    assert sizes == [10, 32]  # kept after Tab and after a click elsewhere
    c = s["widgets"]["canvas"]
    for n in s["nodes"].values():  # every block visible without panning
        assert c["x"] <= n["x"] and n["x"] + n["w"] <= c["x"] + c["w"], (n, c)
        assert c["y"] <= n["y"] and n["y"] + n["h"] <= c["y"] + c["h"], (n, c)
