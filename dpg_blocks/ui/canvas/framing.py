"""Framing the canvas: pan (and, framing everything, zoom) so that blocks are in sight.

Node sizes exist only once drawn, and a zoom or a layout shows in the next frame, so a framing
may wait (:attr:`Framer.pending`) and is finished by :meth:`Framer.poll`; it never changes the
document, except for the one layout an opened file may get (``lay_out_to_fit``, undoable).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dearpygui.dearpygui as dpg

from dpg_blocks.core.graph import GraphError
from dpg_blocks.core.layout import auto_layout
from dpg_blocks.ui.canvas.view import (
    FRAME_MARGIN,
    LAYOUT_GAIN,
    READABLE_ZOOM,
    ZOOM_MIN,
    Box,
    fit_zoom,
    framing_delta,
)

if TYPE_CHECKING:
    from dpg_blocks.ui.canvas.graph_canvas import Canvas


class Framer:
    """One canvas' framing: the request waiting for a frame, and what opening a file does."""

    def __init__(self, canvas: Canvas) -> None:
        self.canvas = canvas
        self.pending: tuple[Any, ...] | None = None  # frame()'s arguments, to retry
        self.fit_on_open = False  # the first framing of an opened file may lay it out
        self.laid_out_on_open = False
        self.laid_out_by_user = False  # Ctrl+L just laid the graph out: do not suggest it again
        # An opened file is framed before its first validation, whose shapes beside the pins
        # widen the nodes: that framing is made again once, unless the user moved the view.
        self.refit = False
        self.framed_view: tuple[Any, ...] | None = None
        self.said_laid_out = False
        self.refitting = False  # the pending framing is that refit (a zoom by the user cancels it)
        self.settle = 0  # frames to wait before framing: nodes just moved are drawn there next frame
        self.tries = 0  # zoom adjustments of the frame-all under way

    def poll(self) -> None:
        """Per frame: finish a framing that waited for the nodes to be drawn."""
        if self.settle > 0:
            self.settle -= 1
        elif self.pending is not None:
            self.frame(*self.pending)

    def frame(self, block_ids: list[str] | None = None, centre: bool = False, fit: float = 1.0) -> bool:
        """Shift the view so ``block_ids`` (default: everything) are in sight; framing
        everything also zooms, down to 25 % and up to ``fit``, so that the graph fits.

        Node sizes are known only once drawn, so before the first frame this waits for the
        next :meth:`poll` (returns False); it never changes the document.
        """
        c = self.canvas
        keys = [k for k in (block_ids if block_ids is not None else c.nodes) if k in c.nodes]
        if not keys:
            self.pending = None  # nothing to frame (an empty graph): no framing waits either
            return False
        vx, vy = dpg.get_item_rect_min(c.view)
        vw, vh = dpg.get_item_rect_size(c.view)
        boxes = [b for b in (self.screen_box(k) for k in keys) if b is not None]
        if len(boxes) < len(keys) or vw <= 0 or vh <= 0 or abs(c.zoomer.drawn_zoom - c.zoom) > 1e-9:
            self.pending = (block_ids, centre, fit)  # not drawn (at this zoom) yet
            return False
        self.pending = None
        if block_ids is None and self.fit_on_open:
            self.fit_on_open = False
            v = c.state.validation
            self.refit = v.pending or not v.received
            if self._better_laid_out(boxes, (vw, vh)) and c.state.lay_out_to_fit(
                    c.node_sizes(), pins=c.pin_rows(), fit=c.layout_view()):
                # The nodes move in the next frame: framed once they are drawn there.
                self.laid_out_on_open = True
                self.settle = 2
                self.pending = (None, False, fit)
                return False
        if block_ids is None:
            want = max(ZOOM_MIN, min(fit, fit_zoom(boxes, c.zoom, (vw, vh))))
            # Fonts come in whole pixels and a node has a few fixed pixels, so its size is not
            # quite linear in the zoom: zoom, look again, and after the first try only ever
            # out, a little further than the ratio says (no back and forth).
            if self.tries > 0 and want < c.zoom:
                want = max(ZOOM_MIN, min(want, c.zoom * 0.97))
            # (still too big by a pixel or two is too big: zoom out again, however close the ratio)
            closer = abs(want - c.zoom) > 0.004 or want < c.zoom - 1e-6
            if closer and self.tries < 6 and (self.tries == 0 or want < c.zoom):
                self.tries += 1
                c.zoomer.set(want)
                self.settle = 1
                self.pending = (None, centre, fit)
                return False
            self._say_if_too_big(boxes, (vw, vh), zoomed=self.tries > 0)
            self.tries = 0
        dx, dy = framing_delta(boxes, (vx, vy, vw, vh), centre)
        if abs(dx) >= 0.5 or abs(dy) >= 0.5:
            ox, oy = c.offset
            c.offsets[c.state.scope_id] = (ox + dx, oy + dy)
            for view in c.nodes.values():
                gx, gy = dpg.get_item_pos(view.node)
                dpg.set_item_pos(view.node, [gx + dx, gy + dy])
            c.layout_version += 1
        if block_ids is None:
            self.framed_view = (c.state.scope_id, c.zoom, c.offset)
            self.refitting = False
        return True

    def cancel_refit(self) -> None:
        """The user zoomed: the view is theirs, the refit waiting for it is dropped."""
        if self.refitting:
            self.refitting = False
            self.pending = None
        self.refit = False

    def refit_after_validation(self) -> None:
        """The first validation after a file was opened and framed: its nodes widen (the shapes
        beside the pins), so frame everything again, the view being where the framing left it."""
        if not self.refit:
            return
        self.refit = False
        c = self.canvas
        if self.pending is None and self.framed_view == (c.state.scope_id, c.zoom, c.offset):
            self.tries = 0
            self.refitting = True
            self.laid_out_on_open = self.said_laid_out
            self.settle = 2  # the widened nodes are drawn in the next frame
            self.pending = (None, False, 1.0)

    def _better_laid_out(self, boxes: list[Box], view: tuple[float, float]) -> bool:
        """Whether a file just opened is better laid out than zoomed out: its own layout fits
        only below a readable zoom, and a layout fitted to the canvas would be read at a zoom
        half as large again (7 blocks spread over 5 screens); else the zoom shows the file's
        own layout (200 blocks in a grid) and the document stays as it is."""
        c = self.canvas
        as_is = fit_zoom(boxes, c.zoom, view)
        if as_is >= READABLE_ZOOM:
            return False
        sizes = c.node_sizes()
        try:
            laid = auto_layout(c.state.graph, sizes, fit=c.layout_view())
        except GraphError:
            return True  # lay_out_to_fit says why
        s = c.scale
        rects = [(x * s, y * s, sizes.get(bid, c.new_size)[0] * s, sizes.get(bid, c.new_size)[1] * s)
                 for bid, (x, y) in laid.items()]
        return fit_zoom(rects, c.zoom, view) >= LAYOUT_GAIN * as_is

    def screen_box(self, key: str) -> Box | None:
        """A node's rectangle on screen as drawn in the last frame (``rect_min`` lies its
        padding inside it: see :meth:`boxes`), or where it would be drawn while culled (None
        when it was never drawn and no grid origin is known yet)."""
        c = self.canvas
        view = c.nodes[key]
        if view.shown:
            st = dpg.get_item_state(view.node)
            (x, y), (w, h) = st.get("rect_min", (0, 0)), st.get("rect_size", (0, 0))
            pad = c.zoomer.style.padding(c.zoomer.drawn_zoom)
            return (x - pad, y - pad, w, h) if w > 0 and h > 0 else None
        if c.zoomer.origin is None:
            return None
        gx, gy, w, h = c.zoomer.grid_rect(key)
        return gx + c.zoomer.origin[0], gy + c.zoomer.origin[1], w, h

    @staticmethod
    def _too_big(boxes: list[Box], view: tuple[float, float]) -> tuple[float, float] | None:
        """The graph's framed size when it is larger than the canvas, else None."""
        width = max(b[0] + b[2] for b in boxes) - min(b[0] for b in boxes) + 2 * FRAME_MARGIN
        height = max(b[1] + b[3] for b in boxes) - min(b[1] for b in boxes) + 2 * FRAME_MARGIN
        return (width, height) if width > view[0] or height > view[1] else None

    def _say_if_too_big(self, boxes: list[Box], view: tuple[float, float], zoomed: bool = False) -> None:
        """Frame all: say when the graph is larger than the canvas even at the smallest zoom,
        that it was zoomed out to fit, and that it was laid out when opening it moved it."""
        c = self.canvas
        laid_out, self.laid_out_on_open = self.laid_out_on_open, False
        by_user, self.laid_out_by_user = self.laid_out_by_user, False
        self.said_laid_out = laid_out  # a refit says it again
        size = self._too_big(boxes, view)
        canvas = f"the canvas {view[0]:.0f}×{view[1]:.0f}"
        zoom = f"{c.zoom * 100:.0f} %"
        if size is None:
            said = []
            if laid_out:
                said.append("laid out to fit the canvas: the file's own layout did not fit (Ctrl+Z gives it back; "
                            "the file keeps it until you save)")
            if zoomed and c.zoom < 1.0:
                said.append(f"zoomed to {zoom} to fit the canvas (Ctrl+0: 100 %)")
            if said:
                c.state.say("; ".join(said))
            return
        graph = f"{size[0]:.0f}×{size[1]:.0f} px at {zoom}"
        if laid_out or by_user:
            undo = " (Ctrl+Z gives the file's layout back)" if laid_out else " (Ctrl+Z undoes it)"
            c.state.say(f"laid out to fit the canvas and the graph is still {graph}, {canvas}: showing its "
                        f"top-left; the overview (bottom right) or a middle-drag moves the view{undo}")
        else:
            smallest = ", even at the smallest zoom" if c.zoom <= ZOOM_MIN + 1e-6 else ""
            c.state.say(f"the graph is {graph}, {canvas}{smallest}: showing its top-left; "
                        "Ctrl+L lays it out to fit the canvas; the overview or a middle-drag moves the view")

