"""The project: the root graph plus orders, training settings and metadata."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from dpg_blocks.core.graph import Block, Graph, GraphError
from dpg_blocks.core.names import name_key

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULERS = ("none", "step", "cosine", "exponential")


@dataclass
class OptimizerSettings:
    """One order's optimizer: its type and hyper-parameters."""

    type: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9  # SGD only
    scheduler: str = "none"
    step_size: int = 10  # step scheduler: epochs between decays
    gamma: float = 0.1  # step/exponential decay factor

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Order:
    """One phase of a training step (DESIGN.md §3).

    In order ``index`` only the inputs that list it emit data; the rest emit null.
    ``optimize`` names the blocks whose parameters this order's optimizer updates (None: every
    block live in this order); ``losses`` names the loss blocks summed (None: every live loss).
    """

    index: int
    name: str = ""
    optimizer: OptimizerSettings = field(default_factory=OptimizerSettings)
    optimize: list[str] | None = None
    losses: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "optimizer": self.optimizer.to_dict(),
            "optimize": list(self.optimize) if self.optimize is not None else None,
            "losses": list(self.losses) if self.losses is not None else None,
        }


@dataclass
class TrainingSettings:
    """How ``train`` runs: epochs, seed, device ("auto": CUDA when present, else CPU) and the
    checkpoint a new run starts from (``weights``, relative to the project file; "" for fresh
    random weights): an imported model's weights."""

    epochs: int = 10
    seed: int = 0
    device: str = "auto"
    weights: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        if not d["weights"]:
            del d["weights"]  # a project without starting weights is written as before
        return d


@dataclass(frozen=True)
class Tie:
    """Shared weights: block ``block``'s parameter ``param`` is block ``source``'s ``source_param``
    (one tensor, trained once), e.g. a Siamese network's second tower, or a language model's
    output layer tied to its input Embedding. ``param`` is a name in the built layer's
    ``named_parameters()`` ("weight", "bias", "weight_ih_l0"…)."""

    block: str
    param: str
    source: str
    source_param: str

    def to_dict(self) -> dict[str, str]:
        return {"block": self.block, "param": self.param, "source": self.source, "source_param": self.source_param}


_ID_RE = re.compile(r"^b(\d+)$")


class Project:
    """A whole document. Change it through :mod:`dpg_blocks.core.edits` for undo/redo."""

    def __init__(self, name: str = "untitled") -> None:
        self.name = name
        self.graph = Graph()
        self.orders: list[Order] = [Order(1, "order 1")]
        self.training = TrainingSettings()
        self.meta: dict[str, Any] = {}
        self.packs: dict[str, str] = {}  # block pack -> the version it was saved with (core/pack_versions)
        self.ties: list[Tie] = []  # shared weights between blocks (Tie)
        self._next_id = 1

    # -- ids and names -----------------------------------------------------------------------
    def new_id(self) -> str:
        """A block id unused anywhere in the document (never reused within a session)."""
        taken = {b.id for b in self.graph.walk()}
        for bid in taken:
            m = _ID_RE.match(bid)
            if m and int(m.group(1)) >= self._next_id:
                self._next_id = int(m.group(1)) + 1
        while f"b{self._next_id}" in taken:
            self._next_id += 1
        bid = f"b{self._next_id}"
        self._next_id += 1
        return bid

    def unique_name(self, base: str, graph: Graph | None = None) -> str:
        """``base`` or ``base2``, ``base3``… — a name unused in ``graph`` (default: root)."""
        g = graph if graph is not None else self.graph
        return free_name(base, {b.name for b in g.blocks.values()})

    # -- lookup --------------------------------------------------------------------------------
    def locate(self, block_id: str) -> tuple[Graph, Block]:
        """The graph that holds ``block_id`` and the block itself."""
        found = _find(self.graph, block_id)
        if found is None:
            raise GraphError(f"no block with id {block_id!r}")
        return found

    def block(self, block_id: str) -> Block:
        return self.locate(block_id)[1]

    def graph_of(self, parent: str | None) -> Graph:
        """The graph inside SuperBlock ``parent`` (None: the root graph)."""
        if parent is None:
            return self.graph
        b = self.block(parent)
        if b.graph is None:
            raise GraphError(f"block {b.name!r} ({parent}) is not a SuperBlock")
        return b.graph

    def parent_of(self, block_id: str) -> str | None:
        g, _ = self.locate(block_id)
        return g.owner.id if g.owner is not None else None

    def path_of(self, block_id: str) -> list[str]:
        """Names from the root down to the block, e.g. ``["Backbone", "fc3"]``."""
        names: list[str] = []
        g, b = self.locate(block_id)
        names.append(b.name)
        while g.owner is not None:
            names.append(g.owner.name)
            g, _ = self.locate(g.owner.id)
        return names[::-1]

    def order(self, index: int) -> Order:
        for o in self.orders:
            if o.index == index:
                return o
        raise GraphError(f"no order {index}")

    def clone(self) -> Project:
        return copy.deepcopy(self)


def free_name(base: str, taken: set[str]) -> str:
    """``base``, or ``base2``, ``base3``… — the first not in ``taken`` (nor looking like one)."""
    keys = {name_key(t) for t in taken}
    if name_key(base) not in keys:
        return base
    stem = base.rstrip("0123456789") or base
    n = 2
    while name_key(f"{stem}{n}") in keys:
        n += 1
    return f"{stem}{n}"


def _find(graph: Graph, block_id: str) -> tuple[Graph, Block] | None:
    b = graph.blocks.get(block_id)
    if b is not None:
        return graph, b
    for child in graph.blocks.values():
        if child.graph is not None:
            found = _find(child.graph, block_id)
            if found is not None:
                return found
    return None
