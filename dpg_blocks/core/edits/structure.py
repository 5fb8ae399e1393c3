"""Structural edits: merge sibling blocks into a SuperBlock, and expand one back.

These two rewire a whole graph (boundary ports made or dissolved, links re-joined through them),
so they undo by snapshot (:func:`~dpg_blocks.core.edits.base.graph_snapshot`) rather than step by
step, and they share the rules of nesting depth and port kinds. Import them from
:mod:`dpg_blocks.core.edits`.
"""

from __future__ import annotations

from collections.abc import Iterable

from dpg_blocks.core.edits.base import Edit, forget_ids, graph_snapshot, restore_graph
from dpg_blocks.core.edits.checks import check_name, name_taken, nesting_depth, nesting_height
from dpg_blocks.core.graph import (
    BLOCK_ID,
    MAX_DEPTH,
    SUPERBLOCK_TYPE,
    Block,
    Endpoint,
    Graph,
    GraphError,
    Link,
    Port,
    kinds_match,
)
from dpg_blocks.core.names import name_key
from dpg_blocks.core.project import Order, Project

__all__ = ["Merge", "Unmerge"]


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
        check_name(self.name)
        name_taken(self.name, (b for bid, b in g.blocks.items() if bid not in self.block_ids))
        sel = set(self.block_ids)
        between = _between(g, sel)
        if between:
            names = ", ".join(repr(g.blocks[b].name) for b in between)
            raise GraphError(
                f"cannot merge: {names} both reads from and feeds the selection (the SuperBlock "
                "would feed itself); select it too"
            )
        height = max(nesting_height(g.blocks[bid]) for bid in self.block_ids)
        if nesting_depth(project, g) + 1 + height > MAX_DEPTH:
            raise GraphError(f"SuperBlocks cannot be nested more than {MAX_DEPTH} deep")
        self._parent = g.owner.id if g.owner is not None else None
        self._snap = graph_snapshot(g)
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
        restore_graph(project.graph_of(self._parent), self._snap)

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
        self._snap = graph_snapshot(g)
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
        self._orders = forget_ids(project, {self.sb_id})

    def revert(self, project: Project) -> None:
        assert self._snap is not None
        restore_graph(project.graph_of(self._parent), self._snap)
        if self._orders is not None:
            project.orders = self._orders
        sb = project.block(self.sb_id)
        assert sb.graph is not None
        for bid, pos in self._old_pos.items():
            sb.graph.blocks[bid].pos = pos

    def touched(self) -> set[str]:
        return {self.sb_id, *self._children}
