"""File › Import PyTorch module…: a ``.py`` file's nn.Module becomes a project the editor opens.

The GUI never imports torch, so the import is a protocol command (``ImportModule``) that the
engine runs as ``dpg-blocks import`` does and answers with ``ImportResult``. On success the new
project opens (asking first about unsaved changes); on failure the dialog and the status line
say why, naming the node (e.g. an unsupported operation).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg

from dpg_blocks.ui.files.project_controls import ProjectControls
from dpg_blocks.ui.state.editor_state import EditorState

DIALOG_W = 560
PROJECT_SUFFIX = ".dpgb"


def parse_shapes(text: str) -> list[list[int]]:
    """``"1,8,8; 3,32,32"`` -> ``[[1, 8, 8], [3, 32, 32]]`` (one shape per input); ValueError if not."""
    shapes = []
    for part in text.replace("x", ",").split(";"):
        if not part.strip():
            continue
        try:
            shape = [int(v) for v in part.split(",") if v.strip()]
        except ValueError:
            raise ValueError(f"a shape is numbers separated by commas, e.g. 1,8,8; got {part.strip()!r}") from None
        if not shape or any(d < 1 for d in shape):
            raise ValueError(f"a shape is positive numbers, e.g. 1,8,8; got {part.strip()!r}")
        shapes.append(shape)
    if not shapes:
        raise ValueError("give the input shape (one sample, no batch), e.g. 1,8,8; separate several with ;")
    return shapes


def default_out_path(py_path: str, class_name: str) -> str:
    """Where the project goes unless the user says otherwise: ``<Class>.dpgb`` next to the file."""
    if not py_path.strip() or not class_name.strip():
        return ""
    return str(Path(py_path.strip()).expanduser().parent / f"{class_name.strip()}{PROJECT_SUFFIX}")


class ImportControls:
    """The import dialog (built on first use), the ``ImportModule`` command and its answer."""

    def __init__(self, state: EditorState, client: Callable[[], Any], controls: ProjectControls) -> None:
        self.state = state
        self.client = client  # the editor's engine client (it starts after the panes)
        self.controls = controls  # its guarded open asks about unsaved changes first
        self.request_id: int | None = None
        self.window: int | str | None = None
        self._file_dialog: int | str | None = None
        self._out_edited = False  # the user typed a project path: stop suggesting one
        self._what = ""  # "Class from file.py", for the status line

    # -- building ------------------------------------------------------------------------------
    def _build(self) -> None:
        with dpg.window(label="Import PyTorch module", modal=True, show=False, no_collapse=True, width=DIALOG_W,
                        autosize=True, no_saved_settings=True) as self.window:
            dpg.add_text("Python file")
            with dpg.group(horizontal=True):
                self.file_input = dpg.add_input_text(width=DIALOG_W - 110, hint="model.py",
                                                     callback=lambda: self._suggest_out())
                dpg.add_button(label="Browse…", callback=lambda: self._browse())
            self.class_input = dpg.add_input_text(label="class name", width=DIALOG_W - 200, hint="MyNet",
                                                  callback=lambda: self._suggest_out())
            self.shape_input = dpg.add_input_text(label="input shape(s)", width=DIALOG_W - 200,
                                                  hint="1,8,8   (one sample, no batch; several: 1,8,8; 10)")
            self.dtype_input = dpg.add_input_text(label="input types", width=DIALOG_W - 200,
                                                  hint="float32 (default) or int64 per input, e.g. int64 for token ids")
            self.args_input = dpg.add_input_text(label="constructor args (JSON)", width=DIALOG_W - 200,
                                                 hint='optional: [64] or {"width": 8}')
            self.flat_check = dpg.add_checkbox(label="one level of blocks (no SuperBlock per submodule)")
            self.out_input = dpg.add_input_text(label="save project as", width=DIALOG_W - 200,
                                                callback=lambda: self._out_typed())
            self.error_text = dpg.add_text("", wrap=DIALOG_W - 40, color=(255, 110, 110))
            with dpg.group(horizontal=True):
                self.import_button = dpg.add_button(label="Import", width=110, callback=lambda: self.submit())
                dpg.add_button(label="Cancel", width=110, callback=lambda: self.hide())
        with dpg.file_dialog(label="Python file to import", show=False, modal=True, width=720, height=440,
                             callback=lambda s, a: self._picked(a.get("file_path_name") or ""),
                             directory_selector=False) as self._file_dialog:
            dpg.add_file_extension(".py", color=(120, 200, 255))

    def show(self) -> None:
        """File › Import PyTorch module…: the dialog, its fields kept from the last time."""
        if self.window is None:
            self._build()
        assert self.window is not None
        dpg.set_value(self.error_text, "")
        self.controls._show(self.window, DIALOG_W)

    def hide(self) -> None:
        """Close the dialog (an import already sent still answers in the status line)."""
        if self.window is not None:
            self.controls._hide(self.window)

    def _browse(self) -> None:
        assert self._file_dialog is not None
        dpg.configure_item(self._file_dialog, default_path=self.state.project_dir)
        dpg.show_item(self._file_dialog)

    def _picked(self, path: str) -> None:
        if path:
            dpg.set_value(self.file_input, path)
            self._suggest_out()

    def _out_typed(self) -> None:
        self._out_edited = bool(dpg.get_value(self.out_input).strip())

    def _suggest_out(self) -> None:
        if not self._out_edited:
            dpg.set_value(self.out_input, default_out_path(dpg.get_value(self.file_input),
                                                           dpg.get_value(self.class_input)))

    # -- the command -----------------------------------------------------------------------------
    def fill(self, path: str, class_name: str, shapes: str, args_json: str = "", out_path: str = "") -> None:
        """Set the fields as a user would type them (``out_path`` "": the suggested one)."""
        if self.window is None:
            self._build()
        dpg.set_value(self.file_input, path)
        dpg.set_value(self.class_input, class_name)
        dpg.set_value(self.shape_input, shapes)
        dpg.set_value(self.args_input, args_json)
        dpg.set_value(self.out_input, out_path)
        self._out_typed()
        self._suggest_out()

    def offer(self, path: str, class_name: str) -> None:
        """The dialog on ``path`` with ``class_name`` chosen (a ``.py`` dropped on the window);
        the input shapes stay as last typed."""
        if self.window is None:
            self._build()
        dpg.set_value(self.file_input, path)
        dpg.set_value(self.class_input, class_name)
        self._suggest_out()
        self.show()
        dpg.focus_item(self.shape_input)  # the one field the file cannot tell

    def _fail(self, error: str) -> None:
        """Show why in the dialog and (one line) in the status line."""
        if self.window is not None:
            dpg.set_value(self.error_text, error)
        self.state.say("import failed: " + " ".join(error.split()))

    def submit(self) -> int | None:
        """The dialog's Import: check the fields and send ImportModule; the request id."""
        from dpg_blocks import protocol as m

        path, class_name = dpg.get_value(self.file_input).strip(), dpg.get_value(self.class_input).strip()
        args_json, out = dpg.get_value(self.args_input).strip(), dpg.get_value(self.out_input).strip()
        out = out or default_out_path(path, class_name)
        if out and not Path(out).suffix:
            out += PROJECT_SUFFIX
        client = self.client()
        try:
            if not path:
                raise ValueError("choose the Python file that defines the module")
            if not class_name.isidentifier():
                raise ValueError(f"name the nn.Module class, e.g. MyNet; got {class_name!r}")
            shapes = parse_shapes(dpg.get_value(self.shape_input))
            if args_json:
                try:
                    args = json.loads(args_json)
                except ValueError as e:
                    raise ValueError(f"the constructor args are not JSON ({e})") from None
                if not isinstance(args, list | dict):
                    raise ValueError('the constructor args are a JSON list ([64]) or object ({"width": 8})')
            if client is None:
                raise ValueError("the engine is not running; cannot import")
            dtypes = [d.strip() for d in dpg.get_value(self.dtype_input).replace(";", ",").split(",") if d.strip()]
            cmd = m.ImportModule(path=str(Path(path).expanduser()), class_name=class_name, input_shapes=shapes,
                                 out_path=str(Path(out).expanduser()), request_id=client.request_id(),
                                 args_json=args_json, input_dtypes=dtypes, flat=bool(dpg.get_value(self.flat_check)))
        except ValueError as e:  # a ProtocolError too
            self._fail(str(e))
            return None
        dpg.set_value(self.error_text, "")
        self.request_id = cmd.request_id
        self._what = f"{class_name} from {Path(path).name}"
        client.send(cmd)
        self.state.say(f"importing {self._what}…")
        return self.request_id

    def on_result(self, ev: Any) -> None:
        """The engine's ImportResult: open the new project (guarded), or say why not."""
        if ev.request_id != self.request_id:
            return
        self.request_id = None
        if not ev.ok:
            self._fail(ev.error)
            return
        self.hide()
        what, summary = self._what, ev.summary.splitlines()[0] if ev.summary else ev.path

        def open_it() -> None:
            if self.controls.open(ev.path):
                self.state.say(f"imported {what}: {summary}")

        if not self.controls.guard(open_it, f"opening the imported {Path(ev.path).name}"):
            self.state.say(f"imported {what} into {ev.path}; answer the prompt to open it")
