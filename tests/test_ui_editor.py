"""The editor driven through its own widgets' callbacks, without a viewport or an engine.

Validation results are fed in as the engine would send them; the canvas, tree, Debug pane and
status bar are read back from the widgets.
"""

from __future__ import annotations

import json
from pathlib import Path

import dearpygui.dearpygui as dpg
from ui_fixtures import EXAMPLES, builtin_catalog, click, enter

from dpg_blocks.core import dumps, load_project
from dpg_blocks.ui.editor.app import Editor, find_block


def add(editor: Editor, type_id: str) -> str:
    """Press "+" beside ``type_id`` in the Blocks menu; the new block's id."""
    before = set(editor.state.project.graph.blocks)
    click(editor.blocks_menu.add_buttons[type_id])
    (new,) = set(editor.state.project.graph.blocks) - before
    return new


def drag_link(editor: Editor, src: tuple[str, str], dst: tuple[str, str]) -> None:
    """What the node editor reports when the user drags from an output pin to an input pin."""
    a = editor.canvas.nodes[src[0]].attrs[("out", src[1])]
    b = editor.canvas.nodes[dst[0]].attrs[("in", dst[1])]
    click(editor.canvas.editor, (a, b))


def test_the_blocks_menu_lists_the_catalog_by_category_and_searches(editor):
    assert "builtin.Linear" in editor.blocks_menu.add_buttons
    assert "builtin.Input" in editor.blocks_menu.add_buttons
    enter(editor.blocks_menu.search, "conv")
    assert set(editor.blocks_menu.add_buttons) == {"builtin.Conv1d", "builtin.Conv2d", "builtin.ConvTranspose2d"}
    enter(editor.blocks_menu.search, "")
    assert len(editor.blocks_menu.add_buttons) == len(builtin_catalog())


def test_plus_adds_blocks_left_to_right_and_links_go_through_the_core(editor):
    data = add(editor, "builtin.Input")
    fc = add(editor, "builtin.Linear")
    st = editor.state
    assert st.block(fc).pos[0] > st.block(data).pos[0]
    assert set(editor.canvas.nodes) == {data, fc}
    drag_link(editor, (data, "x"), (fc, "x"))
    assert len(st.project.graph.links) == 1 and len(editor.canvas.links) == 1
    # A second driver for the same input is refused by the core, with its reason shown.
    drag_link(editor, (data, "y"), (fc, "x"))
    assert len(st.project.graph.links) == 1
    assert "already has an input" in dpg.get_value(editor.status_text)


def test_delete_removes_links_first_and_undo_redo_restore_the_canvas(editor):
    data, fc, loss = add(editor, "builtin.Input"), add(editor, "builtin.Linear"), add(editor, "builtin.CrossEntropyLoss")
    drag_link(editor, (data, "x"), (fc, "x"))
    drag_link(editor, (fc, "y"), (loss, "input"))
    saved = dumps(editor.state.project)
    editor.state.select([fc])
    assert editor.canvas.delete_selected()
    assert fc not in editor.canvas.nodes and not editor.canvas.links
    editor.state.undo()
    assert dumps(editor.state.project) == saved
    assert fc in editor.canvas.nodes and len(editor.canvas.links) == 2
    editor.state.redo()
    assert fc not in editor.canvas.nodes and not editor.canvas.links


def test_a_drag_is_recorded_as_one_move_when_the_mouse_is_released(editor):
    fc = add(editor, "builtin.Linear")
    node = editor.canvas.nodes[fc].node
    dpg.set_item_pos(node, [333.0, 444.0])  # what imnodes does while the user drags
    assert editor.canvas.record_moves()
    assert editor.state.block(fc).pos == (333.0, 444.0)
    assert not editor.canvas.record_moves()  # nothing moved since
    editor.state.undo()
    assert tuple(dpg.get_item_pos(node)) != (333, 444)


def test_validation_colours_the_canvas_and_fills_the_debug_pane(editor):
    st = editor.state
    st.open(str(EXAMPLES / "mlp_digits_unflattened.dpgb"))
    fc1, fc2 = find_block(st, "FC1"), find_block(st, "FC2")
    st.validation_sent(1)
    st.validation_result(1, [
        {"id": fc1, "name": "FC1", "type": "builtin.Linear", "path": ["FC1"], "status": "error",
         "error_type": "ValueError", "message": "got shape (4, 1, 8, 8); flatten to get (4, 64)",
         "traceback": "Traceback…", "inputs": [{"port": "x", "shape": [4, 1, 8, 8], "dtype": "float32"}],
         "outputs": [], "failing_path": []},
        {"id": fc2, "name": "FC2", "type": "builtin.Linear", "path": ["FC2"], "status": "upstream-error",
         "error_type": "", "message": "not processed", "traceback": "", "inputs": [], "outputs": [],
         "failing_path": []},
    ], ok=False)
    canvas = editor.canvas
    assert canvas.nodes[fc1].theme == editor.themes.failing_node
    assert canvas.nodes[fc2].theme == editor.themes.plain_node and canvas.nodes[fc2].pin_theme == editor.themes.upstream_pin
    assert dpg.get_value(canvas.nodes[fc1].labels[("in", "x")]) == "x  4×1×8×8"
    st.select([fc1])
    text = editor.debug.text()
    assert "error (ValueError)" in text and "(4, 1, 8, 8)" in text and "(4, 64)" in text
    assert "x: 4×1×8×8  float32" in text


def test_a_stale_validation_result_is_never_shown(editor):
    st = editor.state
    fc = add(editor, "builtin.Linear")
    st.validation_sent(5)
    stale = [{"id": fc, "name": "x", "type": "builtin.Linear", "path": ["x"], "status": "error",
              "inputs": [], "outputs": []}]
    assert not st.validation_result(4, stale, ok=False)
    assert editor.canvas.nodes[fc].theme == editor.themes.plain_node  # not red
    assert st.validation_result(5, [], ok=True)


def test_merge_rename_expand_from_the_context_menu_and_the_tree(editor):
    st = editor.state
    st.open(str(EXAMPLES / "mlp_digits.dpgb"))
    before = dumps(st.project)
    fcs = [find_block(st, f"FC{i}") for i in range(1, 6)]
    st.select(fcs)
    sb = editor.merge_selected()
    assert sb is not None and set(editor.canvas.nodes) == set(st.project.graph.blocks)
    assert "SuperBlock · 5 blocks" == dpg.get_value(editor.canvas.nodes[sb].info)
    editor.rename_dialog()
    enter(editor.rename_input, "Backbone")
    assert st.block(sb).name == "Backbone"
    # The Network Menu shows the SuperBlock as a branch over its five children.
    assert dpg.get_item_label(editor.tree.labels[sb]) == "Backbone"
    assert all(dpg.get_item_parent(editor.tree.labels[f]) is not None for f in fcs)
    assert find_block(st, "Backbone/FC3") == fcs[2]
    st.undo()
    st.undo()
    assert dumps(st.project) == before
    st.redo()
    st.redo()
    st.select([sb])
    assert editor.expand_selected()
    assert set(fcs) <= set(editor.canvas.nodes)


def test_parameters_are_edited_in_the_network_menu_as_undoable_edits(editor):
    st = editor.state
    fc = add(editor, "builtin.Linear")
    enter(editor.tree.widgets[(fc, "out_features")], 32)
    click(editor.tree.widgets[(fc, "flatten_input")], True)
    assert st.block(fc).params["out_features"] == 32 and st.block(fc).params["flatten_input"] is True
    enter(editor.tree.widgets[(fc, "out_features")], 0)  # below the declared minimum: refused
    assert st.block(fc).params["out_features"] == 32 and "must be >=" in st.status
    st.undo()
    assert st.block(fc).params["flatten_input"] is False
    assert dpg.get_value(editor.tree.widgets[(fc, "flatten_input")]) is False


def test_a_broken_file_is_reported_in_a_dialog_and_the_project_stays(editor, tmp_path):
    st = editor.state
    st.open(str(EXAMPLES / "mlp_digits.dpgb"))
    before = dumps(st.project)
    bad = tmp_path / "bad.dpgb"
    bad.write_text('{"format": 1, "name": "x", "graph": {"blocks": [{"id": 3}]}}')
    assert not editor.controls.open(str(bad))
    assert dpg.is_item_shown(editor.controls.error_window)
    assert "bad.dpgb" in dpg.get_value(editor.controls.error_text)
    assert dumps(st.project) == before


def test_save_marks_clean_and_reopening_gives_the_same_project(editor, tmp_path):
    st = editor.state
    add(editor, "builtin.Input")
    assert st.title.startswith("untitled *")
    target = tmp_path / "mine"
    assert editor.controls.save_to(str(target))
    assert st.path == str(Path(f"{target}.dpgb").resolve()) and " *" not in st.title
    assert dumps(load_project(st.path)) == dumps(st.project)
    assert json.loads(Path(st.path).read_text())["format"] == 1


def test_a_bug_in_a_pane_is_reported_and_the_editor_and_the_work_survive(editor, monkeypatch, capsys):
    from dpg_blocks.ui.editor import app
    st = editor.state
    assert editor.controls.open(str(EXAMPLES / "mlp_digits.dpgb"))
    fc1 = find_block(st, "FC1")
    st.rename(fc1, "first")  # unsaved work

    def broken() -> None:
        raise KeyError("boom")

    monkeypatch.setattr(editor.canvas, "poll", broken)
    # A queued callback that fails does not stop the ones queued after it.
    ran = []
    queue = [[lambda: 1 / 0], [lambda s: ran.append(s), "second job"]]
    monkeypatch.setattr(app.dpg, "get_callback_queue", lambda: queue)
    editor.frame()
    editor.frame()
    assert ran == ["second job", "second job"]
    assert editor.internal_errors == 4
    assert "internal error in" in st.status and "KeyError" in st.status
    assert "Traceback" in capsys.readouterr().err
    # The unsaved rename went to the recovery file.
    from dpg_blocks.ui.state.recovery import recovery_dir

    assert any(recovery_dir().glob("*.dpgb"))
    assert st.block(fc1).name == "first"


def test_file_open_example_lists_the_shipped_examples_and_opens_one(editor):
    from dpg_blocks.core.assets import examples_dir

    items = {dpg.get_item_label(i): i for i in dpg.get_all_items()
             if dpg.get_item_type(i).endswith("MenuItem") and dpg.get_item_user_data(i)
             and str(dpg.get_item_user_data(i)).startswith(str(examples_dir()))}
    assert {"mlp_digits", "dann_digits", "gan_digits"} <= set(items)
    click(items["gan_digits"])
    assert editor.state.path == str(EXAMPLES / "gan_digits.dpgb")
    assert find_block(editor.state, "Generator") is not None


def test_the_menu_bar_holds_only_the_menus_and_the_status_line(editor):
    # A menu item built outside its `with dpg.menu` lands in the bar itself (it happened once).
    kids = dpg.get_item_children(editor.menu_bar, 1)
    kinds = [dpg.get_item_type(k).split("::")[-1] for k in kids]
    assert "mvMenuItem" not in kinds
    assert [dpg.get_item_label(k) for k in kids if kinds[kids.index(k)] == "mvMenu"] == ["File", "Edit", "View", "Canvas", "Help"]
    file_menu = next(k for k in kids if dpg.get_item_label(k) == "File")
    file_items = [dpg.get_item_label(k) for k in dpg.get_item_children(file_menu, 1)]
    assert {"New", "Open…", "Open Recent", "Open Example", "Save", "Save As…", "Quit"} <= set(file_items)


def test_renaming_a_block_keeps_the_network_tree_as_the_user_left_it(editor):
    st = editor.state
    st.open(str(EXAMPLES / "mlp_digits.dpgb"))
    fc2, fc3 = find_block(st, "FC2"), find_block(st, "FC3")
    node = editor.tree.labels[fc3]
    dpg.set_value(node, True)  # the user opened FC3's branch to edit it
    enter(editor.tree.name_fields[fc2], "hidden")
    assert st.block(fc2).name == "hidden"
    # Relabelled in place: the same rows, FC3 still open (a rebuild collapsed everything and
    # the next click landed on a row that had moved).
    assert editor.tree.labels[fc3] == node and dpg.get_value(node) is True
    assert dpg.get_item_label(editor.tree.labels[fc2]) == "hidden"
    st.undo()
    assert dpg.get_value(editor.tree.name_fields[fc2]) == "FC2"
    assert st.history.can_redo
    enter(editor.tree.name_fields[fc2], "FC2")  # committing an unchanged name is no edit:
    assert st.history.can_redo  # a new edit would have cleared the redo step
    assert st.block(fc2).name == "FC2"


def test_the_status_says_paused_while_paused_and_new_leaves_nothing_of_the_old_run(editor):
    st = editor.state
    st.open(str(EXAMPLES / "mlp_digits.dpgb"))
    st.set_engine("training")
    st.training.state = "running"
    st.training.epochs.append({"epoch": 1, "loss": 1.2, "test_accuracy": 0.5})
    st.emit("training")
    assert st.engine_text == "engine training"
    st.training.state = "paused"
    st.emit("training")
    assert st.engine_text == "engine paused" and dpg.get_value(editor.engine_text) == "engine paused"
    st.new()
    assert st.training.state == "idle" and not st.training.epochs
    assert dpg.get_value(editor.results.state_text) == "not trained"
    assert st.status.startswith("new project")


def test_a_refused_link_names_the_blocks_not_their_ids(editor):
    st = editor.state
    st.open(str(EXAMPLES / "mlp_digits.dpgb"))
    fc1, fc2 = find_block(st, "FC1"), find_block(st, "FC2")
    assert not st.connect((fc2, "y"), (fc1, "x"))  # FC1's input is already driven (and it is a cycle)
    assert "FC1" in st.status and "FC2" in st.status
    assert fc1 not in st.status.replace("FC1", "") and fc2 not in st.status.replace("FC2", "")


def test_an_empty_project_offers_the_examples_until_it_has_a_block(editor):
    """A bare `dpg-blocks` showed an empty grid; the examples were two menus deep."""
    w = editor.welcome
    assert w.wanted() and set(w.buttons) >= {"mlp_digits", "dann_digits", "gan_digits"}
    assert "John's digits classifier" in dpg.get_item_label(w.buttons["mlp_digits"])
    add(editor, "builtin.Linear")
    assert not w.wanted()
    editor.state.undo()
    assert w.wanted()
    click(w.buttons["mlp_digits"])
    assert editor.state.path == str(EXAMPLES / "mlp_digits.dpgb") and not w.wanted()
