"""Layers to blocks, for the fx import: each ``nn.Module`` class the built-in pack builds exactly,
with the block params read from the layer's configuration (``MODULES``); what one node becomes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import fx, nn

# node.meta key: the block computes this value with a leading batch dim its traced shape lacks
BATCHED = "dpg_blocks_batched"


@dataclass
class _Block:
    """What one fx node becomes: a block type, its params, and the nodes feeding its inputs."""

    type: str
    params: dict[str, Any] = field(default_factory=dict)
    inputs: list[fx.Node] = field(default_factory=list)
    # a layer returning a tuple: its elements as output ports, nested as the module nests them;
    # a ("torch", port) element is a batch-first state torch gives (layers, batch, hidden)
    outputs: list[Any] | None = None



def _shape(node: fx.Node) -> tuple[int, ...] | None:
    meta = node.meta.get("tensor_meta")
    return tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else None



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
