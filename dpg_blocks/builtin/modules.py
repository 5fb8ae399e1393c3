"""The torch Modules the built-in blocks build.

Imported only from inside ``build()`` (it imports torch at the top). The classes live at module
level, not inside functions, so built models pickle, ``torch.save`` and export by name. Forward
methods are the training hot path: decisions are made at build time (which class to use), and
error translation sits in ``except`` branches, which cost nothing until something fails.

Each class has ``export_args()``: its constructor arguments, so export to PyTorch
(``engine/interop/export.py``) can copy the class into a standalone script and build it the same way.

The losses' modules are in ``loss_modules.py`` and are re-exported here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .loss_modules import BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss, match_target
from .shapes import fmt

__all__ = [
    "ACTIVATIONS", "Add", "Concat", "Copy", "Fill", "FlattenLinear", "FlattenLinearAct", "LinearAct", "Multiply",
    "Or", "PassThrough", "Reshape", "Split", "Subtract",
    # the losses (loss_modules.py)
    "BCEWithLogitsLoss", "CrossEntropyLoss", "L1Loss", "MSELoss", "NLLLoss", "match_target",
]


class FlattenLinear(nn.Linear):
    """``nn.Linear`` applied to its input flattened from dim 1 (N, …) -> (N, features)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x.flatten(1), self.weight, self.bias)

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return (self.in_features, self.out_features, self.bias is not None)


# Functions, not Modules: calling one costs no module hooks on the hot path, and each pickles
# by name, so a built model still saves with torch.save.
ACTIVATIONS = {
    "relu": F.relu,
    "leaky_relu": F.leaky_relu,
    "gelu": F.gelu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
}


class LinearAct(nn.Linear):
    """``nn.Linear`` followed by an activation function (one block in the editor)."""

    def __init__(self, in_features: int, out_features: int, bias: bool, activation: str) -> None:
        super().__init__(in_features, out_features, bias=bias)
        self.activation = activation
        self.act = ACTIVATIONS[activation]

    def forward(self, x: Tensor) -> Tensor:
        return self.act(F.linear(x, self.weight, self.bias))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, activation={self.activation}"

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return (self.in_features, self.out_features, self.bias is not None, self.activation)


class FlattenLinearAct(LinearAct):
    """:class:`LinearAct` on its input flattened from dim 1."""

    def forward(self, x: Tensor) -> Tensor:
        return self.act(F.linear(x.flatten(1), self.weight, self.bias))


class Reshape(nn.Module):
    """Reshape every sample to ``shape`` (the batch dimension is kept)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: Tensor) -> Tensor:
        try:
            return x.reshape(x.shape[0], *self.shape)
        except RuntimeError as e:
            raise ValueError(
                f"Reshape cannot turn samples of shape {fmt(x.shape[1:])} ({x[0].numel()} values) "
                f"into {fmt(self.shape)}"
            ) from e

    def extra_repr(self) -> str:
        return f"shape={self.shape}"

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return (self.shape,)


def _shapes(xs: tuple[Tensor | None, ...]) -> str:
    return ", ".join(f"x{i} {fmt(t.shape)}" for i, t in enumerate(xs, 1) if t is not None)


class Concat(nn.Module):
    """Concatenate the inputs that are not null along ``dim``; all null gives null."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, *xs: Tensor | None) -> Tensor | None:
        live = [t for t in xs if t is not None]
        if not live:
            return None
        try:
            return torch.cat(live, self.dim)
        except (RuntimeError, IndexError) as e:
            raise ValueError(
                f"Concat along dim {self.dim} needs inputs that match in every other dimension, "
                f"but got {_shapes(xs)}"
            ) from e

    def extra_repr(self) -> str:
        return f"dim={self.dim}"

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return (self.dim,)


class Add(nn.Module):
    """Element-wise sum of the inputs (same shapes, or size 1 where they differ)."""

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return ()

    def forward(self, *xs: Tensor) -> Tensor:
        try:
            out = xs[0]
            for t in xs[1:]:
                out = out + t
            return out
        except RuntimeError as e:
            raise ValueError(f"Add needs inputs of the same shape, but got {_shapes(xs)}") from e


class Multiply(nn.Module):
    """Element-wise product of the inputs (same shapes, or size 1 where they differ)."""

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return ()

    def forward(self, *xs: Tensor) -> Tensor:
        try:
            out = xs[0]
            for t in xs[1:]:
                out = out * t
            return out
        except RuntimeError as e:
            raise ValueError(f"Multiply needs inputs of the same shape, but got {_shapes(xs)}") from e


class Subtract(nn.Module):
    """``a - b`` element by element (same shapes, or size 1 where they differ)."""

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return ()

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        try:
            return a - b
        except RuntimeError as e:
            raise ValueError(f"Subtract needs inputs of the same shape, but got {_shapes((a, b))}") from e


class Copy(nn.Module):
    """The same tensor on ``n`` outputs."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        return (x,) * self.n

    def extra_repr(self) -> str:
        return f"n={self.n}"

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return (self.n,)


class Or(nn.Module):
    """The first input that is not null (null when all are)."""

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return ()

    def forward(self, *xs: Tensor | None) -> Tensor | None:
        for t in xs:
            if t is not None:
                return t
        return None


class PassThrough(nn.Module):
    """The Output block: returns the predictions; the engine computes metrics from them."""

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return ()

    def forward(self, x: Tensor, target: Tensor | None = None) -> Tensor:
        return x


# -- splitting and constants ------------------------------------------------------------------


class Split(nn.Module):
    """Split ``x`` along ``dim`` into parts as long as the reference tensors are along ``dim``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor, *likes: Tensor) -> tuple[Tensor, ...]:
        sizes = [t.shape[self.dim] for t in likes]
        try:
            return torch.split(x, sizes, self.dim)
        except (RuntimeError, IndexError) as e:
            raise ValueError(
                f"Split: x {fmt(x.shape)} has {x.shape[self.dim] if x.dim() > self.dim else '?'} along dim "
                f"{self.dim} but the references add up to {sum(sizes)} ({', '.join(fmt(t.shape) for t in likes)})"
            ) from e

    def extra_repr(self) -> str:
        return f"dim={self.dim}"

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return (self.dim,)


class Fill(nn.Module):
    """A tensor of one value per sample of ``like`` (the value may depend on the order).

    Called with the signal: ``forward(order, target, like)``.
    """

    def __init__(self, value: float, per_order: dict[int, float], shape: tuple[int, ...], dtype: torch.dtype) -> None:
        super().__init__()
        self.value = value
        self.per_order = dict(per_order)
        self.shape = tuple(shape)
        self.dtype = dtype

    def forward(self, order: int, target: Tensor | None, like: Tensor) -> Tensor:
        value = self.per_order.get(order, self.value)
        return torch.full((like.shape[0], *self.shape), value, dtype=self.dtype, device=like.device)

    def extra_repr(self) -> str:
        return f"value={self.value}, per_order={self.per_order}, shape={self.shape}, dtype={self.dtype}"

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return (self.value, self.per_order, self.shape, self.dtype)
