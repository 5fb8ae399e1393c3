"""A trainer's checkpoints: what it writes after an epoch and what it reads back to resume or start from.

:class:`TrainerCheckpoints` is a mixin of :class:`~.trainer.Trainer`: serialising the state a
bit-exact resume needs, writing it atomically, restoring it, and loading only a model's weights
(refused by name when they do not fit). With it are the checks around a starting checkpoint
(:func:`starting_weights`, :class:`WeightsMismatch`). It is separate from the trainer because
training steps and evaluates, while this part only moves the trainer's state to and from files.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import torch

from dpg_blocks.core.atomic_file import write_bytes_atomic
from dpg_blocks.core.project import Project

from ..compiling.model import CompiledModel
from ..compiling.progress import TrainingClock
from .optimizers import rng_state, set_rng_state
from .precision import Precision


class WeightsMismatch(ValueError):
    """A checkpoint's weights do not fit the model (names or shapes differ)."""


class TrainerCheckpoints:
    """The Trainer's checkpoints (a mixin of :class:`~.trainer.Trainer`)."""

    # What this mixin uses of the Trainer it is part of.
    project: Project
    seed: int
    device: torch.device
    model: CompiledModel
    epoch: int
    optimizers: dict[int, torch.optim.Optimizer | None]
    schedulers: dict[int, Any]
    precision: Precision
    clock: TrainingClock

    def checkpoint_bytes(self, metrics: dict[str, Any] | None = None) -> bytes:
        """Everything a bit-exact resume needs after the current epoch, serialised: model,
        optimizers, schedulers, epoch, every random stream (Python, numpy, torch, CUDA) and the
        project. Serialised in memory (torch reports a full disk as a RuntimeError) so callers
        write it atomically: a kill or a full disk leaves the previous file whole."""
        from dpg_blocks.core.project_file import project_to_dict

        state = {
            "epoch": self.epoch,
            "model": self.model.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items() if o is not None},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items() if s is not None},
            "metrics": metrics or {},
            "project": json.dumps(project_to_dict(self.project)),
            "seed": self.seed,
            "rng": rng_state(),
            "scalers": self.precision.state_dict(),  # fp16's loss scales (none otherwise)
        }
        buffer = io.BytesIO()
        torch.save(state, buffer)
        return buffer.getvalue()

    def save_checkpoint(self, folder: Path | str, metrics: dict[str, Any] | None = None) -> Path:
        """Model, optimizers and schedulers after the current epoch (``epoch_NNNN.pt`` + ``last.pt``)."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"epoch_{self.epoch:04d}.pt"
        data = self.checkpoint_bytes(metrics)
        write_bytes_atomic(path, data)
        write_bytes_atomic(out / "last.pt", data)
        return path

    def load_checkpoint(self, path: Path | str, restore_rng: bool = False) -> dict[str, Any]:
        """Restore model, optimizers, schedulers and the epoch counter (and, with ``restore_rng``,
        every random stream, for an exact resume); returns the checkpoint."""
        state = torch.load(path, map_location=self.device, weights_only=True)
        self.model.load_state_dict(state["model"])
        for k, s in state["optimizers"].items():
            opt = self.optimizers.get(int(k))
            if opt is not None:
                opt.load_state_dict(s)
        for k, s in state["schedulers"].items():
            sched = self.schedulers.get(int(k))
            if sched is not None:
                sched.load_state_dict(s)
        self.precision.load_state_dict(state.get("scalers", {}))
        self.epoch = int(state["epoch"])
        self.clock.at(self.epoch, 0)
        if restore_rng and "rng" in state:
            set_rng_state(state["rng"])
        return state

    def load_weights(self, path: Path | str) -> None:
        """Load only a checkpoint's model weights (fresh optimizers); a missing, unexpected or
        differently shaped tensor is refused by name (:class:`WeightsMismatch`)."""
        state = torch.load(path, map_location=self.device, weights_only=True)
        weights = state.get("model", state) if isinstance(state, dict) else state
        own = self.model.state_dict()
        problems = [f"missing {k}" for k in own if k not in weights]
        problems += [f"unexpected {k}" for k in weights if k not in own]
        problems += [f"{k}: {tuple(weights[k].shape)} in the checkpoint, {tuple(v.shape)} in the model"
                     for k, v in own.items() if k in weights and tuple(weights[k].shape) != tuple(v.shape)]
        if problems:
            raise WeightsMismatch(f"the weights in {path} do not fit this model: " + "; ".join(problems[:5])
                                  + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""))
        self.model.load_state_dict(weights)


def starting_weights(project: Project, project_dir: Path | str) -> Path | None:
    """The checkpoint the project's ``training.weights`` names (an import's ``PROJECT.weights.pt``;
    relative to the project's folder), or None; a ValueError naming it when it is gone."""
    name = project.training.weights
    if not name:
        return None
    path = Path(name).expanduser()
    path = path if path.is_absolute() else Path(project_dir) / path
    if not path.is_file():
        raise ValueError(f"the project starts from the weights in {name}, but {path} is not there "
                                "(clear Optimization › start from weights, or import the model again)")
    return path
