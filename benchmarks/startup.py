"""Seconds from process start to the editor's first rendered frame, and from that frame to the
first frame showing the validation's colours, with where that time goes.

* ``first_frame_s``: ``python -m dpg_blocks PROJECT`` with ``DPG_BLOCKS_STARTUP_PROBE`` set writes
  the wall-clock time right after its first ``render_dearpygui_frame`` and exits (target <= 0.5).
* ``first_validation_s``: with ``DPG_BLOCKS_VALIDATED_PROBE`` the editor runs on until the first
  frame that drew a validation result, and ``DPG_BLOCKS_STARTUP_TRACE`` has the editor and the
  engine note each phase on the way (``core/startup_trace.py``): the engine's spawn, its imports,
  torch, plugin discovery, the Validate request, the validation itself (the Inputs' data loads
  included) and the result's way back. Measured from the first frame (target <= 5 s quiet).

Without a display it re-runs itself under ``xvfb-run``. Last line:
``first_frame_s=<float> first_validation_s=<float>`` (medians of the runs).

    .venv/bin/python benchmarks/startup.py [--runs 5] [PROJECT]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def first_frame_s(project: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "first_frame"
        env = {**os.environ, "DPG_BLOCKS_STARTUP_PROBE": str(probe)}
        # What a user's start looks like: Python keeps the compiled bytecode (the warm-up run
        # writes it). Some CI shells set PYTHONDONTWRITEBYTECODE, which makes every start
        # recompile the editor's modules (~90 ms here).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        start = time.time()
        subprocess.run([sys.executable, "-m", "dpg_blocks", project], env=env, check=True, cwd=ROOT, timeout=60)
        return float(probe.read_text()) - start


# (phase reached, the phase before it): the rows of the breakdown, in the order they happen
PHASES = [
    ("engine_starting", "first_frame", "editor: after the first frame, until the engine is spawned"),
    ("engine_spawned", "engine_starting", "engine: a fresh interpreter (spawn) up, its target unpickled"),
    ("engine_imported", "engine_spawned", "engine: dpg_blocks.engine.process.server and the protocol imported"),
    ("torch_imported", "engine_imported", "engine: import torch"),
    ("plugins_discovered", "torch_imported", "engine: plugin discovery (the built-in pack included)"),
    ("validate_received", "plugins_discovered", "engine: Ready sent, the queued Validate read"),
    ("validation_done", "validate_received", "engine: validation (project decoded, data loaded, blocks run)"),
    ("validation_received", "validation_done", "editor: the result received"),
    ("validated_frame", "validation_received", "editor: the colours applied and drawn"),
]


def first_validation(project: str) -> dict[str, float]:
    """Each phase's wall-clock time minus the first frame's, for one start of the editor."""
    sys.path.insert(0, str(ROOT))
    from dpg_blocks.core.startup_trace import TRACE_ENV, read

    with tempfile.TemporaryDirectory() as tmp:
        probe, trace = Path(tmp) / "validated", Path(tmp) / "trace"
        env = {**os.environ, "DPG_BLOCKS_VALIDATED_PROBE": str(probe), TRACE_ENV: str(trace),
               "DPG_BLOCKS_USER_DIR": str(Path(tmp) / "user")}  # no recovery file, no recent list
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run([sys.executable, "-m", "dpg_blocks", project], env=env, check=True, cwd=ROOT, timeout=180)
        seen = read(trace)
        return {k: v - seen["first_frame"] for k, v in seen.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", nargs="?", default=str(ROOT / "assets/examples/mlp_digits.dpgb"))
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not os.environ.get("DISPLAY") and sys.platform.startswith("linux"):
        xvfb = shutil.which("xvfb-run")
        if xvfb is None:
            print("no display and no xvfb-run: install xvfb", file=sys.stderr)
            return 2
        cmd = [xvfb, "-a", "-s", "-screen 0 1600x1000x24", sys.executable, __file__, *sys.argv[1:]]
        return subprocess.run(cmd).returncode
    first_frame_s(args.project)  # warm the file cache: measure the editor, not the disk
    times = [first_frame_s(args.project) for _ in range(args.runs)]
    for i, t in enumerate(times, 1):
        print(f"run {i}: first frame {t:.3f} s")
    first_validation(args.project)  # warm: the engine's modules compiled, torch's files cached
    runs = [first_validation(args.project) for _ in range(args.runs)]
    print(f"from the first frame, median of {args.runs} starts (s):")
    for phase, before, what in PHASES:
        took = statistics.median(r[phase] - r[before] for r in runs)
        print(f"  {took:7.3f}  {what}")
    validated = [r["validated_frame"] for r in runs]
    print("  first validated frame per run: " + " ".join(f"{t:.2f}" for t in validated))
    print(f"first_frame_s={statistics.median(times):.3f} first_validation_s={statistics.median(validated):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
