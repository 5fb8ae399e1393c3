"""The canvas' zoom and culling: per-graph zoom about the cursor, and nodes outside the view
left undrawn so imnodes' per-node work (hover tests, drawing) stays proportional to the view.

The document is never touched: a zoom rescales where the nodes are put (ui/canvas/view.py),
their font and the node style (ui/canvas/zoom_style.py); positions read back divide it out again
(:meth:`Canvas.positions`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dearpygui.dearpygui as dpg

from dpg_blocks.ui.canvas.view import LABEL_ZOOM, Box, Point, View, clamp_zoom, needed_nodes, step_zoom
from dpg_blocks.ui.canvas.zoom_style import ZoomStyle

if TYPE_CHECKING:
    from dpg_blocks.ui.canvas.graph_canvas import Canvas

CULL_MARGIN = 60.0  # screen px around the view still drawn: a node slides in whole, not popping


class ZoomControl:
    """One canvas' zoom per graph, the grid's origin on screen, and which nodes are drawn."""

    def __init__(self, canvas: Canvas, style: ZoomStyle) -> None:
        self.canvas = canvas
        self.style = style
        self.zooms: dict[str | None, float] = {}
        self.origin: Point | None = None  # grid (0, 0) on screen, as last drawn
        self.drawn_zoom = 1.0  # the zoom the last rendered frame was drawn at
        self.culling = True
        self.culled = 0  # nodes left undrawn in the last cull (benchmarks, tests)
        self.sizes_version = 0  # bumped when a node's drawn size changes (the overview redraws)
        self._cull_key: tuple[Any, ...] | None = None
        self.hidden_links: set[int] = set()
        self._ends: list[tuple[int, str, str]] = []
        self._ends_version = -1

    @property
    def zoom(self) -> float:
        """The open graph's zoom (1.0 = 100 %)."""
        return self.zooms.get(self.canvas.state.scope_id, 1.0)

    def forget(self) -> None:
        """A new project: every graph back to 100 %."""
        self.zooms.clear()
        self._cull_key = None

    # -- per frame ------------------------------------------------------------------------------
    def begin_frame(self) -> None:
        """Before this frame moves anything: where the grid's origin was drawn (imnodes' own
        panning included), from a node drawn in the last frame."""
        pad = self.style.padding(self.drawn_zoom)
        for view in self.canvas.nodes.values():
            if not view.shown:
                continue
            st = dpg.get_item_state(view.node)
            (x, y), (w, _h) = st.get("rect_min", (0, 0)), st.get("rect_size", (0, 0))
            if w > 0:
                gx, gy = dpg.get_item_pos(view.node)
                self.origin = (x - gx - pad, y - gy - pad)
                return

    def end_frame(self) -> None:
        """After this frame's changes, before it renders: draw only what the view needs."""
        self.cull()
        self.drawn_zoom = self.zoom

    # -- zooming --------------------------------------------------------------------------------
    def grid_origin(self) -> Point:
        """Grid (0, 0) on screen; before any node was drawn, the canvas' corner (no pan yet)."""
        if self.origin is not None:
            return self.origin
        return tuple(dpg.get_item_rect_min(self.canvas.view))  # type: ignore[return-value]

    def set(self, zoom: float, about: Point | None = None) -> bool:
        """Zoom the open graph to ``zoom`` (clamped to 25–200 %), keeping the document point
        under screen point ``about`` (default: the canvas' centre) where it is."""
        new, old = clamp_zoom(zoom), self.zoom
        if abs(new - old) < 1e-6:
            return False
        c = self.canvas
        if about is None:
            (vx, vy), (vw, vh) = dpg.get_item_rect_min(c.view), dpg.get_item_rect_size(c.view)
            about = (vx + vw / 2, vy + vh / 2)
        ox, oy = self.grid_origin()
        view = View(c.scale, c.offset).rescaled(c.font_scale * new, (about[0] - ox, about[1] - oy))
        self.zooms[c.state.scope_id] = new
        c.offsets[c.state.scope_id] = view.offset
        self.apply(relabel=(new < LABEL_ZOOM) != (old < LABEL_ZOOM))
        return True

    def step(self, steps: int, about: Point | None = None) -> bool:
        """Zoom ``steps`` notches in (positive) or out (negative)."""
        return self.set(step_zoom(self.zoom, steps), about)

    def apply(self, relabel: bool = True) -> None:
        """Make the canvas show the open graph's zoom: style, fonts, places (and pin labels)."""
        c = self.canvas
        self.style.apply(self.zoom)
        for view in c.nodes.values():
            self.bind_font(view)
        c.reposition()
        if relabel:
            c.apply_validation()
        self._cull_key = None

    def bind_font(self, view: Any) -> None:
        """Give a node the font of the zoom (a font bound to the editor does not reach it)."""
        font = self.style.font(self.zoom)
        if view.font != font:
            dpg.bind_item_font(view.node, font)
            view.font = font

    # -- culling --------------------------------------------------------------------------------
    def cull(self, force: bool = False) -> None:
        """Hide the nodes (and links) the view does not need; show those it needs again."""
        c = self.canvas
        if not c.nodes or not dpg.is_viewport_ok():
            return
        (vx, vy), (vw, vh) = dpg.get_item_rect_min(c.view), dpg.get_item_rect_size(c.view)
        if vw <= 0 or vh <= 0 or self.origin is None:
            return
        key = (round(self.origin[0]), round(self.origin[1]), c.offset, c.scale, vx, vy, vw, vh,
               c.layout_version, self.culling, tuple(c._dpg_selection))
        if key == self._cull_key and not force:
            return
        self._cull_key = key
        ox, oy = self.origin
        keys = list(c.nodes)
        if self.culling:
            rects = self._grid_rects(keys)
            view: Box = (vx - ox - CULL_MARGIN, vy - oy - CULL_MARGIN, vw + 2 * CULL_MARGIN, vh + 2 * CULL_MARGIN)
            wanted = needed_nodes(rects, [(a, b) for _item, a, b in self._link_ends()], view)
            wanted.add(keys[0])  # one node always drawn: the grid's origin is read from it
            wanted.update(c.block_of_node.get(n, "") for n in c._dpg_selection)  # imnodes keeps drawn selections
            wanted.update(k for k in keys if k.startswith("<"))  # the SuperBlock's boundary
        else:
            wanted = set(keys)
        for k in keys:
            c.show_node(k, k in wanted)
        nodes = c.nodes
        for item, ka, kb in self._link_ends():
            a, b = nodes.get(ka), nodes.get(kb)
            show = a is not None and b is not None and a.shown and b.shown
            if show == (item in self.hidden_links):
                dpg.configure_item(item, show=show)
                (self.hidden_links.discard if show else self.hidden_links.add)(item)
        self.culled = len(keys) - len(wanted & set(keys))

    def _link_ends(self) -> list[tuple[int, str, str]]:
        """Each link's item and the nodes it joins, kept until the nodes or links change."""
        c = self.canvas
        if self._ends_version != c.layout_version:
            self._ends_version = c.layout_version
            self._ends = [(item, c._node_key(ln.src.block, "src"), c._node_key(ln.dst.block, "dst"))
                          for ln, item in c.links.items()]
        return self._ends

    def _grid_rects(self, keys: list[str]) -> dict[str, Box]:
        """Every node's rectangle on the grid, from the document (a node sits at its place in
        the view, but during a drag, and a dragged node is under the mouse, so drawn anyway):
        asking Dear PyGui for 1,000 positions made a cull cost 35 ms. Sizes as last drawn."""
        c = self.canvas
        blocks = c.state.graph.blocks
        s, (ox, oy) = c.scale, c.offset
        drawn_scale = c.font_scale * self.drawn_zoom
        new_w, new_h = c.new_size
        out: dict[str, Box] = {}
        for key in keys:
            view = c.nodes[key]
            if view.shown:
                w, h = dpg.get_item_state(view.node).get("rect_size", (0, 0))
                if w > 0:
                    self._keep_size(view, (w / drawn_scale, h / drawn_scale))
            b = blocks.get(key)
            if b is None:  # a SuperBlock's boundary: its place is view state
                gx, gy = dpg.get_item_pos(view.node)
            else:
                gx, gy = b.pos[0] * s + ox, b.pos[1] * s + oy
            dw, dh = view.size or (new_w, new_h)
            out[key] = (gx, gy, dw * s, dh * s)
        return out

    def _keep_size(self, view: Any, size: tuple[float, float]) -> None:
        """Remember a node's drawn size in document units (it is kept while the node is culled)."""
        old = view.size
        if old is None or abs(old[0] - size[0]) > 0.5 or abs(old[1] - size[1]) > 0.5:
            self.sizes_version += 1
        view.size = size

    def grid_rect(self, key: str) -> Box:
        """A node's rectangle on the grid: drawn size while drawn, its last one while hidden."""
        c = self.canvas
        view = c.nodes[key]
        gx, gy = dpg.get_item_pos(view.node)
        if view.shown:
            w, h = dpg.get_item_state(view.node).get("rect_size", (0, 0))
            if w > 0:
                drawn_scale = c.font_scale * self.drawn_zoom
                self._keep_size(view, (w / drawn_scale, h / drawn_scale))
        dw, dh = view.size or c.new_size
        return gx, gy, dw * c.scale, dh * c.scale
