"""A test hook: with ``DPG_BLOCKS_STATE_DUMP=FILE`` the running editor writes what real-input
tests need to aim and to check (document, drawn rectangles, pins, fields, Blocks-menu buttons)
to FILE as JSON about twice a second, so they poll the editor's state instead of sleeping."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

import dearpygui.dearpygui as dpg

from dpg_blocks.core.atomic_file import write_text_atomic

DUMP_ENV = "DPG_BLOCKS_STATE_DUMP"
INTERVAL_S = 0.5
WINDOW_PAD, ITEM_SPACING = 8, 4  # ImGui's default window padding and item spacing (y), in pixels


def _rect(item: int | str) -> list[int]:
    """[x, y, w, h] as drawn in the last frame (zero-sized when not shown)."""
    st = dpg.get_item_state(item) if dpg.does_item_exist(item) else {}
    if st.get("visible") is False:  # folded away or scrolled out: its rectangle is of when it last was drawn
        return [0, 0, 0, 0]
    (x, y), (w, h) = st.get("rect_min", (0, 0)), st.get("rect_size", (0, 0))
    return [int(x), int(y), int(w), int(h)]


def _child_window_rect(child: int | str) -> list[int]:
    """[x, y, w, h] of a child window on screen. Dear PyGui reports no ``rect_min`` for child
    windows (the Network pane read as starting at 0, 0, so rows below its height looked
    scrolled out), only ``pos`` inside the window that holds it."""
    st = dpg.get_item_state(child) if dpg.does_item_exist(child) else {}
    top = child
    while dpg.get_item_parent(top) is not None:
        top = dpg.get_item_parent(top)
    (wx, wy), (px, py) = dpg.get_item_pos(top), st.get("pos", (0, 0))
    (w, h) = st.get("rect_size", (0, 0))
    return [int(wx + px), int(wy + py), int(w), int(h)]


def _menu_rows(window: int | str) -> dict[str, list[int]]:
    """The right-click menu's shown entries by label, while it is open. Menu items report no
    rectangle, nor does the auto-sized window: a row is a line of text plus ImGui's item
    spacing, from the window's padding down."""
    if not dpg.is_item_shown(window):
        return {}
    x, y = (int(v) for v in dpg.get_item_pos(window))
    labels = [dpg.get_item_label(i) or "" for i in dpg.get_item_children(window, 1) or []
              if dpg.is_item_shown(i)]
    size = dpg.get_text_size("Ag") or (0, 0)
    row = float(size[1]) * dpg.get_global_font_scale() + ITEM_SPACING
    return {label: [x + WINDOW_PAD, int(y + WINDOW_PAD + i * row), 120, int(row) - ITEM_SPACING]
            for i, label in enumerate(labels)}


def _inner_blocks(graph: Any, parent: str = "") -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for bid, b in graph.blocks.items():
        if parent:
            out[bid] = {"parent": parent, "name": b.name, "type": b.type, "params": b.params}
        if b.graph is not None:
            out.update(_inner_blocks(b.graph, bid))
    return out


class StateDump:
    """Write the editor's state every :data:`INTERVAL_S` while the env variable names a file."""

    def __init__(self, editor: Any, layout_info: Callable[[Any], dict[str, Any]]) -> None:
        self.editor = editor
        self.layout_info = layout_info
        self.path = os.environ.get(DUMP_ENV, "")
        self._last = 0.0

    def tick(self) -> None:
        if not self.path or time.monotonic() - self._last < INTERVAL_S:
            return
        self._last = time.monotonic()
        ed = self.editor
        graph = ed.state.graph
        doc = {
            "time": time.time(),
            "engine": ed.state.engine_state,
            "validated": bool(ed.state.validation.received) and not ed.state.validation.pending,
            "blocks": [{"id": bid, "name": b.name, "type": b.type, "params": b.params, "pos": list(b.pos)}
                       for bid, b in graph.blocks.items()],
            # the blocks inside SuperBlocks (the Network pane's nested rows), by id
            "inner": _inner_blocks(graph),
            "selected": list(ed.state.selected),
            "typing": ed.keyboard.typing(),  # a text field has the keyboard
            "links": [[f"{ln.src.block}.{ln.src.port}", f"{ln.dst.block}.{ln.dst.port}"] for ln in graph.links],
            "records": {bid: (ed.state.record(bid) or {}).get("status", "") for bid in graph.blocks},
            # a port's label row: its pin sits on the node's left (in) or right (out) edge
            "pins": {bid: {f"{d}:{p}": _rect(text) for (d, p), text in view.labels.items()}
                     for bid, view in ed.canvas.nodes.items()},
            "tree": {bid: _rect(node) for bid, node in ed.tree.labels.items()},  # Network rows
            "tree_open": {bid: bool(dpg.get_value(node)) for bid, node in ed.tree.labels.items()},
            "network_pane": _child_window_rect(ed.tree.body),
            "fields": {f"{bid}.{name}": _rect(item) for (bid, name), item in ed.tree.widgets.items()},
            "buttons": {t: _rect(item) for t, item in ed.blocks_menu.add_buttons.items()},
            "search": _rect(ed.blocks_menu.search),
            "status": ed.state.status,
            "install_prompt": ed.drops.boxes(),
            "search_active": bool(dpg.get_item_state(ed.blocks_menu.search).get("active")),
            # the right-click menu's entries, and the dialogs a scenario types into
            "context": _menu_rows(ed.menu_window),
            "data_dialog": ed.data.window is not None and dpg.is_item_shown(ed.data.window),
            "data_field": _rect(ed.data.path_input) if ed.data.window is not None else [0, 0, 0, 0],
            "data_field_active": ed.data.window is not None and bool(dpg.get_item_state(ed.data.path_input).get("active")),
            "data_error": ed.data.error,
            "path": ed.state.path or "",
            "epochs": ed.state.training.epochs,
            **self.layout_info(ed),
        }
        write_text_atomic(self.path, json.dumps(doc, default=str))
