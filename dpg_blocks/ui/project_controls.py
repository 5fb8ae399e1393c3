"""Project controls: New / Open / Save / Save As, file dialogs, and the error dialog.

A file that cannot be read is reported in a modal dialog; the open project stays as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg

from dpg_blocks.core import ProjectFileError

from .state import EditorState

EXTENSION = ".dpgb"


class ProjectControls:
    """The File menu's actions and their dialogs."""

    def __init__(self, state: EditorState) -> None:
        self.state = state
        self.error_window = 0
        self.error_text = 0
        self._dialogs: dict[str, int] = {}
        with dpg.window(label="Problem", modal=True, show=False, no_collapse=True, width=560,
                        autosize=True) as self.error_window:
            self.error_text = dpg.add_text("", wrap=520)
            dpg.add_button(label="OK", width=80, callback=lambda: dpg.configure_item(self.error_window, show=False))

    # -- dialogs ---------------------------------------------------------------------------
    def _dialog(self, kind: str, callback: Callable[[str], None]) -> int:
        if kind in self._dialogs:
            return self._dialogs[kind]

        def chosen(sender: Any, app_data: dict[str, Any]) -> None:
            path = app_data.get("file_path_name") or ""
            if path:
                callback(path)

        label = "Open project" if kind == "open" else "Save project as"
        with dpg.file_dialog(label=label, show=False, modal=True, width=720, height=440,
                             callback=chosen, directory_selector=False) as dialog:
            dpg.add_file_extension(EXTENSION, color=(120, 200, 255))
            dpg.add_file_extension(".*")
        self._dialogs[kind] = dialog
        return dialog

    def show_error(self, title: str, message: str) -> None:
        dpg.configure_item(self.error_window, label=title)
        dpg.set_value(self.error_text, message)
        vw, vh = (dpg.get_viewport_client_width(), dpg.get_viewport_client_height()) if dpg.is_viewport_ok() else (800, 600)
        dpg.configure_item(self.error_window, show=True, pos=[vw // 2 - 280, vh // 3])
        self.state.say(f"{title}: {message}")

    # -- actions ---------------------------------------------------------------------------
    def new(self) -> None:
        self.state.new()

    def open_dialog(self) -> None:
        dpg.show_item(self._dialog("open", self.open))

    def open(self, path: str) -> bool:
        """Open ``path``; an unreadable file shows the error dialog and changes nothing."""
        try:
            self.state.open(path)
        except ProjectFileError as e:
            self.show_error("Cannot open the project", str(e))
            return False
        except OSError as e:
            self.show_error("Cannot open the project", f"{path}: {e}")
            return False
        return True

    def save(self) -> bool:
        if not self.state.path:
            self.save_as_dialog()
            return False
        return self.save_to(self.state.path)

    def save_as_dialog(self) -> None:
        dpg.show_item(self._dialog("save", self.save_to))

    def save_to(self, path: str) -> bool:
        if not Path(path).suffix:
            path += EXTENSION
        try:
            self.state.save(path)
        except (ProjectFileError, OSError) as e:
            self.show_error("Cannot save the project", str(e))
            return False
        return True
