"""The Blocks menu (right): the catalog by category, a search box, "+" to add a block."""

from __future__ import annotations

from typing import Any

import dearpygui.dearpygui as dpg

from .catalog import CategoryNode
from .state import EditorState


class BlocksMenu:
    """Filled from the engine's catalog; "+" adds the block through the state's edits."""

    def __init__(self, state: EditorState, parent: int | str) -> None:
        self.state = state
        with dpg.group(parent=parent):
            dpg.add_text("Blocks")
            self.search = dpg.add_input_text(hint="search blocks", width=-1, callback=lambda: self.refresh())
            dpg.add_separator()
            self.body = dpg.add_child_window(border=False, width=-1, height=-1)
        self.add_buttons: dict[str, int] = {}
        self.refresh()

    def refresh(self) -> None:
        """Rebuild the list from the catalog and the search text."""
        dpg.delete_item(self.body, children_only=True)
        self.add_buttons = {}
        if not self.state.catalog:
            dpg.add_text("waiting for the engine's catalog…", parent=self.body, color=(170, 170, 170))
            return
        query = dpg.get_value(self.search) or ""
        tree = self.state.catalog.tree(query)
        if not tree.children:
            dpg.add_text(f"no block matches {query!r}", parent=self.body, color=(170, 170, 170))
            return
        for node in tree.children.values():
            with dpg.collapsing_header(label=f"{node.name} ({node.count()})", parent=self.body,
                                       default_open=True) as header:
                self._fill(node, header, bool(query))

    def _fill(self, node: CategoryNode, parent: int, open_all: bool) -> None:
        for child in node.children.values():
            with dpg.tree_node(label=f"{child.name} ({child.count()})", parent=parent,
                               default_open=open_all) as branch:
                self._fill(child, branch, open_all)
        for spec in node.specs:
            with dpg.group(horizontal=True, parent=parent):
                btn = dpg.add_button(label=" + ", callback=self._on_add, user_data=spec.id)
                text = dpg.add_text(spec.name)
            with dpg.tooltip(text):
                dpg.add_text(f"{spec.name}  ({spec.id})")
                if spec.doc:
                    dpg.add_text(spec.doc, wrap=360)
            self.add_buttons[spec.id] = btn

    def _on_add(self, sender: Any, app_data: Any, user_data: str) -> None:
        self.state.add_block(user_data)
