"""Auto-layout: a layered (Sugiyama-style) placement of one graph's blocks, left to right.

The canvas has no zoom (DESIGN.md §7), so readability comes from placement: blocks go into
columns by their longest path from a source, each column is ordered by the mean position of
its neighbours (a few down/up sweeps reduce crossings), and columns that would run past
``max_width`` wrap into a new band below, like lines of text. Stdlib only; the sizes come from
the caller (the canvas knows how big each node is drawn).
"""

from __future__ import annotations

from collections.abc import Mapping

from .graph import Graph

Size = tuple[float, float]
DEFAULT_SIZE: Size = (170.0, 110.0)
COLUMN_GAP = 70.0
ROW_GAP = 30.0
BAND_GAP = 80.0
SWEEPS = 4


def layers(graph: Graph) -> list[list[str]]:
    """Block ids in columns: a block sits one column right of its furthest predecessor."""
    preds, succs = _neighbours(graph)
    column: dict[str, int] = {}
    for bid in graph.topological_order():
        column[bid] = max((column[p] + 1 for p in preds[bid]), default=0)
    # A source that feeds only late blocks (a constant label, a second input) sits just
    # before its first consumer, not far away in column 0.
    for bid in column:
        if not preds[bid] and succs[bid]:
            column[bid] = max(0, min(column[s] for s in succs[bid]) - 1)
    out: list[list[str]] = [[] for _ in range(max(column.values(), default=-1) + 1)]
    # Start from the user's own vertical order: layout should not shuffle what was fine.
    for bid in sorted(column, key=lambda b: (graph.blocks[b].pos[1], graph.blocks[b].pos[0])):
        out[column[bid]].append(bid)
    return out


def _neighbours(graph: Graph) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    preds: dict[str, list[str]] = {b: [] for b in graph.blocks}
    succs: dict[str, list[str]] = {b: [] for b in graph.blocks}
    for lk in graph.links:
        if lk.src.block in graph.blocks and lk.dst.block in graph.blocks:
            preds[lk.dst.block].append(lk.src.block)
            succs[lk.src.block].append(lk.dst.block)
    return preds, succs


def _reorder(cols: list[list[str]], graph: Graph) -> None:
    """Barycentre sweeps: each block moves towards the mean rank of its neighbours."""
    preds, succs = _neighbours(graph)
    for sweep in range(SWEEPS):
        down = sweep % 2 == 0
        indices = range(1, len(cols)) if down else range(len(cols) - 2, -1, -1)
        for i in indices:
            ref = cols[i - 1] if down else cols[i + 1]
            rank = {b: r for r, b in enumerate(ref)}
            near = preds if down else succs

            def key(bid: str, pos: int, rank: dict[str, int] = rank, near: dict[str, list[str]] = near) -> float:
                rs = [rank[n] for n in near[bid] if n in rank]
                return sum(rs) / len(rs) if rs else float(pos)

            cols[i] = [b for _, b in sorted(((key(b, p), b) for p, b in enumerate(cols[i])), key=lambda t: t[0])]


def auto_layout(
    graph: Graph,
    sizes: Mapping[str, Size] | None = None,
    max_width: float | None = None,
    origin: tuple[float, float] | None = None,
) -> dict[str, tuple[float, float]]:
    """New top-left positions for every block of ``graph`` (the document is not changed).

    ``sizes`` gives each block's drawn size (default :data:`DEFAULT_SIZE`); ``max_width``
    wraps columns into bands; ``origin`` is the top-left of the result (default: where the
    blocks are now, so the layout does not jump away from what the user was looking at).
    """
    if not graph.blocks:
        return {}
    sizes = sizes or {}

    def size(bid: str) -> Size:
        return sizes.get(bid, DEFAULT_SIZE)

    cols = layers(graph)
    _reorder(cols, graph)
    if origin is None:
        origin = (min(b.pos[0] for b in graph.blocks.values()), min(b.pos[1] for b in graph.blocks.values()))
    # Split the columns into bands no wider than max_width (a column never splits).
    bands: list[list[list[str]]] = [[]]
    width = 0.0
    for col in cols:
        w = max(size(b)[0] for b in col)
        if bands[-1] and max_width is not None and width + w > max_width:
            bands.append([])
            width = 0.0
        bands[-1].append(col)
        width += w + COLUMN_GAP
    pos: dict[str, tuple[float, float]] = {}
    y0 = origin[1]
    for band in bands:
        heights = [sum(size(b)[1] for b in col) + ROW_GAP * (len(col) - 1) for col in band]
        tallest = max(heights)
        x = origin[0]
        for col, h in zip(band, heights, strict=True):
            y = y0 + (tallest - h) / 2  # centre each column on the band's middle line
            for bid in col:
                pos[bid] = (round(x, 1), round(y, 1))
                y += size(bid)[1] + ROW_GAP
            x += max(size(b)[0] for b in col) + COLUMN_GAP
        y0 += tallest + BAND_GAP
    return pos
