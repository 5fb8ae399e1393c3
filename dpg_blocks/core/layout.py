"""Auto-layout: a layered (Sugiyama-style) placement of one graph's blocks, left to right.

Blocks go into columns by their longest path from a source, each column is ordered by the mean
position of its neighbours (a few down/up sweeps reduce crossings), and columns that would run
past ``max_width`` wrap into a new band below, like lines of text. Then no link may pass behind a
block: a skip connection drawn behind the block it skips reads as wired through it. Each link is
followed as imnodes draws it (``core/link_curve.py``, between the pins' rows), and a block its
curve crosses moves down past it, with what is below it in its column (and the bands below). A
few rounds settle it, since moving a block moves its own links (a link that wraps to the next band
is the exception: see ``_clear_links``). Stdlib only; the sizes (and the
pins' rows, if known) come from the caller (the canvas knows how big each node is drawn).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from dpg_blocks.core.graph import Block, Graph
from dpg_blocks.core.link_curve import crossing, link_points

Size = tuple[float, float]
DEFAULT_SIZE: Size = (170.0, 110.0)
COLUMN_GAP = 70.0
ROW_GAP = 30.0
BAND_GAP = 80.0
SWEEPS = 4
LINK_CLEARANCE = 14.0  # kept between a link's curve and a block it passes
CLEARING_ROUNDS = 24
# where pins sit in a node of unknown layout: below the title and the type rows, one per row
PIN_TOP, PIN_ROW = 42.0, 21.0
PinRows = Mapping[tuple[str, str, str], float]  # (block id, "in"/"out", port) -> y below the node's top


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
    pins: PinRows | None = None,
    fit: Size | None = None,
) -> dict[str, tuple[float, float]]:
    """New top-left positions for every block of ``graph`` (the document is not changed).

    ``sizes`` gives each block's drawn size (default :data:`DEFAULT_SIZE`); ``max_width``
    wraps columns into bands; ``fit`` (a view's width and height, in document units at 100 %)
    instead chooses the wrap that lets the graph be shown largest in that view
    (:func:`fitting_width`); ``origin`` is the top-left of the result (default: where the
    blocks are now, so the layout does not jump away from what the user was looking at);
    ``pins`` where the pins sit in each node (default: one row each below the title).
    """
    if not graph.blocks:
        return {}
    sizes = sizes or {}

    def size(bid: str) -> Size:
        return sizes.get(bid, DEFAULT_SIZE)

    cols = layers(graph)
    _reorder(cols, graph)
    if fit is not None:
        max_width = fitting_width(cols, size, fit)
    if origin is None:
        origin = (min(b.pos[0] for b in graph.blocks.values()), min(b.pos[1] for b in graph.blocks.values()))
    # Split the columns into bands no wider than max_width (a column never splits).
    bands = [[cols[i] for i in band] for band in _wrap([max(size(b)[0] for b in col) for col in cols], max_width)]
    pos: dict[str, tuple[float, float]] = {}
    y0 = origin[1]
    for band in bands:
        heights = [sum(size(b)[1] for b in col) + ROW_GAP * (len(col) - 1) for col in band]
        tallest = max(heights)
        x = origin[0]
        for col, h in zip(band, heights, strict=True):
            y = y0 + (tallest - h) / 2  # centre each column on the band's middle line
            for bid in col:
                pos[bid] = (x, y)
                y += size(bid)[1] + ROW_GAP
            x += max(size(b)[0] for b in col) + COLUMN_GAP
        y0 += tallest + BAND_GAP
    _widen_for_fans(graph, pos, bands, size, pins or {})
    _clear_links(graph, pos, bands, size, pins or {})
    return {bid: (round(x, 1), round(y, 1)) for bid, (x, y) in pos.items()}


def _wrap(widths: list[float], max_width: float | None) -> list[list[int]]:
    """The columns (by index) of each band, wrapped like lines of text when the next column
    would pass ``max_width`` (a band holds at least one)."""
    bands: list[list[int]] = [[]]
    width = 0.0
    for i, w in enumerate(widths):
        if bands[-1] and max_width is not None and width + w > max_width:
            bands.append([])
            width = 0.0
        bands[-1].append(i)
        width += w + COLUMN_GAP
    return bands


def _bands_extent(widths: list[float], heights: list[float], max_width: float | None) -> Size:
    """The width and height the columns take when wrapped into bands at ``max_width`` (before
    links push blocks down): the split :func:`auto_layout` makes."""
    bands = _wrap(widths, max_width)
    width = max(sum(widths[i] for i in band) + COLUMN_GAP * (len(band) - 1) for band in bands)
    height = sum(max(heights[i] for i in band) for band in bands) + BAND_GAP * (len(bands) - 1)
    return width, height


def fitting_width(cols: list[list[str]], size: Callable[[str], Size], view: Size, cap: float = 1.0) -> float | None:
    """The wrap width (None: no wrap) at which the layered columns can be shown largest in
    ``view``: the zoom that fits them, ``min(view_w / width, view_h / height)``, up to ``cap``
    (no gain past 100 %), the fewest bands among equals. Wrapping to the view's width at the
    current zoom made a zoomed-in canvas lay 500 blocks out three columns wide and 30 screens
    tall; a graph of 25 columns of 20 wants about five bands on a 1000×625 canvas."""
    widths = [max(size(b)[0] for b in col) for col in cols]
    heights = [sum(size(b)[1] for b in col) + ROW_GAP * (len(col) - 1) for col in cols]
    candidates: list[float | None] = [None]
    run = 0.0
    for w in widths[:-1]:
        run += w
        candidates.append(run)  # wrap after these columns
        run += COLUMN_GAP
    best, best_zoom = None, -1.0
    for mw in candidates:  # widest first: a tie keeps the fewer bands
        w, h = _bands_extent(widths, heights, mw)
        zoom = min(view[0] / max(w, 1.0), view[1] / max(h, 1.0), cap)
        if zoom > best_zoom + 1e-9:
            best, best_zoom = mw, zoom
    return best


def pin_row(block: Block, direction: str, port: str, pins: PinRows) -> float:
    """How far below its node's top a pin sits: as drawn when known, else by its port's row."""
    known = pins.get((block.id, direction, port))
    if known is not None:
        return known
    names = [p.name for p in (block.inputs if direction == "in" else block.outputs)]
    return PIN_TOP + PIN_ROW * ((names.index(port) if port in names else 0) + 0.5)


def crossed_blocks(graph: Graph, pos: Mapping[str, tuple[float, float]], size: Callable[[str], Size],
                   pins: PinRows, margin: float = 0.0,
                   links: list[int] | None = None) -> list[tuple[int, str, list[tuple[float, float]]]]:
    """(link index, block id, the curve's points inside it) for every block a link's curve passes
    behind (its own two blocks aside), of ``links`` (indexes; default all): what auto-layout must
    leave none of."""
    rects = {bid: (*pos[bid], *size(bid)) for bid in pos}
    out = []
    for i in range(len(graph.links)) if links is None else links:
        lk = graph.links[i]
        a, b = lk.src.block, lk.dst.block
        if a not in rects or b not in rects:
            continue
        ra, rb = rects[a], rects[b]
        seg = (ra[0] + ra[2], ra[1] + pin_row(graph.blocks[a], "out", lk.src.port, pins),
               rb[0], rb[1] + pin_row(graph.blocks[b], "in", lk.dst.port, pins))
        points = link_points(seg)
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        lo_x, hi_x, lo_y, hi_y = min(xs) - margin, max(xs) + margin, min(ys) - margin, max(ys) + margin
        for bid, r in rects.items():
            if bid in (a, b) or r[0] > hi_x or r[0] + r[2] < lo_x or r[1] > hi_y or r[1] + r[3] < lo_y:
                continue
            inside = crossing(r, points, margin)
            if inside:
                out.append((i, bid, inside))
    return out


def _widen_for_fans(graph: Graph, pos: dict[str, tuple[float, float]], bands: list[list[list[str]]],
                    size: Callable[[str], Size], pins: PinRows) -> None:
    """Give two neighbouring columns the room their links need to stay between them.

    imnodes bends a link by a quarter of its pins' distance (``core/link_curve.py``), so a link
    that climbs or falls far between two close columns bows past its input pin, behind the
    blocks of the next column (and, near its start, back behind its own). One block feeding a
    column of twenty made the link clearing push that column's blocks far down, a tail under the
    graph. The curve stays within its pins' x-range when its reach is at most that range,
    ``0.25 * hypot(dx, dy) <= dx``, i.e. ``dx >= |dy| / sqrt(15)``: the columns right of such a
    pair move right by what the steepest link between them lacks."""
    column_of = {bid: (k, c) for k, band in enumerate(bands) for c, col in enumerate(band) for bid in col}
    need: dict[tuple[int, int], float] = {}  # (band, left column) -> extra gap
    for lk in graph.links:
        a, b = column_of.get(lk.src.block), column_of.get(lk.dst.block)
        if a is None or b is None or a[0] != b[0] or b[1] != a[1] + 1:
            continue
        src, dst = graph.blocks[lk.src.block], graph.blocks[lk.dst.block]
        x0 = pos[src.id][0] + size(src.id)[0]
        y0 = pos[src.id][1] + pin_row(src, "out", lk.src.port, pins)
        x3 = pos[dst.id][0]
        y3 = pos[dst.id][1] + pin_row(dst, "in", lk.dst.port, pins)
        lack = abs(y3 - y0) / 15 ** 0.5 - (x3 - x0)
        if lack > 0:
            need[a] = max(need.get(a, 0.0), lack)
    for k, band in enumerate(bands):
        shift = 0.0
        for c, col in enumerate(band):
            for bid in col:
                pos[bid] = (pos[bid][0] + shift, pos[bid][1])
            shift += need.get((k, c), 0.0)


def _clear_links(graph: Graph, pos: dict[str, tuple[float, float]], bands: list[list[list[str]]],
                 size: Callable[[str], Size], pins: PinRows) -> None:
    """Move every block a link passes behind down past the link's curve (see the module doc)."""
    column_of = {bid: (k, c) for k, band in enumerate(bands) for c, col in enumerate(band) for bid in col}
    # A link wrapping to the next band sweeps back across the band it leaves: no placement of
    # that band's blocks clears it, and chasing it makes the layout many screens tall. Those
    # are left as they are (a zoomed-out canvas shows them whole); every other link is cleared.
    within = [i for i, lk in enumerate(graph.links) if lk.src.block in column_of and lk.dst.block in column_of
              and column_of[lk.src.block][0] == column_of[lk.dst.block][0]]
    for _ in range(CLEARING_ROUNDS):
        crossed = crossed_blocks(graph, pos, size, pins, LINK_CLEARANCE, within)
        if not crossed:
            return
        moved: set[str] = set()
        for _link, bid, inside in crossed:
            if bid in moved:
                continue  # its other links are looked at again next round, from where it is now
            k, c = column_of[bid]
            # just past the curve (a point on the clearance's very edge still counts as crossing)
            dy = max(py for _, py in inside) + LINK_CLEARANCE + 1.0 - pos[bid][1]
            col = sorted(bands[k][c], key=lambda b: pos[b][1])
            for below in col[col.index(bid):]:  # it and what is below it in its column
                pos[below] = (pos[below][0], pos[below][1] + dy)
                moved.add(below)
        for k in range(1, len(bands)):  # a band that grew pushes the bands below it down
            bottom = max(pos[b][1] + size(b)[1] for col in bands[k - 1] for b in col)
            top = min(pos[b][1] for col in bands[k] for b in col)
            if top < bottom + BAND_GAP:
                for col in bands[k]:
                    for b in col:
                        pos[b] = (pos[b][0], pos[b][1] + bottom + BAND_GAP - top)
