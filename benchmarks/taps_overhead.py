"""Training throughput with three blocks tapped at 20 Hz versus none, side by side.

Two TrainingSessions of John's MLP (assets/examples/mlp_digits.dpgb) run in the engine's own
step loop, alternating slices of --slice seconds: one with FC1, FC3 and FC5 tapped at 20 Hz
(summaries computed and msgpack-encoded exactly as the engine sends them), one untapped.
Prints steps/s of each and, last, ``ratio=<tapped/untapped>`` (target >= 0.98).

Run: .venv/bin/python benchmarks/taps_overhead.py [--rounds N] [--slice S]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from dpg_blocks import protocol as m
from dpg_blocks.core import load_project
from dpg_blocks.engine.packs.registry import discover
from dpg_blocks.engine.training.session import TrainingSession

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--slice", type=float, default=0.5, help="seconds per slice")
    ap.add_argument("--rate", type=float, default=20.0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    path = ROOT / "assets" / "examples" / "mlp_digits.dpgb"
    registry = discover(defaults=False)
    sent = {"frames": 0, "bytes": 0}

    def emit(msg: object) -> None:
        m.encode(msg)  # reliable events: encoded as the engine does

    def emit_tap(frame: m.TapFrame) -> None:
        sent["frames"] += 1
        sent["bytes"] += len(m.encode(frame))

    sessions = {}
    for name in ("tapped", "untapped"):
        project = load_project(path)
        s = TrainingSession(emit, emit_tap, project, registry, str(path.parent), 1, epochs=10**6, device="cpu")
        sessions[name] = s
    ids = {n.block.name: nid for nid, n in sessions["tapped"].trainer.compiled.flat.nodes.items()}
    taps = [m.TapSpec(block_id=ids[n], port="y", direction="out") for n in ("FC1", "FC3", "FC5")]
    if args.rate > 0:
        sessions["tapped"].taps.configure(taps, args.rate)
    for s in sessions.values():  # warm up
        s.advance(0.3)

    steps = {name: 0 for name in sessions}
    seconds = {name: 0.0 for name in sessions}
    for r in range(args.rounds):
        order = ("tapped", "untapped") if r % 2 == 0 else ("untapped", "tapped")
        for name in order:
            s = sessions[name]
            before = s.global_step
            t0 = time.perf_counter()
            s.advance(args.slice)
            seconds[name] += time.perf_counter() - t0
            steps[name] += s.global_step - before
    rate = {name: steps[name] / seconds[name] for name in sessions}
    print(f"tapped_steps_per_s={rate['tapped']:.1f} untapped_steps_per_s={rate['untapped']:.1f}")
    print(f"tap_frames={sent['frames']} mean_frame_bytes={sent['bytes'] / max(1, sent['frames']):.0f}")
    print(f"ratio={rate['tapped'] / rate['untapped']:.4f}")


if __name__ == "__main__":
    main()
