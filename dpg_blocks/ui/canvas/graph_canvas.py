"""The canvas: a Dear PyGui node editor mirroring the project's open graph.

The document is the truth. :meth:`Canvas.sync` diffs it against the nodes and links on screen
(links are always deleted before their nodes: deleting a linked node can segfault, DESIGN.md
§7); user gestures (link, delink, drag) become edit commands through :class:`EditorState`,
and the resulting document change comes back through ``sync``.

The :class:`Canvas` is one object built from parts, each in its own module: the widgets of one
node and its validation status (ui/canvas/nodes.py), reading back what was drawn
(ui/canvas/geometry.py), the user's gestures (ui/canvas/gestures.py), zoom and culling
(ui/canvas/zoom.py) and framing (ui/canvas/framing.py). Here: the view transform, the diff
against the document, navigation between graphs and the breadcrumbs.
"""

from __future__ import annotations

from typing import Any

import dearpygui.dearpygui as dpg

from dpg_blocks.core.graph import Link
from dpg_blocks.ui.canvas.framing import Framer
from dpg_blocks.ui.canvas.geometry import NODE_PAD, DrawnGeometry
from dpg_blocks.ui.canvas.gestures import Gestures
from dpg_blocks.ui.canvas.nodes import BOUNDARY_IN, BOUNDARY_OUT, NodeView, NodeWidgets, PortKey, shape_text
from dpg_blocks.ui.canvas.view import FRAME_MARGIN, framing_delta
from dpg_blocks.ui.canvas.zoom import ZoomControl
from dpg_blocks.ui.canvas.zoom_style import ZoomStyle
from dpg_blocks.ui.state.editor_state import EditorState
from dpg_blocks.ui.theme import Themes

__all__ = ["Canvas", "NodeView", "BOUNDARY_IN", "BOUNDARY_OUT", "FRAME_MARGIN", "NODE_PAD", "framing_delta", "shape_text"]


class Canvas(NodeWidgets, DrawnGeometry, Gestures):
    """The node editor and the mapping between its items and the document.

    Nodes sit at their document position plus a per-graph view ``offset``: Dear PyGui has no
    panning API (DESIGN.md §7), so "frame all" and "go to block" shift the view by moving every
    node by the same amount, which never touches the document. Document positions are scaled
    by the font scale times the graph's zoom (:attr:`scale`): a node grows with its text, so
    its place must grow too, or a layout made at 100 % overlaps at 130 %. Zoom and culling live
    in :class:`~dpg_blocks.ui.canvas.zoom.ZoomControl` (:attr:`zoomer`).
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
            minimap=False,  # imnodes' minimap loses the culled nodes: ui/canvas/overview.py draws every block
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

    def _screen_pos(self, doc: tuple[float, float]) -> list[float]:
        ox, oy = self.offset
        s = self.scale
        return [doc[0] * s + ox, doc[1] * s + oy]

    def frame(self, block_ids: list[str] | None = None, centre: bool = False, fit: float = 1.0) -> bool:
        """Shift the view so ``block_ids`` (default: everything) are in sight, zooming out to
        fit when framing everything (ui/canvas/framing.py)."""
        return self.framer.frame(block_ids, centre, fit)

    @property
    def framing(self) -> bool:
        """Whether a framing waits for the nodes to be drawn (a zoom to fit takes a few frames)."""
        return self.framer.pending is not None

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

    def auto_layout(self) -> bool:
        """Lay the open graph out to show largest in the canvas, then frame it."""
        moved = self.state.auto_layout(self.node_sizes(), fit=self.layout_view(),
                                       pins=self.pin_rows())
        self._place_boundary(force=True)
        self.framer.laid_out_by_user = moved
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
        self.framer.cancel_refit()
        changed = self.zoomer.set(zoom, about)
        if changed:
            self._shown_scale = self.scale
        return changed

    def zoom_step(self, steps: int, about: tuple[float, float] | None = None) -> bool:
        """Zoom ``steps`` notches in (positive) or out (negative)."""
        self.framer.cancel_refit()
        changed = self.zoomer.step(steps, about)
        if changed:
            self._shown_scale = self.scale
        return changed

    def frame_all(self) -> bool:
        """Home: pan, and zoom out (down to 25 %) when needed, so the whole graph is in sight."""
        self.framer.cancel_refit()
        self.framer.tries = 0
        return self.frame()

    def zoom_to_fit(self) -> bool:
        """Zoom (25–200 %) and pan so the whole graph fills the canvas."""
        self.framer.cancel_refit()
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
