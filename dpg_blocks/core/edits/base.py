"""The :class:`Edit` contract, :class:`Compound`, and the snapshots that make undo exact.

Every change to a :class:`~dpg_blocks.core.project.Project` is an :class:`Edit`: ``apply``
makes the change (validating it first, so a refused edit changes nothing), ``revert`` restores
the exact previous state — block order, link order, ids and positions included — so that
``apply(); revert()`` is the identity on the serialised project and ``apply`` again after
``revert`` gives the same result as the first time.

This module is the floor the edit families stand on (``graph_edits.py``: blocks, links and
parameters; ``structure.py``: merge and expand; ``settings.py``: orders, shared
weights, training) so that they import it and never each other. Import edits from
:mod:`dpg_blocks.core.edits`, which names them all.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from dpg_blocks.core.graph import Block, Graph, Link
from dpg_blocks.core.project import Order, Project

__all__ = ["MISSING", "Compound", "Edit", "forget_ids", "graph_snapshot", "restore_graph"]


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


def graph_snapshot(g: Graph) -> tuple[dict[str, Block], list[Link]]:
    """The blocks and links of ``g`` as they are now, for :func:`restore_graph`."""
    return dict(g.blocks), list(g.links)


def restore_graph(g: Graph, snap: tuple[dict[str, Block], list[Link]]) -> None:
    """Put back a :func:`graph_snapshot`: blocks and links in their order, each nested graph's owner."""
    g.blocks = dict(snap[0])
    g.links = list(snap[1])
    for b in g.blocks.values():
        if b.graph is not None:
            b.graph.owner = b


def forget_ids(project: Project, gone: set[str]) -> list[Order] | None:
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


# A parameter or setting that was not there before an edit (None may be a real value).
MISSING = object()


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
