"""The document model: blocks, ports, links and (nested) graphs.

A :class:`Graph` owns its blocks and links and keeps their invariants: every link joins an
existing output port to an existing input port of the same kind, an input port has at most one
driver, there are no duplicate links, no self-links and no cycles. A SuperBlock is a
:class:`Block` whose ``graph`` is a nested :class:`Graph`; inside it, the SuperBlock's own id
stands for its boundary (its input ports are sources, its output ports are sinks), so no
pseudo-blocks are needed and ids stay unique across the whole document.

This module is stdlib only (DESIGN.md §2).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

SUPERBLOCK_TYPE = "core.SuperBlock"
ANY_KIND = "any"
MAX_DEPTH = 64  # SuperBlocks nested deeper than this are refused (and would be unusable)
# What a project file accepts (use with ``fullmatch``); edits refuse anything else.
BLOCK_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")
PORT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class GraphError(ValueError):
    """An edit or a document that would break a graph invariant."""


@dataclass(frozen=True)
class Port:
    """A terminal of a block. ``optional`` inputs may stay unconnected."""

    name: str
    kind: str = "tensor"
    optional: bool = False

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.optional:
            d["optional"] = True
        return d


def kinds_match(out_kind: str, in_kind: str) -> bool:
    """Whether an output of ``out_kind`` may drive an input of ``in_kind``."""
    return out_kind == in_kind or ANY_KIND in (out_kind, in_kind)


@dataclass(frozen=True)
class Endpoint:
    """One end of a link: a block id and a port name."""

    block: str
    port: str

    def __str__(self) -> str:
        return f"{self.block}.{self.port}"


@dataclass(frozen=True)
class Link:
    """A directed connection from an output port to an input port."""

    src: Endpoint
    dst: Endpoint

    def __str__(self) -> str:
        return f"{self.src} -> {self.dst}"


@dataclass
class Block:
    """A node of the graph: a type from the catalog, parameters and ports.

    ``graph`` is set only for SuperBlocks.
    """

    id: str
    type: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    inputs: list[Port] = field(default_factory=list)
    outputs: list[Port] = field(default_factory=list)
    pos: tuple[float, float] = (0.0, 0.0)
    version: int = 1
    graph: Graph | None = None

    @property
    def is_super(self) -> bool:
        return self.graph is not None

    def input(self, name: str) -> Port | None:
        return next((p for p in self.inputs if p.name == name), None)

    def output(self, name: str) -> Port | None:
        return next((p for p in self.outputs if p.name == name), None)

    def clone(self) -> Block:
        """A deep copy (params, ports and nested graph) with the same ids."""
        return copy.deepcopy(self)

    def walk(self) -> Iterator[Block]:
        """This block and, for a SuperBlock, every block nested in it."""
        yield self
        if self.graph is not None:
            yield from self.graph.walk()


class Graph:
    """Blocks and links at one level of the hierarchy."""

    def __init__(self) -> None:
        self.blocks: dict[str, Block] = {}
        self.links: list[Link] = []
        # The SuperBlock that owns this graph (its id is the boundary inside), or None at root.
        self.owner: Block | None = None

    # -- queries ---------------------------------------------------------------------------
    def __contains__(self, block_id: str) -> bool:
        return block_id in self.blocks

    def block(self, block_id: str) -> Block:
        try:
            return self.blocks[block_id]
        except KeyError:
            raise GraphError(f"no block with id {block_id!r} in this graph") from None

    def walk(self) -> Iterator[Block]:
        """Every block at this level and below, depth first, in insertion order."""
        for b in self.blocks.values():
            yield from b.walk()

    def links_of(self, block_id: str) -> list[Link]:
        return [lk for lk in self.links if lk.src.block == block_id or lk.dst.block == block_id]

    def driver(self, dst: Endpoint) -> Link | None:
        """The link feeding input ``dst``, if any."""
        return next((lk for lk in self.links if lk.dst == dst), None)

    def _source_port(self, ep: Endpoint) -> Port | None:
        if self.owner is not None and ep.block == self.owner.id:
            return self.owner.input(ep.port)
        b = self.blocks.get(ep.block)
        return b.output(ep.port) if b else None

    def _sink_port(self, ep: Endpoint) -> Port | None:
        if self.owner is not None and ep.block == self.owner.id:
            return self.owner.output(ep.port)
        b = self.blocks.get(ep.block)
        return b.input(ep.port) if b else None

    def _describe(self, ep: Endpoint) -> str:
        if self.owner is not None and ep.block == self.owner.id:
            return f"boundary port {ep.port!r} of {self.owner.name!r}"
        b = self.blocks.get(ep.block)
        return f"{b.name!r}.{ep.port}" if b else str(ep)

    # -- invariants ------------------------------------------------------------------------
    def check_link(self, link: Link) -> None:
        """Raise :class:`GraphError` with a reason if ``link`` may not be added."""
        src_port = self._source_port(link.src)
        if src_port is None:
            raise GraphError(f"{self._describe(link.src)} is not an output port")
        dst_port = self._sink_port(link.dst)
        if dst_port is None:
            raise GraphError(f"{self._describe(link.dst)} is not an input port")
        if link.src.block == link.dst.block and (self.owner is None or link.src.block != self.owner.id):
            raise GraphError(f"a block cannot be linked to itself ({self._describe(link.src)})")
        if link in self.links:
            raise GraphError(f"{self._describe(link.src)} is already linked to {self._describe(link.dst)}")
        existing = self.driver(link.dst)
        if existing is not None:
            raise GraphError(
                f"{self._describe(link.dst)} already has an input, from {self._describe(existing.src)}"
            )
        if not kinds_match(src_port.kind, dst_port.kind):
            raise GraphError(
                f"cannot link {self._describe(link.src)} ({src_port.kind}) "
                f"to {self._describe(link.dst)} ({dst_port.kind}): port kinds differ"
            )
        if self._reaches(link.dst.block, link.src.block):
            raise GraphError(
                f"linking {self._describe(link.src)} to {self._describe(link.dst)} would make a cycle"
            )

    def _reaches(self, start: str, goal: str) -> bool:
        """Whether ``goal`` is downstream of ``start`` (boundary ids never propagate)."""
        boundary = self.owner.id if self.owner is not None else None
        if start == boundary or goal == boundary:
            return False
        succ: dict[str, list[str]] = {}
        for lk in self.links:
            succ.setdefault(lk.src.block, []).append(lk.dst.block)
        seen, stack = set(), [start]
        while stack:
            node = stack.pop()
            if node == goal:
                return True
            if node in seen or node == boundary:
                continue
            seen.add(node)
            stack.extend(succ.get(node, ()))
        return False

    def topological_order(self) -> list[str]:
        """Block ids so that every link goes forward (stable: ties keep insertion order)."""
        boundary = self.owner.id if self.owner is not None else None
        indeg = {bid: 0 for bid in self.blocks}
        succ: dict[str, list[str]] = {bid: [] for bid in self.blocks}
        for lk in self.links:
            if lk.src.block == boundary or lk.dst.block == boundary:
                continue
            succ[lk.src.block].append(lk.dst.block)
            indeg[lk.dst.block] += 1
        ready = [bid for bid, d in indeg.items() if d == 0]
        order: list[str] = []
        while ready:
            bid = ready.pop(0)
            order.append(bid)
            for nxt in succ[bid]:
                indeg[nxt] -= 1
                if indeg[nxt] == 0:
                    ready.append(nxt)
        if len(order) != len(self.blocks):
            raise GraphError("the graph has a cycle")
        return order

    # -- raw mutation (edits call these; they keep the invariants) -------------------------
    def insert_block(self, block: Block) -> None:
        if block.id in self.blocks or (self.owner is not None and block.id == self.owner.id):
            raise GraphError(f"a block with id {block.id!r} already exists")
        if block.graph is not None:
            block.graph.owner = block
        self.blocks[block.id] = block

    def pop_block(self, block_id: str) -> Block:
        if self.links_of(block_id):
            raise GraphError(f"block {block_id!r} still has links; remove them first")
        return self.blocks.pop(block_id)

    def insert_link(self, link: Link, index: int | None = None) -> None:
        self.check_link(link)
        if index is None:
            self.links.append(link)
        else:
            self.links.insert(index, link)

    def remove_link(self, link: Link) -> int:
        """Remove ``link`` and return the index it had (for exact undo)."""
        try:
            i = self.links.index(link)
        except ValueError:
            raise GraphError(f"no link {link}") from None
        del self.links[i]
        return i

    def extend(self, blocks: Iterable[Block], links: Iterable[Link]) -> None:
        for b in blocks:
            self.insert_block(b)
        for lk in links:
            self.insert_link(lk)
