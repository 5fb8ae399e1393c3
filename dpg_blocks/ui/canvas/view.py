"""The canvas' view transform: document units to the node editor's grid and back, zoom steps,
zoom about a point, zoom to fit, and which nodes a view needs drawn (culling).

Pure arithmetic, no Dear PyGui: the canvas (ui/canvas/graph_canvas.py) feeds it what was drawn. A node sits
on imnodes' grid at ``doc * scale + offset``, where ``scale`` is the font scale times the
graph's zoom and ``offset`` the graph's pan (DESIGN.md §7: imnodes has no zoom and no panning
API, so both are emulated by where the nodes are put, never by changing the document).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "ZOOM_MIN", "ZOOM_MAX", "ZOOM_STEPS", "LABEL_ZOOM", "FRAME_MARGIN", "READABLE_ZOOM", "LAYOUT_GAIN", "Box", "Point", "View",
    "clamp_zoom", "step_zoom", "fit_zoom", "framing_delta", "needed_nodes",
]

ZOOM_MIN, ZOOM_MAX = 0.25, 2.0
# Ctrl+wheel and View › Zoom in/out go through these; fit may land between them.
ZOOM_STEPS = (0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 1.75, 2.0)
LABEL_ZOOM = 0.6  # below this a node's pins show their names only: the shapes made nodes wide
FRAME_MARGIN = 30.0  # screen pixels kept free around a framed graph
# Opening a file that fits only below READABLE_ZOOM lays it out instead, when the layout would
# be read at LAYOUT_GAIN times that zoom or more (ui/canvas/framing.py, Framer._better_laid_out).
READABLE_ZOOM, LAYOUT_GAIN = 0.5, 1.5
Point = tuple[float, float]
Box = tuple[float, float, float, float]  # x, y, w, h


def clamp_zoom(zoom: float) -> float:
    """``zoom`` kept within 25–200 %."""
    if not math.isfinite(zoom):
        raise ValueError(f"zoom must be a finite number, got {zoom!r}")
    return min(ZOOM_MAX, max(ZOOM_MIN, zoom))


def step_zoom(zoom: float, steps: int) -> float:
    """The zoom ``steps`` notches in (positive) or out (negative) from ``zoom``, on
    :data:`ZOOM_STEPS`; a zoom between two steps goes to the next one in that direction."""
    eps = 1e-6
    if steps > 0:
        higher = [s for s in ZOOM_STEPS if s > zoom + eps]
        return higher[min(steps, len(higher)) - 1] if higher else ZOOM_MAX
    if steps < 0:
        lower = [s for s in ZOOM_STEPS if s < zoom - eps]
        return lower[-min(-steps, len(lower))] if lower else ZOOM_MIN
    return clamp_zoom(zoom)


@dataclass(frozen=True)
class View:
    """One graph's view: ``scale`` screen pixels per document unit, ``offset`` its pan (grid px)."""

    scale: float
    offset: Point = (0.0, 0.0)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"a view's scale must be a positive number, got {self.scale!r}")

    def to_grid(self, doc: Point) -> Point:
        """Where document point ``doc`` sits on the node editor's grid."""
        return doc[0] * self.scale + self.offset[0], doc[1] * self.scale + self.offset[1]

    def to_doc(self, grid: Point) -> Point:
        """The document point at grid point ``grid``."""
        return (grid[0] - self.offset[0]) / self.scale, (grid[1] - self.offset[1]) / self.scale

    def rescaled(self, scale: float, about: Point) -> View:
        """This view at ``scale``, with the document point under grid point ``about`` kept there
        (what Ctrl+wheel does about the cursor)."""
        dx, dy = self.to_doc(about)
        return View(scale, (about[0] - dx * scale, about[1] - dy * scale))


def fit_zoom(boxes: Iterable[Box], zoom: float, view: tuple[float, float], margin: float = FRAME_MARGIN) -> float:
    """The zoom at which ``boxes`` (screen rectangles drawn at ``zoom``) fit in a ``view`` of
    (width, height) with ``margin`` on every side; node sizes scale with the zoom (font, padding),
    so the whole span scales with it. Not clamped: below :data:`ZOOM_MIN` means it cannot fit."""
    boxes = list(boxes)
    if not boxes:
        return zoom
    span_w = max(b[0] + b[2] for b in boxes) - min(b[0] for b in boxes)
    span_h = max(b[1] + b[3] for b in boxes) - min(b[1] for b in boxes)
    room_w, room_h = view[0] - 2 * margin, view[1] - 2 * margin
    if room_w <= 0 or room_h <= 0:
        return ZOOM_MIN
    ratios = [room / span for room, span in ((room_w, span_w), (room_h, span_h)) if span > 0]
    return zoom * min(ratios) if ratios else ZOOM_MAX


def framing_delta(boxes: list[Box], view: Box, centre: bool = False) -> Point:
    """How far to shift ``boxes`` (screen pixels) so they show in ``view``.

    Boxes that fit are centred when ``centre`` is set, else put ``FRAME_MARGIN`` from the
    view's top-left; boxes too big for the view keep their top-left corner in sight.
    """
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[0] + b[2] for b in boxes)
    y1 = max(b[1] + b[3] for b in boxes)
    vx, vy, vw, vh = view
    out = []
    for lo, hi, v0, vsize in ((x0, x1, vx, vw), (y0, y1, vy, vh)):
        span = hi - lo
        if centre and span + 2 * FRAME_MARGIN <= vsize:
            out.append(v0 + (vsize - span) / 2 - lo)
        else:
            out.append(v0 + FRAME_MARGIN - lo)
    return out[0], out[1]


def needed_nodes(rects: Mapping[str, Box], links: Iterable[tuple[str, str]], view: Box) -> set[str]:
    """The nodes that must be drawn for ``view`` (all in one coordinate system).

    A node inside the view, and both ends of every link whose bounding box meets the view:
    imnodes draws a link to a node it was not given this frame from that node's stale pins
    (checked on 2.3.1), so a link that may cross the view keeps both its nodes drawn. Links
    between two undrawn nodes are hidden with them.
    """
    vx0, vy0, vw, vh = view
    vx1, vy1 = vx0 + vw, vy0 + vh
    # inlined: this runs over every node and link each time the view moves (1,000 of each)
    shown = {key for key, (x, y, w, h) in rects.items() if x < vx1 and vx0 < x + w and y < vy1 and vy0 < y + h}
    for a, b in links:
        if a in shown and b in shown:
            continue
        ra, rb = rects.get(a), rects.get(b)
        if ra is None or rb is None:
            continue
        x0, y0 = min(ra[0], rb[0]), min(ra[1], rb[1])
        x1, y1 = max(ra[0] + ra[2], rb[0] + rb[2]), max(ra[1] + ra[3], rb[1] + rb[3])
        if x0 < vx1 and vx0 < x1 and y0 < vy1 and vy0 < y1:
            shown.add(a)
            shown.add(b)
    return shown
