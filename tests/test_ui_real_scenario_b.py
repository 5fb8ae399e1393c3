"""Scenario B (DANN, the paper's use case) by real input (xdotool under Xvfb) from a bare
``dpg-blocks``, its first part: three convolutions added from the Blocks menu, wired, box-selected
and merged into a SuperBlock *before* anything feeds it; two Inputs given the digits and the
shifted digits CSV with the right-click menu's Add Data… (the path typed, Enter); their reshape
typed in the Network pane (scrolled and folded as a user does); a Concat along the batch; all
wired and validated; then a Copy of the features and a Custom block whose backward is typed in
its code window (double-click, Return for each new line, Ctrl+Enter) as the negated gradient,
with its gradient scale set to 1 so validation checks it is the reversal. Aimed and checked
through the editor's state dump (tests/real_input.py), every wait a poll with a generous
deadline. The second half (heads, both losses, one epoch trained, Save, the CLI's losses) is
tests/test_ui_real_scenario_b_heads.py, which starts from the shipped DANN example's first half;
this test checks that what a user builds here is that first half's top level, link for link
(the example's Feature Extractor adds a ReLU after each convolution)."""

from __future__ import annotations

import json
import shutil

import pytest
from real_input import run_script
from ui_fixtures import ROOT, needs_xvfb

pytestmark = [needs_xvfb, pytest.mark.skipif(shutil.which("xdotool") is None, reason="needs xdotool")]
DATA = ROOT / "assets" / "data"

SCRIPT = r'''
import json, sys, time
from real_input import Driver, middle, xdo
ed = Driver(sys.argv[1])
data_dir = sys.argv[2]
def step(text):
    print("step:", text, flush=True)
ed.wait_ready()

def add_data(bid, file):
    ed.menu_entry(bid, "Add Data…", done=lambda s: s["data_dialog"])
    path = f"{data_dir}/{file}"
    for _ in range(3):
        ed.poll(lambda s: s["data_field"][2] > 0, 10, "the path field drawn")
        if not ed.state()["data_field_active"]:  # the dialog gives its path field the keyboard, or a click does
            ed.click(ed.state()["data_field"], done=lambda s: s["data_field_active"], what="the path field focused")
        ed.key("ctrl+a")
        ed.type(path)
        ed.key("Return")
        try:
            return ed.poll(lambda s: str(ed.block(bid)["params"]["path"]).endswith(file), 20, f"{file} loaded")
        except SystemExit:
            continue
    raise SystemExit(f"Add Data… never loaded {file}: {ed.state().get('data_error')!r}")

step("the feature extractor: three convolutions, box-selected and merged")
convs = [ed.add("builtin.Conv2d", "Conv2") for _ in range(3)]
ed.drag(convs[0], "y", convs[1], "x")
ed.drag(convs[1], "y", convs[2], "x")
ed.box_select(convs)
s = ed.menu_entry(convs[1], "Merge selected into a SuperBlock", done=lambda s: len(s["blocks"]) == 1)
fe = s["blocks"][0]["id"]

step("two Inputs with Add Data…")
src = ed.add("builtin.Input")
add_data(src, "digits.csv")
tgt = ed.add("builtin.Input")
add_data(tgt, "digits_shifted.csv")
for bid in (src, tgt):
    ed.type_into(f"{bid}.reshape", "1, 8, 8", kept=lambda v: v == [1, 8, 8])
    ed.fold_row(bid, f"{bid}.reshape")
concat = ed.add("builtin.Concat")
ed.type_into(f"{concat}.dim", "0")
ed.drag(src, "x", concat, "x1")
ed.drag(tgt, "x", concat, "x2")
fe_in = next(k for k in ed.state()["pins"][fe] if k.startswith("in:"))[3:]
ed.drag(concat, "y", fe, fe_in)
ed.poll(lambda s: s["validated"] and s["records"].get(fe) == "ok", 60, "the feature extractor validated")

step("Copy, and a Custom block whose backward is typed in its code window: gradient reversal")
fe_out = next(k for k in ed.state()["pins"][fe] if k.startswith("out:"))[4:]
copy = ed.add("builtin.Copy")
ed.drag(fe, fe_out, copy, "x")
grl = ed.add("builtin.Custom")
ed.drag(copy, "y2", grl, "x")
for _ in range(4):  # a double-click on the node opens its code window
    ed.at(*middle(ed.title(grl)))
    time.sleep(0.3)
    xdo("click", "--repeat", "2", "--delay", "80", "1")
    try:
        ed.poll(lambda s: s["code"].get("shown") and s["code"]["backward"]["w"] > 0, 6, "the code window")
        break
    except SystemExit:
        continue
back = ed.state()["code"]["backward"]
ed.click([back["x"] + 40, back["y"] + 4, 40, 12], done=lambda s: s["typing"], what="the backward buffer focused")
ed.type("def backward(ctx, grad_y):\n    return -grad_y\n")
ed.key("ctrl+Return")
ed.poll(lambda s: "return -grad_y" in ed.block(grl)["params"]["code"], 20, "the typed backward applied")
# a backward that reverses the gradient on purpose says by how much: validation then checks it is
# -1 x the true gradient (with 0, it must be the true gradient, and the Debug pane says it is not)
ed.key("Escape")  # the code window closes
ed.type_into(f"{grl}.gradient_scale", "1", kept=lambda v: v == 1.0)
ed.poll(lambda s: s["validated"] and s["records"].get(grl) in ("ok", "idle", "error"), 90, "the gradient reversal validated")
print(json.dumps(ed.state()))
ed.close()
'''


def wiring(blocks: dict[str, str], links: list[tuple[str, str, str, str]]) -> list[tuple[str, str, str, str]]:
    """Links as (type.port -> type.port); a SuperBlock's ports are named by merge, so only its type counts."""
    def end(bid: str, port: str) -> str:
        return blocks[bid] if blocks[bid] == "core.SuperBlock" else f"{blocks[bid]}.{port}"
    return sorted((end(a, pa), end(b, pb)) for a, pa, b, pb in links)


def test_scenario_b_start_by_real_input_from_a_bare_editor(tmp_path):
    out = run_script(SCRIPT, tmp_path, str(DATA), timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    s = json.loads(out.stdout.strip().splitlines()[-1])
    types = sorted(b["type"] for b in s["blocks"])
    assert types == ["builtin.Concat", "builtin.Copy", "builtin.Custom", "builtin.Input", "builtin.Input",
                     "core.SuperBlock"], types
    code = next(b["params"]["code"] for b in s["blocks"] if b["type"] == "builtin.Custom")
    assert "def backward(ctx, grad_y):\n    return -grad_y" in code, code
    paths = sorted(str(b["params"]["path"]) for b in s["blocks"] if b["type"] == "builtin.Input")
    assert [p.rsplit("/", 1)[-1] for p in paths] == ["digits.csv", "digits_shifted.csv"], paths
    assert all(b["params"]["reshape"] == [1, 8, 8] for b in s["blocks"] if b["type"] == "builtin.Input")
    grl = next(b["id"] for b in s["blocks"] if b["type"] == "builtin.Custom")
    assert len(s["links"]) == 5 and s["records"][grl] != "error", (s["records"], s["debug"])
    assert s["records"][next(b["id"] for b in s["blocks"] if b["type"] == "core.SuperBlock")] == "ok"

    # what was built is the shipped example's first half, where the second half's test starts
    from test_ui_real_scenario_b_heads import FIRST_HALF
    doc = json.loads((ROOT / "assets" / "examples" / "dann_digits.dpgb").read_text(encoding="utf-8"))
    example = {b["id"]: b["type"] for b in doc["graph"]["blocks"] if b["id"] in FIRST_HALF}
    example_links = [(ln["src"][0], ln["src"][1], ln["dst"][0], ln["dst"][1]) for ln in doc["graph"]["links"]
                     if ln["src"][0] in example and ln["dst"][0] in example]
    built = {b["id"]: b["type"] for b in s["blocks"]}
    built_links = [(*a.split(".", 1), *b.split(".", 1)) for a, b in s["links"]]
    assert wiring(built, built_links) == wiring(example, example_links)
    example_grl = next(b for b in doc["graph"]["blocks"] if b["id"] == "b18")
    assert example_grl["params"]["gradient_scale"] == 1.0
