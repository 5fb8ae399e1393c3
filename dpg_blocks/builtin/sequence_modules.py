"""The torch Modules of the sequence, attention, resampling and tensor-op blocks.

Like ``modules.py`` (imported only from inside ``build()``; classes at module level so models
pickle and export by name; decisions made at build time, never in ``forward``), each class has
``export_args()`` so export to PyTorch copies it into the standalone script. The recurrent and
attention layers subclass torch's own, so their parameter names (``weight_ih_l0``,
``in_proj_weight``…) are torch's and an imported model's ``state_dict`` loads into them as is.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .shapes import fmt


class EmbeddingIds(nn.Embedding):
    """``nn.Embedding`` that takes ids of any number type (a CSV's columns arrive as float32)."""

    def forward(self, ids: Tensor) -> Tensor:
        try:
            return F.embedding(ids.long(), self.weight, self.padding_idx)
        except IndexError:
            lo, hi = int(ids.min()), int(ids.max())
            raise ValueError(
                f"Embedding: ids must be whole numbers 0 to {self.num_embeddings - 1}, but the input holds "
                f"{lo} to {hi}; raise 'num embeddings' to at least {hi + 1}"
            ) from None

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return (self.num_embeddings, self.embedding_dim, self.padding_idx)


def _final_states(h: Tensor, bidirectional: bool) -> tuple[Tensor, Tensor]:
    """(last layer's final state, both directions side by side: (N, H·dirs); every layer's and
    direction's final state batch-first: (N, layers·dirs, H))."""
    last = torch.cat((h[-2], h[-1]), dim=1) if bidirectional else h[-1]
    return last, h.transpose(0, 1)


class RNNLayer(nn.RNN):
    """``nn.RNN`` (batch first) returning ``(seq, last, state)``."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:  # type: ignore[override]
        seq, h = super().forward(x)
        return (seq, *_final_states(h, self.bidirectional))

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return (self.input_size, self.hidden_size, self.num_layers, self.nonlinearity, self.bias, True,
                self.dropout, self.bidirectional)


class GRULayer(nn.GRU):
    """``nn.GRU`` (batch first) returning ``(seq, last, state)``."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:  # type: ignore[override]
        seq, h = super().forward(x)
        return (seq, *_final_states(h, self.bidirectional))

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return (self.input_size, self.hidden_size, self.num_layers, self.bias, True, self.dropout, self.bidirectional)


class LSTMLayer(nn.LSTM):
    """``nn.LSTM`` (batch first) returning ``(seq, last, state, cell)``."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:  # type: ignore[override]
        seq, (h, c) = super().forward(x)
        return (seq, *_final_states(h, self.bidirectional), c.transpose(0, 1))

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return (self.input_size, self.hidden_size, self.num_layers, self.bias, True, self.dropout, self.bidirectional)


def causal_mask(length: int, source: int, device: torch.device) -> Tensor:
    """True where a query position may not look: at later key positions."""
    return torch.ones(length, source, dtype=torch.bool, device=device).triu(1)


class Attention(nn.MultiheadAttention):
    """``nn.MultiheadAttention`` (batch first): ``(query, key, value, padding_mask) -> (y, weights)``.

    A missing key is the query (self-attention) and a missing value the key. ``padding_mask``
    (N, S) is non-zero at the key positions to ignore (padding). With ``causal`` a position
    attends only to itself and earlier ones. ``weights`` are averaged over the heads.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float, bias: bool, kdim: int, vdim: int,
                 causal: bool) -> None:
        super().__init__(embed_dim, num_heads, dropout=dropout, bias=bias, kdim=kdim, vdim=vdim, batch_first=True)
        self.causal = causal

    def forward(self, query: Tensor, key: Tensor | None = None, value: Tensor | None = None,  # type: ignore[override]
                padding_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        key = query if key is None else key
        value = key if value is None else value
        mask = causal_mask(query.shape[1], key.shape[1], query.device) if self.causal else None
        pad = padding_mask.bool() if padding_mask is not None else None
        y, weights = super().forward(query, key, value, key_padding_mask=pad, attn_mask=mask, need_weights=True)
        return y, weights

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return (self.embed_dim, self.num_heads, self.dropout, self.in_proj_bias is not None, self.kdim, self.vdim,
                self.causal)


class DotProductAttention(nn.Module):
    """``F.scaled_dot_product_attention(q, k, v)``; ``mask`` non-zero where a query may look."""

    def __init__(self, dropout: float, causal: bool) -> None:
        super().__init__()
        self.dropout, self.causal = dropout, causal

    def forward(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None) -> Tensor:
        p = self.dropout if self.training else 0.0
        allowed = mask.bool() if mask is not None else None
        return F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=p, is_causal=self.causal)

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return (self.dropout, self.causal)


class Pad(nn.Module):
    """``F.pad`` with a mode: constant (``value``), reflect, replicate or circular."""

    def __init__(self, padding: tuple[int, ...], mode: str, value: float) -> None:
        super().__init__()
        self.padding, self.mode, self.value = tuple(padding), mode, value

    def forward(self, x: Tensor) -> Tensor:
        if self.mode == "constant":
            return F.pad(x, self.padding, value=self.value)
        return F.pad(x, self.padding, mode=self.mode)

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return (self.padding, self.mode, self.value)


class Permute(nn.Module):
    """``x.permute(*dims)``."""

    def __init__(self, dims: tuple[int, ...]) -> None:
        super().__init__()
        self.dims = tuple(dims)

    def forward(self, x: Tensor) -> Tensor:
        return x.permute(self.dims)

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return (self.dims,)


class Abs(nn.Module):
    """``x.abs()``."""

    def forward(self, x: Tensor) -> Tensor:
        return x.abs()

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return ()


class Transpose(nn.Module):
    """``x.transpose(dim0, dim1)``."""

    def __init__(self, dim0: int, dim1: int) -> None:
        super().__init__()
        self.dim0, self.dim1 = dim0, dim1

    def forward(self, x: Tensor) -> Tensor:
        return x.transpose(self.dim0, self.dim1)

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return (self.dim0, self.dim1)


class MatMul(nn.Module):
    """``torch.matmul(a, b)`` (batched over the leading dims)."""

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        try:
            return torch.matmul(a, b)
        except RuntimeError:
            raise ValueError(f"Matrix Multiply: cannot multiply {fmt(a.shape)} by {fmt(b.shape)}") from None

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return ()


class Chunk(nn.Module):
    """``x.chunk(chunks, dim)``: equal parts (the build checks there are exactly ``chunks``)."""

    def __init__(self, chunks: int, dim: int) -> None:
        super().__init__()
        self.chunks, self.dim = chunks, dim

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        return x.chunk(self.chunks, self.dim)

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return (self.chunks, self.dim)


class Reduce(nn.Module):
    """The mean or the sum over ``dims``."""

    def __init__(self, how: str, dims: tuple[int, ...], keepdim: bool) -> None:
        super().__init__()
        self.how, self.dims, self.keepdim = how, tuple(dims), keepdim
        self.op = torch.mean if how == "mean" else torch.sum

    def forward(self, x: Tensor) -> Tensor:
        return self.op(x, dim=self.dims, keepdim=self.keepdim)

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return (self.how, self.dims, self.keepdim)


class PositionIds(nn.Module):
    """0, 1, 2 … along ``dim`` of ``x``, one row per sample: (N, L) int64 (an Embedding's ids)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        ids = torch.arange(x.shape[self.dim], device=x.device)
        return ids.unsqueeze(0).expand(x.shape[0], -1)

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return (self.dim,)


class Select(nn.Module):
    """``x.select(dim, index)``."""

    def __init__(self, dim: int, index: int) -> None:
        super().__init__()
        self.dim, self.index = dim, index

    def forward(self, x: Tensor) -> Tensor:
        return x.select(self.dim, self.index)

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return (self.dim, self.index)


class Slice(nn.Module):
    """``x[..., start:end:step]`` along ``dim`` (``end`` None: to the end)."""

    def __init__(self, dim: int, start: int, end: int | None, step: int) -> None:
        super().__init__()
        self.dim, self.start, self.end, self.step = dim, start, end, step
        self.index = (slice(None),) * dim + (slice(start, end, step),)

    def forward(self, x: Tensor) -> Tensor:
        return x[self.index]

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return (self.dim, self.start, self.end, self.step)


class LearnedTensor(nn.Module):
    """A learned ``weight`` of ``shape``, expanded to the reference's batch (no copy)."""

    def __init__(self, shape: tuple[int, ...], init: str) -> None:
        super().__init__()
        self.init = init
        self.weight = nn.Parameter(torch.empty(shape))
        if init == "normal":
            nn.init.normal_(self.weight, std=0.02)
        else:
            nn.init.constant_(self.weight, 0.0 if init == "zeros" else 1.0)

    def forward(self, like: Tensor) -> Tensor:
        return self.weight.unsqueeze(0).expand(like.shape[0], *self.weight.shape)

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return (tuple(self.weight.shape), self.init)
