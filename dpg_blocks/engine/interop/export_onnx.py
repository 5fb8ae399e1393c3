"""Export one order's inference forward to ONNX (scenario E, "leaving the tool").

What goes into the ONNX graph: the blocks of one order that the model's outputs depend on, in
evaluation mode (dropout off, batch norm on its running statistics). Losses are training
machinery, not part of the model: the outputs are the tensors that feed the order's losses and
Output blocks (or the outputs of blocks the caller names). The inputs are the tensors of the
Input blocks those outputs read, each with a dynamic batch dimension.

How: :class:`InferenceModule` interprets the order's plan (the validated modules of the
:class:`~..compiling.model.CompiledModel`, called in topological order); ``torch.export`` traces it
into one straight graph (so the interpreter's loop costs nothing in the result) and
``torch.onnx.export`` (the dynamo exporter, which needs the ``onnx`` and ``onnxscript``
packages) converts that. Custom blocks go in when torch can trace their code; when it cannot,
the export is refused with the block's name.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dpg_blocks.core.atomic_file import atomic_path
from dpg_blocks.core.project import Project

from ..compiling.model import CompiledModel, CompileResult, compile_project
from ..compiling.plan import FlatGraph, OrderPlan, Source, Step
from ..compiling.records import PATH_SEP
from ..packs.registry import Registry
from .export import ExportError

__all__ = [
    "ONNX_PACKAGES", "InferenceModule", "OnnxInterface", "default_order", "missing_onnx_packages",
    "inference_interface", "export_onnx",
]

# The dynamo exporter needs both (onnxscript translates the aten ops, onnx writes the file);
# the legacy TorchScript exporter needs onnx too, so there is no package-free way.
ONNX_PACKAGES = ("onnx", "onnxscript")
INSTALL_HINT = "pip install 'dpg-blocks[onnx]' (or: pip install onnx onnxscript onnxruntime)"
EXAMPLE_BATCH = 4  # the traced example; the batch dimension stays symbolic


def missing_onnx_packages() -> list[str]:
    """The packages ONNX export needs that are not installed."""
    return [name for name in ONNX_PACKAGES if importlib.util.find_spec(name) is None]


@dataclass
class OnnxInterface:
    """What one order's ONNX graph takes and returns, and the steps that compute it."""

    order: int
    inputs: list[tuple[Source, str]]  # (Input block id, "x" or "y"), ONNX input name
    outputs: list[tuple[Source, str]]  # the plain output carrying it, ONNX output name
    steps: list[Step]  # live, non-input steps the outputs depend on, in topological order


def _onnx_name(text: str) -> str:
    return re.sub(r"\W+", "_", text).strip("_") or "value"


def _heads(plan: OrderPlan, document: Project | None = None) -> list[Source]:
    """What feeds the order's losses and Output blocks (their first input port).

    In the document's block order when ``document`` is given (an imported module's Outputs are
    in its return order), else in the plan's topological order.
    """
    found: list[Source] = []
    steps = plan.steps
    if document is not None:
        rank = {b.id: i for i, b in enumerate(document.graph.walk())}
        steps = sorted(steps, key=lambda s: rank.get(s.node.id, len(rank)))
    for step in steps:
        if step.live and step.node.role in ("loss", "output") and step.node.block.inputs:
            src = step.args[0]
            if src is not None and src not in found:
                found.append(src)
    return found


def _needed(plan: OrderPlan, outputs: list[Source]) -> list[Step]:
    """The live steps ``outputs`` depend on, in plan order (inputs included)."""
    by_id = {s.node.id: s for s in plan.steps}
    wanted = {src[0] for src in outputs}
    todo = list(wanted)
    while todo:
        step = by_id[todo.pop()]
        # a takes_signal block gets no ground truth in inference, so its signal target is not read
        for arg in step.args:
            if arg is not None and arg[0] not in wanted:
                wanted.add(arg[0])
                todo.append(arg[0])
    return [s for s in plan.steps if s.node.id in wanted]


def _trainable(steps: list[Step], model: CompiledModel) -> bool:
    return any(
        p.requires_grad for s in steps if s.node.id in model.block_modules for p in model.block_modules[s.node.id].parameters()
    )


def default_order(result: CompileResult) -> int:
    """The first order whose losses or Output blocks are fed through at least one trainable block.

    Falls back to the first order with a loss or an Output at all (a model without parameters).
    """
    with_heads = [k for k, plan in sorted(result.plans.items()) if _heads(plan)]
    for k in with_heads:
        if _trainable(_needed(result.plans[k], _heads(result.plans[k])), result.model):
            return k
    if with_heads:
        return with_heads[0]
    raise ExportError("no order has a loss or an Output block: nothing tells what the model's outputs are")


def _block_outputs(flat: FlatGraph, block_id: str) -> list[Source]:
    """The plain outputs that carry a block's outputs (a SuperBlock's: what drives its ports)."""
    if block_id in flat.supers:
        drivers = flat.boundaries.get(block_id, ({}, {}))[1]
        return [src for src in drivers.values() if src is not None]
    node = flat.nodes.get(block_id)
    if node is None:
        raise ExportError(f"no block {block_id!r} in the project")
    if node.role in ("loss", "output"):
        src = node.sources.get(node.block.inputs[0].name) if node.block.inputs else None
        return [src] if src is not None else []
    return [(block_id, p.name) for p in node.block.outputs]


def inference_interface(
    result: CompileResult, order: int | None = None, outputs: list[str] | None = None, document: Project | None = None
) -> OnnxInterface:
    """Inputs, outputs and steps of ``order``'s inference graph (see :func:`default_order`).

    ``outputs`` names block ids whose outputs become the graph's outputs instead of what feeds
    the losses and Output blocks (a SuperBlock stands for the tensors leaving it).
    """
    index = default_order(result) if order is None else order
    plan = result.plans.get(index)
    if plan is None:
        raise ExportError(f"the project has no order {index} (its orders: {sorted(result.plans)})")
    flat = result.flat
    if outputs:
        wanted: list[Source] = []
        for bid in outputs:
            found = _block_outputs(flat, bid)
            name = PATH_SEP.join(flat.supers[bid][1] if bid in flat.supers else flat.nodes[bid].path)
            dead = [src for src in found if not (plan.step(src[0]) and plan.step(src[0]).live)]  # type: ignore[union-attr]
            if not found or dead:
                raise ExportError(f"{name} carries nothing in order {index}: choose a block that runs in it")
            wanted += [src for src in found if src not in wanted]
    else:
        wanted = _heads(plan, document)
        if not wanted:
            raise ExportError(f"order {index} has no live loss or Output block: name the outputs to export")
    steps = _needed(plan, wanted)
    paths = _attribute_paths(result.model)
    taken: set[str] = set()

    def unique(base: str) -> str:
        out, n = base, 2
        while out in taken:
            out, n = f"{base}_{n}", n + 1
        taken.add(out)
        return out

    inputs: list[tuple[Source, str]] = []
    needed_sources = {a for s in steps for a in s.args if a is not None} | set(wanted)
    for step in steps:
        if step.node.role != "input":
            continue
        for port in ("x", "y"):
            if (step.node.id, port) in needed_sources:
                base = _onnx_name(step.node.block.name) + ("" if port == "x" else "_labels")
                inputs.append(((step.node.id, port), unique(base)))
    named_outputs: list[tuple[Source, str]] = []
    for src in wanted:
        node = flat.nodes[src[0]]
        base = paths.get(src[0]) or _onnx_name(node.block.name)
        if len(node.block.outputs) > 1 or node.role == "input":
            base = f"{base}_{src[1]}"
        named_outputs.append((src, unique(base)))
    return OnnxInterface(index, inputs, named_outputs, [s for s in steps if s.node.role != "input"])


def _attribute_paths(model: CompiledModel) -> dict[str, str]:
    by_module = {id(mod): name for name, mod in model.named_modules() if name}
    return {nid: by_module[id(mod)] for nid, mod in model.block_modules.items() if id(mod) in by_module}


class InferenceModule(nn.Module):
    """One order's forward without losses: input tensors in, the chosen tensors out.

    An interpreter over the order's plan (``torch.export`` turns it into one straight graph).
    A failure while tracing is traced back to the block being called (:func:`failing_block`).
    """

    def __init__(self, model: CompiledModel, interface: OnnxInterface, flat: FlatGraph) -> None:
        super().__init__()
        self.model = model
        self.interface = interface
        self.flat = flat

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The outputs of :attr:`interface` for its inputs, in order."""
        values: dict[Source, Any] = {src: x for (src, _), x in zip(self.interface.inputs, inputs, strict=True)}
        for step in self.interface.steps:
            node = step.node
            args = [values.get(a) if a is not None else None for a in step.args]
            if node.spec is not None and node.spec.takes_signal:
                args = [self.interface.order, None, *args]  # no ground truth in inference
            out = self.model.block_modules[node.id](*args)
            outs = list(out) if isinstance(out, tuple | list) else [out]
            for port, value in zip((p.name for p in node.block.outputs), outs, strict=True):
                values[(node.id, port)] = value
        return tuple(values[src] for src, _ in self.interface.outputs)


def _batch_is_symbolic(program: torch.export.ExportedProgram, count: int) -> list[int]:
    """Indices of the user inputs whose first dimension was fixed while tracing."""
    user = [n for n in program.graph.nodes if n.op == "placeholder" and n.name in program.graph_signature.user_inputs]
    fixed = []
    for i, node in enumerate(user[:count]):
        val = node.meta.get("val")
        if val is not None and val.dim() > 0 and not isinstance(val.shape[0], torch.SymInt):
            fixed.append(i)
    return fixed


def failing_block(exc: BaseException) -> str | None:
    """The id of the block :meth:`InferenceModule.forward` was calling when ``exc`` was raised."""
    # export may copy or restore the module's attributes, so the frame's own locals are the record
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:  # through "raise ... from" chains too
        seen.add(id(cur))
        found, tb = None, cur.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code is InferenceModule.forward.__code__:
                node = tb.tb_frame.f_locals.get("node")
                found = node.id if node is not None else found
            tb = tb.tb_next
        if found is not None:
            return found
        cur = cur.__cause__ or cur.__context__
    return None


def trace(module: InferenceModule, examples: list[torch.Tensor]) -> torch.export.ExportedProgram:
    """``torch.export`` of ``module`` with a dynamic batch per input; ExportError names a failing block."""
    flat = module.flat
    dims = tuple({0: torch.export.Dim.AUTO} if x.dim() > 0 else {} for x in examples)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.export.export(module, tuple(examples), dynamic_shapes={"inputs": dims}, strict=False)
    except Exception as e:
        culprit = failing_block(e)
        where = PATH_SEP.join(flat.nodes[culprit].path) if culprit else "the model"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ExportError(f"{where}: torch cannot trace it for ONNX ({type(e).__name__}: {first})") from e
    fixed = _batch_is_symbolic(program, len(examples))
    if fixed:
        names = ", ".join(module.interface.inputs[i][1] for i in fixed)
        raise ExportError(f"the model fixes the batch size of {names} (a block uses a constant batch size)")
    return program


def _examples(result: CompileResult, interface: OnnxInterface) -> list[torch.Tensor]:
    out = []
    for (bid, port), name in interface.inputs:
        x, y = result.sources[bid].sample(EXAMPLE_BATCH)
        value = x if port == "x" else y
        if value is None:
            raise ExportError(f"{name}: the Input carries no labels to export")
        out.append(value)
    return out


def _batch_axis_names(interface: OnnxInterface, examples: list[torch.Tensor]) -> tuple[dict[int, str], ...]:
    """``batch``, or ``batch_<input>`` when there are several inputs (their batches may differ)."""
    several = len(interface.inputs) > 1
    return tuple(
        {0: f"batch_{name}" if several else "batch"} if x.dim() > 0 else {}
        for (_, name), x in zip(interface.inputs, examples, strict=True)
    )


def build_inference(
    project: Project,
    registry: Registry,
    project_dir: Path | str,
    *,
    order: int | None = None,
    outputs: list[str] | None = None,
    weights: Path | str | None = None,
    trusted: bool = False,
) -> tuple[InferenceModule, CompileResult]:
    """The order's :class:`InferenceModule` in evaluation mode (weights from a checkpoint's "model")."""
    with torch.random.fork_rng(devices=[]):  # building draws weights; the caller's stream stays
        result = compile_project(project, registry, project_dir, trusted=trusted)
    if weights is not None:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        try:
            result.model.load_state_dict(state["model"] if "model" in state else state)
        except RuntimeError as e:
            raise ExportError(f"the weights in {weights} do not fit this project: {str(e).splitlines()[0]}") from e
    interface = inference_interface(result, order, outputs, project)
    module = InferenceModule(result.model, interface, result.flat)
    module.eval()
    return module, result


def export_onnx(
    project: Project,
    registry: Registry,
    project_dir: Path | str,
    path: Path | str,
    *,
    order: int | None = None,
    outputs: list[str] | None = None,
    weights: Path | str | None = None,
    trusted: bool = False,
) -> tuple[Path, OnnxInterface]:
    """Write the order's inference graph to ``path`` (atomically); returns it and the interface.

    Raises ExportError (with what to install when the ONNX packages are missing) or CompileError.
    """
    missing = missing_onnx_packages()
    if missing:
        raise ExportError(f"ONNX export needs the package(s) {', '.join(missing)}: {INSTALL_HINT}")
    module, result = build_inference(
        project, registry, project_dir, order=order, outputs=outputs, weights=weights, trusted=trusted
    )
    interface = module.interface
    with torch.no_grad():
        examples = _examples(result, interface)
        program = trace(module, examples)
        # the exporter logs a warning per torchvision op it cannot register; none of ours are such
        registration = logging.getLogger("torch.onnx._internal.exporter._registration")
        level = registration.level
        registration.setLevel(logging.ERROR)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                onnx_program = torch.onnx.export(
                    program,
                    input_names=[name for _, name in interface.inputs],
                    output_names=[name for _, name in interface.outputs],
                    # names for the symbolic batch axes (the traced program already has them dynamic)
                    dynamic_shapes={"inputs": _batch_axis_names(interface, examples)},
                    dynamo=True,
                    verbose=False,
                )
        except Exception as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ExportError(f"an operation has no ONNX translation ({type(e).__name__}: {first})") from e
        finally:
            registration.setLevel(level)
    out = Path(path).expanduser().resolve()
    with atomic_path(out) as tmp:
        onnx_program.save(str(tmp), external_data=False)  # our models are small: one self-contained file
    return out, interface
