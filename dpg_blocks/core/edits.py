"""Edit commands with exact undo/redo, and the history that runs them.

Every change to a :class:`~dpg_blocks.core.project.Project` is an :class:`Edit`: ``apply``
makes the change (validating it first, so a refused edit changes nothing), ``revert`` restores
the exact previous state — block order, link order, ids and positions included — so that
``apply(); revert()`` is the identity on the serialised project and ``apply`` again after
``revert`` gives the same result as the first time.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .graph import (
    BLOCK_ID,
    MAX_DEPTH,
    PORT_NAME,
    SUPERBLOCK_TYPE,
    Block,
    Endpoint,
    Graph,
    GraphError,
    Link,
    Port,
    kinds_match,
)
from .names import name_key, name_problem
from .project import OPTIMIZERS, SCHEDULERS, Order, Project, Tie, TrainingSettings

__all__ = [
    "Edit",
    "AddBlock",
    "RemoveBlock",
    "Connect",
    "Disconnect",
    "SetParam",
    "SetPorts",
    "Move",
    "Rename",
    "Merge",
    "Unmerge",
    "SetOrders",
    "SetTraining",
    "Compound",
    "History",
]


class Edit:
    """One undoable change. Subclasses implement ``apply`` and ``revert``."""

    label = "edit"

    def apply(self, project: Project) -> None:
        raise NotImplementedError

    def revert(self, project: Project) -> None:
        raise NotImplementedError

    def touched(self) -> set[str]:
        """Ids of blocks this edit changed (for the UI to refresh)."""
        return set()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label}>"


def _graph_snapshot(g: Graph) -> tuple[dict[str, Block], list[Link]]:
    return dict(g.blocks), list(g.links)


def _restore(g: Graph, snap: tuple[dict[str, Block], list[Link]]) -> None:
    g.blocks = dict(snap[0])
    g.links = list(snap[1])
    for b in g.blocks.values():
        if b.graph is not None:
            b.graph.owner = b


# -- what an edit must refuse so that every document it makes saves and loads back ---------
def _check_json(what: str, value: Any) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as e:
        raise GraphError(f"{what} cannot be saved: {e}") from None


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _check_pos(what: str, pos: Any) -> None:
    if not isinstance(pos, tuple | list) or len(pos) != 2 or not all(_is_number(c) for c in pos):
        raise GraphError(f"the position of {what} must be two finite numbers, got {pos!r}")


def _check_ports(what: str, inputs: Sequence[Port], outputs: Sequence[Port]) -> None:
    for side, ports in (("input", inputs), ("output", outputs)):
        seen: set[str] = set()
        for p in ports:
            if not isinstance(p.name, str) or not PORT_NAME.fullmatch(p.name):
                raise GraphError(f"{what}: port name {p.name!r} must be an identifier")
            if p.name in seen:
                raise GraphError(f"{what}: {side} port {p.name!r} is declared twice")
            if not isinstance(p.kind, str):
                raise GraphError(f"{what}: the kind of port {p.name!r} must be a string")
            seen.add(p.name)


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name.strip():
        raise GraphError("a block name cannot be empty")
    if name != name.strip():
        raise GraphError(f"a block name cannot start or end with spaces ({name!r})")
    problem = name_problem(name, "a block name")
    if problem is not None:
        raise GraphError(problem)


def _name_taken(name: str, blocks: Iterable[Block]) -> None:
    """Refuse ``name`` when a sibling has it, or a name that looks the same (NFKC-equal)."""
    key = name_key(name)
    twin = next((b for b in blocks if name_key(b.name) == key), None)
    if twin is None:
        return
    if twin.name == name:
        raise GraphError(f"a block named {name!r} already exists here")
    raise GraphError(f"a block named {twin.name!r} already exists here, and {name!r} looks the same")


def _check_new_block(block: Block) -> None:
    """One block about to enter the document (not its nested blocks, nor its links)."""
    if not isinstance(block.id, str) or not BLOCK_ID.fullmatch(block.id):
        raise GraphError(f"block id {block.id!r} must be 1-64 letters, digits, '_' or '-'")
    _check_name(block.name)
    what = repr(block.name)
    if not isinstance(block.type, str) or not block.type:
        raise GraphError(f"{what} has no block type")
    if (block.type == SUPERBLOCK_TYPE) != (block.graph is not None):
        raise GraphError(f"{what}: only {SUPERBLOCK_TYPE} blocks have a graph, and they must")
    if not _is_int(block.version) or block.version < 1:
        raise GraphError(f"{what}: version must be an integer >= 1, got {block.version!r}")
    _check_pos(what, block.pos)
    _check_ports(what, block.inputs, block.outputs)
    if not isinstance(block.params, dict) or not all(isinstance(k, str) for k in block.params):
        raise GraphError(f"{what}: params must be a dict with string keys")
    _check_json(f"the params of {what}", block.params)
    if block.graph is not None:
        names = [name_key(b.name) for b in block.graph.blocks.values()]
        if len(set(names)) != len(names):
            raise GraphError(f"{what}: two blocks inside it have the same name")


def _depth_in(project: Project, g: Graph) -> int:
    """How many SuperBlocks enclose ``g`` (0 for the root graph)."""
    depth = 0
    while g.owner is not None:
        depth += 1
        g, _ = project.locate(g.owner.id)
    return depth


def _height(block: Block) -> int:
    """How many levels of SuperBlock graphs ``block`` holds (0 for a plain block)."""
    if block.graph is None:
        return 0
    return 1 + max((_height(b) for b in block.graph.blocks.values()), default=0)


def _forget_ids(project: Project, gone: set[str]) -> list[Order] | None:
    """Drop ids that leave the document from the orders; return the old orders if any changed."""
    def named(ids: list[str] | None) -> bool:
        return ids is not None and any(i in gone for i in ids)

    if not any(named(o.optimize) or named(o.losses) for o in project.orders):
        return None
    old = project.orders
    project.orders = copy.deepcopy(old)
    for o in project.orders:
        if o.optimize is not None:
            o.optimize = [i for i in o.optimize if i not in gone]
        if o.losses is not None:
            o.losses = [i for i in o.losses if i not in gone]
    return old


class AddBlock(Edit):
    """Add ``block`` to the root graph or into SuperBlock ``parent``."""

    def __init__(self, block: Block, parent: str | None = None) -> None:
        self.block = block
        self.parent = parent
        self.label = f"add {block.name}"

    def apply(self, project: Project) -> None:
        taken = {b.id for b in project.graph.walk()}
        for inner in self.block.walk():
            if inner.id in taken:
                raise GraphError(f"a block with id {inner.id!r} already exists")
            taken.add(inner.id)
            _check_new_block(inner)
        g = project.graph_of(self.parent)
        _name_taken(self.block.name, g.blocks.values())
        if _depth_in(project, g) + _height(self.block) > MAX_DEPTH:
            raise GraphError(f"SuperBlocks cannot be nested more than {MAX_DEPTH} deep")
        g.insert_block(self.block)

    def revert(self, project: Project) -> None:
        project.graph_of(self.parent).pop_block(self.block.id)

    def touched(self) -> set[str]:
        return {self.block.id}


class RemoveBlock(Edit):
    """Remove a block and every link that touches it."""

    def __init__(self, block_id: str) -> None:
        self.block_id = block_id
        self.label = f"remove {block_id}"
        self._snap: tuple[dict[str, Block], list[Link]] | None = None
        self._parent: str | None = None
        self._orders: list[Order] | None = None

    def apply(self, project: Project) -> None:
        g, b = project.locate(self.block_id)
        self.label = f"remove {b.name}"
        self._parent = g.owner.id if g.owner is not None else None
        self._snap = _graph_snapshot(g)
        g.links = [lk for lk in g.links if self.block_id not in (lk.src.block, lk.dst.block)]
        g.pop_block(self.block_id)
        # An order naming a block that is gone would make the saved file unreadable.
        self._orders = _forget_ids(project, {inner.id for inner in b.walk()})

    def revert(self, project: Project) -> None:
        assert self._snap is not None
        _restore(project.graph_of(self._parent), self._snap)
        if self._orders is not None:
            project.orders = self._orders

    def touched(self) -> set[str]:
        return {self.block_id}


class Connect(Edit):
    """Link ``src`` (an output, or a boundary input) to ``dst`` in graph ``parent``."""

    def __init__(self, src: Endpoint, dst: Endpoint, parent: str | None = None) -> None:
        self.link = Link(src, dst)
        self.parent = parent
        self.label = f"connect {self.link}"

    def apply(self, project: Project) -> None:
        project.graph_of(self.parent).insert_link(self.link)

    def revert(self, project: Project) -> None:
        project.graph_of(self.parent).remove_link(self.link)

    def touched(self) -> set[str]:
        return {self.link.src.block, self.link.dst.block}


class Disconnect(Edit):
    """Remove one link."""

    def __init__(self, src: Endpoint, dst: Endpoint, parent: str | None = None) -> None:
        self.link = Link(src, dst)
        self.parent = parent
        self.label = f"disconnect {self.link}"
        self._index = -1

    def apply(self, project: Project) -> None:
        self._index = project.graph_of(self.parent).remove_link(self.link)

    def revert(self, project: Project) -> None:
        project.graph_of(self.parent).put_back_link(self.link, self._index)

    def touched(self) -> set[str]:
        return {self.link.src.block, self.link.dst.block}


_MISSING = object()


class _PortChange:
    """Shared by edits that replace a block's ports: drops links to ports that disappear."""

    def __init__(self) -> None:
        self._old_ports: tuple[list[Port], list[Port]] | None = None
        self._snaps: list[tuple[Graph, tuple[dict[str, Block], list[Link]]]] = []

    def change_ports(
        self, project: Project, block: Block, inputs: list[Port], outputs: list[Port]
    ) -> None:
        _check_ports(repr(block.name), inputs, outputs)
        self._old_ports = (list(block.inputs), list(block.outputs))
        outer, _ = project.locate(block.id)
        graphs = [outer] + ([block.graph] if block.graph is not None else [])
        self._snaps = [(g, _graph_snapshot(g)) for g in graphs]
        block.inputs, block.outputs = list(inputs), list(outputs)

        def keeps(g: Graph, lk: Link) -> bool:
            # A link survives if both its ports still exist (outside, the block's inputs are
            # sinks; inside a SuperBlock they are sources) and their kinds still match.
            if block.id not in (lk.src.block, lk.dst.block):
                return True
            src, dst = g._source_port(lk.src), g._sink_port(lk.dst)
            return src is not None and dst is not None and kinds_match(src.kind, dst.kind)

        for g in graphs:
            g.links = [lk for lk in g.links if keeps(g, lk)]

    def restore_ports(self, block: Block) -> None:
        if self._old_ports is not None:
            block.inputs, block.outputs = list(self._old_ports[0]), list(self._old_ports[1])
        for g, snap in self._snaps:
            g.links = list(snap[1])


class SetParam(Edit):
    """Set one parameter; ``ports`` (inputs, outputs) also replaces the block's ports when a
    parameter decides them (e.g. the number of inputs of Concat)."""

    def __init__(
        self,
        block_id: str,
        name: str,
        value: Any,
        ports: tuple[Sequence[Port], Sequence[Port]] | None = None,
    ) -> None:
        self.block_id = block_id
        self.name = name
        self.value = copy.deepcopy(value)
        self.ports = (list(ports[0]), list(ports[1])) if ports is not None else None
        self.label = f"set {name}"
        self._old: Any = _MISSING
        self._ports = _PortChange()

    def apply(self, project: Project) -> None:
        b = project.block(self.block_id)
        if not isinstance(self.name, str):
            raise GraphError(f"parameter names are strings, got {self.name!r}")
        _check_json(f"{b.name}.{self.name} = {self.value!r:.40}", self.value)
        old = b.params.get(self.name, _MISSING)
        self._old = old if old is _MISSING else copy.deepcopy(old)  # a copied sentinel is not it
        self.label = f"set {b.name}.{self.name}"
        if self.ports is not None:
            self._ports = _PortChange()
            self._ports.change_ports(project, b, *self.ports)
        b.params[self.name] = copy.deepcopy(self.value)

    def revert(self, project: Project) -> None:
        b = project.block(self.block_id)
        if self._old is _MISSING:
            b.params.pop(self.name, None)
        else:
            b.params[self.name] = copy.deepcopy(self._old)
        if self.ports is not None:
            self._ports.restore_ports(b)

    def touched(self) -> set[str]:
        return {self.block_id}


class SetPorts(Edit):
    """Replace a block's ports (links to ports that disappear are removed)."""

    def __init__(self, block_id: str, inputs: Sequence[Port], outputs: Sequence[Port]) -> None:
        self.block_id = block_id
        self.inputs, self.outputs = list(inputs), list(outputs)
        self.label = "set ports"
        self._ports = _PortChange()

    def apply(self, project: Project) -> None:
        self._ports = _PortChange()
        self._ports.change_ports(project, project.block(self.block_id), self.inputs, self.outputs)

    def revert(self, project: Project) -> None:
        self._ports.restore_ports(project.block(self.block_id))

    def touched(self) -> set[str]:
        return {self.block_id}


class Move(Edit):
    """Move a block on its canvas."""

    def __init__(self, block_id: str, pos: tuple[float, float]) -> None:
        self.block_id = block_id
        self.pos = (float(pos[0]), float(pos[1]))
        self.label = "move"
        self._old: tuple[float, float] = (0.0, 0.0)

    def apply(self, project: Project) -> None:
        b = project.block(self.block_id)
        _check_pos(repr(b.name), self.pos)
        self._old = b.pos
        b.pos = self.pos

    def revert(self, project: Project) -> None:
        project.block(self.block_id).pos = self._old

    def touched(self) -> set[str]:
        return {self.block_id}


class Rename(Edit):
    """Rename a block; names are unique among siblings so paths stay unambiguous."""

    def __init__(self, block_id: str, name: str) -> None:
        self.block_id = block_id
        self.name = name.strip()
        self.label = f"rename to {self.name}"
        self._old = ""

    def apply(self, project: Project) -> None:
        _check_name(self.name)
        g, b = project.locate(self.block_id)
        _name_taken(self.name, (o for o in g.blocks.values() if o.id != b.id))
        self._old = b.name
        g.rename_block(b.id, self.name)

    def revert(self, project: Project) -> None:
        g, _ = project.locate(self.block_id)
        g.rename_block(self.block_id, self._old)

    def touched(self) -> set[str]:
        return {self.block_id}


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        taken.add(name)
        return name
    n = 2
    while f"{name}{n}" in taken:
        n += 1
    taken.add(f"{name}{n}")
    return f"{name}{n}"


class Merge(Edit):
    """Merge sibling blocks into a new SuperBlock with boundary ports.

    Each distinct outside source feeding the selection becomes one boundary input; each
    distinct inside source read from outside becomes one boundary output.
    """

    def __init__(self, block_ids: Iterable[str], sb_id: str, name: str = "SuperBlock") -> None:
        self.block_ids = list(dict.fromkeys(block_ids))
        self.sb_id = sb_id
        self.name = name.strip()
        self.label = f"merge into {name}"
        self._parent: str | None = None
        self._snap: tuple[dict[str, Block], list[Link]] | None = None

    def apply(self, project: Project) -> None:
        if not self.block_ids:
            raise GraphError("select at least one block to merge")
        g, _ = project.locate(self.block_ids[0])
        for bid in self.block_ids:
            if bid not in g.blocks:
                raise GraphError("blocks to merge must be siblings in the same graph")
        if any(b.id == self.sb_id for b in project.graph.walk()):
            raise GraphError(f"a block with id {self.sb_id!r} already exists")
        if not BLOCK_ID.fullmatch(self.sb_id):
            raise GraphError(f"block id {self.sb_id!r} must be 1-64 letters, digits, '_' or '-'")
        _check_name(self.name)
        _name_taken(self.name, (b for bid, b in g.blocks.items() if bid not in self.block_ids))
        sel = set(self.block_ids)
        between = _between(g, sel)
        if between:
            names = ", ".join(repr(g.blocks[b].name) for b in between)
            raise GraphError(
                f"cannot merge: {names} both reads from and feeds the selection (the SuperBlock "
                "would feed itself); select it too"
            )
        height = max(_height(g.blocks[bid]) for bid in self.block_ids)
        if _depth_in(project, g) + 1 + height > MAX_DEPTH:
            raise GraphError(f"SuperBlocks cannot be nested more than {MAX_DEPTH} deep")
        self._parent = g.owner.id if g.owner is not None else None
        self._snap = _graph_snapshot(g)
        inner, incoming, outgoing, outer = [], [], [], []
        for lk in g.links:
            s_in, d_in = lk.src.block in sel, lk.dst.block in sel
            if s_in and d_in:
                inner.append(lk)
            elif d_in:
                incoming.append(lk)
            elif s_in:
                outgoing.append(lk)
            else:
                outer.append(lk)

        sub = Graph()
        sub.blocks = {bid: g.blocks[bid] for bid in self.block_ids}
        sb = Block(self.sb_id, SUPERBLOCK_TYPE, self.name, graph=sub)
        sub.owner = sb
        in_names: set[str] = set()
        out_names: set[str] = set()
        in_port_of: dict[Endpoint, str] = {}
        new_outer: list[Link] = []
        # A boundary input takes the kind of the inputs it feeds when they agree, else the
        # kind of its outside source (which matches all of them; "any" is not transitive).
        dst_kinds: dict[Endpoint, set[str]] = {}
        for lk in incoming:
            port = g.blocks[lk.dst.block].input(lk.dst.port)
            dst_kinds.setdefault(lk.src, set()).add(port.kind if port else "tensor")
        for lk in incoming:
            if lk.src not in in_port_of:
                kinds = dst_kinds[lk.src]
                src_port = g._source_port(lk.src)
                kind = next(iter(kinds)) if len(kinds) == 1 or src_port is None else src_port.kind
                pname = _unique(lk.dst.port, in_names)
                in_port_of[lk.src] = pname
                sb.inputs.append(Port(pname, kind))
                new_outer.append(Link(lk.src, Endpoint(self.sb_id, pname)))
            inner.append(Link(Endpoint(self.sb_id, in_port_of[lk.src]), lk.dst))
        out_port_of: dict[Endpoint, str] = {}
        for lk in outgoing:
            if lk.src not in out_port_of:
                kind = g.blocks[lk.src.block].output(lk.src.port)
                pname = _unique(lk.src.port, out_names)
                out_port_of[lk.src] = pname
                sb.outputs.append(Port(pname, kind.kind if kind else "tensor"))
                inner.append(Link(lk.src, Endpoint(self.sb_id, pname)))
            new_outer.append(Link(Endpoint(self.sb_id, out_port_of[lk.src]), lk.dst))
        # What the selection leaves open stays reachable: a required input linked to nothing
        # (blocks merged before they are wired) becomes a boundary input, an output read by
        # nothing a boundary output; otherwise the SuperBlock could never be wired.
        fed = {lk.dst for lk in inner}
        read = {lk.src for lk in inner}
        for bid in self.block_ids:
            b = g.blocks[bid]
            for port in b.inputs:
                if not port.optional and Endpoint(bid, port.name) not in fed:
                    pname = _unique(port.name, in_names)
                    sb.inputs.append(Port(pname, port.kind))
                    inner.append(Link(Endpoint(self.sb_id, pname), Endpoint(bid, port.name)))
        for bid in self.block_ids:
            for port in g.blocks[bid].outputs:
                if Endpoint(bid, port.name) not in read:
                    pname = _unique(port.name, out_names)
                    sb.outputs.append(Port(pname, port.kind))
                    inner.append(Link(Endpoint(bid, port.name), Endpoint(self.sb_id, pname)))
        sub.links = inner
        xs = [g.blocks[b].pos[0] for b in self.block_ids]
        ys = [g.blocks[b].pos[1] for b in self.block_ids]
        sb.pos = (sum(xs) / len(xs), sum(ys) / len(ys))

        blocks: dict[str, Block] = {}
        for bid, b in g.blocks.items():
            if bid == self.block_ids[0]:
                blocks[self.sb_id] = sb
            if bid not in sel:
                blocks[bid] = b
        g.blocks = blocks
        g.links = outer + new_outer

    def revert(self, project: Project) -> None:
        assert self._snap is not None
        _restore(project.graph_of(self._parent), self._snap)

    def touched(self) -> set[str]:
        return {self.sb_id, *self.block_ids}


def _between(g: Graph, sel: set[str]) -> list[str]:
    """Blocks outside ``sel`` on a path from ``sel`` back into ``sel`` (a merge would loop)."""
    boundary = g.owner.id if g.owner is not None else None
    succ: dict[str, list[str]] = {}
    pred: dict[str, list[str]] = {}
    for lk in g.links:
        if boundary not in (lk.src.block, lk.dst.block):
            succ.setdefault(lk.src.block, []).append(lk.dst.block)
            pred.setdefault(lk.dst.block, []).append(lk.src.block)

    def reach(edges: dict[str, list[str]]) -> set[str]:
        seen, stack = set(sel), list(sel)
        while stack:
            for nxt in edges.get(stack.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen - sel

    both = reach(succ) & reach(pred)
    return [bid for bid in g.blocks if bid in both]


class Unmerge(Edit):
    """Expand a SuperBlock: its children move up one level and links are re-joined."""

    def __init__(self, sb_id: str) -> None:
        self.sb_id = sb_id
        self.label = f"expand {sb_id}"
        self._parent: str | None = None
        self._snap: tuple[dict[str, Block], list[Link]] | None = None
        self._old_pos: dict[str, tuple[float, float]] = {}
        self._children: list[str] = []
        self._orders: list[Order] | None = None

    def apply(self, project: Project) -> None:
        g, sb = project.locate(self.sb_id)
        if sb.graph is None:
            raise GraphError(f"{sb.name!r} is not a SuperBlock")
        self.label = f"expand {sb.name}"
        sub = sb.graph
        taken = {name_key(b.name) for bid, b in g.blocks.items() if bid != self.sb_id}
        clash = [b.name for b in sub.blocks.values() if name_key(b.name) in taken]
        if clash:
            raise GraphError(
                f"cannot expand {sb.name!r}: names {', '.join(map(repr, clash))} already exist outside it"
            )
        self._parent = g.owner.id if g.owner is not None else None
        self._snap = _graph_snapshot(g)
        self._children = list(sub.blocks)
        self._old_pos = {bid: b.pos for bid, b in sub.blocks.items()}

        # Where each boundary input comes from outside, and where each boundary output goes.
        feeds = {lk.dst.port: lk.src for lk in g.links if lk.dst.block == self.sb_id}
        reads: dict[str, list[Endpoint]] = {}
        for lk in g.links:
            if lk.src.block == self.sb_id:
                reads.setdefault(lk.src.port, []).append(lk.dst)
        inner_src = {lk.dst.port: lk.src for lk in sub.links if lk.dst.block == self.sb_id}

        def resolve(src: Endpoint) -> Endpoint | None:
            return feeds.get(src.port) if src.block == self.sb_id else src

        links = [lk for lk in g.links if self.sb_id not in (lk.src.block, lk.dst.block)]
        for lk in sub.links:
            if lk.dst.block == self.sb_id:
                continue
            src = resolve(lk.src)
            if src is not None:
                links.append(Link(src, lk.dst))
        for port, dsts in reads.items():
            src = inner_src.get(port)
            src = resolve(src) if src is not None else None
            if src is not None:
                links.extend(Link(src, d) for d in dsts)

        # "any" is not transitive: tensor -> boundary(any) -> image cannot become one link.
        def kind(ep: Endpoint, source: bool) -> str:
            if g.owner is not None and ep.block == g.owner.id:
                port = g.owner.input(ep.port) if source else g.owner.output(ep.port)
            else:
                b = sub.blocks.get(ep.block) or g.blocks[ep.block]
                port = b.output(ep.port) if source else b.input(ep.port)
            return port.kind if port is not None else "tensor"

        for lk in links:
            if not kinds_match(kind(lk.src, True), kind(lk.dst, False)):
                raise GraphError(
                    f"cannot expand {sb.name!r}: {lk} would join a {kind(lk.src, True)} output "
                    f"to a {kind(lk.dst, False)} input"
                )

        xs = [p[0] for p in self._old_pos.values()] or [0.0]
        ys = [p[1] for p in self._old_pos.values()] or [0.0]
        dx, dy = sb.pos[0] - min(xs), sb.pos[1] - min(ys)
        blocks: dict[str, Block] = {}
        for bid, b in g.blocks.items():
            if bid == self.sb_id:
                for cid, child in sub.blocks.items():
                    child.pos = (child.pos[0] + dx, child.pos[1] + dy)
                    blocks[cid] = child
            else:
                blocks[bid] = b
        g.blocks = blocks
        g.links = links
        self._orders = _forget_ids(project, {self.sb_id})

    def revert(self, project: Project) -> None:
        assert self._snap is not None
        _restore(project.graph_of(self._parent), self._snap)
        if self._orders is not None:
            project.orders = self._orders
        sb = project.block(self.sb_id)
        assert sb.graph is not None
        for bid, pos in self._old_pos.items():
            sb.graph.blocks[bid].pos = pos

    def touched(self) -> set[str]:
        return {self.sb_id, *self._children}


class SetOrders(Edit):
    """Replace the project's orders (optimizer settings, optimized blocks, losses)."""

    def __init__(self, orders: Sequence[Order]) -> None:
        self.orders = copy.deepcopy(list(orders))
        self.label = "set orders"
        self._old: list[Order] = []

    def apply(self, project: Project) -> None:
        indices = [o.index for o in self.orders]
        if not all(_is_int(i) for i in indices):
            raise GraphError(f"order indices must be integers, got {indices!r}")
        if not indices or len(set(indices)) != len(indices) or min(indices) < 1:
            raise GraphError("orders need distinct indices >= 1")
        ids = {b.id for b in project.graph.walk()}
        for o in self.orders:
            _check_order(o, ids)
        self._old = project.orders
        project.orders = copy.deepcopy(self.orders)

    def revert(self, project: Project) -> None:
        project.orders = self._old


class SetTies(Edit):
    """Replace the project's shared weights (``Project.ties``): one undoable edit, as Paste
    shared or Stop sharing in the editor."""

    def __init__(self, ties: Sequence[Tie], label: str = "share weights") -> None:
        self.ties = list(dict.fromkeys(ties))
        self.label = label
        self._old: list[Tie] = []

    def apply(self, project: Project) -> None:
        ids = {b.id for b in project.graph.walk()}
        for t in self.ties:
            if not isinstance(t, Tie) or t.block not in ids or t.source not in ids:
                raise GraphError(f"a shared weight names a block that does not exist: {t!r}")
            if (t.block, t.param) == (t.source, t.source_param):
                raise GraphError(f"{t.param} of {t.block} cannot share weights with itself")
        taken = [(t.block, t.param) for t in self.ties]
        if len(set(taken)) != len(taken):
            raise GraphError("a parameter can share the weights of one other parameter only")
        self._old = project.ties
        project.ties = list(self.ties)

    def revert(self, project: Project) -> None:
        project.ties = self._old


def _check_order(o: Order, ids: set[str]) -> None:
    what = f"order {o.index}"
    if not isinstance(o.name, str):
        raise GraphError(f"{what}: the name must be a string, got {o.name!r}")
    problem = name_problem(o.name, "the name") if o.name else None
    if problem is not None:
        raise GraphError(f"{what}: {problem}")
    s = o.optimizer
    if s.type not in OPTIMIZERS:
        raise GraphError(f"{what}: unknown optimizer {s.type!r}; choose one of {', '.join(OPTIMIZERS)}")
    if s.scheduler not in SCHEDULERS:
        raise GraphError(f"{what}: unknown scheduler {s.scheduler!r}; choose one of {', '.join(SCHEDULERS)}")
    for key in ("lr", "weight_decay", "momentum", "gamma"):
        if not _is_number(getattr(s, key)):
            raise GraphError(f"{what}: {key} must be a finite number, got {getattr(s, key)!r}")
        setattr(s, key, float(getattr(s, key)))  # 1 and 1.0 must save alike
    if s.lr <= 0:
        raise GraphError(f"{what}: learning rate must be > 0, got {s.lr}")
    if s.weight_decay < 0:
        raise GraphError(f"{what}: weight decay must be >= 0, got {s.weight_decay}")
    if not _is_int(s.step_size) or s.step_size < 1:
        raise GraphError(f"{what}: step size must be an integer >= 1, got {s.step_size!r}")
    for key in ("optimize", "losses"):
        listed = getattr(o, key)
        if listed is None:
            continue
        if not isinstance(listed, list) or not all(isinstance(i, str) for i in listed):
            raise GraphError(f"{what}: {key} must be a list of block ids or None, got {listed!r}")
        unknown = [i for i in listed if i not in ids]
        if unknown:
            raise GraphError(f"{what}: {key} names no block with id {unknown[0]!r}")


class SetTraining(Edit):
    """Set one training setting (epochs, seed, device, weights)."""

    def __init__(self, name: str, value: Any) -> None:
        self.name = name
        self.value = value
        self.label = f"set {name}"
        self._old: Any = None

    def apply(self, project: Project) -> None:
        default = TrainingSettings().__dict__.get(self.name, _MISSING)
        if default is _MISSING:
            raise GraphError(f"no training setting {self.name!r}")
        if type(self.value) is not type(default):
            raise GraphError(
                f"training setting {self.name!r} must be a {type(default).__name__}, got {self.value!r}"
            )
        if self.name == "epochs" and self.value < 0:
            raise GraphError(f"epochs must be >= 0, got {self.value}")
        self._old = getattr(project.training, self.name)
        setattr(project.training, self.name, self.value)

    def revert(self, project: Project) -> None:
        setattr(project.training, self.name, self._old)


class Compound(Edit):
    """Several edits as one undo step; if one fails, the ones before it are reverted."""

    def __init__(self, edits: Sequence[Edit], label: str = "edits") -> None:
        self.edits = list(edits)
        self.label = label

    def apply(self, project: Project) -> None:
        done: list[Edit] = []
        try:
            for e in self.edits:
                e.apply(project)
                done.append(e)
        except Exception:
            for e in reversed(done):
                e.revert(project)
            raise

    def revert(self, project: Project) -> None:
        for e in reversed(self.edits):
            e.revert(project)

    def touched(self) -> set[str]:
        return set().union(*(e.touched() for e in self.edits)) if self.edits else set()


Listener = Callable[[str, Edit], None]


class History:
    """Runs edits on a project and keeps the undo and redo stacks."""

    def __init__(self, project: Project, limit: int = 1000) -> None:
        self.project = project
        self.limit = limit
        self._undo: list[Edit] = []
        self._redo: list[Edit] = []
        self._listeners: list[Listener] = []
        self._saved_at: Edit | None = None
        self._saved_depth = 0

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(action, edit)`` after every do/undo/redo."""
        self._listeners.append(listener)

    def _emit(self, action: str, edit: Edit) -> None:
        for fn in list(self._listeners):
            fn(action, edit)

    def do(self, edit: Edit) -> Edit:
        """Apply ``edit``; a :class:`GraphError` leaves the project and stacks unchanged."""
        edit.apply(self.project)
        self._undo.append(edit)
        if len(self._undo) > self.limit:
            dropped = self._undo.pop(0)
            # The saved state is one step nearer the bottom now (or out of reach).
            self._saved_depth = -1 if dropped is self._saved_at else self._saved_depth - 1
        self._redo.clear()
        self._emit("do", edit)
        return edit

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> Edit | None:
        if not self._undo:
            return None
        edit = self._undo.pop()
        edit.revert(self.project)
        self._redo.append(edit)
        self._emit("undo", edit)
        return edit

    def redo(self) -> Edit | None:
        if not self._redo:
            return None
        edit = self._redo.pop()
        edit.apply(self.project)
        self._undo.append(edit)
        self._emit("redo", edit)
        return edit

    def mark_saved(self) -> None:
        self._saved_at = self._undo[-1] if self._undo else None
        self._saved_depth = len(self._undo)

    @property
    def dirty(self) -> bool:
        """Whether the project differs from the last save (by edit identity, not content)."""
        top = self._undo[-1] if self._undo else None
        return not (top is self._saved_at and len(self._undo) == self._saved_depth)
