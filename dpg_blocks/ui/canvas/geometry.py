"""Reading the canvas back: where the last frame drew each node and pin, in document units.

Sizes and pin rows exist only once imnodes has drawn a node, and the view's pan and zoom are
emulated by where nodes are put (ui/canvas/view.py), so every read-back divides the scale and
offset out again: placement of a new block, auto-layout's sizes and pins, positions after a
drag, a point under the mouse, and the rectangles tests and screenshots check. A mixin of
:class:`~dpg_blocks.ui.canvas.graph_canvas.Canvas`; it reads Dear PyGui's item state and moves nothing
(``positions`` also notes where the boundary nodes were dragged: view state, not document).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dearpygui.dearpygui as dpg

from dpg_blocks.ui.canvas.nodes import BOUNDARY_IN, BOUNDARY_OUT, NodeView
from dpg_blocks.ui.canvas.overview import overview_corner
from dpg_blocks.ui.canvas.placement import Rect, Segment, free_spot
from dpg_blocks.ui.canvas.view import FRAME_MARGIN

if TYPE_CHECKING:
    from dpg_blocks.core.graph import Link
    from dpg_blocks.ui.canvas.zoom import ZoomControl
    from dpg_blocks.ui.state.editor_state import EditorState

__all__ = ["DrawnGeometry", "NEW_SIZE", "NODE_PAD"]

NODE_PAD = 8  # imnodes' node padding at 100 % zoom (ZoomStyle.padding scales it)
NEW_SIZE = (130.0, 100.0)  # what a new block is assumed to take before it is drawn (document units)


class DrawnGeometry:
    """Node rectangles, pins and points as drawn (a mixin of :class:`~dpg_blocks.ui.canvas.graph_canvas.Canvas`)."""

    # What this mixin uses of the Canvas it is part of.
    state: EditorState
    editor: int | str
    view: int | str
    zoomer: ZoomControl
    nodes: dict[str, NodeView]
    links: dict[Link, int]
    boundary_pos: dict[tuple[str, str], tuple[float, float]]
    offset: tuple[float, float]
    font_scale: float
    scale: float

    @property
    def new_size(self) -> tuple[float, float]:
        """What a node not drawn yet is assumed to take, in document units."""
        return NEW_SIZE

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
        view = self.view_box()
        return None if view is None else (rects, view)

    def view_box(self) -> Rect | None:
        """The part of the document the canvas shows, in document units, as of the last frame
        (None before a node was drawn: the grid's origin on screen is not known yet)."""
        origin = self.zoomer.origin
        (vx, vy), (vw, vh) = dpg.get_item_rect_min(self.view), dpg.get_item_rect_size(self.view)
        if origin is None or vw <= 0 or vh <= 0:
            return None
        (ox, oy), s = self.offset, self.scale
        return (vx - origin[0] - ox) / s, (vy - origin[1] - oy) / s, vw / s, vh / s

    def free_spot(self, anchor: str | None, title: str = "") -> tuple[float, float] | None:
        """A free spot in view for a new block, next to ``anchor`` (never over a block or a
        link; the overview's corner counts as taken); None when there is no room in view."""
        drawn = self.drawn()
        if drawn is None:
            return None
        rects, view = drawn
        vx, vy, vw, vh = view
        # A block drawn before its validation came back is narrow (no shapes beside its port
        # names yet: a Fill is 39 px, then 112): each holds at least a new block's width, or
        # the next one added at once is overlapped when the first widens.
        occupied = [*((x, y, max(w, NEW_SIZE[0]), h) for x, y, w, h in rects.values()),
                    overview_corner(view, self.scale)]
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

    def layout_view(self) -> tuple[float, float]:
        """The canvas' size in document units at 100 %, less the framing margins: what
        auto-layout lays a graph out to show largest in (the zoom it is at now does not matter,
        framing zooms to fit afterwards)."""
        if dpg.is_viewport_ok():
            w, h = dpg.get_item_rect_size(self.view)
            if w > 0 and h > 0:
                fs = self.font_scale
                return max(w - 2 * FRAME_MARGIN, 1.0) / fs, max(h - 2 * FRAME_MARGIN, 1.0) / fs
        return 1000.0, 625.0

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
