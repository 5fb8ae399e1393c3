"""Tensor operations models are made of, as blocks with params: Identity, Absolute, Permute, Transpose,
Matrix Multiply, Log-Softmax, Chunk, Mean, Sum and Position Ids. Importing a model maps its
``permute``/``matmul``/``chunk``… calls to these, so the graph reads as what it does."""

from __future__ import annotations

from typing import Any

from dpg_blocks.blocks import BuildContext, In, Out, Param, block

from .shapes import fmt, require_dim

CATEGORY = "Tensor ops"


@block("builtin.Identity", category=CATEGORY, name="Identity", version=1)
class Identity:
    """Passes its input through unchanged (a placeholder, or a named point to watch)."""

    x = In("tensor", doc="Any tensor.")
    y = Out("tensor", doc="The same tensor.")

    def build(self, ctx: BuildContext) -> Any:
        """An ``nn.Identity``."""
        from torch import nn

        return nn.Identity()


@block("builtin.Abs", category=CATEGORY, name="Absolute", version=1)
class Abs:
    """The absolute value of every element (``x.abs()``), e.g. the distance of two towers' outputs."""

    x = In("tensor", doc="Any tensor.")
    y = Out("tensor", doc="|x|, same shape.")

    def build(self, ctx: BuildContext) -> Any:
        """An ``Abs`` module."""
        from .sequence_modules import Abs as AbsModule

        return AbsModule()


@block("builtin.Permute", category=CATEGORY, name="Permute", version=1)
class Permute:
    """Reorders the dims, e.g. [0, 2, 1] turns (batch, length, channels) into (batch, channels,
    length). List every dim once; keep 0 first to keep the batch first."""

    x = In("tensor", doc="Any tensor.")
    y = Out("tensor", doc="The tensor with its dims in the order given.")

    dims = Param("ints", [0, 2, 1], doc="The new order of the dims, e.g. [0, 2, 1].")

    def build(self, ctx: BuildContext) -> Any:
        """A ``Permute`` module."""
        shape = ctx.in_shape("x")
        dims = [require_dim("Permute", shape, d) for d in self.dims]
        if sorted(dims) != list(range(len(shape))):
            raise ValueError(
                f"Permute: {list(self.dims)} must list each of the {len(shape)} dims of shape {fmt(shape)} once"
            )
        from .sequence_modules import Permute as PermuteModule

        return PermuteModule(tuple(dims))


@block("builtin.Transpose", category=CATEGORY, name="Transpose", version=1)
class Transpose:
    """Swaps two dims, e.g. 1 and 2: (batch, length, channels) -> (batch, channels, length)."""

    x = In("tensor", doc="Any tensor.")
    y = Out("tensor", doc="The tensor with the two dims swapped.")

    dim0 = Param(int, 1, doc="One dim to swap (negative counts from the end).")
    dim1 = Param(int, 2, doc="The other dim.")

    def build(self, ctx: BuildContext) -> Any:
        """A ``Transpose`` module."""
        shape = ctx.in_shape("x")
        a, b = require_dim("Transpose", shape, self.dim0), require_dim("Transpose", shape, self.dim1)
        from .sequence_modules import Transpose as TransposeModule

        return TransposeModule(a, b)


@block("builtin.MatMul", category=CATEGORY, name="Matrix Multiply", version=1)
class MatMul:
    """a·b over the last two dims, batched over the dims before them (torch.matmul), e.g.
    (batch, n, k)·(batch, k, m) -> (batch, n, m)."""

    a = In("tensor", doc="(…, n, k).")
    b = In("tensor", doc="(…, k, m) (or (k, m)).")
    y = Out("tensor", doc="(…, n, m).")

    def build(self, ctx: BuildContext) -> Any:
        """A ``MatMul`` module."""
        a, b = tuple(ctx.in_shape("a")), tuple(ctx.in_shape("b"))
        if len(a) < 2 or len(b) < 1 or a[-1] != (b[-2] if len(b) > 1 else b[0]):
            raise ValueError(f"Matrix Multiply: the last dim of a {fmt(a)} must equal the row count of b {fmt(b)}")
        from .sequence_modules import MatMul as MatMulModule

        return MatMulModule()


@block("builtin.LogSoftmax", category=CATEGORY, name="Log-Softmax", version=1)
class LogSoftmax:
    """log(softmax(x)) along one dim, computed stably: the log-probabilities an NLL loss takes."""

    x = In("tensor", doc="Scores.")
    y = Out("tensor", doc="Log-probabilities, same shape.")

    dim = Param(int, -1, doc="Dimension whose probabilities sum to 1 (-1: the last).")

    def build(self, ctx: BuildContext) -> Any:
        """An ``nn.LogSoftmax(dim)``."""
        require_dim("Log-Softmax", ctx.in_shape("x"), self.dim)
        from torch import nn

        return nn.LogSoftmax(self.dim)


@block("builtin.Chunk", category=CATEGORY, name="Chunk", version=1)
class Chunk:
    """Cuts a tensor into equal parts along one dim, e.g. the query, key and value of one
    projection (3 chunks of the last dim)."""

    x = In("tensor", doc="The tensor to cut.")
    y = Out("tensor", variadic="chunks", doc="The parts, in order.")

    chunks = Param(int, 2, min=2, max=16, doc="Number of parts.")
    dim = Param(int, -1, doc="Dimension to cut along (-1: the last).")

    def build(self, ctx: BuildContext) -> Any:
        """A ``Chunk`` module, after checking the dim gives exactly ``chunks`` parts."""
        shape = ctx.in_shape("x")
        dim = require_dim("Chunk", shape, self.dim)
        size = shape[dim]
        step = -(-size // self.chunks)
        if size < self.chunks or -(-size // step) != self.chunks:
            raise ValueError(f"Chunk: dim {self.dim} of shape {fmt(shape)} ({size}) does not cut into {self.chunks} parts")
        from .sequence_modules import Chunk as ChunkModule

        return ChunkModule(self.chunks, dim)


class _Reduce:
    how = "mean"
    x = In("tensor", doc="Input of shape (batch, …).")
    y = Out("tensor", doc="The input reduced over the dims given.")

    dims = Param("ints", [1], doc="The dims to reduce (not 0: the batch); negative counts from the end.")
    keepdim = Param(bool, False, doc="Keep the reduced dims with size 1.")

    def build(self, ctx: BuildContext) -> Any:
        """A ``Reduce`` module."""
        shape = ctx.in_shape("x")
        label = self.how.capitalize()
        dims = tuple(require_dim(label, shape, d) for d in self.dims)
        if not dims or 0 in dims or len(set(dims)) != len(dims):
            raise ValueError(f"{label}: dims {list(self.dims)} must be distinct, not empty and not 0 (the batch)")
        from .sequence_modules import Reduce

        return Reduce(self.how, dims, self.keepdim)


@block("builtin.Mean", category=CATEGORY, name="Mean", version=1)
class Mean(_Reduce):
    """The average over some dims of each sample, e.g. dim 1 of (batch, length, features): one
    vector per sequence (mean pooling)."""


@block("builtin.Sum", category=CATEGORY, name="Sum", version=1)
class Sum(_Reduce):
    """The sum over some dims of each sample."""

    how = "sum"


@block("builtin.PositionIds", category=CATEGORY, name="Position Ids", version=1)
class PositionIds:
    """0, 1, 2 … one per position of a sequence, for each sample: (batch, length) ids to feed an
    Embedding of positions (a Transformer's position table)."""

    x = In("tensor", doc="The sequences: (batch, length, …); only the shape is read.")
    ids = Out("tensor", doc="(batch, length) whole numbers 0 … length − 1.")

    dim = Param(int, 1, min=1, doc="The dim of x that holds the positions.")

    def build(self, ctx: BuildContext) -> Any:
        """A ``PositionIds`` module."""
        shape = ctx.in_shape("x")
        dim = require_dim("Position Ids", shape, self.dim)
        from .sequence_modules import PositionIds as Module

        return Module(dim)


@block("builtin.Select", category=CATEGORY, name="Select", version=1)
class Select:
    """Takes one position along a dim and drops that dim, e.g. dim 1, index -1 of (batch, length,
    features): the last step of each sequence, (batch, features) — as x[:, -1] in code."""

    x = In("tensor", doc="Any tensor.")
    y = Out("tensor", doc="The tensor at that position, one dim fewer.")

    dim = Param(int, 1, doc="The dim to select along (0 is the batch in most tensors).")
    index = Param(int, -1, doc="The position; negative counts from the end (-1: the last).")

    def build(self, ctx: BuildContext) -> Any:
        """A ``Select`` module."""
        shape = ctx.in_shape("x")
        dim = require_dim("Select", shape, self.dim)
        if not -shape[dim] <= self.index < shape[dim]:
            raise ValueError(f"Select: index {self.index} is outside dim {self.dim} ({shape[dim]}) of shape {fmt(shape)}")
        from .sequence_modules import Select as Module

        return Module(dim, self.index)


@block("builtin.Slice", category=CATEGORY, name="Slice", version=1)
class Slice:
    """Keeps positions start … end − 1 (every 'step'-th) along a dim, as x[:, 2:10] in code."""

    x = In("tensor", doc="Any tensor.")
    y = Out("tensor", doc="The kept part, same rank.")

    dim = Param(int, 1, doc="The dim to cut along.")
    start = Param(int, 0, doc="First position kept; negative counts from the end.")
    end = Param(int, 0, doc="Position after the last one kept; 0: to the end; negative counts from the end.")
    step = Param(int, 1, min=1, doc="Keep every step-th position.")

    def build(self, ctx: BuildContext) -> Any:
        """A ``Slice`` module."""
        shape = ctx.in_shape("x")
        dim = require_dim("Slice", shape, self.dim)
        end = None if self.end == 0 else self.end
        if not len(range(shape[dim])[self.start:end:self.step]):
            raise ValueError(f"Slice: {self.start}:{self.end or ''} of dim {self.dim} in shape {fmt(shape)} is empty")
        from .sequence_modules import Slice as Module

        return Module(dim, self.start, end, self.step)


@block("builtin.LearnedTensor", category=CATEGORY, name="Learned Tensor", version=1)
class LearnedTensor:
    """A tensor of weights learned as they are, the same for every sample: a Transformer's
    position table, a class token, a learned bias map. Its output is (batch, *shape), as many
    copies as the reference input has samples."""

    like = In("tensor", doc="Any tensor of the batch: only its batch size is read.")
    y = Out("tensor", doc="(batch, *shape): the learned values, one copy per sample.")

    shape = Param("shape", [16], doc="Shape of the learned values (without the batch), e.g. [8, 64].")
    init = Param(str, "normal", choices=["normal", "zeros", "ones"],
                 doc="Initial values: normal (std 0.02, as Transformers start), zeros or ones.")

    def build(self, ctx: BuildContext) -> Any:
        """A ``LearnedTensor`` module."""
        ctx.in_shape("like")
        from .sequence_modules import LearnedTensor as Module

        return Module(tuple(self.shape), self.init)
