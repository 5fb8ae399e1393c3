"""Validate a project by running it, then compile it to an ``nn.Module``.

``Validator`` is an interpreter over each order's plan: it loads a small sample batch from every
input, builds each block's module from the shapes that actually reach it, runs it, and records
status, shapes and errors per block (DESIGN.md §3 "Debugging"). When nothing failed,
``compile_project`` (:mod:`.model`) turns the same plans into generated Python (see
:mod:`.codegen`) bound to a ``CompiledModel`` that owns the built modules, nested by SuperBlock.

This module holds the interpreter itself: running the orders, revalidating after an edit, and
checking what each block returns. What a block is built into (its layer, an Input's data source,
the cache keys) lives in :mod:`.block_building`; what the records say (failures, idle reasons, the
orders' loss checks, the SuperBlocks' rolled-up records) in :mod:`.record_keeping`. Both are mixins
of :class:`Validator`, and every name callers import from here still imports from here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dpg_blocks.blocks.spec import ParamError
from dpg_blocks.core.project import Project

from ..data.datasets import DataSource
from ..packs.registry import Registry
from .block_building import BlockBuilding
from .module_cache import ModuleCache, Step, StepCache
from .plan import FlatGraph, FlatNode, OrderPlan, Source, flatten, order_indices, plan_order
from .record_keeping import RecordKeeping, _info, fail_record
from .records import ERROR, IDLE, OK, PATH_SEP, UNTRUSTED, UPSTREAM, BlockRecord, TensorInfo
from .source_cache import SourceCache

__all__ = [
    "SAMPLE_SIZE", "UNTRUSTED_MESSAGE", "CompileError", "Validator", "fail_record", "has_code", "validate_project",
]

UNTRUSTED_MESSAGE = (
    "not run: this project's custom code is not trusted on this computer yet; trust the project "
    "to run it (the --trust option of dpg-blocks validate/train)"
)

SAMPLE_SIZE = 4  # samples per input in a validation batch


class CompileError(RuntimeError):
    """The project did not validate; ``records`` say where and why."""

    def __init__(self, records: list[BlockRecord]) -> None:
        self.records = records
        bad = [r for r in records if r.status == ERROR and r.type != "core.SuperBlock"]
        lines = [f"{PATH_SEP.join(r.path)}: {r.message}" for r in bad] or ["no trainable order"]
        super().__init__("the project has errors:\n  " + "\n  ".join(lines))


def has_code(node: FlatNode) -> bool:
    """Whether the block carries source code of its own (it runs only in trusted projects)."""
    if node.spec is None:
        return False
    return any(str(node.params.get(name) or "").strip() for name in node.spec.code_params())


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Torch on one intra-op thread, the caller's count given back after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class Validator(RecordKeeping, BlockBuilding):
    """Runs every order on sample batches, building modules on the way; fills ``records``.

    Blocks with code of their own are built (which runs the code) only when ``trusted``;
    otherwise they get an error record of type ``UntrustedCode`` and nothing of theirs runs.
    A built module with a ``check_gradient(order, target, *inputs)`` method (Custom blocks
    with a backward) has it called once, after its first successful forward.
    """

    def __init__(
        self,
        project: Project,
        registry: Registry,
        project_dir: Path,
        sample_size: int = SAMPLE_SIZE,
        trusted: bool = False,
        source_cache: SourceCache | None = None,
        module_cache: ModuleCache | None = None,
        step_cache: StepCache | None = None,
    ):
        self.project = project
        self.trusted = trusted
        self.source_cache = source_cache  # the engine process keeps one across validations
        self.module_cache = module_cache  # and the built layers (incremental validation)
        self.step_cache = step_cache  # and what each block computed (not run again if unchanged)
        self._source_keys: dict[str, Any] = {}  # an Input's data key: its steps' keys chain from it
        self._tied = {bid for t in project.ties for bid in (t.block, t.source)}
        self.registry = registry
        self.project_dir = project_dir
        self.sample_size = sample_size
        # Called before each block runs: the engine process reports progress with it, so a block
        # that hangs or crashes the process can be named.
        self.on_block: Callable[[FlatNode], None] | None = None
        self.flat: FlatGraph = flatten(project, registry)
        self.sources: dict[str, DataSource] = {}
        self.modules: dict[str, nn.Module] = {}
        self.plans: dict[int, OrderPlan] = {}
        self.records: dict[str, BlockRecord] = {
            nid: BlockRecord(nid, n.block.name, n.block.type, n.path) for nid, n in self.flat.nodes.items()
        }
        self._buffers: dict[str, dict[str, torch.Tensor]] = {}
        self._grad_checked: set[str] = set()
        # per order: every output's value on the sample batch, the blocks that failed, the steps'
        # keys; kept so that revalidate() runs only what an edit reaches
        self._values: dict[int, dict[Source, Any]] = {}
        self._failed: dict[int, set[str]] = {}
        self._keys: dict[int, dict[str, Any]] = {}
        # shape and dtype of every output that carried a tensor (first order that produced it):
        # a SuperBlock's record shows those that cross its boundary
        self.port_infos: dict[Source, TensorInfo] = {}
        self._rerun: set[str] = set()  # the records the last revalidate() may have changed

    # -- running -----------------------------------------------------------------------------
    def run(self) -> list[BlockRecord]:
        # The sample batch is a few samples: splitting such small ops over threads only adds
        # waiting, and on a busy machine it made validation several times slower
        # (benchmarks/validate_incremental.py).
        with _one_thread():
            return self._run()

    def _run(self) -> list[BlockRecord]:
        for node in self.flat.nodes.values():
            rec = self.records[node.id]
            if not self._record_problem(node, rec) and node.role == "input":
                self._load_source(node, rec)
        labelled = {nid for nid, s in self.sources.items() if s.has_labels}
        for index in order_indices(self.project, self.flat):
            plan = plan_order(self.flat, index, labelled)
            self.plans[index] = plan
            self._run_order(plan)
        self._check_selected_losses()
        self._restore_buffers(self._buffers)
        if self.project.ties:
            from .ties import tie_weights

            paths = {nid: PATH_SEP.join(n.path) for nid, n in self.flat.nodes.items()}
            tie_weights(self.project.ties, self.modules, paths,
                        lambda bid, msg: self._fail(self.records[bid], msg, "SharedWeights"))
        if self.module_cache is not None:
            self.module_cache.finish()
        if self.step_cache is not None:
            self.step_cache.finish()
        self._idle_reasons(self.flat.nodes)
        return self.all_records()

    def revalidate(self, changed: dict[str, dict[str, Any]]) -> list[BlockRecord] | None:
        """See :meth:`_revalidate` (on one thread, as :meth:`run`)."""
        with _one_thread():
            return self._revalidate(changed)

    def _revalidate(self, changed: dict[str, dict[str, Any]]) -> list[BlockRecord] | None:
        """After an edit that changed only the params of the blocks in ``changed`` (id -> params,
        already set on their blocks): run those blocks and what is downstream of them again, keep
        every other block's record, layer and outputs; the records as a validation from scratch
        would give them. None when that cannot be told this way (an Input's params or data
        changed, a block gone, shared weights): validate the project from scratch then."""
        nodes = self.flat.nodes
        if self.project.ties or any(bid not in nodes or nodes[bid].role == "input" for bid in changed):
            return None
        cache = self.source_cache
        for nid in self.sources:  # data changed on disk since: everything may differ
            if cache is None or cache.key(nodes[nid], self.project_dir) != self._source_keys.get(nid):
                return None
        dirty: set[str] = set()
        for node in nodes.values():  # topological order: a block's sources are seen before it
            if node.id in changed or any(src is not None and src[0] in dirty for src in node.sources.values()):
                dirty.add(node.id)
        for nid in dirty:
            node = nodes[nid]
            node.problem = ""
            try:
                node.params = node.spec.check_params(node.block.params)  # type: ignore[union-attr]
            except ParamError as e:
                node.problem = str(e)
            self.records[nid] = rec = BlockRecord(nid, node.block.name, node.block.type, node.path)
            self._record_problem(node, rec)
            self.modules.pop(nid, None)
            self._buffers.pop(nid, None)  # taken again when its layer is
            self._grad_checked.discard(nid)
        for index in self.plans:
            values = self._values[index]
            for source in [k for k in values if k[0] in dirty]:
                del values[source]
            self._failed[index] -= dirty
        for source in [k for k in self.port_infos if k[0] in dirty]:
            del self.port_infos[source]
        for plan in self.plans.values():
            self._run_order(plan, dirty)
        self._check_selected_losses()
        self._restore_buffers({nid: b for nid, b in self._buffers.items() if nid in dirty})
        for c in (self.module_cache, self.step_cache):
            if c is not None:
                c.finish(keep_unused=True)  # the blocks not run again still hold their layers
        self._idle_reasons({nid: nodes[nid] for nid in dirty})
        # whose records may differ now: the blocks run again, the SuperBlocks holding them (their
        # records roll theirs up) and the losses the orders' checks look at again
        losses = {bid for o in self.project.orders for bid in (o.losses or ())}
        losses |= {nid for nid, n in nodes.items() if n.role == "loss"}
        self._rerun = dirty | losses | {sid for nid in dirty for sid in nodes[nid].super_ids}
        return self.all_records()

    def changed_records(self) -> list[BlockRecord]:
        """The records the last :meth:`revalidate` may have changed (every other block's is as
        the validation before it gave it)."""
        return self.all_records(only=self._rerun)

    def _record_problem(self, node: FlatNode, rec: BlockRecord) -> bool:
        """Whether the node cannot run (an unknown type, bad params, untrusted code), recorded as
        its error before anything runs."""
        if not node.problem and not self.trusted and has_code(node):
            node.problem = UNTRUSTED_MESSAGE
            self._fail(rec, node.problem, UNTRUSTED)
        if node.problem:
            self._fail(rec, node.problem, "ValueError")  # (an error already recorded stays)
        return bool(node.problem)

    def _run_order(self, plan: OrderPlan, only: set[str] | None = None) -> None:
        """Run the order's live steps (``only`` those: revalidate) on the sample batch."""
        values = self._values.setdefault(plan.index, {})
        failed = self._failed.setdefault(plan.index, set())
        keys = self._keys.setdefault(plan.index, {})  # node id -> its step's key in this order (StepCache)
        for step in plan.steps:
            node, rec = step.node, self.records[step.node.id]
            if not step.live or (only is not None and node.id not in only):
                continue
            if node.problem:  # already recorded as an error; downstream shows upstream-error
                failed.add(node.id)
                continue
            if plan.index not in rec.orders:
                rec.orders.append(plan.index)
            if node.role == "input":
                if node.id not in self.sources:
                    failed.add(node.id)
                    continue
                x, y = self._sample(node.id, plan.index, keys)
                values[(node.id, "x")], values[(node.id, "y")] = x, y
                self._note((node.id, "x"), x)
                self._note((node.id, "y"), y)
                if rec.status == IDLE:
                    rec.status = OK
                    rec.outputs = [_info("x", x), _info("y", y)]
                continue
            ports = [p.name for p in node.block.inputs]
            if any(a is not None and a[0] in failed for a in step.args):
                failed.add(node.id)
                if rec.status in (IDLE, OK):
                    bad = sorted({self.flat.nodes[a[0]].block.name for a in step.args if a and a[0] in failed})
                    rec.status, rec.message = UPSTREAM, f"not processed: {', '.join(bad)} failed upstream"
                continue
            args = [values.get(a) if a is not None else None for a in step.args]
            if step.implicit_target is not None:
                args[ports.index("target")] = values.get((step.implicit_target, "y"))
            infos = [_info(p, v) for p, v in zip(ports, args, strict=True)]
            if not rec.inputs or rec.status != OK:
                rec.inputs = infos
            if step.target_problem:
                failed.add(node.id)
                self._fail(rec, step.target_problem, "ValueError")
                continue
            missing = [p for p, a, v in zip(ports, step.args, args, strict=True) if a is not None and v is None]
            if missing and not node.spec.accepts_null:  # type: ignore[union-attr]
                failed.add(node.id)
                self._fail(rec, f"input {', '.join(map(repr, missing))} receives no data (no labels upstream?)", "ValueError")
                continue
            call_args = args
            if node.spec.takes_signal:  # type: ignore[union-attr]
                target = values.get((step.signal_target, "y")) if step.signal_target is not None else None
                call_args = [plan.index, target, *args]
            ctx, layer = self._layer_key(node, ports, args)
            key = self._step_key(step, layer, keys, plan.index)
            kept = self.step_cache.get((node.id, plan.index), key) if self.step_cache is not None else None
            if kept is not None:  # this block and all upstream of it are as they were: not run again
                if self.module_cache is not None and (module := self.module_cache.get(node.id, layer)) is not None:
                    self.modules[node.id] = module  # still this validation's layer (kept for the next)
                rec.gradcheck = kept.gradcheck or rec.gradcheck
                self._ran(node, rec, values, kept.outputs, kept.value)
                continue
            if self.on_block is not None:
                self.on_block(node)
            try:
                module = self._module(node, ctx, layer)
                # Building draws the initial weights from the seeded stream; running (dropout) must
                # not draw from it, so training (and an exported script) sees the same numbers.
                with torch.random.fork_rng(devices=[]):
                    with torch.no_grad():
                        out = module(*call_args)
                    outs = self._check_outputs(node, out)
                    check = getattr(module, "check_gradient", None)
                    if check is not None and node.id not in self._grad_checked:
                        self._grad_checked.add(node.id)
                        with torch.enable_grad():
                            checked = check(*call_args)
                        if isinstance(checked, str):
                            rec.gradcheck = checked  # the Debug pane shows what passed
            except Exception as e:
                failed.add(node.id)
                keys[node.id] = StepCache.UNKNOWN
                self._fail_with(rec, e)
                continue
            value = out if node.role in ("loss", "output") else None
            if self.step_cache is not None:
                self.step_cache.put((node.id, plan.index), key, Step(outs, value, rec.gradcheck or ""))
            self._ran(node, rec, values, outs, value)

    def _ran(self, node: FlatNode, rec: BlockRecord, values: dict[Source, Any], outs: list[Any], value: Any) -> None:
        """A block's outputs on the sample batch, run now or kept from the last validation."""
        for port, tensor in zip((p.name for p in node.block.outputs), outs, strict=True):
            values[(node.id, port)] = tensor
            self._note((node.id, port), tensor)
        if rec.status == IDLE:
            rec.status = OK
            rec.outputs = [_info(p.name, v) for p, v in zip(node.block.outputs, outs, strict=True)]
            if node.role in ("loss", "output"):
                rec.outputs = [_info(node.role, outs[0] if outs else value)]

    def _check_outputs(self, node: FlatNode, out: Any) -> list[Any]:
        names = [p.name for p in node.block.outputs]
        if node.role == "loss":
            if not isinstance(out, torch.Tensor) or out.numel() != 1:
                shape = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise ValueError(f"a loss must be a single number, got {shape}")
            if not torch.isfinite(out).all():
                raise ValueError(f"the loss is not finite ({out.item()})")
            return []
        if node.role == "output":
            return []
        outs = list(out) if isinstance(out, tuple | list) else [out]
        if len(outs) != len(names):
            raise ValueError(f"the block returned {len(outs)} value(s) for {len(names)} output port(s)")
        for name, value in zip(names, outs, strict=True):
            if not isinstance(value, torch.Tensor):
                raise TypeError(f"output {name!r} is {type(value).__name__}, not a tensor")
            if value.is_floating_point() or value.is_complex():
                bad = ~torch.isfinite(value)
                if bool(bad.any()):
                    # the first block whose output is not finite is the culprit (its inputs were
                    # checked when they were produced), as in training; not the loss downstream
                    nan = int(torch.isnan(value).sum())
                    first = [int(i) for i in bad.nonzero()[0]]
                    raise ValueError(
                        f"output {name!r} is not finite: {nan} NaN and {int(bad.sum()) - nan} infinite of "
                        f"{value.numel()} values (first at {first}) from finite inputs"
                    )
        return outs


def validate_project(
    project: Project, registry: Registry, project_dir: Path | str = ".", trusted: bool = False
) -> list[BlockRecord]:
    """Records for every block (see :class:`Validator`)."""
    return Validator(project, registry, Path(project_dir), trusted=trusted).run()

