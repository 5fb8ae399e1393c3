"""The Network Menu (left): the blocks as a tree, SuperBlocks as branches, params editable.

The tree is rebuilt only when the structure (blocks, names, nesting) changes; a parameter
edit updates its widget in place, so the field being typed in is never destroyed under the
user.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import dearpygui.dearpygui as dpg

from dpg_blocks.core.graph import Block, Graph

if TYPE_CHECKING:
    from dpg_blocks.blocks.spec import ParamSpec

from dpg_blocks.ui.code.window import code_summary
from dpg_blocks.ui.fields import add_typed, show
from dpg_blocks.ui.state.editor_state import EditorState

LIST_TYPES = ("shape", "ints", "names")


def _as_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


class NetworkTree:
    """Tree of the document; each block's node holds its name and parameters."""

    def __init__(self, state: EditorState, parent: int | str, on_show: Callable[[str], Any] | None = None,
                 on_add_data: Callable[[str], Any] | None = None,
                 on_edit_code: Callable[[str], Any] | None = None) -> None:
        self.state = state
        self.on_show = on_show  # "Show": open the block's graph on the canvas and centre it
        self.on_add_data = on_add_data  # an Input's "Add Data…" (ui/files/data_dialog.py)
        self.data_buttons: dict[str, int] = {}  # Input block id -> its Add Data… button
        self.on_edit_code = on_edit_code  # "Edit code…": the block's code window (ui/code/window.py)
        self.code_buttons: dict[str, int] = {}  # block id -> its "Edit code…" button
        self.code_summaries: dict[tuple[str, str], int] = {}  # (block id, param) -> what the code defines
        self.show_buttons: dict[str, int] = {}
        with dpg.group(parent=parent):
            self.body = dpg.add_child_window(border=False, width=-1, height=-1)
        self._structure: Any = None
        self.widgets: dict[tuple[str, str], int] = {}  # (block id, param) -> input item
        self.labels: dict[str, int] = {}  # block id -> tree node
        self.name_fields: dict[str, int] = {}  # block id -> its name field
        self._open: dict[str, bool] = {}  # block id -> tree node open (kept across rebuilds)
        self.update()

    def _shape(self, g: Graph) -> tuple[Any, ...]:
        return tuple(
            # not the name: a rename relabels in place (a rebuild collapsed the tree under the user)
            (b.id, b.type, self._shape(b.graph) if b.graph is not None else (),
             bool(self.state.catalog.spec(b.type)))
            for b in g.blocks.values()
        )

    def update(self) -> None:
        """Rebuild if the structure changed, else refresh values and status colours."""
        shape = self._shape(self.state.project.graph)
        if shape != self._structure:
            self._structure = shape
            for bid, node in self.labels.items():
                if dpg.does_item_exist(node):
                    self._open[bid] = bool(dpg.get_value(node))
            dpg.delete_item(self.body, children_only=True)
            self.widgets, self.labels, self.show_buttons, self.name_fields = {}, {}, {}, {}
            self.data_buttons = {}
            self.code_buttons, self.code_summaries = {}, {}
            if not self.state.project.graph.blocks:
                dpg.add_text("empty: add blocks from the Blocks menu", parent=self.body, color=(170, 170, 170))
            self._fill(self.state.project.graph, self.body)
        for (bid, name), item in self.widgets.items():
            b = self.state.block(bid)
            if b is None:
                continue
            value = b.params.get(name)
            shown = dpg.get_value(item)
            want = _for_widget(shown, value)
            if want is not None:
                show(item, want)
        for bid, item in self.name_fields.items():
            b = self.state.block(bid)
            if b is not None:
                show(item, b.name)
        # code is not part of the structure: a reopened project with the same blocks shows its own
        for (bid, name), item in self.code_summaries.items():
            b = self.state.block(bid)
            if b is not None:
                show(item, code_summary(str(b.params.get(name) or "")))
        self.colour()

    def colour(self) -> None:
        """Tint each block's tree label by its validation status."""
        for bid, node in self.labels.items():
            rec = self.state.record(bid)
            b = self.state.block(bid)
            if b is None:
                continue
            mark = {"error": "  (error)", "upstream-error": "  (upstream error)"}.get(rec["status"], "") if rec else ""
            dpg.configure_item(node, label=f"{b.name}{mark}")

    def _fill(self, g: Graph, parent: int) -> None:
        for b in g.blocks.values():
            node = dpg.add_tree_node(label=b.name, parent=parent, default_open=self._open.get(b.id, b.is_super))
            self.labels[b.id] = node
            self._block_widgets(b, node)
            if b.graph is not None:
                self._fill(b.graph, node)

    def _block_widgets(self, b: Block, node: int) -> None:
        with dpg.group(parent=node):
            with dpg.group(horizontal=True):
                dpg.add_text("name", color=(170, 170, 180))
                self.name_fields[b.id] = add_typed(dpg.add_input_text, self._on_rename, b.id,
                                                   default_value=b.name, width=-70)
                show = dpg.add_button(label="Show", small=True, user_data=b.id,
                                      callback=lambda s, a, u: self.on_show(u) if self.on_show else None)
                self.show_buttons[b.id] = show
            if b.is_super:
                return
            spec = self.state.catalog.spec(b.type)
            if spec is None:
                if b.params:
                    dpg.add_text("parameters appear when the engine is ready", color=(170, 170, 170))
                return
            if spec.role == "input" and b.type == "builtin.Input" and self.on_add_data is not None:
                self.data_buttons[b.id] = dpg.add_button(label="Add Data…", user_data=b.id, width=-1,
                                                         callback=lambda s, a, u: self.on_add_data(u))
            for p in spec.params:
                self._param_widget(b, p)

    def _param_widget(self, b: Block, p: ParamSpec) -> None:
        value = b.params.get(p.name, p.default)
        label = p.label or p.name
        kw: dict[str, Any] = {"callback": self._on_param, "user_data": (b.id, p.name)}
        typed: dict[str, Any] = {"callback": self._on_param, "user_data": (b.id, p.name)}
        with dpg.group(horizontal=True):
            dpg.add_text(label, color=(170, 170, 180))
            if p.type == "bool":
                item = dpg.add_checkbox(default_value=bool(value), **kw)
            elif p.type == "int" and _fits_int(value):
                item = add_typed(dpg.add_input_int, default_value=int(value or 0), width=-1, **typed)
            elif p.type == "float" and _fits_float(value):
                item = add_typed(dpg.add_input_float, default_value=float(value or 0.0), width=-1,
                                 format="%g", **typed)
            elif p.type == "choice":
                item = dpg.add_combo(p.choices or [], default_value=str(value), width=-1, **kw)
            elif p.type == "code":
                item = dpg.add_button(label="Edit code…", user_data=b.id,
                                      callback=lambda s, a, u: self.on_edit_code(u) if self.on_edit_code else None)
                self.code_buttons[b.id] = item
                summary = dpg.add_text(code_summary(str(value or "")), color=(150, 150, 160))
                self.code_summaries[(b.id, p.name)] = summary
            elif p.type == "values":
                item = dpg.add_input_text(default_value=_as_text(value or {}), width=-1, readonly=True)
            else:
                item = add_typed(dpg.add_input_text, default_value=_as_text(value), width=-1, **typed)
        if p.doc:
            with dpg.tooltip(item):
                dpg.add_text(p.doc, wrap=320)
        if p.type != "code":
            self.widgets[(b.id, p.name)] = item  # a read-only "values" field is refreshed too

    def _on_param(self, sender: Any, app_data: Any, user_data: tuple[str, str]) -> None:
        bid, name = user_data
        if not self.state.set_param(bid, name, app_data):
            self.update()  # a refused value: show the document's value again

    def _on_rename(self, sender: Any, app_data: Any, user_data: str) -> None:
        if not self.state.rename(user_data, str(app_data)):
            b = self.state.block(user_data)
            if b is not None:
                dpg.set_value(sender, b.name)


# A hand-edited file may hold anything in a param; what the number widgets (32-bit) cannot show
# is shown as text instead (the engine's record names the bad value; typing a number fixes it).
def _fits_int(value: Any) -> bool:
    return value is None or (type(value) is int and -(2**31) <= value < 2**31)


def _fits_float(value: Any) -> bool:
    return value is None or (type(value) in (int, float) and abs(value) < 3e38)


def _for_widget(shown: Any, value: Any) -> Any:
    """``value`` as the widget now showing ``shown`` takes it (None: it cannot show it)."""
    if isinstance(shown, str):
        return _as_text(value)
    if isinstance(shown, bool):
        return value if isinstance(value, bool) else None
    if isinstance(shown, int):
        return value if _fits_int(value) and not isinstance(value, bool) else None
    if isinstance(shown, float):
        return float(value) if value is not None and _fits_float(value) and not isinstance(value, bool) else None
    return value
