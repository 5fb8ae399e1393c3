"""Scenario B's reference: the graph's DANN against the same DANN by hand, and source-only.

For each seed:

1. Compiles assets/examples/dann_digits.dpgb with that seed (its Gradient Reversal block is
   custom code, so the example is run trusted) and builds :class:`HandwrittenDANN` with the
   compiled model's initial weights.
2. Trains both in lockstep on the same batches (the trainer's own batch order) with the same
   optimizer, for the project's epochs, recording each step's loss; the first 50 steps' losses
   must agree within 1e-5 relative. The reversal scale follows Ganin & Lempitsky's
   λ_p = 2 / (1 + exp(−10 p)) − 1, p = step / (the project's epochs × steps per epoch): the
   graph through its Custom block's ``gradient_schedule`` "ganin" and the training clock, the
   hand-written DANN by :func:`ganin_lambda` below, computed independently.
3. Trains the hand-written network on the source alone (same initial weights, same source
   batches, no domain branch) for comparison.

It prints the target validation (for choices) and test accuracy of each, then the mean ± std
over the seeds and whether DANN beats source-only on the target test split by more than two
standard errors of the difference of the means; last,
``dann_target=<mean> source_only_target=<mean> handwritten_dann_target=<mean>
max_rel_loss_diff=<f> dann_target_std=<f> source_only_target_std=<f> seeds=<n>``.

The shift (assets/data/digits_shifted.csv: shifted, inverted, noisy) is the example's; see
docs/performance.md "Scenario B reference" for what was tried on it.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/dann_reference.py [--epochs N] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import copy
import math
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from handwritten_dann import HandwrittenDANN, copy_weights_from  # noqa: E402

from dpg_blocks.core import load_project  # noqa: E402
from dpg_blocks.engine.packs.registry import discover  # noqa: E402
from dpg_blocks.engine.training.trainer import Trainer  # noqa: E402

EXAMPLE = ROOT / "assets" / "examples" / "dann_digits.dpgb"
SOURCE, TARGET = "source digits", "target digits"
CHECKED_STEPS = 50
TOLERANCE = 1e-5


def ganin_lambda(progress: float) -> float:
    """Ganin & Lempitsky's reversal ramp λ_p = 2 / (1 + exp(−10 p)) − 1."""
    return 2.0 / (1.0 + math.exp(-10.0 * progress)) - 1.0


class Lockstep:
    """The compiled DANN, its hand-written twin, and the trainer's batch stream."""

    def __init__(self, epochs: int | None = None, device: str = "cpu", seed: int | None = None) -> None:
        project = load_project(EXAMPLE)
        self.trainer = Trainer(project, discover(defaults=False), EXAMPLE.parent, device=device, seed=seed,
                               trusted=True)
        self.epochs = project.training.epochs if epochs is None else epochs
        self.planned_steps = project.training.epochs * self.trainer.steps_per_epoch()  # --epochs keeps the plan
        names = {n.block.name: nid for nid, n in self.trainer.compiled.flat.nodes.items()}
        self.ids = {SOURCE: names[SOURCE], TARGET: names[TARGET]}
        modules = {n.block.name: self.trainer.model.block_modules[nid]
                   for nid, n in self.trainer.compiled.flat.nodes.items() if nid in self.trainer.model.block_modules}
        grl = next(n for n in self.trainer.compiled.flat.nodes.values() if n.block.type == "builtin.Custom")
        assert grl.params.get("gradient_schedule") == "ganin", "the reference mirrors the example's λ_p ramp"
        self.scale = float(grl.params["gradient_scale"])
        self.hand = HandwrittenDANN(grl_scale=0.0)
        self.global_step = 0
        copy_weights_from(self.hand, modules)
        self.initial = copy.deepcopy(self.hand.state_dict())
        settings = project.orders[0].optimizer
        assert settings.type == "adam", "the reference mirrors the example's Adam"
        self.opt = torch.optim.Adam(self.hand.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
        self.settings = settings

    def batches(self, epoch: int) -> Iterator[dict[str, tuple[torch.Tensor, torch.Tensor]]]:
        """One epoch of batches per input, exactly as ``Trainer.train_epoch`` draws them."""
        t = self.trainer
        iters = {name: t._cycle(t.sources[i], "train", epoch, True) for name, i in self.ids.items()}
        for step in range(t.steps_per_epoch()):
            t.clock.at(epoch, step)  # what EpochRun does: train_step alone leaves the clock be
            yield {name: next(it) for name, it in iters.items()}
        t.clock.at(epoch, t.steps_per_epoch())

    def graph_batch(self, b: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> list[torch.Tensor]:
        order = self.trainer.model.input_ids[1]
        by_id = {self.ids[name]: xy for name, xy in b.items()}
        return [t for i in order for t in by_id[i]]

    def step(self, b: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> tuple[float, float]:
        """One training step of each model on the same batch; returns (graph loss, hand loss)."""
        total, losses, _ = self.trainer.train_step(1, self.graph_batch(b))
        self.last_losses = {self.trainer.names[i]: v.detach().item()
                            for i, v in zip(self.trainer.model.loss_ids[1], losses, strict=True)}
        (xs, ys), (xt, _yt) = b[SOURCE], b[TARGET]
        self.hand.grl_scale = self.scale * ganin_lambda(self.global_step / self.planned_steps)
        self.global_step += 1
        loss = self.hand.dann_loss(xs, ys, xt)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return total.detach().item(), loss.detach().item()

    def test_batches(self, name: str, split: str = "test") -> Iterator[Any]:
        return self.trainer.sources[self.ids[name]].batches(split, epoch=0, shuffle=False)


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-12)


def first_steps_max_rel_diff(steps: int = CHECKED_STEPS, lockstep: Lockstep | None = None) -> float:
    """The largest relative loss difference over the first ``steps`` steps (a fresh pair)."""
    ls = lockstep or Lockstep()
    ls.trainer.model.train()
    worst, done, epoch = 0.0, 0, 0
    while done < steps:
        for b in ls.batches(epoch):
            g, h = ls.step(b)
            worst = max(worst, rel(g, h))
            done += 1
            if done == steps:
                break
        epoch += 1
    return worst


def one_seed(seed: int, epochs: int | None) -> dict[str, float]:
    """Graph DANN, hand-written DANN and source-only from the same initial weights: accuracies."""
    ls = Lockstep(epochs, seed=seed)
    ls.trainer.model.train()
    diffs: list[float] = []
    domain_loss: list[float] = []
    for epoch in range(ls.epochs):
        domain_loss.clear()
        for b in ls.batches(epoch):
            diffs.append(rel(*ls.step(b)))
            domain_loss.append(ls.last_losses["domain loss"])
    ls.trainer.epoch = ls.epochs
    graph = {**ls.trainer.evaluate("val"), **ls.trainer.evaluate("test")}

    only = HandwrittenDANN()
    only.load_state_dict(ls.initial)
    opt = torch.optim.Adam(only.parameters(), lr=ls.settings.lr, weight_decay=ls.settings.weight_decay)
    for epoch in range(ls.epochs):
        for b in ls.batches(epoch):
            loss = only.source_only_loss(*b[SOURCE])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    n = ls.trainer.sources[ls.ids[TARGET]].split_size("test")
    return {
        "dann_target": graph[f"test_accuracy/{TARGET}"], "dann_target_val": graph[f"val_accuracy/{TARGET}"],
        "dann_source": graph[f"test_accuracy/{SOURCE}"],
        "hand_target": ls.hand.accuracy(ls.test_batches(TARGET)), "hand_source": ls.hand.accuracy(ls.test_batches(SOURCE)),
        "only_target": only.accuracy(ls.test_batches(TARGET)), "only_target_val": only.accuracy(ls.test_batches(TARGET, "val")),
        "only_source": only.accuracy(ls.test_batches(SOURCE)),
        "first_diff": max(diffs[:CHECKED_STEPS]), "all_diff": max(diffs), "steps": len(diffs),
        "domain_loss": sum(domain_loss) / len(domain_loss), "epochs": ls.epochs, "n_test": n,
    }


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, help="default: the example's")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    runs = []
    for seed in args.seeds:
        r = one_seed(seed, args.epochs)
        runs.append(r)
        print(f"seed {seed}: epochs={r['epochs']} steps={r['steps']} first_{CHECKED_STEPS}_max_rel_loss_diff="
              f"{r['first_diff']:.3g} all_steps={r['all_diff']:.3g} last-epoch domain loss {r['domain_loss']:.4f}")
        print(f"  graph DANN   source test {r['dann_source']:.4f}  target val {r['dann_target_val']:.4f}  "
              f"test {r['dann_target']:.4f}   (hand-written: {r['hand_source']:.4f} / {r['hand_target']:.4f})")
        print(f"  source only  source test {r['only_source']:.4f}  target val {r['only_target_val']:.4f}  "
              f"test {r['only_target']:.4f}", flush=True)
    dann, dann_sd = mean_std([r["dann_target"] for r in runs])
    only, only_sd = mean_std([r["only_target"] for r in runs])
    hand, _ = mean_std([r["hand_target"] for r in runs])
    first = max(r["first_diff"] for r in runs)
    k = len(runs)
    # Honest verdict: the gain must exceed two standard errors of the difference of the means
    # over seeds (which includes the seed-to-seed spread, not only the test set's binomial noise).
    se = math.sqrt((dann_sd**2 + only_sd**2) / k) if k > 1 else float("nan")
    helps = k > 1 and dann - only > 2 * se
    print(f"{k} seeds, {time.perf_counter() - start:.0f} s; target test set: {runs[0]['n_test']} samples, chance 0.10")
    print(f"first_{CHECKED_STEPS}_steps_max_rel_loss_diff={first:.3g} (tolerance {TOLERANCE:g}: "
          f"{'ok' if first <= TOLERANCE else 'FAILED'}); all_steps_max_rel_loss_diff={max(r['all_diff'] for r in runs):.3g}")
    print(f"target test accuracy: DANN {dann:.4f} ± {dann_sd:.4f}, source-only {only:.4f} ± {only_sd:.4f} "
          f"(mean ± std); two standard errors of the difference {2 * se:.4f}")
    print(f"adaptation {'helps' if helps else 'does NOT help (no significant gain)'} on this shift")
    print(f"dann_target={dann:.4f} source_only_target={only:.4f} handwritten_dann_target={hand:.4f} "
          f"max_rel_loss_diff={first:.3g} dann_target_std={dann_sd:.4f} source_only_target_std={only_sd:.4f} seeds={k}")


if __name__ == "__main__":
    main()
