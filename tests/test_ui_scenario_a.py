"""Scenario A through the editor's own callbacks, with a real engine process.

John adds an Input and a Fully Connected block from the Blocks menu, connects them, sees the
FC outlined red with both shapes in the Debug pane, ticks "flatten input", and the red goes.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator

import dearpygui.dearpygui as dpg
import pytest
from ui_fixtures import ROOT, builtin_catalog, click, enter, live_editor, wait_for

from dpg_blocks.ui.editor.app import Editor


@pytest.fixture
def editor() -> Iterator[Editor]:
    with live_editor() as ed:
        yield ed


def validated(editor: Editor) -> bool:
    v = editor.state.validation
    return bool(v.received) and not v.pending and not editor._validate_wanted


def test_john_connects_sees_red_flattens_and_undoes(editor):
    st = editor.state
    # The first frame does not wait for the engine: the Blocks menu says it is coming.
    assert st.engine_state in ("starting", "stopped") or st.catalog
    wait_for(editor, lambda: bool(st.catalog))
    assert st.engine_state == "ready"
    assert dpg.get_value(editor.engine_text).startswith(("engine ", "validating… ("))

    click(editor.blocks_menu.add_buttons["builtin.Input"])
    click(editor.blocks_menu.add_buttons["builtin.Linear"])
    data, fc1 = list(st.project.graph.blocks)
    enter(editor.tree.widgets[(data, "reshape")], "1, 8, 8")  # the digits as 1×8×8 images
    a = editor.canvas.nodes[data].attrs[("out", "x")]
    b = editor.canvas.nodes[fc1].attrs[("in", "x")]
    click(editor.canvas.editor, (a, b))
    assert len(st.project.graph.links) == 1

    st.select([fc1])
    wait_for(editor, lambda: validated(editor))
    rec = st.record(fc1)
    assert rec is not None and rec["status"] == "error", rec
    assert editor.canvas.nodes[fc1].theme == editor.themes.failing_node
    text = editor.debug.text()
    assert "(4, 1, 8, 8)" in text and "(4, 64)" in text and "x: 4×1×8×8" in text

    click(editor.tree.widgets[(fc1, "flatten_input")], True)
    wait_for(editor, lambda: validated(editor))
    assert st.record(fc1)["status"] == "ok"
    assert editor.canvas.nodes[fc1].theme == editor.themes.plain_node
    assert "y: 4×64" in editor.debug.text()

    st.undo()
    assert st.block(fc1).params["flatten_input"] is False
    wait_for(editor, lambda: validated(editor))
    assert editor.canvas.nodes[fc1].theme == editor.themes.failing_node
    st.redo()
    wait_for(editor, lambda: validated(editor))
    assert editor.canvas.nodes[fc1].theme == editor.themes.plain_node


def test_the_editor_survives_the_engine_being_killed(editor):
    st = editor.state
    wait_for(editor, lambda: validated(editor) and bool(st.catalog))
    click(editor.blocks_menu.add_buttons["builtin.Input"])
    editor.client.kill()
    wait_for(editor, lambda: bool(st.engine_failures), timeout=20)
    assert "signal 9" in st.engine_failures[-1] and "signal 9" in dpg.get_value(editor.status_text)
    assert st.engine_state in ("restarting", "ready")
    wait_for(editor, lambda: st.engine_state == "ready", timeout=60)
    assert len(st.project.graph.blocks) == 1 and st.history.can_undo
    click(editor.blocks_menu.add_buttons["builtin.Linear"])
    wait_for(editor, lambda: validated(editor))
    assert len(st.validation.records) == 2


GUI_WITHOUT_TORCH = textwrap.dedent('''
    import sys, time
    import dpg_blocks.ui
    from dpg_blocks.ui.editor.app import Editor
    from dpg_blocks.ui.state.editor_state import EditorState
    import dearpygui.dearpygui as dpg
    dpg.create_context()
    dpg.configure_app(manual_callback_management=True)
    ed = Editor(EditorState())
    ed.state.open(sys.argv[1])
    ed.start_engine(threads=1)
    end = time.monotonic() + 90
    while not (ed.state.catalog and ed.state.validation.received and not ed.state.validation.pending):
        assert time.monotonic() < end, ed.state.engine_text
        ed.pump(4.0)
        time.sleep(0.005)
    assert ed.state.validation.records, "no records"
    ed.close()
    dpg.destroy_context()
    print("torch" in sys.modules)
''')


def test_the_gui_process_never_imports_torch():
    project = ROOT / "assets" / "examples" / "mlp_digits_unflattened.dpgb"
    out = subprocess.run([sys.executable, "-c", GUI_WITHOUT_TORCH, str(project)],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_builtin_catalog_matches_what_the_engine_sends(editor):
    wait_for(editor, lambda: bool(editor.state.catalog))
    sent = {d["id"] for d in editor.client.catalog}
    assert {d["id"] for d in builtin_catalog()} <= sent


def test_train_streams_epochs_into_the_results_plot_and_stop_ends_it(editor):
    st = editor.state
    st.open(str(ROOT / "assets" / "examples" / "mlp_digits.dpgb"))
    enter(editor.results.epochs, 2)
    assert st.project.training.epochs == 2
    wait_for(editor, lambda: validated(editor) and st.validation.ok is True)
    click(editor.results.train_btn)
    wait_for(editor, lambda: len(st.training.epochs) == 2, timeout=120)
    xs, ys = dpg.get_value(editor.results.series["test_accuracy"])[:2]
    assert list(xs) == [1.0, 2.0] and 0.0 < ys[-1] <= 1.0
    assert "epoch 2" in dpg.get_value(editor.results.state_text)
    wait_for(editor, lambda: st.training.state in ("finished", "stopped"), timeout=30)
