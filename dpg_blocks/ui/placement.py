"""Where a new block goes: a free spot in the visible canvas, next to the selection.

Pure geometry in document coordinates (no Dear PyGui), so it is tested directly: the canvas
hands over the rectangles drawn in the last frame, the links as segments between the nodes'
sides, and the part of the canvas the user can see.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["Rect", "Segment", "free_spot", "fits"]

Rect = tuple[float, float, float, float]  # x, y, w, h
Segment = tuple[float, float, float, float]  # x0, y0, x1, y1

GAP = 40.0  # between the new block and its neighbour
MARGIN = 16.0  # kept clear around every block
STEP = 40.0  # the scan's grid


def _overlaps(a: Rect, b: Rect, margin: float = MARGIN) -> bool:
    return (a[0] < b[0] + b[2] + margin and b[0] < a[0] + a[2] + margin
            and a[1] < b[1] + b[3] + margin and b[1] < a[1] + a[3] + margin)


def _crosses(rect: Rect, seg: Segment, margin: float = MARGIN / 2) -> bool:
    """Whether the segment passes through ``rect`` (sampled: links are gentle curves anyway)."""
    x, y, w, h = rect[0] - margin, rect[1] - margin, rect[2] + 2 * margin, rect[3] + 2 * margin
    x0, y0, x1, y1 = seg
    n = 24
    for i in range(n + 1):
        t = i / n
        px, py = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
        if x <= px <= x + w and y <= py <= y + h:
            return True
    return False


def fits(rect: Rect, occupied: Iterable[Rect], links: Iterable[Segment], view: Rect) -> bool:
    """Inside ``view``, clear of every block and of every link."""
    vx, vy, vw, vh = view
    if rect[0] < vx or rect[1] < vy or rect[0] + rect[2] > vx + vw or rect[1] + rect[3] > vy + vh:
        return False
    return not any(_overlaps(rect, o) for o in occupied) and not any(_crosses(rect, s) for s in links)


def free_spot(size: tuple[float, float], occupied: list[Rect], links: list[Segment], view: Rect,
              anchor: Rect | None = None) -> tuple[float, float] | None:
    """The top-left corner for a block of ``size``: right of ``anchor`` (the selection), else
    below it, else the free spot of the view nearest to it; None when the view has no room."""
    w, h = size
    vx, vy, vw, vh = view
    if anchor is not None:
        ax, ay, aw, ah = anchor
        for x, y in ((ax + aw + GAP, ay), (ax, ay + ah + GAP)):
            if fits((x, y, w, h), occupied, links, view):
                return x, y
        goal = (ax + aw + GAP, ay)
    else:
        goal = (vx + MARGIN, vy + MARGIN)
    best: tuple[float, tuple[float, float]] | None = None
    y = vy + MARGIN
    while y + h <= vy + vh:
        x = vx + MARGIN
        while x + w <= vx + vw:
            d = (x - goal[0]) ** 2 + (y - goal[1]) ** 2
            if (best is None or d < best[0]) and fits((x, y, w, h), occupied, links, view):
                best = (d, (x, y))
            x += STEP
        y += STEP
    return best[1] if best else None
