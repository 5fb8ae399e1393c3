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
    total = float(support.sum())

    def average(weights: np.ndarray) -> dict[str, float]:
        w = weights / weights.sum() if weights.sum() > 0 else weights
        return {"precision": float((precision * w).sum()), "recall": float((recall * w).sum()),
                "f1": float((f1 * w).sum())}

    return {
        "per_class": per_class,
        "macro": average(present.astype(np.float64)),
        "weighted": average(support if total > 0 else support * 0),
    }
