"""Functions and methods to blocks, for the fx import: ``torch``/``F``/``operator`` calls and tensor
methods with a built-in block, shape arguments folded in, and Custom blocks for the rest."""

from __future__ import annotations

import math
import operator
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from .import_layers import (
    BATCHED,
    _adaptive,
    _Block,
    _flatten_params,
    _gelu,
    _pair,
    _require,
    _shape,
    _softmax,
)

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
