"""The code window of a Custom block: forward and backward as editable buffers with line numbers.

The block's code parameter holds one source; the window shows what comes before a top-level
``def backward`` as the forward buffer and the rest as the backward buffer, and joins them back
on Apply (ui/code/text.py). Apply sets the code and every declaration the window shows (ports,
values, gradient settings) as one undoable edit (:meth:`EditorState.apply_code`), which trusts
the typed code. Unapplied typing is kept across closing the window, and the window follows
undo/redo and the validation. The line numbers beside the buffers and the red row of the line an
error names are the :class:`~dpg_blocks.ui.code.gutter.Gutters` mixin (ui/code/gutter.py).
"""

from __future__ import annotations

import json
from typing import Any

import dearpygui.dearpygui as dpg

from dpg_blocks.ui.code.gutter import Gutters
from dpg_blocks.ui.code.text import CONTEXT_HELP, MODULE_HELP, code_summary, join_code, split_code
from dpg_blocks.ui.state.editor_state import EditorState

__all__ = ["CodeWindow", "code_summary", "join_code", "split_code", "CONTEXT_HELP"]

WINDOW_W, WINDOW_H = 1040, 700


class CodeWindow(Gutters):
    """One window, reused for whichever block is opened in it."""

    def __init__(self, state: EditorState, mono_font: int = 0) -> None:
        self.state = state
        self.mono_font = mono_font
        self.block_id: str | None = None
        self.project: Any = None  # the project the block belongs to (a reopened project closes it)
        self.fields: dict[str, int | str] = {}  # param name -> its input in the window
        self._shown: dict[str, Any] = {}  # what each field held when loaded from the document
        self._drafts: dict[str, dict[str, Any]] = {}  # block id -> unapplied field values at close
        self.marked: tuple[str, int] | None = None  # (buffer, row) drawn red, e.g. ("forward", 3)
        self.error_text = ""
        self._build()

    # -- building ------------------------------------------------------------------------------
    def _build(self) -> None:
        self._build_themes()
        with dpg.window(label="Code", show=False, width=WINDOW_W, height=WINDOW_H, no_saved_settings=True,
                        on_close=lambda: self.close()) as self.window:
            self.title = dpg.add_text("")
            self.params_group = dpg.add_group()
            dpg.add_separator()
            with dpg.group(horizontal=True):
                with dpg.child_window(width=-360, height=-58, border=True) as self.buffers_box:
                    self.forward_label = dpg.add_text("forward (and anything it uses)", color=(170, 170, 180))
                    with dpg.group(horizontal=True):
                        self.forward_gutter = dpg.add_group(width=34)
                        self.forward = dpg.add_input_text(multiline=True, width=-1, tab_input=True,
                                                          callback=lambda: self._typed())
                    self.forward_error = dpg.add_text("", wrap=600, show=False)
                    with dpg.group() as self.backward_group:  # a signal block's code only
                        dpg.add_spacer(height=6)
                        dpg.add_text("backward (optional: leave it empty and autograd differentiates forward)",
                                     color=(170, 170, 180))
                        with dpg.group(horizontal=True):
                            self.backward_gutter = dpg.add_group(width=34)
                            self.backward = dpg.add_input_text(multiline=True, width=-1, tab_input=True,
                                                               callback=lambda: self._typed())
                        self.backward_error = dpg.add_text("", wrap=600, show=False)
                with dpg.child_window(width=-1, height=-58, border=True):
                    self.help_groups: dict[bool, int] = {}  # takes the signal -> its help
                    for signal, title, help_rows in ((True, "What the code receives", CONTEXT_HELP),
                                                     (False, "What the class is", MODULE_HELP)):
                        with dpg.group(show=signal) as self.help_groups[signal]:
                            dpg.add_text(title, color=(250, 210, 40))
                            for name, what in help_rows:
                                dpg.add_text(name, color=(170, 200, 255))
                                dpg.add_text(what, wrap=300, indent=12)
            with dpg.group(horizontal=True):
                self.apply_button = dpg.add_button(label="Apply (Ctrl+Enter)", callback=lambda: self.apply())
                self.revert_button = dpg.add_button(label="Revert", callback=lambda: self.revert())
                dpg.add_button(label="Close", callback=lambda: self.close())
                dpg.add_spacer(width=10)
                self.note = dpg.add_text("", wrap=WINDOW_W - 300, color=(170, 170, 180))
        for error in (self.forward_error, self.backward_error):
            dpg.bind_item_theme(error, self._error_theme)
        for item in (self.forward, self.backward, self.forward_gutter, self.backward_gutter):
            if self.mono_font:
                dpg.bind_item_font(item, self.mono_font)
        for gutter in (self.forward_gutter, self.backward_gutter):
            dpg.bind_item_theme(gutter, self._gutter_theme)

    # -- opening and closing -------------------------------------------------------------------
    @property
    def shown(self) -> bool:
        return dpg.is_item_shown(self.window)

    def open(self, block_id: str) -> bool:
        """Show ``block_id``'s code (a block with a code parameter, e.g. Custom)."""
        b = self.state.block(block_id)
        spec = self.state.catalog.spec(b.type) if b is not None else None
        if b is None or spec is None or not spec.code_params():
            self.state.say("only a block with code (Custom) has a code window" if b is not None
                           else f"no block {block_id!r}")
            return False
        if self.shown and self.block_id != block_id:
            self.close()
        self.block_id, self.project = block_id, self.state.project
        # forward(ctx, …) and backward for a block taking the signal (Custom); else one class
        dpg.set_value(self.forward_label, "forward (and anything it uses)" if spec.takes_signal
                      else "the class (and anything it uses)")
        dpg.configure_item(self.backward_group, show=spec.takes_signal)
        for signal, group in self.help_groups.items():
            dpg.configure_item(group, show=signal == spec.takes_signal)
        self._fill_params(spec, b.params)
        self._load(b.params)
        draft = self._drafts.pop(block_id, None)
        if draft:
            self._set_fields(draft)
            self.note_text("your unapplied changes from before are back; Revert shows the block's code")
        else:
            self.note_text("")
        self._retitle()
        self.show_record()
        if not self.shown:
            w, h = self._viewport()
            dpg.configure_item(self.window, show=True, pos=(max(0, (w - WINDOW_W) // 2), max(30, (h - WINDOW_H) // 2)))
        dpg.focus_item(self.window)
        return True

    def close(self) -> None:
        """Hide the window; unapplied changes are kept for when the block is opened again."""
        if self.block_id is not None and self.modified and self.state.block(self.block_id) is not None:
            self._drafts[self.block_id] = self._values()
        dpg.configure_item(self.window, show=False)
        self.block_id = None

    def _viewport(self) -> tuple[int, int]:
        if dpg.is_viewport_ok():
            return dpg.get_viewport_client_width(), dpg.get_viewport_client_height()
        return 1600, 1000

    # -- fields --------------------------------------------------------------------------------
    def _fill_params(self, spec: Any, params: dict[str, Any]) -> None:
        """The block's declarations (every parameter but the code), typed like the Network pane."""
        dpg.delete_item(self.params_group, children_only=True)
        self.fields = {"forward": self.forward, "backward": self.backward}
        row = dpg.add_group(horizontal=True, parent=self.params_group)
        for i, p in enumerate(q for q in spec.params if q.type != "code"):
            if i and i % 3 == 0:
                row = dpg.add_group(horizontal=True, parent=self.params_group)
            dpg.add_text(p.label or p.name, color=(170, 170, 180), parent=row)
            if p.type == "bool":
                item = dpg.add_checkbox(parent=row)
            elif p.type == "float":
                item = dpg.add_input_float(format="%g", step=0, width=120, parent=row)
            elif p.type == "int":
                item = dpg.add_input_int(step=0, width=120, parent=row)
            elif p.type == "choice":
                item = dpg.add_combo(p.choices or [], width=120, parent=row)
            else:
                item = dpg.add_input_text(width=200, parent=row,
                                          hint='{"alpha": 0.5}' if p.type == "values" else "")
            if p.doc:
                with dpg.tooltip(item):
                    dpg.add_text(p.doc, wrap=360)
            self.fields[p.name] = item
            dpg.add_spacer(width=14, parent=row)

    def _widget_value(self, name: str, value: Any) -> Any:
        spec = self._spec()
        p = spec.param(name) if spec is not None else None
        kind = p.type if p is not None else "str"
        if kind == "values":
            return json.dumps(value or {}, ensure_ascii=False) if value else ""
        if kind in ("names", "shape", "ints"):
            return ", ".join(str(v) for v in value or [])
        if kind == "float":
            return float(value or 0.0)
        if kind == "int":
            return int(value or 0)
        if kind == "bool":
            return bool(value)
        return "" if value is None else str(value)

    def _spec(self) -> Any:
        b = self.state.block(self.block_id) if self.block_id else None
        return self.state.catalog.spec(b.type) if b is not None else None

    def _code_param(self) -> str:
        spec = self._spec()
        return spec.code_params()[0] if spec is not None else "code"

    def _split(self, source: str) -> tuple[str, str]:
        """The two buffers' text; a class (no signal) is all one buffer, whatever it defines."""
        spec = self._spec()
        return split_code(source) if spec is None or spec.takes_signal else (source, "")

    def _load(self, params: dict[str, Any]) -> None:
        """Fill every field from the document and remember it as what is shown unchanged."""
        spec = self._spec()
        forward, backward = self._split(str(params.get(self._code_param()) or ""))
        values: dict[str, Any] = {"forward": forward, "backward": backward}
        for name in self.fields:
            if name not in ("forward", "backward"):
                default = spec.param(name).default if spec is not None and spec.param(name) else None
                values[name] = self._widget_value(name, params.get(name, default))
        self._set_fields(values)
        self._shown = dict(values)

    def _set_fields(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            if name in self.fields:
                dpg.set_value(self.fields[name], value)
        self._typed()

    def _values(self) -> dict[str, Any]:
        return {name: dpg.get_value(item) for name, item in self.fields.items()}

    @property
    def modified(self) -> bool:
        """Whether the window holds changes not applied to the block."""
        return self.block_id is not None and self._values() != self._shown

    def set_buffer(self, which: str, text: str) -> None:
        """Put ``text`` in the forward or backward buffer (what typing there does)."""
        dpg.set_value(self.forward if which == "forward" else self.backward, text)
        self._typed()

    # -- applying ------------------------------------------------------------------------------
    def apply(self) -> bool:
        """Apply the buffers and declarations to the block as one undoable edit (Ctrl+Enter)."""
        if self.block_id is None:
            return False
        spec = self._spec()
        if spec is None:
            self.state.say("the block's type is not known (is the engine ready?)")
            return False
        values = self._values()
        # Tab in a buffer types a tab character; Python refuses mixed indentation, spaces it is
        forward, backward = (str(values.pop(k)).expandtabs(4) for k in ("forward", "backward"))
        params: dict[str, Any] = {self._code_param(): join_code(forward, backward)}
        for name, raw in values.items():
            if spec.param(name) is not None and spec.param(name).type == "values":
                try:
                    raw = json.loads(raw) if str(raw).strip() else {}
                except ValueError as e:
                    return self._refuse(f"values: {e.msg} at column {e.colno}; write them as JSON, e.g. "
                                        '{"alpha": 0.5, "mode": "fast"}')
            params[name] = raw
        if not self.state.apply_code(self.block_id, params):
            if self.state.status.endswith("nothing changed"):
                self.note_text("nothing to apply: the window shows the block's code as it is")
                return False
            return self._refuse(self.state.status)
        b = self.state.block(self.block_id)
        if b is not None:
            self._load(b.params)  # line numbers follow the code as the engine will read it
        self.note_text("applied (Ctrl+Z undoes it); validating…")
        self.show_record()
        return True

    def _refuse(self, message: str) -> bool:
        self._show_error(message, "forward")
        return False

    def revert(self) -> None:
        """Show the block's code and declarations as they are in the document."""
        b = self.state.block(self.block_id) if self.block_id else None
        if b is not None:
            self._load(b.params)
            self.note_text("")
            self.show_record()

    def note_text(self, text: str) -> None:
        dpg.set_value(self.note, text)

    # -- following the document and the validation ---------------------------------------------
    def refresh(self) -> None:
        """After a document change (undo, redo, open): follow the block unless the user typed."""
        if self.block_id is None:
            return
        b = self.state.block(self.block_id)
        if b is None or self.state.project is not self.project:
            self._drafts.pop(self.block_id, None)
            self.close()  # the block was deleted, or another project was opened
            self._drafts = {k: v for k, v in self._drafts.items() if self.state.block(k) is not None}
            return
        self._retitle()
        if not self.modified:
            self._load(b.params)
        elif self._shown != self._loaded_from(b.params):
            self.note_text("the block changed since (undo, another edit): Apply replaces it with this "
                           "window's code, Revert shows the block's")
        self.show_record()

    def _loaded_from(self, params: dict[str, Any]) -> dict[str, Any]:
        forward, backward = self._split(str(params.get(self._code_param()) or ""))
        values: dict[str, Any] = {"forward": forward, "backward": backward}
        for name in self.fields:
            if name not in ("forward", "backward"):
                values[name] = self._widget_value(name, params.get(name))
        return values

    def _retitle(self) -> None:
        b = self.state.block(self.block_id) if self.block_id else None
        if b is None:
            return
        path = " › ".join(self.state.project.path_of(b.id))
        dpg.configure_item(self.window, label=f"Code of {path}###code_window")
        dpg.set_value(self.title, f"{path}   ({b.type})")
