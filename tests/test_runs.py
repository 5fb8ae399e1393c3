"""Run folders (core/runs/folders.py): layout, listing, damaged runs, the wording of changes, rename/delete."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import pytest

from dpg_blocks.core.runs.folders import (
    RunError,
    RunWriter,
    delete_run,
    list_runs,
    read_metrics,
    rename_run,
    resolve_run,
    runs_folder,
    settings_changes,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "assets" / "examples" / "mlp_digits.dpgb"


@pytest.fixture
def project() -> dict:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))


def epoch(n: int, val: float) -> dict:
    return {"epoch": n, "loss": 1.0 / n, "val_loss/order_1": val, "val_accuracy": 0.5 + n / 100,
            "confusion_matrix": [[1, 0], [0, 1]]}


def test_layout_and_listing(tmp_path: Path, project: dict) -> None:
    folder = runs_folder(tmp_path / "digits.dpgb")
    assert folder == tmp_path / "digits.runs"
    w = RunWriter.create(folder, "lr 0.003", project, seed=0, device="cpu", epochs_planned=3, argv=["train"])
    assert w.path.parent == folder and w.path.name.endswith("-lr-0-003")
    assert sorted(p.name for p in w.path.iterdir()) == ["metrics.jsonl", "project.dpgb", "run.json"]
    assert w.append_metrics(epoch(1, 0.9)) is True
    assert w.append_metrics(epoch(2, 0.5)) is True
    assert w.append_metrics(epoch(3, 0.7)) is False  # val loss went up: epoch 2 stays the best
    w.finish("finished")
    [info] = list_runs(folder)
    assert (info.state, info.epochs_done, info.epochs_planned, info.name) == ("finished", 3, 3, "lr 0.003")
    assert info.best == {"metric": "val_loss", "epoch": 2, "value": 0.5}
    assert info.final["val_accuracy"] == pytest.approx(0.53) and "confusion_matrix" not in info.final
    assert [r["epoch"] for r in read_metrics(info.path)] == [1, 2, 3]
    assert json.loads((info.path / "project.dpgb").read_text())["orders"] == project["orders"]
    assert resolve_run(folder, "last") == info.path == resolve_run(folder, info.id)


def test_second_run_names_what_changed(tmp_path: Path, project: dict) -> None:
    RunWriter.create(tmp_path, "a", project, 0, "cpu", 10).finish("finished")
    changed = copy.deepcopy(project)
    changed["orders"][0]["optimizer"]["lr"] = 0.01
    w = RunWriter.create(tmp_path, "b", changed, 1, "cpu", 10)
    runs = list_runs(tmp_path)
    assert [r.name for r in runs] == ["a", "b"]
    assert runs[1].changes == ["learning rate of order 1: 0.003 → 0.01", "seed: 0 → 1"]
    assert runs[1].state == "running" and w.id == runs[1].id


def test_settings_changes_wording(project: dict) -> None:
    after = copy.deepcopy(project)
    after["training"]["epochs"] = 20
    blocks = after["graph"]["blocks"]
    fc2 = next(b for b in blocks if b["name"] == "FC2")
    fc2["params"]["out_features"] = 64
    blocks.append({"id": "b99", "type": "builtin.Dropout", "name": "Dropout", "params": {"p": 0.5}})
    after["graph"]["blocks"][0]["pos"] = [1.0, 2.0]  # moving a block changes no training
    assert settings_changes(project, after) == ["epochs: 10 → 20", "block added: Dropout", "FC2 units: 128 → 64"]
    assert settings_changes(project, copy.deepcopy(project)) == []


def test_corrupt_and_half_written_runs_are_listed_unreadable(tmp_path: Path, project: dict) -> None:
    good = RunWriter.create(tmp_path, "good", project, 0, "cpu", 1)
    (tmp_path / "20000101-000000-torn").mkdir()
    (tmp_path / "20000101-000000-torn" / "run.json").write_text('{"format": 1, "na')
    (tmp_path / "20000102-000000-empty").mkdir()
    runs = list_runs(tmp_path)
    assert [r.state for r in runs] == ["unreadable", "unreadable", "running"]
    assert "cannot be read" in runs[0].reason and "no run.json" in runs[1].reason
    assert runs[2].path == good.path


def test_a_killed_writer_leaves_a_stopped_run_and_a_torn_line(tmp_path: Path, project: dict) -> None:
    w = RunWriter.create(tmp_path, "killed", project, 0, "cpu", 5)
    w.append_metrics(epoch(1, 0.9))
    with open(w.path / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 2, "loss": 0.')  # kill -9 mid-line
    doc = json.loads((w.path / "run.json").read_text())
    doc["pid"] = 2**22 + 12345  # a process that is gone
    (w.path / "run.json").write_text(json.dumps(doc))
    [info] = list_runs(tmp_path)
    assert info.state == "stopped" and "killed" in info.reason
    assert [r["epoch"] for r in read_metrics(w.path)] == [1]


def test_reopen_drops_epochs_after_the_checkpoint(tmp_path: Path, project: dict) -> None:
    w = RunWriter.create(tmp_path, "r", project, 0, "cpu", 5)
    for n in (1, 2, 3):
        w.append_metrics(epoch(n, 1.0 / n))
    again = RunWriter.reopen(w.path, epoch=2, epochs_planned=6)
    assert [r["epoch"] for r in read_metrics(w.path)] == [1, 2] and again.epochs_done == 2
    assert list_runs(tmp_path)[0].epochs_planned == 6


def test_rename_and_delete(tmp_path: Path, project: dict) -> None:
    w = RunWriter.create(tmp_path, "old", project, 0, "cpu", 1)
    rename_run(w.path, "new name")
    assert list_runs(tmp_path)[0].name == "new name" and list_runs(tmp_path)[0].id == w.id
    with pytest.raises(RunError, match="still training"):
        delete_run(w.path)  # this process is alive and the run says running
    w.finish("stopped")
    (w.path / "notes.txt").write_text("mine")
    with pytest.raises(RunError, match="files no run writes"):
        delete_run(w.path)
    (w.path / "notes.txt").unlink()
    delete_run(w.path)
    assert list_runs(tmp_path) == []


def test_listing_200_runs_is_fast(tmp_path: Path, project: dict) -> None:
    w = RunWriter.create(tmp_path, "template", project, 0, "cpu", 50)
    for n in range(1, 51):
        w.append_metrics(epoch(n, 1.0 / n))
    w.finish("finished")
    doc = json.loads((w.path / "run.json").read_text())
    for i in range(199):
        p = tmp_path / f"20260101-{i:06d}-run"
        p.mkdir()
        (p / "run.json").write_text(json.dumps({**doc, "id": p.name}))
        (p / "metrics.jsonl").write_bytes((w.path / "metrics.jsonl").read_bytes())
    start = time.perf_counter()
    runs = list_runs(tmp_path)
    took = time.perf_counter() - start
    assert len(runs) == 200 and all(r.state == "finished" for r in runs)
    assert took < 0.5, f"listing 200 runs took {took:.3f} s"


def test_a_shipped_examples_runs_go_to_the_user_folder_not_the_installation():
    from dpg_blocks.core.assets import examples_dir
    from dpg_blocks.core.runs.folders import runs_folder
    from dpg_blocks.core.user.folder import user_dir

    folder = runs_folder(examples_dir() / "mlp_digits.dpgb")
    assert folder == user_dir() / "runs" / "examples" / "mlp_digits"
    assert runs_folder("/somewhere/p.dpgb") == Path("/somewhere/p.runs")
