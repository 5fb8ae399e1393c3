"""Training progress: where a run stands in its planned training, for blocks that read the signal.

A Custom block's ``ctx.progress``, ``ctx.step`` and ``ctx.epoch`` come from the
:class:`TrainingClock` the training loop keeps (the Trainer's, or an exported script's — this
module is copied into exported scripts, so it uses only the standard library and torch).
``progress`` = (steps done) / (planned steps), where steps done = epoch × steps per epoch +
steps done in this epoch, and planned steps = the project's epochs × steps per epoch (like the
cosine schedule's length, the plan does not follow ``--epochs``); it is capped at 1. So the first
training step reads 0, the last one (E·S − 1)/(E·S), and evaluation after epoch e reads (e+1)/E.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn


@dataclass
class TrainingClock:
    """The planned length of a run and how far it is: read by Custom blocks as ctx.progress."""

    steps_per_epoch: int = 0
    planned_epochs: int = 0
    epoch: int = 0  # the epoch under way (0-based), or the number of epochs done between epochs
    step: int = 0  # planned-training steps done: epoch × steps_per_epoch + steps done in this epoch

    @property
    def progress(self) -> float:
        """Steps done / planned steps, in [0, 1] (0 when nothing is planned: validation)."""
        planned = self.steps_per_epoch * self.planned_epochs
        return min(1.0, self.step / planned) if planned > 0 else 0.0

    def at(self, epoch: int, steps_done: int) -> None:
        """Stand at ``steps_done`` steps into epoch ``epoch`` (0-based)."""
        self.epoch = epoch
        self.step = epoch * self.steps_per_epoch + steps_done


def attach_clock(model: nn.Module, clock: TrainingClock) -> TrainingClock:
    """Give every block of ``model`` that reads the clock (a ``clock`` attribute) this one."""
    for module in model.modules():
        if isinstance(getattr(module, "clock", None), TrainingClock):
            module.clock = clock
    return clock
