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

from .canvas_framing import Framer
from .canvas_view import (
    FRAME_MARGIN,
    LABEL_ZOOM,
    framing_delta,
)
from .canvas_zoom import ZoomControl
from .placement import Rect, Segment, free_spot
from .state import EditorState
from .text import short
from .theme import Themes
from .zoom_style import ZoomStyle

__all__ = ["Canvas", "NodeView", "BOUNDARY_IN", "BOUNDARY_OUT", "FRAME_MARGIN", "NODE_PAD", "framing_delta"]

NODE_PAD = 8  # imnodes' node padding at 100 % zoom (ZoomStyle.padding scales it)
NEW_SIZE = (130.0, 100.0)  # what a new block is assumed to take before it is drawn (document units)
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
    shown: bool = True  # False while culled: outside the view (ui/canvas_zoom.py)
    font: int = 0  # the zoom's font bound to it (0: the default)
    size: tuple[float, float] | None = None  # drawn size in document units, kept while culled


class Canvas:
    """The node editor and the mapping between its items and the document.

    Nodes sit at their document position plus a per-graph view ``offset``: Dear PyGui has no
    panning API (DESIGN.md §7), so "frame all" and "go to block" shift the view by moving every
    node by the same amount, which never touches the document. Document positions are scaled
    by the font scale times the graph's zoom (:attr:`scale`): a node grows with its text, so
    its place must grow too, or a layout made at 100 % overlaps at 130 %. Zoom and culling live
    in :class:`~dpg_blocks.ui.canvas_zoom.ZoomControl` (:attr:`zoomer`).
    """

    def __init__(self, state: EditorState, themes: Themes, parent: int | str) -> None:
        self.state = state
        self.themes = themes
        with dpg.group(horizontal=True, parent=parent) as self.crumbs:
            pass
        self.box = dpg.add_child_window(parent=parent, border=False, no_scrollbar=True, width=-1, height=-1)
        # A group reports its screen rectangle (a child window does not): the view for framing.
        self.view = dpg.add_group(parent=self.box)
        self.editor = dpg.add_node_editor(
            parent=self.view,
            callback=self._on_link,
            delink_callback=self._on_delink,
            minimap=True,
            minimap_location=dpg.mvNodeMiniMap_Location_BottomRight,
            width=-1,
            height=-1,
        )
        self.nodes: dict[str, NodeView] = {}
        self.zoomer = ZoomControl(self, ZoomStyle(themes.global_component or None, themes.spacing))
        self.block_of_node: dict[int, str] = {}
        self.port_of_attr: dict[int, PortKey] = {}
        self.links: dict[Link, int] = {}
        self.link_of_item: dict[int, Link] = {}
        self._dpg_selection: list[int] = []
        self.shown_scope: list[str] = []
        self.shown_project: object = None
        self.offsets: dict[str | None, tuple[float, float]] = {}  # view offset per graph
        self.boundary_pos: dict[tuple[str, str], tuple[float, float]] = {}
        self.framer = Framer(self)
        self._crumb_key: tuple[Any, ...] = ()
        self._shown_scale = self.scale
        self.keyboard_selection: set[str] = set()  # what Ctrl+A selected (outlined: see below)
        self.layout_version = 0  # bumped when nodes come, go or move: culling looks again
        self._breadcrumbs()
        state.place = self.free_spot  # new blocks go where the user can see them

    # -- the view ----------------------------------------------------------------------------
    @property
    def offset(self) -> tuple[float, float]:
        return self.offsets.get(self.state.scope_id, (0.0, 0.0))

    @property
    def font_scale(self) -> float:
        """View › Font size (1.0 = 100 %)."""
        return float(dpg.get_global_font_scale()) or 1.0

    @property
    def zoom(self) -> float:
        """The open graph's zoom (1.0 = 100 %)."""
        return self.zoomer.zoom

    @property
    def scale(self) -> float:
        """Screen pixels per document unit: the font size times the zoom (text scales with both)."""
        return self.font_scale * self.zoom

    @property
    def new_size(self) -> tuple[float, float]:
        """What a node not drawn yet is assumed to take, in document units."""
        return NEW_SIZE

    def _screen_pos(self, doc: tuple[float, float]) -> list[float]:
        ox, oy = self.offset
        s = self.scale
        return [doc[0] * s + ox, doc[1] * s + oy]

    def frame(self, block_ids: list[str] | None = None, centre: bool = False, fit: float = 1.0) -> bool:
        """Shift the view so ``block_ids`` (default: everything) are in sight, zooming out to
        fit when framing everything (ui/canvas_framing.py)."""
        return self.framer.frame(block_ids, centre, fit)

    @property
    def framing(self) -> bool:
        """Whether a framing waits for the nodes to be drawn (a zoom to fit takes a few frames)."""
        return self.framer.pending is not None

    def drawn(self) -> tuple[dict[str, Rect], Rect] | None:
        """Each node's rectangle and the visible canvas, in document coordinates, as drawn in
        the last frame (None before a frame drew them, or with no node to measure against)."""
        origin = self.zoomer.origin  # grid (0, 0) on screen: imnodes' own panning included
        if not dpg.is_viewport_ok() or not self.nodes or origin is None:
            return None
        ox, oy = self.offset
        s = self.scale
        rects: dict[str, Rect] = {}
        for key, view in self.nodes.items():
            if view.shown and dpg.get_item_state(view.node).get("rect_size", (0, 0))[0] <= 0:
                return None
            gx, gy, w, h = self.zoomer.grid_rect(key)  # a culled node: its last drawn size
            rects[key] = ((gx - ox) / s, (gy - oy) / s, w / s, h / s)
        (vx, vy), (vw, vh) = dpg.get_item_rect_min(self.view), dpg.get_item_rect_size(self.view)
        if vw <= 0 or vh <= 0:
            return None
        return rects, ((vx - origin[0] - ox) / s, (vy - origin[1] - oy) / s, vw / s, vh / s)

    def free_spot(self, anchor: str | None, title: str = "") -> tuple[float, float] | None:
        """A free spot in view for a new block, next to ``anchor`` (never over a block or a
        link; the minimap's corner counts as taken); None when there is no room in view."""
        drawn = self.drawn()
        if drawn is None:
            return None
        rects, view = drawn
        vx, vy, vw, vh = view
        # A block drawn before its validation came back is narrow (no shapes beside its port
        # names yet: a Fill is 39 px, then 112): each holds at least a new block's width, or
        # the next one added at once is overlapped when the first widens.
        occupied = [*((x, y, max(w, NEW_SIZE[0]), h) for x, y, w, h in rects.values()),
                    (vx + vw - 210, vy + vh - 80, 210, 80)]  # the minimap
        segments: list[Segment] = []
        for link in self.links:
            a, b = rects.get(link.src.block), rects.get(link.dst.block)
            if a is not None and b is not None:  # from pin to pin, where imnodes draws the curve
                segments.append((a[0] + a[2], self._pin_y(link.src.block, "out", link.src.port, a),
                                 b[0], self._pin_y(link.dst.block, "in", link.dst.port, b)))
        box = rects.get(anchor) if anchor else None
        size = (max(box[2], NEW_SIZE[0]), max(box[3], NEW_SIZE[1])) if box else NEW_SIZE
        if title:  # a long title makes a wide node: "BCE With Logits Loss" went past the edge
            width = float((dpg.get_text_size(title) or (0, 0))[0]) / self.font_scale  # the default font's
            size = (max(size[0], width + 2 * NODE_PAD + 16), size[1])
        return free_spot(size, occupied, segments, view, box)

    def _pin_y(self, bid: str, direction: str, port: str, rect: Rect) -> float:
        """The document y of a port's pin (level with its label), the node's middle if not drawn."""
        view = self.nodes.get(bid)
        label = view.labels.get((direction, port)) if view is not None else None
        if label is None or view is None:
            return rect[1] + rect[3] / 2
        (_, ny), (_, lh) = dpg.get_item_rect_min(view.node), dpg.get_item_rect_size(label)
        ly = dpg.get_item_rect_min(label)[1]
        if lh <= 0:
            return rect[1] + rect[3] / 2
        return rect[1] + (ly + lh / 2 - ny) / self.scale

    def go_to(self, block_id: str) -> bool:
        """Open the graph holding ``block_id``, select it and centre it in the view."""
        if not self.state.go_to(block_id):
            return False
        self.sync()
        view = self.nodes.get(block_id)
        if view is not None:
            dpg.clear_selected_nodes(self.editor)
            self._dpg_selection = []
        self.frame([block_id], centre=True)
        return True

    def visible_width(self) -> float:
        """The canvas' width in document units (what auto-layout wraps to)."""
        w = dpg.get_item_rect_size(self.view)[0] if dpg.is_viewport_ok() else 0
        return float(w) / self.scale if w > 0 else 1000.0

    def node_sizes(self) -> dict[str, tuple[float, float]]:
        """Each block's drawn size in document units (only for blocks drawn at least once)."""
        out = {}
        s = self.font_scale * self.zoomer.drawn_zoom  # the scale they were drawn at
        for bid, view in self.nodes.items():
            w, h = dpg.get_item_state(view.node).get("rect_size", (0, 0)) if view.shown else (0, 0)
            if w > 0 and h > 0:
                out[bid] = (float(w) / s, float(h) / s)
            elif view.size is not None:  # culled: as it was last drawn
                out[bid] = view.size
        return out

    def pin_rows(self) -> dict[tuple[str, str, str], float]:
        """How far below its node's top each drawn pin sits, in document units: auto-layout
        follows each link between its real pins (core/layout.py), not between guessed rows."""
        out = {}
        s = self.font_scale * self.zoomer.drawn_zoom
        for bid, view in self.nodes.items():
            if not view.shown:
                continue
            ny = dpg.get_item_rect_min(view.node)[1]
            for (direction, port), label in view.labels.items():
                lh = dpg.get_item_rect_size(label)[1]
                if lh > 0:
                    out[(bid, direction, port)] = (dpg.get_item_rect_min(label)[1] + lh / 2 - ny) / s
        return out

    def auto_layout(self) -> bool:
        """Lay the open graph out to fit the canvas' width, then frame it."""
        moved = self.state.auto_layout(self.node_sizes(), max_width=self.visible_width() - 2 * FRAME_MARGIN,
                                       pins=self.pin_rows())
        self._place_boundary(force=True)
        self.frame()
        return moved

    def poll(self) -> None:
        """Per frame: follow the canvas selection and finish a framing that waited for sizes."""
        self.poll_selection()
        if abs(self.scale - self._shown_scale) > 1e-6:  # View › Font size: the gaps grow too
            self._shown_scale = self.scale
            self.sync()
        self.framer.poll()
        self.zoomer.end_frame()

    def begin_frame(self) -> None:
        """First thing each frame, before anything moves: read where the last frame drew."""
        self.zoomer.begin_frame()

    # -- zoom ------------------------------------------------------------------------------------
    def zoom_to(self, zoom: float, about: tuple[float, float] | None = None) -> bool:
        """Zoom the open graph to ``zoom`` (25–200 %) about screen point ``about`` (default: the
        canvas' centre); the document is untouched."""
        changed = self.zoomer.set(zoom, about)
        if changed:
            self._shown_scale = self.scale
        return changed

    def zoom_step(self, steps: int, about: tuple[float, float] | None = None) -> bool:
        """Zoom ``steps`` notches in (positive) or out (negative)."""
        changed = self.zoomer.step(steps, about)
        if changed:
            self._shown_scale = self.scale
        return changed

    def frame_all(self) -> bool:
        """Home: pan, and zoom out (down to 25 %) when needed, so the whole graph is in sight."""
        self.framer.tries = 0
        return self.frame()

    def zoom_to_fit(self) -> bool:
        """Zoom (25–200 %) and pan so the whole graph fills the canvas."""
        self.framer.tries = 0
        return self.frame(fit=2.0)

    def reposition(self) -> None:
        """Put every node where the view says (after a zoom): the document stays as it is."""
        graph = self.state.graph
        for bid, b in graph.blocks.items():
            view = self.nodes.get(bid)
            if view is not None:
                dpg.set_item_pos(view.node, self._screen_pos(b.pos))
        self._place_boundary()
        self.layout_version += 1

    def show_node(self, key: str, show: bool) -> None:
        """Draw a node or leave it out (culling). imnodes forgets where a node it was not given
        sat, and would draw it at the grid's origin: its place is given again on showing."""
        view = self.nodes[key]
        if view.shown == show:
            return
        view.shown = show
        if show:
            dpg.set_item_pos(view.node, dpg.get_item_pos(view.node))
        dpg.configure_item(view.node, show=show)

    # -- breadcrumbs ---------------------------------------------------------------------------
    def _breadcrumbs(self) -> None:
        names = tuple((sb, b.name) for sb in self.state.scope if (b := self.state.block(sb)) is not None)
        if names == self._crumb_key and dpg.get_item_children(self.crumbs, 1):
            return
        self._crumb_key = names
        dpg.delete_item(self.crumbs, children_only=True)
        dpg.add_button(label="Project", parent=self.crumbs, small=True,
                       callback=lambda: self.state.set_scope([]), enabled=bool(names))
        for i, (_sb, name) in enumerate(names):
            dpg.add_text("›", parent=self.crumbs, color=(150, 150, 160))
            dpg.add_button(label=name, parent=self.crumbs, small=True, enabled=i < len(names) - 1,
                           callback=lambda s, a, u: self.state.set_scope(u), user_data=list(self.state.scope[: i + 1]))
        if names:
            dpg.add_button(label="Up", parent=self.crumbs, small=True, callback=lambda: self.state.leave())
            dpg.add_text("inside a SuperBlock: its inputs enter on the left, its outputs leave on the right",
                         parent=self.crumbs, color=(150, 150, 160))
        else:
            dpg.add_text("double-click a SuperBlock to open it", parent=self.crumbs, color=(150, 150, 160))

    # -- document -> screen ----------------------------------------------------------------
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

    def _clear(self) -> None:
        for link, item in list(self.links.items()):
            self._delete_link(link, item)
        for key in list(self.nodes):
            self._delete_node(key)
        self._dpg_selection = []

    def sync(self) -> None:
        """Make the canvas show the open graph (nodes, ports, links, positions)."""
        if self.shown_project is not self.state.project:
            # Another project (new, open, recovered): a fresh view, framed once sizes are known.
            self._clear()
            self.offsets.clear()
            self.zoomer.forget()
            self.boundary_pos.clear()
            self.shown_project = self.state.project
            self.framer.pending = (None, False, 1.0)
            self.framer.fit_on_open, self.state.fit_on_open = self.state.fit_on_open, False
        if self.shown_scope != self.state.scope:
            self._clear()
            self.shown_scope = list(self.state.scope)
            self.zoomer.style.apply(self.zoom)  # each graph keeps its own zoom
        self.layout_version += 1
        self._breadcrumbs()
        graph = self.state.graph
        owner = graph.owner
        wanted_nodes: dict[str, Any] = dict(graph.blocks)
        if owner is not None:
            wanted_nodes[BOUNDARY_IN] = owner
            wanted_nodes[BOUNDARY_OUT] = owner
        stale = [
            key for key, view in self.nodes.items()
            if key not in wanted_nodes or view.signature != self._node_signature(key, wanted_nodes[key])
        ]
        wanted = set(graph.links)
        for link, item in list(self.links.items()):
            ends = {self._node_key(link.src.block, "src"), self._node_key(link.dst.block, "dst")}
            if link not in wanted or ends & set(stale):
                self._delete_link(link, item)
        for key in stale:
            self._delete_node(key)
        for bid, b in graph.blocks.items():
            view = self.nodes.get(bid)
            if view is None:
                self._add_node(b)
            else:
                info = self._type_text(b)
                if dpg.get_value(view.info) != info:
                    dpg.set_value(view.info, info)
                want = self._screen_pos(b.pos)
                pos = dpg.get_item_pos(view.node)
                if abs(pos[0] - want[0]) > 0.5 or abs(pos[1] - want[1]) > 0.5:
                    dpg.set_item_pos(view.node, want)
        if owner is not None:
            for key in (BOUNDARY_IN, BOUNDARY_OUT):
                if key not in self.nodes:
                    self._add_boundary(owner, key)
            self._place_boundary()
        for link in graph.links:
            if link not in self.links:
                self._add_link(link)
        self.apply_validation()

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

    def _place_boundary(self, force: bool = False) -> None:
        """Put the boundary nodes left and right of the inner blocks (until the user drags them)."""
        graph = self.state.graph
        sb = self.state.scope_id
        if sb is None:
            return
        xs = [b.pos[0] for b in graph.blocks.values()] or [300.0]
        ys = [b.pos[1] for b in graph.blocks.values()] or [200.0]
        sizes = self.node_sizes()
        right = max((b.pos[0] + sizes.get(bid, (170.0, 0))[0] for bid, b in graph.blocks.items()), default=500.0)
        default = {BOUNDARY_IN: (min(xs) - 230.0, min(ys)), BOUNDARY_OUT: (right + 70.0, min(ys))}
        for key in (BOUNDARY_IN, BOUNDARY_OUT):
            view = self.nodes.get(key)
            if view is None:
                continue
            if force or (sb, key) not in self.boundary_pos:
                self.boundary_pos[(sb, key)] = default[key]
            want = self._screen_pos(self.boundary_pos[(sb, key)])
            pos = dpg.get_item_pos(view.node)
            if abs(pos[0] - want[0]) > 0.5 or abs(pos[1] - want[1]) > 0.5:
                dpg.set_item_pos(view.node, want)

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
        """Blocks selected on the canvas (boundary nodes are not blocks)."""
        keys = (self.block_of_node.get(n) for n in map(_item_id, dpg.get_selected_nodes(self.editor)))
        return [k for k in keys if k is not None and k not in (BOUNDARY_IN, BOUNDARY_OUT)]

    def selected_links(self) -> list[Link]:
        return [self.link_of_item[i] for i in map(_item_id, dpg.get_selected_links(self.editor)) if i in self.link_of_item]

    def poll_selection(self) -> None:
        """Follow the user's selection on the canvas (only when it changes there)."""
        sel = [_item_id(n) for n in dpg.get_selected_nodes(self.editor)]
        if sel != self._dpg_selection:
            self._dpg_selection = sel
            blocks = self.selected_blocks()
            if blocks:
                self.state.select(blocks)

    def deselect_all(self) -> None:
        """Drop imnodes' own selection too, so the editor's and the drawn one stay the same: a
        press just off a node's edge (on its pin, to drag a link) cleared the editor's while
        imnodes kept the node selected, and a click on that node then changed nothing imnodes
        reports, so the editor never saw it selected again."""
        dpg.clear_selected_nodes(self.editor)
        self._dpg_selection = []

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
        """Where the user has put each block, in document coordinates."""
        ox, oy = self.offset
        s = self.scale
        out = {}
        for key, view in self.nodes.items():
            x, y = dpg.get_item_pos(view.node)
            if key in (BOUNDARY_IN, BOUNDARY_OUT):
                if self.state.scope_id is not None:
                    self.boundary_pos[(self.state.scope_id, key)] = ((x - ox) / s, (y - oy) / s)
                continue
            out[key] = ((x - ox) / s, (y - oy) / s)
        return out

    def record_moves(self) -> bool:
        """After a drag: Move edits for every block whose node moved."""
        return self.state.move(self.positions())

    def hovered_block(self) -> str | None:
        for key, view in self.nodes.items():
            if key not in (BOUNDARY_IN, BOUNDARY_OUT) and dpg.get_item_state(view.node).get("hovered"):
                return key
        return None

    def empty_spot_hovered(self) -> bool:
        """Whether the mouse is over the canvas but over no block (a click there deselects).

        The node editor reports itself hovered under a window drawn over it too (the right-click
        menu, a dialog, the code window): those windows must not be hovered either."""
        if not dpg.get_item_state(self.editor).get("hovered"):
            return False
        if any(dpg.get_item_state(view.node).get("hovered") for view in self.nodes.values()):
            return False
        own = self.editor
        while dpg.get_item_parent(own) is not None:
            own = dpg.get_item_parent(own)
        return not any(w != own and dpg.is_item_shown(w) and dpg.get_item_state(w).get("hovered")
                       for w in dpg.get_windows())

    def mouse_doc_pos(self) -> tuple[float, float] | None:
        """The mouse position in document coordinates, when it is over the canvas."""
        if not dpg.get_item_state(self.editor).get("hovered"):
            return None
        mx, my = dpg.get_mouse_pos(local=False)
        return self.doc_pos_at(mx, my)

    def doc_pos_at(self, x: float, y: float) -> tuple[float, float] | None:
        """Viewport pixel (``x``, ``y``) in document coordinates of the graph on the canvas;
        None when the point is not on the drawn canvas."""
        st = dpg.get_item_state(self.view)
        (vx, vy), (vw, vh) = st.get("rect_min", (0, 0)), st.get("rect_size", (0, 0))
        if not (vx <= x < vx + vw and vy <= y < vy + vh):
            return None
        ox, oy = self.offset
        if self.zoomer.origin is not None and self.nodes:
            gx, gy = self.zoomer.origin
            return ((x - gx - ox) / self.scale, (y - gy - oy) / self.scale)
        # No node drawn (an empty graph): the editor's corner is the grid's origin (no panning yet).
        return ((x - vx - ox) / self.scale, (y - vy - oy) / self.scale)

    def block_at(self, x: float, y: float) -> str | None:
        """The block whose node is drawn under viewport pixel (``x``, ``y``), if any."""
        for bid, box in self.boxes().items():
            if bid in (BOUNDARY_IN, BOUNDARY_OUT):
                continue
            if box["w"] > 0 and box["x"] <= x < box["x"] + box["w"] and box["y"] <= y < box["y"] + box["h"]:
                return bid
        return None

    def boxes(self) -> dict[str, dict[str, Any]]:
        """Each node's rectangle in viewport pixels, for tests and screenshots.

        On 2.3.1 a node's ``rect_min`` lies its padding (``NODE_PAD`` at 100 %, scaled with the
        zoom it was drawn at) right of and below its drawn corner (checked against screenshots);
        ``rect_size`` is the drawn size. A culled node (outside the view) reports 0 × 0.
        """
        out = {}
        pad = self.zoomer.style.padding(self.zoomer.drawn_zoom)
        for bid, view in self.nodes.items():
            st = dpg.get_item_state(view.node) if view.shown else {}
            (x, y), (w, h) = st.get("rect_min", (0, 0)), st.get("rect_size", (0, 0))
            b = self.state.block(bid)
            out[bid] = {"name": b.name if b else bid, "x": round(x - pad), "y": round(y - pad), "w": w, "h": h,
                        "shown": view.shown}
        return out


def _item_id(item: Any) -> int:
    return item if isinstance(item, int) else dpg.get_alias_id(item)
