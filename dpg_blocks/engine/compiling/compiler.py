"""Validate a project by running it, then compile it to an ``nn.Module``.

``Validator`` is an interpreter over each order's plan: it loads a small sample batch from every
input, builds each block's module from the shapes that actually reach it, runs it, and records
status, shapes and errors per block (DESIGN.md §3 "Debugging"). When nothing failed,
``compile_project`` (:mod:`.model`) turns the same plans into generated Python (see
:mod:`.codegen`) bound to a ``CompiledModel`` that owns the built modules, nested by SuperBlock.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dpg_blocks.core.project import Project

from ..data.datasets import DataSource
from ..packs.registry import Registry
from .context import BuildCtx
from .module_cache import ModuleCache, layer_key
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
    ):
        self.project = project
        self.trusted = trusted
        self.source_cache = source_cache  # the engine process keeps one across validations
        self.module_cache = module_cache  # and the built layers (incremental validation)
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
        # shape and dtype of every output that carried a tensor (first order that produced it):
        # a SuperBlock's record shows those that cross its boundary
        self.port_infos: dict[Source, TensorInfo] = {}

    # -- running -----------------------------------------------------------------------------
    def run(self) -> list[BlockRecord]:
        # The sample batch is a few samples: splitting such small ops over threads only adds
        # waiting, and on a busy machine it made validation several times slower
        # (benchmarks/validate_incremental.py).
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self._run()
        finally:
            torch.set_num_threads(threads)

    def _run(self) -> list[BlockRecord]:
        for node in self.flat.nodes.values():
            rec = self.records[node.id]
            if not node.problem and not self.trusted and has_code(node):
                node.problem = UNTRUSTED_MESSAGE
                self._fail(rec, node.problem, UNTRUSTED)
            if node.problem:
                self._fail(rec, node.problem, "ValueError")
            elif node.role == "input":
                self._load_source(node, rec)
        labelled = {nid for nid, s in self.sources.items() if s.has_labels}
        for index in order_indices(self.project, self.flat):
            plan = plan_order(self.flat, index, labelled)
            self.plans[index] = plan
            self._run_order(plan)
        self._check_selected_losses()
        for nid, buffers in self._buffers.items():  # validation must not train the norm layers
            for name, value in self.modules[nid].named_buffers():
                if name in buffers:
                    value.copy_(buffers[name])
        if self.project.ties:
            from .ties import tie_weights

            paths = {nid: PATH_SEP.join(n.path) for nid, n in self.flat.nodes.items()}
            tie_weights(self.project.ties, self.modules, paths,
                        lambda bid, msg: self._fail(self.records[bid], msg, "SharedWeights"))
        if self.module_cache is not None:
            self.module_cache.finish()
        for node in self.flat.nodes.values():
            rec = self.records[node.id]
            if rec.status == IDLE and not rec.message:
                reasons = {s.idle_reason for p in self.plans.values() if (s := p.step(node.id)) and s.idle_reason}
                rec.message = "; ".join(sorted(reasons)) if reasons else "not used by any order"
        return self.all_records()

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

    def _run_order(self, plan: OrderPlan) -> None:
        values: dict[Source, Any] = {}
        failed: set[str] = set()
        for step in plan.steps:
            node, rec = step.node, self.records[step.node.id]
            if not step.live:
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
                x, y = self.sources[node.id].sample(self.sample_size)
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
            if self.on_block is not None:
                self.on_block(node)
            call_args = args
            if node.spec.takes_signal:  # type: ignore[union-attr]
                target = values.get((step.signal_target, "y")) if step.signal_target is not None else None
                call_args = [plan.index, target, *args]
            try:
                module = self._module(node, ports, args)
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
                self._fail_with(rec, e)
                continue
            for port, value in zip((p.name for p in node.block.outputs), outs, strict=True):
                values[(node.id, port)] = value
                self._note((node.id, port), value)
            if rec.status == IDLE:
                rec.status = OK
                rec.outputs = [_info(p.name, v) for p, v in zip(node.block.outputs, outs, strict=True)]
                if node.role in ("loss", "output"):
                    rec.outputs = [_info(node.role, outs[0] if outs else out)]

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

    def _module(self, node: FlatNode, ports: list[str], args: list[Any]) -> nn.Module:
        module = self.modules.get(node.id)
        if module is not None:
            return module
        ctx = BuildCtx(node.id, node.block.name, node.path, self.project_dir, "cpu")
        for port, source, value in zip(ports, (node.sources.get(p) for p in ports), args, strict=True):
            if source is not None:
                ctx.linked.add(port)
            if isinstance(value, torch.Tensor):
                ctx.shapes[port], ctx.dtypes[port] = tuple(value.shape), value.dtype
        key = None
        if self.module_cache is not None and node.id not in self._tied:
            inputs = [(p, ctx.shapes.get(p), str(ctx.dtypes.get(p)), p in ctx.linked) for p in ports]
            key = layer_key(node.id, node.block.type, node.block.version, node.params, inputs,
                            str(self.project_dir), self.trusted)
        module = self.module_cache.get(key) if self.module_cache is not None else None
        if module is None:
            built = node.spec.instantiate_checked(node.params).build(ctx)  # type: ignore[union-attr]
            module = built if isinstance(built, nn.Module) else _CallableModule(built)
            if self.module_cache is not None:
                self.module_cache.put(key, module)
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
    def all_records(self) -> list[BlockRecord]:
        """Plain blocks' records plus one rolled-up record per SuperBlock."""
        out = list(self.records.values())
        for sid, (block, path) in self.flat.supers.items():
            inner = [r for nid, r in self.records.items() if sid in self.flat.nodes[nid].super_ids]
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
