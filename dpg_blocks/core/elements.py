"""What a graph holds: blocks, their ports, the endpoints and links between them, and the errors.

Plain values with no invariants of their own; :class:`~dpg_blocks.core.graph.Graph` (which
re-exports all of them) keeps the rules that join them. Stdlib only (DESIGN.md §2).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # a SuperBlock holds a graph; the graph module imports this one
    from dpg_blocks.core.graph import Graph

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


class LinkRefused(GraphError):
    """A link of a bulk :meth:`Graph.add_links` that may not be added; ``index`` says which."""

    def __init__(self, index: int, reason: GraphError) -> None:
        super().__init__(str(reason))
        self.index = index
