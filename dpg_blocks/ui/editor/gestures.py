"""What the mouse and the keys do in the editor: the input handlers and the shortcuts' actions.

:class:`Gestures` is a mixin of :class:`~dpg_blocks.ui.editor.app.Editor`. ``ui/editor/shortcuts.py`` holds the
table of keys and the :class:`~dpg_blocks.ui.editor.shortcuts.Keyboard` that reads them; this module
holds the editor's side: the handler registry, whether a text field has the keyboard (its keys
are text, not shortcuts), and the small methods the table names by string.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dearpygui.dearpygui as dpg

if TYPE_CHECKING:
    from dpg_blocks.ui.canvas.graph_canvas import Canvas
    from dpg_blocks.ui.editor.shortcuts import Keyboard
    from dpg_blocks.ui.state.editor_state import EditorState

INPUT_ITEMS = ("mvAppItemType::mvInputText", "mvAppItemType::mvInputInt", "mvAppItemType::mvInputFloat")


class Gestures:
    """Mouse and key handlers, and the shortcut actions (the host builds the panes)."""

    state: EditorState
    canvas: Canvas
    keyboard: Keyboard

    def _handlers(self) -> None:
        with dpg.handler_registry():
            dpg.add_mouse_click_handler(button=dpg.mvMouseButton_Right, callback=self._on_right_click)
            dpg.add_mouse_click_handler(button=dpg.mvMouseButton_Left, callback=self._on_left_click)
            dpg.add_mouse_double_click_handler(button=dpg.mvMouseButton_Left, callback=self._on_double_click)
            dpg.add_mouse_release_handler(button=dpg.mvMouseButton_Left, callback=lambda: self.canvas.record_moves())
            dpg.add_mouse_wheel_handler(callback=lambda s, delta: self._on_wheel(delta))
            self.key_press_handler = dpg.add_key_press_handler(callback=self._on_key)
            self.key_release_handler = dpg.add_key_release_handler(
                callback=lambda s, key: self.keyboard.on_release(key))

    def _typing(self) -> bool:
        """Whether a text field has the keyboard: its keys are text, not shortcuts.

        Not only ``get_focused_item()``: for a field in a pane (the Blocks search) it names the
        pane's window, and Delete or Backspace typed there deleted the selected blocks."""
        item = dpg.get_focused_item()
        if item and dpg.does_item_exist(item) and dpg.get_item_type(item) in INPUT_ITEMS and dpg.is_item_active(item):
            return True
        return any(dpg.get_item_type(i) in INPUT_ITEMS and dpg.get_item_state(i).get("active") for i in dpg.get_all_items())

    def _on_key(self, sender: Any, key: int) -> None:
        if key in (dpg.mvKey_Return, dpg.mvKey_NumPadEnter) and dpg.is_item_shown(self.goto_window):
            items = dpg.get_item_configuration(self.goto_list).get("items") or []
            if items:
                self._goto_pick(items[0])
            return
        if key in (dpg.mvKey_Return, dpg.mvKey_NumPadEnter) and self.data.typing_path():
            self.data.load()  # Enter in Add Data…'s path field loads it
            return
        self.keyboard.on_press(key)

    def _on_left_click(self) -> None:
        if dpg.is_item_shown(self.menu_window) and not dpg.is_item_hovered(self.menu_window):
            dpg.configure_item(self.menu_window, show=False)
        elif self.canvas.empty_spot_hovered():
            self.clear_selection()

    def _on_double_click(self) -> None:
        bid = self.canvas.hovered_block()
        b = self.state.block(bid) if bid else None
        if b is not None and b.is_super:
            self.state.enter(b.id)
        elif b is not None and self.has_code(b.id):
            self.code_window.open(b.id)

    # -- what the shortcuts run (named in ui/editor/shortcuts.py) --------------------------------------
    def shortcut_new(self) -> None:
        self.controls.new()

    def shortcut_open(self) -> None:
        self.controls.open_dialog()

    def shortcut_save(self) -> None:
        self.controls.save()

    def shortcut_quit(self) -> None:
        self.controls.quit()

    def shortcut_undo(self) -> None:
        self.state.undo()

    def shortcut_redo(self) -> None:
        self.state.redo()

    def shortcut_layout(self) -> None:
        self.canvas.auto_layout()

    def shortcut_frame(self) -> None:
        self.canvas.frame_all()

    # View › Zoom: the open graph's zoom, about the mouse for the wheel, else the canvas' centre
    def zoom_in(self) -> None:
        self.canvas.zoom_step(1)

    def zoom_out(self) -> None:
        self.canvas.zoom_step(-1)

    def zoom_reset(self) -> None:
        self.canvas.zoom_to(1.0)

    def zoom_to_fit(self) -> None:
        self.canvas.zoom_to_fit()

    def _on_wheel(self, delta: float) -> None:
        """Ctrl+wheel over the canvas zooms about the mouse (a wheel notch is one zoom step)."""
        ctrl = self.keyboard.ctrl_down or any(dpg.is_key_down(k) for k in self.keyboard.ctrl_keys)
        if not ctrl or not delta or self.canvas.mouse_doc_pos() is None:
            return
        if any(dpg.is_item_shown(w) and dpg.get_item_state(w).get("hovered")
               for w in (self.menu_window, self.help_window, self.code_window.window)):
            return  # a window over the canvas has the wheel
        x, y = dpg.get_mouse_pos(local=False)
        self.canvas.zoom_step(1 if delta > 0 else -1, about=(x, y))

    def shortcut_leave(self) -> None:
        self.state.leave()

    def delete_selected(self) -> None:
        self.canvas.delete_selected()

    def close_popups(self) -> None:
        """Escape: close an open menu, the context menu and any dialog that is open (the answer
        is Cancel)."""
        self.menus.close()
        for window in (self.menu_window, self.rename_window, self.goto_window, self.help_window, self.data.window):
            if window is not None and dpg.does_item_exist(window) and dpg.is_item_shown(window):
                dpg.configure_item(window, show=False)
        self.controls.cancel_prompts()
        if self.drops.prompting:
            self.drops.answer(False)
