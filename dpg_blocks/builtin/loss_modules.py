"""The torch Modules the built-in loss blocks build (``builtin/losses.py``).

Imported only from inside ``build()`` (it imports torch at the top), like ``modules.py``, which
re-exports these classes: the classes live at module level so built models pickle and export by
name, and each has ``export_args()`` for the export to PyTorch. Apart from the other layers
because a loss is its own idea: a weight that scales it, and the checks that turn torch's
failures on a prediction and its target into a message naming both shapes (class labels out of
range, a float target for a classification loss, a target that does not match the prediction).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .shapes import fmt

__all__ = ["BCEWithLogitsLoss", "CrossEntropyLoss", "L1Loss", "MSELoss", "NLLLoss", "match_target"]


class _WeightedLoss(nn.Module):
    def __init__(self, weight: float) -> None:
        super().__init__()
        self.weight = float(weight)

    def extra_repr(self) -> str:
        return f"weight={self.weight}"

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return (self.weight,)

    def _scaled(self, loss: Tensor) -> Tensor:
        # weight 1 (the default) adds no multiply node to the autograd graph
        return loss if self.weight == 1.0 else loss * self.weight


def _class_label_problem(name: str, input: Tensor, target: Tensor) -> str | None:
    """What is wrong with (scores, labels) for a classification loss, or None if nothing obvious."""
    if input.dim() < 2:
        return (
            f"{name} expects class scores of shape (N, classes) but the prediction has shape "
            f"{fmt(input.shape)}"
        )
    if target.is_floating_point():
        return (
            f"{name} needs whole-number class labels as targets but got {str(target.dtype).removeprefix('torch.')} "
            f"values of shape {fmt(target.shape)}; use MSE or BCE loss for real-valued targets"
        )
    if target.shape[:1] != input.shape[:1]:
        return (
            f"{name}: the prediction {fmt(input.shape)} and the target {fmt(target.shape)} have "
            "different batch sizes"
        )
    if target.numel():
        lo, hi = (int(v) for v in torch.aminmax(target))
        classes = input.shape[1]
        if lo < 0 or hi >= classes:
            return (
                f"{name}: the prediction has {classes} class scores per sample (shape {fmt(input.shape)}) "
                f"but the labels go from {lo} to {hi}; labels must be 0..{classes - 1}, so the layer "
                f"before the loss needs at least {hi + 1} outputs"
            )
    return None


class _ClassLoss(_WeightedLoss):
    """``per_position``: scores (N, T, classes) against labels (N, T), one per position (a
    language model's next token), averaged over every position."""

    label = ""

    def __init__(self, weight: float, per_position: bool = False) -> None:
        super().__init__(weight)
        self.per_position = per_position

    def export_args(self) -> tuple[object, ...]:
        """The constructor arguments that rebuild this module (export to PyTorch writes them)."""
        return (self.weight, self.per_position)

    def _loss(self, input: Tensor, target: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        if self.per_position:  # decided at build time from the prediction's rank
            input, target = input.flatten(0, -2), target.flatten()
        if target.is_cuda:
            # An out-of-range label is a device-side assert on CUDA that kills the whole process,
            # so check first (one small reduction); on the CPU torch raises and we explain below.
            problem = _class_label_problem(self.label, input, target)
            if problem:
                raise ValueError(problem)
        try:
            return self._scaled(self._loss(input, target))
        except (RuntimeError, IndexError, ValueError) as e:
            problem = _class_label_problem(self.label, input, target)
            raise ValueError(
                problem or f"{self.label}: prediction {fmt(input.shape)} vs target {fmt(target.shape)}: {e}"
            ) from e


class CrossEntropyLoss(_ClassLoss):
    """Softmax cross-entropy of class scores against integer class labels, times ``weight``."""

    label = "Cross-entropy loss"

    def _loss(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(input, target)


class NLLLoss(_ClassLoss):
    """Negative log-likelihood of log-probabilities against integer class labels, times ``weight``."""

    label = "NLL loss"

    def _loss(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(input, target)


def match_target(name: str, input: Tensor, target: Tensor) -> Tensor:
    """``target`` as the prediction's dtype and shape (reshaped when only the layout differs)."""
    if target.shape != input.shape:
        if target.numel() != input.numel():
            hint = ""
            if not target.is_floating_point() and input.dim() == 2 and input.shape[1] > 1:
                hint = "; for class labels use the Cross-Entropy loss"
            raise ValueError(
                f"{name} needs one target value per prediction, but the prediction has shape "
                f"{fmt(input.shape)} and the target {fmt(target.shape)}{hint}"
            )
        target = target.reshape(input.shape)
    return target.to(input.dtype)


class BCEWithLogitsLoss(_WeightedLoss):
    """Binary cross-entropy on logits (sigmoid inside), times ``weight``."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        target = match_target("Binary cross-entropy loss", input, target)
        return self._scaled(F.binary_cross_entropy_with_logits(input, target))


class MSELoss(_WeightedLoss):
    """Mean squared error, times ``weight``."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return self._scaled(F.mse_loss(input, match_target("MSE loss", input, target)))


class L1Loss(_WeightedLoss):
    """Mean absolute error, times ``weight``."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return self._scaled(F.l1_loss(input, match_target("L1 loss", input, target)))
