"""The Custom block's code window: typed code, Apply as one undoable edit, errors at their line,
the trust the typed code gets, and the Network pane following the document."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import dearpygui.dearpygui as dpg
import pytest
from test_ui_projects import untrusted_dann
from ui_fixtures import EXAMPLES, ROOT, builtin_catalog, click, gui_context, needs_xvfb, wait_for

from dpg_blocks.core import dumps
from dpg_blocks.core.user.trust import TrustStore, code_digest
from dpg_blocks.ui.code.window import code_summary, join_code, split_code
from dpg_blocks.ui.editor.app import Editor, find_block
from dpg_blocks.ui.state.editor_state import EditorState

WORKING = "def forward(ctx, x):\n    y = x * 2\n    return y\n"
BROKEN = "def forward(ctx, x):\n    y = x * 2\n    return y +\n"  # line 3: invalid syntax
REVERSAL = "def backward(ctx, grad_y):\n    return -ctx.gradient_scale * grad_y\n"


def add_custom(editor: Editor) -> str:
    """Press "+" beside Custom in the Blocks menu; the new block's id."""
    before = set(editor.state.project.graph.blocks)
    click(editor.blocks_menu.add_buttons["builtin.Custom"])
    (new,) = set(editor.state.project.graph.blocks) - before
    return new


def press(editor: Editor, *keys: int) -> None:
    for key in keys:
        editor._on_key(None, key)


def ctrl_enter(editor: Editor) -> None:
    press(editor, dpg.mvKey_LControl, dpg.mvKey_Return)
    editor.keyboard.on_release(dpg.mvKey_LControl)


def gutter_rows(editor: Editor, which: str) -> list[tuple[str, str]]:
    """The gutter beside a buffer: (kind, label) per row, kind "mark" for the red row."""
    gutter = editor.code_window.forward_gutter if which == "forward" else editor.code_window.backward_gutter
    rows = []
    for item in dpg.get_item_children(gutter, 1) or []:
        kind = dpg.get_item_type(item)
        if kind == "mvAppItemType::mvText":
            rows.append(("text", dpg.get_value(item).strip()))
        elif kind == "mvAppItemType::mvButton":
            rows.append(("mark", dpg.get_item_label(item).strip()))
    return rows


def project_trusted(state: EditorState) -> bool:
    return TrustStore().is_trusted(code_digest(state.code_items()))


def test_the_buffers_split_at_backward_and_join_back_byte_identical():
    source = (EXAMPLES / "dann_digits.dpgb").read_text()
    code = next(b["params"]["code"] for b in _walk(json.loads(source)["graph"]["blocks"]) if b["type"] == "builtin.Custom")
    forward, backward = split_code(code)
    assert forward.startswith("def forward") and backward.startswith("def backward")
    assert forward + backward == code
    assert join_code(WORKING, "") == WORKING
    assert join_code(WORKING, REVERSAL) == WORKING + "\n\n" + REVERSAL  # two blank lines between


def _walk(blocks):
    for b in blocks:
        yield b
        yield from _walk((b.get("graph") or {}).get("blocks", []))


def test_a_custom_block_added_from_the_blocks_menu_is_trusted(editor):
    bid = add_custom(editor)
    assert editor.state.code_items() and project_trusted(editor.state)
    assert editor.state.untrusted_code() is None
    # a second one, and a duplicate of it: still the user's own code
    add_custom(editor)
    editor.state.select([bid])
    assert editor.duplicate()
    assert len(editor.state.code_items()) == 3 and project_trusted(editor.state)


def test_the_window_opens_from_the_tree_the_context_menu_and_a_double_click(editor, monkeypatch):
    bid = add_custom(editor)
    window = editor.code_window
    click(editor.tree.code_buttons[bid])
    assert window.shown and window.block_id == bid
    assert dpg.get_value(window.forward) == dpg.get_value(window.fields["forward"])
    assert "def forward(ctx, x)" in dpg.get_value(window.forward)
    assert dpg.get_value(window.fields["inputs"]) == "x" and dpg.get_value(window.fields["outputs"]) == "y"
    window.close()
    monkeypatch.setattr(editor.canvas, "hovered_block", lambda: bid)
    editor._on_right_click()
    assert dpg.get_item_configuration(editor.code_item)["enabled"]
    click(editor.code_item)
    assert window.shown
    window.close()
    editor._on_double_click()
    assert window.shown and window.block_id == bid
    # a plain block has no code window: the menu item is disabled, a double-click does nothing
    fc = editor.state.add_block("builtin.Linear")
    window.close()
    monkeypatch.setattr(editor.canvas, "hovered_block", lambda: fc)
    editor._on_right_click()
    assert not dpg.get_item_configuration(editor.code_item)["enabled"]
    editor._on_double_click()
    assert not window.shown


def test_apply_sets_code_and_ports_as_one_undoable_edit_and_trusts_the_typed_code(editor):
    st = editor.state
    bid = add_custom(editor)
    before = dumps(st.project)
    window = editor.code_window
    window.open(bid)
    window.set_buffer("forward", "def forward(ctx, x, mask):\n\treturn x * mask\n")  # Tab typed a tab
    window.set_buffer("backward", "def backward(ctx, grad_y):\n    return grad_y, None\n")
    dpg.set_value(window.fields["inputs"], "x, mask")
    dpg.set_value(window.fields["values"], '{"alpha": 0.5}')
    ctrl_enter(editor)
    b = st.block(bid)
    assert b.params["code"] == ("def forward(ctx, x, mask):\n    return x * mask\n\n\n"
                                "def backward(ctx, grad_y):\n    return grad_y, None\n")
    assert b.params["inputs"] == ["x", "mask"] and [p.name for p in b.inputs] == ["x", "mask"]
    assert b.params["values"] == {"alpha": 0.5}
    assert project_trusted(st), "code typed in the editor is the user's own"
    assert not window.modified  # the window shows what was applied
    assert [r for r in gutter_rows(editor, "backward") if r[1]][0] == ("text", "5")  # numbered as the engine reads it
    st.undo()  # one step gives everything back
    assert dumps(st.project) == before
    assert dpg.get_value(window.forward) == split_code(b.params["code"])[0]
    assert dpg.get_value(window.fields["inputs"]) == "x" and not window.modified


def test_a_syntax_error_on_line_3_is_marked_at_line_3_and_undo_brings_the_working_code_back(editor):
    st = editor.state
    bid = add_custom(editor)
    window = editor.code_window
    window.open(bid)
    window.set_buffer("forward", WORKING)
    assert window.apply()
    window.set_buffer("forward", BROKEN)
    assert window.apply()
    # what the engine answers for that code (tests/test_custom_blocks.py checks the engine's side)
    st.validation_sent(7)
    st.validation_result(7, [{"id": bid, "name": "Custom", "type": "builtin.Custom", "path": ["Custom"],
                              "status": "error", "error_type": "SyntaxError", "code_line": 3,
                              "message": "syntax error: invalid syntax (line 3 of the code)",
                              "inputs": [], "outputs": []}], ok=False)
    assert window.marked == ("forward", 3)
    assert gutter_rows(editor, "forward") == [("text", "1"), ("text", "2"), ("mark", "3")]
    assert dpg.get_value(window.forward_error) == "line 3: syntax error: invalid syntax"
    assert editor.canvas.nodes[bid].theme == editor.themes.failing_node  # the block is red
    st.select([bid])
    assert "line 3 of the code" in editor.debug.text()
    st.undo()
    assert st.block(bid).params["code"] == WORKING
    assert dpg.get_value(window.forward) == WORKING


def test_unapplied_typing_survives_close_and_an_undo_elsewhere(editor):
    st = editor.state
    bid = add_custom(editor)
    window = editor.code_window
    window.open(bid)
    window.set_buffer("forward", WORKING)
    window.close()
    window.open(bid)
    assert dpg.get_value(window.forward) == WORKING and window.modified
    st.add_block("builtin.ReLU")
    st.undo()  # the document changes; what the user typed stays
    assert dpg.get_value(window.forward) == WORKING


def test_a_passing_gradient_check_shows_in_the_debug_pane(editor):
    st = editor.state
    bid = add_custom(editor)
    st.select([bid])
    st.validation_sent(3)
    st.validation_result(3, [{"id": bid, "name": "Custom", "type": "builtin.Custom", "path": ["Custom"],
                              "status": "ok", "gradcheck": "passed: backward matches −1 × the numerical gradient",
                              "inputs": [], "outputs": []}], ok=True)
    assert "gradient check passed: backward matches −1 × the numerical gradient" in editor.debug.text()


def test_code_from_another_computer_still_needs_the_prompt_after_typing_in_the_window(editor, tmp_path):
    path, _ = untrusted_dann(tmp_path)
    c = editor.controls
    assert c.open(str(path)) and dpg.is_item_shown(c.trust_window)
    click(c.trust_keep)
    bid = find_block(editor.state, "Gradient Reversal")
    window = editor.code_window
    window.open(bid)
    window.set_buffer("forward", WORKING)
    assert window.apply()
    assert not project_trusted(editor.state)  # typing one block does not vouch for the file's code


def test_reopening_a_project_shows_its_own_code_in_the_network_pane_and_the_window(editor, tmp_path):
    st = editor.state
    bid = add_custom(editor)
    st.set_param(bid, "values", {"alpha": 1})
    first = tmp_path / "first.dpgb"
    st.save(str(first))
    doc = json.loads(first.read_text())
    doc["graph"]["blocks"][0]["params"]["code"] = WORKING + "\n\n" + REVERSAL
    doc["graph"]["blocks"][0]["params"]["values"] = {"alpha": 2}
    second = tmp_path / "second.dpgb"
    second.write_text(json.dumps(doc))
    editor.code_window.open(bid)
    editor.controls.open(str(second))  # the same blocks, other code
    texts = _texts(editor.tree.body)
    assert any("backward(ctx, grad_y)" in t for t in texts), texts
    assert any("'alpha': 2" in t for t in texts) and not any("'alpha': 1" in t for t in texts)
    assert not editor.code_window.shown  # it showed the other project's block
    editor.code_window.open(bid)
    assert dpg.get_value(editor.code_window.backward) == REVERSAL


def _texts(root: int | str) -> list[str]:
    out, stack = [], [root]
    while stack:
        item = stack.pop()
        stack.extend(dpg.get_item_children(item, 1) or [])
        value = dpg.get_value(item)
        if isinstance(value, str):
            out.append(value)
    return out


# -- with a real engine -----------------------------------------------------------------------
@pytest.fixture
def dann_copy(tmp_path: Path) -> Path:
    """The DANN example in a folder of its own, with its data beside it (trusted as shipped)."""
    (tmp_path / "proj").mkdir()
    shutil.copy(EXAMPLES / "dann_digits.dpgb", tmp_path / "proj" / "dann.dpgb")
    shutil.copytree(ROOT / "assets" / "data", tmp_path / "data")
    return tmp_path / "proj" / "dann.dpgb"


def test_gradient_reversal_typed_in_the_window_validates_with_gradcheck_and_trains(dann_copy):
    with gui_context():
        ed = Editor(EditorState(), autosave_s=0)
        ed.start_engine(threads=1)
        try:
            st, window = ed.state, ed.code_window
            assert ed.controls.open(str(dann_copy))
            wait_for(ed, lambda: bool(st.catalog))
            bid = find_block(st, "Gradient Reversal")

            def validated() -> bool:
                v = st.validation
                return bool(v.received) and not v.pending and not ed._validate_wanted and bid in v.records

            assert window.open(bid)
            window.set_buffer("backward", "")  # the user writes the backward from scratch
            assert window.apply()
            wait_for(ed, lambda: validated() and st.record(bid)["status"] == "ok")
            assert not st.record(bid)["gradcheck"]  # no backward: autograd's gradient, nothing to check
            window.set_buffer("backward", REVERSAL)
            ctrl_enter(ed)
            assert st.block(bid).params["code"] == "def forward(ctx, x):\n    return x.view_as(x)\n\n\n" + REVERSAL
            wait_for(ed, lambda: validated() and st.record(bid).get("gradcheck"))
            rec = st.record(bid)
            assert rec["status"] == "ok" and rec["error_type"] != "UntrustedCode"
            assert rec["gradcheck"].startswith("passed: backward matches −0.46")  # −λ_p at p = 0.1
            st.select([bid])
            assert "gradient check passed" in ed.debug.text()
            # a syntax error on line 3: the engine names the line, the window marks it
            window.set_buffer("forward", BROKEN)
            assert window.apply()
            wait_for(ed, lambda: validated() and st.record(bid)["status"] == "error")
            assert st.record(bid)["code_line"] == 3 and window.marked == ("forward", 3)
            assert dpg.get_value(window.forward_error) == "line 3: syntax error: invalid syntax"
            st.undo()
            wait_for(ed, lambda: validated() and st.record(bid)["status"] == "ok")
            assert window.marked is None and dpg.get_value(window.forward).startswith("def forward(ctx, x):")
            # and it trains
            ed.training_command("train")
            wait_for(ed, lambda: st.training.last_step_loss is not None or st.training.state == "failed")
            assert st.training.state != "failed", st.training.reason
            ed.training_command("stop")
        finally:
            ed.close()


# -- rendered -----------------------------------------------------------------------------------
@needs_xvfb
@pytest.mark.skipif(shutil.which("convert") is None, reason="needs ImageMagick's convert to read the PNG")
def test_the_rendered_window_shows_line_3_of_a_broken_forward_in_red(tmp_path):
    from test_ui_render import H, W, read_png, red_share

    st = EditorState()
    st.set_catalog(builtin_catalog())
    st.check_trust()
    data, custom = st.add_block("builtin.Input"), st.add_block("builtin.Custom")
    assert st.connect((data, "x"), (custom, "x"))
    assert st.apply_code(custom, {"code": BROKEN})  # typed by this user: trusted as applied
    project = tmp_path / "broken.dpgb"
    st.save(str(project))
    png, boxes = tmp_path / "shot.png", tmp_path / "boxes.json"
    cmd = ["xvfb-run", "-a", "-s", f"-screen 0 {W}x{H}x24", sys.executable, "-m", "dpg_blocks", "screenshot",
           str(project), "-o", str(png), "--size", f"{W}x{H}", "--code", "Custom", "--boxes", str(boxes)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=150, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    info = json.loads(boxes.read_text())
    code = info["code"]
    assert code["shown"] and code["error"] == "line 3: syntax error: invalid syntax"
    mark = code["marked"]
    img = read_png(str(png))
    row = img[mark["y"]:mark["y"] + mark["h"], mark["x"]:mark["x"] + mark["w"]].reshape(-1, 3)
    above = img[mark["y"] - 2 * mark["h"]:mark["y"] - 2, mark["x"]:mark["x"] + mark["w"]].reshape(-1, 3)
    assert red_share(row) > 0.6  # the gutter's row of line 3 is a red band (its number in white)
    assert red_share(above) < 0.02  # lines 1 and 2 are not
    # level with the buffer's third line: below its top padding (3 px) and two lines of text
    buffer = code["forward"]
    assert abs(mark["y"] - (buffer["y"] + 3 + 2 * mark["h"])) <= 1, (mark, buffer)
    line3 = img[mark["y"]:mark["y"] + mark["h"], buffer["x"]:buffer["x"] + 200].astype(int)
    assert (line3.min(axis=2) > 180).sum() > 20  # "return y +" is drawn on those rows


def test_the_context_menus_add_data_and_edit_code_act_on_the_block_right_clicked(editor, monkeypatch):
    # Several blocks selected (a SuperBlock just merged and an Input added beside it): the menu
    # opened on one of them used to act on the selection's last block instead.
    bid = add_custom(editor)
    inp = editor.state.add_block("builtin.Input")
    other = editor.state.add_block("builtin.Linear")
    for target, item in ((inp, editor.data_item), (bid, editor.code_item)):
        editor.state.select([target, other])
        monkeypatch.setattr(editor.canvas, "hovered_block", lambda target=target: target)
        editor._on_right_click()
        assert editor.state.selected == [target, other]  # a right-click inside the selection keeps it
        click(item)
    assert editor.data.block_id == inp and dpg.is_item_shown(editor.data.window)
    assert editor.code_window.shown and editor.code_window.block_id == bid


def test_an_opaque_module_shows_its_class_on_the_node_and_its_code_as_one_class(editor):
    before = set(editor.state.project.graph.blocks)
    click(editor.blocks_menu.add_buttons["builtin.OpaqueModule"])
    (bid,) = set(editor.state.project.graph.blocks) - before
    assert dpg.get_value(editor.canvas.nodes[bid].info) == "Opaque Module · Gate"
    assert code_summary(editor.state.block(bid).params["code"]) == "class Gate · 11 lines"  # the Network pane's
    window = editor.code_window
    click(editor.tree.code_buttons[bid])
    assert window.shown and window.block_id == bid
    code = editor.state.block(bid).params["code"] + "\n\ndef backward(grad):\n    return grad\n"
    window.set_buffer("forward", code)  # a class's helper named backward is part of the class's code
    assert window.apply() and editor.state.block(bid).params["code"] == code
    window.revert()
    assert dpg.get_value(window.forward) == code and dpg.get_value(window.backward) == ""
    assert not dpg.is_item_shown(window.backward_group)  # no forward(ctx) / backward pair for a class
    assert dpg.is_item_shown(window.help_groups[False]) and not dpg.is_item_shown(window.help_groups[True])
    assert dpg.get_value(window.forward_label) == "the class (and anything it uses)"
    window.close()
    editor.state.select([bid])
    editor.state.set_param(bid, "class_name", "Gated")
    editor.frame()
    assert dpg.get_value(editor.canvas.nodes[bid].info) == "Opaque Module · Gated"
    custom = add_custom(editor)  # a Custom block's window still has both buffers and the ctx help
    click(editor.tree.code_buttons[custom])
    assert dpg.is_item_shown(window.backward_group) and dpg.is_item_shown(window.help_groups[True])
