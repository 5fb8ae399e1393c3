"""Every edit command: its effect, exact undo/redo, refusals that change nothing, History."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from dpg_blocks.core import (
    SUPERBLOCK_TYPE,
    AddBlock,
    Block,
    Compound,
    Connect,
    Disconnect,
    Edit,
    Endpoint,
    Graph,
    GraphError,
    History,
    Link,
    Merge,
    Move,
    OptimizerSettings,
    Order,
    Port,
    Project,
    RemoveBlock,
    Rename,
    SetOrders,
    SetParam,
    SetPorts,
    SetTraining,
    Unmerge,
    dumps,
    loads,
)
from dpg_blocks.core.graph import MAX_DEPTH


def E(text: str) -> Endpoint:
    """``E("b2.x")``: port x of block b2."""
    block, port = text.split(".")
    return Endpoint(block, port)


def L(src: str, dst: str) -> Link:
    return Link(E(src), E(dst))


def links(graph: Graph) -> list[str]:
    return [str(lk) for lk in graph.links]


def assert_loads_back(project: Project) -> None:
    """The document is valid: it saves, and the file reads back to the same text."""
    text = dumps(project)
    assert dumps(loads(text)) == text


ExactUndo = Callable[[History], "contextmanager[None]"]


@pytest.fixture
def exact_undo():
    """``with exact_undo(history): history.do(edit)`` — afterwards undo gives back the text from
    before byte for byte, redo the text from after; the project is left as the edit made it."""

    @contextmanager
    def check(history: History) -> Iterator[None]:
        before = dumps(history.project)
        yield
        after = dumps(history.project)
        assert after != before, "the edit changed nothing"
        assert_loads_back(history.project)
        history.undo()
        assert dumps(history.project) == before
        history.redo()
        assert dumps(history.project) == after

    return check


@pytest.fixture
def nested_history(nested: Project) -> History:
    return History(nested)


# -- AddBlock / RemoveBlock ----------------------------------------------------------------------
def test_add_a_block_to_the_root(history: History, exact_undo, make_block) -> None:
    with exact_undo(history):
        history.do(AddBlock(make_block("b4", "relu", type="builtin.ReLU", pos=(600.0, 0.0))))
    assert list(history.project.graph.blocks) == ["b1", "b2", "b3", "b4"]
    assert history.project.block("b4").name == "relu"


def test_add_a_block_inside_a_superblock(nested_history: History, exact_undo, make_block) -> None:
    with exact_undo(nested_history):
        nested_history.do(AddBlock(make_block("b6", "fc"), parent="s2"))  # "fc" also lives in Core
    assert nested_history.project.path_of("b6") == ["Backbone", "Body", "fc"]


def test_add_a_superblock_with_its_contents(history: History, exact_undo, make_block) -> None:
    inner = Graph()
    sb = make_block("s9", "Head", graph=inner)
    inner.insert_block(make_block("b10", "fc"))
    inner.insert_link(L("s9.x", "b10.x"))
    with exact_undo(history):
        history.do(AddBlock(sb))
    assert history.project.path_of("b10") == ["Head", "fc"]


def test_remove_a_block_and_its_links(history: History, exact_undo) -> None:
    with exact_undo(history):
        history.do(RemoveBlock("b2"))
    assert "b2" not in history.project.graph
    assert links(history.project.graph) == ["b1.target -> b3.target"]


def test_remove_a_superblock_with_everything_inside(nested_history: History, exact_undo) -> None:
    with exact_undo(nested_history):
        nested_history.do(RemoveBlock("s1"))
    assert [b.id for b in nested_history.project.graph.walk()] == ["b1", "b5"]
    assert nested_history.project.graph.links == []


def test_remove_a_block_deep_inside(nested_history: History, exact_undo) -> None:
    with exact_undo(nested_history):
        nested_history.do(RemoveBlock("b3"))
    core = nested_history.project.block("s3").graph
    assert core.blocks == {} and core.links == []


def test_removing_a_block_drops_it_from_the_orders(history: History, exact_undo) -> None:
    history.do(SetOrders([Order(1, "train", optimize=["b2"], losses=["b3"])]))
    with exact_undo(history):
        history.do(RemoveBlock("b3"))
    assert history.project.orders[0].losses == []
    assert history.project.orders[0].optimize == ["b2"]


def test_removing_a_superblock_drops_the_blocks_inside_from_the_orders(
    nested_history: History, exact_undo
) -> None:
    nested_history.do(SetOrders([Order(1, optimize=["b3", "b5"])]))
    with exact_undo(nested_history):
        nested_history.do(RemoveBlock("s1"))
    assert nested_history.project.orders[0].optimize == ["b5"]


# -- Connect / Disconnect ------------------------------------------------------------------------
def test_connect_and_disconnect_at_the_root(history: History, exact_undo, make_block) -> None:
    history.do(AddBlock(make_block("b4", "probe")))
    with exact_undo(history):
        history.do(Connect(E("b2.y"), E("b4.x")))
    assert links(history.project.graph)[-1] == "b2.y -> b4.x"
    with exact_undo(history):
        history.do(Disconnect(E("b2.y"), E("b3.input")))  # the middle one: undo puts it back there
    assert "b2.y -> b3.input" not in links(history.project.graph)


def test_connect_and_disconnect_inside_a_superblock(nested_history: History, exact_undo) -> None:
    with exact_undo(nested_history):
        nested_history.do(Disconnect(E("b4.y"), E("s2.y"), parent="s2"))
    with exact_undo(nested_history):
        nested_history.do(Connect(E("s2.x"), E("s2.y"), parent="s2"))  # a pass-through
    body = nested_history.project.block("s2").graph
    assert links(body) == ["s2.x -> s3.x", "s3.y -> b4.x", "s2.x -> s2.y"]


# -- SetParam / SetPorts ---------------------------------------------------------------------------
def test_set_a_new_and_an_existing_param(history: History, exact_undo) -> None:
    with exact_undo(history):
        history.do(SetParam("b2", "out_features", 32))
    with exact_undo(history):
        history.do(SetParam("b2", "bias", False))  # undo must delete it again, not set it to None
    assert history.project.block("b2").params == {"out_features": 32, "bias": False}


def test_set_param_copies_the_value(history: History) -> None:
    shape = [1, 28, 28]
    history.do(SetParam("b1", "shape", shape))
    shape.append(99)
    assert history.project.block("b1").params["shape"] == [1, 28, 28]


def test_set_param_with_ports_drops_links_of_removed_ports(history: History, exact_undo) -> None:
    with exact_undo(history):
        history.do(SetParam("b3", "use_target", False, ports=([Port("input")], [Port("loss")])))
    assert [p.name for p in history.project.block("b3").inputs] == ["input"]
    assert links(history.project.graph) == ["b1.x -> b2.x", "b2.y -> b3.input"]


def test_set_param_with_ports_on_a_superblock_drops_links_inside_and_outside(
    nested_history: History, exact_undo
) -> None:
    p = nested_history.project
    with exact_undo(nested_history):
        nested_history.do(SetParam("s2", "inputs", 0, ports=([], [Port("y")])))
    assert links(p.block("s1").graph) == ["s1.x -> b2.x", "s2.y -> s1.y"]  # b2 -> Body went
    assert links(p.block("s2").graph) == ["s3.y -> b4.x", "b4.y -> s2.y"]  # Body.x -> Core went


def test_set_param_with_ports_inside_a_superblock(nested_history: History, exact_undo) -> None:
    with exact_undo(nested_history):
        nested_history.do(SetParam("b4", "n", 0, ports=([], [Port("y")])))
    assert links(nested_history.project.block("s2").graph) == ["s2.x -> s3.x", "b4.y -> s2.y"]


def test_set_ports_keeps_links_of_ports_that_stay(history: History, exact_undo) -> None:
    with exact_undo(history):
        history.do(SetPorts("b2", [Port("x"), Port("bias", optional=True)], [Port("y")]))
    assert links(history.project.graph) == ["b1.x -> b2.x", "b2.y -> b3.input", "b1.target -> b3.target"]


def test_set_ports_drops_links_whose_kinds_no_longer_match(history: History, exact_undo) -> None:
    with exact_undo(history):
        history.do(SetPorts("b2", [Port("x", "image")], [Port("y", "any")]))
    assert links(history.project.graph) == ["b2.y -> b3.input", "b1.target -> b3.target"]


# -- Move / Rename ----------------------------------------------------------------------------------
def test_move(history: History, exact_undo) -> None:
    with exact_undo(history):
        history.do(Move("b2", (210, -15.5)))
    assert history.project.block("b2").pos == (210.0, -15.5)


def test_rename_strips_spaces_and_allows_a_name_used_in_another_graph(
    nested_history: History, exact_undo
) -> None:
    with exact_undo(nested_history):
        nested_history.do(Rename("b4", "  pre  "))  # "pre" is taken in Backbone, not in Body
    assert nested_history.project.path_of("b4") == ["Backbone", "Body", "pre"]


# -- Merge / Unmerge -------------------------------------------------------------------------------
@pytest.fixture
def fan(make_block) -> History:
    """src feeds p and q; p and q feed join; join feeds out1 and out2."""
    p = Project("fan")
    g = p.graph
    g.insert_block(make_block("src", type="builtin.Input", inputs=(), pos=(0.0, 0.0)))
    g.insert_block(make_block("p", pos=(100.0, 0.0)))
    g.insert_block(make_block("q", pos=(100.0, 100.0)))
    g.insert_block(make_block("join", inputs=("a", "b"), pos=(200.0, 50.0)))
    g.insert_block(make_block("out1", pos=(300.0, 0.0)))
    g.insert_block(make_block("out2", pos=(300.0, 100.0)))
    for lk in [("src.y", "p.x"), ("src.y", "q.x"), ("p.y", "join.a"), ("q.y", "join.b"),
               ("join.y", "out1.x"), ("join.y", "out2.x")]:
        g.insert_link(L(*lk))
    return History(p)


def test_merge_with_fan_in_and_fan_out_makes_one_boundary_port_each(fan: History, exact_undo) -> None:
    with exact_undo(fan):
        fan.do(Merge(["p", "q", "join"], "sb", "Body"))
    g = fan.project.graph
    sb = g.blocks["sb"]
    assert list(g.blocks) == ["src", "sb", "out1", "out2"]
    assert (sb.type, sb.pos) == (SUPERBLOCK_TYPE, (400 / 3, 50.0))
    assert [p.name for p in sb.inputs] == ["x"] and [p.name for p in sb.outputs] == ["y"]
    assert links(g) == ["src.y -> sb.x", "sb.y -> out1.x", "sb.y -> out2.x"]
    assert links(sb.graph) == ["p.y -> join.a", "q.y -> join.b", "sb.x -> p.x", "sb.x -> q.x",
                               "join.y -> sb.y"]


def test_merge_gives_each_outside_source_its_own_boundary_input(fan: History, exact_undo) -> None:
    with exact_undo(fan):
        fan.do(Merge(["join"], "sb", "Join"))
    sb = fan.project.block("sb")
    assert [p.name for p in sb.inputs] == ["a", "b"]
    with exact_undo(fan):
        fan.do(Merge(["out1", "out2"], "sb2", "Outs"))
    assert [p.name for p in fan.project.block("sb2").inputs] == ["x"]  # one source, read twice


def test_merge_before_wiring_keeps_the_open_input_and_output_on_the_boundary(make_block, exact_undo) -> None:
    # Three layers merged before the first is fed or the last read: the SuperBlock keeps
    # that input and that output, so it can be wired afterwards.
    p = Project("unwired")
    for i, name in enumerate(["c1", "c2", "c3"]):
        p.graph.insert_block(make_block(name, pos=(100.0 * i, 0.0)))
    p.graph.insert_link(L("c1.y", "c2.x"))
    p.graph.insert_link(L("c2.y", "c3.x"))
    h = History(p)
    with exact_undo(h):
        h.do(Merge(["c1", "c2", "c3"], "sb", "Feature Extractor"))
    sb = p.block("sb")
    assert [q.name for q in sb.inputs] == ["x"] and [q.name for q in sb.outputs] == ["y"]
    assert links(sb.graph) == ["c1.y -> c2.x", "c2.y -> c3.x", "sb.x -> c1.x", "c3.y -> sb.y"]


def test_merge_names_clashing_boundary_ports_apart(fan: History) -> None:
    fan.do(Merge(["p", "q"], "sb", "Pair"))
    sb = fan.project.block("sb")
    assert [p.name for p in sb.inputs] == ["x"]
    assert [p.name for p in sb.outputs] == ["y", "y2"]


def test_merge_inside_a_superblock_three_deep(nested_history: History, exact_undo) -> None:
    p = nested_history.project
    with exact_undo(nested_history):
        nested_history.do(Merge(["b3"], "s4", "Inner"))
    assert p.path_of("b3") == ["Backbone", "Body", "Core", "Inner", "fc"]
    assert links(p.block("s3").graph) == ["s3.x -> s4.x", "s4.y -> s3.y"]
    assert links(p.block("s4").graph) == ["s4.x -> b3.x", "b3.y -> s4.y"]


def test_merge_a_superblock_into_a_new_one(nested_history: History, exact_undo) -> None:
    p = nested_history.project
    with exact_undo(nested_history):
        nested_history.do(Merge(["s3", "b4"], "s4", "Stack"))
    assert p.path_of("b3") == ["Backbone", "Body", "Stack", "Core", "fc"]
    assert links(p.block("s2").graph) == ["s2.x -> s4.x", "s4.y -> s2.y"]


def test_merge_keeps_the_kind_each_input_can_take(make_block) -> None:
    # An "any" source feeding a tensor and an image input: only "any" fits both inside.
    p = Project()
    p.graph.insert_block(make_block("src", inputs=(), outputs=[Port("y", "any")]))
    p.graph.insert_block(make_block("t"))
    p.graph.insert_block(make_block("i", inputs=[Port("x", "image")]))
    p.graph.insert_link(L("src.y", "t.x"))
    p.graph.insert_link(L("src.y", "i.x"))
    History(p).do(Merge(["t", "i"], "sb", "Both"))
    assert p.block("sb").inputs == [Port("x", "any")]
    assert_loads_back(p)


def test_merge_with_a_boundary_input_of_the_enclosing_superblock(nested_history: History, exact_undo) -> None:
    p = nested_history.project
    with exact_undo(nested_history):
        nested_history.do(Merge(["b2"], "s4", "Pre"))
    assert links(p.block("s1").graph) == ["s2.y -> s1.y", "s1.x -> s4.x", "s4.y -> s2.x"]


def test_unmerge_a_nested_superblock(nested_history: History, exact_undo) -> None:
    p = nested_history.project
    with exact_undo(nested_history):
        nested_history.do(Unmerge("s2"))
    backbone = p.block("s1").graph
    assert list(backbone.blocks) == ["b2", "s3", "b4"]
    assert sorted(links(backbone)) == sorted(["s1.x -> b2.x", "b2.y -> s3.x", "s3.y -> b4.x",
                                              "b4.y -> s1.y"])
    assert p.path_of("b3") == ["Backbone", "Core", "fc"]


def test_unmerge_joins_a_pass_through_into_one_link(make_block, exact_undo) -> None:
    inner = Graph()
    sb = make_block("sb", "Wire", graph=inner)
    inner.insert_link(L("sb.x", "sb.y"))
    p = Project()
    p.graph.insert_block(make_block("a", inputs=()))
    p.graph.insert_block(sb)
    p.graph.insert_block(make_block("c", outputs=()))
    p.graph.insert_link(L("a.y", "sb.x"))
    p.graph.insert_link(L("sb.y", "c.x"))
    history = History(p)
    with exact_undo(history):
        history.do(Unmerge("sb"))
    assert list(p.graph.blocks) == ["a", "c"] and links(p.graph) == ["a.y -> c.x"]


def test_unmerge_drops_the_superblock_from_the_orders(nested_history: History, exact_undo) -> None:
    nested_history.do(SetOrders([Order(1, optimize=["s2", "b5"])]))
    with exact_undo(nested_history):
        nested_history.do(Unmerge("s2"))
    assert nested_history.project.orders[0].optimize == ["b5"]


def connectivity(project: Project) -> tuple[dict[str, tuple], set[tuple[str, str]]]:
    """Blocks (by id: type, name, params, ports) and links of the root graph, order-free."""
    blocks = {
        b.id: (b.type, b.name, b.params, b.inputs, b.outputs) for b in project.graph.blocks.values()
    }
    return blocks, {(str(lk.src), str(lk.dst)) for lk in project.graph.links}


@pytest.mark.parametrize(
    "selection", [["p"], ["p", "q"], ["p", "q", "join"], ["join", "out1", "out2"], ["src", "p", "q"],
                  ["src", "p", "q", "join", "out1", "out2"]],
)
def test_merge_then_unmerge_gives_back_the_same_graph(fan: History, selection: list[str]) -> None:
    before = connectivity(fan.project)
    fan.do(Merge(selection, "sb", "Tmp"))
    fan.do(Unmerge("sb"))
    assert connectivity(fan.project) == before
    assert_loads_back(fan.project)


# -- SetOrders / SetTraining -------------------------------------------------------------------------
def test_set_orders(history: History, exact_undo) -> None:
    orders = [
        Order(1, "discriminator", OptimizerSettings("sgd", lr=0.01, momentum=0.5), optimize=["b2"]),
        Order(2, "generator", OptimizerSettings("adamw", scheduler="cosine"), losses=["b3"]),
    ]
    with exact_undo(history):
        history.do(SetOrders(orders))
    orders[0].name = "changed later"  # the edit keeps its own copy
    assert [o.name for o in history.project.orders] == ["discriminator", "generator"]
    assert history.project.order(2).optimizer.type == "adamw"


@pytest.mark.parametrize(("name", "value"), [("epochs", 3), ("seed", 42), ("device", "cpu")])
def test_set_training(history: History, exact_undo, name: str, value: object) -> None:
    with exact_undo(history):
        history.do(SetTraining(name, value))
    assert getattr(history.project.training, name) == value


# -- Compound ------------------------------------------------------------------------------------------
def test_compound_is_one_undo_step(history: History, exact_undo) -> None:
    with exact_undo(history):
        history.do(Compound([SetParam("b2", "out_features", 5), Rename("b2", "fc5"), Move("b2", (1, 2))]))
    assert history.can_undo and history.undo() and not history.can_undo


def test_a_failing_member_reverts_the_ones_before_it(history: History) -> None:
    before = dumps(history.project)
    compound = Compound([SetParam("b2", "out_features", 5), Rename("b2", "fc5"), Rename("b3", "fc5")])
    with pytest.raises(GraphError, match="a block named 'fc5' already exists here"):
        history.do(compound)
    assert dumps(history.project) == before
    assert not history.can_undo


# -- refused edits change nothing --------------------------------------------------------------------
def _blk(bid: str, name: str, **kw) -> Block:
    return Block(bid, kw.pop("type", "builtin.Linear"), name, inputs=[Port("x")], outputs=[Port("y")], **kw)


REFUSED: list[tuple[str, Callable[[], Edit], str]] = [
    ("add: id taken", lambda: AddBlock(_blk("b2", "other")), "a block with id 'b2' already exists"),
    ("add: name taken", lambda: AddBlock(_blk("b9", "fc")), "a block named 'fc' already exists here"),
    ("add: into a plain block", lambda: AddBlock(_blk("b9", "x"), parent="b2"), "is not a SuperBlock"),
    ("add: bad id", lambda: AddBlock(_blk("b 9", "x")), "block id 'b 9' must be"),
    ("add: empty name", lambda: AddBlock(_blk("b9", " ")), "a block name cannot be empty"),
    ("add: padded name", lambda: AddBlock(_blk("b9", " x")), "cannot start or end with spaces"),
    ("add: no type", lambda: AddBlock(_blk("b9", "x", type="")), "has no block type"),
    ("add: superblock without graph", lambda: AddBlock(_blk("b9", "x", type=SUPERBLOCK_TYPE)),
     "only core.SuperBlock blocks have a graph"),
    ("add: nan position", lambda: AddBlock(_blk("b9", "x", pos=(math.nan, 0.0))), "two finite numbers"),
    ("add: params not JSON", lambda: AddBlock(_blk("b9", "x", params={"f": print})), "cannot be saved"),
    ("add: port twice", lambda: AddBlock(Block("b9", "t", "x", inputs=[Port("a"), Port("a")])),
     "input port 'a' is declared twice"),
    ("remove: unknown", lambda: RemoveBlock("zz"), "no block with id 'zz'"),
    ("connect: duplicate", lambda: Connect(E("b2.y"), E("b3.input")), "already linked"),
    ("connect: second driver", lambda: Connect(E("b1.x"), E("b3.target")), "already has an input"),
    ("connect: cycle", lambda: Connect(E("b3.loss"), E("b2.x")), "already has an input"),
    ("connect: in a plain block", lambda: Connect(E("b1.x"), E("b2.x"), parent="b2"), "not a SuperBlock"),
    ("disconnect: no such link", lambda: Disconnect(E("b1.x"), E("b3.input")), "no link b1.x -> b3.input"),
    ("param: unknown block", lambda: SetParam("zz", "a", 1), "no block with id 'zz'"),
    ("param: nan", lambda: SetParam("b2", "p", math.nan), "cannot be saved"),
    ("param: not JSON", lambda: SetParam("b2", "p", {1, 2}), "cannot be saved"),
    ("param: bad ports", lambda: SetParam("b2", "n", 2, ports=([Port("1x")], [])), "must be an identifier"),
    ("ports: twice", lambda: SetPorts("b2", [], [Port("y"), Port("y")]), "output port 'y' is declared twice"),
    ("move: unknown", lambda: Move("zz", (0, 0)), "no block with id 'zz'"),
    ("move: infinite", lambda: Move("b2", (math.inf, 0)), "two finite numbers"),
    ("rename: empty", lambda: Rename("b2", "   "), "a block name cannot be empty"),
    ("rename: taken", lambda: Rename("b2", "loss"), "a block named 'loss' already exists here"),
    ("merge: nothing", lambda: Merge([], "s1"), "select at least one block"),
    ("merge: id taken", lambda: Merge(["b2"], "b3"), "a block with id 'b3' already exists"),
    ("merge: name taken", lambda: Merge(["b2"], "s1", "loss"), "a block named 'loss' already exists"),
    ("merge: empty name", lambda: Merge(["b2"], "s1", " "), "a block name cannot be empty"),
    ("merge: unknown", lambda: Merge(["b2", "zz"], "s1"), "must be siblings"),
    ("merge: would feed itself", lambda: Merge(["b1", "b3"], "s1"), "cannot merge: 'fc' both reads"),
    ("unmerge: plain block", lambda: Unmerge("b2"), "'fc' is not a SuperBlock"),
    ("orders: none", lambda: SetOrders([]), "distinct indices"),
    ("orders: same index", lambda: SetOrders([Order(1), Order(1)]), "distinct indices"),
    ("orders: index 0", lambda: SetOrders([Order(0)]), "distinct indices"),
    ("orders: unknown block", lambda: SetOrders([Order(1, optimize=["zz"])]), "no block with id 'zz'"),
    ("orders: unknown loss", lambda: SetOrders([Order(1, losses=["b9"])]), "no block with id 'b9'"),
    ("orders: optimizer", lambda: SetOrders([Order(1, optimizer=OptimizerSettings("rmsprop"))]),
     "unknown optimizer 'rmsprop'"),
    ("orders: scheduler", lambda: SetOrders([Order(1, optimizer=OptimizerSettings(scheduler="cyclic"))]),
     "unknown scheduler 'cyclic'"),
    ("orders: lr", lambda: SetOrders([Order(1, optimizer=OptimizerSettings(lr=0))]), "learning rate must be > 0"),
    ("orders: nan", lambda: SetOrders([Order(1, optimizer=OptimizerSettings(gamma=math.nan))]),
     "gamma must be a finite number"),
    ("orders: step", lambda: SetOrders([Order(1, optimizer=OptimizerSettings(step_size=0))]), "step size"),
    ("training: unknown", lambda: SetTraining("speed", 1), "no training setting 'speed'"),
    ("training: type", lambda: SetTraining("epochs", "10"), "must be a int"),
    ("training: bool", lambda: SetTraining("seed", True), "must be a int"),
    ("training: negative", lambda: SetTraining("epochs", -1), "epochs must be >= 0"),
]


@pytest.mark.parametrize(("make_edit", "reason"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_a_refused_edit_changes_nothing(history: History, make_edit, reason: str) -> None:
    history.do(SetParam("b2", "out_features", 16))
    history.do(Move("b2", (5.0, 5.0)))
    history.undo()  # so both stacks hold something
    before = dumps(history.project)
    events: list[str] = []
    history.subscribe(lambda action, edit: events.append(action))
    with pytest.raises(GraphError, match=reason):
        history.do(make_edit())
    assert dumps(history.project) == before
    assert events == []
    assert isinstance(history.redo(), Move) and isinstance(history.undo(), Move)
    assert isinstance(history.undo(), SetParam) and history.undo() is None


def test_unmerge_refuses_names_that_exist_outside(nested_history: History) -> None:
    nested_history.do(Rename("b4", "pre"))
    before = dumps(nested_history.project)
    with pytest.raises(GraphError, match="cannot expand 'Body': names 'pre' already exist outside it"):
        nested_history.do(Unmerge("s2"))
    assert dumps(nested_history.project) == before


def test_unmerge_refuses_to_join_kinds_that_only_met_through_any(make_block) -> None:
    inner = Graph()
    sb = make_block("sb", "Box", inputs=[Port("x", "any")], graph=inner)
    inner.insert_block(make_block("img", inputs=[Port("x", "image")]))
    inner.insert_link(L("sb.x", "img.x"))
    p = Project()
    p.graph.insert_block(make_block("t", inputs=()))
    p.graph.insert_block(sb)
    p.graph.insert_link(L("t.y", "sb.x"))
    before = dumps(p)
    with pytest.raises(GraphError, match="would join a tensor output to a image input"):
        History(p).do(Unmerge("sb"))
    assert dumps(p) == before


def test_merge_refuses_nesting_past_the_limit(make_block) -> None:
    p = Project()
    p.graph.insert_block(make_block("b0", "fc"))
    history = History(p)
    inner = "b0"
    for level in range(1, MAX_DEPTH + 1):
        history.do(Merge([inner], f"s{level}", f"level{level}"))
        inner = f"s{level}"
    assert len(p.path_of("b0")) == MAX_DEPTH + 1
    assert_loads_back(p)
    with pytest.raises(GraphError, match=f"nested more than {MAX_DEPTH} deep"):
        history.do(Merge([inner], "top", "top"))


def test_merge_refuses_blocks_from_different_graphs(nested_history: History) -> None:
    with pytest.raises(GraphError, match="must be siblings"):
        nested_history.do(Merge(["b2", "b4"], "s9"))


# -- History -------------------------------------------------------------------------------------------
def test_history_reports_every_do_undo_and_redo(history: History) -> None:
    seen: list[tuple[str, str]] = []
    history.subscribe(lambda action, edit: seen.append((action, edit.label)))
    history.do(Rename("b2", "dense"))
    history.undo()
    history.redo()
    assert seen == [("do", "rename to dense"), ("undo", "rename to dense"), ("redo", "rename to dense")]


def test_undo_and_redo_on_empty_stacks_do_nothing(history: History) -> None:
    before = dumps(history.project)
    assert (history.can_undo, history.can_redo) == (False, False)
    assert history.undo() is None and history.redo() is None
    assert dumps(history.project) == before


def test_a_new_edit_clears_the_redo_stack(history: History) -> None:
    history.do(Move("b2", (1, 1)))
    history.undo()
    history.do(Move("b3", (2, 2)))
    assert not history.can_redo


def test_dirty_follows_the_saved_state(history: History) -> None:
    assert not history.dirty  # a fresh project counts as saved
    history.do(Move("b2", (1, 1)))
    assert history.dirty
    history.mark_saved()
    assert not history.dirty
    history.undo()
    assert history.dirty
    history.redo()
    assert not history.dirty
    history.undo()
    history.do(Move("b2", (1, 1)))  # same content, but not the saved edit
    assert history.dirty


def test_undoing_back_to_a_save_at_the_start_is_clean(history: History) -> None:
    history.mark_saved()
    history.do(Move("b2", (1, 1)))
    history.undo()
    assert not history.dirty


def test_history_limit_forgets_the_oldest_edits(history: History) -> None:
    history.limit = 2
    for x in range(3):
        history.do(Move("b2", (x, 0)))
    assert history.undo() and history.undo() and history.undo() is None
    assert history.project.block("b2").pos == (0.0, 0.0)  # the first move can no longer be undone


def test_dirty_stays_right_when_the_limit_drops_old_edits(history: History) -> None:
    history.limit = 3
    for x in range(3):
        history.do(Move("b2", (x, 0)))
    history.mark_saved()
    history.do(Move("b2", (9, 9)))  # drops the oldest edit
    assert history.dirty
    history.undo()
    assert not history.dirty


def test_a_saved_state_dropped_off_the_stack_stays_dirty(history: History) -> None:
    history.limit = 1
    history.mark_saved()
    history.do(Move("b2", (1, 0)))
    history.do(Move("b2", (2, 0)))
    history.undo()
    assert history.dirty and not history.can_undo


def test_touched_names_the_blocks_an_edit_changed(history: History) -> None:
    assert Connect(E("b1.x"), E("b2.x")).touched() == {"b1", "b2"}
    assert Merge(["b2", "b3"], "s1").touched() == {"s1", "b2", "b3"}
    assert Compound([Move("b2", (0, 0)), Rename("b3", "z")]).touched() == {"b2", "b3"}
    assert Compound([]).touched() == set()


# -- random edit sequences: every state saves and loads back; undo/redo retrace them exactly -----
KINDS = ["tensor", "tensor", "image", "any"]
NAMES = ["fc", "fc2", "relu", "Body", "loss"]
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True),
                   st.text(max_size=3), st.lists(st.integers(0, 9), max_size=3))


def _ports(data: st.DataObject, names: list[str]) -> list[Port]:
    chosen = data.draw(st.lists(st.sampled_from(names), max_size=2, unique=True))
    return [Port(n, data.draw(st.sampled_from(KINDS))) for n in chosen]


def _pick(data: st.DataObject, options: list, fallback: object) -> object:
    return data.draw(st.sampled_from(options or [fallback]))


def draw_edit(data: st.DataObject, p: Project, nesting: int = 0) -> Edit:
    """An edit that fits the project most of the time, and sometimes one that must be refused."""
    ids = [b.id for b in p.graph.walk()]
    supers = [b.id for b in p.graph.walk() if b.is_super]
    parent = data.draw(st.sampled_from([None, *supers]))
    g = p.graph_of(parent)
    boundary = g.owner
    sources = [Endpoint(b.id, o.name) for b in g.blocks.values() for o in b.outputs]
    sinks = [Endpoint(b.id, i.name) for b in g.blocks.values() for i in b.inputs]
    if boundary is not None:
        sources += [Endpoint(boundary.id, i.name) for i in boundary.inputs]
        sinks += [Endpoint(boundary.id, o.name) for o in boundary.outputs]
    kinds = ["add", "remove", "connect", "connect", "disconnect", "param", "ports", "move", "rename",
             "merge", "unmerge", "orders", "training"] + (["compound"] if nesting == 0 else [])
    kind = data.draw(st.sampled_from(kinds))
    some_id = _pick(data, ids, "zz")
    if kind == "add":
        bid = data.draw(st.sampled_from([p.new_id(), p.new_id(), some_id]))
        return AddBlock(Block(bid, "t", data.draw(st.sampled_from(NAMES)), {}, _ports(data, ["x", "x2"]),
                              _ports(data, ["y", "y2"]), (float(len(ids)), 0.0)), parent)
    if kind == "remove":
        return RemoveBlock(some_id)
    if kind == "connect":
        src = _pick(data, sources + sinks[:1], Endpoint("zz", "y"))
        dst = _pick(data, sinks + sources[:1], Endpoint("zz", "x"))
        return Connect(src, dst, parent)
    if kind == "disconnect":
        lk = _pick(data, g.links, L("zz.y", "zz.x"))
        return Disconnect(lk.src, lk.dst, parent)
    if kind == "param":
        return SetParam(some_id, data.draw(st.sampled_from(["units", "act"])), data.draw(VALUES))
    if kind == "ports":
        ports = (_ports(data, ["x", "x2", "i"]), _ports(data, ["y", "y2", "o"]))
        if data.draw(st.booleans()):
            return SetPorts(some_id, *ports)
        return SetParam(some_id, "n", len(ports[0]), ports=ports)
    if kind == "move":
        coord = st.floats(-1e3, 1e3) | st.sampled_from([math.inf, math.nan])
        return Move(some_id, (data.draw(coord), data.draw(coord)))
    if kind == "rename":
        return Rename(some_id, data.draw(st.sampled_from([*NAMES, " ", "fc "])))
    if kind == "merge":
        sel = data.draw(st.lists(st.sampled_from(list(g.blocks) or ["zz"]), min_size=1, max_size=3))
        return Merge(sel, p.new_id(), data.draw(st.sampled_from(NAMES)))
    if kind == "unmerge":
        return Unmerge(_pick(data, supers, some_id))
    if kind == "orders":
        listed = st.none() | st.lists(st.sampled_from([*ids, "zz"]), max_size=2)
        return SetOrders([
            Order(i, f"order {i}", OptimizerSettings(data.draw(st.sampled_from(["adam", "sgd"])),
                                                     lr=data.draw(st.sampled_from([0.1, 1e-3, 0.0]))),
                  data.draw(listed), data.draw(listed))
            for i in range(1, data.draw(st.integers(1, 2)) + 1)
        ])
    if kind == "training":
        name, value = data.draw(st.sampled_from([("epochs", 3), ("epochs", -1), ("seed", 7), ("device", "cpu"),
                                                 ("device", 1)]))
        return SetTraining(name, value)
    return Compound([draw_edit(data, p, 1), draw_edit(data, p, 1)])


def random_project(data: st.DataObject) -> Project:
    """Up to six blocks with random ports and up to eight random links (refused ones skipped)."""
    p = Project("random")
    for i in range(data.draw(st.integers(1, 6), label="blocks")):
        p.graph.insert_block(Block(f"b{i + 1}", "t", f"n{i}", {}, _ports(data, ["x", "x2"]),
                                   _ports(data, ["y", "y2"])))
    for _ in range(data.draw(st.integers(0, 8), label="links")):
        src = [Endpoint(b.id, o.name) for b in p.graph.blocks.values() for o in b.outputs]
        dst = [Endpoint(b.id, i.name) for b in p.graph.blocks.values() for i in b.inputs]
        if src and dst:
            try:
                p.graph.insert_link(Link(data.draw(st.sampled_from(src)), data.draw(st.sampled_from(dst))))
            except GraphError:
                pass
    return p


class EditSequences(RuleBasedStateMachine):
    """Random edits, undos and redos on a random graph. ``texts[i]`` is the document after the
    i-th edit still on the undo stack; the project must always be at ``texts[depth]``."""

    @initialize(data=st.data())
    def random_graph(self, data: st.DataObject) -> None:
        self.project = p = random_project(data)
        self.history = History(p)
        self.texts = [dumps(p)]
        self.depth = 0

    def _edit(self, data: st.DataObject) -> None:
        edit = draw_edit(data, self.project)
        try:
            self.history.do(edit)
        except GraphError:
            return  # the invariant checks that the document did not change
        self.depth += 1
        self.texts[self.depth:] = [dumps(self.project)]

    # Two edit rules against one undo and one redo: sequences mostly grow.
    @rule(data=st.data())
    def edit(self, data: st.DataObject) -> None:
        self._edit(data)

    @rule(data=st.data())
    def another_edit(self, data: st.DataObject) -> None:
        self._edit(data)

    @rule()
    def undo(self) -> None:
        if self.history.undo() is not None:  # None: nothing to undo, nothing changes
            self.depth -= 1

    @rule()
    def redo(self) -> None:
        if self.history.redo() is not None:
            self.depth += 1

    @invariant()
    def the_document_is_where_the_history_says_and_loads_back(self) -> None:
        text = dumps(self.project)
        assert text == self.texts[self.depth]
        assert dumps(loads(text)) == text
        assert (self.history.can_undo, self.history.can_redo) == (self.depth > 0, self.depth < len(self.texts) - 1)

    def teardown(self) -> None:
        if not hasattr(self, "history"):
            return
        while self.history.undo():
            pass
        assert dumps(self.project) == self.texts[0]
        while self.history.redo():
            pass
        assert dumps(self.project) == self.texts[-1]


EditSequences.TestCase.settings = settings(
    max_examples=200, stateful_step_count=20, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
test_random_edit_sequences_undo_and_redo_exactly = EditSequences.TestCase
