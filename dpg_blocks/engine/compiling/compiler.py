"""Validate a project by running it, then compile it to an ``nn.Module``.

``Validator`` is an interpreter over each order's plan: it loads a small sample batch from every
input, builds each block's module from the shapes that actually reach it, runs it, and records
status, shapes and errors per block (DESIGN.md §3 "Debugging"). When nothing failed,
``compile_project`` (:mod:`.model`) turns the same plans into generated Python (see
:mod:`.codegen`) bound to a ``CompiledModel`` that owns the built modules, nested by SuperBlock.
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dpg_blocks.blocks.spec import ParamError
from dpg_blocks.core.project import Project

from ..data.datasets import DataSource
from ..packs.registry import Registry
from .context import BuildCtx
from .module_cache import ModuleCache, Step, StepCache, layer_key, step_key
from .plan import FlatGraph, FlatNode, OrderPlan, Source, flatten, order_indices, plan_order
from .records import ERROR, IDLE, OK, PATH_SEP, UNTRUSTED, UPSTREAM, BlockRecord, TensorInfo, worst
from .source_cache import SourceCache
from .usercode import USER_CODE_PREFIX, user_code_line

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


class Validator:
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

    def _restore_buffers(self, buffers: dict[str, dict[str, torch.Tensor]]) -> None:
        """Validation must not train the norm layers: their buffers as they were before it ran."""
        for nid, kept in buffers.items():
            for name, value in self.modules[nid].named_buffers():
                if name in kept:
                    value.copy_(kept[name])

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

    def _load_source(self, node: FlatNode, rec: BlockRecord) -> None:
        if self.on_block is not None:
            self.on_block(node)
        ctx = BuildCtx(node.id, node.block.name, node.path, self.project_dir, "cpu")
        cache = self.source_cache
        key = cache.key(node, self.project_dir) if cache is not None else None
        self._source_keys[node.id] = key
        try:
            source = cache.get(key) if cache is not None and key is not None else None
            if source is None:
                source = node.spec.instantiate_checked(node.params).load(ctx)  # type: ignore[union-attr]
                if not isinstance(source, DataSource):
                    raise TypeError(f"load() must return a DataSource, got {type(source).__name__}")
                if cache is not None and key is not None:
                    cache.put(key, source)
            self.sources[node.id] = source
        except Exception as e:
            self._fail_with(rec, e)

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

    def _sample(self, node_id: str, order: int, keys: dict[str, Any]) -> tuple[Any, Any]:
        """An Input's sample batch: the last validation's while its data is unchanged, so what
        its kept downstream steps computed still follows from it."""
        source_key = self._source_keys.get(node_id)
        key = ("input", node_id, source_key, self.sample_size, order) if source_key is not None else None
        keys[node_id] = key if key is not None else StepCache.UNKNOWN
        kept = self.step_cache.get((node_id, order), key) if self.step_cache is not None else None
        if kept is not None:
            return kept.outputs[0], kept.outputs[1]
        x, y = self.sources[node_id].sample(self.sample_size)
        if self.step_cache is not None:
            self.step_cache.put((node_id, order), key, Step([x, y]))
        return x, y

    def _step_key(self, step: Any, layer: Any, keys: dict[str, Any], order: int) -> Any:
        """This step's key, chained from what feeds it (``module_cache.step_key``); recorded in ``keys``."""
        def up(node_id: str | None, port: str | None) -> Any:
            if node_id is None:
                return None
            k = keys.get(node_id, StepCache.UNKNOWN)
            return StepCache.UNKNOWN if k is StepCache.UNKNOWN else (k, port)

        upstream = [up(*a) if a is not None else None for a in step.args]
        upstream += [up(step.implicit_target, "y"), up(step.signal_target, "y")]
        key = step_key(layer, order, upstream) if step.node.id not in self._tied else None
        keys[step.node.id] = key if key is not None else StepCache.UNKNOWN
        return key

    def _note(self, source: Source, value: Any) -> None:
        if source not in self.port_infos and isinstance(value, torch.Tensor):
            self.port_infos[source] = _info(source[1], value)

    def _boundary_info(self, port: str, source: Source | None) -> TensorInfo:
        """What crosses a SuperBlock's port: the tensor of the plain output driving it."""
        known = self.port_infos.get(source) if source is not None else None
        return TensorInfo(port, known.shape, known.dtype) if known is not None else TensorInfo(port)

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

    def _layer_key(self, node: FlatNode, ports: list[str], args: list[Any]) -> tuple[BuildCtx, Any]:
        """The build context of a node's layer (the shapes reaching it) and its ``layer_key``."""
        ctx = BuildCtx(node.id, node.block.name, node.path, self.project_dir, "cpu")
        for port, source, value in zip(ports, (node.sources.get(p) for p in ports), args, strict=True):
            if source is not None:
                ctx.linked.add(port)
            if isinstance(value, torch.Tensor):
                ctx.shapes[port], ctx.dtypes[port] = tuple(value.shape), value.dtype
        key = None
        if (self.module_cache is not None or self.step_cache is not None) and node.id not in self._tied:
            inputs = [(p, ctx.shapes.get(p), str(ctx.dtypes.get(p)), p in ctx.linked) for p in ports]
            key = layer_key(node.id, node.block.type, node.block.version, node.params, inputs,
                            str(self.project_dir), self.trusted)
        return ctx, key

    def _module(self, node: FlatNode, ctx: BuildCtx, key: Any) -> nn.Module:
        module = self.modules.get(node.id)
        if module is not None:
            return module
        module = self.module_cache.get(node.id, key) if self.module_cache is not None else None
        if module is None:
            built = node.spec.instantiate_checked(node.params).build(ctx)  # type: ignore[union-attr]
            module = built if isinstance(built, nn.Module) else _CallableModule(built)
            if self.module_cache is not None:
                self.module_cache.put(node.id, key, module)
        self.modules[node.id] = module
        self._buffers[node.id] = {n: b.detach().clone() for n, b in module.named_buffers()}
        return module

    def _fail_with(self, rec: BlockRecord, e: BaseException) -> None:
        """Record exception ``e``; an error inside user code names the line in that code."""
        if rec.status != ERROR:
            fail_record(rec, e)

    def _fail(self, rec: BlockRecord, message: str, error_type: str, tb: str = "") -> None:
        if rec.status != ERROR:
            rec.status, rec.message, rec.error_type, rec.traceback = ERROR, message, error_type, tb

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


def validate_project(
    project: Project, registry: Registry, project_dir: Path | str = ".", trusted: bool = False
) -> list[BlockRecord]:
    """Records for every block (see :class:`Validator`)."""
    return Validator(project, registry, Path(project_dir), trusted=trusted).run()


class _CallableModule(nn.Module):
    """Wraps a plain callable returned by ``build`` so it sits in the module tree."""

    def __init__(self, fn: Any) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *args: Any) -> Any:
        return self.fn(*args)
