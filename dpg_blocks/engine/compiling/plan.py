"""From the document to an execution plan: flatten SuperBlocks, then plan each order.

Flattening resolves every input of every plain block to the plain block output that drives it,
through any number of SuperBlock boundaries. Planning an order decides statically which blocks
are live (DESIGN.md §3: in order k only inputs of order k emit; a block with a null required
input is null unless it accepts nulls) and where each loss finds its ground truth when its
``target`` is not linked (the label of the one labelled input its prediction derives from).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dpg_blocks.blocks.spec import BlockSpec, ParamError
from dpg_blocks.core.graph import Block, Endpoint, Graph
from dpg_blocks.core.project import Project

from ..packs.registry import Registry

Source = tuple[str, str]  # (plain block id, output port)


@dataclass
class FlatNode:
    """A plain block with its inputs resolved across SuperBlock boundaries."""

    block: Block
    spec: BlockSpec | None
    path: list[str]
    params: dict[str, Any]
    sources: dict[str, Source | None]  # input port -> driving output (None: unconnected)
    problem: str = ""  # unknown type or bad params: the node cannot run
    super_ids: list[str] = field(default_factory=list)  # enclosing SuperBlocks, outermost first

    @property
    def id(self) -> str:
        return self.block.id

    @property
    def role(self) -> str | None:
        return self.spec.role if self.spec else None


@dataclass
class FlatGraph:
    nodes: dict[str, FlatNode]  # in topological order
    supers: dict[str, tuple[Block, list[str]]]  # SuperBlock id -> (block, path)
    # SuperBlock id -> (input port -> driving output, output port -> driving output): what
    # crosses its boundary, so its rolled-up record can show the shapes there.
    boundaries: dict[str, tuple[dict[str, Source | None], dict[str, Source | None]]] = field(default_factory=dict)


def flatten(project: Project, registry: Registry) -> FlatGraph:
    """Every plain block of the project, in an order where sources come first."""
    nodes: dict[str, FlatNode] = {}
    supers: dict[str, tuple[Block, list[str]]] = {}
    boundaries: dict[str, tuple[dict[str, Source | None], dict[str, Source | None]]] = {}
    parents: dict[int, Graph | None] = {id(project.graph): None}

    def resolve(graph: Graph, ep: Endpoint) -> Source | None:
        if graph.owner is not None and ep.block == graph.owner.id:
            parent = parents[id(graph)]
            assert parent is not None
            lk = parent.driver(Endpoint(graph.owner.id, ep.port))
            return resolve(parent, lk.src) if lk else None
        b = graph.blocks[ep.block]
        if b.graph is not None:
            lk = b.graph.driver(Endpoint(b.id, ep.port))
            return resolve(b.graph, lk.src) if lk else None
        return (b.id, ep.port)

    def visit(graph: Graph, prefix: list[str], chain: list[str]) -> None:
        for bid in graph.topological_order():
            b = graph.blocks[bid]
            path = prefix + [b.name]
            if b.graph is not None:
                parents[id(b.graph)] = graph
                supers[b.id] = (b, path)
                visit(b.graph, path, chain + [b.id])
                # after the visit: resolving an output may pass through nested SuperBlocks
                ins: dict[str, Source | None] = {}
                for port in b.inputs:
                    lk = graph.driver(Endpoint(b.id, port.name))
                    ins[port.name] = resolve(graph, lk.src) if lk else None
                outs = {port.name: resolve(graph, Endpoint(b.id, port.name)) for port in b.outputs}
                boundaries[b.id] = (ins, outs)
                continue
            spec = registry.get(b.type)
            problem = ""
            params: dict[str, Any] = dict(b.params)
            if spec is None:
                problem = registry.why_unknown(b.type)  # a pack that failed to load says so
            else:
                try:
                    params = spec.check_params(b.params)
                except ParamError as e:
                    problem = str(e)
            sources: dict[str, Source | None] = {}
            for port in b.inputs:
                lk = graph.driver(Endpoint(b.id, port.name))
                sources[port.name] = resolve(graph, lk.src) if lk else None
            nodes[b.id] = FlatNode(b, spec, path, params, sources, problem, chain)

    visit(project.graph, [], [])
    return FlatGraph(_topo(nodes), supers, boundaries)


def _topo(nodes: dict[str, FlatNode]) -> dict[str, FlatNode]:
    """Order nodes so every source precedes its readers (SuperBlocks can reorder the levels)."""
    done: dict[str, FlatNode] = {}
    visiting: set[str] = set()

    def visit(nid: str) -> None:
        if nid in done or nid in visiting:
            return
        visiting.add(nid)
        for src in nodes[nid].sources.values():
            if src is not None and src[0] in nodes:
                visit(src[0])
        visiting.discard(nid)
        done[nid] = nodes[nid]

    for nid in nodes:
        visit(nid)
    return done


@dataclass
class Step:
    """One block call in an order: which values go in, whether it is live, and why not."""

    node: FlatNode
    live: bool
    args: list[Source | None]  # per input port; None: unconnected or null
    implicit_target: str | None = None  # input block id whose labels feed an unlinked target
    signal_target: str | None = None  # takes_signal blocks: the one labelled input reaching them
    idle_reason: str = ""
    target_problem: str = ""


MAX_ORDER_INDEX = 1000  # the Input's ``orders`` param allows no more (builtin/inputs.py)


@dataclass
class OrderPlan:
    index: int
    steps: list[Step]
    inputs: list[str]  # input block ids live in this order, in plan order

    def step(self, node_id: str) -> Step | None:
        return next((s for s in self.steps if s.node.id == node_id), None)


def input_orders(node: FlatNode) -> list[int]:
    """The orders an Input emits in.

    Checked params hold ints >= 1; an Input whose params failed the check (``node.problem``,
    recorded as its error) keeps what is usable of a hand-edited list (``[null]``, ``["abc"]``,
    ``[1e999]``), so its readers show "upstream error" rather than the plan raising.
    """
    raw = node.params.get("orders", [1])
    if not isinstance(raw, list):
        return [1]
    usable = [o for o in raw if type(o) is int and 1 <= o <= MAX_ORDER_INDEX]
    return usable if usable or not node.problem else [1]


def plan_order(flat: FlatGraph, index: int, labelled: set[str] | None = None) -> OrderPlan:
    """Liveness and implicit targets of every block in order ``index``.

    ``labelled`` names the input blocks whose data has labels (None: all of them).
    """
    live_values: set[Source] = set()
    labelled_from: dict[Source, set[str]] = {}  # which labelled inputs a value derives from
    steps: list[Step] = []
    inputs: list[str] = []
    for node in flat.nodes.values():
        ports = [p.name for p in node.block.inputs]
        args = [node.sources.get(p) for p in ports]
        if node.role == "input":
            live = index in input_orders(node)
            step = Step(node, live, [], idle_reason="" if live else f"emits only in orders {input_orders(node)}")
            if live:
                inputs.append(node.id)
                for port in node.block.outputs:
                    live_values.add((node.id, port.name))
                    has_labels = labelled is None or node.id in labelled
                    labelled_from[(node.id, port.name)] = {node.id} if has_labels else set()
            steps.append(step)
            continue
        required = [p for p in node.block.inputs if not p.optional]
        unconnected = [p.name for p in required if node.sources.get(p.name) is None]
        connected = [a for a in args if a is not None]
        live_args = [a if a is not None and a in live_values else None for a in args]
        accepts_null = node.spec.accepts_null if node.spec else False
        if unconnected and not accepts_null:
            steps.append(Step(node, False, live_args, idle_reason=f"input {', '.join(map(repr, unconnected))} not connected"))
            continue
        if accepts_null:
            live = any(a is not None for a in live_args)
        else:
            live = bool(connected) and all(a is not None for a, c in zip(live_args, args, strict=True) if c is not None)
        if not live:
            steps.append(Step(node, False, live_args, idle_reason=f"no data in order {index}"))
            continue
        origin: set[str] = set()
        for a in live_args:
            if a is not None:
                origin |= labelled_from.get(a, set())
        step = Step(node, True, live_args)
        if node.spec is not None and node.spec.takes_signal and len(origin) == 1:
            step.signal_target = next(iter(origin))
        if node.role in ("loss", "output") and "target" in ports and node.sources.get("target") is None:
            pred = node.sources.get(ports[0])
            origin = labelled_from.get(pred, set()) if pred else set()
            if len(origin) == 1:
                step.implicit_target = next(iter(origin))
            elif origin:
                names = ", ".join(sorted(flat.nodes[o].block.name for o in origin))
                step.target_problem = (
                    f"the prediction mixes data from several inputs ({names}); link 'target' to say which labels to use"
                )
            elif node.role == "loss":
                step.target_problem = "no ground truth reaches this block: link its 'target' input"
            # an Output that no labels reach (noise, an imported model) marks the output and scores nothing
        for port in node.block.outputs:
            live_values.add((node.id, port.name))
            labelled_from[(node.id, port.name)] = origin
        steps.append(step)
    return OrderPlan(index, steps, inputs)


def order_indices(project: Project, flat: FlatGraph) -> list[int]:
    """The project's orders plus any order an input block names."""
    indices = {o.index for o in project.orders}
    for node in flat.nodes.values():
        if node.role == "input" and not node.problem:
            indices.update(input_orders(node))
    return sorted(indices)
