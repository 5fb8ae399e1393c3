"""Scenario B's reference: the graph's DANN against the same DANN by hand, and source-only.

1. Compiles assets/examples/dann_digits.dpgb (its Gradient Reversal block is custom code, so
   the example is run trusted) and builds :class:`HandwrittenDANN` with the compiled model's
   initial weights.
2. Trains both in lockstep on the same batches (the trainer's own batch order and seed) with
   the same optimizer, for the project's epochs, recording each step's loss; the first 50
   steps' losses must agree within 1e-5 relative.
3. Trains the hand-written network on the source alone (same initial weights, same source
   batches, no domain branch) for comparison.
4. Prints the target test accuracy of each and, last,
   ``dann_target=<f> source_only_target=<f> handwritten_dann_target=<f> max_rel_loss_diff=<f>``.

Nothing here is tuned to make adaptation win: the shift (assets/data/digits_shifted.csv:
shifted, inverted, noisy) and the hyper-parameters are those of the example.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/dann_reference.py [--epochs N]
"""

from __future__ import annotations

import argparse
import copy
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
from dpg_blocks.engine.registry import discover  # noqa: E402
from dpg_blocks.engine.training import Trainer  # noqa: E402

EXAMPLE = ROOT / "assets" / "examples" / "dann_digits.dpgb"
SOURCE, TARGET = "source digits", "target digits"
CHECKED_STEPS = 50
TOLERANCE = 1e-5


class Lockstep:
    """The compiled DANN, its hand-written twin, and the trainer's batch stream."""

    def __init__(self, epochs: int | None = None, device: str = "cpu") -> None:
        project = load_project(EXAMPLE)
        self.trainer = Trainer(project, discover(defaults=False), EXAMPLE.parent, device=device, trusted=True)
        self.epochs = project.training.epochs if epochs is None else epochs
        names = {n.block.name: nid for nid, n in self.trainer.compiled.flat.nodes.items()}
        self.ids = {SOURCE: names[SOURCE], TARGET: names[TARGET]}
        modules = {n.block.name: self.trainer.model.block_modules[nid]
                   for nid, n in self.trainer.compiled.flat.nodes.items() if nid in self.trainer.model.block_modules}
        grl = next(n for n in self.trainer.compiled.flat.nodes.values() if n.block.type == "builtin.Custom")
        self.hand = HandwrittenDANN(grl_scale=float(grl.params["gradient_scale"]))
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
        for _ in range(t.steps_per_epoch()):
            yield {name: next(it) for name, it in iters.items()}

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
        loss = self.hand.dann_loss(xs, ys, xt)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return total.detach().item(), loss.detach().item()

    def test_batches(self, name: str) -> Iterator[Any]:
        return self.trainer.sources[self.ids[name]].batches("test", epoch=0, shuffle=False)


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, help="default: the example's")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()

    ls = Lockstep(args.epochs)
    ls.trainer.model.train()
    diffs: list[float] = []
    domain_loss: list[float] = []
    for epoch in range(ls.epochs):
        domain_loss.clear()
        for b in ls.batches(epoch):
            diffs.append(rel(*ls.step(b)))
            domain_loss.append(ls.last_losses["domain loss"])
    ls.trainer.epoch = ls.epochs
    graph_metrics = ls.trainer.evaluate("test")
    dann_target = graph_metrics[f"test_accuracy/{TARGET}"]
    dann_source = graph_metrics[f"test_accuracy/{SOURCE}"]
    hand_target = ls.hand.accuracy(ls.test_batches(TARGET))
    hand_source = ls.hand.accuracy(ls.test_batches(SOURCE))

    only = HandwrittenDANN()
    only.load_state_dict(ls.initial)
    opt = torch.optim.Adam(only.parameters(), lr=ls.settings.lr, weight_decay=ls.settings.weight_decay)
    for epoch in range(ls.epochs):
        for b in ls.batches(epoch):
            loss = only.source_only_loss(*b[SOURCE])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    only_target = only.accuracy(ls.test_batches(TARGET))
    only_source = only.accuracy(ls.test_batches(SOURCE))

    first = max(diffs[:CHECKED_STEPS])
    print(f"epochs={ls.epochs} steps={len(diffs)} seconds={time.perf_counter() - start:.1f}")
    print(f"first_{CHECKED_STEPS}_steps_max_rel_loss_diff={first:.3g} (tolerance {TOLERANCE:g}: "
          f"{'ok' if first <= TOLERANCE else 'FAILED'}); all_steps_max_rel_loss_diff={max(diffs):.3g}")
    print(f"graph DANN:        source test {dann_source:.4f}  target test {dann_target:.4f}")
    print(f"hand-written DANN: source test {hand_source:.4f}  target test {hand_target:.4f}")
    print(f"source only:       source test {only_source:.4f}  target test {only_target:.4f}")
    # An honest verdict: the difference must exceed two standard errors of the difference of two
    # accuracies on this test set (binomial), and DANN must beat chance by as much.
    n = ls.trainer.sources[ls.ids[TARGET]].split_size("test")
    chance = 1 / (ls.trainer.sources[ls.ids[TARGET]].num_classes or 10)
    se = ((dann_target * (1 - dann_target) + only_target * (1 - only_target)) / n) ** 0.5
    helps = dann_target - only_target > 2 * se and dann_target > chance + 2 * (chance * (1 - chance) / n) ** 0.5
    print(f"domain loss (BCE) in the last epoch: {sum(domain_loss) / len(domain_loss):.4f} "
          f"(ln 2 = 0.693 would mean the domains are indistinguishable)")
    print(f"target test set: {n} samples, chance {chance:.2f}, two standard errors of the difference {2 * se:.4f}")
    print(f"adaptation {'helps' if helps else 'does NOT help (no significant gain)'} on this shift: "
          f"DANN {dann_target:.4f} vs source-only {only_target:.4f} target accuracy")
    print(f"dann_target={dann_target:.4f} source_only_target={only_target:.4f} "
          f"handwritten_dann_target={hand_target:.4f} max_rel_loss_diff={first:.3g}")


if __name__ == "__main__":
    main()
