"""Training: per-order optimizers and losses, epoch metrics, evaluation (checkpoints: :mod:`.checkpoints`).

Each training step runs the orders in sequence (DESIGN.md §3). In order k only the inputs of
order k emit a batch; the order's generated forward returns its summed loss, and the order's
own optimizer — over the blocks the order names, or every block live in it — takes the step.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dpg_blocks.core.project import OptimizerSettings, Order, Project

from ..compiling.model import CompiledModel, CompileResult, Head, compile_project
from ..compiling.progress import TrainingClock, attach_clock
from ..data.datasets import DataSource
from ..packs.registry import Registry
from .checkpoints import TrainerCheckpoints, WeightsMismatch, starting_weights
from .device import resolve_device
from .distributed import Shards, World, check_batch_sizes, reduce_evaluation
from .epoch import EpochRun
from .evaluation import Misclassified, Regression, class_names, class_report
from .optimizers import (
    check_optimizer_settings,
    make_optimizer,
    make_scheduler,
    seed_everything,
)
from .precision import Precision
from .scoring import _confuse, _Score, _score

__all__ = ["SPLITS", "Trainer", "WeightsMismatch", "order_block_ids", "order_of", "require_a_loss",
           "starting_weights"]

SPLITS = ("train", "val", "test")


def order_of(project: Project, index: int) -> Order:
    """The project's order ``index``; one with the first order's optimizer when it has none."""
    for o in project.orders:
        if o.index == index:
            return o
    return Order(index, f"order {index}", project.orders[0].optimizer if project.orders else OptimizerSettings())


def order_block_ids(project: Project, compiled: CompileResult, index: int) -> list[str]:
    """The blocks order ``index`` optimises, in parameter order: its chosen blocks (SuperBlocks
    include their children) or, when it names none, every block live in the order."""
    order = order_of(project, index)
    if order.optimize is None:
        return [s.node.id for s in compiled.plans[index].steps if s.live]
    chosen = set(order.optimize)
    return [nid for nid, n in compiled.flat.nodes.items() if nid in chosen or chosen & set(n.super_ids)]


class Trainer(TrainerCheckpoints):
    """Compiles a project and trains it; ``fit`` yields one metrics dict per epoch (its checkpoints:
    :class:`~.checkpoints.TrainerCheckpoints`)."""

    def __init__(
        self,
        project: Project,
        registry: Registry,
        project_dir: Path | str = ".",
        device: str | None = None,
        seed: int | None = None,
        trusted: bool = False,
        on_block: Callable[[Any], None] | None = None,
        world: World | None = None,
        amp: str | None = None,
    ) -> None:
        """``world``: this process's place in a torchrun group (DDP over ``distributed.Shards``);
        ``amp``: "bf16" or "fp16" mixed precision (``precision.Precision``), default float32."""
        self.project = project
        self.seed = project.training.seed if seed is None else seed
        self.device = resolve_device(device or project.training.device)
        seed_everything(self.seed)
        # custom code runs only in a trusted project (DESIGN.md §5; the CLI's --trust)
        self.compiled: CompileResult = compile_project(project, registry, project_dir, trusted=trusted,
                                                            on_block=on_block)
        self.model: CompiledModel = self.compiled.model.to(self.device)
        self.sources: dict[str, DataSource] = self.compiled.sources
        self.names = {nid: n.block.name for nid, n in self.compiled.flat.nodes.items()}
        self.epoch = 0
        self.misclassified: list[dict[str, Any]] = []  # the last test evaluation's (evaluation.py)
        self.regression: Regression | None = None  # the last test evaluation's scatter pairs
        self.last_run: EpochRun | None = None
        self.optimizers: dict[int, torch.optim.Optimizer | None] = {}
        self.schedulers: dict[int, Any] = {}
        for index in self.model.orders:
            order = self._order(index)
            params = self.order_parameters(index)
            has_loss = bool(self.model.loss_ids[index])
            if params and has_loss:
                check_optimizer_settings(order.optimizer, f"order {index} ({order.name})")
            opt = make_optimizer(order.optimizer, params) if params and has_loss else None
            self.optimizers[index] = opt
            self.schedulers[index] = make_scheduler(order.optimizer, opt, project.training.epochs) if opt else None
        self._forwards = {k: self.model._forwards[k] for k in self.model.orders}
        self.precision = Precision(amp, self.device, self.model.orders)
        self.shards: Shards | None = None
        if world is not None:
            check_batch_sizes(self.sources, self.names, world.size)
            self.shards = Shards(self, world)
        # the plan is the project's epochs (as for the cosine schedule), whatever a run's length
        self.clock = attach_clock(self.model, TrainingClock(self.steps_per_epoch(), project.training.epochs))

    def block_of(self, exc: BaseException) -> str | None:
        """The path of the block whose module was running when ``exc`` was raised (the innermost
        one in the traceback), e.g. ``Backbone › bn``; None when no block's code was on the stack."""
        found = self.block_id_of(exc)
        if found is None:
            return None
        return " › ".join(self.compiled.flat.nodes[found].path)

    def block_id_of(self, exc: BaseException) -> str | None:
        """The id of the innermost block module on ``exc``'s traceback (see :meth:`block_of`)."""
        by_module = {id(m): nid for nid, m in self.model.block_modules.items()}
        found = None
        tb = exc.__traceback__
        while tb is not None:
            owner = tb.tb_frame.f_locals.get("self")
            if owner is not None and id(owner) in by_module:
                found = by_module[id(owner)]
            tb = tb.tb_next
        return found

    def _order(self, index: int) -> Order:
        return order_of(self.project, index)

    def order_parameters(self, index: int) -> list[nn.Parameter]:
        """The parameters order ``index`` updates: its chosen blocks (SuperBlocks include their
        children) or, when it names none, every block live in the order."""
        seen: set[int] = set()
        params: list[nn.Parameter] = []
        for nid in order_block_ids(self.project, self.compiled, index):
            module = self.model.block_modules.get(nid)
            if module is None:
                continue
            for p in module.parameters():
                if id(p) not in seen and p.requires_grad:
                    seen.add(id(p))
                    params.append(p)
        return params

    # -- one step ----------------------------------------------------------------------------
    def train_step(self, index: int, batch: list[torch.Tensor | None]) -> tuple[Any, Any, Any]:
        """Forward order ``index`` on ``batch`` and step its optimizer."""
        out = self.forward(index, batch)
        self.optimize(index, out[0])
        return out

    def forward(self, index: int, batch: list[torch.Tensor | None]) -> tuple[Any, Any, Any]:
        """Order ``index``'s generated forward: ``(total_loss, losses, heads)``; under torchrun on
        this rank's share of ``batch``, through the order's DDP wrapper."""
        with self.precision.autocast():
            if self.shards is not None:
                return self.shards.forward(index, batch, train=True)[:3]
            return self._forwards[index](*batch)

    def optimize(self, index: int, total: torch.Tensor | None) -> None:
        """Backward ``total`` and step order ``index``'s optimizer (if it has one)."""
        opt = self.optimizers[index]
        if opt is not None and total is not None:
            opt.zero_grad(set_to_none=True)
            self.precision.step(index, opt, total)

    def steps_per_epoch(self) -> int:
        counts = [self.sources[i].num_batches("train") for ids in self.model.input_ids.values() for i in ids]
        return max(counts, default=0)

    def _cycle(self, source: DataSource, split: str, epoch: int, shuffle: bool) -> Iterator[Any]:
        rounds = 0
        while True:
            empty = True
            for b in source.batches(split, epoch=epoch * 1000 + rounds, shuffle=shuffle, device=self.device):
                empty = False
                yield b
            if empty:
                return
            rounds += 1

    def start_epoch(self) -> EpochRun:
        """An epoch to run step by step (the engine pauses and resumes between steps)."""
        self.last_run = EpochRun(self)  # what a progress display reads (its batches, its count)
        return self.last_run

    def train_epoch(
        self, on_step: Callable[[int, int], None] | None = None, check_finite: bool = False
    ) -> dict[str, Any]:
        """One epoch over the largest input; smaller inputs cycle. Returns train metrics.

        With ``check_finite`` a NaN/Inf loss stops the epoch (:class:`NonFiniteLoss`).
        """
        run = self.start_epoch()
        while not run.done:
            run.step(check_finite=check_finite)
            if on_step is not None:
                on_step(run.steps_done, run.n_steps)
        return run.metrics()

    def _next_batch(self, iters: dict[str, Iterator[Any]], index: int) -> list[Any] | None:
        batch: list[Any] = []
        for inp in self.model.input_ids[index]:
            try:
                x, y = next(iters[inp])
            except StopIteration:
                return None
            batch += [x, y]
        return batch

    def _add_accuracy(self, metrics: dict[str, Any], split: str, scores: dict[int, list[_Score]]) -> None:
        overall = _Score()
        per_input: dict[str, _Score] = {}
        for index, order_scores in scores.items():
            for head, sc in zip(self.model.heads[index], order_scores, strict=True):
                if not sc.total:
                    continue
                overall.add(sc.correct, sc.total)
                if head.input_id is not None:
                    agg = per_input.setdefault(head.input_id, _Score())
                    agg.add(sc.correct, sc.total)
        if overall.total:
            metrics[f"{split}_accuracy"] = overall.accuracy
        if len(per_input) > 1 or split != "train":
            for inp, sc in per_input.items():
                metrics[f"{split}_accuracy/{self.names[inp]}"] = sc.accuracy

    # -- evaluation --------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, split: str) -> dict[str, Any]:
        """Loss per order, accuracy and (test) confusion matrix on ``split``."""
        self.model.eval()
        metrics: dict[str, Any] = {}
        scores: dict[int, list[_Score]] = {}
        confusion: np.ndarray | None = None
        # The confusion matrix shows the first classification head (of the first order with one).
        cm_head = next(
            ((k, i) for k in self.model.orders for i, h in enumerate(self.model.heads[k]) if h.kind == "classification"),
            None,
        )
        wrong = Misclassified()  # the test split's gallery (the confusion matrix's head)
        # R², MSE, MAE and the scatter show the first regression head, as the matrix does
        reg_head = next(
            ((k, i) for k in self.model.orders for i, h in enumerate(self.model.heads[k]) if h.kind == "regression"),
            None,
        )
        regression: Regression | None = None
        loss_sums: dict[int, float] = {}
        for index in self.model.orders:
            inputs = self.model.input_ids[index]
            if not inputs:
                continue
            n = max(self.sources[i].num_batches(split) for i in inputs)
            iters = {i: self._cycle(self.sources[i], split, 0, False) for i in inputs}
            loss_sum, steps = 0.0, 0
            scores[index] = [_Score() for _ in self.model.heads[index]]
            if reg_head is not None and reg_head[0] == index:
                regression = Regression(n)
            for _ in range(n):
                batch = self._next_batch(iters, index)
                if batch is None:
                    break
                whole = batch
                with self.precision.autocast():
                    if self.shards is not None:  # this rank's samples of the batch (heads and inputs)
                        total, _losses, heads, batch = self.shards.forward(index, batch, train=False)
                    else:
                        total, _losses, heads = self._forwards[index](*batch)
                if total is not None:
                    loss_sum += float(total)
                    steps += 1
                for i, (head, (pred, target)) in enumerate(zip(self.model.heads[index], heads, strict=True)):
                    if (index, i) == reg_head and regression is not None:
                        regression.add(pred, target)
                    got = _score(head.kind, pred, target)
                    if got is None:
                        continue
                    sc = scores[index][i]
                    sc.add(int(got[0]), got[1])
                    if (index, i) == cm_head and pred.dim() == 2:  # per-position heads: no matrix
                        confusion = _confuse(confusion, pred, target, self._classes(head, pred))
                        if split == "test" and not wrong.full and head.input_id in inputs:
                            at = 2 * inputs.index(head.input_id)
                            wrong.add(batch[at], pred, target, self._place(), int(whole[at].shape[0]))
            if steps:
                loss_sums[index] = loss_sum / steps
        if self.shards is not None:
            loss_sums, scores, confusion, regression, wrong = reduce_evaluation(
                self.shards, loss_sums, scores, confusion, regression, wrong)
        for index, value in loss_sums.items():
            metrics[f"{split}_loss/order_{index}"] = value
        self._add_accuracy(metrics, split, scores)
        if regression is not None:
            metrics.update(regression.report(split))
        if confusion is not None and split == "test" and cm_head is not None:
            metrics["confusion_matrix"] = confusion.tolist()
            head = self.model.heads[cm_head[0]][cm_head[1]]
            src = self.sources.get(head.input_id) if head.input_id else None
            names = class_names(src.class_names if src is not None else None, confusion.shape[0])
            metrics["classes"] = names
            metrics.update(class_report(confusion, names))
            metrics["misclassified"] = wrong.listed(names)
        if split == "test":
            self.misclassified = wrong.found  # with the samples: the editor's gallery
            self.regression = regression  # and the scatter's pairs
        return metrics

    def _place(self) -> tuple[int, int]:
        """(rank, ranks): where this process's samples sit in each batch (every r-th of N)."""
        return (self.shards.world.rank, self.shards.world.size) if self.shards is not None else (0, 1)

    def _classes(self, head: Head, pred: torch.Tensor) -> int:
        src = self.sources.get(head.input_id) if head.input_id else None
        n = src.num_classes if src is not None and src.num_classes else 0
        return max(n, pred.shape[1])

    # -- epochs ------------------------------------------------------------------------------
    def fit(
        self, epochs: int | None = None, on_step: Callable[[int, int], None] | None = None, check_finite: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Train ``epochs`` epochs (default: the project's); yield each epoch's metrics."""
        n = self.project.training.epochs if epochs is None else epochs
        for _ in range(n):
            start = time.perf_counter()
            train_metrics = self.train_epoch(on_step, check_finite)
            yield self.finish_epoch(train_metrics, start)

    def finish_epoch(self, train_metrics: dict[str, Any], started: float) -> dict[str, Any]:
        """Evaluate val/test, step the schedulers, count the epoch; the epoch's full metrics."""
        metrics: dict[str, Any] = {"epoch": self.epoch + 1}
        metrics.update(train_metrics)
        losses = [v for k, v in metrics.items() if k.startswith("loss/")]
        if losses:
            metrics["loss"] = float(sum(losses))
        for split in ("val", "test"):
            metrics.update(self.evaluate(split))
        for index, opt in self.optimizers.items():
            if opt is not None:
                metrics[f"lr/order_{index}"] = opt.param_groups[0]["lr"]
                if self.schedulers[index] is not None:
                    self.schedulers[index].step()
        metrics["time_s"] = time.perf_counter() - started
        self.epoch += 1
        for k, v in metrics.items():
            if isinstance(v, float) and not math.isfinite(v):
                metrics[k] = None  # JSON has no NaN; the value is reported as missing
        return metrics


def require_a_loss(trainer: Trainer) -> None:
    """Refuse (ValueError) to train a model without a loss: training would do nothing and say done."""
    if not any(trainer.model.loss_ids.values()):
        raise ValueError("the project has no loss block, so training has nothing to improve: add a loss (e.g. "
                         "Cross-Entropy Loss) fed by a prediction and an Input's labels (an imported model has none)")
