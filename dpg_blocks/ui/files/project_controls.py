"""Project controls: the File menu's actions, its dialogs, and the prompts that protect work.

* New / Open / Open Recent / Save / Save As and the file dialogs; a file that cannot be read is
  reported in a modal dialog and the open project stays as it was.
* "Unsaved changes": New, Open, Open Recent and Quit (the window's close button too) ask
  Save / Don't save / Cancel when the project is dirty.
* "Recover unsaved changes?" and "Custom code", the prompts opening a project may raise
  before anything runs: :class:`~dpg_blocks.ui.files.project_prompts.OpeningPrompts`, a mixin in
  ``project_prompts.py``.
* Recent files and the font size, kept in :class:`~dpg_blocks.ui.state.prefs.Preferences`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg

from dpg_blocks.core import ProjectFileError
from dpg_blocks.ui.files.project_prompts import PROMPT_W, OpeningPrompts
from dpg_blocks.ui.state.editor_state import EditorState
from dpg_blocks.ui.state.prefs import FONT_SCALES, Preferences
from dpg_blocks.ui.state.recovery import Recovery, RecoveryInfo

EXTENSION = ".dpgb"


def _viewport_size() -> tuple[int, int]:
    if dpg.is_viewport_ok():
        return dpg.get_viewport_client_width(), dpg.get_viewport_client_height()
    return 1600, 1000


class ProjectControls(OpeningPrompts):
    """The File menu's actions, the View menu's font sizes, and their dialogs and prompts."""

    def __init__(
        self,
        state: EditorState,
        prefs: Preferences | None = None,
        recovery: Recovery | None = None,
        quit_app: Callable[[], None] | None = None,
    ) -> None:
        self.state = state
        self.prefs = prefs if prefs is not None else Preferences.load()
        self.recovery = recovery
        self.quit_app = quit_app or dpg.stop_dearpygui
        self.closed_cleanly = False  # set by a quit the user confirmed (no recovery file needed)
        self.recent_menu: int | str = 0
        self.recent_items: dict[str, int | str] = {}  # path -> its Open Recent menu item
        self.font_items: dict[float, int | str] = {}
        self._dialogs: dict[str, int | str] = {}
        self._pending: Callable[[], None] | None = None  # what waits for the unsaved-changes answer
        self._offers: list[RecoveryInfo] = []  # recoveries still to offer, the shown one first
        self._trust_digest = ""
        self._centred: dict[int | str, tuple[int, int]] = {}  # modal -> the size it was centred for
        self._build_error()
        self._build_unsaved()
        self._build_recover()
        self._build_trust()
        state.subscribe(self._on_state)

    # -- building ----------------------------------------------------------------------------
    def _build_error(self) -> None:
        with dpg.window(label="Problem", modal=True, show=False, no_collapse=True, width=PROMPT_W,
                        autosize=True, no_saved_settings=True) as self.error_window:
            self.error_text = dpg.add_text("", wrap=PROMPT_W - 40)
            dpg.add_button(label="OK", width=80, callback=lambda: self._hide(self.error_window))

    def _build_unsaved(self) -> None:
        with dpg.window(label="Unsaved changes", modal=True, show=False, no_collapse=True, no_close=True,
                        width=PROMPT_W, autosize=True, no_saved_settings=True) as self.unsaved_window:
            self.unsaved_text = dpg.add_text("", wrap=PROMPT_W - 40)
            dpg.add_spacer(height=6)
            with dpg.group(horizontal=True):
                self.unsaved_save = dpg.add_button(label="Save", width=110, callback=lambda: self.unsaved_answer("save"))
                self.unsaved_discard = dpg.add_button(label="Don't save", width=110,
                                                      callback=lambda: self.unsaved_answer("discard"))
                self.unsaved_cancel = dpg.add_button(label="Cancel", width=110,
                                                     callback=lambda: self.unsaved_answer("cancel"))

    def attach_menus(self, recent_menu: int | str, font_menu: int | str) -> None:
        """Fill File › Open Recent and View › Font size (menus the editor's menu bar made)."""
        self.recent_menu = recent_menu
        for scale in FONT_SCALES:
            self.font_items[scale] = dpg.add_menu_item(
                label=f"{round(scale * 100)}%", check=True, parent=font_menu,
                callback=lambda s, a, u: self.set_font_scale(u), user_data=scale,
            )
        self.rebuild_recent()
        self.set_font_scale(self.prefs.font_scale, save=False)

    # -- modals ------------------------------------------------------------------------------
    def _show(self, window: int | str, width: int) -> None:
        """Show a modal centred (again on the next frames, once its height is known)."""
        vw, vh = _viewport_size()
        dpg.configure_item(window, show=True, pos=[max(0, (vw - width) // 2), max(0, vh // 4)])
        self._centred[window] = (0, 0)

    def _hide(self, window: int | str) -> None:
        dpg.configure_item(window, show=False)
        self._centred.pop(window, None)

    def tick(self) -> None:
        """Per frame: centre shown modals once their autosized size is known (cheap when none)."""
        if not self._centred:
            return
        vw, vh = _viewport_size()
        for window, done in list(self._centred.items()):
            if not dpg.does_item_exist(window) or not dpg.is_item_shown(window):
                self._centred.pop(window, None)
                continue
            w, h = dpg.get_item_rect_size(window)
            if (w, h) != done and w > 0 and h > 0:
                dpg.set_item_pos(window, [max(0, (vw - w) // 2), max(0, (vh - h) // 2)])
                self._centred[window] = (w, h)

    def show_error(self, title: str, message: str) -> None:
        """The Problem dialog (and the status bar) with ``message``."""
        dpg.configure_item(self.error_window, label=title)
        dpg.set_value(self.error_text, message)
        self._show(self.error_window, PROMPT_W)
        self.state.say(f"{title}: {message}")

    def _dialog(self, kind: str) -> int | str:
        if kind in self._dialogs:
            return self._dialogs[kind]

        def chosen(sender: Any, app_data: dict[str, Any]) -> None:
            path = app_data.get("file_path_name") or ""
            if not path:
                return
            if kind == "open":
                self.open(path)
            else:
                self._saved_as(path)

        def cancelled() -> None:
            if kind == "save":
                self._pending = None  # the save an unsaved-changes prompt asked for did not happen

        label = "Open project" if kind == "open" else "Save project as"
        with dpg.file_dialog(label=label, show=False, modal=True, width=720, height=440, callback=chosen,
                             cancel_callback=cancelled, directory_selector=False) as dialog:
            dpg.add_file_extension(EXTENSION, color=(120, 200, 255))
            dpg.add_file_extension(".*")
        self._dialogs[kind] = dialog
        return dialog

    # -- unsaved changes ---------------------------------------------------------------------
    @property
    def prompting(self) -> bool:
        """Whether the unsaved-changes prompt waits for an answer."""
        return self._pending is not None and dpg.is_item_shown(self.unsaved_window)

    def guard(self, action: Callable[[], None], doing: str) -> bool:
        """Run ``action`` now if nothing is unsaved, else after Save / Don't save (not on Cancel).

        Returns whether it ran now. ``doing`` completes "Save the changes before …?".
        """
        if not self.state.dirty:
            action()
            return True
        self._pending = action
        name = Path(self.state.path).name if self.state.path else "The untitled project"
        dpg.set_value(self.unsaved_text, f"{name} has unsaved changes.\n\nSave them before {doing}?")
        dpg.configure_item(self.unsaved_discard, show=True)
        self._show(self.unsaved_window, PROMPT_W)
        return False

    def save_first(self, action: Callable[[], None], doing: str) -> bool:
        """Run ``action`` once the project is saved to its file: now when it is, else after Save
        (Save / Cancel: no "Don't save", since ``action`` reads the file). Whether it ran now."""
        if self.state.path and not self.state.dirty:
            action()
            return True
        self._pending = action
        if self.state.path:
            text = f"{Path(self.state.path).name} has unsaved changes.\n\nSave them before {doing}?"
        else:
            text = f"The untitled project must be saved to a file before {doing}.\n\nSave it now?"
        dpg.set_value(self.unsaved_text, text)
        dpg.configure_item(self.unsaved_discard, show=False)
        self._show(self.unsaved_window, PROMPT_W)
        return False

    def unsaved_answer(self, choice: str) -> None:
        """"save", "discard" (Don't save) or "cancel"."""
        self._hide(self.unsaved_window)
        action, self._pending = self._pending, None
        if action is None or choice == "cancel":
            self.state.say("cancelled; nothing was changed")
            return
        if choice == "save":
            if not self.state.path:
                self._pending = action  # runs once the Save As dialog has saved
                dpg.show_item(self._dialog("save"))
                return
            if not self.save_to(self.state.path):
                return  # the error dialog says why; the unsaved work stays open
        action()

    def cancel_prompts(self) -> None:
        """Escape: the error dialog closes, the unsaved-changes prompt answers Cancel (the trust
        and recovery prompts wait for a real answer: each choice there keeps or loses something)."""
        if dpg.is_item_shown(self.error_window):
            self._hide(self.error_window)
        if dpg.is_item_shown(self.unsaved_window):
            self.unsaved_answer("cancel")

    # -- actions -----------------------------------------------------------------------------
    def new(self) -> None:
        """File › New (asks first when there are unsaved changes)."""
        self.guard(self.state.new, "starting a new project")

    def open_dialog(self) -> None:
        """File › Open… (asks first when there are unsaved changes)."""
        self.guard(lambda: dpg.show_item(self._dialog("open")), "opening another project")

    def open_recent(self, path: str) -> None:
        """File › Open Recent › ``path`` (asks first when there are unsaved changes)."""
        self.guard(lambda: self.open(path), f"opening {Path(path).name}")

    def open(self, path: str) -> bool:
        """Open ``path``; an unreadable file shows the error dialog and changes nothing."""
        try:
            self.state.open(path)
        except ProjectFileError as e:
            self.show_error("Cannot open the project", str(e))
            return False
        except OSError as e:
            if not Path(path).exists():
                self.prefs.remove_recent(path)
                self.rebuild_recent()
            self.show_error("Cannot open the project", f"{path}: {e}")
            return False
        self.remember(path)
        if not self.offer_recovery(path):
            self.check_trust()
        return True

    def save(self) -> bool:
        """File › Save (Save As for a project without a file)."""
        if not self.state.path:
            self.save_as_dialog()
            return False
        return self.save_to(self.state.path)

    def save_as_dialog(self) -> None:
        """File › Save As…: the file dialog."""
        dpg.show_item(self._dialog("save"))

    def save_to(self, path: str) -> bool:
        """Save to ``path`` (``.dpgb`` added when it has no extension); errors show the dialog."""
        if not Path(path).suffix:
            path += EXTENSION
        try:
            saved = self.state.save(path)
        except (ProjectFileError, OSError) as e:
            self.show_error("Cannot save the project", str(e))
            return False
        self.remember(saved)
        return True

    def _saved_as(self, path: str) -> None:
        action, self._pending = self._pending, None
        if self.save_to(path) and action is not None:
            action()

    def quit(self) -> None:
        """File › Quit, Ctrl+Q and the window's close button: asks when there are unsaved changes."""
        self.guard(self._quit_now, "closing dpg-blocks")

    def _quit_now(self) -> None:
        self.closed_cleanly = True
        if self.recovery is not None:
            self.recovery.close()  # a clean close leaves nothing to recover, now or later
        self.quit_app()

    # -- recent files and fonts --------------------------------------------------------------
    def remember(self, path: str) -> None:
        """Record ``path`` as the most recent file."""
        self.prefs.add_recent(path)
        self.rebuild_recent()
        if self.prefs.problem:
            self.state.say(self.prefs.problem)

    def rebuild_recent(self) -> None:
        """Refill File › Open Recent from the preferences (files that vanished are dropped)."""
        if not self.recent_menu or not dpg.does_item_exist(self.recent_menu):
            return
        dpg.delete_item(self.recent_menu, children_only=True)
        self.recent_items = {}
        files = self.prefs.recent_files()
        for path in files:
            p = Path(path)
            self.recent_items[path] = dpg.add_menu_item(
                label=f"{p.name}   ({p.parent})", parent=self.recent_menu,
                callback=lambda s, a, u: self.open_recent(u), user_data=path,
            )
        if files:
            dpg.add_separator(parent=self.recent_menu)
            dpg.add_menu_item(label="Clear the list", parent=self.recent_menu, callback=lambda: self.clear_recent())
        else:
            dpg.add_menu_item(label="(no recent projects)", parent=self.recent_menu, enabled=False)

    def clear_recent(self) -> None:
        """File › Open Recent › Clear the list."""
        self.prefs.clear_recent()
        self.rebuild_recent()

    def set_font_scale(self, scale: float, save: bool = True) -> None:
        """View › Font size: scale every font (kept in the preferences unless ``save`` is False)."""
        if save:
            self.prefs.set_font_scale(scale)
            scale = self.prefs.font_scale
        dpg.set_global_font_scale(scale)
        for s, item in self.font_items.items():
            dpg.set_value(item, abs(s - scale) < 1e-6)
