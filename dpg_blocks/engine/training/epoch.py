"""One training epoch, advanced a step at a time (what the engine's session and the CLI drive), and
the error a NaN or Inf loss raises."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from .distributed import reduce_training
from .scoring import _Score, _score

if TYPE_CHECKING:
    from .trainer import Trainer


class EpochRun:
    """One training epoch, advanced a step at a time; every order runs once per step."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        model = trainer.model
        model.train()
        self.iters = {i: trainer._cycle(s, "train", trainer.epoch, True) for i, s in trainer.sources.items()}
        self.loss_sums: dict[int, Any] = {k: 0.0 for k in model.orders}
        self.scores = {k: [_Score() for _ in model.heads[k]] for k in model.orders}
        self.n_steps = trainer.steps_per_epoch()
        self.steps_done = 0
        self.last_batches: dict[int, list[Any]] = {}
        trainer.clock.at(trainer.epoch, 0)

    @property
    def done(self) -> bool:
        return self.steps_done >= self.n_steps

    def step(self, check_finite: bool = False) -> dict[int, Any]:
        """Run every order once; returns each order's total loss (detached).

        With ``check_finite`` an order whose loss is NaN/Inf is not back-propagated: its
        optimizer does not step, and :class:`NonFiniteLoss` is raised with the order and batch.
        """
        trainer, model = self.trainer, self.trainer.model
        totals: dict[int, Any] = {}
        for index in model.orders:
            batch = trainer._next_batch(self.iters, index)
            if batch is None:
                continue
            self.last_batches[index] = batch
            total, _losses, heads = trainer.forward(index, batch)
            if check_finite and total is not None and not bool(torch.isfinite(total)):
                raise NonFiniteLoss(index, batch, float(total.detach()), step=self.steps_done + 1)
            trainer.optimize(index, total)
            if total is not None:
                totals[index] = total.detach()
                self.loss_sums[index] = self.loss_sums[index] + totals[index]
            for sc, head, (pred, target) in zip(self.scores[index], model.heads[index], heads, strict=True):
                got = _score(head.kind, pred.detach(), target)
                if got is not None:
                    sc.add(got[0], got[1])
        self.steps_done += 1
        self.trainer.clock.at(self.trainer.epoch, self.steps_done)
        return totals

    def metrics(self) -> dict[str, Any]:
        """Mean loss per order and training accuracy over the steps run so far."""
        metrics: dict[str, Any] = {}
        sums, scores = self.loss_sums, self.scores
        if self.trainer.shards is not None:  # a collective: every rank calls it once an epoch
            sums, scores = reduce_training(self.trainer.shards, sums, scores)
        for index in self.trainer.model.orders:
            if self.trainer.model.loss_ids[index]:
                metrics[f"loss/order_{index}"] = float(sums[index]) / max(1, self.steps_done)
        self.trainer._add_accuracy(metrics, "train", scores)
        return metrics


class NonFiniteLoss(ArithmeticError):
    """An order's loss became NaN or Inf; nothing was back-propagated."""

    def __init__(self, order: int, batch: list[Any], value: float, step: int | None = None) -> None:
        super().__init__(f"the loss of order {order} is {value}")
        self.order, self.batch, self.value, self.step = order, batch, value, step
