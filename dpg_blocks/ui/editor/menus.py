"""The editor's menus: the menu bar, the right-click menu on a block, and Help › Shortcuts.

:class:`EditorMenus` is a mixin of :class:`~dpg_blocks.ui.editor.app.Editor`. It builds the menus and
says what each item runs; the commands themselves live where their idea does (the block
commands in ``ui/editor/block_commands.py``, files in ``ui/files/project_controls.py``, the canvas' own).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dearpygui.dearpygui as dpg

from dpg_blocks.core.assets import example_projects
from dpg_blocks.ui.editor.shortcuts import MOUSE_HELP, SHORTCUTS
from dpg_blocks.ui.files.data_dialog import INPUT_TYPE

if TYPE_CHECKING:
    from dpg_blocks.ui.canvas.graph_canvas import Canvas
    from dpg_blocks.ui.canvas.overview import Overview
    from dpg_blocks.ui.state.editor_state import EditorState


class EditorMenus:
    """Builds the menus; the right-click menu remembers the block it was opened on."""

    state: EditorState
    canvas: Canvas
    overview: Overview
    menu_block: str | None

    def _menu_bar(self) -> None:
        """The menus (inside the viewport's menu bar)."""
        with dpg.menu(label="File"):
            dpg.add_menu_item(label="New", shortcut="Ctrl+N", callback=lambda: self.controls.new())
            dpg.add_menu_item(label="Open…", shortcut="Ctrl+O", callback=lambda: self.controls.open_dialog())
            self.recent_menu = dpg.add_menu(label="Open Recent")
            if example_projects():
                with dpg.menu(label="Open Example"):
                    for path in example_projects():
                        dpg.add_menu_item(label=path.stem, user_data=str(path),
                                          callback=lambda s, a, u: self.controls.open_recent(u))
            dpg.add_menu_item(label="Save", shortcut="Ctrl+S", callback=lambda: self.controls.save())
            dpg.add_menu_item(label="Save As…", callback=lambda: self.controls.save_as_dialog())
            dpg.add_menu_item(label="Import PyTorch module…", callback=lambda: self.importer.show())
            dpg.add_menu_item(label="Export to PyTorch / ONNX…", callback=lambda: self.exporter.show())
            dpg.add_menu_item(label="Review custom code…", callback=lambda: self.controls.review_code())
            dpg.add_separator()
            dpg.add_menu_item(label="Quit", shortcut="Ctrl+Q", callback=lambda: self.controls.quit())
        with dpg.menu(label="Edit"):
            dpg.add_menu_item(label="Undo", shortcut="Ctrl+Z", callback=lambda: self.state.undo())
            dpg.add_menu_item(label="Redo", shortcut="Ctrl+Y", callback=lambda: self.state.redo())
            dpg.add_separator()
            dpg.add_menu_item(label="Delete", shortcut="Del", callback=lambda: self.canvas.delete_selected())
            dpg.add_menu_item(label="Merge selected into a SuperBlock", callback=lambda: self.merge_selected())
            dpg.add_menu_item(label="Expand SuperBlock", callback=lambda: self.expand_selected())
            dpg.add_menu_item(label="Rename…", shortcut="F2", callback=lambda: self.rename_dialog())
            dpg.add_menu_item(label="Edit code…", shortcut="double-click", callback=lambda: self.edit_code())
            dpg.add_menu_item(label="Select all", shortcut="Ctrl+A", callback=lambda: self.select_all())
            dpg.add_menu_item(label="Save to library", callback=lambda: self.save_to_library())
            dpg.add_separator()
            dpg.add_menu_item(label="Cut", shortcut="Ctrl+X", callback=lambda: self.cut())
            dpg.add_menu_item(label="Copy", shortcut="Ctrl+C", callback=lambda: self.copy())
            dpg.add_menu_item(label="Paste", shortcut="Ctrl+V", callback=lambda: self.paste())
            paste_shared = dpg.add_menu_item(label="Paste sharing weights", callback=lambda: self.paste(shared=True))
            with dpg.tooltip(paste_shared):
                dpg.add_text("Paste the copied blocks as shared copies: each layer uses its original's weights (one "
                             "set, trained once, e.g. a Siamese network's second tower). The copies say whose "
                             "weights they use.", wrap=360)
            dpg.add_menu_item(label="Stop sharing weights", callback=lambda: self.stop_sharing())
            dpg.add_menu_item(label="Duplicate", shortcut="Ctrl+D", callback=lambda: self.duplicate())
        with dpg.menu(label="View"):
            self.font_menu = dpg.add_menu(label="Font size")
            dpg.add_separator()
            dpg.add_menu_item(label="Zoom in", shortcut="Ctrl+=", callback=lambda: self.zoom_in())
            dpg.add_menu_item(label="Zoom out", shortcut="Ctrl+-", callback=lambda: self.zoom_out())
            dpg.add_menu_item(label="Zoom 100 %", shortcut="Ctrl+0", callback=lambda: self.zoom_reset())
            dpg.add_menu_item(label="Zoom to fit", shortcut="Ctrl+Home", callback=lambda: self.zoom_to_fit())
            dpg.add_menu_item(label="Overview", check=True, default_value=True,
                              callback=lambda: self.overview.toggle())
            dpg.add_separator()
            dpg.add_menu_item(label="Reset layout", callback=lambda: self.workspace.reset(*self._viewport_size()))
        with dpg.menu(label="Canvas"):
            dpg.add_menu_item(label="Frame all", shortcut="Home", callback=lambda: self.canvas.frame_all())
            dpg.add_menu_item(label="Go to block…", shortcut="Ctrl+G", callback=lambda: self.go_to_dialog())
            dpg.add_menu_item(label="Auto-layout", shortcut="Ctrl+L", callback=lambda: self.canvas.auto_layout())
            dpg.add_separator()
            dpg.add_menu_item(label="Open SuperBlock", shortcut="double-click", callback=lambda: self.open_selected())
            dpg.add_menu_item(label="Up one level", shortcut="Backspace", callback=lambda: self.state.leave())
        with dpg.menu(label="Help"):
            dpg.add_menu_item(label="Shortcuts and mouse", shortcut="F1", callback=lambda: self.show_shortcuts())

    def _context_menu(self) -> None:
        with dpg.window(show=False, no_title_bar=True, no_move=True, autosize=True, popup=False,
                        no_saved_settings=True) as self.menu_window:
            dpg.add_menu_item(label="Rename…", callback=lambda: self._menu(self.rename_dialog))
            # Add Data… and Edit code… act on the block right-clicked, not on the selection's last
            # block: with several selected, that may be another block (a SuperBlock just merged).
            self.data_item = dpg.add_menu_item(label="Add Data…",
                                               callback=lambda: self._menu(lambda: self.data.show(self.menu_block)))
            self.code_item = dpg.add_menu_item(label="Edit code…",
                                               callback=lambda: self._menu(lambda: self.code_window.open(self.menu_block or "")))
            self.merge_item = dpg.add_menu_item(label="Merge selected into a SuperBlock",
                                                callback=lambda: self._menu(self.merge_selected))
            self.expand_item = dpg.add_menu_item(label="Expand SuperBlock", callback=lambda: self._menu(self.expand_selected))
            self.library_item = dpg.add_menu_item(label="Save to library", callback=lambda: self._menu(self.save_to_library))
            self.open_item = dpg.add_menu_item(label="Open SuperBlock", callback=lambda: self._menu(self.open_selected))
            dpg.add_menu_item(label="Copy", callback=lambda: self._menu(self.copy))
            dpg.add_menu_item(label="Duplicate", callback=lambda: self._menu(self.duplicate))
            dpg.add_menu_item(label="Delete", callback=lambda: self._menu(self.canvas.delete_selected))

    def show_shortcuts(self) -> None:
        """Help › Shortcuts (F1)."""
        w, h = self._viewport_size()
        dpg.configure_item(self.help_window, show=True, pos=(max(0, w // 2 - 330), max(30, h // 2 - 330)))

    def _help_window(self) -> None:
        with dpg.window(label="Shortcuts", show=False, width=660, height=640, no_saved_settings=True,
                        no_collapse=True) as self.help_window:
            with dpg.table(header_row=True, borders_innerH=True, policy=dpg.mvTable_SizingStretchProp):
                dpg.add_table_column(label="keys", width_fixed=True, init_width_or_weight=170)
                dpg.add_table_column(label="does")
                for sc in SHORTCUTS:
                    with dpg.table_row():
                        dpg.add_text(sc.keys)
                        dpg.add_text(sc.help)
                for keys, what in MOUSE_HELP:
                    with dpg.table_row():
                        dpg.add_text(keys, color=(170, 200, 255))
                        dpg.add_text(what, wrap=440)
            dpg.add_spacer(height=6)
            dpg.add_text("Fields take what you typed when you press Enter or Tab, or click elsewhere; "
                         "Escape in a field gives its old value back.", wrap=620, color=(170, 170, 180))

    def _on_right_click(self) -> None:
        bid = self.canvas.hovered_block()
        if bid is None:
            return
        if bid not in self.state.selected:
            self.state.select([bid])
        self.menu_block = bid
        b = self.state.block(bid)
        dpg.configure_item(self.expand_item, enabled=bool(b and b.is_super))
        dpg.configure_item(self.open_item, enabled=bool(b and b.is_super))
        dpg.configure_item(self.data_item, show=bool(b and b.type == INPUT_TYPE))
        dpg.configure_item(self.code_item, enabled=self.has_code(bid))
        dpg.configure_item(self.menu_window, show=True, pos=dpg.get_mouse_pos(local=False))

    def _menu(self, action: Any) -> None:
        dpg.configure_item(self.menu_window, show=False)
        action()
