"""Seconds from process start to the editor's first rendered frame.

Starts ``python -m dpg_blocks PROJECT`` with ``DPG_BLOCKS_STARTUP_PROBE`` set, which makes the
editor write the wall-clock time right after its first ``render_dearpygui_frame`` and exit.
Without a display it re-runs itself under ``xvfb-run``. Last line: ``first_frame_s=<float>``
(the median of the runs; target <= 0.5).

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
        print(f"run {i}: {t:.3f} s")
    print(f"first_frame_s={statistics.median(times):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
