"""The user's gestures on the canvas, turned into edit commands and the editor's selection.

imnodes reports links drawn and dropped, its own node and link selection, hover and the end of
a drag; this mixin of :class:`~dpg_blocks.ui.canvas.graph_canvas.Canvas` maps those Dear PyGui items back to
blocks, ports and links and asks :class:`~dpg_blocks.ui.state.editor_state.EditorState` for the edit. The
document change then comes back to the screen through ``Canvas.sync``, never from here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import dearpygui.dearpygui as dpg

from dpg_blocks.ui.canvas.nodes import BOUNDARY_IN, BOUNDARY_OUT, NodeView, PortKey

if TYPE_CHECKING:
    from dpg_blocks.core.graph import Link
    from dpg_blocks.ui.state.editor_state import EditorState

__all__ = ["Gestures"]


class Gestures:
    """Links, selection, deletion and drags on the canvas (a mixin of :class:`~dpg_blocks.ui.canvas.graph_canvas.Canvas`)."""

    # What this mixin uses of the Canvas it is part of.
    state: EditorState
    editor: int | str
    nodes: dict[str, NodeView]
    block_of_node: dict[int, str]
    port_of_attr: dict[int, PortKey]
    link_of_item: dict[int, Link]
    _dpg_selection: list[int]
    positions: Callable[[], dict[str, tuple[float, float]]]

    def _on_link(self, sender: Any, app_data: Any) -> None:
        a, b = (self.port_of_attr.get(_item_id(x)) for x in app_data)
        if a is None or b is None:
            return
        if a[1] == "in":
            a, b = b, a
        if a[1] != "out" or b[1] != "in":
            self.state.say("a link goes from an output (right side) to an input (left side)")
            return
        self.state.connect((a[0], a[2]), (b[0], b[2]))

    def _on_delink(self, sender: Any, app_data: Any) -> None:
        link = self.link_of_item.get(_item_id(app_data))
        if link is not None:
            self.state.disconnect(link)

    def selected_blocks(self) -> list[str]:
        """Blocks selected on the canvas (boundary nodes are not blocks)."""
        keys = (self.block_of_node.get(n) for n in map(_item_id, dpg.get_selected_nodes(self.editor)))
        return [k for k in keys if k is not None and k not in (BOUNDARY_IN, BOUNDARY_OUT)]

    def selected_links(self) -> list[Link]:
        return [self.link_of_item[i] for i in map(_item_id, dpg.get_selected_links(self.editor)) if i in self.link_of_item]

    def poll_selection(self) -> None:
        """Follow the user's selection on the canvas (only when it changes there)."""
        sel = [_item_id(n) for n in dpg.get_selected_nodes(self.editor)]
        if sel != self._dpg_selection:
            self._dpg_selection = sel
            blocks = self.selected_blocks()
            if blocks:
                self.state.select(blocks)

    def deselect_all(self) -> None:
        """Drop imnodes' own selection too, so the editor's and the drawn one stay the same: a
        press just off a node's edge (on its pin, to drag a link) cleared the editor's while
        imnodes kept the node selected, and a click on that node then changed nothing imnodes
        reports, so the editor never saw it selected again."""
        dpg.clear_selected_nodes(self.editor)
        self._dpg_selection = []

    def delete_selected(self) -> bool:
        """Delete the selected links and blocks (one undo step)."""
        blocks, links = self.selected_blocks(), self.selected_links()
        if not blocks and not links:
            blocks = list(self.state.selected)
        dpg.clear_selected_links(self.editor)
        dpg.clear_selected_nodes(self.editor)
        self._dpg_selection = []
        return self.state.delete(blocks, links)

    def record_moves(self) -> bool:
        """After a drag: Move edits for every block whose node moved."""
        return self.state.move(self.positions())

    def hovered_block(self) -> str | None:
        for key, view in self.nodes.items():
            if key not in (BOUNDARY_IN, BOUNDARY_OUT) and dpg.get_item_state(view.node).get("hovered"):
                return key
        return None

    def empty_spot_hovered(self) -> bool:
        """Whether the mouse is over the canvas but over no block (a click there deselects).

        The node editor reports itself hovered under a window drawn over it too (the right-click
        menu, a dialog, the code window): those windows must not be hovered either."""
        if not dpg.get_item_state(self.editor).get("hovered"):
            return False
        if any(dpg.get_item_state(view.node).get("hovered") for view in self.nodes.values()):
            return False
        own = self.editor
        while dpg.get_item_parent(own) is not None:
            own = dpg.get_item_parent(own)
        return not any(w != own and dpg.is_item_shown(w) and dpg.get_item_state(w).get("hovered")
                       for w in dpg.get_windows())


def _item_id(item: Any) -> int:
    return item if isinstance(item, int) else dpg.get_alias_id(item)
