"""The document model: blocks, ports, links and (nested) graphs.

A :class:`Graph` owns its blocks and links and keeps their invariants: every link joins an
existing output port to an existing input port of the same kind, an input port has at most one
driver, there are no duplicate links, no self-links and no cycles. A SuperBlock is a
:class:`Block` whose ``graph`` is a nested :class:`Graph`; inside it, the SuperBlock's own id
stands for its boundary (its input ports are sources, its output ports are sinks), so no
pseudo-blocks are needed and ids stay unique across the whole document.

The values it holds (blocks, ports, links) are ``elements.py``, re-exported here. This module is
stdlib only (DESIGN.md §2).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from dpg_blocks.core.elements import (  # re-exported: the document model is imported from here
    ANY_KIND,
    BLOCK_ID,
    MAX_DEPTH,
    PORT_NAME,
    SUPERBLOCK_TYPE,
    Block,
    Endpoint,
    GraphError,
    Link,
    LinkRefused,
    Port,
    kinds_match,
)
from dpg_blocks.core.names import name_key

__all__ = [
    "ANY_KIND", "BLOCK_ID", "MAX_DEPTH", "PORT_NAME", "SUPERBLOCK_TYPE", "Block", "Endpoint", "Graph", "GraphError",
    "Link", "LinkRefused", "Port", "kinds_match",
]


class Graph:
    """Blocks and links at one level of the hierarchy.

    Besides ``blocks`` and ``links`` the graph keeps indexes so that every invariant is checked
    in constant time (the cycle check in time proportional to what is downstream): the link
    feeding each input (``driver``), how many links run from each block to each other block
    (the successors) and how many links touch each block, and which block holds each name
    (by :func:`~dpg_blocks.core.names.name_key`). Assigning ``blocks`` or ``links`` rebuilds
    them; change a block's name through :meth:`rename_block`. ``links`` is a plain list for
    reading: mutate it through the methods below, never in place.
    """

    def __init__(self) -> None:
        self._blocks: dict[str, Block] = {}
        self._links: list[Link] = []
        # The SuperBlock that owns this graph (its id is the boundary inside), or None at root.
        self.owner: Block | None = None
        self._driver: dict[Endpoint, Link] = {}
        self._succ: dict[str, dict[str, int]] = {}
        self._degree: dict[str, int] = {}
        self._by_name: dict[str, str] = {}

    # -- the containers and their indexes --------------------------------------------------
    @property
    def blocks(self) -> dict[str, Block]:
        return self._blocks

    @blocks.setter
    def blocks(self, blocks: dict[str, Block]) -> None:
        self._blocks = blocks
        self._by_name = {name_key(b.name): bid for bid, b in blocks.items()}

    @property
    def links(self) -> list[Link]:
        return self._links

    @links.setter
    def links(self, links: list[Link]) -> None:
        self._links = links
        self._driver, self._succ, self._degree = {}, {}, {}
        for lk in links:
            self._index_link(lk)

    def _index_link(self, lk: Link) -> None:
        self._driver[lk.dst] = lk
        succ = self._succ.setdefault(lk.src.block, {})
        succ[lk.dst.block] = succ.get(lk.dst.block, 0) + 1
        for bid in {lk.src.block, lk.dst.block}:
            self._degree[bid] = self._degree.get(bid, 0) + 1

    def _unindex_link(self, lk: Link) -> None:
        del self._driver[lk.dst]
        succ = self._succ[lk.src.block]
        succ[lk.dst.block] -= 1
        if not succ[lk.dst.block]:
            del succ[lk.dst.block]
            if not succ:
                del self._succ[lk.src.block]
        for bid in {lk.src.block, lk.dst.block}:
            self._degree[bid] -= 1
            if not self._degree[bid]:
                del self._degree[bid]

    def indexes(self) -> dict[str, Any]:
        """The indexes as plain data (for tests that compare them with a fresh rebuild)."""
        return {"driver": dict(self._driver), "succ": {k: dict(v) for k, v in self._succ.items()},
                "degree": dict(self._degree), "by_name": dict(self._by_name)}

    # -- queries ---------------------------------------------------------------------------
    def __contains__(self, block_id: str) -> bool:
        return block_id in self._blocks

    def block(self, block_id: str) -> Block:
        try:
            return self._blocks[block_id]
        except KeyError:
            raise GraphError(f"no block with id {block_id!r} in this graph") from None

    def walk(self) -> Iterator[Block]:
        """Every block at this level and below, depth first, in insertion order."""
        for b in self._blocks.values():
            yield from b.walk()

    def links_of(self, block_id: str) -> list[Link]:
        if block_id not in self._degree:
            return []
        return [lk for lk in self._links if lk.src.block == block_id or lk.dst.block == block_id]

    def driver(self, dst: Endpoint) -> Link | None:
        """The link feeding input ``dst``, if any."""
        return self._driver.get(dst)

    def named(self, name: str) -> Block | None:
        """The block whose name is ``name`` or looks the same (NFKC-equal), if any."""
        bid = self._by_name.get(name_key(name))
        return self._blocks[bid] if bid is not None else None

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
        self._check_local(link)
        if self._reaches(link.dst.block, link.src.block):
            raise self._cycle_error(link)

    def _cycle_error(self, link: Link) -> GraphError:
        return GraphError(f"linking {self._describe(link.src)} to {self._describe(link.dst)} would make a cycle")

    def _check_local(self, link: Link) -> None:
        """Every invariant but acyclicity, in constant time."""
        src_port = self._source_port(link.src)
        if src_port is None:
            raise GraphError(f"{self._describe(link.src)} is not an output port")
        dst_port = self._sink_port(link.dst)
        if dst_port is None:
            raise GraphError(f"{self._describe(link.dst)} is not an input port")
        if link.src.block == link.dst.block and (self.owner is None or link.src.block != self.owner.id):
            raise GraphError(f"a block cannot be linked to itself ({self._describe(link.src)})")
        existing = self._driver.get(link.dst)
        if existing == link:
            raise GraphError(f"{self._describe(link.src)} is already linked to {self._describe(link.dst)}")
        if existing is not None:
            raise GraphError(
                f"{self._describe(link.dst)} already has an input, from {self._describe(existing.src)}"
            )
        if not kinds_match(src_port.kind, dst_port.kind):
            raise GraphError(
                f"cannot link {self._describe(link.src)} ({src_port.kind}) "
                f"to {self._describe(link.dst)} ({dst_port.kind}): port kinds differ"
            )

    def _reaches(self, start: str, goal: str) -> bool:
        """Whether ``goal`` is downstream of ``start`` (boundary ids never propagate)."""
        boundary = self.owner.id if self.owner is not None else None
        if start == boundary or goal == boundary:
            return False
        succ = self._succ
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
        ready = deque(bid for bid, d in indeg.items() if d == 0)
        order: list[str] = []
        while ready:
            bid = ready.popleft()
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
        if block.id in self._blocks or (self.owner is not None and block.id == self.owner.id):
            raise GraphError(f"a block with id {block.id!r} already exists")
        if block.graph is not None:
            block.graph.owner = block
        self._blocks[block.id] = block
        self._by_name[name_key(block.name)] = block.id

    def pop_block(self, block_id: str) -> Block:
        if block_id in self._degree:
            raise GraphError(f"block {block_id!r} still has links; remove them first")
        block = self._blocks.pop(block_id)
        key = name_key(block.name)
        if self._by_name.get(key) == block_id:
            del self._by_name[key]
        return block

    def rename_block(self, block_id: str, name: str) -> None:
        """Give a block a new name (the caller has checked it is free among its siblings)."""
        block = self.block(block_id)
        key = name_key(block.name)
        if self._by_name.get(key) == block_id:
            del self._by_name[key]
        block.name = name
        self._by_name[name_key(name)] = block_id

    def insert_link(self, link: Link, index: int | None = None) -> None:
        self.check_link(link)
        self.put_back_link(link, len(self._links) if index is None else index)

    def put_back_link(self, link: Link, index: int) -> None:
        """Insert a link known to be valid at ``index`` (undo puts back what it removed)."""
        self._links.insert(index, link)
        self._index_link(link)

    def remove_link(self, link: Link) -> int:
        """Remove ``link`` and return the index it had (for exact undo)."""
        if self._driver.get(link.dst) != link:
            raise GraphError(f"no link {link}")
        i = self._links.index(link)
        del self._links[i]
        self._unindex_link(link)
        return i

    def add_links(self, links: Iterable[Link]) -> None:
        """Add many links, checking every invariant once for the whole set (the reader's path).

        Each link gets the constant-time checks as it is indexed, and one topological sort
        at the end finds a cycle. Raises :class:`LinkRefused` naming the first link (in
        ``links`` order) that :meth:`insert_link`, adding them one by one, would refuse — with
        the same message — and leaves the graph as it was.
        """
        start = len(self._links)
        try:
            for i, lk in enumerate(links):
                try:
                    self._check_local(lk)
                except GraphError as e:
                    raise self._first_cycle(start, i) or LinkRefused(i, e) from None
                self.put_back_link(lk, len(self._links))
            if self._has_cycle():
                raise self._first_cycle(start, len(self._links) - start) or GraphError("the graph has a cycle")
        except GraphError:
            self.links = self._links[:start]
            raise

    def _has_cycle(self) -> bool:
        try:
            self.topological_order()
        except GraphError:
            return True
        return False

    def _first_cycle(self, start: int, count: int) -> LinkRefused | None:
        """Which of the ``count`` links added from ``start`` on first closes a cycle, if one
        does (an error path only: it replays them one by one)."""
        added = self._links[start:start + count]
        self.links = self._links[:start]
        try:
            for i, lk in enumerate(added):
                if self._reaches(lk.dst.block, lk.src.block):
                    return LinkRefused(i, self._cycle_error(lk))
                self.put_back_link(lk, len(self._links))
            return None
        finally:
            self.links = self._links[:start] + added

    def extend(self, blocks: Iterable[Block], links: Iterable[Link]) -> None:
        for b in blocks:
            self.insert_block(b)
        self.add_links(links)
