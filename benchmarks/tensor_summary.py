"""Time to summarise a 10^8-element float32 tensor into a tap frame (DESIGN.md §4, issue #4).

Creates a (64, 3, 1024, 512) float32 tensor on the CPU (or ``--device``), warms up, times
``summarize`` over ``--runs`` runs, prints the timings, the encoded TapFrame's wire size and,
last, ``ms=<median>`` (target <= 50).

Run: .venv/bin/python benchmarks/tensor_summary.py [--runs N] [--threads N] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from dpg_blocks.engine.training.taps import summarize
from dpg_blocks.protocol import encode


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--shape", default="64,3,1024,512")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    shape = tuple(int(d) for d in args.shape.split(","))
    gen = torch.Generator().manual_seed(0)
    t = torch.randn(shape, generator=gen).to(args.device)
    sync = torch.cuda.synchronize if t.device.type == "cuda" else (lambda: None)

    for _ in range(2):  # warm-up: first-touch page faults, kernel caches
        summarize(t)
    times = []
    for _ in range(args.runs):
        sync()
        start = time.perf_counter()
        summary = summarize(t)
        sync()
        times.append((time.perf_counter() - start) * 1e3)

    frame = encode(summary.to_frame("b1", "y", "out", 0))
    print(f"tensor: {tuple(t.shape)} {t.dtype} on {t.device}, {t.numel():.3g} elements, "
          f"torch threads {torch.get_num_threads()}")
    print(f"heatmap {summary.heatmap.shape}, histogram of {summary.hist_sample} sampled values")
    print("runs (ms): " + " ".join(f"{x:.1f}" for x in times))
    print(f"min={min(times):.1f} max={max(times):.1f}")
    print(f"wire_bytes={len(frame)} ({len(frame) / 1024:.1f} KiB)")
    print(f"ms={statistics.median(times):.2f}")


if __name__ == "__main__":
    main()
