"""The block library: save a block or SuperBlock, list it, insert copies into other projects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from engine_fixtures import builder, registry

from dpg_blocks.core import Connect, Endpoint, History, RemoveBlock, dumps, load_project, save_project
from dpg_blocks.core.user.library import (
    LIBRARY_SUFFIX,
    LibraryError,
    insert_copy,
    list_library,
    load_from_library,
    save_to_library,
)
from dpg_blocks.engine.compiling.compiler import validate_project
from dpg_blocks.engine.compiling.model import compile_project

EXAMPLES = Path(__file__).resolve().parents[1] / "assets" / "examples"


@pytest.fixture(autouse=True)
def user_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "user"
    monkeypatch.setenv("DPG_BLOCKS_USER_DIR", str(folder))
    return folder


def _backbone():
    """in -> [Backbone: fc1 -> [Head: fc2 -> fc3]] -> loss, nested two levels deep."""
    b = builder("with backbone")
    data = b.add("builtin.Input", "data")
    fc1 = b.add("builtin.Linear", "fc1", out_features=32, flatten_input=True, activation="relu")
    fc2 = b.add("builtin.Linear", "fc2", out_features=16, activation="relu")
    fc3 = b.add("builtin.Linear", "fc3", out_features=10)
    loss = b.add("builtin.CrossEntropyLoss", "loss")
    b.chain((data, "x", ""), (fc1, "y", "x"), (fc2, "y", "x"), (fc3, "y", "x"), (loss, "", "input"))
    head = b.merge([fc2, fc3], "Head")
    backbone = b.merge([fc1, head], "Backbone")
    return b, backbone


def test_a_saved_superblock_lists_and_inserts_as_a_copy_with_fresh_ids(user_folder):
    b, backbone = _backbone()
    path = save_to_library(b.project, backbone)
    assert path.parent == user_folder / "library" and path.suffix == LIBRARY_SUFFIX
    entries, problems = list_library()
    assert not problems
    (entry,) = entries
    assert (entry.name, entry.type, entry.blocks) == ("Backbone", "core.SuperBlock", 5)

    other = builder("another project")
    other.add("builtin.Input", "Backbone")  # the name is taken where the copy lands
    before = dumps(other.project)
    edit = insert_copy(other.project, load_from_library("Backbone"), pos=(10, 20))
    other.history.do(edit)
    copy = other.project.block(edit.block.id)
    assert copy.name == "Backbone2" and copy.pos == (10.0, 20.0)
    inner = [blk for blk in copy.walk()]
    assert [blk.name for blk in inner[1:]] == ["fc1", "Head", "fc2", "fc3"]
    ids = [blk.id for blk in other.project.graph.walk()]
    assert len(set(ids)) == len(ids) == 6  # fresh ids, unique across every level
    # links inside follow the new ids, boundary included: the copy still loads and saves
    head = next(blk for blk in inner if blk.name == "Head")
    assert {lk.src.block for lk in head.graph.links} <= {head.id} | set(head.graph.blocks)
    assert load_project_roundtrip(other.project)
    other.history.undo()
    assert dumps(other.project) == before


def load_project_roundtrip(project) -> bool:
    from dpg_blocks.core import loads

    return dumps(loads(dumps(project))) == dumps(project)


def test_saving_twice_needs_overwrite_and_bad_files_are_reported_not_fatal(user_folder):
    b, backbone = _backbone()
    save_to_library(b.project, backbone)
    with pytest.raises(LibraryError, match="exists"):
        save_to_library(b.project, backbone)
    save_to_library(b.project, backbone, overwrite=True)
    lib = user_folder / "library"
    (lib / "junk.dpgblock").write_text("{not json")
    newer = json.loads((lib / "Backbone.dpgblock").read_text())
    newer["format"] = 99
    (lib / "future.dpgblock").write_text(json.dumps(newer))
    entries, problems = list_library()
    assert [e.name for e in entries] == ["Backbone"]
    assert len(problems) == 2 and any("newer dpg-blocks" in str(p) for p in problems)
    with pytest.raises(LibraryError, match="no library block named 'nothing'"):
        load_from_library("nothing")


def _count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _summary(records):
    return sorted((r.path_text if hasattr(r, "path_text") else " › ".join(r.path), r.status,
                   [t.shape for t in r.inputs], [t.shape for t in r.outputs]) for r in records)


def test_dann_feature_extractor_through_the_library_validates_and_counts_the_same(tmp_path):
    path = EXAMPLES / "dann_digits.dpgb"
    project = load_project(path)
    reference = validate_project(project, registry(), path.parent, trusted=True)
    params_before = _count(compile_project(project, registry(), path.parent, trusted=True).model)

    history = History(project)
    fe = next(blk for blk in project.graph.blocks.values() if blk.name == "Feature Extractor")
    links = [lk for lk in project.graph.links if fe.id in (lk.src.block, lk.dst.block)]
    save_to_library(project, fe.id)
    history.do(RemoveBlock(fe.id))
    assert all(blk.name != "Feature Extractor" for blk in project.graph.blocks.values())
    edit = insert_copy(project, load_from_library("Feature Extractor"), pos=fe.pos)
    history.do(edit)
    new_id = edit.block.id
    assert new_id != fe.id
    for lk in links:
        src = Endpoint(new_id if lk.src.block == fe.id else lk.src.block, lk.src.port)
        dst = Endpoint(new_id if lk.dst.block == fe.id else lk.dst.block, lk.dst.port)
        history.do(Connect(src, dst))

    again = validate_project(project, registry(), path.parent, trusted=True)
    assert _summary(again) == _summary(reference)
    assert all(r.status == "ok" for r in again)
    assert _count(compile_project(project, registry(), path.parent, trusted=True).model) == params_before


def test_the_cli_saves_lists_and_inserts_library_blocks(tmp_path, capsys):
    from dpg_blocks.cli import main

    b, _ = _backbone()
    save_project(b.project, tmp_path / "a.dpgb")
    assert main(["library", "save", str(tmp_path / "a.dpgb"), "Backbone/Head", "--name", "Small head"]) == 0
    capsys.readouterr()
    assert main(["library", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["blocks"]
    assert [(e["name"], e["blocks"]) for e in listed] == [("Small head", 3)]
    target = builder("target")
    target.add("builtin.Input", "data")
    save_project(target.project, tmp_path / "b.dpgb")
    assert main(["library", "insert", str(tmp_path / "b.dpgb"), "Small head"]) == 0
    names = [blk.name for blk in load_project(tmp_path / "b.dpgb").graph.walk()]
    assert names == ["data", "Head", "fc2", "fc3"]
    assert main(["library", "save", str(tmp_path / "a.dpgb"), "no such block"]) == 1
