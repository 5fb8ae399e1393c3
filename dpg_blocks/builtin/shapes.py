"""Shape checks shared by the built-in blocks, with messages a non-programmer can act on.

Plain Python (no torch): the checks run in ``build()`` on the shapes the engine reports, so a
mistake is caught before any tensor is touched and the message names the shapes involved.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def fmt(shape: Sequence[int]) -> str:
    """A shape as the user sees it elsewhere: ``(4, 1, 8, 8)``."""
    return str(tuple(int(d) for d in shape))


def reshape_hint(shape: Sequence[int], channels_first: int) -> str:
    """A Reshape suggestion that turns a flat (N, F) input into (N, C, …) with ``channels_first`` dims."""
    features = math.prod(shape[1:])
    if channels_first == 2:
        side = math.isqrt(features)
        if side * side == features:
            return f"insert a Reshape block with shape [1, {side}, {side}] (or set the Input's reshape)"
        return "insert a Reshape block with shape [channels, height, width] (or set the Input's reshape)"
    return f"insert a Reshape block with shape [1, {features}] (or set the Input's reshape)"


def require_rank(block: str, shape: Sequence[int], rank: int, layout: str, *, spatial: int = 0) -> None:
    """Raise if ``shape`` does not have ``rank`` dims; ``layout`` names them, e.g. "(N, C, H, W)"."""
    if len(shape) == rank:
        return
    msg = f"{block} expects a {rank}-D input {layout} but got shape {fmt(shape)}"
    if spatial and len(shape) < rank:
        msg += f"; {reshape_hint(shape, spatial)}"
    elif len(shape) > rank:
        msg += "; insert a Flatten or Reshape block before it"
    raise ValueError(msg)


def require_dim(block: str, shape: Sequence[int], dim: int) -> int:
    """``dim`` made non-negative, or a ValueError when ``shape`` has no such dimension."""
    rank = len(shape)
    if not -rank <= dim < rank:
        raise ValueError(
            f"{block}: dim {dim} does not exist for shape {fmt(shape)} (valid: {-rank} to {rank - 1})"
        )
    return dim % rank


def conv_out(block: str, shape: Sequence[int], kernel: int, stride: int, padding: int) -> None:
    """Raise if a window of ``kernel`` does not fit in the (padded) spatial dims of ``shape``."""
    spatial = list(shape[2:])
    for size in spatial:
        if size + 2 * padding < kernel:
            dims = "×".join(str(s) for s in spatial)
            raise ValueError(
                f"{block}: kernel size {kernel} is larger than the input's {dims} "
                f"(padding {padding}) in shape {fmt(shape)}; use a smaller kernel or more padding"
            )
