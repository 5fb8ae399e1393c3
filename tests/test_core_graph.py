"""Graph invariants: which links a graph refuses and why, SuperBlock boundaries, topological order."""

from __future__ import annotations

import pytest

from dpg_blocks.core import Endpoint, Graph, GraphError, Link, Port, Project


def L(src: str, dst: str) -> Link:
    """``L("a.y", "b.x")``: the link from a.y to b.x."""
    (sb, sp), (db, dp) = src.split("."), dst.split(".")
    return Link(Endpoint(sb, sp), Endpoint(db, dp))


@pytest.fixture
def chain(make_block) -> Graph:
    """a -> b -> c, plus an unconnected d; every port is a tensor x (in) / y (out)."""
    g = Graph()
    for bid in "abcd":
        g.insert_block(make_block(bid))
    g.insert_link(L("a.y", "b.x"))
    g.insert_link(L("b.y", "c.x"))
    return g


@pytest.fixture
def boxed(make_block) -> Graph:
    """The graph inside SuperBlock ``sb`` (inputs i, j; outputs o, p) holding m and n."""
    inner = Graph()
    make_block("sb", "Box", inputs=("i", "j"), outputs=("o", "p"), graph=inner)
    inner.insert_block(make_block("m"))
    inner.insert_block(make_block("n", inputs=("x", "x2")))
    return inner


# -- links refused, each with its reason ---------------------------------------------------
@pytest.mark.parametrize(
    ("link", "reason"),
    [
        (L("zz.y", "c.x"), "'zz.y' is not an output port|zz.y is not an output port"),
        (L("a.nope", "d.x"), r"'a'.nope is not an output port"),
        (L("a.y", "zz.x"), r"zz.x is not an input port"),
        (L("a.y", "d.nope"), r"'d'.nope is not an input port"),
        (L("a.x", "d.x"), r"'a'.x is not an output port"),  # input used as a source
        (L("a.y", "d.y"), r"'d'.y is not an input port"),  # output used as a sink
        (L("d.y", "d.x"), r"cannot be linked to itself"),
        (L("a.y", "b.x"), r"'a'.y is already linked to 'b'.x"),
        (L("d.y", "b.x"), r"'b'.x already has an input, from 'a'.y"),
        (L("b.y", "a.x"), r"would make a cycle"),  # direct
        (L("c.y", "a.x"), r"would make a cycle"),  # indirect, through b
    ],
    ids=["unknown-src-block", "unknown-src-port", "unknown-dst-block", "unknown-dst-port",
         "input-to-input", "output-to-output", "self-link", "duplicate", "second-driver",
         "direct-cycle", "indirect-cycle"],
)
def test_a_bad_link_is_refused_with_its_reason(chain: Graph, link: Link, reason: str) -> None:
    before = list(chain.links)
    with pytest.raises(GraphError, match=reason):
        chain.insert_link(link)
    assert chain.links == before


def test_ports_of_different_kinds_do_not_link(make_block) -> None:
    g = Graph()
    g.insert_block(make_block("img", outputs=[Port("y", "image")]))
    g.insert_block(make_block("fc"))
    with pytest.raises(GraphError, match=r"\(image\) to 'fc'.x \(tensor\): port kinds differ"):
        g.insert_link(L("img.y", "fc.x"))


@pytest.mark.parametrize(("out_kind", "in_kind"), [("any", "image"), ("image", "any"), ("any", "any")])
def test_any_matches_every_kind(make_block, out_kind: str, in_kind: str) -> None:
    g = Graph()
    g.insert_block(make_block("a", outputs=[Port("y", out_kind)]))
    g.insert_block(make_block("b", inputs=[Port("x", in_kind)]))
    g.insert_link(L("a.y", "b.x"))
    assert g.links == [L("a.y", "b.x")]


def test_one_output_may_feed_many_inputs(chain: Graph) -> None:
    chain.insert_link(L("a.y", "d.x"))
    assert [str(lk) for lk in chain.links_of("a")] == ["a.y -> b.x", "a.y -> d.x"]
    assert chain.driver(Endpoint("d", "x")) == L("a.y", "d.x")


# -- the SuperBlock boundary ------------------------------------------------------------------
def test_inside_a_superblock_its_inputs_are_sources_and_its_outputs_sinks(boxed: Graph) -> None:
    boxed.insert_link(L("sb.i", "m.x"))
    boxed.insert_link(L("sb.i", "n.x"))  # one boundary input may feed several blocks
    boxed.insert_link(L("m.y", "sb.o"))
    assert boxed.links == [L("sb.i", "m.x"), L("sb.i", "n.x"), L("m.y", "sb.o")]


def test_a_boundary_input_may_pass_straight_through_to_a_boundary_output(boxed: Graph) -> None:
    boxed.insert_link(L("sb.i", "sb.o"))
    assert boxed.links == [L("sb.i", "sb.o")]
    with pytest.raises(GraphError, match="already linked"):
        boxed.insert_link(L("sb.i", "sb.o"))


@pytest.mark.parametrize(
    ("link", "reason"),
    [
        (L("sb.o", "m.x"), r"boundary port 'o' of 'Box' is not an output port"),
        (L("m.y", "sb.i"), r"boundary port 'i' of 'Box' is not an input port"),
        (L("sb.nope", "m.x"), r"boundary port 'nope' of 'Box' is not an output port"),
    ],
    ids=["boundary-output-as-source", "boundary-input-as-sink", "unknown-boundary-port"],
)
def test_the_boundary_is_used_the_right_way_round(boxed: Graph, link: Link, reason: str) -> None:
    with pytest.raises(GraphError, match=reason):
        boxed.insert_link(link)


def test_a_boundary_output_has_one_driver(boxed: Graph) -> None:
    boxed.insert_link(L("m.y", "sb.o"))
    with pytest.raises(GraphError, match=r"boundary port 'o' of 'Box' already has an input, from 'm'.y"):
        boxed.insert_link(L("n.y", "sb.o"))


def test_the_boundary_is_not_a_path_for_cycles(boxed: Graph) -> None:
    # m -> Box.o and Box.i -> m do not close a loop: outside, the SuperBlock is one node.
    boxed.insert_link(L("m.y", "sb.o"))
    boxed.insert_link(L("sb.i", "m.x"))
    assert len(boxed.links) == 2


def test_a_cycle_among_inner_blocks_is_still_refused(boxed: Graph) -> None:
    boxed.insert_link(L("sb.i", "n.x2"))
    boxed.insert_link(L("m.y", "sb.o"))
    boxed.insert_link(L("m.y", "n.x"))
    with pytest.raises(GraphError, match=r"linking 'n'.y to 'm'.x would make a cycle"):
        boxed.insert_link(L("n.y", "m.x"))


def test_a_block_cannot_take_the_superblock_id(boxed: Graph, make_block) -> None:
    with pytest.raises(GraphError, match="already exists"):
        boxed.insert_block(make_block("sb"))


# -- raw mutation ------------------------------------------------------------------------------
def test_block_ids_are_unique_in_a_graph(chain: Graph, make_block) -> None:
    with pytest.raises(GraphError, match="a block with id 'a' already exists"):
        chain.insert_block(make_block("a", "other"))


def test_a_linked_block_cannot_be_popped(chain: Graph) -> None:
    with pytest.raises(GraphError, match="still has links"):
        chain.pop_block("b")
    assert chain.pop_block("d").id == "d"


def test_removing_a_link_reports_its_index(chain: Graph) -> None:
    assert chain.remove_link(L("b.y", "c.x")) == 1
    with pytest.raises(GraphError, match="no link b.y -> c.x"):
        chain.remove_link(L("b.y", "c.x"))


def test_unknown_block_lookup_names_the_id(chain: Graph) -> None:
    with pytest.raises(GraphError, match="no block with id 'zz'"):
        chain.block("zz")


# -- topological order -------------------------------------------------------------------------
def test_topological_order_puts_every_link_forward_and_keeps_ties_stable(make_block) -> None:
    g = Graph()
    for bid in ["loss", "fc2", "fc1", "data", "spare"]:
        g.insert_block(make_block(bid, inputs=("x", "x2")))
    for lk in ["data.y", "fc1.x"], ["fc1.y", "fc2.x"], ["fc2.y", "loss.x"], ["data.y", "loss.x2"]:
        g.insert_link(L(*lk))
    order = g.topological_order()
    assert order == ["data", "spare", "fc1", "fc2", "loss"]
    for lk in g.links:
        assert order.index(lk.src.block) < order.index(lk.dst.block)


def test_topological_order_ignores_the_boundary(boxed: Graph) -> None:
    boxed.insert_link(L("sb.i", "n.x"))
    boxed.insert_link(L("n.y", "m.x"))
    boxed.insert_link(L("m.y", "sb.o"))
    assert boxed.topological_order() == ["n", "m"]


def test_topological_order_reports_a_cycle_smuggled_past_the_checks(chain: Graph) -> None:
    chain.links.append(L("c.y", "a.x"))
    with pytest.raises(GraphError, match="cycle"):
        chain.topological_order()


# -- the project: ids, names, lookup -------------------------------------------------------------
def test_new_ids_are_fresh_across_nesting_and_never_reused(nested: Project, make_block) -> None:
    assert nested.new_id() == "b6"  # b1..b5 are taken, b3 and b4 inside SuperBlocks
    assert nested.new_id() == "b7"  # b6 was handed out, even if never used
    nested.block("s3").graph.insert_block(make_block("b41", "deep"))
    assert nested.new_id() == "b42"


def test_unique_name_counts_up_from_the_stem(make_block) -> None:
    p = Project()
    for name in ["fc", "fc2", "conv"]:
        p.graph.insert_block(make_block(name))
    assert p.unique_name("relu") == "relu"
    assert p.unique_name("fc") == "fc3"
    assert p.unique_name("fc2") == "fc3"


def test_blocks_are_found_at_any_depth_with_their_path(nested: Project) -> None:
    assert nested.path_of("b3") == ["Backbone", "Body", "Core", "fc"]
    assert nested.parent_of("b3") == "s3"
    assert nested.parent_of("b1") is None
    assert nested.graph_of("s2") is nested.block("s2").graph
    assert [b.id for b in nested.graph.walk()] == ["b1", "s1", "b2", "s2", "s3", "b3", "b4", "b5"]


def test_only_superblocks_have_a_graph_to_look_into(nested: Project) -> None:
    with pytest.raises(GraphError, match=r"block 'head' \(b5\) is not a SuperBlock"):
        nested.graph_of("b5")
    with pytest.raises(GraphError, match="no block with id 'zz'"):
        nested.locate("zz")


def test_orders_are_looked_up_by_index() -> None:
    p = Project()
    assert p.order(1).name == "order 1"
    with pytest.raises(GraphError, match="no order 2"):
        p.order(2)
