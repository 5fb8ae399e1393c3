"""Edits to what a project holds beside its graph: orders, shared weights, training settings.

Each replaces one part of the :class:`~dpg_blocks.core.project.Project` whole and keeps the old
value for undo; what they refuse is what the project file's reader refuses, so an edited
project always saves and loads back. Import them from :mod:`dpg_blocks.core.edits`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from dpg_blocks.core.edits.base import MISSING, Edit
from dpg_blocks.core.edits.checks import is_int, is_number
from dpg_blocks.core.graph import GraphError
from dpg_blocks.core.names import name_problem
from dpg_blocks.core.project import OPTIMIZERS, SCHEDULERS, Order, Project, Tie, TrainingSettings

__all__ = ["SetOrders", "SetTies", "SetTraining"]


class SetOrders(Edit):
    """Replace the project's orders (optimizer settings, optimized blocks, losses)."""

    def __init__(self, orders: Sequence[Order]) -> None:
        self.orders = copy.deepcopy(list(orders))
        self.label = "set orders"
        self._old: list[Order] = []

    def apply(self, project: Project) -> None:
        indices = [o.index for o in self.orders]
        if not all(is_int(i) for i in indices):
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
        if not is_number(getattr(s, key)):
            raise GraphError(f"{what}: {key} must be a finite number, got {getattr(s, key)!r}")
        setattr(s, key, float(getattr(s, key)))  # 1 and 1.0 must save alike
    if s.lr <= 0:
        raise GraphError(f"{what}: learning rate must be > 0, got {s.lr}")
    if s.weight_decay < 0:
        raise GraphError(f"{what}: weight decay must be >= 0, got {s.weight_decay}")
    if not is_int(s.step_size) or s.step_size < 1:
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
        default = TrainingSettings().__dict__.get(self.name, MISSING)
        if default is MISSING:
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
