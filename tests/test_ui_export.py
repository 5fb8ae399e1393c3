"""File › Export to PyTorch / ONNX… with a real engine: the GUI sends Export, the engine writes the
script, and the status line says where it went (or why it did not)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import dearpygui.dearpygui as dpg
import pytest
from ui_fixtures import EXAMPLES, click, live_editor, wait_for

from dpg_blocks.ui.editor.app import Editor


@pytest.fixture
def editor() -> Iterator[Editor]:
    with live_editor() as ed:
        yield ed


def _menu_item(label: str) -> int:
    return next(i for i in dpg.get_all_items() if dpg.get_item_label(i) == label)


def test_john_exports_his_classifier_and_the_status_line_says_where(editor, tmp_path: Path):
    st = editor.state
    st.open(str(EXAMPLES / "mlp_digits.dpgb"))
    wait_for(editor, lambda: bool(st.catalog))
    click(_menu_item("Export to PyTorch / ONNX…"))  # the file dialog, named after the project
    assert dpg.get_item_configuration(editor.exporter._dialog)["default_filename"] == "mlp_digits"
    editor.exporter.export_to(str(tmp_path / "johns_mlp"))  # what the dialog's OK does
    wait_for(editor, lambda: editor.exporter.request_id is None)
    script = tmp_path / "johns_mlp.py"
    assert st.status.startswith(f"exported to {script}") and dpg.get_value(editor.status_text) == st.status
    tree = ast.parse(script.read_text())
    assert "JohnsDigitsClassifier" in {n.name for n in tree.body if isinstance(n, ast.ClassDef)}


def test_exporting_an_invalid_project_says_which_block_fails(editor, tmp_path: Path):
    st = editor.state
    st.open(str(EXAMPLES / "mlp_digits_unflattened.dpgb"))
    wait_for(editor, lambda: bool(st.catalog))
    editor.exporter.export_to(str(tmp_path / "model.py"))
    wait_for(editor, lambda: editor.exporter.request_id is None)
    assert st.status.startswith("export failed:") and "FC1" in st.status and "\n" not in st.status
    assert not (tmp_path / "model.py").exists()



def test_an_onnx_file_name_exports_the_inference_graph(editor, tmp_path: Path):
    pytest.importorskip("onnxruntime")
    import numpy as np
    import onnxruntime

    st = editor.state
    st.open(str(EXAMPLES / "mlp_digits.dpgb"))
    wait_for(editor, lambda: bool(st.catalog))
    editor.exporter.export_to(str(tmp_path / "johns_mlp.onnx"))
    wait_for(editor, lambda: editor.exporter.request_id is None, timeout=120)
    path = tmp_path / "johns_mlp.onnx"
    assert st.status.startswith(f"exported the inference graph to {path}"), st.status
    session = onnxruntime.InferenceSession(str(path))
    (inp,) = session.get_inputs()
    assert inp.shape[1:] == [1, 8, 8]  # one digit image; the batch dimension stays free
    (logits,) = session.run(None, {inp.name: np.zeros((7, 1, 8, 8), np.float32)})
    assert logits.shape == (7, 10)
