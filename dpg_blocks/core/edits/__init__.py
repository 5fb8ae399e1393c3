"""Edit commands with exact undo/redo: the one way the editor changes a document.

Every change to a :class:`~dpg_blocks.core.project.Project` is an :class:`Edit` (the contract,
in ``base.py``): ``apply`` makes the change (validating it first, so a refused edit
changes nothing), ``revert`` restores the exact previous state — block order, link order, ids
and positions included — so that ``apply(); revert()`` is the identity on the serialised
project and ``apply`` again after ``revert`` gives the same result as the first time.

This package names every edit and the :class:`History` that runs them, so callers import from
here. Each lives where its idea does: the contract and snapshots in ``base.py``, what edits
refuse in ``checks.py``, blocks, links and params in ``graph_edits.py``, merge and expand in
``structure.py``, orders, shared weights and training settings in ``settings.py``, undo/redo
stacks in ``history.py``.
"""

from dpg_blocks.core.edits.base import Compound, Edit
from dpg_blocks.core.edits.graph_edits import (
    AddBlock,
    Connect,
    Disconnect,
    Move,
    RemoveBlock,
    Rename,
    SetParam,
    SetPorts,
)
from dpg_blocks.core.edits.history import History
from dpg_blocks.core.edits.settings import SetOrders, SetTies, SetTraining
from dpg_blocks.core.edits.structure import Merge, Unmerge

__all__ = [
    "Edit", "AddBlock", "RemoveBlock", "Connect", "Disconnect", "SetParam", "SetPorts", "Move", "Rename",
    "Merge", "Unmerge", "SetOrders", "SetTies", "SetTraining", "Compound", "History",
]
