"""What validation records say: failures as records, idle reasons, the orders' loss checks, roll-up.

The :class:`~.compiler.Validator` runs blocks; this module holds how what it finds becomes
records (:mod:`.records`): an exception as a block's error record (``fail_record``, which
training uses too, so an error there reads as one in validation), the shape of every tensor that
crossed a port, why a block stayed idle, the checks of each order's ``losses``, and the one
rolled-up record per SuperBlock built from its children's. It is separate from the interpreter
because none of it runs anything: it reads the records and plans the run left. A mixin of
:class:`~.compiler.Validator` (it never imports the compiler).
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import torch

from dpg_blocks.core.project import Project

from .plan import FlatGraph, FlatNode, OrderPlan, Source
from .records import ERROR, IDLE, PATH_SEP, UPSTREAM, BlockRecord, TensorInfo, worst
from .usercode import USER_CODE_PREFIX, user_code_line

__all__ = ["RecordKeeping", "fail_record"]


def _info(port: str, value: Any) -> TensorInfo:
    if isinstance(value, torch.Tensor):
        return TensorInfo(port, list(value.shape), str(value.dtype).removeprefix("torch."))
    return TensorInfo(port)


def _user_traceback(exc: BaseException) -> str:
    """The traceback without the engine's own frames (they never help the user)."""
    frames = traceback.extract_tb(exc.__traceback__)
    engine_dir = str(Path(__file__).parents[1])  # every engine sub-package, not only this one
    kept = [f for f in frames if not f.filename.startswith(engine_dir)] or frames[-1:]
    user = [f for f in frames if f.filename.startswith(USER_CODE_PREFIX)]
    if user:  # an error in the block's own code: its lines are all the user needs
        kept = user
    return "".join(traceback.format_list(kept)) + "".join(traceback.format_exception_only(type(exc), exc))


def fail_record(rec: BlockRecord, e: BaseException) -> None:
    """Make ``rec`` the error record of exception ``e`` (validation and training alike): the
    message (naming the line when the error is inside the block's own code), the exception type
    and the traceback without the engine's frames."""
    message = str(e) or type(e).__name__
    where = user_code_line(e)
    if where is not None:
        rec.code_line = where[1]
        if isinstance(e, SyntaxError):
            message = f"syntax error: {e.msg}"
        message = f"{message} (line {where[1]} of the code)"
    rec.status, rec.message, rec.error_type, rec.traceback = ERROR, message, type(e).__name__, _user_traceback(e)


class RecordKeeping:
    """The Validator's records: failures recorded, ports noted, idle reasons, the orders' loss
    checks and the SuperBlocks' rolled-up records (a mixin of :class:`~.compiler.Validator`)."""

    # What this mixin uses of the Validator it is part of.
    project: Project
    flat: FlatGraph
    plans: dict[int, OrderPlan]
    records: dict[str, BlockRecord]
    port_infos: dict[Source, TensorInfo]

    def _fail_with(self, rec: BlockRecord, e: BaseException) -> None:
        """Record exception ``e``; an error inside user code names the line in that code."""
        if rec.status != ERROR:
            fail_record(rec, e)

    def _fail(self, rec: BlockRecord, message: str, error_type: str, tb: str = "") -> None:
        if rec.status != ERROR:
            rec.status, rec.message, rec.error_type, rec.traceback = ERROR, message, error_type, tb

    def _note(self, source: Source, value: Any) -> None:
        if source not in self.port_infos and isinstance(value, torch.Tensor):
            self.port_infos[source] = _info(source[1], value)

    def _boundary_info(self, port: str, source: Source | None) -> TensorInfo:
        """What crosses a SuperBlock's port: the tensor of the plain output driving it."""
        known = self.port_infos.get(source) if source is not None else None
        return TensorInfo(port, known.shape, known.dtype) if known is not None else TensorInfo(port)

    def _idle_reasons(self, nodes: dict[str, FlatNode]) -> None:
        for node in nodes.values():
            rec = self.records[node.id]
            if rec.status == IDLE and not rec.message:
                reasons = {s.idle_reason for p in self.plans.values() if (s := p.step(node.id)) and s.idle_reason}
                rec.message = "; ".join(sorted(reasons)) if reasons else "not used by any order"

    def _check_selected_losses(self) -> None:
        """An order's ``losses`` must name loss blocks that run in it; anything else would train
        nothing (``loss 0.0000``) without a word."""
        for order in self.project.orders:
            if order.losses is None or order.index not in self.plans:
                continue
            plan = self.plans[order.index]
            live = {s.node.id for s in plan.steps if s.live}
            where = f"order {order.index} ({order.name})"
            unknown = []
            for bid in order.losses:
                node = self.flat.nodes.get(bid)
                if node is None:
                    unknown.append(bid)
                elif node.role != "loss":
                    kind = node.spec.name if node.spec is not None else node.block.type
                    self._fail(self.records[bid], f"{where} lists this block among its losses, but it is a "
                               f"{kind} block, not a loss; remove it from the order's losses", "ValueError")
                elif bid not in live:
                    self._fail(self.records[bid], f"{where} lists this loss, but it does not run in order "
                               f"{order.index} (its inputs are not live there)", "ValueError")
            if unknown:
                names = ", ".join(repr(b) for b in unknown)
                losses = [s.node.id for s in plan.steps if s.live and s.node.role == "loss"]
                targets = losses or [s.node.id for s in plan.steps if s.live][:1]
                for bid in targets:
                    self._fail(self.records[bid], f"{where} lists losses that are not loss blocks of the "
                               f"project: {names}", "ValueError")

    # -- results -----------------------------------------------------------------------------
    def all_records(self, only: set[str] | None = None) -> list[BlockRecord]:
        """Plain blocks' records plus one rolled-up record per SuperBlock (of the blocks in
        ``only``, when given)."""
        out = [r for nid, r in self.records.items() if only is None or nid in only]
        inside: dict[str, list[BlockRecord]] = {}
        for nid, r in self.records.items():
            for sid in self.flat.nodes[nid].super_ids:
                inside.setdefault(sid, []).append(r)
        for sid, (block, path) in self.flat.supers.items():
            if only is not None and sid not in only:
                continue
            inner = inside.get(sid, [])
            rec = BlockRecord(sid, block.name, block.type, path, status=worst([r.status for r in inner]))
            rec.orders = sorted({o for r in inner for o in r.orders})
            ins, outs = self.flat.boundaries.get(sid, ({}, {}))
            rec.inputs = [self._boundary_info(p, src) for p, src in ins.items()]
            rec.outputs = [self._boundary_info(p, src) for p, src in outs.items()]
            culprit = next((r for r in inner if r.status == ERROR), None) or next(
                (r for r in inner if r.status == UPSTREAM), None
            )
            if culprit is not None:
                rel = culprit.path[len(path) :]
                rec.failing_path = culprit.path
                rec.error_type = culprit.error_type
                rec.message = f"{PATH_SEP.join(rel)}: {culprit.message}"
            out.append(rec)
        return out

    @property
    def ok(self) -> bool:
        return not any(r.status == ERROR for r in self.records.values())
