"""Sequence layers: Embedding (token ids -> vectors) and the recurrent RNN, GRU and LSTM.

Sequences are batch first, (batch, length, features), as everywhere in dpg-blocks. A recurrent
block gives the whole output sequence, the last layer's final state (what a classifier reads)
and every layer's final state as separate ports.
"""

from __future__ import annotations

from typing import Any

from dpg_blocks.blocks import BuildContext, In, Out, Param, block

from .shapes import fmt, require_rank


@block("builtin.Embedding", category="Layers/Sequence", name="Embedding", version=1)
class Embedding:
    """Looks up a learned vector for each id: (batch, length) ids -> (batch, length, dim).

    Ids are whole numbers 0 … num embeddings − 1 (token numbers, categories); number columns of
    a CSV are accepted and rounded down. Ids of any shape work: each becomes one vector.
    """

    ids = In("tensor", doc="Whole-number ids, shape (batch, …).")
    y = Out("tensor", doc="One vector per id: shape (batch, …, embedding dim).")

    num_embeddings = Param(int, 1000, min=1, doc="How many different ids there are (the vocabulary size).")
    embedding_dim = Param(int, 64, min=1, doc="Length of each learned vector.")
    padding_idx = Param(int, -1, min=-1, doc="An id whose vector stays zero and is not trained (padding); -1: none.")

    def build(self, ctx: BuildContext) -> Any:
        """An ``nn.Embedding`` that accepts ids of any number type."""
        shape = ctx.in_shape("ids")
        if len(shape) < 1:
            raise ValueError(f"Embedding expects ids of shape (batch, …) but got shape {fmt(shape)}")
        if self.padding_idx >= self.num_embeddings:
            raise ValueError(
                f"Embedding: padding id {self.padding_idx} is not below num embeddings {self.num_embeddings}"
            )
        from .sequence_modules import EmbeddingIds

        return EmbeddingIds(self.num_embeddings, self.embedding_dim, None if self.padding_idx < 0 else self.padding_idx)


class _Recurrent:
    """What RNN, GRU and LSTM share: the ports, the params and the input check."""

    label = "Recurrent layer"

    x = In("tensor", doc="A batch of sequences, shape (batch, length, features).")
    seq = Out("tensor", doc="The last layer's output at every step: (batch, length, hidden × directions).")
    last = Out("tensor", doc="The last layer's final state, both directions side by side: (batch, hidden × directions).")
    state = Out("tensor", doc="Every layer's and direction's final state: (batch, layers × directions, hidden).")

    hidden_size = Param(int, 64, min=1, doc="Size of the state carried from step to step.")
    num_layers = Param(int, 1, min=1, max=16, doc="Recurrent layers stacked, each reading the one below.")
    bidirectional = Param(bool, False, doc="Also read each sequence backwards; outputs then have 2 × hidden values.")
    dropout = Param(float, 0.0, min=0.0, max=0.99, doc="Dropout between stacked layers (needs 2 or more layers).")
    bias = Param(bool, True, doc="Learned biases in the gates.")

    def _input_size(self, ctx: BuildContext) -> int:
        shape = ctx.in_shape("x")
        require_rank(self.label, shape, 3, "(batch, length, features)")
        if shape[1] < 1:
            raise ValueError(f"{self.label}: the sequences are empty, shape {fmt(shape)}")
        return int(shape[2])

    def _args(self, ctx: BuildContext) -> tuple[int, int, int]:
        return self._input_size(ctx), self.hidden_size, self.num_layers


@block("builtin.RNN", category="Layers/Sequence", name="RNN", version=1)
class RNN(_Recurrent):
    """A plain (Elman) recurrent layer: h_t = tanh(W·x_t + U·h_(t−1) + b)."""

    label = "RNN"
    nonlinearity = Param(str, "tanh", choices=["tanh", "relu"], doc="The activation of each step.")

    def build(self, ctx: BuildContext) -> Any:
        """An ``nn.RNN`` (batch first) returning sequence, last state and all states."""
        from .sequence_modules import RNNLayer

        return RNNLayer(*self._args(ctx), self.nonlinearity, self.bias, True, self.dropout, self.bidirectional)


@block("builtin.GRU", category="Layers/Sequence", name="GRU", version=1)
class GRU(_Recurrent):
    """A gated recurrent unit: like an LSTM with fewer gates, often as good and faster."""

    label = "GRU"

    def build(self, ctx: BuildContext) -> Any:
        """An ``nn.GRU`` (batch first) returning sequence, last state and all states."""
        from .sequence_modules import GRULayer

        return GRULayer(*self._args(ctx), self.bias, True, self.dropout, self.bidirectional)


@block("builtin.LSTM", category="Layers/Sequence", name="LSTM", version=1)
class LSTM(_Recurrent):
    """Long short-term memory: a recurrent layer whose gated cell keeps information over long
    sequences. Besides the hidden states it gives the final cell states."""

    label = "LSTM"
    cell = Out("tensor", doc="Every layer's and direction's final cell state: (batch, layers × directions, hidden).")

    def build(self, ctx: BuildContext) -> Any:
        """An ``nn.LSTM`` (batch first) returning sequence, last state, all states and cells."""
        from .sequence_modules import LSTMLayer

        return LSTMLayer(*self._args(ctx), self.bias, True, self.dropout, self.bidirectional)
