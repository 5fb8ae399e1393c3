"""What a path dropped on the window is (ui/files/dropped_files.py) and what the editor does with it
(ui/files/drop_actions.py), without a viewport: the drop position's geometry is the render test's
(tests/test_ui_drop.py); here the canvas answers "which block, which point" as told."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg
import pytest
from ui_fixtures import EXAMPLES, click

from dpg_blocks.core.user.folder import plugins_dir
from dpg_blocks.core.user.library import save_to_library
from dpg_blocks.ui.files.dropped_files import (
    DATASET,
    IMPORT,
    LIBRARY_BLOCK,
    PLUGIN,
    PROJECT,
    UNKNOWN,
    classify,
    plugin_contents,
)

PACK = '''from dpg_blocks.blocks import In, Out, block
import dpg_blocks.blocks as api


@block("pack.One", category="Dropped")
class One:
    x = In("tensor")
    y = Out("tensor")


@api.block("pack.Two", category="Dropped")
class Two:
    x = In("tensor")
    y = Out("tensor")
'''
MODULES = '''import torch
from torch import nn


class Block(nn.Module):
    pass


class Net(torch.nn.Module):
    pass
'''


def _write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


class FakeClient:
    """Records what the editor sends (the engine's answers are other tests' business)."""

    state = "stopped"  # so the Debug tab's preview asks nothing: only Add Data's reads are sent

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def request_id(self) -> int:
        return len(self.sent) + 1

    def send(self, msg: Any) -> None:
        self.sent.append(msg)


# -- classification ----------------------------------------------------------------------------
def test_each_kind_is_told_from_names_and_python_syntax(tmp_path):
    pack = tmp_path / "mypack"
    _write(pack / "__init__.py", PACK)
    _write(pack / "modules.py", MODULES)
    images = tmp_path / "shapes"
    _write(images / "circle" / "a.png")
    _write(images / "square" / "b.JPG")
    assert classify(pack).kind == PLUGIN  # a package, even though it also holds nn.Modules
    assert classify(images).kind == DATASET  # class folders of images
    assert classify(_write(tmp_path / "single.py", PACK)).kind == PLUGIN
    model = classify(_write(tmp_path / "model.py", MODULES))
    assert (model.kind, model.classes) == (IMPORT, ["Block", "Net"])
    assert classify(_write(tmp_path / "p.dpgb", "{}")).kind == PROJECT
    assert classify(_write(tmp_path / "b.dpgblock", "{}")).kind == LIBRARY_BLOCK
    assert classify(_write(tmp_path / "t.CSV", "label\n")).kind == DATASET
    assert classify(_write(tmp_path / "a.npz")).kind == DATASET


@pytest.mark.parametrize(("make", "why"), [
    (lambda t: _write(t / "loose" / "train.py", "x = 1").parent, "holds Python files but no __init__.py"),
    (lambda t: _write(t / "empty" / "readme.md").parent, "neither a plugin folder nor an image folder"),
    (lambda t: _write(t / "script.py", "print('hi')\n"), "declares no blocks (@block) and no nn.Module"),
    (lambda t: _write(t / "broken.py", "def (:\n"), "cannot be parsed as Python"),
    (lambda t: _write(t / "notes.txt", "hi"), "notes.txt is not a kind the editor opens"),
    (lambda t: t / "gone.csv", "cannot be read"),
])
def test_what_is_not_accepted_says_why(tmp_path, make, why):
    dropped = classify(make(tmp_path))
    assert dropped.kind == UNKNOWN and why in dropped.why


def test_a_plugin_is_listed_without_running_it(tmp_path):
    pack = tmp_path / "mypack"
    _write(pack / "__init__.py", PACK + "\nraise SystemExit('must not run')\n")
    _write(pack / "sub" / "more.py", '@block("pack.Three", category="X")\nclass Three: pass\n')
    _write(pack / "__pycache__" / "x.pyc")
    info = plugin_contents(pack)
    assert info.name == "mypack"
    assert info.files == ["__init__.py", "sub/more.py"]
    assert info.block_ids == ["pack.One", "pack.Two", "pack.Three"]
    assert plugin_contents(_write(tmp_path / "single.py", PACK)).block_ids == ["pack.One", "pack.Two"]


# -- dispatch ----------------------------------------------------------------------------------
def test_a_dropped_plugin_folder_asks_then_installs(editor, tmp_path):
    pack = tmp_path / "mypack"
    _write(pack / "__init__.py", PACK)
    editor.drops.handle([str(pack)], (10.0, 10.0))
    box = editor.drops.boxes()
    assert box["shown"] and box["question"].startswith("Install plugin 'mypack' into your plugin folder?")
    assert "pack.One, pack.Two" in box["contents"] and "__init__.py" in box["contents"]
    assert not (plugins_dir() / "mypack").exists()  # nothing copied before the answer
    click(editor.drops.install_button)
    assert (plugins_dir() / "mypack" / "__init__.py").read_text() == PACK
    assert not editor.drops.prompting and "copied mypack into" in editor.state.status


def test_a_dropped_plugin_file_installs_and_cancel_copies_nothing(editor, tmp_path):
    first, second = _write(tmp_path / "one.py", PACK), _write(tmp_path / "two.py", PACK)
    editor.drops.handle([str(first), str(second)], (0.0, 0.0))  # asked one after the other
    assert "'one'" in editor.drops.boxes()["question"]
    click(editor.drops.cancel_button)
    assert "'two'" in editor.drops.boxes()["question"] and editor.drops.prompting
    click(editor.drops.install_button)
    assert not (plugins_dir() / "one.py").exists()
    assert (plugins_dir() / "two.py").read_text() == PACK


def test_a_dropped_module_file_opens_the_import_dialog(editor, tmp_path):
    model = _write(tmp_path / "model.py", MODULES)
    editor.drops.handle([str(model)], (0.0, 0.0))
    imp = editor.importer
    assert imp.window is not None and editor.state.status.startswith("model.py: nn.Module classes Block, Net")
    assert dpg.get_value(imp.file_input) == str(model) and dpg.get_value(imp.class_input) == "Net"
    assert dpg.is_item_shown(imp.window)


def test_a_dropped_project_opens_through_the_unsaved_changes_guard(editor, tmp_path):
    editor.state.add_block("builtin.Linear")  # unsaved work
    editor.drops.handle([str(EXAMPLES / "mlp_digits.dpgb")], (0.0, 0.0))
    assert editor.controls.prompting and not editor.state.path  # asked first, nothing opened
    editor.drops.handle([str(EXAMPLES / "gan_digits.dpgb")], (0.0, 0.0))  # a second drop meanwhile
    assert "answer the open prompt first" in editor.state.status
    editor.controls.unsaved_answer("discard")
    assert editor.state.path.endswith("mlp_digits.dpgb")


def test_a_dropped_library_block_is_inserted_at_the_drop_point(editor, tmp_path, monkeypatch):
    bid = editor.state.add_block("builtin.Linear")
    saved = save_to_library(editor.state.project, bid, name="Head", folder=tmp_path)
    monkeypatch.setattr(editor.canvas, "doc_pos_at", lambda x, y: (x * 2, y * 2))
    editor.drops.handle([str(saved)], (150.0, 40.0))
    new = editor.state.block(editor.state.selected[-1])
    assert new.id != bid and new.type == "builtin.Linear" and new.pos == (300.0, 80.0)


def test_dropped_data_becomes_the_inputs_data_or_a_new_input(editor, tmp_path, monkeypatch):
    editor.client = FakeClient()
    csv = _write(tmp_path / "table.csv", "label,a\n0,1\n")
    linear = editor.state.add_block("builtin.Linear")
    given = editor.state.add_block("builtin.Input")
    at: dict[str, Any] = {"block": given}
    monkeypatch.setattr(editor.canvas, "block_at", lambda x, y: at["block"])
    monkeypatch.setattr(editor.canvas, "doc_pos_at", lambda x, y: (x, y))

    editor.drops.handle([str(csv)], (5.0, 5.0))  # on the Input
    sent = editor.client.sent[-1]
    assert (sent.block_id, sent.params["source"], sent.params["path"]) == (given, "csv", str(csv))

    at["block"] = None  # on empty canvas: a new Input there, asked to read it
    n = len(editor.state.graph.blocks)
    editor.drops.handle([str(tmp_path)], (420.0, 260.0))  # a folder without class folders: refused
    assert "neither a plugin folder nor an image folder" in editor.state.status
    _write(tmp_path / "imgs" / "cat" / "1.png")
    editor.drops.handle([str(tmp_path / "imgs")], (420.0, 260.0))
    assert len(editor.state.graph.blocks) == n + 1
    new = editor.state.block(editor.client.sent[-1].block_id)
    assert new.type == "builtin.Input" and new.pos == (420.0, 260.0) and new.id != given
    assert editor.client.sent[-1].params["source"] == "images"

    at["block"] = linear  # on a block that is not an Input: said, nothing sent
    before = len(editor.client.sent)
    editor.drops.handle([str(csv)], (5.0, 5.0))
    assert len(editor.client.sent) == before and "data goes on an Input block" in editor.state.status


def test_anything_else_says_which_kinds_are_accepted(editor, tmp_path):
    editor.drops.handle([str(_write(tmp_path / "photo.tiff"))], (0.0, 0.0))
    status = editor.state.status
    assert status.startswith("not opened: photo.tiff is not a kind the editor opens; accepted:")
    assert all(kind in status for kind in (".dpgb", ".dpgblock", "plugin folder", ".csv", ".npz", "image-class folder"))
