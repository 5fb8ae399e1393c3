"""The edits of blocks, links and parameters: add, remove, connect, disconnect, set, move, rename.

The contract every edit keeps, and the facade that names them all, is the package's
``__init__`` (:mod:`dpg_blocks.core.edits`).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from dpg_blocks.core.edits.base import MISSING, Edit, forget_ids, graph_snapshot, restore_graph
from dpg_blocks.core.edits.checks import (
    check_json,
    check_name,
    check_new_block,
    check_ports,
    check_pos,
    name_taken,
    nesting_depth,
    nesting_height,
)
from dpg_blocks.core.graph import MAX_DEPTH, Block, Endpoint, Graph, GraphError, Link, Port, kinds_match
from dpg_blocks.core.project import Order, Project


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
            check_new_block(inner)
        g = project.graph_of(self.parent)
        name_taken(self.block.name, g.blocks.values())
        if nesting_depth(project, g) + nesting_height(self.block) > MAX_DEPTH:
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
        self._snap = graph_snapshot(g)
        g.links = [lk for lk in g.links if self.block_id not in (lk.src.block, lk.dst.block)]
        g.pop_block(self.block_id)
        # An order naming a block that is gone would make the saved file unreadable.
        self._orders = forget_ids(project, {inner.id for inner in b.walk()})

    def revert(self, project: Project) -> None:
        assert self._snap is not None
        restore_graph(project.graph_of(self._parent), self._snap)
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


class _PortChange:
    """Shared by edits that replace a block's ports: drops links to ports that disappear."""

    def __init__(self) -> None:
        self._old_ports: tuple[list[Port], list[Port]] | None = None
        self._snaps: list[tuple[Graph, tuple[dict[str, Block], list[Link]]]] = []

    def change_ports(
        self, project: Project, block: Block, inputs: list[Port], outputs: list[Port]
    ) -> None:
        check_ports(repr(block.name), inputs, outputs)
        self._old_ports = (list(block.inputs), list(block.outputs))
        outer, _ = project.locate(block.id)
        graphs = [outer] + ([block.graph] if block.graph is not None else [])
        self._snaps = [(g, graph_snapshot(g)) for g in graphs]
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
        self._old: Any = MISSING
        self._ports = _PortChange()

    def apply(self, project: Project) -> None:
        b = project.block(self.block_id)
        if not isinstance(self.name, str):
            raise GraphError(f"parameter names are strings, got {self.name!r}")
        check_json(f"{b.name}.{self.name} = {self.value!r:.40}", self.value)
        old = b.params.get(self.name, MISSING)
        self._old = old if old is MISSING else copy.deepcopy(old)  # a copied sentinel is not it
        self.label = f"set {b.name}.{self.name}"
        if self.ports is not None:
            self._ports = _PortChange()
            self._ports.change_ports(project, b, *self.ports)
        b.params[self.name] = copy.deepcopy(self.value)

    def revert(self, project: Project) -> None:
        b = project.block(self.block_id)
        if self._old is MISSING:
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
        check_pos(repr(b.name), self.pos)
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
        check_name(self.name)
        g, b = project.locate(self.block_id)
        name_taken(self.name, (o for o in g.blocks.values() if o.id != b.id))
        self._old = b.name
        g.rename_block(b.id, self.name)

    def revert(self, project: Project) -> None:
        g, _ = project.locate(self.block_id)
        g.rename_block(self.block_id, self._old)

    def touched(self) -> set[str]:
        return {self.block_id}
