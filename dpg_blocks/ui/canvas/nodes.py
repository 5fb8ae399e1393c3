"""How a block is drawn on the canvas: its node, pins and links, and its validation status.

:class:`~dpg_blocks.ui.canvas.graph_canvas.Canvas` decides *which* nodes and links the open graph needs
(``sync``); this mixin builds and deletes the widgets of one node or link, keeps the maps from
Dear PyGui items back to blocks and ports, and paints what validation said on them (outline
themes, yellow pins, the shapes beside the port names). Links are always deleted before their
nodes: deleting a linked node can segfault (DESIGN.md §7).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dearpygui.dearpygui as dpg

from dpg_blocks.core.graph import Block, Link
from dpg_blocks.ui.canvas.view import LABEL_ZOOM
from dpg_blocks.ui.text import short

if TYPE_CHECKING:
    from dpg_blocks.ui.canvas.zoom import ZoomControl
    from dpg_blocks.ui.state.editor_state import EditorState
    from dpg_blocks.ui.theme import Themes

__all__ = ["BOUNDARY_IN", "BOUNDARY_OUT", "NodeView", "NodeWidgets", "PortKey", "shape_text"]

PortKey = tuple[str, str, str]  # block id, "in"/"out", port name
# Inside a SuperBlock its boundary is drawn as two pseudo-nodes: its inputs (as outputs that
# feed the inner blocks) on the left, its outputs (as inputs) on the right.
BOUNDARY_IN, BOUNDARY_OUT = "<inputs>", "<outputs>"


def shape_text(info: dict[str, Any] | None) -> str:
    """``4×1×8×8 float32`` from a record's tensor info (empty when unknown)."""
    if not info or info.get("shape") is None:
        return ""
    shape = "×".join(str(d) for d in info["shape"]) or "scalar"
    return shape


@dataclass
class NodeView:
    """The widgets of one block on the canvas."""

    node: int
    signature: tuple[Any, ...]
    attrs: dict[tuple[str, str], int] = field(default_factory=dict)  # ("in"/"out", port) -> attribute
    labels: dict[tuple[str, str], int] = field(default_factory=dict)  # same keys -> text item
    info: int = 0
    theme: int = 0
    pin_theme: int = 0
    shown: bool = True  # False while culled: outside the view (ui/canvas/zoom.py)
    font: int = 0  # the zoom's font bound to it (0: the default)
    size: tuple[float, float] | None = None  # drawn size in document units, kept while culled


class NodeWidgets:
    """The Canvas' node and link widgets (a mixin of :class:`~dpg_blocks.ui.canvas.graph_canvas.Canvas`)."""

    # What this mixin uses of the Canvas it is part of.
    state: EditorState
    themes: Themes
    editor: int | str
    zoomer: ZoomControl
    nodes: dict[str, NodeView]
    block_of_node: dict[int, str]
    port_of_attr: dict[int, PortKey]
    links: dict[Link, int]
    link_of_item: dict[int, Link]
    keyboard_selection: set[str]
    zoom: float
    _screen_pos: Callable[[tuple[float, float]], list[float]]
    selected_blocks: Callable[[], list[str]]

    # -- what a node shows -----------------------------------------------------------------
    def _signature(self, b: Block) -> tuple[Any, ...]:
        # Not the catalog: nodes must survive the catalog arriving in the middle of a drag.
        return (
            b.name,
            b.type,
            tuple((p.name, p.kind) for p in b.inputs),
            tuple((p.name, p.kind) for p in b.outputs),
            len(b.graph.blocks) if b.graph is not None else -1,
            self.state.shares_with(b.id),
        )

    def _type_text(self, b: Block) -> str:
        if b.graph is not None:
            n = len(b.graph.blocks)
            return f"SuperBlock · {n} block{'s' if n != 1 else ''}"
        spec = self.state.catalog.spec(b.type)
        text = spec.name if spec else b.type.removeprefix("builtin.")
        shown = b.params.get(spec.shown_param) if spec and spec.shown_param else None
        if shown:  # what this one is: the class an Opaque Module runs
            text = f"{text} · {short(str(shown), 20)}"
        source = self.state.shares_with(b.id)
        # a shared copy says whose weights it uses: one tensor, edited and trained once
        return f"{text} · shares {short(source, 14)}" if source else text

    def _node_key(self, block_id: str, end: str) -> str:
        """The node a link end is drawn on (a SuperBlock's own id is its boundary inside)."""
        if block_id == self.state.scope_id:
            return BOUNDARY_IN if end == "src" else BOUNDARY_OUT
        return block_id

    def _node_signature(self, key: str, b: Block) -> tuple[Any, ...]:
        if key == BOUNDARY_IN:
            return ("boundary-in", tuple((p.name, p.kind) for p in b.inputs))
        if key == BOUNDARY_OUT:
            return ("boundary-out", tuple((p.name, p.kind) for p in b.outputs))
        return self._signature(b)

    # -- building and deleting -------------------------------------------------------------
    def _delete_link(self, link: Link, item: int) -> None:
        self.links.pop(link, None)
        self.link_of_item.pop(item, None)
        self.zoomer.hidden_links.discard(item)
        if dpg.does_item_exist(item):
            dpg.delete_item(item)

    def _delete_node(self, key: str) -> None:
        # Links first, always (DESIGN.md §7): callers removed ours; this catches any other.
        for link, item in list(self.links.items()):
            if key in (self._node_key(link.src.block, "src"), self._node_key(link.dst.block, "dst")):
                self._delete_link(link, item)
        view = self.nodes.pop(key)
        self.block_of_node.pop(view.node, None)
        for attr in view.attrs.values():
            self.port_of_attr.pop(attr, None)
        if dpg.does_item_exist(view.node):
            dpg.delete_item(view.node)

    def _add_node(self, b: Block) -> None:
        label = f"{b.name}  [+]" if b.graph is not None else b.name
        node = dpg.add_node(label=label, parent=self.editor, pos=self._screen_pos(b.pos))
        view = NodeView(node, self._signature(b))
        with dpg.node_attribute(parent=node, attribute_type=dpg.mvNode_Attr_Static):
            view.info = dpg.add_text(self._type_text(b), color=(170, 170, 180))
        for direction, ports, kind in (
            ("in", b.inputs, dpg.mvNode_Attr_Input),
            ("out", b.outputs, dpg.mvNode_Attr_Output),
        ):
            for p in ports:
                self._add_port(view, b.id, direction, p.name, p.optional, kind)
        self.nodes[b.id] = view
        self.block_of_node[node] = b.id
        self.zoomer.bind_font(view)

    def _add_port(self, view: NodeView, bid: str, direction: str, name: str, optional: bool, kind: int) -> None:
        shape = dpg.mvNode_PinShape_Circle if optional else dpg.mvNode_PinShape_CircleFilled
        attr = dpg.add_node_attribute(parent=view.node, attribute_type=kind, shape=shape)
        view.labels[(direction, name)] = dpg.add_text(name, parent=attr)
        view.attrs[(direction, name)] = attr
        self.port_of_attr[attr] = (bid, direction, name)

    def _add_boundary(self, sb: Block, key: str) -> None:
        """A pseudo-node for the open SuperBlock's inputs (left) or outputs (right)."""
        incoming = key == BOUNDARY_IN
        node = dpg.add_node(label=f"{sb.name} inputs" if incoming else f"{sb.name} outputs",
                            parent=self.editor, pos=self._screen_pos((0.0, 0.0)))
        view = NodeView(node, self._node_signature(key, sb))
        with dpg.node_attribute(parent=node, attribute_type=dpg.mvNode_Attr_Static):
            view.info = dpg.add_text("boundary", color=(170, 170, 180))
        # The SuperBlock's inputs are sources inside it, so they are drawn as output pins.
        for p in sb.inputs if incoming else sb.outputs:
            direction = "out" if incoming else "in"
            kind = dpg.mvNode_Attr_Output if incoming else dpg.mvNode_Attr_Input
            self._add_port(view, sb.id, direction, p.name, p.optional, kind)
        dpg.bind_item_theme(node, self.themes.boundary_node)
        self.nodes[key] = view
        self.block_of_node[node] = key
        self.zoomer.bind_font(view)

    def _add_link(self, link: Link) -> None:
        src = self.nodes.get(self._node_key(link.src.block, "src"))
        dst = self.nodes.get(self._node_key(link.dst.block, "dst"))
        if src is None or dst is None:
            return
        a = src.attrs.get(("out", link.src.port))
        b = dst.attrs.get(("in", link.dst.port))
        if a is None or b is None:
            return
        item = dpg.add_node_link(a, b, parent=self.editor)
        self.links[link] = item
        self.link_of_item[item] = link

    # -- validation status -----------------------------------------------------------------
    def apply_validation(self) -> None:
        """Red outline on failing blocks (and SuperBlocks holding one), yellow pins on blocks
        not processed because of an upstream error, shapes beside the ports; while a run is
        active, a blue outline on the blocks live in it and the others dimmed."""
        sb = self.state.scope_id
        sb_rec = self.state.record(sb) if sb is not None else None
        # Blocks selected by Ctrl+A that imnodes does not show as selected: imnodes cannot
        # select nodes from code (DearPyGui#2353), so they get an outline of our own.
        marked = self.keyboard_selection & set(self.state.selected) - set(self.selected_blocks())
        for key, view in self.nodes.items():
            if key in (BOUNDARY_IN, BOUNDARY_OUT):
                # The boundary's pins carry the SuperBlock's own port shapes, sides swapped.
                infos = {}
                if sb_rec:
                    side = "inputs" if key == BOUNDARY_IN else "outputs"
                    flipped = "out" if key == BOUNDARY_IN else "in"
                    infos = {(flipped, t["port"]): t for t in sb_rec.get(side, [])}
                self._label_ports(view, infos)
                continue
            rec = self.state.record(key)
            status = rec["status"] if rec else ""
            theme = (self.themes.failing_node if status == "error" else
                     self.themes.idle_node if status == "idle" else self.themes.plain_node)
            run = self.state.training
            if run.active and run.live and status != "error":  # the red outline always wins
                theme = self.themes.live_node if key in run.live_blocks else self.themes.dimmed_node
            if key == self.state.stuck_block:  # the block a stuck training step is running
                theme = self.themes.failing_node
            elif key in marked and theme != self.themes.failing_node:
                theme = self.themes.selected_node
            if theme != view.theme:
                dpg.bind_item_theme(view.node, theme)
                view.theme = theme
            pin_theme = self.themes.upstream_pin if status == "upstream-error" else 0
            if pin_theme != view.pin_theme:
                for attr in view.attrs.values():
                    dpg.bind_item_theme(attr, pin_theme)
                view.pin_theme = pin_theme
            infos = {}
            if rec:
                infos = {("in", t["port"]): t for t in rec.get("inputs", [])}
                infos.update({("out", t["port"]): t for t in rec.get("outputs", [])})
            self._label_ports(view, infos)

    def _label_ports(self, view: NodeView, infos: dict[tuple[str, str], dict[str, Any]]) -> None:
        # Zoomed out, the shapes beside the port names made nodes wide and their names small.
        shapes = self.zoom >= LABEL_ZOOM
        for (direction, port), text in view.labels.items():
            shape = shape_text(infos.get((direction, port))) if shapes else ""
            label = (f"{port}  {shape}" if direction == "in" else f"{shape}  {port}") if shape else port
            if dpg.get_value(text) != label:
                dpg.set_value(text, label)
