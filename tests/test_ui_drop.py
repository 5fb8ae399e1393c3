"""Files dropped on the editor window from the desktop, as a file manager drops them (an XDND
source written with python-xlib, tests/xdnd_source.py, under Xvfb): a ``.dpgb`` opens, a CSV
dropped on its Input becomes that Input's data, a plugin folder asks "Install plugin …?" and,
answered Install by a real click (xdotool), loads live into the Blocks menu; a file of another
kind says in the status line what is accepted. One editor launch; the script aims and checks
through the state dump (``DPG_BLOCKS_STATE_DUMP``) as tests/test_ui_real_scenario_a.py does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ui_fixtures import DIGITS_CSV, EXAMPLES, needs_xvfb

pytest.importorskip("Xlib", reason="needs python-xlib (a test dependency: pip install -e '.[dev]')")
pytestmark = [needs_xvfb, pytest.mark.skipif(shutil.which("xdotool") is None, reason="needs xdotool")]

PLUGIN = '''from dpg_blocks.blocks import In, Out, block


@block("droppack.Twice", category="Dropped", name="Twice")
class Twice:
    """Doubles its input."""
    x = In("tensor")
    y = Out("tensor")

    def build(self, ctx):
        from torch import nn

        class M(nn.Module):
            def forward(self, x):
                return 2 * x

        return M()
'''

SCRIPT = r'''
import json, subprocess, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])  # tests/: the XDND source
from xdnd_source import drop_files
dump_path, work = sys.argv[1], Path(sys.argv[3])
editor = subprocess.Popen([sys.executable, "-m", "dpg_blocks"])
def xdo(*args):
    return subprocess.run(["xdotool", *args], capture_output=True, text=True).stdout.strip()
def state():
    try:
        return json.loads(open(dump_path).read())
    except (OSError, ValueError):
        return {}
def poll(pred, what, seconds=30):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        s = state()
        if s and pred(s):
            return s
        time.sleep(0.3)
    raise SystemExit(f"timed out waiting for {what}; status {state().get('status')!r}")
def centre(rect):
    return int(rect[0] + rect[2] / 2), int(rect[1] + rect[3] / 2)
def drop(paths, x, y):
    xdo("mousemove", "--window", wid, str(x), str(y))  # a real drag ends with the pointer there
    time.sleep(0.3)
    drop_files(int(wid), [Path(p) for p in paths], x, y)
end = time.monotonic() + 60
wid = ""
while not wid and time.monotonic() < end:
    time.sleep(0.5)
    wid = xdo("search", "--name", "dpg-blocks").split("\n")[0]
s = poll(lambda s: "ready" in s["engine"] and s["buttons"], "the engine's catalog", 60)
canvas = s["widgets"]["canvas"]
cx, cy = canvas["x"] + canvas["w"] // 2, canvas["y"] + canvas["h"] // 2

# a project: it opens (nothing unsaved, so no prompt)
drop([work / "digits.dpgb"], cx, cy)
s = poll(lambda s: s["path"].endswith("digits.dpgb") and s["blocks"], "the dropped project to open")
data = next(b["id"] for b in s["blocks"] if b["type"] == "builtin.Input")
s = poll(lambda s: s["nodes"].get(data, {}).get("w", 0) > 0, "the Input's node to be drawn")
n = s["nodes"][data]

# a CSV on that Input: its data
drop([work / "few_digits.csv"], int(n["x"] + n["w"] / 2), int(n["y"] + 12))
def input_path(s):
    return next(b for b in s["blocks"] if b["id"] == data)["params"].get("path")
s = poll(lambda s: input_path(s) == "few_digits.csv", "the CSV to become the Input's data")

# something else: the status line says what is accepted
drop([work / "notes.txt"], cx, cy)
s = poll(lambda s: "notes.txt" in s["status"] and ".dpgb" in s["status"], "the not-accepted message")
refused = s["status"]

# a plugin folder: the prompt, answered Install by a click
drop([work / "droppack"], cx, cy)
s = poll(lambda s: s["install_prompt"]["shown"] and s["install_prompt"]["install"][2] > 0, "the install prompt")
prompt = s["install_prompt"]
for _ in range(4):
    x, y = centre(state()["install_prompt"]["install"])
    xdo("mousemove", "--window", wid, str(x), str(y))
    time.sleep(0.3)
    xdo("click", "1")
    try:
        poll(lambda s: not s["install_prompt"]["shown"], "the prompt to close", 5)
        break
    except SystemExit:
        continue
s = poll(lambda s: "droppack.Twice" in s["buttons"], "the plugin's block in the Blocks menu", 60)

xdo("key", "--window", wid, "ctrl+s")
poll(lambda s: "saved" in s["status"].lower() or "few_digits" in (work / "digits.dpgb").read_text(), "the save")
time.sleep(0.5)
print(json.dumps({"prompt": prompt, "refused": refused, "buttons": sorted(s["buttons"])}))
editor.terminate()
editor.wait(30)
'''


def test_dropping_a_project_a_csv_and_a_plugin_folder_on_the_window(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(EXAMPLES / "mlp_digits.dpgb", work / "digits.dpgb")  # its CSV path no longer resolves
    lines = DIGITS_CSV.read_text().splitlines()
    (work / "few_digits.csv").write_text("\n".join(lines[:201]) + "\n")
    (work / "notes.txt").write_text("not a project\n")
    (work / "droppack").mkdir()
    (work / "droppack" / "__init__.py").write_text(PLUGIN)
    user = tmp_path / "user"
    dump = tmp_path / "state.json"
    env = {**os.environ, "DPG_BLOCKS_USER_DIR": str(user), "DPG_BLOCKS_STATE_DUMP": str(dump)}
    tests_dir = str(Path(__file__).parent)
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", sys.executable, "-c", SCRIPT, str(dump), tests_dir,
           str(work)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=170, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stdout[-1500:] + out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])

    assert result["prompt"]["question"].startswith("Install plugin 'droppack' into your plugin folder?")
    assert "droppack.Twice" in result["prompt"]["contents"] and "__init__.py" in result["prompt"]["contents"]
    assert (user / "plugins" / "droppack" / "__init__.py").read_text() == PLUGIN  # installed, then loaded live
    assert "droppack.Twice" in result["buttons"]
    assert "not opened: notes.txt" in result["refused"] and ".csv" in result["refused"]

    saved = json.loads((work / "digits.dpgb").read_text())
    inputs = [b for b in saved["graph"]["blocks"] if b["type"] == "builtin.Input"]
    assert [b["params"]["path"] for b in inputs] == ["few_digits.csv"]  # relative to the project
