"""Structure blocks: change shapes, join and split signals (Flatten, Reshape, Concat, Add, …)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from dpg_blocks.blocks import BuildContext, In, Out, Param, block

from .shapes import fmt, require_dim


def _input_shapes(ctx: BuildContext, count: int) -> dict[str, tuple[int, ...]]:
    """Shapes of the connected variadic inputs ``x1..x{count}`` whose shape is known."""
    shapes: dict[str, tuple[int, ...]] = {}
    for i in range(1, count + 1):
        port = f"x{i}"
        if not ctx.connected(port):
            continue
        try:
            shapes[port] = tuple(ctx.in_shape(port))
        except (LookupError, ValueError):
            # null in the order being validated (the engine raises for a port without a tensor)
            continue
    return shapes


def _listing(shapes: dict[str, tuple[int, ...]]) -> str:
    return ", ".join(f"{port} {fmt(s)}" for port, s in shapes.items())


@block("builtin.Flatten", category="Structure", name="Flatten", version=1)
class Flatten:
    """Flattens each sample into one vector, e.g. (batch, 1, 8, 8) -> (batch, 64).

    Typically placed between convolutions and a Fully Connected layer.
    """

    x = In("tensor", doc="Input of shape (batch, …).")
    y = Out("tensor", doc="Output with the dims from 'start dim' on merged into one.")

    start_dim = Param(int, 1, min=1, doc="First dimension to merge; 1 keeps only the batch dimension.")

    def build(self, ctx: BuildContext) -> Any:
        """An ``nn.Flatten(start_dim)``."""
        shape = ctx.in_shape("x")
        if self.start_dim >= len(shape):
            raise ValueError(
                f"Flatten: start dim {self.start_dim} does not exist for shape {fmt(shape)} "
                f"(it has dims 0 to {len(shape) - 1})"
            )
        from torch import nn

        return nn.Flatten(self.start_dim)


def _reshaped(shape: Sequence[int], want: Sequence[int]) -> tuple[int, ...]:
    """The per-sample shape ``want`` with -1 resolved, or ValueError naming both shapes."""
    size = math.prod(shape[1:])
    if not want:
        raise ValueError("Reshape: set the shape of one sample, e.g. [1, 8, 8]")
    if list(want).count(-1) > 1:
        raise ValueError(f"Reshape: at most one dimension may be -1, got {list(want)}")
    known = math.prod(d for d in want if d != -1)
    fits = size % known == 0 if -1 in want else size == known
    if not fits:
        raise ValueError(
            f"Reshape cannot turn samples of shape {fmt(shape[1:])} ({size} values) into "
            f"{list(want)} ({known} values); input shape {fmt(shape)}"
        )
    return tuple(size // known if d == -1 else d for d in want)


@block("builtin.Reshape", category="Structure", name="Reshape", version=1)
class Reshape:
    """Gives each sample a new shape with the same number of values, e.g. 64 -> [1, 8, 8].

    The batch dimension is kept; one dimension may be -1 to be worked out from the others.
    """

    x = In("tensor", doc="Input of shape (batch, …).")
    y = Out("tensor", doc="Output of shape (batch, *shape).")

    shape = Param(
        "shape", [-1], doc="Shape of one sample (without the batch), e.g. [1, 8, 8]; -1 = inferred."
    )

    def build(self, ctx: BuildContext) -> Any:
        """A module reshaping (N, …) to (N, *shape)."""
        _reshaped(ctx.in_shape("x"), self.shape)
        from .modules import Reshape as ReshapeModule

        return ReshapeModule(tuple(self.shape))


@block("builtin.Concat", category="Structure", name="Concat", accepts_null=True, version=1)
class Concat:
    """Joins its inputs end to end along one dimension, e.g. (N, 3) and (N, 5) -> (N, 8).

    The inputs must match in every other dimension. Inputs that carry nothing in the current
    order are skipped.
    """

    x = In("tensor", variadic="n_inputs", doc="Tensors to join, in order.")
    y = Out("tensor", doc="The joined tensor.")

    n_inputs = Param(int, 2, min=2, max=16, doc="Number of inputs.")
    dim = Param(int, 1, doc="Dimension to join along (1 = features/channels; 0 is the batch).")

    def build(self, ctx: BuildContext) -> Any:
        """A module concatenating the non-null inputs."""
        shapes = _input_shapes(ctx, self.n_inputs)
        if shapes:
            ranks = {len(s) for s in shapes.values()}
            if len(ranks) > 1:
                raise ValueError(
                    f"Concat needs inputs with the same number of dimensions, but got {_listing(shapes)}"
                )
            first = next(iter(shapes.values()))
            dim = require_dim("Concat", first, self.dim)
            rest = {tuple(d for i, d in enumerate(s) if i != dim) for s in shapes.values()}
            if len(rest) > 1:
                raise ValueError(
                    f"Concat along dim {self.dim} needs inputs that match in every other dimension, "
                    f"but got {_listing(shapes)}"
                )
        from .modules import Concat as ConcatModule

        return ConcatModule(self.dim)


def _check_elementwise(name: str, shapes: dict[str, tuple[int, ...]]) -> None:
    # Same rank required: torch would broadcast (N, 1) + (N,) to (N, N), a silent bug in a graph.
    values = list(shapes.values())
    ok = len({len(s) for s in values}) <= 1 and all(
        len({d for d in dims if d != 1}) <= 1 for dims in zip(*values, strict=False)
    )
    if not ok:
        raise ValueError(
            f"{name} needs inputs of the same shape (or size 1 where they differ), but got {_listing(shapes)}"
        )


@block("builtin.Add", category="Structure", name="Add", version=1)
class Add:
    """Adds its inputs element by element, e.g. for residual (skip) connections."""

    x = In("tensor", variadic="n_inputs", doc="Tensors of the same shape.")
    y = Out("tensor", doc="Their element-wise sum.")

    n_inputs = Param(int, 2, min=2, max=16, doc="Number of inputs.")

    def build(self, ctx: BuildContext) -> Any:
        """A module summing its inputs."""
        _check_elementwise("Add", _input_shapes(ctx, self.n_inputs))
        from .modules import Add as AddModule

        return AddModule()


@block("builtin.Subtract", category="Structure", name="Subtract", version=1)
class Subtract:
    """Subtracts b from a element by element, e.g. the difference of a Siamese network's two towers."""

    a = In("tensor", doc="The tensor subtracted from.")
    b = In("tensor", doc="The tensor subtracted, of a's shape.")
    y = Out("tensor", doc="a − b.")

    def build(self, ctx: BuildContext) -> Any:
        """A module subtracting b from a."""
        _check_elementwise("Subtract", {"a": ctx.in_shape("a"), "b": ctx.in_shape("b")})
        from .modules import Subtract as SubtractModule

        return SubtractModule()


@block("builtin.Multiply", category="Structure", name="Multiply", version=1)
class Multiply:
    """Multiplies its inputs element by element, e.g. to gate one signal with another."""

    x = In("tensor", variadic="n_inputs", doc="Tensors of the same shape.")
    y = Out("tensor", doc="Their element-wise product.")

    n_inputs = Param(int, 2, min=2, max=16, doc="Number of inputs.")

    def build(self, ctx: BuildContext) -> Any:
        """A module multiplying its inputs."""
        _check_elementwise("Multiply", _input_shapes(ctx, self.n_inputs))
        from .modules import Multiply as MultiplyModule

        return MultiplyModule()


@block("builtin.Copy", category="Structure", name="Copy", version=1)
class Copy:
    """Sends the same signal to several outputs, to feed it to more than one block."""

    x = In("tensor", doc="Input of any shape.")
    y = Out("tensor", variadic="n_outputs", doc="The input, unchanged.")

    n_outputs = Param(int, 2, min=1, max=16, doc="Number of outputs.")

    def build(self, ctx: BuildContext) -> Any:
        """A module returning its input once per output."""
        from torch import nn

        from .modules import Copy as CopyModule

        # one output port means one tensor back, not a 1-tuple
        return nn.Identity() if self.n_outputs == 1 else CopyModule(self.n_outputs)


@block("builtin.OR", category="Structure", name="OR", accepts_null=True, version=1)
class OR:
    """Passes on whichever input carries a signal in the current order (the first one if several).

    Used to merge branches that are active in different orders, e.g. real and generated images
    into one discriminator.
    """

    x = In("tensor", variadic="n_inputs", doc="Alternatives; usually only one is live per order.")
    y = Out("tensor", doc="The first live input.")

    n_inputs = Param(int, 2, min=2, max=16, doc="Number of inputs.")

    def build(self, ctx: BuildContext) -> Any:
        """A module returning its first non-null input."""
        from .modules import Or

        return Or()


@block("builtin.Split", category="Structure", name="Split", version=1)
class Split:
    """Cuts a tensor along one dimension into parts as long as its reference inputs — the
    reverse of a Concat.

    Example: source and target images are concatenated along the batch (dim 0) to share a
    feature extractor; Split, with the source and target batches as references, gives back the
    source rows (y1) and the target rows (y2), e.g. to apply the label loss to the source only.
    """

    x = In("tensor", doc="The tensor to cut.")
    like = In("tensor", variadic="n_parts", doc="References: part k is as long as like k along 'dim'.")
    y = Out("tensor", variadic="n_parts", doc="The parts, in order.")

    n_parts = Param(int, 2, min=2, max=16, doc="Number of parts.")
    dim = Param(int, 0, doc="Dimension to cut along (0 = the batch, 1 = features/channels).")

    def build(self, ctx: BuildContext) -> Any:
        """A module splitting ``x`` by the references' sizes."""
        shape = ctx.in_shape("x")
        dim = require_dim("Split", shape, self.dim)
        likes = {f"like{i}": tuple(ctx.in_shape(f"like{i}")) for i in range(1, self.n_parts + 1)}
        for port, s in likes.items():
            require_dim(f"Split ({port})", s, self.dim)
        total = sum(s[dim] for s in likes.values())
        if total != shape[dim]:
            raise ValueError(
                f"Split: x {fmt(shape)} has {shape[dim]} along dim {self.dim} but the references add up to "
                f"{total} ({_listing(likes)})"
            )
        from .modules import Split as SplitModule

        return SplitModule(self.dim)
