"""Exact resume: kill -9 `dpg-blocks train` after epoch 2, `--resume`, and get the same losses."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from dpg_blocks.core.runs.folders import list_runs, read_metrics, read_run, runs_folder

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "assets" / "examples" / "mlp_digits.dpgb"
EPOCHS = 5


def dropout_project(folder: Path, name: str = "net.dpgb") -> Path:
    """mlp_digits with a Dropout after FC1 (so the torch stream matters), small layers, 5 epochs."""
    doc = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    blocks = doc["graph"]["blocks"]
    blocks[0]["params"]["path"] = str(ROOT / "assets" / "data" / "digits.csv")
    blocks[0]["params"]["batch_size"] = 64
    for b in blocks:
        if b["type"] == "builtin.Linear" and b["params"]["out_features"] != 10:
            b["params"]["out_features"] = 16
    blocks.append({"id": "b20", "type": "builtin.Dropout", "version": 1, "name": "Dropout", "pos": [300.0, 300.0],
                   "params": {"p": 0.3}, "inputs": [{"name": "x", "kind": "tensor"}],
                   "outputs": [{"name": "y", "kind": "tensor"}]})
    links = doc["graph"]["links"]
    links.remove({"src": ["b2", "y"], "dst": ["b3", "x"]})
    links += [{"src": ["b2", "y"], "dst": ["b20", "x"]}, {"src": ["b20", "y"], "dst": ["b3", "x"]}]
    doc["orders"][0]["optimizer"]["scheduler"] = "cosine"  # scheduler state must resume too
    doc["training"] = {"epochs": EPOCHS, "seed": 3, "device": "cpu"}
    path = folder / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def cli(*args: str | Path, **kw: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "dpg_blocks", "train", *map(str, args), "-q"],
                          capture_output=True, text=True, env=env, timeout=300, **kw)  # type: ignore[call-overload]


def losses(rows: list[dict]) -> list[tuple]:
    keys = ("epoch", "loss", "loss/order_1", "val_loss/order_1", "test_loss/order_1", "train_accuracy", "lr/order_1")
    return [tuple(r.get(k) for k in keys) for r in rows]


def test_kill_after_epoch_2_then_resume_is_bit_exact(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    whole = dropout_project(tmp_path / "a")
    done = cli(whole, "--run-name", "whole")
    assert done.returncode == 0, done.stderr
    [ref] = list_runs(runs_folder(whole))
    expected = read_metrics(ref.path)
    assert ref.state == "finished" and len(expected) == EPOCHS

    cut = dropout_project(tmp_path / "b")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "dpg_blocks", "train", str(cut), "-q"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    run_dir = None
    while time.monotonic() < deadline and proc.poll() is None:
        runs = list_runs(runs_folder(cut))
        if runs and len(read_metrics(runs[0].path)) >= 2:
            run_dir = runs[0].path
            break
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert run_dir is not None, "training ended before epoch 2 was seen"
    killed = list_runs(runs_folder(cut))[0]
    assert killed.state == "stopped" and killed.epochs_done < EPOCHS  # killed mid-run, seen as such

    again = cli(cut, "--resume", "last")
    assert again.returncode == 0, again.stderr
    assert "continuing run" in again.stderr
    [run] = list_runs(runs_folder(cut))
    got = read_metrics(run.path)
    assert run.state == "finished" and run.epochs_done == EPOCHS and run.id == killed.id
    assert [r["epoch"] for r in got] == list(range(1, EPOCHS + 1))
    assert losses(got) == losses(expected)  # == on floats: bit for bit
    assert got[-1]["confusion_matrix"] == expected[-1]["confusion_matrix"]


def test_resume_refuses_a_changed_project_and_init_from_loads_weights(tmp_path: Path) -> None:
    path = dropout_project(tmp_path)
    first = cli(path, "--epochs", "1", "--run-name", "first")
    assert first.returncode == 0, first.stderr
    doc = json.loads(path.read_text())
    changed = copy.deepcopy(doc)
    changed["orders"][0]["optimizer"]["lr"] = 0.01
    path.write_text(json.dumps(changed))
    refused = cli(path, "--resume", "last")
    assert refused.returncode == 1
    assert "learning rate of order 1: 0.003 → 0.01" in refused.stderr.replace("\n", " ")

    more = copy.deepcopy(doc)
    more["training"]["epochs"] = EPOCHS + 1  # more epochs is no change a resume refuses
    path.write_text(json.dumps(more))
    grown = cli(path, "--resume", "last", "--epochs", "2")
    assert grown.returncode == 0, grown.stderr
    assert list_runs(runs_folder(path))[0].epochs_done == 2

    path.write_text(json.dumps(changed))
    init = cli(path, "--init-from", "last", "--epochs", "1", "--run-name", "from first")
    assert init.returncode == 0, init.stderr
    runs = list_runs(runs_folder(path))
    assert [r.name for r in runs] == ["first", "from first"]
    assert runs[1].init_from == f"{runs[0].id}:best" and runs[1].changes == ["learning rate of order 1: 0.003 → 0.01"]
    # the loaded weights start far better than a fresh start's first epoch
    assert runs[1].final["val_loss/order_1"] < read_metrics(runs[0].path)[0]["val_loss/order_1"]

    bigger = copy.deepcopy(changed)
    next(b for b in bigger["graph"]["blocks"] if b["name"] == "FC2")["params"]["out_features"] = 24
    path.write_text(json.dumps(bigger))
    mismatch = cli(path, "--init-from", runs[0].id, "--epochs", "1")
    assert mismatch.returncode == 1
    assert "do not fit this model" in mismatch.stderr and "FC2" in mismatch.stderr.replace("\n", "")


def test_a_runs_folder_that_cannot_be_written_warns_once_and_training_goes_on(tmp_path: Path) -> None:
    path = dropout_project(tmp_path)
    runs_folder(path).write_text("a file where the runs folder would be")  # no folder can be made there
    done = cli(path, "--epochs", "2", "--metrics-out", tmp_path / "m.jsonl")
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("runs are not being kept") == 1
    assert len((tmp_path / "m.jsonl").read_text().splitlines()) == 2


def test_the_engine_keeps_an_editor_train_in_a_run_folder_and_continues_it(tmp_path: Path) -> None:
    from dpg_blocks import protocol as m
    from dpg_blocks.client.engine_client import EngineClient

    def wait(client: EngineClient, pred, timeout: float = 120) -> list:
        seen: list = []
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            seen += client.poll(5.0)
            if any(pred(e) for e in seen):
                return seen
            time.sleep(0.005)
        raise AssertionError(f"no matching event in {timeout} s: {[type(e).__name__ for e in seen][-10:]}")

    path = dropout_project(tmp_path)
    doc = json.loads(path.read_text())
    client = EngineClient(threads=1)
    client.start()
    try:
        wait(client, lambda e: isinstance(e, m.Ready))
        finished = lambda rid: lambda e: isinstance(e, m.TrainingState) and e.state == "finished" and e.request_id == rid  # noqa: E731
        rid = client.request_id()
        client.send(m.Train(project=doc, project_dir=str(tmp_path), request_id=rid, epochs=2,
                            project_path=str(path), run_name="from the editor"))
        seen = wait(client, finished(rid))
        [started] = [e for e in seen if isinstance(e, m.RunStarted)]
        [run] = list_runs(runs_folder(path))
        assert (started.run_id, Path(started.path), started.resumed) == (run.id, run.path, False)
        assert (run.name, run.state, run.epochs_done) == ("from the editor", "finished", 2)
        assert (run.path / "last.pt").is_file() and (run.path / "best.pt").is_file()
        epochs = [e.metrics for e in seen if isinstance(e, m.EpochMetrics)]
        assert losses(read_metrics(run.path)) == losses(epochs)

        rid = client.request_id()
        client.send(m.Train(project=doc, project_dir=str(tmp_path), request_id=rid, epochs=3,
                            project_path=str(path), resume=str(run.path)))
        seen = wait(client, finished(rid))
        [again] = [e for e in seen if isinstance(e, m.RunStarted)]
        assert again.resumed and again.run_id == run.id
        assert [e.epoch for e in seen if isinstance(e, m.EpochMetrics)] == [3]
        assert [r["epoch"] for r in read_metrics(run.path)] == [1, 2, 3]

        # Evaluate a kept checkpoint (the Runs tab's Evaluate): the run's own project, its best
        # weights, the test split: the same figures as that epoch had; a bad file is named
        run = read_run(run.path)
        snapshot = json.loads((run.path / "project.dpgb").read_text())
        rid = client.request_id()
        client.send(m.Evaluate(split="test", request_id=rid, checkpoint=str(run.best_checkpoint), project=snapshot,
                               project_dir=str(tmp_path)))
        seen = wait(client, lambda e: isinstance(e, m.EvaluationResult) and e.request_id == rid)
        [result] = [e for e in seen if isinstance(e, m.EvaluationResult)]
        best = next(r for r in read_metrics(run.path) if r["epoch"] == run.best["epoch"])
        assert result.metrics["confusion_matrix"] == best["confusion_matrix"]
        assert result.metrics["test_accuracy"] == best["test_accuracy"]
        rid = client.request_id()
        bogus = tmp_path / "not_a_checkpoint.pt"
        bogus.write_bytes(b"nonsense")
        client.send(m.Evaluate(split="test", request_id=rid, checkpoint=str(bogus), project=snapshot,
                               project_dir=str(tmp_path)))
        seen = wait(client, lambda e: isinstance(e, m.Error) and e.request_id == rid)
        [error] = [e for e in seen if isinstance(e, m.Error) and e.request_id == rid]
        assert str(bogus) in error.message and error.where.startswith("evaluate")
    finally:
        client.shutdown()


def test_a_session_whose_run_cannot_be_kept_warns_once_and_trains(tmp_path: Path) -> None:
    from dpg_blocks import protocol as m
    from dpg_blocks.core import load_project
    from dpg_blocks.engine.packs.registry import discover
    from dpg_blocks.engine.training.session import RunRequest, TrainingSession

    path = dropout_project(tmp_path)
    runs_folder(path).write_text("not a folder")
    events: list = []
    session = TrainingSession(events.append, lambda f: None, load_project(path), discover([]), str(tmp_path), 1,
                              epochs=2, run=RunRequest(project_path=str(path)))
    session.set_state("running")
    while session.running:
        session.advance(1.0)
    warnings = [e.text for e in events if isinstance(e, m.Log) and e.level == "warning"]
    assert len(warnings) == 1 and "runs are not being kept" in warnings[0]
    assert session.state == "finished" and not any(isinstance(e, m.RunStarted) for e in events)
    assert [e.epoch for e in events if isinstance(e, m.EpochMetrics)] == [1, 2]
