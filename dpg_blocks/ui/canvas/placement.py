"""Where a new block goes: a free spot in the visible canvas, next to the selection.

Pure geometry in document coordinates (no Dear PyGui), so it is tested directly: the canvas
hands over the rectangles drawn in the last frame, each link as its two pins (output pin first),
and the part of the canvas the user can see. A link is the curve imnodes draws between them,
not a straight line: a link that runs back to the left bulges out past both pins, and a block
placed in that bulge looks wired when it is not.
"""

from __future__ import annotations

from collections.abc import Iterable

from dpg_blocks.core.link_curve import Rect, Segment, crossing, link_points

__all__ = ["Rect", "Segment", "fits", "free_spot", "link_points"]

GAP = 40.0  # between the new block and its neighbour
MARGIN = 16.0  # kept clear around every block
STEP = 40.0  # the scan's grid


def _overlaps(a: Rect, b: Rect) -> bool:
    """Whether ``a`` comes within :data:`MARGIN` of ``b`` above or below, or within :data:`GAP`
    beside it: its pins are on its sides, and a pin that close to another block's pin seems
    wired to it (scenario B's classifier went 27 px left of the gradient reversal, its output
    pin beside the reversal's input, where Copy's link ends)."""
    return (a[0] < b[0] + b[2] + GAP and b[0] < a[0] + a[2] + GAP
            and a[1] < b[1] + b[3] + MARGIN and b[1] < a[1] + a[3] + MARGIN)


def _crosses(rect: Rect, seg: Segment, margin: float = MARGIN / 2) -> bool:
    """Whether the link's curve passes through ``rect`` (sampled finely enough for a block)."""
    return bool(crossing(rect, link_points(seg), margin))


def fits(rect: Rect, occupied: Iterable[Rect], links: Iterable[Segment], view: Rect) -> bool:
    """Inside ``view``, clear of every block (and of its pins' side) and of every link's curve."""
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
