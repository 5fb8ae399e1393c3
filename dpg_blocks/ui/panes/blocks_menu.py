"""The Blocks menu (right): the catalog by category, the user's library ("Custom"), a search
box, and "+" to add a block or insert a saved one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg

from dpg_blocks.core import SUPERBLOCK_TYPE
from dpg_blocks.core.user.library import LibraryEntry, LibraryError
from dpg_blocks.ui.panes.catalog import CategoryNode
from dpg_blocks.ui.state.editor_state import EditorState

ERROR_RED = (235, 90, 90)
MUTED = (170, 170, 170)


class BlocksMenu:
    """Filled from the engine's catalog and the library folder; "+" edits through the state."""

    def __init__(self, state: EditorState, parent: int | str) -> None:
        self.state = state
        with dpg.group(parent=parent):
            self.search = dpg.add_input_text(hint="search blocks", width=-1,
                                             callback=lambda: self.refresh(reload_library=False))
            dpg.add_separator()
            self.body = dpg.add_child_window(border=False, width=-1, height=-1)
        self.add_buttons: dict[str, int] = {}
        self.tooltips: dict[str, int | str] = {}  # block id -> its tooltip (name, id, pack and version, doc)
        self.library_buttons: dict[str, int] = {}  # library entry name -> its "+"
        self.library_problems: list[int] = []  # the red texts of unreadable library files
        self._library: tuple[list[LibraryEntry], list[LibraryError]] = ([], [])
        # a save (or anything else that changes the library) refreshes the Custom section
        state.subscribe(lambda topic: self.refresh() if topic == "library" else None)
        self.refresh()

    def refresh(self, reload_library: bool = True) -> None:
        """Rebuild the list from the catalog, the library folder and the search text."""
        if reload_library:
            self._library = self.state.library()
        dpg.delete_item(self.body, children_only=True)
        self.add_buttons, self.library_buttons, self.library_problems = {}, {}, []
        self.tooltips = {}
        query = dpg.get_value(self.search) or ""
        if not self.state.catalog:
            dpg.add_text("waiting for the engine's catalog…", parent=self.body, color=MUTED)
        else:
            tree = self.state.catalog.tree(query)
            if not tree.children:
                dpg.add_text(f"no block matches {query!r}", parent=self.body, color=MUTED)
            for node in tree.children.values():
                with dpg.collapsing_header(label=f"{node.name} ({node.count()})", parent=self.body,
                                           default_open=True) as header:
                    self._fill(node, header, bool(query))
        self._custom(query)

    def _custom(self, query: str) -> None:
        """The "Custom" section: library entries matching ``query``, unreadable files in red."""
        entries, problems = self._library
        q = query.strip().lower()
        shown = [e for e in entries if not q or any(q in t.lower() for t in (e.name, e.type, e.path.name))]
        bad = [p for p in problems if not q or q in str(p).lower()]
        if q and not shown and not bad:
            return
        with dpg.collapsing_header(label=f"Custom ({len(shown)})", parent=self.body, default_open=True) as header:
            if not entries and not problems:
                dpg.add_text("no saved blocks yet: right-click a block or SuperBlock -> Save to library",
                             wrap=250, color=MUTED)
            for entry in shown:
                with dpg.group(horizontal=True):
                    btn = dpg.add_button(label=" + ", callback=self._on_insert, user_data=str(entry.path))
                    text = dpg.add_text(entry.name)
                with dpg.tooltip(text):
                    kind = "SuperBlock" if entry.type == SUPERBLOCK_TYPE else entry.type
                    dpg.add_text(f"{entry.name}  ({kind}, {entry.blocks} block{'s' if entry.blocks != 1 else ''})")
                    dpg.add_text(f"saved {entry.saved}" if entry.saved else "saved: unknown")
                    dpg.add_text(str(entry.path), wrap=360)
                self.library_buttons[entry.name] = btn
            for problem in bad:
                # the message starts with the file's path: show the name, the rest wraps below
                text = str(problem)
                where, _, why = text.partition(": ")
                title = dpg.add_text(f"{Path(where).name}: cannot be read", parent=header, color=ERROR_RED)
                with dpg.tooltip(title):
                    dpg.add_text(text, wrap=420)
                detail = dpg.add_text(why or text, parent=header, color=ERROR_RED, wrap=250, indent=12)
                self.library_problems += [title, detail]

    def _fill(self, node: CategoryNode, parent: int, open_all: bool) -> None:
        for child in node.children.values():
            with dpg.tree_node(label=f"{child.name} ({child.count()})", parent=parent,
                               default_open=open_all) as branch:
                self._fill(child, branch, open_all)
        for spec in node.specs:
            with dpg.group(horizontal=True, parent=parent):
                btn = dpg.add_button(label=" + ", callback=self._on_add, user_data=spec.id)
                text = dpg.add_text(spec.name)
            with dpg.tooltip(text) as tip:
                dpg.add_text(f"{spec.name}  ({spec.id})")
                if spec.pack:
                    dpg.add_text(f"pack {spec.pack}" + (f" {spec.pack_version}" if spec.pack_version else ""),
                                 color=MUTED)
                if spec.doc:
                    dpg.add_text(spec.doc, wrap=360)
            self.add_buttons[spec.id] = btn
            self.tooltips[spec.id] = tip

    def text(self) -> str:
        """The Custom section as text (what a test reads): entries, then unreadable files."""
        names = list(self.library_buttons)
        return "\n".join(names + [str(dpg.get_value(t)) for t in self.library_problems])

    def _on_add(self, sender: Any, app_data: Any, user_data: str) -> None:
        self.state.add_block(user_data)

    def _on_insert(self, sender: Any, app_data: Any, user_data: str) -> None:
        self.state.insert_from_library(user_data)
