"""The Debug pane: the selected block's status, message, traceback, input/output shapes."""

from __future__ import annotations

import dearpygui.dearpygui as dpg

from dpg_blocks.ui.canvas.graph_canvas import shape_text
from dpg_blocks.ui.state.editor_state import EditorState
from dpg_blocks.ui.theme import Themes

STATUS_WORDS = {
    "ok": "ok",
    "error": "error",
    "upstream-error": "not processed: an upstream block failed",
    "idle": "idle",
}


class DebugPane:
    """Redrawn from :class:`EditorState` on selection and validation changes."""

    def __init__(self, state: EditorState, themes: Themes, parent: int | str) -> None:
        self.state = state
        self.themes = themes
        with dpg.group(parent=parent):
            self.title = dpg.add_text("Select a block to see its status and shapes.")
            self.status = dpg.add_text("")
            self.message = dpg.add_text("", wrap=0)
            # a custom backward's torch.autograd.gradcheck, when it passed (a failure is the message)
            self.gradcheck = dpg.add_text("", wrap=0, color=(90, 200, 110), show=False)
            with dpg.group(horizontal=True):
                with dpg.group():
                    dpg.add_text("inputs", color=(170, 170, 180))
                    self.inputs = dpg.add_text("")
                dpg.add_spacer(width=40)
                with dpg.group():
                    dpg.add_text("outputs", color=(170, 170, 180))
                    self.outputs = dpg.add_text("")
            self.traceback_header = dpg.add_collapsing_header(label="traceback", show=False)
            self.traceback = dpg.add_text("", parent=self.traceback_header, wrap=0)

    def text(self) -> str:
        """Everything the pane shows, as text (what a test reads)."""
        items = (self.title, self.status, self.message, self.gradcheck, self.inputs, self.outputs, self.traceback)
        return "\n".join(str(dpg.get_value(i) or "") for i in items)

    def update(self) -> None:
        sel = self.state.selected
        block = self.state.block(sel[-1]) if sel else None
        if block is None:
            dpg.set_value(self.title, "Select a block to see its status and shapes.")
            for item in (self.status, self.message, self.gradcheck, self.inputs, self.outputs, self.traceback):
                dpg.set_value(item, "")
            dpg.configure_item(self.traceback_header, show=False)
            return
        path = " › ".join(self.state.project.path_of(block.id))
        kind = "SuperBlock" if block.is_super else block.type
        dpg.set_value(self.title, f"{path}   ({kind})")
        rec = self.state.record(block.id)
        if rec is None:
            waiting = self.state.validation.pending or not self.state.validation.received
            dpg.set_value(self.status, "validating…" if waiting else "not validated")
            dpg.bind_item_theme(self.status, 0)
            for item in (self.message, self.gradcheck, self.inputs, self.outputs, self.traceback):
                dpg.set_value(item, "")
            dpg.configure_item(self.traceback_header, show=False)
            return
        status = rec["status"]
        words = STATUS_WORDS.get(status, status)
        if rec.get("error_type"):
            words += f" ({rec['error_type']})"
        if rec.get("failing_path"):
            words += f" in {' › '.join(rec['failing_path'])}"
        dpg.set_value(self.status, f"status: {words}")
        dpg.bind_item_theme(self.status, self.themes.status_text.get(status, 0))
        dpg.set_value(self.message, rec.get("message") or "")
        check = rec.get("gradcheck") or ""
        dpg.set_value(self.gradcheck, f"gradient check {check}" if check else "")
        dpg.configure_item(self.gradcheck, show=bool(check))
        dpg.set_value(self.inputs, _tensors(rec.get("inputs", [])))
        dpg.set_value(self.outputs, _tensors(rec.get("outputs", [])))
        tb = rec.get("traceback") or ""
        dpg.set_value(self.traceback, tb)
        dpg.configure_item(self.traceback_header, show=bool(tb))


def _tensors(infos: list[dict]) -> str:
    if not infos:
        return "—"
    rows = []
    for t in infos:
        shape = shape_text(t) or "—"
        rows.append(f"{t['port']}: {shape}  {t.get('dtype') or ''}".rstrip())
    return "\n".join(rows)
