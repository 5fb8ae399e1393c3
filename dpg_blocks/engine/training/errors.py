"""An exception raised inside a block while training or evaluating, as that block's record.

Validation runs a batch of 4; a block can still fail on the real batch (a Reshape to a fixed
batch size, user code that assumes a shape). Such a failure is reported exactly like a
validation error: the block's :class:`BlockRecord` (status "error", the message, the shapes
that reached it at the failing call, the traceback into the user's code) and a rolled-up record
for every SuperBlock holding it, so the editor outlines it and the CLI names it.
"""

from __future__ import annotations

from typing import Any

import torch

from ..compiling.compiler import _info, fail_record
from ..compiling.records import PATH_SEP, BlockRecord, TensorInfo
from .trainer import Trainer

_CALL_FRAMES = ("_wrapped_call_impl", "_call_impl")  # nn.Module.__call__: ``args`` is the call's


def failure_records(trainer: Trainer, exc: BaseException) -> list[BlockRecord]:
    """The records of the block ``exc`` was raised in and of its SuperBlocks; [] when no block's
    code was on the stack (a data error, the engine's own bug)."""
    block_id = trainer.block_id_of(exc)
    if block_id is None:
        return []
    node = trainer.compiled.flat.nodes[block_id]
    rec = BlockRecord(block_id, node.block.name, node.block.type, list(node.path))
    fail_record(rec, exc)
    args = _call_args(trainer.model.block_modules[block_id], exc)
    if node.spec is not None and node.spec.takes_signal:
        args = args[2:]  # called as module(order, target, *inputs) (codegen.py)
    ports = [p.name for p in node.block.inputs]
    rec.inputs = [_info(p, v) for p, v in zip(ports, args, strict=False)]
    rec.outputs = [TensorInfo(p.name) for p in node.block.outputs]  # it never returned
    out = [rec]
    flat = trainer.compiled.flat
    for sid in node.super_ids:
        block, path = flat.supers[sid]
        rel = PATH_SEP.join(node.path[len(path):])
        out.append(BlockRecord(sid, block.name, block.type, list(path), status=rec.status,
                               error_type=rec.error_type, message=f"{rel}: {rec.message}",
                               failing_path=list(node.path)))
    return out


def _call_args(module: torch.nn.Module, exc: BaseException) -> tuple[Any, ...]:
    """The arguments of the failing call of ``module``, read from the traceback's frames (they
    are kept alive by it): no re-run, so it costs nothing until something fails."""
    found: tuple[Any, ...] = ()
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name in _CALL_FRAMES and frame.f_locals.get("self") is module:
            args = frame.f_locals.get("args")
            if isinstance(args, tuple):
                found = args  # the innermost call wins (a module called twice in one step)
        tb = tb.tb_next
    return found
