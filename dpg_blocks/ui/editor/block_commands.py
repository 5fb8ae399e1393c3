"""What the Edit and Canvas menus do to blocks: select, rename, go to, merge, save to the library,
copy and paste.

:class:`BlockCommands` is a mixin of :class:`~dpg_blocks.ui.editor.app.Editor`. Its methods are the
actions that menus, the right-click menu and the shortcuts (``ui/editor/shortcuts.py`` names them) run
on the selected blocks; each changes the document only through :class:`EditorState`'s edits.
The Rename and Go to block dialogs live here with the commands that open them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import dearpygui.dearpygui as dpg

from dpg_blocks.core.atomic_file import write_text_atomic

if TYPE_CHECKING:
    from dpg_blocks.ui.canvas.graph_canvas import Canvas
    from dpg_blocks.ui.code.window import CodeWindow
    from dpg_blocks.ui.state.editor_state import EditorState


class BlockCommands:
    """Commands on the selection, and the dialogs they open (the host builds the panes)."""

    state: EditorState
    canvas: Canvas
    code_window: CodeWindow

    def _block_dialogs(self) -> None:
        """The Rename (F2) and Go to block (Ctrl+G) dialogs, hidden until asked for."""
        with dpg.window(label="Rename block", modal=True, show=False, autosize=True,
                        no_saved_settings=True) as self.rename_window:
            self.rename_input = dpg.add_input_text(width=260, on_enter=True, callback=lambda: self._rename_ok())
            with dpg.group(horizontal=True):
                dpg.add_button(label="Rename", callback=lambda: self._rename_ok())
                dpg.add_button(label="Cancel", callback=lambda: dpg.configure_item(self.rename_window, show=False))
        with dpg.window(label="Go to block", modal=True, show=False, width=420, height=360,
                        no_saved_settings=True) as self.goto_window:
            self.goto_input = dpg.add_input_text(hint="name or path, e.g. Backbone/FC3", width=-1,
                                                 callback=lambda: self._goto_filter(), on_enter=False)
            self.goto_list = dpg.add_listbox([], width=-1, num_items=12, callback=lambda s, a: self._goto_pick(a))

    def select_all(self) -> None:
        """Every block of the graph on the canvas becomes the selection."""
        ids = list(self.state.graph.blocks)
        self.canvas.keyboard_selection = set(ids)  # outlined by the canvas until the selection changes
        self.state.select(ids)
        self.state.say(f"selected {len(ids)} block{'s' if len(ids) != 1 else ''}: Delete, Ctrl+C or "
                       "right-click › Merge act on them" if ids else "nothing to select: the canvas is empty")

    def clear_selection(self) -> None:
        """A click on empty canvas selects nothing. imnodes clears its own selection itself, but
        not Ctrl+A's (it cannot select from code), whose outline and whose fallback for Delete
        would otherwise outlive the click."""
        self.canvas.keyboard_selection = set()
        self.canvas.deselect_all()
        self.state.select([])

    def has_code(self, block_id: str | None) -> bool:
        """Whether the block carries code of its own (a Custom block): it has a code window."""
        b = self.state.block(block_id) if block_id else None
        spec = self.state.catalog.spec(b.type) if b is not None else None
        return bool(spec and spec.code_params())

    def edit_code(self) -> bool:
        """Open the selected block's code window (Custom blocks)."""
        sel = self.state.selected
        if not sel or not self.has_code(sel[-1]):
            self.state.say("select a Custom block to edit its code")
            return False
        return self.code_window.open(sel[-1])

    def apply_code(self) -> bool:
        """Ctrl+Enter: apply the code window's code, when it is open."""
        return self.code_window.shown and self.code_window.apply()

    def open_selected(self) -> bool:
        """Open the selected SuperBlock on the canvas."""
        sel = self.state.selected
        return self.state.enter(sel[-1]) if sel else False

    # -- clipboard ---------------------------------------------------------------------------
    def _chosen(self) -> list[str]:
        return self.canvas.selected_blocks() or [b for b in self.state.selected if b in self.state.graph.blocks]

    def copy(self) -> str:
        """Copy the selected blocks (and the links among them) for pasting in any editor window.

        The text goes to the user folder's ``clipboard.json`` (read back by :meth:`paste`) and,
        for pasting into a text file, to the system clipboard. Pasting never reads the system
        clipboard: Dear PyGui 2.3's ``get_clipboard_text`` aborts the process when the X11
        clipboard holds no text (``basic_string::_M_construct null not valid``).
        """
        text = self.state.copy(self._chosen())
        if text:
            try:
                clipboard_file().parent.mkdir(parents=True, exist_ok=True)
                write_text_atomic(clipboard_file(), text)
            except OSError as e:
                self.state.say(f"copied, but only for this window: {clipboard_file()}: {e}")
            if dpg.is_viewport_ok():
                dpg.set_clipboard_text(text)
        return text

    def cut(self) -> bool:
        return bool(self.copy()) and self.canvas.delete_selected()

    def stop_sharing(self) -> bool:
        """The selected blocks get their own weights again."""
        return self.state.stop_sharing(self.canvas.selected_blocks())

    def paste(self, shared: bool = False) -> list[str]:
        """Paste at the mouse when it is over the canvas, else beside the originals; ``shared``:
        each pasted layer shares its original's weights."""
        try:
            text = clipboard_file().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = self.state.clipboard
        at = self.canvas.mouse_doc_pos()
        if at is None:
            at = self._beside(text)
        return self.state.paste(text, at, shared=shared)

    def _beside(self, text: str) -> tuple[float, float] | None:
        try:
            blocks = json.loads(text).get("blocks") or []
            xs = [float(b["pos"][0]) for b in blocks]
            ys = [float(b["pos"][1]) for b in blocks]
        except (ValueError, TypeError, KeyError, AttributeError, IndexError):
            return None
        return (min(xs) + 40.0, max(ys) + 140.0) if xs else None

    def duplicate(self) -> list[str]:
        text = self.state.copy(self._chosen())
        return self.state.paste(text, self._beside(text)) if text else []

    # -- go to block -------------------------------------------------------------------------
    def go_to_dialog(self) -> None:
        dpg.set_value(self.goto_input, "")
        self._goto_filter()
        vw = dpg.get_viewport_client_width() if dpg.is_viewport_ok() else 800
        dpg.configure_item(self.goto_window, show=True, pos=[max(0, vw // 2 - 210), 120])
        dpg.focus_item(self.goto_input)

    def block_paths(self, query: str = "") -> dict[str, str]:
        """``Backbone › FC3`` -> block id, for every block whose path contains ``query``."""
        q = query.strip().lower().replace("/", "›")
        q = " › ".join(part.strip() for part in q.split("›")) if "›" in q else q
        out = {}
        for b in self.state.project.graph.walk():
            path = " › ".join(self.state.project.path_of(b.id))
            if q in path.lower():
                out[path] = b.id
        return out

    def _goto_filter(self) -> None:
        items = sorted(self.block_paths(dpg.get_value(self.goto_input) or ""), key=str.lower)
        dpg.configure_item(self.goto_list, items=items)

    def _goto_pick(self, path: str) -> None:
        bid = self.block_paths().get(path)
        if bid is not None:
            dpg.configure_item(self.goto_window, show=False)
            self.canvas.go_to(bid)

    # -- SuperBlocks, the library, renaming --------------------------------------------------
    def merge_selected(self) -> str | None:
        ids = self.canvas.selected_blocks() or list(self.state.selected)
        return self.state.merge(ids)

    def expand_selected(self) -> bool:
        sel = self.state.selected
        return self.state.unmerge(sel[-1]) if sel else False

    def save_to_library(self) -> Path | None:
        """Save the selected block or SuperBlock to the library; asks before replacing one."""
        sel = self.state.selected
        if not sel:
            self.state.say("select a block or SuperBlock to save to the library")
            return None
        target = self.state.library_file(sel[-1])
        if target is None or not target.exists():
            return self.state.save_to_library(sel[-1])
        # created on first use: most sessions never replace a library block
        if not hasattr(self, "replace_window"):
            with dpg.window(label="Replace library block", modal=True, show=False, autosize=True,
                            no_saved_settings=True) as self.replace_window:
                self.replace_text = dpg.add_text("", wrap=420)
                with dpg.group(horizontal=True):
                    dpg.add_button(label="Replace", callback=lambda: self._replace_ok())
                    dpg.add_button(label="Cancel", callback=lambda: dpg.configure_item(self.replace_window, show=False))
        self._replace_id = sel[-1]
        dpg.set_value(self.replace_text, f"The library already holds {target.stem!r} ({target}). Replace it?")
        dpg.configure_item(self.replace_window, show=True)
        return None

    def _replace_ok(self) -> None:
        dpg.configure_item(self.replace_window, show=False)
        self.state.save_to_library(self._replace_id, overwrite=True)

    def rename_dialog(self) -> None:
        sel = self.state.selected
        b = self.state.block(sel[-1]) if sel else None
        if b is None:
            self.state.say("select a block to rename")
            return
        dpg.set_value(self.rename_input, b.name)
        dpg.configure_item(self.rename_window, show=True, pos=dpg.get_mouse_pos(local=False))
        dpg.focus_item(self.rename_input)  # type the new name at once

    def _rename_ok(self) -> None:
        sel = self.state.selected
        if sel and self.state.rename(sel[-1], dpg.get_value(self.rename_input)):
            dpg.configure_item(self.rename_window, show=False)


def clipboard_file() -> Path:
    """Where the last copied blocks are kept, shared by every editor window of this user."""
    from dpg_blocks.core.user.folder import user_dir

    return user_dir() / "clipboard.json"


def find_block(state: EditorState, name: str) -> str | None:
    """A block by id, name, or path (``Backbone/FC1`` or ``Backbone › FC1``)."""
    if state.block(name) is not None:
        return name
    parts = [p.strip() for p in name.replace("›", "/").split("/") if p.strip()]
    for b in state.project.graph.walk():
        if state.project.path_of(b.id) == parts:
            return b.id
    return None
