"""Working on big and nested graphs: opening SuperBlocks on the canvas, copy/paste,
auto-layout, framing and "go to block" — driven through the editor's own callbacks."""

from __future__ import annotations

import dearpygui.dearpygui as dpg
from ui_fixtures import EXAMPLES, click

from dpg_blocks.core import dumps, load_project
from dpg_blocks.ui.canvas.graph_canvas import BOUNDARY_IN, BOUNDARY_OUT, FRAME_MARGIN, framing_delta
from dpg_blocks.ui.editor.app import Editor


def by_name(editor: Editor, name: str) -> str:
    (bid,) = [b.id for b in editor.state.project.graph.walk() if b.name == name]
    return bid


def open_dann(editor: Editor) -> None:
    assert editor.controls.open(str(EXAMPLES / "dann_digits.dpgb"))


def test_double_click_opens_a_superblock_and_its_boundary_is_drawn(editor, monkeypatch):
    open_dann(editor)
    fx = by_name(editor, "Feature Extractor")
    inner = set(editor.state.block(fx).graph.blocks)
    monkeypatch.setattr(editor.canvas, "hovered_block", lambda: fx)
    editor._on_double_click()
    assert editor.state.scope == [fx]
    assert set(editor.canvas.nodes) == inner | {BOUNDARY_IN, BOUNDARY_OUT}
    # Every inner link is drawn, the boundary ones included.
    assert len(editor.canvas.links) == len(editor.state.block(fx).graph.links) > len(inner) - 1
    labels = [dpg.get_item_label(b) for b in dpg.get_item_children(editor.canvas.crumbs, 1)
              if dpg.get_item_type(b).endswith("Button")]
    assert labels[:2] == ["Project", "Feature Extractor"]
    # Up goes back to the root with the SuperBlock selected.
    editor._on_key(None, dpg.mvKey_Back)
    assert editor.state.scope == [] and editor.state.selected == [fx]
    assert fx in editor.canvas.nodes


def test_edits_inside_a_superblock_go_into_its_graph_and_undo_there(editor):
    open_dann(editor)
    fx = by_name(editor, "Feature Extractor")
    st = editor.state
    st.enter(fx)
    graph = st.block(fx).graph
    first = next(iter(graph.blocks))
    (boundary_link,) = [lk for lk in graph.links if lk.src.block == fx]
    # The user deletes the link from the SuperBlock's input to its first block…
    item = editor.canvas.links[boundary_link]
    delink = dpg.get_item_configuration(editor.canvas.editor)["delink_callback"]
    delink(editor.canvas.editor, item)  # what the node editor calls on Ctrl+click on a link
    assert boundary_link not in graph.links and item not in editor.canvas.link_of_item
    # …and draws it again from the boundary node's pin.
    a = editor.canvas.nodes[BOUNDARY_IN].attrs[("out", boundary_link.src.port)]
    b = editor.canvas.nodes[first].attrs[("in", boundary_link.dst.port)]
    click(editor.canvas.editor, (a, b))
    assert boundary_link in graph.links
    # A block added from the Blocks menu lands inside, named freely there.
    click(editor.blocks_menu.add_buttons["builtin.ReLU"])
    (new,) = set(graph.blocks) - {b.id for b in load_project(EXAMPLES / "dann_digits.dpgb").graph.walk()}
    assert st.project.parent_of(new) == fx and new in editor.canvas.nodes
    st.undo()
    assert new not in graph.blocks and new not in editor.canvas.nodes


def test_undoing_the_merge_while_inside_falls_back_to_the_root(editor):
    st = editor.state
    assert editor.controls.open(str(EXAMPLES / "mlp_digits.dpgb"))
    fcs = [by_name(editor, f"FC{i}") for i in range(1, 6)]
    sb = st.merge(fcs, "Backbone")
    st.enter(sb)
    assert set(editor.canvas.nodes) == set(fcs) | {BOUNDARY_IN, BOUNDARY_OUT}
    st.undo()
    assert st.scope == [] and set(fcs) <= set(editor.canvas.nodes)
    assert BOUNDARY_IN not in editor.canvas.nodes


def test_copy_paste_gives_fresh_ids_keeps_inner_links_and_undoes_in_one_step(editor):
    st = editor.state
    assert editor.controls.open(str(EXAMPLES / "mlp_digits.dpgb"))
    before = dumps(st.project)
    fc1, fc2, fc3 = (by_name(editor, f"FC{i}") for i in (1, 2, 3))
    st.select([fc1, fc2, fc3])
    text = editor.copy()
    assert '"FC2"' in text
    pasted = st.paste(text, at=(100.0, 600.0))
    assert len(pasted) == 3 and not set(pasted) & {fc1, fc2, fc3}
    names = sorted(st.block(b).name for b in pasted)
    assert names == ["FC6", "FC7", "FC8"]
    inner = [lk for lk in st.project.graph.links if lk.src.block in pasted and lk.dst.block in pasted]
    assert len(inner) == 2  # FC1->FC2 and FC2->FC3 came along; links to the rest did not
    assert min(st.block(b).pos[0] for b in pasted) == 100.0
    assert set(pasted) <= set(editor.canvas.nodes) and st.selected == pasted
    st.undo()
    assert dumps(st.project) == before


def test_paste_of_foreign_text_is_refused_with_a_reason(editor):
    st = editor.state
    assert st.paste("hello, world") == []
    assert "does not hold dpg-blocks blocks" in st.status
    assert st.paste('{"format": "dpg-blocks/blocks", "version": 1, "blocks": [{"id": 3}], "links": []}') == []
    assert "$.blocks[0].id" in st.status


def test_a_superblock_copied_into_another_project_keeps_its_inside(editor):
    st = editor.state
    open_dann(editor)
    fx = by_name(editor, "Feature Extractor")
    text = st.copy([fx])
    n_inner = len(st.block(fx).graph.blocks)
    st.new()
    (copy,) = st.paste(text)
    assert len(st.block(copy).graph.blocks) == n_inner
    ids = [b.id for b in st.project.graph.walk()]
    assert len(ids) == len(set(ids)) == n_inner + 1


def test_auto_layout_puts_a_chain_in_columns_and_is_one_undo_step(editor):
    st = editor.state
    assert editor.controls.open(str(EXAMPLES / "mlp_digits.dpgb"))
    for i, b in enumerate(st.project.graph.blocks.values()):  # scramble the positions
        b.pos = (float((i * 37) % 5) * 50.0, float((i * 53) % 7) * 60.0)
    scrambled = dumps(st.project)
    assert st.auto_layout(max_width=900.0)
    order = ["digits", "FC1", "FC2", "FC3", "FC4", "FC5", "loss"]
    pos = [st.block(by_name(editor, n)).pos for n in order]
    # Left to right inside a band, bands wrap below each other; nothing overlaps.
    for (x0, y0), (x1, y1) in zip(pos, pos[1:], strict=False):
        assert x1 > x0 or y1 > y0 + 50
    assert max(x for x, _ in pos) - min(x for x, _ in pos) <= 900.0
    boxes = [(x, y) for x, y in pos]
    assert len({(round(x), round(y)) for x, y in boxes}) == len(boxes)
    st.undo()
    assert dumps(st.project) == scrambled


def test_framing_moves_the_view_never_the_document():
    view = (300.0, 100.0, 1000.0, 700.0)
    # A graph far to the right and below is brought to the view's top-left corner.
    dx, dy = framing_delta([(2000.0, 900.0, 150.0, 100.0), (2300.0, 950.0, 150.0, 100.0)], view)
    assert (2000.0 + dx, 900.0 + dy) == (300.0 + FRAME_MARGIN, 100.0 + FRAME_MARGIN)
    # One block is centred when asked.
    dx, dy = framing_delta([(0.0, 0.0, 200.0, 100.0)], view, centre=True)
    assert (dx + 100.0, dy + 50.0) == (800.0, 450.0)


def test_go_to_block_finds_nested_blocks_by_path(editor):
    open_dann(editor)
    paths = editor.block_paths("feature extractor/")
    assert paths and all(p.startswith("Feature Extractor › ") for p in paths)
    target = sorted(paths)[0]
    editor._goto_pick(target)
    bid = paths[target]
    assert editor.state.scope == [by_name(editor, "Feature Extractor")]
    assert editor.state.selected == [bid] and bid in editor.canvas.nodes
    # The tree's "Show" button does the same from the Network menu.
    editor.state.set_scope([])
    click(editor.tree.show_buttons[bid])
    assert editor.state.selected == [bid] and bid in editor.canvas.nodes


def test_copied_blocks_paste_in_another_window_without_reading_the_system_clipboard(editor, monkeypatch):
    # Dear PyGui 2.3's get_clipboard_text aborts the process when X11 holds no text.
    monkeypatch.setattr(dpg, "get_clipboard_text", lambda: (_ for _ in ()).throw(AssertionError("read")))
    st = editor.state
    assert editor.controls.open(str(EXAMPLES / "mlp_digits.dpgb"))
    st.select([by_name(editor, "FC1"), by_name(editor, "FC2")])
    assert editor.copy()
    st.new()  # what another editor window sees: only the user folder's clipboard file
    st.clipboard = ""
    pasted = editor.paste()
    assert sorted(st.block(b).name for b in pasted) == ["FC1", "FC2"]
    assert len(st.project.graph.links) == 1
