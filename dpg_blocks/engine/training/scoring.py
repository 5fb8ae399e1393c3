"""Scoring a loss's prediction against its target while training and evaluating: running
correct/total counts (on the device) and the confusion matrix. An exported script copies these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass
class _Score:
    """Running correct/total counts (kept on the device to avoid a sync per step)."""

    correct: Any = 0
    total: int = 0

    def add(self, correct: Any, total: int) -> None:
        self.correct, self.total = self.correct + correct, self.total + total

    @property
    def accuracy(self) -> float | None:
        return float(self.correct) / self.total if self.total else None


def _score(kind: str, pred: torch.Tensor, target: torch.Tensor | None) -> tuple[Any, int] | None:
    if target is None:
        return None
    if kind == "classification":
        if pred.dim() == 3 and target.dim() == 2 and tuple(target.shape) == tuple(pred.shape[:2]):
            return (pred.argmax(2) == target).sum(), target.numel()  # every position (a sequence model)
        if pred.dim() != 2 or target.dim() != 1 or target.shape[0] != pred.shape[0]:
            return None
        return (pred.argmax(1) == target).sum(), target.shape[0]
    if kind == "binary":
        if pred.numel() != target.numel():
            return None
        return ((pred.reshape(-1) > 0) == (target.reshape(-1) > 0.5)).sum(), target.numel()
    return None




def _confuse(matrix: np.ndarray | None, pred: torch.Tensor, target: torch.Tensor, classes: int) -> np.ndarray:
    if matrix is None or matrix.shape[0] < classes:
        grown = np.zeros((classes, classes), dtype=np.int64)
        if matrix is not None:
            grown[: matrix.shape[0], : matrix.shape[1]] = matrix
        matrix = grown
    idx = target.to(torch.int64).cpu() * classes + pred.argmax(1).cpu()
    counts = torch.bincount(idx, minlength=classes * classes).numpy()
    matrix += counts.reshape(classes, classes)
    return matrix
