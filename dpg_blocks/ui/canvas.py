"""The canvas: a Dear PyGui node editor mirroring the project's root graph.

The document is the truth. :meth:`Canvas.sync` diffs it against the nodes and links on screen
(links are always deleted before their nodes: deleting a linked node can segfault, DESIGN.md
§7); user gestures (link, delink, drag) become edit commands through :class:`EditorState`,
and the resulting document change comes back through ``sync``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dearpygui.dearpygui as dpg

from dpg_blocks.core.graph import Block, Link

from .state import EditorState
from .theme import Themes

NODE_PAD = 8
PortKey = tuple[str, str, str]  # block id, "in"/"out", port name


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


class Canvas:
    """The node editor and the mapping between its items and the document."""

    def __init__(self, state: EditorState, themes: Themes, parent: int | str) -> None:
        self.state = state
        self.themes = themes
        self.editor = dpg.add_node_editor(
            parent=parent,
            callback=self._on_link,
            delink_callback=self._on_delink,
            minimap=True,
            minimap_location=dpg.mvNodeMiniMap_Location_BottomRight,
            width=-1,
            height=-1,
        )
        self.nodes: dict[str, NodeView] = {}
        self.block_of_node: dict[int, str] = {}
        self.port_of_attr: dict[int, PortKey] = {}
        self.links: dict[Link, int] = {}
        self.link_of_item: dict[int, Link] = {}
        self._dpg_selection: list[int] = []

    # -- document -> screen ----------------------------------------------------------------
    def _signature(self, b: Block) -> tuple[Any, ...]:
        # Not the catalog: nodes must survive the catalog arriving in the middle of a drag.
        return (
            b.name,
            b.type,
            tuple((p.name, p.kind) for p in b.inputs),
            tuple((p.name, p.kind) for p in b.outputs),
            len(b.graph.blocks) if b.graph is not None else -1,
        )

    def _type_text(self, b: Block) -> str:
        if b.graph is not None:
            n = len(b.graph.blocks)
            return f"SuperBlock · {n} block{'s' if n != 1 else ''}"
        spec = self.state.catalog.spec(b.type)
        return spec.name if spec else b.type.removeprefix("builtin.")

    def sync(self) -> None:
        """Make the canvas show the document's root graph (nodes, ports, links, positions)."""
        graph = self.state.project.graph
        stale = [
            bid for bid, view in self.nodes.items()
            if bid not in graph.blocks or view.signature != self._signature(graph.blocks[bid])
        ]
        wanted = set(graph.links)
        for link, item in list(self.links.items()):
            if link not in wanted or link.src.block in stale or link.dst.block in stale:
                self._delete_link(link, item)
        for bid in stale:
            self._delete_node(bid)
        for bid, b in graph.blocks.items():
            view = self.nodes.get(bid)
            if view is None:
                self._add_node(b)
            else:
                info = self._type_text(b)
                if dpg.get_value(view.info) != info:
                    dpg.set_value(view.info, info)
                pos = dpg.get_item_pos(view.node)
                if abs(pos[0] - b.pos[0]) > 0.5 or abs(pos[1] - b.pos[1]) > 0.5:
                    dpg.set_item_pos(view.node, [b.pos[0], b.pos[1]])
        for link in graph.links:
            if link not in self.links:
                self._add_link(link)
        self.apply_validation()

    def _delete_link(self, link: Link, item: int) -> None:
        self.links.pop(link, None)
        self.link_of_item.pop(item, None)
        if dpg.does_item_exist(item):
            dpg.delete_item(item)

    def _delete_node(self, bid: str) -> None:
        # Links first, always (DESIGN.md §7): callers removed ours; this catches any other.
        for link, item in list(self.links.items()):
            if bid in (link.src.block, link.dst.block):
                self._delete_link(link, item)
        view = self.nodes.pop(bid)
        self.block_of_node.pop(view.node, None)
        for attr in view.attrs.values():
            self.port_of_attr.pop(attr, None)
        if dpg.does_item_exist(view.node):
            dpg.delete_item(view.node)

    def _add_node(self, b: Block) -> None:
        label = f"{b.name}  [+]" if b.graph is not None else b.name
        node = dpg.add_node(label=label, parent=self.editor, pos=[b.pos[0], b.pos[1]])
        view = NodeView(node, self._signature(b))
        with dpg.node_attribute(parent=node, attribute_type=dpg.mvNode_Attr_Static):
            view.info = dpg.add_text(self._type_text(b), color=(170, 170, 180))
        for direction, ports, kind in (
            ("in", b.inputs, dpg.mvNode_Attr_Input),
            ("out", b.outputs, dpg.mvNode_Attr_Output),
        ):
            for p in ports:
                shape = dpg.mvNode_PinShape_Circle if p.optional else dpg.mvNode_PinShape_CircleFilled
                attr = dpg.add_node_attribute(parent=node, attribute_type=kind, shape=shape)
                view.labels[(direction, p.name)] = dpg.add_text(p.name, parent=attr)
                view.attrs[(direction, p.name)] = attr
                self.port_of_attr[attr] = (b.id, direction, p.name)
        self.nodes[b.id] = view
        self.block_of_node[node] = b.id

    def _add_link(self, link: Link) -> None:
        src = self.nodes.get(link.src.block)
        dst = self.nodes.get(link.dst.block)
        if src is None or dst is None:
            return
        a = src.attrs.get(("out", link.src.port))
        b = dst.attrs.get(("in", link.dst.port))
        if a is None or b is None:
            return
        item = dpg.add_node_link(a, b, parent=self.editor)
        self.links[link] = item
        self.link_of_item[item] = link

    def apply_validation(self) -> None:
        """Red outline on failing blocks (and SuperBlocks holding one), yellow pins on blocks
        not processed because of an upstream error, shapes beside the ports."""
        for bid, view in self.nodes.items():
            rec = self.state.record(bid)
            status = rec["status"] if rec else ""
            theme = self.themes.failing_node if status == "error" else (self.themes.idle_node if status == "idle" else 0)
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
            for (direction, port), text in view.labels.items():
                shape = shape_text(infos.get((direction, port)))
                label = (f"{port}  {shape}" if direction == "in" else f"{shape}  {port}") if shape else port
                if dpg.get_value(text) != label:
                    dpg.set_value(text, label)

    # -- screen -> document ----------------------------------------------------------------
    def _on_link(self, sender: Any, app_data: Any) -> None:
        a, b = (self.port_of_attr.get(_item_id(x)) for x in app_data)
        if a is None or b is None:
            return
        if a[1] == "in":
            a, b = b, a
        if a[1] != "out" or b[1] != "in":
            self.state.say("a link goes from an output (right side) to an input (left side)")
            return
        self.state.connect((a[0], a[2]), (b[0], b[2]))

    def _on_delink(self, sender: Any, app_data: Any) -> None:
        link = self.link_of_item.get(_item_id(app_data))
        if link is not None:
            self.state.disconnect(link)

    def selected_blocks(self) -> list[str]:
        return [self.block_of_node[n] for n in map(_item_id, dpg.get_selected_nodes(self.editor)) if n in self.block_of_node]

    def selected_links(self) -> list[Link]:
        return [self.link_of_item[i] for i in map(_item_id, dpg.get_selected_links(self.editor)) if i in self.link_of_item]

    def poll_selection(self) -> None:
        """Follow the user's selection on the canvas (only when it changes there)."""
        sel = [_item_id(n) for n in dpg.get_selected_nodes(self.editor)]
        if sel != self._dpg_selection:
            self._dpg_selection = sel
            blocks = [self.block_of_node[n] for n in sel if n in self.block_of_node]
            if blocks:
                self.state.select(blocks)

    def delete_selected(self) -> bool:
        """Delete the selected links and blocks (one undo step)."""
        blocks, links = self.selected_blocks(), self.selected_links()
        if not blocks and not links:
            blocks = list(self.state.selected)
        dpg.clear_selected_links(self.editor)
        dpg.clear_selected_nodes(self.editor)
        self._dpg_selection = []
        return self.state.delete(blocks, links)

    def positions(self) -> dict[str, tuple[float, float]]:
        return {bid: tuple(dpg.get_item_pos(v.node)) for bid, v in self.nodes.items()}  # type: ignore[misc]

    def record_moves(self) -> bool:
        """After a drag: Move edits for every block whose node moved."""
        return self.state.move(self.positions())

    def hovered_block(self) -> str | None:
        for bid, view in self.nodes.items():
            if dpg.get_item_state(view.node).get("hovered"):
                return bid
        return None

    def boxes(self) -> dict[str, dict[str, Any]]:
        """Each node's rectangle in viewport pixels, for tests and screenshots.

        On 2.3.1 a node's ``rect_min`` lies ``NODE_PAD`` pixels right of and below its drawn
        corner (checked against screenshots); ``rect_size`` is the drawn size.
        """
        out = {}
        for bid, view in self.nodes.items():
            st = dpg.get_item_state(view.node)
            (x, y), (w, h) = st.get("rect_min", (0, 0)), st.get("rect_size", (0, 0))
            b = self.state.block(bid)
            out[bid] = {"name": b.name if b else bid, "x": x - NODE_PAD, "y": y - NODE_PAD, "w": w, "h": h}
        return out


def _item_id(item: Any) -> int:
    return item if isinstance(item, int) else dpg.get_alias_id(item)
