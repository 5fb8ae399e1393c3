"""Scenario A's start by real input (xdotool under Xvfb) from a bare ``dpg-blocks``: blocks added
with the Blocks menu's "+", wired by dragging pins, sizes typed and left by Tab and by a click
elsewhere. The script aims and checks through the editor's state dump (``DPG_BLOCKS_STATE_DUMP``,
ui/state/dump.py), polling with generous deadlines instead of fixed sleeps."""

from __future__ import annotations

import json
import shutil

import pytest
from real_input import run_script
from ui_fixtures import needs_xvfb

pytestmark = [needs_xvfb, pytest.mark.skipif(shutil.which("xdotool") is None, reason="needs xdotool")]

SCRIPT = r'''
import json, sys
from real_input import Driver, xdo
ed = Driver(sys.argv[1])
ed.wait_ready()
data = ed.add("builtin.Input")
fc1 = ed.add("builtin.Linear", "Fully")
fc2 = ed.add("builtin.Linear", "Fully")
loss = ed.add("builtin.CrossEntropyLoss", "Cross")
ed.drag(data, "x", fc1, "x")
ed.drag(fc1, "y", fc2, "x")
ed.drag(fc2, "y", loss, "input")
canvas = ed.state()["widgets"]["canvas"]
ed.type_into(f"{fc1}.out_features", "32", lambda: ed.key("Tab"))
ed.type_into(f"{fc2}.out_features", "10",
             lambda: (ed.at(canvas["x"] + 20, canvas["y"] + canvas["h"] - 20), xdo("click", "1")))
ed.poll(lambda s: s["validated"], 60, "validation")
print(json.dumps(ed.poll(lambda s: s["validated"], 5)))
ed.close()
'''


def test_scenario_a_start_by_real_input_from_a_bare_editor(tmp_path):
    out = run_script(SCRIPT, tmp_path, timeout=170)
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
