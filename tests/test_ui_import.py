"""File › Import PyTorch module… with a real engine: the GUI sends ImportModule, the engine runs
the import the CLI runs, and the editor opens the new project (or says which node failed)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import dearpygui.dearpygui as dpg
import pytest
from ui_fixtures import EXAMPLES, ROOT, click, live_editor, wait_for

from dpg_blocks.core.layout import DEFAULT_SIZE
from dpg_blocks.ui.editor.app import Editor
from dpg_blocks.ui.files.import_dialog import default_out_path, parse_shapes

MLP_FILE = ROOT / "benchmarks" / "handwritten_mlp.py"
DILATED = '''
from torch import nn


class Dilated(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, dilation=2)

    def forward(self, x):
        return self.conv(x)
'''


@pytest.fixture
def editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Editor]:
    """The editor and its engine with a private user folder (the import records trust there)."""
    monkeypatch.setenv("DPG_BLOCKS_USER_DIR", str(tmp_path / "user"))
    with live_editor() as ed:
        wait_for(ed, lambda: bool(ed.state.catalog))
        yield ed


def _menu_item(label: str) -> int:
    return next(i for i in dpg.get_all_items() if dpg.get_item_label(i) == label)


def _validated(ed: Editor) -> bool:
    v = ed.state.validation
    return bool(v.received) and not v.pending


def test_the_dialog_reads_shapes_and_suggests_the_project_next_to_the_file() -> None:
    assert parse_shapes("1,8,8") == [[1, 8, 8]]
    assert parse_shapes("1x8x8; 10") == [[1, 8, 8], [10]]
    with pytest.raises(ValueError, match="positive"):
        parse_shapes("1,0")
    assert default_out_path("/a/b/net.py", "Net") == str(Path("/a/b/Net.dpgb"))


def test_john_imports_his_handwritten_mlp_and_it_opens_laid_out_and_valid(editor: Editor, tmp_path: Path) -> None:
    st = editor.state
    click(_menu_item("Import PyTorch module…"))
    assert dpg.is_item_shown(editor.importer.window)
    editor.importer.fill(str(MLP_FILE), "HandwrittenMLP", "64")  # what typing into the fields does
    out = MLP_FILE.parent / "HandwrittenMLP.dpgb"
    assert dpg.get_value(editor.importer.out_input) == str(out)  # the suggested place: next to the .py
    target = tmp_path / "johns_mlp.dpgb"
    dpg.set_value(editor.importer.out_input, str(target))
    click(editor.importer.import_button)
    assert editor.importer.request_id is not None and st.status.startswith("importing HandwrittenMLP")
    wait_for(editor, lambda: editor.importer.request_id is None)
    assert st.path == str(target), st.status
    assert target.exists() and target.with_suffix(".weights.pt").exists()
    assert st.status.startswith(f"imported HandwrittenMLP from handwritten_mlp.py: wrote {target} (12 blocks")
    assert not dpg.is_item_shown(editor.importer.window)
    blocks = st.graph.blocks
    assert len(blocks) == 12  # x, flatten, 5 Linear, 4 ReLU, output
    assert set(editor.canvas.nodes) == set(blocks)  # one node per block
    w, h = DEFAULT_SIZE  # no viewport, so no measured node sizes: the default one, where the canvas put them
    placed = {bid: dpg.get_item_pos(view.node) for bid, view in editor.canvas.nodes.items()}
    for (a, pa), (b, pb) in itertools.combinations(placed.items(), 2):
        apart = abs(pa[0] - pb[0]) >= w or abs(pa[1] - pb[1]) >= h
        assert apart, f"{blocks[a].name} at {pa} overlaps {blocks[b].name} at {pb}"
    editor.request_validation()
    wait_for(editor, lambda: _validated(editor))
    assert st.validation.ok is True, st.validation.records


def test_an_unsupported_op_names_the_node_and_leaves_the_open_project_alone(editor: Editor, tmp_path: Path) -> None:
    st = editor.state
    editor.controls.open(str(EXAMPLES / "mlp_digits.dpgb"))
    before = (st.path, st.project_dict())
    source = tmp_path / "dilated.py"
    source.write_text(DILATED)
    editor.importer.show()
    editor.importer.fill(str(source), "Dilated", "1,8,8")
    editor.importer.submit()
    wait_for(editor, lambda: editor.importer.request_id is None)
    assert st.status.startswith("import failed: node 'conv' (call_module conv)"), st.status
    assert "\n" not in st.status
    assert "node 'conv'" in dpg.get_value(editor.importer.error_text)
    assert dpg.is_item_shown(editor.importer.window)  # still open: fix a field and try again
    assert (st.path, st.project_dict()) == before
    assert not (tmp_path / "Dilated.dpgb").exists()


def test_a_field_the_dialog_can_check_is_refused_without_asking_the_engine(editor: Editor) -> None:
    editor.importer.fill(str(MLP_FILE), "HandwrittenMLP", "64", args_json="{nope")
    assert editor.importer.submit() is None
    assert editor.importer.request_id is None
    assert editor.state.status.startswith("import failed: the constructor args are not JSON")


def test_unsaved_changes_are_asked_about_before_the_import_opens(editor: Editor, tmp_path: Path) -> None:
    st = editor.state
    st.add_block("builtin.Linear")
    assert st.dirty
    editor.importer.fill(str(MLP_FILE), "HandwrittenMLP", "64", out_path=str(tmp_path / "mlp.dpgb"))
    editor.importer.submit()
    wait_for(editor, lambda: editor.importer.request_id is None)
    assert editor.controls.prompting and st.path != str(tmp_path / "mlp.dpgb")
    click(editor.controls.unsaved_discard)
    assert st.path == str(tmp_path / "mlp.dpgb") and not st.dirty
    assert st.status.startswith("imported HandwrittenMLP")


def test_a_token_model_imports_from_the_dialog_with_int64_inputs(editor: Editor, tmp_path: Path) -> None:
    source = tmp_path / "lm.py"
    source.write_text("import torch\nfrom torch import nn\n\n\nclass LM(nn.Module):\n"
                      "    def __init__(self):\n        super().__init__()\n        self.embed = nn.Embedding(30, 8)\n"
                      "        self.head = nn.Linear(8, 30)\n\n    def forward(self, ids):\n"
                      "        return self.head(self.embed(ids))\n")
    click(_menu_item("Import PyTorch module…"))
    editor.importer.fill(str(source), "LM", "6", out_path=str(tmp_path / "lm.dpgb"))
    dpg.set_value(editor.importer.dtype_input, "int64")  # without it, float noise is no token id
    click(editor.importer.import_button)
    wait_for(editor, lambda: editor.importer.request_id is None)
    assert editor.state.path == str(tmp_path / "lm.dpgb"), editor.state.status
    ids = next(b for b in editor.state.graph.blocks.values() if b.type == "builtin.Input")
    assert ids.params["noise_ids"] == 30
