"""Import an existing ``nn.Module`` as editable blocks, through ``torch.fx`` (scenario E).

``torch.fx.symbolic_trace`` turns the module's forward into a graph of nodes; shape
propagation on an example batch gives every node's tensor shape. Each tensor-valued node becomes
one block (no folding, so node and block correspond one to one):

* ``placeholder``: an Input of source "noise" with the given sample shape (it validates without
  data; point it at a dataset later);
* ``call_module`` / ``call_function`` / ``call_method``: the matching built-in block when the
  layer's configuration is one the block builds exactly (``nn.Conv2d`` with a square kernel,
  no dilation or groups …); a parameter-free operation with no built-in block becomes a Custom
  block whose code calls it; anything else (a layer with weights the built-in pack cannot
  build, a shared layer, a ``get_attr``) is refused with the node's name and target;
* ``output``: one Output block per returned tensor.
* a submodule whose forward fx cannot trace (an ``if`` on a tensor's value): one Opaque Module
  block holding its class's source and its weights (:mod:`.import_opaque`); only the top-level
  forward's own untraceable code is refused, naming its line.
* a layer returning a tuple (LSTM, ``chunk``): one block whose ``getitem`` nodes are its
  ports (``_Block.outputs``); a recurrent layer's final state passes a Transpose back to
  torch's (layers, batch, hidden) layout where the code reads it.

Nodes that compute shapes (``x.size(0)``) feed the arguments of the node that reads them
(``x.view(x.size(0), -1)`` becomes a Reshape) and are not blocks. Blocks are placed by
:func:`dpg_blocks.core.layout.auto_layout`. The weights are copied into the engine's compiled
model and written as a checkpoint (the format ``dpg-blocks train --checkpoint-dir`` writes and
``Trainer.load_checkpoint`` / ``export --onnx --weights`` read).
"""

from __future__ import annotations

import ast
import copy
import io
import json
import math
import operator
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from dpg_blocks.blocks.builder import ProjectBuilder
from dpg_blocks.core.atomic_file import write_bytes_atomic
from dpg_blocks.core.edits import Move, SetTies
from dpg_blocks.core.layout import auto_layout
from dpg_blocks.core.project import Project, Tie

from .compiler import CompileResult, compile_project
from .import_opaque import opaque_params, record_constructor_calls, trace_with_opaque
from .import_tree import nest_by_module
from .registry import Registry

__all__ = [
    "FxImportError", "ImportedModule", "ImportReport", "load_module", "import_module", "write_weights",
    "import_to_project",
]

# node.meta key: the block computes this value with a leading batch dim its traced shape lacks
BATCHED = "dpg_blocks_batched"
EXAMPLE_BATCH = 2  # shape propagation's batch: 2 keeps batch norm happy and tells batch from features


class FxImportError(ValueError):
    """The module cannot be imported; the message names the node and its target."""


def load_module(ref: str, args: list[Any] | dict[str, Any] | None = None) -> nn.Module:
    """Instantiate ``FILE.py:ClassName`` with ``args`` (a JSON-like list or dict; none by default).

    The file is read as a library, not run as a script: only its imports, definitions and
    constant assignments run (:func:`definitions_only`), so a training script's argument
    parsing, data loading or training at the top level does not happen. What the class needs
    from the skipped code is named in the error, with its line.
    """
    file_text, sep, class_name = ref.rpartition(":")
    if not sep or not file_text or not class_name:
        raise FxImportError(f"name the module as FILE.py:ClassName, got {ref!r}")
    file = Path(file_text).expanduser().resolve()
    if not file.is_file():
        raise FxImportError(f"no file {file}")
    try:
        tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
    except (SyntaxError, UnicodeDecodeError) as e:
        raise FxImportError(f"{file.name} is not readable Python: {e}") from e
    kept, skipped = definitions_only(tree)
    module = types.ModuleType(f"dpg_blocks_import_{file.stem}")
    module.__file__ = str(file)
    sys.modules[module.__name__] = module  # dataclasses and pickling look classes up there
    sys.path.insert(0, str(file.parent))  # the file may import its neighbours
    try:
        exec(compile(kept, str(file), "exec"), module.__dict__)  # noqa: S102 - the user's own file, as before
        record_constructor_calls(module)  # an opaque submodule's block constructs it with the same arguments
        cls = getattr(module, class_name, None)
        if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
            raise FxImportError(f"{file.name} has no nn.Module class {class_name!r}")
        return cls(**args) if isinstance(args, dict) else cls(*(args or []))
    except NameError as e:
        name = getattr(e, "name", None) or str(e)
        line = skipped.get(str(name))
        if line is None:
            raise
        raise FxImportError(
            f"{class_name} needs {name!r}, which {file.name} sets at line {line} in code the import does not run "
            "(beyond imports, definitions and constants, a file's top level is skipped so that a training script "
            "does not train); make it a constant or pass it with --args"
        ) from e
    except SystemExit as e:
        raise FxImportError(
            f"{class_name}({'...' if args else ''}) exited (SystemExit {e.code}): it parses the command line or "
            "calls sys.exit; give its constructor its settings with --args instead"
        ) from e
    finally:
        sys.path.remove(str(file.parent))


def definitions_only(tree: ast.Module) -> tuple[ast.Module, dict[str, int]]:
    """The statements of ``tree`` a library import needs — imports, functions, classes and
    assignments of values computed without calls — and, for the rest, each name it would
    have set with its line (so an error can say where the skipped value came from)."""
    kept: list[ast.stmt] = []
    skipped: dict[str, int] = {}

    def reads_skipped(nodes: list[ast.expr]) -> bool:
        return any(isinstance(n, ast.Name) and n.id in skipped for e in nodes for n in ast.walk(e))

    for stmt in tree.body:
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            kept.append(stmt)
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            # what runs when it is defined: decorators, defaults, base classes
            at_def = [*stmt.decorator_list, *(stmt.bases if isinstance(stmt, ast.ClassDef) else
                                              [*stmt.args.defaults, *(d for d in stmt.args.kw_defaults if d)])]
            if reads_skipped(at_def):
                skipped.setdefault(stmt.name, stmt.lineno)
            else:
                kept.append(stmt)
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            kept.append(stmt)  # the docstring
        elif isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign) and stmt.value is not None \
                and not any(isinstance(n, ast.Call) for n in ast.walk(stmt.value)) and not reads_skipped([stmt.value]):
            kept.append(stmt)  # a constant (one computed from a skipped value is skipped too)
        elif isinstance(stmt, ast.Try) and all(isinstance(s, ast.Import | ast.ImportFrom | ast.Pass)
                                               for s in stmt.body):
            kept.append(stmt)  # try: import fast_thing / except ImportError: …
        else:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    skipped.setdefault(node.id, stmt.lineno)
    return ast.Module(body=kept, type_ignores=[]), skipped


@dataclass
class _Block:
    """What one fx node becomes: a block type, its params, and the nodes feeding its inputs."""

    type: str
    params: dict[str, Any] = field(default_factory=dict)
    inputs: list[fx.Node] = field(default_factory=list)
    # a layer returning a tuple: its elements as output ports, nested as the module nests them;
    # a ("torch", port) element is a batch-first state torch gives (layers, batch, hidden)
    outputs: list[Any] | None = None


@dataclass
class ImportedModule:
    """The imported project, which node became which block, and the copied weights."""

    project: Project
    blocks: dict[str, str]  # fx node name -> block id
    layers: dict[str, str]  # block id -> the original module's qualified name (layers with state)
    custom: list[str] = field(default_factory=list)  # names of blocks that run generated code
    opaque: list[str] = field(default_factory=list)  # the untraceable submodules kept whole (qualified names)
    asserts: list[str] = field(default_factory=list)  # asserts left out of the graph ("model.py line 12")
    tensors: dict[str, str] = field(default_factory=dict)  # Learned Tensor block id -> the parameter it holds
    parameters: int = 0


def _shape(node: fx.Node) -> tuple[int, ...] | None:
    meta = node.meta.get("tensor_meta")
    return tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else None


def _user_line(e: BaseException) -> str:
    """' at line N of FILE (`source`)': the last frame of the traceback outside torch."""
    import traceback

    torch_dir = str(Path(torch.__file__).parent)
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if not f.filename.startswith(torch_dir) and not f.filename.startswith(str(Path(__file__).parent))]
    if not frames:
        return ""
    f = frames[-1]
    code = f" (`{f.line.strip()}`)" if f.line else ""
    return f" at line {f.lineno} of {Path(f.filename).name}{code}"


def _trace_hint(e: BaseException) -> str:
    if "control flow" in str(e) or "iteration" in str(e):
        return ("; an `if`, `assert` or loop on a tensor's value has no block: compute it with tensor ops "
                "(torch.where, masks), or move it into a submodule, which comes in whole as an Opaque Module block")
    return ""


def _is_tuple(node: fx.Node) -> bool:
    """Whether the node returns a tuple of tensors (an LSTM's (seq, (h, c)), a chunk)."""
    meta = node.meta.get("tensor_meta")  # TensorMetadata is itself a NamedTuple: it has a shape
    return isinstance(meta, tuple | list) and not hasattr(meta, "shape")


def _pair(value: Any, what: str) -> int:
    """An int, or a tuple of equal ints (the built-in blocks are square)."""
    if isinstance(value, int):
        return value
    if isinstance(value, tuple | list) and value and all(v == value[0] for v in value) and isinstance(value[0], int):
        return int(value[0])
    raise ValueError(f"{what} {value!r} (the built-in block takes one number for every side)")


def _require(ok: bool, why: str) -> None:
    if not ok:
        raise ValueError(why)


def _conv(m: Any, transposed: bool = False) -> dict[str, Any]:
    _require(m.groups == 1, f"groups={m.groups}")
    _require(all(d == 1 for d in m.dilation), f"dilation={m.dilation}")
    _require(m.padding_mode == "zeros", f"padding_mode={m.padding_mode!r}")
    _require(not isinstance(m.padding, str), f"padding={m.padding!r}")
    params = {
        "out_channels": m.out_channels, "kernel_size": _pair(m.kernel_size, "kernel_size"),
        "stride": _pair(m.stride, "stride"), "padding": _pair(m.padding, "padding"), "bias": m.bias is not None,
    }
    if transposed:
        params["output_padding"] = _pair(m.output_padding, "output_padding")
    return params


def _norm(m: Any) -> dict[str, Any]:
    _require(m.eps == 1e-5 and m.momentum == 0.1, f"eps={m.eps}, momentum={m.momentum}")
    _require(m.affine and m.track_running_stats, "affine=False or track_running_stats=False")
    return {}


def _layer_norm(m: nn.LayerNorm, node: fx.Node) -> dict[str, Any]:
    _require(m.eps == 1e-5 and m.elementwise_affine and m.bias is not None, "eps, elementwise_affine or bias")
    return {"normalized_dims": len(m.normalized_shape)}


def _pool(m: Any) -> dict[str, Any]:
    _require(_pair(m.padding, "padding") == 0 and not m.ceil_mode, f"padding={m.padding}, ceil_mode={m.ceil_mode}")
    if isinstance(m, nn.MaxPool2d):
        _require(_pair(m.dilation, "dilation") == 1 and not m.return_indices, "dilation or return_indices")
    else:
        _require(m.divisor_override is None, f"divisor_override={m.divisor_override}")
    kernel = _pair(m.kernel_size, "kernel_size")
    stride = _pair(m.stride, "stride") if m.stride is not None else kernel
    return {"kernel_size": kernel, "stride": 0 if stride == kernel else stride}


def _adaptive(size: Any) -> dict[str, Any]:
    sizes = list(size) if isinstance(size, tuple | list) else [size, size]
    return {"output_size": [-1 if s is None else int(s) for s in sizes]}


def _input_rank(node: fx.Node) -> int:
    src = node.args[0] if node.args else None
    return len(_shape(src) or ()) if isinstance(src, fx.Node) else 0


def _linear(m: nn.Linear, node: fx.Node) -> dict[str, Any]:
    # nn.Linear on (N, L, C) acts on the last dim: the block's 'last dim'
    rank = _input_rank(node)
    _require(rank >= 2, f"a {rank}-D input")
    return {"out_features": m.out_features, "bias": m.bias is not None, "last_dim": rank > 2}


def _eps(m: Any) -> None:
    _require(m.eps == 1e-5, f"eps={m.eps}")


def _instance_norm(m: Any) -> dict[str, Any]:
    _eps(m)
    _require(m.momentum == 0.1, f"momentum={m.momentum}")
    return {"affine": m.affine, "track_running_stats": m.track_running_stats}


def _group_norm(m: nn.GroupNorm) -> dict[str, Any]:
    _eps(m)
    return {"num_groups": m.num_groups, "affine": m.affine}


def _upsample(m: nn.Upsample) -> dict[str, Any]:
    _require(m.size is None and not m.align_corners and not m.recompute_scale_factor,
             "size, align_corners or recompute_scale_factor")
    factor = m.scale_factor
    if isinstance(factor, tuple | list):
        _require(len(set(factor)) == 1, f"scale_factor={factor}")
        factor = factor[0]
    return {"scale_factor": float(factor), "mode": m.mode}


def _pad(m: Any) -> dict[str, Any]:
    mode = {"Reflection": "reflect", "Replication": "replicate", "Circular": "circular"}.get(
        type(m).__name__.split("Pad")[0], "constant")
    return {"padding": list(m.padding), "mode": mode, "value": float(getattr(m, "value", 0.0))}


def _embedding(m: nn.Embedding) -> dict[str, Any]:
    _require(m.max_norm is None and not m.scale_grad_by_freq and not m.sparse, "max_norm, scale_grad_by_freq or sparse")
    return {"num_embeddings": m.num_embeddings, "embedding_dim": m.embedding_dim,
            "padding_idx": -1 if m.padding_idx is None else m.padding_idx}


def _recurrent(m: Any, node: fx.Node) -> dict[str, Any]:
    _require(m.batch_first, "batch_first=False (the block reads (batch, length, features))")
    _require(len(node.args) == 1 and not node.kwargs, "an initial state argument")
    _require(getattr(m, "proj_size", 0) == 0, f"proj_size={getattr(m, 'proj_size', 0)}")
    params = {"hidden_size": m.hidden_size, "num_layers": m.num_layers, "bidirectional": m.bidirectional,
              "dropout": float(m.dropout), "bias": m.bias}
    if isinstance(m, nn.RNN):
        params["nonlinearity"] = m.nonlinearity
    return params


# what a recurrent layer returns, as the block's ports: (seq, h) or (seq, (h, c)), torch's layout
RECURRENT_OUTPUTS: dict[type, list[Any]] = {
    nn.RNN: ["seq", ("torch", "state")],
    nn.GRU: ["seq", ("torch", "state")],
    nn.LSTM: ["seq", [("torch", "state"), ("torch", "cell")]],
}

_PADS = (nn.ReflectionPad1d, nn.ReflectionPad2d, nn.ReplicationPad1d, nn.ReplicationPad2d, nn.ZeroPad1d,
         nn.ZeroPad2d, nn.ConstantPad1d, nn.ConstantPad2d, nn.CircularPad1d, nn.CircularPad2d)


def _flatten_params(start: int, end: int, node: fx.Node) -> dict[str, Any]:
    rank = _input_rank(node)
    _require(rank >= 2, f"a {rank}-D input")
    _require(end in (-1, rank - 1), f"end_dim={end}")
    _require(start % max(rank, 1) >= 1, "start_dim=0 (the batch would be merged)")
    return {"start_dim": start % rank}


def _gelu(approximate: str) -> dict[str, Any]:
    _require(approximate == "none", f"approximate={approximate!r}")
    return {}


def _softmax(dim: Any) -> dict[str, Any]:
    _require(isinstance(dim, int), f"dim={dim!r}")
    return {"dim": dim}


# call_module: module type -> params of the built-in block (ValueError: the block cannot build it)
MODULES: dict[type, tuple[str, Callable[[Any, fx.Node], dict[str, Any]]]] = {
    nn.Linear: ("builtin.Linear", _linear),
    nn.Conv1d: ("builtin.Conv1d", lambda m, n: _conv(m)),
    nn.Conv2d: ("builtin.Conv2d", lambda m, n: _conv(m)),
    nn.ConvTranspose2d: ("builtin.ConvTranspose2d", lambda m, n: _conv(m, transposed=True)),
    nn.BatchNorm1d: ("builtin.BatchNorm1d", lambda m, n: _norm(m)),
    nn.BatchNorm2d: ("builtin.BatchNorm2d", lambda m, n: _norm(m)),
    nn.LayerNorm: ("builtin.LayerNorm", _layer_norm),
    nn.Dropout: ("builtin.Dropout", lambda m, n: {"p": m.p}),
    nn.ReLU: ("builtin.ReLU", lambda m, n: {}),
    nn.LeakyReLU: ("builtin.LeakyReLU", lambda m, n: {"negative_slope": m.negative_slope}),
    nn.GELU: ("builtin.GELU", lambda m, n: _gelu(m.approximate)),
    nn.Sigmoid: ("builtin.Sigmoid", lambda m, n: {}),
    nn.Tanh: ("builtin.Tanh", lambda m, n: {}),
    nn.Softmax: ("builtin.Softmax", lambda m, n: _softmax(m.dim)),
    nn.MaxPool2d: ("builtin.MaxPool2d", lambda m, n: _pool(m)),
    nn.AvgPool2d: ("builtin.AvgPool2d", lambda m, n: _pool(m)),
    nn.AdaptiveAvgPool2d: ("builtin.AdaptiveAvgPool2d", lambda m, n: _adaptive(m.output_size)),
    nn.Flatten: ("builtin.Flatten", lambda m, n: _flatten_params(m.start_dim, m.end_dim, n)),
    nn.InstanceNorm1d: ("builtin.InstanceNorm1d", lambda m, n: _instance_norm(m)),
    nn.InstanceNorm2d: ("builtin.InstanceNorm2d", lambda m, n: _instance_norm(m)),
    nn.GroupNorm: ("builtin.GroupNorm", lambda m, n: _group_norm(m)),
    nn.Upsample: ("builtin.Upsample", lambda m, n: _upsample(m)),
    nn.PixelShuffle: ("builtin.PixelShuffle", lambda m, n: {"upscale_factor": m.upscale_factor}),
    nn.Identity: ("builtin.Identity", lambda m, n: {}),
    nn.LogSoftmax: ("builtin.LogSoftmax", lambda m, n: _softmax(m.dim)),
    nn.Embedding: ("builtin.Embedding", lambda m, n: _embedding(m)),
    nn.RNN: ("builtin.RNN", _recurrent),
    nn.GRU: ("builtin.GRU", _recurrent),
    nn.LSTM: ("builtin.LSTM", _recurrent),
    **{pad: ("builtin.Pad", lambda m, n: _pad(m)) for pad in _PADS},
}

_ELEMENTWISE = {"relu": "builtin.ReLU", "sigmoid": "builtin.Sigmoid", "tanh": "builtin.Tanh", "abs": "builtin.Abs"}
_FUNCTIONS: dict[Any, str] = {
    F.relu: "relu", torch.relu: "relu", torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid",
    torch.tanh: "tanh", F.tanh: "tanh", operator.add: "add", torch.add: "add", operator.sub: "sub",
    torch.sub: "sub", torch.subtract: "sub", torch.abs: "abs", operator.mul: "mul",
    torch.mul: "mul", torch.cat: "cat", torch.concat: "cat", torch.flatten: "flatten", torch.reshape: "reshape",
    F.leaky_relu: "leaky_relu", F.gelu: "gelu", F.softmax: "softmax", torch.softmax: "softmax",
    F.dropout: "dropout", F.max_pool2d: "max_pool2d", F.avg_pool2d: "avg_pool2d",
    F.adaptive_avg_pool2d: "adaptive_avg_pool2d", torch.permute: "permute", torch.transpose: "transpose",
    operator.matmul: "matmul", torch.matmul: "matmul", torch.bmm: "matmul", F.log_softmax: "log_softmax",
    torch.log_softmax: "log_softmax", torch.chunk: "chunk", torch.mean: "mean", torch.sum: "sum",
    operator.getitem: "getitem", torch.split: "split", F.scaled_dot_product_attention: "sdpa",
    torch.arange: "arange",
}


def _sized(value: Any) -> tuple[fx.Node, int] | None:
    """(x, d) when ``value`` is ``x.size(d)``, ``x.size()[d]`` or ``x.shape[d]``."""
    if not isinstance(value, fx.Node):
        return None
    if value.op == "call_method" and value.target == "size" and len(value.args) == 2:
        return value.args[0], value.args[1]  # type: ignore[return-value]
    if value.op == "call_function" and value.target is operator.getitem and isinstance(value.args[1], int):
        src = value.args[0]
        if isinstance(src, fx.Node) and ((src.op == "call_method" and src.target == "size" and len(src.args) == 1)
                                         or (src.op == "call_function" and src.target is getattr
                                             and src.args[1] == "shape")):
            return src.args[0], value.args[1]  # type: ignore[return-value]
    return None


def _positions(node: fx.Node) -> _Block:
    """``torch.arange(x.size(1))`` feeding only Embeddings: Position Ids (one row per sample; the
    Embedding's (batch, length, dim) adds to the tokens' exactly as the (length, dim) broadcast)."""
    args = list(node.args)
    if len(args) == 2 and args[0] == 0:
        args = args[1:]
    sized = _sized(args[0]) if len(args) == 1 else None
    _require(sized is not None, "arange over something other than a tensor's size")
    users_ok = all(u.op == "call_module" and type(u.graph.owning_module.get_submodule(str(u.target))) is nn.Embedding
                   for u in node.users)
    _require(users_ok, "arange used other than as an Embedding's positions")
    x, dim = sized  # type: ignore[misc]
    for u in node.users:
        u.meta[BATCHED] = True  # its (length, dim) is (batch, length, dim) here: Add may broadcast it
    return _Block("builtin.PositionIds", {"dim": dim}, [x])


def _static(value: Any) -> Any:
    """An int argument, or a non-batch size read from a tensor (``C`` of ``B, T, C = x.size()``)."""
    sized = _sized(value)
    if sized is not None:
        shape = _shape(sized[0])
        if shape is not None and sized[1] % len(shape) != 0:  # the batch size is not a constant
            return shape[sized[1]]
    return value


def _split(node: fx.Node, x: fx.Node) -> _Block:
    """``x.split(size, dim)`` into equal parts: a Chunk."""
    size, dim = _static(_arg(node, 1, "split_size_or_sections", None)), _arg(node, 2, "dim", 0)
    shape = _shape(x)
    _require(shape is not None and isinstance(dim, int), f"dim={dim!r}")
    total = shape[dim]  # type: ignore[index]
    sizes = [size] * (total // size) if isinstance(size, int) and size and total % size == 0 else size
    _require(isinstance(sizes, list | tuple) and len(set(sizes)) == 1 and 2 <= len(sizes) <= 16,
             f"parts of different sizes {size!r}")
    return _Block("builtin.Chunk", {"chunks": len(sizes), "dim": dim}, [x],
                  outputs=[f"y{i}" for i in range(1, len(sizes) + 1)])


def _index_block(node: fx.Node, x: fx.Node) -> _Block:
    """``x[i]``, ``x[:, -1]``, ``x[:, 2:10]``: one int or one bounded slice at one dim, every
    other dim whole (``:``) — a Select or a Slice block."""
    index = node.args[1]
    items = list(index) if isinstance(index, tuple) else [index]
    whole = slice(None)
    picked = [(d, it) for d, it in enumerate(items) if it != whole and it is not Ellipsis]
    _require(Ellipsis not in items[:-1] and len(picked) == 1, f"the index {index!r} (one int or slice at one dim)")
    dim, it = picked[0]
    if isinstance(it, int):
        return _Block("builtin.Select", {"dim": dim, "index": it}, [x])
    _require(isinstance(it, slice) and all(isinstance(v, int | type(None)) for v in (it.start, it.stop, it.step)),
             f"the index {index!r}")
    _require(it.stop != 0 and (it.step or 1) >= 1, f"the slice {it}")
    return _Block("builtin.Slice", {"dim": dim, "start": it.start or 0, "end": it.stop or 0, "step": it.step or 1}, [x])


def _dims(node: fx.Node, start: int, name: str) -> list[int]:
    """A dims argument given as varargs (``x.permute(0, 2, 1)``) or one sequence."""
    rest = list(node.args[start:]) or [node.kwargs.get(name)]
    if len(rest) == 1 and isinstance(rest[0], tuple | list):
        rest = list(rest[0])
    _require(all(isinstance(d, int) for d in rest), f"{name}={rest!r}")
    return [int(d) for d in rest]


def _tensor_op_block(kind: str, node: fx.Node, tensors: list[fx.Node]) -> _Block | None:
    """The Tensor ops block of a permute/transpose/matmul/log_softmax/chunk/mean/sum call."""
    x = tensors[0] if tensors else None
    if kind == "getitem":
        return _index_block(node, x)  # type: ignore[arg-type]
    if kind == "arange":
        return _positions(node)
    if kind == "split":
        return _split(node, x)  # type: ignore[arg-type]
    if kind == "contiguous":
        return _Block("builtin.Identity", {}, [x])  # type: ignore[list-item]
    if kind == "sdpa":
        extra = {k: v for k, v in node.kwargs.items() if k not in ("attn_mask", "dropout_p", "is_causal")}
        _require(len(node.args) <= 3 and not extra, f"{extra or node.args[3:]}")
        mask = node.kwargs.get("attn_mask")
        _require(mask is None or mask in tensors, "a mask that is not a tensor the blocks compute")
        return _Block("builtin.ScaledDotProductAttention", {"causal": bool(node.kwargs.get("is_causal", False)),
                                                             "dropout": float(node.kwargs.get("dropout_p", 0.0))},
                      [*node.args[:3], *([mask] if mask is not None else [])])  # type: ignore[list-item]
    if kind == "permute":
        return _Block("builtin.Permute", {"dims": _dims(node, 1, "dims")}, [x])  # type: ignore[list-item]
    if kind == "transpose":
        return _Block("builtin.Transpose", {"dim0": _arg(node, 1, "dim0", 0), "dim1": _arg(node, 2, "dim1", 1)}, [x])  # type: ignore[list-item]
    if kind == "matmul":
        _require(len(tensors) == 2, "a constant operand")
        return _Block("builtin.MatMul", {}, tensors)
    if kind == "log_softmax":
        return _Block("builtin.LogSoftmax", _softmax(_arg(node, 1, "dim", None)), [x])  # type: ignore[list-item]
    if kind == "chunk":
        chunks = int(_arg(node, 1, "chunks", 0))
        _require(2 <= chunks <= 16, f"chunks={chunks}")
        return _Block("builtin.Chunk", {"chunks": chunks, "dim": _arg(node, 2, "dim", 0)}, [x],  # type: ignore[list-item]
                      outputs=[f"y{i}" for i in range(1, chunks + 1)])
    if kind in ("mean", "sum"):
        dim = _arg(node, 1, "dim", None)
        _require(dim is not None, "no dim (it would reduce the batch too)")
        _require(node.kwargs.get("dtype") is None, "dtype")
        dims = [dim] if isinstance(dim, int) else list(dim)
        return _Block(f"builtin.{kind.capitalize()}", {"dims": dims, "keepdim": bool(_arg(node, 2, "keepdim", False))},
                      [x])  # type: ignore[list-item]
    return None


def _arg(node: fx.Node, index: int, name: str, default: Any) -> Any:
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


def _elementwise(kind: str, node: fx.Node, tensors: list[fx.Node]) -> _Block:
    """Add / Multiply / Subtract of tensors of the same rank (the blocks refuse broadcasting across ranks)."""
    _require(len(tensors) == len(node.args) == 2 and not node.kwargs, "a scalar operand or alpha")
    ranks = {len(_shape(t) or ()) + (1 if t.meta.get(BATCHED) else 0) for t in tensors}
    _require(len(ranks) == 1, "operands of different ranks")
    if kind == "sub":
        return _Block("builtin.Subtract", {}, tensors)
    return _Block("builtin.Add" if kind == "add" else "builtin.Multiply", {"n_inputs": 2}, tensors)


def _reshape(node: fx.Node) -> _Block:
    src, out = node.args[0], _shape(node)
    assert isinstance(src, fx.Node)
    before = _shape(src)
    _require(out is not None and before is not None and out[0] == before[0] and len(out) >= 2,
             "a reshape that does not keep the batch dimension")
    return _Block("builtin.Reshape", {"shape": list(out[1:])}, [src])  # type: ignore[index]


def _function_block(kind: str, node: fx.Node, tensors: list[fx.Node]) -> _Block:
    """The built-in block for a call_function/call_method node of ``kind``."""
    x = tensors[0] if tensors else None
    if kind in _ELEMENTWISE:
        return _Block(_ELEMENTWISE[kind], {}, [x])  # type: ignore[list-item]
    if kind in ("add", "mul", "sub"):
        return _elementwise(kind, node, tensors)
    if kind == "cat":
        dim = _arg(node, 1, "dim", 0)
        _require(len(tensors) >= 2, "fewer than two tensors")
        return _Block("builtin.Concat", {"n_inputs": len(tensors), "dim": dim}, tensors)
    if kind == "flatten":
        return _Block("builtin.Flatten", _flatten_params(_arg(node, 1, "start_dim", 0), _arg(node, 2, "end_dim", -1), node), [x])  # type: ignore[list-item]
    if kind in ("reshape", "view"):
        return _reshape(node)
    if kind == "leaky_relu":
        return _Block("builtin.LeakyReLU", {"negative_slope": _arg(node, 1, "negative_slope", 0.01)}, [x])  # type: ignore[list-item]
    if kind == "gelu":
        return _Block("builtin.GELU", _gelu(node.kwargs.get("approximate", "none")), [x])  # type: ignore[list-item]
    if kind == "softmax":
        return _Block("builtin.Softmax", _softmax(_arg(node, 1, "dim", None)), [x])  # type: ignore[list-item]
    if kind == "dropout":
        return _Block("builtin.Dropout", {"p": _arg(node, 1, "p", 0.5)}, [x])  # type: ignore[list-item]
    if kind in ("max_pool2d", "avg_pool2d"):
        kernel = _pair(_arg(node, 1, "kernel_size", None), "kernel_size")
        stride = _arg(node, 2, "stride", None)
        stride = kernel if stride in (None, []) else _pair(stride, "stride")
        _require(_pair(_arg(node, 3, "padding", 0), "padding") == 0, "padding")
        # fx records every keyword the functional passes on; only their defaults match the blocks
        defaults = {"dilation": 1, "ceil_mode": False, "return_indices": False, "count_include_pad": True,
                    "divisor_override": None}
        extra = {k: v for k, v in node.kwargs.items() if k not in ("kernel_size", "stride", "padding")}
        _require(len(node.args) <= 4 and all(defaults.get(k, object()) == v for k, v in extra.items()),
                 f"{extra}")
        block = "builtin.MaxPool2d" if kind == "max_pool2d" else "builtin.AvgPool2d"
        return _Block(block, {"kernel_size": kernel, "stride": 0 if stride == kernel else stride}, [x])  # type: ignore[list-item]
    if kind == "adaptive_avg_pool2d":
        return _Block("builtin.AdaptiveAvgPool2d", _adaptive(_arg(node, 1, "output_size", 1)), [x])  # type: ignore[list-item]
    op = _tensor_op_block(kind, node, tensors)
    if op is not None:
        return op
    raise ValueError("no built-in block")


_LITERALS = (int, float, bool, str, type(None))


def _literal(value: Any, names: dict[fx.Node, str]) -> str:
    """``value`` as source: a tensor input's name, or a literal; ValueError for anything else."""
    if isinstance(value, fx.Node):
        if value not in names:
            raise ValueError(f"its argument {value.name} is not a tensor")
        return names[value]
    if isinstance(value, _LITERALS):
        return repr(value)
    if isinstance(value, tuple | list):
        items = [_literal(v, names) for v in value]
        text = ", ".join(items) + ("," if isinstance(value, tuple) and len(items) == 1 else "")
        return f"({text})" if isinstance(value, tuple) else f"[{text}]"
    if isinstance(value, torch.dtype):
        return str(value)  # "torch.float32"
    raise ValueError(f"an argument of type {type(value).__name__}")


def _callee(target: Any) -> str:
    """The source that names a torch, functional, operator or math function."""
    name = getattr(target, "__name__", "")
    for prefix, home in (("torch.", torch), ("F.", F), ("operator.", operator), ("math.", math)):
        if name and getattr(home, name, None) is target:
            return prefix + name
    raise ValueError("a function outside torch, torch.nn.functional, operator and math")


def _custom(node: fx.Node, tensors: list[fx.Node], module: nn.Module | None) -> _Block:
    """A Custom block whose code calls the node's operation (parameter-free operations only)."""
    _require(bool(tensors), "it reads no tensor (a block computes from its inputs)")
    inputs = ["x"] if len(tensors) == 1 else [f"x{i}" for i in range(1, len(tensors) + 1)]
    names = dict(zip(tensors, inputs, strict=True))
    args = [_literal(a, names) for a in node.args]
    args += [f"{k}={_literal(v, names)}" for k, v in node.kwargs.items()]
    setup = ""
    if node.op == "call_module":
        assert module is not None
        text = f"nn.{module!r}"
        try:
            again = eval(text, {"nn": nn, "torch": torch})  # noqa: S307 - a torch layer's own repr, checked
        except Exception:
            again = None
        if "\n" in text or type(again) is not type(module) or repr(again) != repr(module):
            raise ValueError(f"{type(module).__name__} cannot be rebuilt from its description")
        setup, call = f"layer = {text}\n\n\n", f"layer({', '.join(args)})"
    elif node.op == "call_method":
        call = f"{args[0]}.{node.target}({', '.join(args[1:])})"
    else:
        call = f"{_callee(node.target)}({', '.join(args)})"
    imports = "import operator\n\n\n" if call.startswith("operator.") else ""
    code = f"{imports}{setup}def forward(ctx, {', '.join(inputs)}):\n    return {call}\n"
    return _Block("builtin.Custom", {"inputs": inputs, "outputs": ["y"], "code": code}, tensors)


class _Importer:
    """Walks the traced graph once, adding a block per tensor node through a ProjectBuilder."""

    def __init__(self, module: nn.Module, shapes: list[tuple[int, ...]], registry: Registry, name: str,
                 flat: bool = False, dtypes: list[str] | None = None) -> None:
        self.module = module
        self.dtypes = list(dtypes or [])
        self.dtypes += ["float32"] * (len(shapes) - len(self.dtypes))  # one per input, float32 by default
        self.flat = flat
        self.scopes: dict[str, tuple[str, ...]] = {}  # block id -> the container modules it ran inside
        self.classes: dict[str, str] = {}  # container path -> its class name
        self.shapes = shapes
        self.builder = ProjectBuilder(registry.specs, name)
        self.values: dict[fx.Node, tuple[str, str]] = {}  # tensor node -> (block id, port)
        self.tuples: dict[fx.Node, tuple[str, list[Any]]] = {}  # tuple node -> (block id, its ports, nested)
        self.result = ImportedModule(self.builder.project, {}, {})
        self.names: set[str] = set()
        self.opaque: set[str] = set()  # submodules fx cannot trace, kept whole (Opaque Module blocks)

    def trace(self) -> fx.GraphModule:
        try:
            gm, self.opaque, self.result.asserts = trace_with_opaque(self.module)
        except Exception as e:
            raise FxImportError(
                f"torch.fx cannot trace {type(self.module).__name__}{_user_line(e)}: {type(e).__name__}: "
                f"{str(e).splitlines()[0]}{_trace_hint(e)}"
            ) from e
        placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
        if len(placeholders) != len(self.shapes):
            raise FxImportError(
                f"{type(self.module).__name__}.forward takes {len(placeholders)} input(s) "
                f"({', '.join(n.name for n in placeholders)}); give one --input-shape for each"
            )
        probe = copy.deepcopy(gm).eval()  # shapes only: running it must not touch the original's statistics
        # token ids: zeros are a valid id for any Embedding
        examples = [torch.zeros(EXAMPLE_BATCH, *s, dtype=torch.int64) if dt == "int64" else torch.randn(EXAMPLE_BATCH, *s)
                    for s, dt in zip(self.shapes, self.dtypes, strict=True)]
        with torch.no_grad():
            if self.result.asserts:  # left out of the graph: they must hold where they were specialised
                original = copy.deepcopy(self.module).eval()
                try:
                    original(*examples)
                except AssertionError as e:
                    raise FxImportError(
                        f"{type(self.module).__name__}'s assert{_user_line(e)} fails on inputs {self.shapes}"
                        f"{': ' + str(e) if str(e) else ''}") from e
                except Exception:  # noqa: BLE001 - the traced copy below names what fails
                    pass
            try:
                ShapeProp(probe).propagate(*examples)
            except Exception as e:
                raise FxImportError(f"running {type(self.module).__name__} on inputs {self.shapes} failed: {e}") from e
        for mine, theirs in zip(gm.graph.nodes, probe.graph.nodes, strict=True):
            mine.meta.update(theirs.meta)
        return gm

    def _name(self, base: str) -> str:
        out, n = base, 2
        while out in self.names:
            out, n = f"{base}_{n}", n + 1
        self.names.add(out)
        return out

    def _add(self, node: fx.Node, spec: _Block, name: str) -> str:
        bid = self.builder.add(spec.type, self._name(name), **spec.params)
        self._scope(bid, node)
        inputs = [p.name for p in self.builder.project.graph.blocks[bid].inputs]
        for port, src in zip(inputs, spec.inputs, strict=False):
            self.builder.link(*self.values[src], bid, port)
        self.result.blocks[node.name] = bid
        return bid

    def _scope(self, bid: str, node: fx.Node) -> None:
        """Record the container modules ``node`` ran inside (not a called layer itself)."""
        stack = node.meta.get("nn_module_stack") or {}
        # fx names a layer's second call "relu@1": that is the layer, not a container
        paths = [p for p in stack if not (node.op == "call_module" and p.partition("@")[0] == node.target)]
        for p in paths:
            cls = stack[p][1] if isinstance(stack[p], tuple) else stack[p]
            self.classes[p] = getattr(cls, "__name__", str(cls).rpartition(".")[2])
        self.scopes[bid] = tuple(paths)

    def _fail(self, node: fx.Node, why: str) -> FxImportError:
        target = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", repr(node.target))
        return FxImportError(f"node {node.name!r} ({node.op} {target}): {why}")

    def node(self, node: fx.Node, gm: fx.GraphModule) -> None:
        if node.op == "placeholder":
            index = len([v for v in self.values if v.op == "placeholder"])
            params: dict[str, Any] = {"source": "noise", "noise_shape": list(self.shapes[index])}
            if self.dtypes[index] == "int64":  # random ids below the vocabulary of the Embeddings reading them
                vocab = [gm.get_submodule(str(u.target)).num_embeddings for u in node.users
                         if u.op == "call_module" and isinstance(gm.get_submodule(str(u.target)), nn.Embedding)]
                params["noise_ids"] = min(vocab) if vocab else 2
            bid = self._add(node, _Block("builtin.Input", params), node.name)
            self.values[node] = (bid, "x")
            return
        if node.op == "output":
            results = node.args[0] if isinstance(node.args[0], tuple | list) else (node.args[0],)
            for i, r in enumerate(results):
                if not isinstance(r, fx.Node) or r not in self.values:
                    raise self._fail(node, f"output {i} is not a tensor the blocks compute")
                self._add(node, _Block("builtin.Output", {}, [r]), "output" if len(results) == 1 else f"output_{i}")
            return
        if node.op == "call_function" and node.target is operator.getitem and node.args[0] in self.tuples:
            self._element(node)
            return
        returns_tuple = _is_tuple(node)
        if _shape(node) is None and not returns_tuple:
            # a shape helper (x.size(0), x.shape): it feeds the arguments of the node reading it
            if any(u.op == "output" for u in node.users):
                raise self._fail(node, "the module returns a value that is not a tensor")
            return
        tensors = [a for a in node.all_input_nodes if a in self.values]
        if node.op == "get_attr":
            self._learned_tensor(node, gm)
            return
        module = gm.get_submodule(str(node.target)) if node.op == "call_module" else None
        stateful = module is not None and any(True for _ in module.state_dict())
        opaque = node.op == "call_module" and node.target in self.opaque
        try:
            spec = self._opaque(node, tensors, module, returns_tuple) if opaque else self._builtin(node, tensors, module)
        except FxImportError:
            raise
        except ValueError as builtin_why:
            if stateful:  # a Custom block holds no weights, and a torch layer's class is no code to copy
                raise self._fail(node, f"the built-in {type(module).__name__} block cannot build it ({builtin_why})") from None
            if returns_tuple:  # a Custom block has one output: its parts would be lost
                raise self._fail(node, f"returns a tuple of tensors and no built-in block gives its parts as ports "
                                       f"({builtin_why})") from None
            try:
                spec = _custom(node, tensors, module)
            except ValueError as why:
                raise self._fail(node, f"no built-in block, and no Custom block can call it: {why}") from None
            self.result.custom.append(node.name)
        bid = self._add(node, spec, str(node.target) if node.op == "call_module" else node.name)
        if stateful:
            self.result.layers[bid] = str(node.target)
        if spec.outputs is not None:
            self.tuples[node] = (bid, spec.outputs)
        else:  # the block's one output: "y", or e.g. Position Ids' "ids"
            self.values[node] = (bid, self.builder.project.graph.blocks[bid].outputs[0].name)

    def _opaque(self, node: fx.Node, tensors: list[fx.Node], module: nn.Module | None, returns_tuple: bool) -> _Block:
        """A submodule fx cannot trace: one Opaque Module block running its own class."""
        assert module is not None
        try:
            params = opaque_params(node, module, returns_tuple, tensors)
        except ValueError as why:
            raise self._fail(node, f"torch.fx cannot trace it and it cannot be an Opaque Module block: {why}") from None
        self.result.opaque.append(str(node.target))
        return _Block("builtin.OpaqueModule", params, tensors, outputs=params["outputs"] if returns_tuple else None)

    def _learned_tensor(self, node: fx.Node, gm: fx.GraphModule) -> None:
        """``self.pos`` read directly (a learned position table of shape (1, …)): a Learned
        Tensor block, one copy per sample of the first input; its values are copied too."""
        target = str(node.target)
        try:
            param = gm.get_parameter(target)
        except AttributeError:
            raise self._fail(node, "reads a buffer directly; only parameters and layers can be imported") from None
        if param.dim() < 2 or param.shape[0] != 1:
            raise self._fail(node, f"reads the parameter {target} of shape {tuple(param.shape)} whole; a Learned "
                                   "Tensor block gives one copy per sample, so only (1, …) tables come in")
        first = next(v for v in self.values if v.op == "placeholder")
        spec = _Block("builtin.LearnedTensor", {"shape": list(param.shape[1:]), "init": "zeros"}, [first])
        bid = self._add(node, spec, target)
        self.values[node] = (bid, "y")
        self.result.tensors[bid] = target

    def _shared_weights(self) -> list[Tie]:
        """A layer called twice (a Siamese tower) is two blocks, and two layers may hold one tensor
        (tied embeddings): each parameter after its first block is tied to it."""
        first: dict[int, tuple[str, str]] = {}  # id(parameter) -> (block id, its name there)
        ties: list[Tie] = []
        for bid, target in self.result.layers.items():
            for name, p in self.module.get_submodule(target).named_parameters(remove_duplicate=False):
                owner = first.setdefault(id(p), (bid, name))
                if owner[0] != bid:
                    ties.append(Tie(bid, name, *owner))
        return ties

    def _element(self, node: fx.Node) -> None:
        """``out[i]`` of a layer returning a tuple: one of its block's ports (no block of its own),
        or a nested tuple; a final state, which the block gives batch first, gets a Transpose back
        to torch's (layers, batch, hidden) so the code reading it sees what it saw before."""
        bid, parts = self.tuples[node.args[0]]  # type: ignore[index]
        index = node.args[1]
        if not isinstance(index, int) or not -len(parts) <= index < len(parts):
            raise self._fail(node, f"indexes a tuple of {len(parts)} with {index!r}")
        part = parts[index]
        if isinstance(part, list):
            self.tuples[node] = (bid, part)
        elif isinstance(part, tuple):
            if not node.users:  # unpacked but never read (``out, (h, c) = lstm(x)`` without c)
                return
            tid = self.builder.add("builtin.Transpose", self._name(node.name), dim0=0, dim1=1)
            self._scope(tid, node)
            self.builder.link(bid, part[1], tid, "x")
            self.result.blocks[node.name] = tid
            self.values[node] = (tid, "y")
        else:
            self.values[node] = (bid, part)

    def _builtin(self, node: fx.Node, tensors: list[fx.Node], module: nn.Module | None) -> _Block:
        if module is not None:
            entry = MODULES.get(type(module))
            if entry is None:
                raise ValueError("no built-in block")
            type_id, params = entry
            return _Block(type_id, params(module, node), tensors[:1], outputs=RECURRENT_OUTPUTS.get(type(module)))
        kind = str(node.target) if node.op == "call_method" else _FUNCTIONS.get(node.target)
        if kind is None:
            raise ValueError("no built-in block")
        return _function_block(kind, node, tensors)

    def run(self) -> ImportedModule:
        gm = self.trace()
        for node in gm.graph.nodes:
            self.node(node, gm)
        project = self.builder.project
        ties = self._shared_weights()
        if ties:
            self.builder.history.do(SetTies(ties, "shared weights of the module"))
        if self.flat:
            for bid, pos in auto_layout(project.graph, origin=(40.0, 40.0)).items():
                self.builder.history.do(Move(bid, pos))
        else:
            nest_by_module(self.builder, self.scopes, self.classes)
        self.result.parameters = sum(p.numel() for p in self.module.parameters())
        return self.result


def import_module(
    module: nn.Module, input_shapes: list[tuple[int, ...]], registry: Registry, name: str | None = None,
    flat: bool = False, input_dtypes: list[str] | None = None,
) -> ImportedModule:
    """A project with one block per tensor node of ``module``'s traced forward (see the module
    doc), nested in one SuperBlock per submodule unless ``flat``; ``input_dtypes`` per input:
    "float32" (default) or "int64" (token ids)."""
    return _Importer(module, [tuple(s) for s in input_shapes], registry, name or type(module).__name__, flat,
                     input_dtypes).run()


def copy_weights(imported: ImportedModule, module: nn.Module, result: CompileResult) -> None:
    """Load the original layers' parameters and buffers into the compiled model's blocks."""
    for bid, target in imported.layers.items():
        original = module.get_submodule(target)
        built = result.model.block_modules[bid]
        try:
            built.load_state_dict(original.state_dict())
        except RuntimeError as e:
            raise FxImportError(f"layer {target}: its weights do not fit the block ({str(e).splitlines()[0]})") from e
    with torch.no_grad():
        for bid, target in imported.tensors.items():
            built = result.model.block_modules[bid]
            built.weight.copy_(module.get_parameter(target).reshape(built.weight.shape))


def write_weights(
    imported: ImportedModule, module: nn.Module, registry: Registry, project_dir: Path | str, path: Path | str
) -> CompileResult:
    """Compile the imported project, copy the weights in, and save them as a training checkpoint.

    Raises FxImportError when the project's parameter count differs from the module's.
    """
    from dpg_blocks.core.project_file import project_to_dict

    with torch.random.fork_rng(devices=[]):  # building draws initial weights; they are replaced
        result = compile_project(imported.project, registry, project_dir, trusted=True)
    count = sum(p.numel() for p in result.model.parameters())
    if count != imported.parameters:
        raise FxImportError(f"the blocks hold {count} parameters, the module {imported.parameters}")
    copy_weights(imported, module, result)
    # the layout of Trainer.save_checkpoint, so Trainer.load_checkpoint and export --weights read it
    state = {"epoch": 0, "model": result.model.state_dict(), "optimizers": {}, "schedulers": {}, "metrics": {},
             "project": json.dumps(project_to_dict(imported.project))}
    buffer = io.BytesIO()  # torch reports a full disk as a RuntimeError; the atomic writer as OSError
    torch.save(state, buffer)
    write_bytes_atomic(path, buffer.getvalue())  # a kill or a full disk leaves no truncated file
    return result


@dataclass
class ImportReport:
    """What :func:`import_to_project` wrote: the project, its weights and what it holds."""

    project_path: Path
    weights_path: Path | None
    blocks: int
    parameters: int
    custom: list[str]
    opaque: list[str] = field(default_factory=list)
    asserts: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """The lines the CLI prints and the editor's status line shows (joined)."""
        lines = [f"wrote {self.project_path} ({self.blocks} blocks, {self.parameters} parameters)"]
        if self.weights_path is not None:
            lines.append(f"wrote the weights to {self.weights_path}: training starts from them (the project's "
                         f"training.weights; dpg-blocks export {self.project_path.name} --onnx --weights "
                         f"{self.weights_path.name} … for ONNX)")
        if self.custom:
            lines.append(f"Custom blocks calling operations without a built-in block: {', '.join(self.custom)}")
        if self.opaque:
            lines.append(f"Opaque Module blocks running their own class (torch.fx cannot trace them): "
                         f"{', '.join(self.opaque)}")
        if self.asserts:
            lines.append(f"asserts checked once on the example input and left out of the graph (each block "
                         f"checks its own shapes): {', '.join(self.asserts)}")
        return "\n".join(lines)


def import_to_project(
    ref: str,
    input_shapes: list[tuple[int, ...]],
    out: Path | str,
    registry: Registry,
    args_json: str | None = None,
    weights: bool = True,
    flat: bool = False,
    input_dtypes: list[str] | None = None,
) -> ImportReport:
    """Import ``FILE.py:ClassName`` into the project file ``out`` (the CLI's ``import`` and the editor's).

    Records the trust of the generated Custom code and writes ``out`` with ``.weights.pt`` next
    to it. Every failure is raised as FxImportError, its message ready to show.
    """
    from dpg_blocks.core import save_project
    from dpg_blocks.core.trust import TrustStore, code_digest, project_code

    from .compiler import CompileError

    try:
        init = json.loads(args_json) if args_json else None
        if init is not None and not isinstance(init, list | dict):
            raise FxImportError("--args takes a JSON list (positional) or object (keywords)")
        module = load_module(ref, init)
        imported = import_module(module, input_shapes, registry, flat=flat, input_dtypes=input_dtypes)
        path = Path(out).expanduser().resolve()
        if weights:  # training (CLI, editor, exported script) starts from the module's own weights
            imported.project.training.weights = path.with_suffix(".weights.pt").name
        save_project(imported.project, path)
        # The code of its Custom blocks was generated from the user's own module, which this
        # import has already run: record it as trusted, as for a project the user made.
        digest = code_digest(project_code(imported.project, registry.code_params))
        if digest is not None:
            TrustStore().trust(digest, imported.project.name, str(path))
        weights_path = path.with_suffix(".weights.pt") if weights else None
        if weights_path is not None:
            write_weights(imported, module, registry, path.parent, weights_path)
    except FxImportError:
        raise
    except json.JSONDecodeError as e:
        raise FxImportError(f"--args is not JSON ({e})") from e
    except CompileError as e:
        raise FxImportError(f"the imported project does not validate: {e}") from e
    except OSError as e:
        raise FxImportError(str(e)) from e
    except Exception as e:  # the module's own constructor or code failed
        raise FxImportError(f"{type(e).__name__}: {e}") from e
    return ImportReport(path, weights_path, len(imported.project.graph.blocks), imported.parameters,
                        list(imported.custom), list(imported.opaque), list(imported.asserts))
