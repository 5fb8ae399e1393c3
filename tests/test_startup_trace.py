"""The start-up trace behind benchmarks/startup.py: a real editor on the shipped example notes
every phase from its first frame to the first frame showing validation colours, in the order
they happen, and the validated-frame probe ends it there (issue 15 item 3)."""

from __future__ import annotations

import os
import subprocess
import sys

from ui_fixtures import EXAMPLES, ROOT, needs_xvfb

from dpg_blocks.core.startup_trace import TRACE_ENV, read

EDITOR = ["first_frame", "engine_starting", "validate_sent", "ready_received", "validation_received",
          "validated_frame"]
ENGINE = ["engine_spawned", "engine_imported", "torch_imported", "plugins_discovered", "validate_received",
          "validation_done"]
# across the two processes only cause and effect are ordered (Ready and the queued Validate race)
CAUSES = [("engine_starting", "engine_spawned"), ("validate_sent", "validate_received"),
          ("plugins_discovered", "ready_received"), ("validation_done", "validation_received")]


@needs_xvfb
def test_the_editor_and_the_engine_note_each_start_up_phase_in_order(tmp_path):
    trace, probe = tmp_path / "trace", tmp_path / "validated"
    env = {**os.environ, TRACE_ENV: str(trace), "DPG_BLOCKS_VALIDATED_PROBE": str(probe),
           "DPG_BLOCKS_USER_DIR": str(tmp_path / "user")}
    subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", sys.executable, "-m", "dpg_blocks",
                    str(EXAMPLES / "mlp_digits.dpgb")], env=env, cwd=ROOT, check=True, timeout=180)
    seen = read(trace)
    by_pid: dict[str, list[str]] = {}
    for line in trace.read_text().splitlines():
        pid, phase, _ = line.split()
        if phase not in by_pid.setdefault(pid, []):  # a phase's first time (a second Validate may follow)
            by_pid[pid].append(phase)
    assert sorted(by_pid.values()) == sorted([EDITOR, ENGINE]), by_pid  # each process, its own phases in order
    for cause, effect in CAUSES:
        assert seen[cause] <= seen[effect], (cause, effect, seen)
    assert float(probe.read_text()) >= seen["validated_frame"]


def test_a_mark_without_the_variable_writes_nothing(tmp_path, monkeypatch):
    from dpg_blocks.core.startup_trace import mark

    monkeypatch.delenv(TRACE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    mark("first_frame")
    assert list(tmp_path.iterdir()) == []
