"""The canvas' overview: every block of the open graph as a small rectangle, and the view's frame.

imnodes' own minimap draws only the nodes it is given each frame, so once culling
(ui/canvas/zoom.py) leaves the nodes outside the view undrawn it showed the few blocks in view:
the opposite of an overview. This one is drawn from the document (each block's place) and the
size each node was last drawn at, culled or not. At 500 blocks the user sees where the blocks
are, which fail (red) and which are selected (blue), and which part the canvas shows (the
white frame); a click or a drag on it moves the view there. It never touches the document, and
it shows only while some block is outside the view (with all in view it would only cover some).

It floats over the canvas' bottom-right corner as an undecorated window, like the welcome panel
(a drawing inside the node editor's child window would be under imnodes' input handling).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dearpygui.dearpygui as dpg

from dpg_blocks.ui.canvas.view import Box

if TYPE_CHECKING:
    from dpg_blocks.ui.canvas.graph_canvas import Canvas

SIZE = (220, 140)  # px: the drawing; the window is the drawing and a 1 px border
MARGIN = 10  # px from the canvas' bottom-right corner
INSET = 5.0  # px around the blocks inside the drawing
BACKGROUND = (28, 28, 34, 230)
PLAIN = (150, 150, 165, 255)
FAILING = (220, 70, 70, 255)
SELECTED = (90, 160, 240, 255)
FRAME = (235, 235, 240, 255)


def fit_map(bounds: Box, size: tuple[float, float], inset: float = INSET) -> tuple[float, float, float]:
    """(scale, dx, dy) mapping document point p to the drawing's ``p * scale + (dx, dy)``,
    so that ``bounds`` fills ``size`` less ``inset``, centred, without distortion."""
    x, y, w, h = bounds
    room_w, room_h = size[0] - 2 * inset, size[1] - 2 * inset
    k = min(room_w / max(w, 1e-6), room_h / max(h, 1e-6))
    return k, inset + (room_w - w * k) / 2 - x * k, inset + (room_h - h * k) / 2 - y * k


def bounds_of(rects: list[Box]) -> Box:
    """The smallest box holding every rectangle (x, y, w, h)."""
    x0 = min(r[0] for r in rects)
    y0 = min(r[1] for r in rects)
    x1 = max(r[0] + r[2] for r in rects)
    y1 = max(r[1] + r[3] for r in rects)
    return x0, y0, x1 - x0, y1 - y0


class Overview:
    """One canvas' overview (built at the top level, not inside a container)."""

    def __init__(self, canvas: Canvas) -> None:
        self.canvas = canvas
        self.enabled = True  # View › Overview
        self.mapping: tuple[float, float, float] | None = None  # fit_map of the blocks drawn
        self.drawn: dict[str, Box] = {}  # block id -> its rectangle in the drawing (tests, boxes)
        self.bounds: Box | None = None  # every block, in document units
        self.frame_box: Box = (0.0, 0.0, 0.0, 0.0)  # the view's frame in the drawing
        self._key: tuple[Any, ...] | None = None
        self._news = 0  # state changes that may recolour or move a block (see _hear)
        self._dragging = False
        canvas.state.subscribe(self._hear)
        with dpg.theme() as theme, dpg.theme_component(dpg.mvAll):
            dpg.add_theme_style(dpg.mvStyleVar_WindowPadding, 1, 1, category=dpg.mvThemeCat_Core)
            dpg.add_theme_style(dpg.mvStyleVar_WindowBorderSize, 1, category=dpg.mvThemeCat_Core)
            dpg.add_theme_style(dpg.mvStyleVar_WindowMinSize, 1, 1, category=dpg.mvThemeCat_Core)
        with dpg.window(show=False, no_title_bar=True, no_move=True, no_resize=True, no_collapse=True,
                        no_saved_settings=True, no_focus_on_appearing=True, no_scrollbar=True,
                        width=SIZE[0] + 2, height=SIZE[1] + 2) as self.window:
            self.drawing = dpg.add_drawlist(width=SIZE[0], height=SIZE[1])
            dpg.draw_rectangle((0, 0), SIZE, fill=BACKGROUND, color=BACKGROUND, parent=self.drawing)
            self.blocks_layer = dpg.add_draw_layer(parent=self.drawing)
            self.frame_item = dpg.draw_rectangle((0, 0), (0, 0), color=FRAME, thickness=1.5, parent=self.drawing)
        dpg.bind_item_theme(self.window, theme)

    @property
    def shown(self) -> bool:
        return bool(dpg.is_item_shown(self.window))

    def toggle(self) -> None:
        """View › Overview: show or hide it."""
        self.enabled = not self.enabled

    def _hear(self, topic: str) -> None:
        # Counting the news keeps the per-frame check O(1): comparing every block's status and
        # size each frame cost 0.25 ms at 1,000 blocks, more than the rest of the editor's frame.
        if topic in ("document", "selection", "validation", "training", "scope", "file"):
            self._news += 1

    # -- per frame ------------------------------------------------------------------------------
    def tick(self) -> None:
        """Place it on the canvas' corner, redraw what changed, and follow a click or a drag."""
        c = self.canvas
        (vx, vy), (vw, vh) = dpg.get_item_rect_min(c.view), dpg.get_item_rect_size(c.view)
        want = (self.enabled and bool(c.state.graph.blocks) and vw > SIZE[0] + 2 * MARGIN
                and vh > SIZE[1] + 2 * MARGIN and dpg.is_item_visible(c.view))
        view = c.view_box() if want else None
        if want:
            self._draw_blocks()
            # With every block in view it would only cover some of them (a graph zoomed to fit
            # fills the canvas to its corner): it shows when there is somewhere else to go.
            want = self._dragging or not self._all_in_view(view)
        if want != self.shown:
            dpg.configure_item(self.window, show=want)
        if not want:
            self._dragging = False
            return
        pos = [int(vx + vw - SIZE[0] - 2 - MARGIN), int(vy + vh - SIZE[1] - 2 - MARGIN)]
        if list(dpg.get_item_pos(self.window)) != pos:
            dpg.set_item_pos(self.window, pos)
        if self._follow_mouse():
            view = c.view_box()  # the view moved: its frame is drawn where it is now
        self._draw_frame(view)

    def _all_in_view(self, view: Box | None) -> bool:
        b = self.bounds
        if view is None or b is None:
            return False
        return view[0] <= b[0] and view[1] <= b[1] and b[0] + b[2] <= view[0] + view[2] and b[1] + b[3] <= view[1] + view[3]

    def block_rects(self) -> dict[str, Box]:
        """Every block of the open graph in document units: its place, and the size its node was
        last drawn at (a new block's size before it was ever drawn)."""
        c = self.canvas
        out: dict[str, Box] = {}
        for bid, b in c.state.graph.blocks.items():
            view = c.nodes.get(bid)
            w, h = (view.size if view is not None and view.size else None) or c.new_size
            out[bid] = (b.pos[0], b.pos[1], w, h)
        return out

    def _colour(self, bid: str, selected: set[str]) -> tuple[int, int, int, int]:
        rec = self.canvas.state.record(bid)
        if rec and rec.get("status") == "error":
            return FAILING
        return SELECTED if bid in selected else PLAIN

    def _draw_blocks(self) -> None:
        c = self.canvas
        st = c.state
        key = (self._news, c.layout_version, c.zoomer.sizes_version, st.scope_id, id(st.graph), len(st.graph.blocks))
        if key == self._key:
            return
        self._key = key
        selected = set(st.selected)
        rects = self.block_rects()
        dpg.delete_item(self.blocks_layer, children_only=True)
        self.drawn = {}
        if not rects:
            self.mapping = self.bounds = None
            return
        self.bounds = bounds_of(list(rects.values()))
        k, dx, dy = self.mapping = fit_map(self.bounds, SIZE)
        for bid, (x, y, w, h) in rects.items():
            colour = self._colour(bid, selected)
            box = (x * k + dx, y * k + dy, max(w * k, 2.0), max(h * k, 2.0))
            self.drawn[bid] = box
            dpg.draw_rectangle((box[0], box[1]), (box[0] + box[2], box[1] + box[3]), fill=colour, color=colour,
                               parent=self.blocks_layer)

    def _draw_frame(self, view: Box | None) -> None:
        if view is None or self.mapping is None:
            return
        k, dx, dy = self.mapping
        x, y, w, h = view
        box = (x * k + dx, y * k + dy, w * k, h * k)
        if box != self.frame_box:
            self.frame_box = box
            dpg.configure_item(self.frame_item, pmin=(box[0], box[1]), pmax=(box[0] + box[2], box[1] + box[3]))

    # -- moving the view ------------------------------------------------------------------------
    def _follow_mouse(self) -> bool:
        """A press on the overview starts a drag; while it lasts the view is centred on the
        document point under the mouse. Whether the view moved."""
        if not dpg.is_mouse_button_down(dpg.mvMouseButton_Left):
            self._dragging = False
            return False
        if not self._dragging:
            if not dpg.is_item_hovered(self.drawing) or not dpg.is_mouse_button_clicked(dpg.mvMouseButton_Left):
                return False
            self._dragging = True
        if self.mapping is None:
            return False
        mx, my = dpg.get_mouse_pos(local=False)
        ax, ay = dpg.get_item_rect_min(self.drawing)
        k, dx, dy = self.mapping
        return self.centre_on(((mx - ax - dx) / k, (my - ay - dy) / k))

    def centre_on(self, doc: tuple[float, float]) -> bool:
        """Pan the canvas so document point ``doc`` is at the view's centre (zoom unchanged);
        whether it moved."""
        c = self.canvas
        origin = c.zoomer.origin
        if origin is None:
            return False
        (vx, vy), (vw, vh) = dpg.get_item_rect_min(c.view), dpg.get_item_rect_size(c.view)
        s = c.scale
        offset = (vx + vw / 2 - origin[0] - doc[0] * s, vy + vh / 2 - origin[1] - doc[1] * s)
        if max(abs(offset[0] - c.offset[0]), abs(offset[1] - c.offset[1])) < 0.5:
            return False
        c.offsets[c.state.scope_id] = offset
        c.reposition()
        return True

    def boxes(self) -> dict[str, Any]:
        """Where it was drawn, each block's rectangle and the view's frame, in screen pixels
        (for ``screenshot --boxes`` and the real-input tests)."""
        if not self.shown:
            return {"shown": False}
        ax, ay = dpg.get_item_rect_min(self.drawing)

        def screen(b: Box) -> dict[str, int]:
            return {"x": int(ax + b[0]), "y": int(ay + b[1]), "w": int(b[2]), "h": int(b[3])}

        return {"shown": True, "x": int(ax), "y": int(ay), "w": SIZE[0], "h": SIZE[1],
                "blocks": {bid: screen(b) for bid, b in self.drawn.items()}, "frame": screen(self.frame_box)}


def overview_corner(view: Box, scale: float) -> Box:
    """The view's corner the overview covers, in document units (``view`` in document units,
    ``scale`` screen pixels per unit): new blocks are not placed under it."""
    vx, vy, vw, vh = view
    w, h = (SIZE[0] + 2 + MARGIN) / scale, (SIZE[1] + 2 + MARGIN) / scale
    return vx + vw - w, vy + vh - h, w, h
