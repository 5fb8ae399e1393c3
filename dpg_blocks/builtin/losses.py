"""Loss blocks: what training minimises. Each multiplies its loss by 'weight'.

When 'target' is left unconnected the engine supplies the labels of the Input the prediction
came from, so the module always receives a target tensor.
"""

from __future__ import annotations

import math
from typing import Any

from dpg_blocks.blocks import BuildContext, In, Param, block

from .shapes import fmt


class _Loss:
    input = In("tensor", doc="The prediction.")
    target = In(
        "tensor", optional=True, doc="What the prediction should be; unconnected: the Input's labels."
    )

    weight = Param(float, 1.0, min=0, doc="Multiplies this loss (balances several losses).")

    label = ""

    def _module(self) -> Any:
        raise NotImplementedError

    def build(self, ctx: BuildContext) -> Any:
        """The loss module, after checking the shapes that are known now."""
        self._check(ctx)
        return self._module()

    def _check(self, ctx: BuildContext) -> None:
        pass


def _known_target(ctx: BuildContext) -> tuple[tuple[int, ...], Any] | None:
    """Shape and dtype of the target, linked or supplied by the engine, when known at build time."""
    try:
        return tuple(ctx.in_shape("target")), ctx.in_dtype("target")
    except (LookupError, ValueError):
        return None  # the engine raises for a port that carries no tensor


def _is_float(dtype: Any) -> bool:
    return bool(getattr(dtype, "is_floating_point", False))


class _ClassificationLoss(_Loss):
    per_position = False  # set by _check: scores (N, T, classes) against labels (N, T)

    def _module(self) -> Any:
        return self._module_class()(self.weight, self.per_position)

    def _module_class(self) -> Any:
        raise NotImplementedError

    def _check(self, ctx: BuildContext) -> None:
        shape = ctx.in_shape("input")
        known = _known_target(ctx)
        self.per_position = len(shape) == 3 and known is not None and tuple(known[0]) == tuple(shape[:2])
        if len(shape) < 2:
            raise ValueError(
                f"{self.label} expects class scores of shape (N, classes) but the prediction has "
                f"shape {fmt(shape)}"
            )
        if known is None:
            return
        target, dtype = known
        if _is_float(dtype):
            raise ValueError(
                f"{self.label} needs whole-number class labels as targets, but the target holds "
                f"{str(dtype).removeprefix('torch.')} values of shape {fmt(target)}; use MSE or BCE loss "
                "for real-valued targets"
            )
        if target[:1] != shape[:1]:
            raise ValueError(
                f"{self.label}: the prediction {fmt(shape)} and the target {fmt(target)} have "
                "different batch sizes"
            )


class _ElementwiseLoss(_Loss):
    def _check(self, ctx: BuildContext) -> None:
        known = _known_target(ctx)
        if known is None:
            return
        shape, (target, dtype) = ctx.in_shape("input"), known
        if math.prod(shape) != math.prod(target):
            hint = ""
            if not _is_float(dtype) and len(shape) == 2 and shape[1] > 1:
                hint = "; for class labels use the Cross-Entropy loss"
            raise ValueError(
                f"{self.label} needs one target value per prediction, but the prediction has shape "
                f"{fmt(shape)} and the target {fmt(target)}{hint}"
            )


def _loss_block(id: str, name: str, metric: str | None = None) -> Any:
    """``@block`` with what every loss shares: the category and the role."""
    return block(id, category="Losses", name=name, role="loss", metric=metric, version=1)


@_loss_block("builtin.CrossEntropyLoss", "Cross-Entropy Loss", metric="classification")
class CrossEntropyLoss(_ClassificationLoss):
    """Classification loss on raw class scores (softmax is applied inside).

    The prediction has shape (batch, classes); the target holds class numbers 0..classes−1.
    A prediction (batch, length, classes) against labels (batch, length) is scored at every
    position (a language model's next token). Do not put a Softmax block before it.
    """

    label = "Cross-entropy loss"

    def _module_class(self) -> Any:
        from .loss_modules import CrossEntropyLoss as Module

        return Module


@_loss_block("builtin.NLLLoss", "NLL Loss", metric="classification")
class NLLLoss(_ClassificationLoss):
    """Negative log-likelihood: classification loss on log-probabilities (after a log-softmax).

    The prediction has shape (batch, classes); the target holds class numbers 0..classes−1.
    """

    label = "NLL loss"

    def _module_class(self) -> Any:
        from .loss_modules import NLLLoss as Module

        return Module


@_loss_block("builtin.BCEWithLogitsLoss", "BCE With Logits Loss", metric="binary")
class BCEWithLogitsLoss(_ElementwiseLoss):
    """Binary cross-entropy on raw scores (sigmoid applied inside), for yes/no targets in 0..1.

    The target is converted to the prediction's type and reshaped to its shape when it has the
    same number of values, so labels of shape (batch,) fit a prediction of shape (batch, 1).
    """

    label = "Binary cross-entropy loss"

    def _module(self) -> Any:
        from .loss_modules import BCEWithLogitsLoss as Module

        return Module(self.weight)


@_loss_block("builtin.MSELoss", "MSE Loss", metric="regression")
class MSELoss(_ElementwiseLoss):
    """Mean squared error between prediction and target, for regression and reconstruction.

    The target is reshaped to the prediction's shape when it has the same number of values.
    """

    label = "MSE loss"

    def _module(self) -> Any:
        from .loss_modules import MSELoss as Module

        return Module(self.weight)


@_loss_block("builtin.L1Loss", "L1 Loss", metric="regression")
class L1Loss(_ElementwiseLoss):
    """Mean absolute error between prediction and target; less sensitive to outliers than MSE.

    The target is reshaped to the prediction's shape when it has the same number of values.
    """

    label = "L1 loss"

    def _module(self) -> Any:
        from .loss_modules import L1Loss as Module

        return Module(self.weight)
