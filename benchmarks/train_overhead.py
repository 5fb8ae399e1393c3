"""Training step time: the MLP compiled from mlp_digits.dpgb vs the same MLP by hand.

Both train on the same batches with the same optimizer settings, interleaved in rounds so
that machine noise hits both alike. Prints the median step time of each and, last,
``ratio=<graph/handwritten>`` (target <= 1.02).

With ``--device cuda`` both run on the GPU (a step's time then includes a synchronize, so the
GPU's work is counted, not just its launch); ``--amp bf16|fp16`` runs both under the same
autocast (fp16: each with its own grad scaler), as ``train --amp`` does.

Run: .venv/bin/python benchmarks/train_overhead.py [--rounds N] [--steps N] [--device cuda] [--amp fp16]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from handwritten_mlp import HandwrittenMLP, copy_weights_from  # noqa: E402

from dpg_blocks.core import load_project  # noqa: E402
from dpg_blocks.engine.packs.registry import discover  # noqa: E402
from dpg_blocks.engine.training.precision import Precision  # noqa: E402
from dpg_blocks.engine.training.trainer import Trainer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--steps", type=int, default=50, help="steps per round and model")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--amp", choices=["off", "bf16", "fp16"], default="off")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    path = ROOT / "assets" / "examples" / "mlp_digits.dpgb"
    trainer = Trainer(load_project(path), discover(defaults=False), path.parent, device=args.device, amp=args.amp)
    (input_id,) = trainer.model.input_ids[1]
    source = trainer.sources[input_id]
    batches = list(source.batches("train", epoch=0, shuffle=True, device=device))
    batches = [b for b in batches if b[0].shape[0] == source.batch_size]

    hand = HandwrittenMLP().to(device)
    copy_weights_from(hand, list(trainer.model.block_modules.values()))
    settings = trainer.project.orders[0].optimizer
    hand_opt = torch.optim.Adam(hand.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    loss_fn = torch.nn.CrossEntropyLoss()
    hand_precision = Precision(args.amp, device, [1])  # the same autocast and scaler as the trainer's
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def graph_step(x: torch.Tensor, y: torch.Tensor) -> None:
        total = trainer.forward(1, [x, y])[0]
        trainer.optimize(1, total)
        sync()

    def hand_step(x: torch.Tensor, y: torch.Tensor) -> None:
        with hand_precision.autocast():
            loss = loss_fn(hand(x), y)
        hand_opt.zero_grad(set_to_none=True)
        hand_precision.step(1, hand_opt, loss)
        sync()

    times: dict[str, list[float]] = {"graph": [], "hand": []}
    steps = {"graph": graph_step, "hand": hand_step}
    trainer.model.train()
    for warm in range(20):  # warm both up (allocator, Adam state)
        x, y = batches[warm % len(batches)]
        graph_step(x, y)
        hand_step(x, y)
    for r in range(args.rounds):
        order = ("graph", "hand") if r % 2 == 0 else ("hand", "graph")
        for name in order:
            fn = steps[name]
            for i in range(args.steps):
                x, y = batches[(r * args.steps + i) % len(batches)]
                t0 = time.perf_counter()
                fn(x, y)
                times[name].append(time.perf_counter() - t0)
    g = statistics.median(times["graph"])
    h = statistics.median(times["hand"])
    print(f"batch={source.batch_size} steps_per_model={len(times['graph'])} threads={args.threads} "
          f"device={device} amp={args.amp}")
    print(f"graph_step_us={g * 1e6:.1f} handwritten_step_us={h * 1e6:.1f}")
    print(f"ratio={g / h:.4f}")


if __name__ == "__main__":
    main()
