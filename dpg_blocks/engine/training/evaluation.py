"""What a confusion matrix says per class: precision, recall, F1 and support, and their averages.

``Trainer.evaluate("test")`` adds these to the epoch's metrics beside ``confusion_matrix``
(rows: true class, columns: predicted), so the editor's Evaluation tab, ``--metrics-out`` and a
run's ``metrics.jsonl`` hold the same figures. A class that is never predicted has precision 0
(not NaN: JSON has no NaN, and "never right when it says so" is what 0 means to a reader); a
class absent from the split has recall 0 and support 0 and is left out of the macro average.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def class_names(names: list[str] | None, count: int) -> list[str]:
    """``count`` display names: the data's (an image folder's sub-folders), else the numbers."""
    named = list(names or [])
    return [named[i] if i < len(named) else str(i) for i in range(count)]


def class_report(confusion: np.ndarray, names: list[str]) -> dict[str, Any]:
    """``per_class`` {name: precision, recall, f1, support} and ``macro``/``weighted`` averages."""
    cm = np.asarray(confusion, dtype=np.float64)
    true_pos = np.diag(cm)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, true_pos / predicted, 0.0)
        recall = np.where(support > 0, true_pos / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    per_class = {
        name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
               "support": int(support[i])}
        for i, name in enumerate(names)
    }
    present = support > 0

    def average(weights: np.ndarray) -> dict[str, float]:
        w = weights / weights.sum() if weights.sum() > 0 else weights
        return {"precision": float((precision * w).sum()), "recall": float((recall * w).sum()),
                "f1": float((f1 * w).sum())}

    return {
        "per_class": per_class,
        "macro": average(present.astype(np.float64)),
        "weighted": average(support),
    }


MAX_MISCLASSIFIED = 16  # the gallery's samples (the first ones, in test-split order)


class Misclassified:
    """The first MAX_MISCLASSIFIED test samples the classifier got wrong, with true and predicted
    classes and ``index`` (the sample's position in the test split, which is never shuffled).

    Batches are looked at only until the gallery is full, so it costs one comparison per batch
    of the first few batches and nothing after.
    """

    def __init__(self) -> None:
        self.found: list[dict[str, Any]] = []  # index, true, pred, sample (numpy, as the model saw it)
        self.seen = 0

    @property
    def full(self) -> bool:
        return len(self.found) >= MAX_MISCLASSIFIED

    def add(self, x: Any, pred: Any, target: Any, place: tuple[int, int] = (0, 1), whole: int | None = None) -> None:
        """One batch: ``x`` the head's input samples, ``pred`` (N, classes) scores, ``target`` (N,).

        Under torchrun ``place`` is (rank, ranks): these are samples rank, rank + ranks, … of a
        batch of ``whole`` samples, so the indices are the split's, as one process finds them."""
        n = int(target.shape[0])
        rank, ranks = place
        if not self.full and getattr(x, "shape", (0,))[0] == n and pred.shape[0] == n:
            guess = pred.argmax(1)
            wrong = (guess != target).nonzero().flatten().tolist()
            for i in wrong[: MAX_MISCLASSIFIED - len(self.found)]:
                self.found.append({"index": self.seen + rank + ranks * i, "true": int(target[i]),
                                   "pred": int(guess[i]), "sample": x[i].detach().float().cpu().numpy()})
        self.seen += n if whole is None else whole

    def listed(self, names: list[str]) -> list[dict[str, Any]]:
        """For ``--metrics-out``: index and class names (no pixels)."""
        def name(c: int) -> str:
            return names[c] if 0 <= c < len(names) else str(c)

        return [{"index": f["index"], "true": name(f["true"]), "pred": name(f["pred"])} for f in self.found]


MAX_SCATTER = 2000  # (predicted, true) pairs kept for the scatter plot


class Regression:
    """R², MSE and MAE of a regression head over a split, and up to MAX_SCATTER value pairs.

    Every predicted value counts (a head predicting 3 values a sample adds 3 pairs a sample), so
    R² is 1 − SSE/SST over all of them. The target is flattened like the prediction when both hold
    as many values (MSE's own reshaping). Sums are float64 on the device: one host sync a batch,
    as the rest of evaluation does. The scatter sample takes evenly spaced values from each batch
    (``per_batch`` of them, so the pairs cover the whole split in order) and is the same for the
    same split and model.
    """

    def __init__(self, batches: int) -> None:
        self.per_batch = max(1, -(-MAX_SCATTER // max(1, batches)))
        self.count = 0
        self.sums = [0.0, 0.0, 0.0, 0.0]  # squared error, absolute error, target, target²
        self.pred: list[float] = []
        self.true: list[float] = []

    def add(self, pred: Any, target: Any) -> None:
        import torch

        if target is None or pred.numel() != target.numel() or not pred.numel():
            return
        p = pred.detach().reshape(-1).double()
        t = target.detach().reshape(-1).to(p.device, torch.float64)
        err = p - t
        sums = torch.stack([(err * err).sum(), err.abs().sum(), t.sum(), (t * t).sum()]).tolist()
        self.sums = [a + b for a, b in zip(self.sums, sums, strict=True)]
        self.count += int(p.numel())
        room = min(self.per_batch, MAX_SCATTER - len(self.pred), int(p.numel()))
        if room > 0:
            at = torch.linspace(0, p.numel() - 1, room, device=p.device).round().long()
            self.pred += p[at].float().tolist()
            self.true += t[at].float().tolist()

    def report(self, split: str) -> dict[str, float | None]:
        """``{split}_r2``, ``{split}_mse``, ``{split}_mae`` (empty before any value; R² is None
        when the targets do not vary: 1 − SSE/0 says nothing)."""
        if not self.count:
            return {}
        sse, sae, total, squares = self.sums
        n = self.count
        spread = squares - total * total / n
        r2 = 1.0 - sse / spread if spread > 1e-12 * max(1.0, squares) else None
        return {f"{split}_r2": r2, f"{split}_mse": sse / n, f"{split}_mae": sae / n}
