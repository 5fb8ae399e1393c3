"""Keys typed into a pane's text field are text, not shortcuts (real input under Xvfb): with a
block selected, Backspace and Delete in the Blocks menu's search edit the search and leave the
block alone (they used to delete it: the focused item was the pane, so "not typing")."""

from __future__ import annotations

import json
import shutil

import pytest
from real_input import run_script
from ui_fixtures import needs_xvfb

pytestmark = [needs_xvfb, pytest.mark.skipif(shutil.which("xdotool") is None, reason="needs xdotool")]

SCRIPT = r'''
import json, sys, time
from real_input import Driver
ed = Driver(sys.argv[1])
ed.wait_ready()
bid = ed.add("builtin.Input")
ed.poll(lambda s: s["selected"] == [bid], 10, "the new block selected")
s = ed.click(ed.state()["search"], done=lambda s: s["search_active"], what="the search field focused")
ed.type("relu")
ed.poll(lambda s: s["buttons"].get("builtin.Input", [0, 0, 0, 0])[2] == 0, 10, "the search filtering")
for key in ("BackSpace", "BackSpace", "Delete", "Home", "BackSpace"):
    ed.key(key)
ed.poll(lambda s: s["buttons"].get("builtin.Input", [0, 0, 0, 0])[2] == 0, 5, "the search still filtering")
time.sleep(1.0)  # what a shortcut would have done shows in the next dump
print(json.dumps(ed.state()))
ed.close()
'''


def test_backspace_and_delete_in_the_blocks_search_do_not_delete_the_selected_block(tmp_path):
    out = run_script(SCRIPT, tmp_path, timeout=150)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    s = json.loads(out.stdout.strip().splitlines()[-1])
    assert [b["type"] for b in s["blocks"]] == ["builtin.Input"], s["status"]
