"""The training run of an exported script: what :class:`~..training.trainer.Trainer` does, for a model
written out as code.

``engine/interop/export.py`` copies what a script uses from here into it, together with the dataset
classes of :mod:`..data.datasets`, the scoring helpers of :mod:`..training.scoring` and the training
clock of :mod:`..training.progress` that these functions name — the same code the engine runs. So
this module may use only the standard library, numpy and torch, plus names from those modules. Every function follows the Trainer step for step
(the same batches in the same order, the same float sums), so an exported script reproduces
``dpg-blocks train`` with the same seed.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..compiling.progress import TrainingClock, attach_clock
from ..compiling.ties import tie_parameter
from ..data.datasets import DataSource
from ..training.evaluation import Misclassified, Regression, class_names, class_report
from ..training.scoring import _confuse, _Score, _score


@dataclass
class Order:
    """One order of a training step: the Inputs it reads, its forward, its heads, its optimizer."""

    index: int
    inputs: list[str]  # the Inputs emitting in this order, in the forward's argument order
    forward: Callable[..., Any]  # returns (total loss, losses, (prediction, target) per head)
    heads: list[tuple[str, str | None]]  # (kind, Input whose labels score it) per head
    has_losses: bool
    optimizer: torch.optim.Optimizer | None = None
    scheduler: Any = None


def parameters(*modules: nn.Module) -> list[nn.Parameter]:
    """The trainable parameters of ``modules``, each once, in order (an order's optimizer)."""
    seen: set[int] = set()
    found: list[nn.Parameter] = []
    for module in modules:
        for p in module.parameters():
            if id(p) not in seen and p.requires_grad:
                seen.add(id(p))
                found.append(p)
    return found


def load_csv(path: Path, label_column: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Features (float32) and labels (int64 when all are whole numbers) of a CSV with a header."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        header = [cell.strip() for cell in next(csv.reader(f))]
    table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2, comments=None,
                       quotechar='"', encoding="utf-8-sig")
    if not label_column:
        return table.astype(np.float32), None
    column = header.index(label_column)
    labels = table[:, column]
    features = np.delete(table, column, axis=1)
    whole = np.all(labels == np.round(labels)) and np.all(np.abs(labels) <= 2**53)  # exact class numbers
    return features.astype(np.float32), labels.astype(np.int64) if whole else labels.astype(np.float32)


def pick_device(name: str) -> torch.device:
    """``auto``: CUDA when it is available, else the CPU; otherwise the named device."""
    if name.strip().lower() == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def cycle(source: DataSource, split: str, epoch: int, shuffle: bool, device: torch.device) -> Iterator[Any]:
    """Batches of ``split``, starting over when they run out (a smaller Input cycles)."""
    rounds = 0
    while True:
        empty = True
        for batch in source.batches(split, epoch=epoch * 1000 + rounds, shuffle=shuffle, device=device):
            empty = False
            yield batch
        if empty:
            return
        rounds += 1


def next_batch(iters: dict[str, Iterator[Any]], order: Order) -> list[Any] | None:
    """``x, y`` of every Input of ``order``, or None when one has no data."""
    batch: list[Any] = []
    for name in order.inputs:
        try:
            x, y = next(iters[name])
        except StopIteration:
            return None
        batch += [x, y]
    return batch


def add_accuracy(metrics: dict[str, Any], split: str, orders: list[Order], scores: dict[int, list[_Score]]) -> None:
    """Overall accuracy of ``split`` and, for several Inputs (or val/test), one per Input."""
    overall = _Score()
    per_input: dict[str, _Score] = {}
    for order in orders:
        for (_kind, name), sc in zip(order.heads, scores.get(order.index, []), strict=False):
            if not sc.total:
                continue
            overall.add(sc.correct, sc.total)
            if name is not None:
                per_input.setdefault(name, _Score()).add(sc.correct, sc.total)
    if overall.total:
        metrics[f"{split}_accuracy"] = overall.accuracy
    if len(per_input) > 1 or split != "train":
        for name, sc in per_input.items():
            metrics[f"{split}_accuracy/{name}"] = sc.accuracy


def steps_per_epoch(orders: list[Order], data: dict[str, DataSource]) -> int:
    """Steps in a full epoch: the batches of the largest Input."""
    return max((data[name].num_batches("train") for o in orders for name in o.inputs), default=0)


def train_epoch(
    model: nn.Module, orders: list[Order], data: dict[str, DataSource], epoch: int, device: torch.device,
    max_steps: int | None = None, on_step: Callable[[int, dict[int, float]], None] | None = None,
    clock: TrainingClock | None = None,
) -> dict[str, Any]:
    """One epoch: every step runs each order once, over the largest Input; smaller ones cycle.

    ``clock`` (what Custom blocks read as ``ctx.progress``) is advanced after every step.
    """
    model.train()
    iters = {name: cycle(source, "train", epoch, True, device) for name, source in data.items()}
    loss_sums: dict[int, Any] = {o.index: 0.0 for o in orders}
    scores = {o.index: [_Score() for _ in o.heads] for o in orders}
    n_steps = steps_per_epoch(orders, data)
    if max_steps is not None:
        n_steps = min(n_steps, max_steps)
    if clock is not None:
        clock.at(epoch, 0)
    for step in range(n_steps):
        totals: dict[int, float] = {}
        for order in orders:
            batch = next_batch(iters, order)
            if batch is None:
                continue
            total, _losses, heads = order.forward(*batch)
            if order.optimizer is not None and total is not None:
                order.optimizer.zero_grad(set_to_none=True)
                total.backward()
                order.optimizer.step()
            if total is not None:
                loss_sums[order.index] = loss_sums[order.index] + total.detach()
                totals[order.index] = float(total.detach())
            for sc, (kind, _name), (pred, target) in zip(scores[order.index], order.heads, heads, strict=True):
                got = _score(kind, pred.detach(), target)
                if got is not None:
                    sc.add(got[0], got[1])
        if clock is not None:
            clock.at(epoch, step + 1)
        if on_step is not None:
            on_step(step + 1, totals)
    metrics: dict[str, Any] = {}
    for order in orders:
        if order.has_losses:
            metrics[f"loss/order_{order.index}"] = float(loss_sums[order.index]) / max(1, n_steps)
    add_accuracy(metrics, "train", orders, scores)
    return metrics


@torch.no_grad()
def evaluate(
    model: nn.Module, orders: list[Order], data: dict[str, DataSource], split: str, device: torch.device
) -> dict[str, Any]:
    """Loss per order, accuracy and (test) confusion matrix on ``split``, in evaluation mode."""
    model.eval()
    metrics: dict[str, Any] = {}
    scores: dict[int, list[_Score]] = {}
    confusion: np.ndarray | None = None
    # the confusion matrix shows the first classification head (of the first order with one)
    cm_head = next(((o.index, i) for o in orders for i, h in enumerate(o.heads) if h[0] == "classification"), None)
    wrong = Misclassified()
    reg_head = next(((o.index, i) for o in orders for i, h in enumerate(o.heads) if h[0] == "regression"), None)
    regression: Regression | None = None
    for order in orders:
        if not order.inputs:
            continue
        n = max(data[name].num_batches(split) for name in order.inputs)
        iters = {name: cycle(data[name], split, 0, False, device) for name in order.inputs}
        loss_sum, steps = 0.0, 0
        scores[order.index] = [_Score() for _ in order.heads]
        if reg_head is not None and reg_head[0] == order.index:
            regression = Regression(n)
        for _ in range(n):
            batch = next_batch(iters, order)
            if batch is None:
                break
            total, _losses, heads = order.forward(*batch)
            if total is not None:
                loss_sum += float(total)
                steps += 1
            for i, ((kind, name), (pred, target)) in enumerate(zip(order.heads, heads, strict=True)):
                if (order.index, i) == reg_head and regression is not None:
                    regression.add(pred, target)
                got = _score(kind, pred, target)
                if got is None:
                    continue
                scores[order.index][i].add(int(got[0]), got[1])
                if (order.index, i) == cm_head and pred.dim() == 2:  # per-position heads: no matrix
                    known = data[name].num_classes if name is not None else None
                    confusion = _confuse(confusion, pred, target, max(known or 0, pred.shape[1]))
                    if split == "test" and not wrong.full and name in order.inputs:
                        wrong.add(batch[2 * list(order.inputs).index(name)], pred, target)
        if steps:
            metrics[f"{split}_loss/order_{order.index}"] = loss_sum / steps
    add_accuracy(metrics, split, orders, scores)
    if regression is not None:
        metrics.update(regression.report(split))
    if confusion is not None and split == "test" and cm_head is not None:
        metrics["confusion_matrix"] = confusion.tolist()
        head_input = next(o for o in orders if o.index == cm_head[0]).heads[cm_head[1]][1]
        source = data[head_input] if head_input is not None else None
        metrics["classes"] = class_names(getattr(source, "class_names", None), confusion.shape[0])
        metrics.update(class_report(confusion, metrics["classes"]))
        metrics["misclassified"] = wrong.listed(metrics["classes"])
    return metrics


def parse_args(argv: list[str] | None, *, epochs: int, seed: int, device: str, data_dir: str,
               weights: str = "") -> argparse.Namespace:
    """The script's options; the defaults are the project's settings at export time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--epochs", type=int, default=epochs, help=f"epochs to train (default {epochs})")
    parser.add_argument("--seed", type=int, default=seed, help=f"random seed (default {seed})")
    parser.add_argument("--device", default=device, help=f"cpu, cuda, cuda:1 … (default {device})")
    parser.add_argument("--data-dir", default=data_dir,
                        help="folder that relative dataset paths start from (default: the project's folder)")
    parser.add_argument("--max-steps", type=int, help="train only the first N steps of each epoch (quick checks)")
    parser.add_argument("--metrics-out", metavar="FILE", help="write each epoch's metrics as a JSON line")
    parser.add_argument("--steps-out", metavar="FILE", help="write each step's loss per order as a JSON line")
    parser.add_argument("--weights", default=weights, metavar="CHECKPOINT",
                        help="start from the weights in this checkpoint (relative to --data-dir); '' for fresh "
                        f"weights (default {weights!r})")
    # ctx.progress runs over the project's epochs (as in dpg-blocks), whatever --epochs says
    parser.set_defaults(planned_epochs=epochs)
    return parser.parse_args(argv)


def tie(model: nn.Module, name: str, source: str) -> None:
    """Shared weights: the parameter ``name`` of ``model`` becomes the parameter ``source``."""
    tie_parameter(model, name, model.get_parameter(source))


def load_weights(model: nn.Module, path: Path) -> None:
    """Start from a dpg-blocks checkpoint's (or an import's) weights: its ``model`` state."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state.get("model", state) if isinstance(state, dict) else state)


def fit(
    model: nn.Module, orders: list[Order], data: dict[str, DataSource], args: argparse.Namespace,
    device: torch.device,
) -> list[dict[str, Any]]:
    """Train ``args.epochs`` epochs, evaluating after each; print and return each epoch's metrics."""
    history: list[dict[str, Any]] = []
    clock = attach_clock(model, TrainingClock(steps_per_epoch(orders, data), args.planned_epochs))
    metrics_file = open(args.metrics_out, "w", encoding="utf-8") if args.metrics_out else None  # noqa: SIM115
    steps_file = open(args.steps_out, "w", encoding="utf-8") if args.steps_out else None  # noqa: SIM115
    try:
        for epoch in range(args.epochs):
            started = time.perf_counter()

            def on_step(step: int, totals: dict[int, float], epoch: int = epoch) -> None:
                if steps_file is not None:
                    losses = {f"order_{k}": v for k, v in totals.items()}
                    steps_file.write(json.dumps({"epoch": epoch + 1, "step": step, "losses": losses}) + "\n")

            metrics: dict[str, Any] = {"epoch": epoch + 1}
            metrics.update(train_epoch(model, orders, data, epoch, device, args.max_steps, on_step, clock))
            losses = [v for k, v in metrics.items() if k.startswith("loss/")]
            if losses:
                metrics["loss"] = float(sum(losses))
            for split in ("val", "test"):
                metrics.update(evaluate(model, orders, data, split, device))
            for order in orders:
                if order.optimizer is not None:
                    metrics[f"lr/order_{order.index}"] = order.optimizer.param_groups[0]["lr"]
                    if order.scheduler is not None:
                        order.scheduler.step()
            metrics["time_s"] = time.perf_counter() - started
            for k, v in metrics.items():
                if isinstance(v, float) and not math.isfinite(v):
                    metrics[k] = None  # JSON has no NaN (as dpg-blocks reports it)
            shown = [k for k in metrics if k == "loss" or k.endswith("accuracy")]
            print(f"epoch {epoch + 1}: " + "  ".join(f"{k}={metrics[k]:.4f}" for k in shown if metrics[k] is not None))
            if metrics_file is not None:
                metrics_file.write(json.dumps(metrics) + "\n")
                metrics_file.flush()
            history.append(metrics)
    finally:
        for f in (metrics_file, steps_file):
            if f is not None:
                f.close()
    return history


__all__ = [
    "Order", "parameters", "load_csv", "pick_device", "cycle", "next_batch", "add_accuracy",
    "steps_per_epoch", "train_epoch", "evaluate", "parse_args", "tie", "load_weights", "fit",
]
