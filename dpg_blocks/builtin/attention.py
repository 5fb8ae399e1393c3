"""Attention: multi-head attention (self or cross, causal and padding masks) and the plain
scaled dot-product attention it is made of."""

from __future__ import annotations

from typing import Any

from dpg_blocks.blocks import BuildContext, In, Out, Param, block

from .shapes import fmt, require_rank


def _shape(ctx: BuildContext, port: str) -> tuple[int, ...] | None:
    """The shape at an optional port; None when it is not linked (or null in this order)."""
    if not ctx.connected(port):
        return None
    try:
        return tuple(ctx.in_shape(port))
    except (LookupError, ValueError):
        return None


@block("builtin.MultiheadAttention", category="Layers/Attention", name="Multi-Head Attention", version=1)
class MultiheadAttention:
    """Each position of the query gathers information from the positions of the key/value
    sequence, weighted by how well they match, in several heads at once (as in Transformers).

    Link only the query for self-attention (key and value are then the query); link a key (and
    a value) for cross-attention. Tick 'causal' for a language model: a position then sees only
    itself and earlier positions. A padding mask (batch, key length), non-zero at padded
    positions, keeps attention off them.
    """

    query = In("tensor", doc="The sequences that attend: (batch, length, embed dim).")
    key = In("tensor", optional=True, doc="The sequences attended to: (batch, source length, key dim); default: the query.")
    value = In("tensor", optional=True, doc="What is gathered: (batch, source length, value dim); default: the key.")
    padding_mask = In("tensor", optional=True, doc="(batch, source length): non-zero at positions to ignore.")
    y = Out("tensor", doc="The attended sequences: (batch, length, embed dim).")
    weights = Out("tensor", doc="Attention weights averaged over the heads: (batch, length, source length).")

    num_heads = Param(int, 4, min=1, doc="Heads working side by side; the embed dim must divide by it.")
    causal = Param(bool, False, doc="Each position attends only to itself and earlier positions (language models).")
    dropout = Param(float, 0.0, min=0.0, max=0.99, doc="Dropout on the attention weights while training.")
    bias = Param(bool, True, doc="Learned biases in the projections.")

    def build(self, ctx: BuildContext) -> Any:
        """An ``nn.MultiheadAttention`` (batch first) sized from the query, key and value."""
        q = tuple(ctx.in_shape("query"))
        require_rank("Multi-Head Attention (query)", q, 3, "(batch, length, embed dim)")
        k, v, pad = _shape(ctx, "key"), _shape(ctx, "value"), _shape(ctx, "padding_mask")
        k = k if k is not None else q
        v = v if v is not None else k
        for port, s in (("key", k), ("value", v)):
            require_rank(f"Multi-Head Attention ({port})", s, 3, "(batch, source length, dim)")
        embed = q[2]
        if embed % self.num_heads:
            raise ValueError(
                f"Multi-Head Attention: the embed dim {embed} (query {fmt(q)}) does not divide into {self.num_heads} "
                "heads; change 'num heads' or the embed dim"
            )
        if k[1] != v[1]:
            raise ValueError(f"Multi-Head Attention: key {fmt(k)} and value {fmt(v)} differ in length")
        if self.causal and k[1] != q[1]:
            raise ValueError(
                f"Multi-Head Attention: 'causal' needs a key as long as the query, got query {fmt(q)} and key {fmt(k)}"
            )
        if pad is not None and tuple(pad) != (k[0], k[1]):
            raise ValueError(
                f"Multi-Head Attention: the padding mask must be (batch, source length) = {fmt((k[0], k[1]))}, "
                f"got {fmt(pad)}"
            )
        from .sequence_modules import Attention

        return Attention(embed, self.num_heads, self.dropout, self.bias, k[2], v[2], self.causal)


@block("builtin.ScaledDotProductAttention", category="Layers/Attention", name="Dot-Product Attention", version=1)
class ScaledDotProductAttention:
    """softmax(q·kᵀ / √d)·v: attention without learned weights, over the last two dims.

    q (…, length, d), k (…, source length, d), v (…, source length, dv) → (…, length, dv); the
    leading dims (batch, heads) must match. A mask (length, source length) or (…, length,
    source length) is non-zero where a query may look; 'causal' masks later positions.
    """

    q = In("tensor", doc="Queries: (batch, …, length, d).")
    k = In("tensor", doc="Keys: (batch, …, source length, d).")
    v = In("tensor", doc="Values: (batch, …, source length, value dim).")
    mask = In("tensor", optional=True, doc="Non-zero where a query may attend to a key.")
    y = Out("tensor", doc="(batch, …, length, value dim).")

    causal = Param(bool, False, doc="Each position attends only to itself and earlier positions.")
    dropout = Param(float, 0.0, min=0.0, max=0.99, doc="Dropout on the attention weights while training.")

    def build(self, ctx: BuildContext) -> Any:
        """``F.scaled_dot_product_attention`` with the mask and causal flag."""
        q, k, v = (tuple(ctx.in_shape(p)) for p in ("q", "k", "v"))
        if min(len(q), len(k), len(v)) < 3:
            raise ValueError(f"Dot-Product Attention expects (batch, …, length, d) inputs, got q {fmt(q)}, k {fmt(k)}, v {fmt(v)}")
        if q[-1] != k[-1] or k[-2] != v[-2] or not (q[:-2] == k[:-2] == v[:-2]):
            raise ValueError(
                f"Dot-Product Attention: q {fmt(q)} and k {fmt(k)} must share the last dim, k and v {fmt(v)} the "
                "length, and all three the leading dims"
            )
        from .sequence_modules import DotProductAttention

        return DotProductAttention(self.dropout, self.causal)
