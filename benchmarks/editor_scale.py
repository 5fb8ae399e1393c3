"""The editor at scale: its own per-frame Python time, and edit-to-colours latency.

* ``frame_py_ms``: a generated 1,000-block project (an Input feeding chains of Fully Connected
  blocks, laid out on a grid so no nodes overlap) is opened in the real editor with a real
  engine; after validation has arrived, the median time of ``Editor.frame()`` — everything the
  editor does per frame outside Dear PyGui's ``render_dearpygui_frame`` — over 300 frames.
* ``edit_feedback_ms``: on a 200-block project, the time from a parameter edit (made through the
  editor's state, as the Network Menu does) to the frame in which that edit's validation result
  has coloured the canvas; the median of 10 edits.

Without a display it re-runs itself under ``xvfb-run``. Last line:
``frame_py_ms=<f> edit_feedback_ms=<f>`` (targets <= 2 and <= 100).

    .venv/bin/python benchmarks/editor_scale.py
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_project(n_blocks: int, path: Path) -> None:
    """An Input and chains of Fully Connected blocks (each chain a row), ``n_blocks`` in all."""
    from dpg_blocks.blocks.builder import ProjectBuilder
    from dpg_blocks.core import save_project
    from dpg_blocks.engine.packs.registry import discover

    b = ProjectBuilder(discover(defaults=False).specs, f"{n_blocks} blocks")
    per_row = 25
    data = b.add("builtin.Input", "digits", (20.0, 20.0), reshape=[64])
    made = 1
    row = 0
    while made < n_blocks:
        prev = data
        for col in range(min(per_row, n_blocks - made)):
            fc = b.add("builtin.Linear", f"fc_{row}_{col}", (240.0 + 200.0 * col, 20.0 + 140.0 * row), out_features=16)
            b.link(prev, "x" if prev == data else "y", fc, "x")
            prev = fc
            made += 1
        row += 1
    save_project(b.project, path)


def open_editor(path: Path):  # noqa: ANN201 - returns the editor
    from dpg_blocks.ui.app import _create

    editor = _create((1600, 1000), str(path))
    editor.start_engine()
    return editor


def wait_validated(editor, timeout: float = 180.0) -> None:  # noqa: ANN001
    import dearpygui.dearpygui as dpg

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        editor.frame()
        dpg.render_dearpygui_frame()
        v = editor.state.validation
        if editor.state.catalog and v.received and not v.pending and not editor._validate_wanted:
            return
    raise SystemExit("validation did not arrive")


def measure_frames(path: Path, frames: int = 300) -> float:
    import dearpygui.dearpygui as dpg

    editor = open_editor(path)
    try:
        wait_validated(editor)
        times = []
        for _ in range(frames):
            t0 = time.perf_counter()
            editor.frame()
            times.append(time.perf_counter() - t0)
            dpg.render_dearpygui_frame()
        return statistics.median(times) * 1000
    finally:
        editor.close()
        dpg.destroy_context()


def measure_feedback(path: Path, edits: int = 10) -> float:
    import dearpygui.dearpygui as dpg

    editor = open_editor(path)
    try:
        wait_validated(editor)
        st = editor.state
        target = next(b.id for b in st.project.graph.walk() if b.name == "fc_0_0")
        latencies, gui, renders, frames = [], [], [], []
        for i in range(edits):
            t0 = time.perf_counter()
            st.set_param(target, "out_features", 17 + i)
            py = time.perf_counter() - t0
            n = 0
            while True:
                a = time.perf_counter()
                editor.frame()
                b = time.perf_counter()
                dpg.render_dearpygui_frame()
                renders.append(time.perf_counter() - b)
                py += b - a
                n += 1
                v = st.validation
                if v.received == v.sent and not v.pending and not editor._validate_wanted:
                    break
                if time.perf_counter() - t0 > 60:
                    raise SystemExit("no validation result for the edit")
            latencies.append(time.perf_counter() - t0)
            gui.append(py)
            frames.append(n)
        # Where the time goes: the editor's own Python, and Dear PyGui's render calls (software GL
        # under Xvfb); the rest is the engine validating while those frames render.
        print(f"breakdown: gui_python_ms={statistics.median(gui) * 1000:.1f} "
              f"render_ms_per_frame={statistics.median(renders) * 1000:.1f} frames_per_edit={statistics.median(frames)}")
        return statistics.median(latencies) * 1000
    finally:
        editor.close()
        dpg.destroy_context()


def child(kind: str, path: str) -> None:
    value = measure_frames(Path(path)) if kind == "frames" else measure_feedback(Path(path))
    print(f"{kind}={value:.3f}")


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
        return 0
    if not os.environ.get("DISPLAY") and sys.platform.startswith("linux"):
        xvfb = shutil.which("xvfb-run")
        if xvfb is None:
            print("no display and no xvfb-run: install xvfb", file=sys.stderr)
            return 2
        return subprocess.run([xvfb, "-a", "-s", "-screen 0 1600x1000x24", sys.executable, __file__]).returncode
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind, n in (("frames", 1000), ("feedback", 200)):
            path = Path(tmp) / f"p{n}.dpgb"
            make_project(n, path)
            # Each measurement in its own process: a second Dear PyGui context in one process can crash.
            out = subprocess.run([sys.executable, __file__, "--child", kind, str(path)], capture_output=True,
                                 text=True, timeout=900)
            for ln in out.stdout.splitlines():
                if ln.startswith("breakdown:"):
                    print(f"{n} blocks {ln}")
            line = next((ln for ln in out.stdout.splitlines() if ln.startswith(f"{kind}=")), None)
            if line is None:
                print(out.stdout, out.stderr, file=sys.stderr)
                return 1
            results[kind] = float(line.split("=")[1])
            print(f"{n} blocks: {line}")
    print(f"frame_py_ms={results['frames']:.3f} edit_feedback_ms={results['feedback']:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
