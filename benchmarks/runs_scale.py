"""The Runs tab at scale: 200 kept runs of 50 epochs each.

Creates the runs with the same writer the engine uses (``core/runs/folders.py`` RunWriter: run.json,
project.dpgb, metrics.jsonl), then, in the real editor under Xvfb (it re-runs itself under
``xvfb-run`` without a display), measures

* ``open_ms``: opening the project until the Runs tab lists every run (``RunsList.refresh``:
  every run.json read, the table built) and the next frame is drawn;
* ``overlay_ms``: ticking 10 runs (their metrics read, 2 curves each added to the Curves
  plots) and drawing the next frame with the Curves tab shown;

the median of 5 rounds. Last line: ``open_ms=<f> overlay_ms=<f>`` (target for overlay <= 100).

    .venv/bin/python benchmarks/runs_scale.py
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
RUNS, EPOCHS, TICKED, ROUNDS = 200, 50, 10, 5


def make_runs(folder: Path) -> Path:
    from dpg_blocks.core.project_file import load_project, project_to_dict, save_project
    from dpg_blocks.core.runs.folders import RunWriter

    project = load_project(ROOT / "assets" / "examples" / "mlp_digits.dpgb")
    for b in project.graph.walk():
        if b.type == "builtin.Input":
            b.params["source"] = "digits"
    path = folder / "many.dpgb"
    save_project(project, path)
    doc = project_to_dict(project)
    for r in range(RUNS):
        doc["orders"][0]["optimizer"]["lr"] = 0.001 * (1 + r % 7)
        w = RunWriter.create(folder / "many.runs", f"run {r}", doc, r, "cpu", EPOCHS)
        for e in range(1, EPOCHS + 1):
            w.append_metrics({"epoch": e, "loss": 2.3 / (1 + 0.1 * e * (1 + r % 5)), "test_accuracy": 1 - 1 / (1 + e),
                              "val_accuracy": 1 - 1.1 / (1 + e), "time_s": 0.5})
        w.finish("finished")
    return path


def measure(path: Path) -> tuple[float, float]:
    import dearpygui.dearpygui as dpg

    from dpg_blocks.ui.editor.app import _create

    editor = _create((1600, 1000), None)
    try:
        for _ in range(3):
            editor.frame()
            dpg.render_dearpygui_frame()
        opens, overlays = [], []
        for _ in range(ROUNDS):
            editor.state.new()
            editor.frame()
            dpg.render_dearpygui_frame()
            start = time.perf_counter()
            editor.controls.open(str(path))
            editor.frame()  # the "file" topic refreshes the Runs tab
            editor.show_tab("runs")
            dpg.render_dearpygui_frame()
            opens.append((time.perf_counter() - start) * 1000)
            assert len(editor.runs.runs) == RUNS, len(editor.runs.runs)
            editor.show_tab("optimization")
            dpg.set_value(editor.results.view_tabs, editor.results.curves_tab)
            dpg.render_dearpygui_frame()
            start = time.perf_counter()
            for info in editor.runs.runs[:TICKED]:
                editor.runs.tick(info.id, True)
            dpg.render_dearpygui_frame()
            overlays.append((time.perf_counter() - start) * 1000)
            for info in editor.runs.runs[:TICKED]:
                editor.runs.tick(info.id, False)
        return statistics.median(opens), statistics.median(overlays)
    finally:
        editor.close()
        dpg.destroy_context()


def main() -> None:
    if not os.environ.get("DISPLAY") and shutil.which("xvfb-run") and not os.environ.get("RUNS_SCALE_CHILD"):
        env = dict(os.environ, RUNS_SCALE_CHILD="1")
        cmd = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", sys.executable, __file__]
        raise SystemExit(subprocess.run(cmd, env=env).returncode)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("DPG_BLOCKS_USER_DIR", str(Path(tmp) / "user"))
        start = time.perf_counter()
        path = make_runs(Path(tmp))
        print(f"made {RUNS} runs of {EPOCHS} epochs in {time.perf_counter() - start:.1f} s")
        open_ms, overlay_ms = measure(path)
        print(f"open_ms={open_ms:.1f} overlay_ms={overlay_ms:.1f}")


if __name__ == "__main__":
    main()
