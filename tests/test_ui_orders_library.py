"""Per-order optimisation in the Optimization pane, the block library in the Blocks menu, and
SuperBlock shapes in the Debug pane — driven through the editor's own widgets' callbacks."""

from __future__ import annotations

import dearpygui.dearpygui as dpg
import pytest
from ui_fixtures import EXAMPLES, builtin_catalog, click, enter, gui_context, wait_for

from dpg_blocks.core import dumps, load_project
from dpg_blocks.core.user.library import library_dir, list_library
from dpg_blocks.ui.editor.app import Editor, find_block
from dpg_blocks.ui.state.editor_state import EditorState

GAN = EXAMPLES / "gan_digits.dpgb"


def widget(editor: Editor, index: int, name: str) -> int:
    """Order ``index``'s widget ``name`` as the pane shows it now (rebuilds replace widgets)."""
    return editor.results.order_widgets[(index, name)]


# -- per-order optimisation ----------------------------------------------------------------------
def test_changing_order_2s_optimizer_changes_only_order_2_and_undo_shows_it_back(editor):
    st = editor.state
    st.open(str(GAN))
    before = dumps(st.project)
    order1 = st.project.order(1).to_dict()
    assert dpg.get_value(widget(editor, 2, "type")) == "adam"
    assert (2, "momentum") not in editor.results.order_widgets  # SGD-only field, hidden for Adam

    enter(widget(editor, 2, "type"), "sgd")
    assert st.project.order(2).optimizer.type == "sgd"
    assert st.project.order(1).to_dict() == order1
    assert dpg.get_value(widget(editor, 2, "momentum")) == pytest.approx(0.9)  # now it applies
    enter(widget(editor, 2, "lr"), 0.002)
    assert st.project.order(2).optimizer.lr == 0.002  # exactly: a double widget, not float32
    assert st.project.order(1).to_dict() == order1
    assert "sgd 0.002" in dpg.get_item_label(editor.results.headers[2])

    st.undo()
    assert dpg.get_value(widget(editor, 2, "lr")) == pytest.approx(0.0005)
    st.undo()
    assert dumps(st.project) == before
    assert dpg.get_value(widget(editor, 2, "type")) == "adam"
    assert (2, "momentum") not in editor.results.order_widgets
    st.redo()
    assert dpg.get_value(widget(editor, 2, "type")) == "sgd"


def test_an_unchanged_value_adds_no_undo_step_and_a_bad_one_is_refused(editor):
    st = editor.state
    st.open(str(GAN))
    enter(widget(editor, 1, "lr"), 0.0005)
    assert not st.history.can_undo
    enter(widget(editor, 1, "lr"), -1.0)
    assert st.project.order(1).optimizer.lr == 0.0005
    assert "learning rate must be > 0" in dpg.get_value(editor.status_text)
    assert dpg.get_value(widget(editor, 1, "lr")) == pytest.approx(0.0005)  # the pane shows the document
    enter(editor.results.seed, 7)
    assert st.project.training.seed == 7


def test_the_optimised_blocks_and_losses_round_trip_through_save_and_reopen(editor, tmp_path):
    st = editor.state
    st.open(str(GAN))
    gen, disc, loss = (find_block(st, n) for n in ("Generator", "Discriminator", "GAN loss"))
    assert st.project.order(1).optimize == [disc]
    assert dpg.get_value(widget(editor, 1, f"block:{disc}")) is True
    assert dpg.get_value(widget(editor, 1, f"block:{gen}")) is False
    assert (1, f"block:{loss}") not in editor.results.order_widgets  # losses are not optimised
    st.set_catalog([])  # before the engine's catalog nothing says which blocks are losses…
    assert (1, f"block:{loss}") in editor.results.order_widgets
    st.set_catalog(builtin_catalog())  # …and when it arrives the lists are rebuilt
    assert (1, f"block:{loss}") not in editor.results.order_widgets

    click(widget(editor, 1, f"block:{gen}"), True)
    click(widget(editor, 1, f"block:{disc}"), False)
    assert st.project.order(1).optimize == [gen]
    click(widget(editor, 2, "all_blocks"), True)
    assert st.project.order(2).optimize is None
    assert not any(k[0] == 2 and k[1].startswith("block:") for k in editor.results.order_widgets)
    click(widget(editor, 1, "all_losses"), False)  # starts from every loss ticked
    assert st.project.order(1).losses == [loss]
    assert dpg.get_value(widget(editor, 1, f"loss:{loss}")) is True

    assert editor.controls.save_to(str(tmp_path / "gan"))
    reopened = load_project(st.path)
    assert [o.to_dict() for o in reopened.orders] == [o.to_dict() for o in st.project.orders]
    st.new()
    assert (2, "all_blocks") not in editor.results.order_widgets  # a new project has one order
    st.open(str(tmp_path / "gan.dpgb"))
    assert dpg.get_value(widget(editor, 1, f"block:{gen}")) is True
    assert dpg.get_value(widget(editor, 1, f"block:{disc}")) is False
    assert dpg.get_value(widget(editor, 2, "all_blocks")) is True
    assert dpg.get_value(widget(editor, 1, "all_losses")) is False
    assert dpg.get_value(widget(editor, 1, f"loss:{loss}")) is True


def test_orders_are_added_and_removed_unless_an_input_still_emits_in_them(editor):
    st = editor.state
    st.open(str(GAN))
    click(widget(editor, 2, "remove"))
    assert [o.index for o in st.project.orders] == [1, 2]
    status = dpg.get_value(editor.status_text)
    assert "cannot remove order 2" in status and "noise" in status and "real digits" not in status
    assert "fed by noise" == dpg.get_value(widget(editor, 2, "fed"))

    click(editor.results.add_order_btn)
    assert [o.index for o in st.project.orders] == [1, 2, 3]
    assert st.project.order(3).optimizer == st.project.order(2).optimizer
    assert "no input emits in this order" in dpg.get_value(widget(editor, 3, "fed"))
    enter(widget(editor, 3, "name"), "critic")
    assert st.project.order(3).name == "critic"
    assert "Order 3 · critic" in dpg.get_item_label(editor.results.headers[3])
    click(widget(editor, 3, "remove"))
    assert [o.index for o in st.project.orders] == [1, 2]
    assert (3, "type") not in editor.results.order_widgets
    st.undo()
    assert dpg.get_value(widget(editor, 3, "name")) == "critic"


# -- the block library ---------------------------------------------------------------------------
def merge_backbone(editor: Editor) -> str:
    """Scenario A step 5: FC1..FC5 merged and renamed "Backbone"; its id."""
    st = editor.state
    st.select([find_block(st, f"FC{i}") for i in range(1, 6)])
    sb = editor.merge_selected()
    assert sb is not None
    editor.rename_dialog()
    enter(editor.rename_input, "Backbone")
    assert st.block(sb).name == "Backbone"
    return sb


def test_save_to_library_lists_it_under_custom_and_inserts_a_fresh_copy(editor):
    st = editor.state
    st.open(str(EXAMPLES / "mlp_digits.dpgb"))
    sb = merge_backbone(editor)
    assert "Backbone" not in editor.blocks_menu.library_buttons
    assert editor.save_to_library() is not None
    assert "Backbone" in editor.blocks_menu.library_buttons  # refreshed by the save
    (entry,), problems = list_library()
    assert entry.name == "Backbone" and entry.blocks == 6 and not problems

    # Saving again asks before replacing; Replace overwrites, the list stays one entry.
    assert editor.save_to_library() is None and dpg.is_item_shown(editor.replace_window)
    editor._replace_ok()
    assert len(list_library()[0]) == 1 and "saved 'Backbone'" in st.status

    before = {b.id for b in st.project.graph.walk()}
    click(editor.blocks_menu.library_buttons["Backbone"])
    (new,) = set(st.project.graph.blocks) - before
    copy = st.block(new)
    assert st.selected == [new] and copy.name == "Backbone2" and copy.is_super
    inner = {b.id for b in copy.walk()}
    assert len(inner) == 6 and not inner & before  # fresh ids at every level
    assert [b.name for b in copy.graph.blocks.values()] == [b.name for b in st.block(sb).graph.blocks.values()]
    st.undo()
    assert new not in st.project.graph.blocks

    enter(editor.blocks_menu.search, "backb")
    assert list(editor.blocks_menu.library_buttons) == ["Backbone"]
    enter(editor.blocks_menu.search, "conv")
    assert not editor.blocks_menu.library_buttons and "builtin.Conv2d" in editor.blocks_menu.add_buttons


def test_an_unreadable_library_file_is_listed_in_red_with_its_error(editor):
    folder = library_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "broken.dpgblock").write_text("{not json")
    (folder / "future.dpgblock").write_text('{"format": 99, "kind": "dpg-blocks block", "block": {}}')
    editor.blocks_menu.refresh()
    text = editor.blocks_menu.text()
    assert "broken.dpgblock: cannot be read" in text and "not valid JSON" in text
    assert "future.dpgblock: cannot be read" in text and "newer dpg-blocks" in text
    assert not editor.blocks_menu.library_buttons
    colour = dpg.get_item_configuration(editor.blocks_menu.library_problems[0])["color"]
    assert colour[0] > 0.8 and colour[1] < 0.5  # red (Dear PyGui gives colours as 0..1)
    enter(editor.blocks_menu.search, "future")
    assert "broken" not in editor.blocks_menu.text() and "future" in editor.blocks_menu.text()


def test_the_custom_section_shows_while_the_engine_is_still_starting(editor):
    st = editor.state
    st.open(str(EXAMPLES / "mlp_digits.dpgb"))
    st.save_to_library(find_block(st, "FC3"))
    st.set_catalog([])
    assert "FC3" in editor.blocks_menu.library_buttons
    click(editor.blocks_menu.library_buttons["FC3"])
    (new,) = st.selected
    assert st.block(new).type == "builtin.Linear" and st.block(new).params["out_features"] == 64
    assert [b.name for b in st.project.graph.blocks.values()].count(st.block(new).name) == 1


# -- with a real engine: the inserted SuperBlock validates the same, and shows its shapes ----------
def validated(editor: Editor) -> bool:
    v = editor.state.validation
    return bool(v.received) and not v.pending and not editor._validate_wanted


def boundary(rec: dict) -> tuple:
    return rec["status"], [(t["shape"], t["dtype"]) for t in rec["inputs"]], [
        (t["shape"], t["dtype"]) for t in rec["outputs"]]


def test_scenario_a_backbone_is_saved_reused_in_a_new_project_and_shows_its_shapes():
    with gui_context():
        editor = Editor(EditorState())
        editor.start_engine(threads=1)
        try:
            st = editor.state
            wait_for(editor, lambda: bool(st.catalog))
            st.open(str(EXAMPLES / "mlp_digits.dpgb"))
            sb = merge_backbone(editor)
            st.select([sb])
            wait_for(editor, lambda: validated(editor))
            original = boundary(st.record(sb))
            assert original == ("ok", [([4, 1, 8, 8], "float32")], [([4, 10], "float32")])
            # The Debug pane and the SuperBlock's port labels show them as for a plain block.
            text = editor.debug.text()
            assert "4×1×8×8  float32" in text and "4×10  float32" in text
            port_in, port_out = st.block(sb).inputs[0].name, st.block(sb).outputs[0].name
            assert dpg.get_value(editor.canvas.nodes[sb].labels[("in", port_in)]) == f"{port_in}  4×1×8×8"
            assert dpg.get_value(editor.canvas.nodes[sb].labels[("out", port_out)]) == f"4×10  {port_out}"
            assert editor.save_to_library() is not None

            st.new()
            click(editor.blocks_menu.add_buttons["builtin.Input"])
            (data,) = st.project.graph.blocks
            enter(editor.tree.widgets[(data, "reshape")], "1, 8, 8")
            click(editor.blocks_menu.library_buttons["Backbone"])
            (copy,) = set(st.project.graph.blocks) - {data}
            assert st.block(copy).name == "Backbone"
            assert st.connect((data, "x"), (copy, port_in))
            wait_for(editor, lambda: validated(editor))
            assert boundary(st.record(copy)) == original
            assert all(st.record(b.id)["status"] == "ok" for b in st.block(copy).walk())
        finally:
            editor.close()
