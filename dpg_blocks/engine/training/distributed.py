"""Scale-out: one project trained on several processes with torchrun and DistributedDataParallel.

Under ``torchrun`` (the ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` variables are set) the CLI's
``train`` starts a process group (gloo on CPU, nccl on CUDA with ``LOCAL_RANK`` as the device) and
gives the :class:`Trainer` a :class:`Shards`. Every rank reads the same global batches as one
process would (same shuffle, same noise); rank r trains on samples r, r+N, r+2N, … of each, so the
ranks' k-th batches together are exactly the single-process k-th batch. How the orders map onto
DDP, and why no DistributedSampler, is in docs/scale-out.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .device import resolve_device
from .evaluation import MAX_MISCLASSIFIED, MAX_SCATTER, Misclassified, Regression
from .scoring import _Score

if TYPE_CHECKING:
    from ..data.datasets import DataSource
    from .trainer import Trainer

ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@dataclass(frozen=True)
class World:
    """This process's place in a torchrun group."""

    rank: int
    size: int
    local_rank: int

    @property
    def main(self) -> bool:
        """Rank 0: the one that prints and writes metrics, run folders and checkpoints."""
        return self.rank == 0


def world_from_env(environ: Mapping[str, str] | None = None) -> World | None:
    """The torchrun group this process belongs to, or None when it was not started by torchrun."""
    env = os.environ if environ is None else environ
    if not all(k in env for k in ENV):
        return None
    try:
        rank, size, local = (int(env[k]) for k in ENV)
    except ValueError:
        raise ValueError("torchrun's RANK, WORLD_SIZE and LOCAL_RANK must be whole numbers, got "
                         + ", ".join(f"{k}={env[k]!r}" for k in ENV)) from None
    if size < 1 or not 0 <= rank < size or local < 0:
        raise ValueError(f"RANK={rank}, WORLD_SIZE={size}, LOCAL_RANK={local} is no place in a process group")
    return World(rank, size, local)


def start(world: World, device: str | None) -> torch.device:
    """Join the process group (torchrun's env:// rendezvous) and return this rank's device:
    ``cuda:LOCAL_RANK`` with nccl when the device is CUDA, else the CPU with gloo."""
    chosen = resolve_device(device)
    if chosen.type == "cuda":
        chosen = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(chosen)
        backend = "nccl"
    else:
        backend = "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend, rank=world.rank, world_size=world.size)
    return chosen


def stop(wait_for_all: bool = False) -> None:
    """Leave the process group (each rank, at the end of training or on an error). After a run
    that ended well, first wait for every rank to get here: a rank tearing gloo down while rank 0
    still writes its files and sends its last messages could abort the other (seen under load,
    a rank ending with SIGABRT). On an error torchrun ends the group; no rank waits on it."""
    if dist.is_available() and dist.is_initialized():
        if wait_for_all:
            try:
                dist.barrier()
            except Exception:  # noqa: BLE001 - a peer already gone: nothing left to wait for
                pass
        dist.destroy_process_group()


def check_batch_sizes(sources: Mapping[str, DataSource], names: Mapping[str, str], size: int) -> None:
    """Refuse (ValueError) an Input whose global batch does not split evenly over ``size`` ranks."""
    for input_id, source in sources.items():
        if source.batch_size % size:
            raise ValueError(
                f"{names.get(input_id, input_id)} ({source.name}): the batch size {source.batch_size} does not "
                f"divide by the {size} processes; --batch-size is the global batch, each process takes "
                f"batch size / {size} (use a multiple of {size}, e.g. {source.batch_size // size * size or size})")


class _Order(nn.Module):
    """One order's generated forward as a module, for its own DDP wrapper (the model is shared)."""

    def __init__(self, model: nn.Module, index: int) -> None:
        super().__init__()
        self.model = model
        self.index = index

    def forward(self, *batch: Any) -> Any:
        return self.model._forwards[self.index](*batch)


class Shards:
    """A trainer's share of each batch and the DDP wrappers of its orders.

    One ``DistributedDataParallel`` per order that has an optimizer, around a module whose forward
    is that order's generated forward. Each wrapper reduces only the parameters its order's
    optimizer steps and that get a gradient in that order (found once, by a probe backward);
    the rest are on DDP's ignore list, so no order needs ``find_unused_parameters``. A reducer
    whose forward did not run this step ignores the gradient hooks its parameters fire, so the
    wrappers can share parameters (a GAN's discriminator is live in both orders).
    """

    def __init__(self, trainer: Trainer, world: World) -> None:
        self.trainer, self.world = trainer, world
        self.wrappers: dict[int, DistributedDataParallel] = {}
        model = trainer.model
        for index, opt in trainer.optimizers.items():
            if opt is None:
                continue  # nothing to step: the order's forward runs plainly, on this rank's share
            wrapper = _Order(model, index)
            stepped = [p for g in opt.param_groups for p in g["params"]]
            try:
                reached, unsure = self._with_gradients(index, stepped), False
            except Exception:  # the probe's two samples do not fit the model: let DDP find out each step
                reached, unsure = stepped, True
            if not reached:
                continue  # its loss reaches none of its parameters: every rank steps nothing alike
            reduced = {id(p) for p in reached}
            ignored = [name for name, p in wrapper.named_parameters() if id(p) not in reduced]
            DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(wrapper, ignored)
            on_cuda = trainer.device.type == "cuda"
            self.wrappers[index] = DistributedDataParallel(
                wrapper, device_ids=[trainer.device] if on_cuda else None, find_unused_parameters=unsure)

    def _with_gradients(self, index: int, params: list[nn.Parameter]) -> list[nn.Parameter]:
        """The ``params`` that order ``index``'s loss reaches, by one backward on two training
        samples (model buffers and every random stream are put back afterwards)."""
        trainer = self.trainer
        batch: list[Any] = []
        for input_id in trainer.model.input_ids[index]:
            x, y = trainer.sources[input_id].sample(2, trainer.device)
            batch += [x, y]
        saved = {k: v.clone() for k, v in trainer.model.state_dict().items()}  # BatchNorm statistics
        devices = [trainer.device] if trainer.device.type == "cuda" else []
        try:
            with torch.random.fork_rng(devices=devices):
                total = trainer.model._forwards[index](*batch)[0]
                grads = torch.autograd.grad(total, params, allow_unused=True) if total is not None \
                    else [None] * len(params)
        finally:
            trainer.model.load_state_dict(saved)
        return [p for p, g in zip(params, grads, strict=True) if g is not None]

    # -- sharing a batch ---------------------------------------------------------------------
    def _even(self, batch: list[Any]) -> bool:
        return all(t is None or t.shape[0] % self.world.size == 0 for t in batch)

    def take(self, t: Any) -> Any:
        """This rank's samples of ``t`` (rank r: r, r+N, r+2N, …); a non-batch value unchanged."""
        if not isinstance(t, torch.Tensor) or t.dim() == 0:
            return t
        return t[self.world.rank :: self.world.size]

    def forward(self, index: int, batch: list[Any], train: bool) -> tuple[Any, Any, Any, list[Any]]:
        """Order ``index`` on this rank's share of the global ``batch``: ``(total, losses, heads,
        share)``; heads hold this rank's samples, ``total`` their mean loss.

        A batch that does not split evenly (an epoch's last, partial batch) runs whole on every
        rank without DDP: each computes the same gradient, so the step equals one process's
        (DDP's mean of unequal shares would not), and the heads are cut to this rank's samples.
        """
        forward = self.trainer.model._forwards[index]
        if self._even(batch):
            share = [self.take(t) for t in batch]
            wrapper = self.wrappers.get(index) if train else None
            total, losses, heads = (wrapper or forward)(*share)
            return total, losses, heads, share
        total, losses, heads = forward(*batch)
        cut = [(self.take(pred), self.take(target)) for pred, target in heads]
        return total, losses, cut, [self.take(t) for t in batch]

    # -- reducing metrics --------------------------------------------------------------------
    def gather(self, value: Any) -> list[Any]:
        """Every rank's ``value`` (a picklable object), in rank order, on every rank."""
        out: list[Any] = [None] * self.world.size
        dist.all_gather_object(out, value)
        return out

    def sum_counts(self, counts: dict[int, list[tuple[int, int]]]) -> dict[int, list[tuple[int, int]]]:
        """Each order's (correct, total) per head, summed over the ranks."""
        every = self.gather(counts)
        return {k: [(sum(r[k][i][0] for r in every), sum(r[k][i][1] for r in every)) for i in range(len(v))]
                for k, v in counts.items()}

    def mean(self, values: dict[int, float]) -> dict[int, float]:
        """Each order's value averaged over the ranks (the ranks' shares are equal: their means'
        mean is the batch's mean; a whole-batch step has the same value on every rank)."""
        every = self.gather({k: float(v) for k, v in values.items()})
        return {k: sum(r[k] for r in every) / self.world.size for k in values}



def reduce_training(shards: Shards, loss_sums: dict[int, Any], scores: dict[int, list[_Score]]
                    ) -> tuple[dict[int, float], dict[int, list[_Score]]]:
    """An epoch's loss sums (averaged) and training counts (summed) over every rank."""
    counts = shards.sum_counts({k: [(int(s.correct), s.total) for s in v] for k, v in scores.items()})
    return shards.mean(loss_sums), {k: [_Score(c, t) for c, t in v] for k, v in counts.items()}


def reduce_evaluation(
    shards: Shards, losses: dict[int, float], scores: dict[int, list[_Score]], confusion: np.ndarray | None,
    regression: Regression | None, wrong: Misclassified,
) -> tuple[dict[int, float], dict[int, list[_Score]], np.ndarray | None, Regression | None, Misclassified]:
    """A split's evaluation over every rank: mean losses, summed counts and confusion matrix,
    the regression's sums (its scatter takes each rank's pairs) and the first misclassified
    samples of the whole split (each rank found its first ones, with the split's indices)."""
    reg = None if regression is None else (regression.count, regression.sums, regression.pred, regression.true)
    every = shards.gather((losses, {k: [(int(s.correct), s.total) for s in v] for k, v in scores.items()},
                           confusion, reg, wrong.found, wrong.seen))
    mean = {k: sum(r[0][k] for r in every) / len(every) for k in losses}
    summed = {k: [_Score(sum(r[1][k][i][0] for r in every), sum(r[1][k][i][1] for r in every))
                  for i in range(len(v))] for k, v in scores.items()}
    matrices = [r[2] for r in every if r[2] is not None]
    if matrices:
        size = max(m.shape[0] for m in matrices)
        confusion = np.zeros((size, size), dtype=np.int64)
        for m in matrices:
            confusion[: m.shape[0], : m.shape[1]] += m
    if regression is not None:
        regression.count = sum(r[3][0] for r in every)
        regression.sums = [sum(r[3][1][i] for r in every) for i in range(4)]
        pairs = [(p, t) for r in every for p, t in zip(r[3][2], r[3][3], strict=True)][:MAX_SCATTER]
        regression.pred, regression.true = [p for p, _ in pairs], [t for _, t in pairs]
    merged = Misclassified()
    merged.found = sorted((f for r in every for f in r[4]), key=lambda f: f["index"])[:MAX_MISCLASSIFIED]
    merged.seen = wrong.seen
    return mean, summed, confusion, regression, merged
