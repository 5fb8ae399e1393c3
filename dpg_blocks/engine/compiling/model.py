"""The compiled model: the built modules nested by SuperBlock, one generated forward per order.

``compile_project`` validates (:class:`~.compiler.Validator`), then binds each order's generated
Python (:mod:`.codegen`) to a :class:`CompiledModel` that owns the modules the validation built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dpg_blocks.core.project import Project

from ..data.datasets import DataSource
from ..packs.registry import Registry
from .codegen import ClosureCodeGen
from .compiler import CompileError, Validator
from .plan import FlatGraph, FlatNode, OrderPlan
from .records import BlockRecord
from .source_text import identifier


@dataclass
class Head:
    """A prediction the trainer scores: from a loss or an Output block."""

    node_id: str
    name: str
    kind: str  # "classification", "binary" or "regression" (spec.METRICS)
    input_id: str | None  # the input block whose labels are the ground truth


class CompiledModel(nn.Module):
    """The built modules, nested by SuperBlock, and one generated forward per order.

    ``run_order(k, *batch)`` takes ``x, y`` for each input live in order k (in
    ``input_ids[k]`` order) and returns ``(total_loss, losses, heads)``: ``total_loss`` is the
    sum of the order's selected losses (None when it has none), ``losses`` one scalar per loss
    block, ``heads`` one ``(prediction, target)`` pair per :class:`Head`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.input_ids: dict[int, list[str]] = {}
        self.loss_ids: dict[int, list[str]] = {}
        self.heads: dict[int, list[Head]] = {}
        self.block_modules: dict[str, nn.Module] = {}
        self.sources_code: dict[int, str] = {}
        # the generated forwards' file names -> {line: block id} (the training watchdog's map)
        self.block_lines: dict[str, dict[int, str]] = {}
        self._forwards: dict[int, Any] = {}

    def run_order(self, index: int, *batch: torch.Tensor) -> Any:
        return self._forwards[index](*batch)

    def forward(self, index: int, *batch: torch.Tensor) -> Any:  # nn.Module protocol
        return self._forwards[index](*batch)

    @property
    def orders(self) -> list[int]:
        return sorted(self._forwards)


def _attr_name(name: str, taken: set[str]) -> str:
    base = identifier(name)  # the exported script writes self.<attr>: it must be Python
    out, n = base, 2
    while out in taken:
        out, n = f"{base}_{n}", n + 1
    taken.add(out)
    return out


@dataclass
class CompileResult:
    model: CompiledModel
    records: list[BlockRecord]
    sources: dict[str, DataSource]
    plans: dict[int, OrderPlan]
    flat: FlatGraph
    # block ids in the order their modules were built (and drew their initial weights)
    build_order: list[str] = field(default_factory=list)


def compile_project(
    project: Project, registry: Registry, project_dir: Path | str = ".", trusted: bool = False,
    on_block: Callable[[FlatNode], None] | None = None,
) -> CompileResult:
    """Validate, then build the :class:`CompiledModel`; raises :class:`CompileError`.

    ``on_block`` is the validator's (the engine reports progress and names a block that hangs)."""
    v = Validator(project, registry, Path(project_dir), trusted=trusted)
    v.on_block = on_block
    records = v.run()
    if not v.ok:
        raise CompileError(records)
    model = CompiledModel()
    containers: dict[str, nn.Module] = {}
    taken: dict[int, set[str]] = {}

    def names_of(parent: nn.Module) -> set[str]:
        # a block named "training" or "forward" must not clash with what every module has
        return taken.setdefault(id(parent), {n for n, _ in parent.named_children()} | set(dir(parent)))

    def container(super_ids: list[str]) -> nn.Module:
        parent: nn.Module = model
        for sid in super_ids:
            if sid not in containers:
                child = nn.Module()
                parent.add_module(_attr_name(v.flat.supers[sid][0].name, names_of(parent)), child)
                containers[sid] = child
            parent = containers[sid]
        return parent

    for nid, node in v.flat.nodes.items():
        if nid in v.modules:
            parent = container(node.super_ids)
            parent.add_module(_attr_name(node.block.name, names_of(parent)), v.modules[nid])
            model.block_modules[nid] = v.modules[nid]
    leaf: list[nn.Module] = []
    for index, plan in v.plans.items():
        order = next((o for o in project.orders if o.index == index), None)
        selected = set(order.losses) if order is not None and order.losses is not None else None
        code = ClosureCodeGen(plan, selected, v.modules, leaf).generate()
        namespace: dict[str, Any] = {}
        filename = f"<dpg-blocks order {index}>"
        exec(compile(code.source, filename, "exec"), namespace)
        model._forwards[index] = namespace["make"](leaf)
        model.sources_code[index] = code.source
        model.block_lines[filename] = code.block_lines
        model.input_ids[index] = list(plan.inputs)
        model.loss_ids[index] = code.loss_ids
        model.heads[index] = [
            Head(nid, v.flat.nodes[nid].block.name, kind, code.head_inputs[i])
            for i, (nid, kind) in enumerate(code.heads)
        ]
    return CompileResult(model, records, v.sources, v.plans, v.flat, list(v.modules))
