"""A link as imnodes draws it: the cubic Bézier between an output pin and an input pin.

Shared by where a new block goes (``ui/canvas/placement.py``) and by auto-layout (``core/layout.py``):
both must know where a link's curve really runs, not where a straight line between the pins
would, or a block is put in a link's bulge and looks wired when it is not.
"""

from __future__ import annotations

Rect = tuple[float, float, float, float]  # x, y, w, h
Segment = tuple[float, float, float, float]  # output pin x0, y0 -> input pin x1, y1


def link_points(seg: Segment, n: int = 32) -> list[tuple[float, float]]:
    """Points along the link as imnodes draws it: a cubic Bezier whose inner control points
    lie a quarter of the pins' distance right of the output pin and left of the input pin
    (imnodes.cpp ``GetLinkRenderable``)."""
    x0, y0, x3, y3 = seg
    reach = 0.25 * ((x3 - x0) ** 2 + (y3 - y0) ** 2) ** 0.5
    x1, x2 = x0 + reach, x3 - reach
    points = []
    for i in range(n + 1):
        t = i / n
        u = 1.0 - t
        a, b, c, d = u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t
        points.append((a * x0 + b * x1 + c * x2 + d * x3, (a + b) * y0 + (c + d) * y3))
    return points


def crossing(rect: Rect, points: list[tuple[float, float]], margin: float) -> list[tuple[float, float]]:
    """The points of a link's curve inside ``rect`` grown by ``margin`` on every side."""
    x, y, w, h = rect[0] - margin, rect[1] - margin, rect[2] + 2 * margin, rect[3] + 2 * margin
    return [(px, py) for px, py in points if x <= px <= x + w and y <= py <= y + h]
