"""What the editor says about its engine: on a slow machine (the engine takes 20 s to start,
longer than the validate deadline) the project opened meanwhile ends up validated, the status
line counting the wait, and nothing says "hung"; a stuck training step is named and outlined."""

from __future__ import annotations

import time

import dearpygui.dearpygui as dpg
from ui_fixtures import EXAMPLES, live_editor

from dpg_blocks.engine.process.server import START_DELAY_ENV


def test_a_slow_engine_start_ends_validated_with_no_hung_message(monkeypatch):
    monkeypatch.setenv(START_DELAY_ENV, "20")
    with live_editor() as editor:
        st = editor.state
        st.open(str(EXAMPLES / "mlp_digits.dpgb"))
        shown: set[str] = set()
        end = time.monotonic() + 120
        while not (st.validation.received and not st.validation.pending and not editor._validate_wanted):
            assert time.monotonic() < end, f"not validated; engine {st.engine_text!r}, status {st.status!r}"
            editor.pump(4.0)
            shown.add(dpg.get_value(editor.engine_text))
            time.sleep(0.02)
        assert st.validation.ok and st.validation.records
        assert editor.client.restarts == 0 and not st.engine_failures
        assert not [t for t in shown if "hung" in t] and "hung" not in st.status
        assert "starting engine… (0 s)" in shown and any(t.startswith("starting engine… (1") for t in shown)


def test_a_stuck_training_step_is_named_in_the_status_line_and_its_block_outlined(editor):
    from dpg_blocks import protocol as m
    from dpg_blocks.ui.editor.app import find_block

    st = editor.state
    st.open(str(EXAMPLES / "mlp_digits.dpgb"))
    fc3 = find_block(st, "FC3")
    st.training = type(st.training)(request_id=7, state="running")
    editor.handle(m.TrainingStuck(request_id=7, block_id=fc3, path=["FC3"], seconds=5.2))
    assert "training is stuck in block FC3 (5 s)" in dpg.get_value(editor.status_text)
    assert editor.canvas.nodes[fc3].theme == editor.themes.failing_node
    editor.handle(m.TrainingStuck(request_id=6, block_id="", path=[], seconds=9.0))  # an older run's
    assert editor.canvas.nodes[fc3].theme == editor.themes.failing_node
