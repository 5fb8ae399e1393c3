"""File › Export to PyTorch / ONNX…: choose a ``.py`` file (the standalone script) or an
``.onnx`` file (the default order's inference graph); the engine writes it.

The GUI never imports torch, so the export is a protocol command (``Export``) that the engine
answers with ``ExportResult``; the status line says where the file went or why it did not.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg

from dpg_blocks.ui.state.editor_state import EditorState


class ExportControls:
    """The export file dialog, the ``Export`` command and its answer in the status line."""

    def __init__(self, state: EditorState, client: Callable[[], Any]) -> None:
        self.state = state
        self.client = client  # the editor's engine client (it starts after the panes)
        self.request_id: int | None = None
        self._dialog: int | str | None = None

    def show(self) -> None:
        """File › Export to PyTorch / ONNX…: the save dialog, named after the project."""
        if self._dialog is None:
            with dpg.file_dialog(label="Export to PyTorch (.py) or ONNX (.onnx)", show=False, modal=True,
                                 width=720, height=440,
                                 callback=lambda s, a: self.export_to(a.get("file_path_name") or ""),
                                 directory_selector=False) as self._dialog:
                dpg.add_file_extension(".py", color=(120, 200, 255))
                dpg.add_file_extension(".onnx", color=(200, 170, 255))
        stem = Path(self.state.path).stem if self.state.path else "model"
        dpg.configure_item(self._dialog, default_path=self.state.project_dir, default_filename=stem)
        dpg.show_item(self._dialog)

    def export_to(self, path: str) -> int | None:
        """Ask the engine to write ``path``: an ``.onnx`` path gets the ONNX graph, anything else
        the script (``.py`` added when there is no suffix); the request id."""
        from dpg_blocks import protocol as m

        client = self.client()
        if not path:
            return None
        if client is None:
            self.state.say("the engine is not running; cannot export")
            return None
        if not Path(path).suffix:
            path += ".py"
        self.request_id = client.request_id()
        fmt = "onnx" if Path(path).suffix.lower() == ".onnx" else "py"
        client.send(m.Export(project=self.state.project_dict(), project_dir=self.state.project_dir, path=path,
                             request_id=self.request_id, format=fmt))
        self.state.say(f"exporting to {path}…")
        return self.request_id

    def on_result(self, ev: Any) -> None:
        """The engine's ExportResult: where the file went, or why it did not."""
        if ev.request_id != self.request_id:
            return
        self.request_id = None
        if ev.ok and Path(ev.path).suffix.lower() == ".onnx":
            self.state.say(f"exported the inference graph to {ev.path} (ONNX, batch dimension dynamic)")
        elif ev.ok:
            self.state.say(f"exported to {ev.path} (needs only torch and numpy: python {Path(ev.path).name})")
        else:
            self.state.say("export failed: " + " ".join(ev.error.split()))  # one line for the status bar
