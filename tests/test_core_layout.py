"""Auto-layout on random graphs: nothing overlaps, links run forward, bands respect the width."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dpg_blocks.core.graph import Block, Endpoint, Graph, Link, Port
from dpg_blocks.core.layout import DEFAULT_SIZE, auto_layout, layers


def dag(n: int, edges: list[tuple[int, int]]) -> Graph:
    g = Graph()
    for i in range(n):
        g.insert_block(Block(f"b{i}", "t", f"B{i}", inputs=[Port(f"i{j}") for j in range(n)],
                             outputs=[Port("y")], pos=(float(i * 13 % 7) * 40, float(i * 29 % 11) * 30)))
    for a, b in edges:
        lo, hi = min(a, b), max(a, b)
        if lo != hi:
            link = Link(Endpoint(f"b{lo}", "y"), Endpoint(f"b{hi}", f"i{lo}"))
            if link not in g.links:
                g.insert_link(link)
    return g


graphs = st.integers(1, 14).flatmap(
    lambda n: st.tuples(st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=30))
)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(graphs, st.sampled_from([None, 600.0, 1200.0]))
def test_layout_never_overlaps_and_links_run_forward(spec, max_width):
    g = dag(*spec)
    pos = auto_layout(g, max_width=max_width)
    assert set(pos) == set(g.blocks)
    w, h = DEFAULT_SIZE
    boxes = list(pos.values())
    for i, (x0, y0) in enumerate(boxes):
        for x1, y1 in boxes[i + 1:]:
            assert abs(x0 - x1) >= w or abs(y0 - y1) >= h, "two blocks overlap"
    column = {bid: c for c, col in enumerate(layers(g)) for bid in col}
    for lk in g.links:
        assert column[lk.src.block] < column[lk.dst.block]
    if max_width is not None:
        xs = [x for x, _ in boxes]
        # A band is at most max_width wide unless a single column is wider.
        assert max(xs) - min(xs) <= max(max_width, w)


def test_a_chain_lies_on_one_line_and_a_late_source_sits_beside_its_consumer():
    g = dag(5, [(0, 1), (1, 2), (2, 3)])
    g.insert_link(Link(Endpoint("b4", "y"), Endpoint("b3", "i4")))  # b4 feeds only the last block
    pos = auto_layout(g, origin=(0.0, 0.0))
    xs = [pos[f"b{i}"][0] for i in range(4)]
    assert xs == sorted(xs) and len(set(xs)) == 4
    assert pos["b4"][0] == pos["b2"][0]  # one column before b3, not in column 0


def residual(stages: int, ops: int = 1) -> Graph:
    """x, then per stage ``ops`` layers and an Add of their result and the stage's input: every
    skip connection runs past the layers it skips, as in a ResNet."""
    g = Graph()
    g.insert_block(Block("x", "t", "x", outputs=[Port("y")], pos=(0.0, 0.0)))
    prev = "x"
    for s in range(stages):
        last = prev
        for o in range(ops):
            op = f"op{s}_{o}"
            g.insert_block(Block(op, "t", op, inputs=[Port("x")], outputs=[Port("y")], pos=(0.0, 0.0)))
            g.insert_link(Link(Endpoint(last, "y"), Endpoint(op, "x")))
            last = op
        add = f"add{s}"
        g.insert_block(Block(add, "t", add, inputs=[Port("x1"), Port("x2")], outputs=[Port("y")], pos=(0.0, 0.0)))
        g.insert_link(Link(Endpoint(last, "y"), Endpoint(add, "x1")))
        g.insert_link(Link(Endpoint(prev, "y"), Endpoint(add, "x2")))  # the skip
        prev = add
    return g


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.integers(1, 8), st.integers(1, 3), st.sampled_from([None, 900.0, 1500.0]))
def test_no_skip_connection_runs_behind_a_block(stages, ops, max_width):
    from dpg_blocks.core.layout import LINK_CLEARANCE, crossed_blocks

    g = residual(stages, ops)
    pos = auto_layout(g, max_width=max_width, origin=(0.0, 0.0))
    size = {b: DEFAULT_SIZE for b in g.blocks}
    # a link wrapping to the next band sweeps back across the band above (see _clear_links);
    # every other link, skips included, passes behind no block
    rows = sorted({y for _, y in pos.values()})
    same_band = [i for i, lk in enumerate(g.links) if pos[lk.src.block][0] < pos[lk.dst.block][0]]
    assert crossed_blocks(g, pos, size.__getitem__, {}, links=same_band) == []
    # not even close: the curve keeps its clearance from every block it passes
    assert crossed_blocks(g, pos, size.__getitem__, {}, LINK_CLEARANCE - 1, links=same_band) == []
    if max_width is None:
        assert crossed_blocks(g, pos, size.__getitem__, {}) == [] and rows
    boxes = list(pos.values())
    w, h = DEFAULT_SIZE
    for i, (x0, y0) in enumerate(boxes):
        for x1, y1 in boxes[i + 1:]:
            assert abs(x0 - x1) >= w or abs(y0 - y1) >= h, "two blocks overlap"


def test_the_layered_placement_alone_would_run_skips_behind_blocks():
    """What the clearing pass is for: on one line, a ResNet's skip goes straight through the layer."""
    from dpg_blocks.core import layout

    g = residual(3)
    size = {b: DEFAULT_SIZE for b in g.blocks}
    rounds, layout.CLEARING_ROUNDS = layout.CLEARING_ROUNDS, 0
    try:
        pos = auto_layout(g, origin=(0.0, 0.0))
    finally:
        layout.CLEARING_ROUNDS = rounds
    crossed = {bid for _, bid, _ in layout.crossed_blocks(g, pos, size.__getitem__, {})}
    assert crossed == {"op0_0", "op1_0", "op2_0"}


def _extent(pos: dict[str, tuple[float, float]]) -> tuple[float, float]:
    xs, ys = [x for x, _ in pos.values()], [y for _, y in pos.values()]
    return max(xs) - min(xs) + DEFAULT_SIZE[0], max(ys) - min(ys) + DEFAULT_SIZE[1]


def _fit_zoom(pos: dict[str, tuple[float, float]], view: tuple[float, float]) -> float:
    w, h = _extent(pos)
    return min(view[0] / w, view[1] / h)


def test_fitting_a_view_wraps_a_long_chain_into_bands_shaped_like_the_view():
    """Wrapped to the view's width a 120-block chain is a few columns wide and 30 bands tall
    (a zoomed-in canvas has a narrow view); fitted, it takes the view's shape and shows larger."""
    g = Graph()
    for i in range(120):
        g.insert_block(Block(f"b{i}", "t", f"B{i}", inputs=[Port("x")], outputs=[Port("y")]))
        if i:
            g.insert_link(Link(Endpoint(f"b{i - 1}", "y"), Endpoint(f"b{i}", "x")))
    view = (1000.0, 625.0)
    narrow = auto_layout(g, max_width=700.0, origin=(0.0, 0.0))
    fitted = auto_layout(g, fit=view, origin=(0.0, 0.0))
    w, h = _extent(fitted)
    assert 0.8 < (w / h) / (view[0] / view[1]) < 2.0, (w, h)  # about the view's shape
    assert _fit_zoom(fitted, view) > 3 * _fit_zoom(narrow, view)
    assert _fit_zoom(fitted, view) >= _fit_zoom(auto_layout(g, origin=(0.0, 0.0)), view)  # and beats no wrap


def test_a_graph_that_fits_unwrapped_stays_on_one_band():
    g = dag(4, [(0, 1), (1, 2), (2, 3)])
    pos = auto_layout(g, fit=(1000.0, 625.0), origin=(0.0, 0.0))
    assert len({y for _, y in pos.values()}) == 1  # one line, left to right


def test_one_block_feeding_twenty_gets_room_for_its_links_instead_of_a_tail_below():
    """Its links climb and fall far between two columns 70 apart, so imnodes' curves bowed behind
    the next column's blocks, and clearing them pushed that column down into a tail under the
    graph. The columns now part until every curve stays between them."""
    from dpg_blocks.core.layout import crossed_blocks

    g = Graph()
    g.insert_block(Block("src", "t", "Source", outputs=[Port("y")]))
    for i in range(20):
        for j in range(2):
            g.insert_block(Block(f"b{i}_{j}", "t", f"B{i}_{j}", inputs=[Port("x")], outputs=[Port("y")]))
        g.insert_link(Link(Endpoint("src", "y"), Endpoint(f"b{i}_0", "x")))
        g.insert_link(Link(Endpoint(f"b{i}_0", "y"), Endpoint(f"b{i}_1", "x")))
    pos = auto_layout(g, origin=(0.0, 0.0))
    column_height = 20 * DEFAULT_SIZE[1] + 19 * 30.0  # ROW_GAP
    assert _extent(pos)[1] <= column_height + 1.0  # nothing pushed down
    assert crossed_blocks(g, pos, lambda b: DEFAULT_SIZE, {}, 14.0) == []  # no curve behind a block
    assert pos["b0_1"][0] - pos["b0_0"][0] == DEFAULT_SIZE[0] + 70.0  # the chains' own gap is unchanged
