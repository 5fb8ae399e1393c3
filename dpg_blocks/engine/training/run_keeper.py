"""Keeping a training run's folder: checkpoints and metrics after each epoch, never breaking training.

The CLI's ``train`` and the editor's TrainingSession both keep their run through a
:class:`RunKeeper`. A write that fails (a full disk, a read-only folder) stops the keeping, not
the training: ``warn`` is called once with why, and every later call does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from dpg_blocks.core.atomic_file import write_bytes_atomic
from dpg_blocks.core.project_file import project_to_dict
from dpg_blocks.core.runs.folders import RunError, RunWriter, settings_changes

from .trainer import Trainer

Warn = Callable[[str], None]


class ResumeRefused(ValueError):
    """The project changed since the run (or the seed differs): resuming would not be exact."""


class RunKeeper:
    """One run folder, kept while ``trainer`` trains."""

    def __init__(self, trainer: Trainer, writer: RunWriter | None, warn: Warn) -> None:
        self.trainer, self.writer, self.warn = trainer, writer, warn

    @classmethod
    def start(cls, trainer: Trainer, folder: Path | str, name: str, epochs: int, warn: Warn,
              argv: list[str] | None = None, init_from: str | None = None) -> RunKeeper:
        """A new run folder in ``folder`` (or, when it cannot be written, a keeper that keeps nothing)."""
        keeper = cls(trainer, None, warn)
        keeper._guard(lambda: setattr(keeper, "writer", RunWriter.create(
            folder, name, project_to_dict(trainer.project), trainer.seed, str(trainer.device), epochs,
            argv=argv, init_from=init_from)))
        return keeper

    @classmethod
    def resume(cls, trainer: Trainer, run_path: Path | str, epochs: int, warn: Warn, keep: bool = True) -> RunKeeper:
        """Load the run's last.pt into ``trainer`` (every random stream too) and reopen the run
        (with ``keep`` False — a torchrun rank other than 0 — only load it).

        Refused (:class:`ResumeRefused`) when the project differs from the checkpoint's other
        than by more epochs, or the seed differs."""
        import json

        import torch

        path = Path(run_path)
        last = path / "last.pt"
        if not last.is_file():
            raise RunError(f"run {path.name} has no last.pt to continue from (it ended before its first epoch)")
        state = torch.load(last, map_location="cpu", weights_only=True)
        before = json.loads(state["project"])
        after = project_to_dict(trainer.project)
        check_resumable(before, after, int(state["epoch"]))
        if "seed" in state and int(state["seed"]) != trainer.seed:
            raise ResumeRefused(f"the run was trained with seed {state['seed']}, not {trainer.seed}")
        trainer.load_checkpoint(last, restore_rng=True)
        keeper = cls(trainer, None, warn)
        epoch = trainer.epoch

        def reopen() -> None:
            keeper.writer = RunWriter.reopen(path, epoch=epoch, epochs_planned=epochs)
            if keeper.writer.epochs_done < epoch and state.get("metrics"):
                keeper.writer.append_metrics(state["metrics"])  # killed between checkpoint and metrics line

        if keep:
            keeper._guard(reopen)
        return keeper

    @property
    def path(self) -> Path | None:
        return self.writer.path if self.writer is not None else None

    def epoch_done(self, metrics: dict[str, Any]) -> None:
        """After an epoch: last.pt first (so a kill leaves a checkpoint its metrics line can follow),
        then the metrics line, then best.pt when this epoch is the best."""
        writer = self.writer
        if writer is None:
            return

        def write() -> None:
            data = self.trainer.checkpoint_bytes(metrics)
            write_bytes_atomic(writer.last_checkpoint, data)
            if writer.append_metrics(metrics):
                write_bytes_atomic(writer.best_checkpoint, data)

        self._guard(write)

    def finish(self, state: str) -> None:
        """The run ended (finished, stopped, failed) or paused."""
        if self.writer is not None:
            writer = self.writer
            self._guard(lambda: writer.finish(state))

    def _guard(self, action: Callable[[], None]) -> None:
        try:
            action()
        except (OSError, RuntimeError) as e:  # torch reports some write failures as RuntimeError
            where = self.writer.path if self.writer is not None else "the runs folder"
            self.writer = None
            self.warn(f"runs are not being kept: cannot write {where} ({type(e).__name__}: {e}); training goes on")


def check_resumable(before: dict[str, Any], after: dict[str, Any], epochs_done: int) -> None:
    """Refuse a resume whose project changed since the run; only the epoch count may grow."""
    changes = settings_changes(before, after)
    grown = (before.get("training") or {}).get("epochs"), (after.get("training") or {}).get("epochs")
    if isinstance(grown[0], int) and isinstance(grown[1], int) and grown[1] >= grown[0]:
        changes = [c for c in changes if not c.startswith("epochs:")]
    if changes:
        raise ResumeRefused("the project changed since this run: " + "; ".join(changes)
                            + " (undo the change, or start a new run with --init-from)")
