"""Scale-out: `torchrun --nproc-per-node 2 -m dpg_blocks train` (gloo, CPU) trains as one process does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from engine_fixtures import builder, registry, write_npz
from test_resume import EPOCHS, dropout_project, losses

from dpg_blocks.core import load_project
from dpg_blocks.core.runs.folders import list_runs, read_metrics, runs_folder
from dpg_blocks.engine.training.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "assets" / "examples"
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}  # 2 ranks on 2 cores


def train_argv(project: Path, *args: str | Path, procs: int = 0) -> list[str]:
    """`dpg-blocks train` (procs 0) or the same under torchrun with ``procs`` processes."""
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(procs)] \
        if procs else [sys.executable]
    device = [] if "--device" in args else ["--device", "cpu"]
    return [*launch, "-m", "dpg_blocks", "train", str(project), "-q", *device, *map(str, args)]


def train(project: Path, *args: str | Path, procs: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(train_argv(project, *args, procs=procs), capture_output=True, text=True, env=ENV,
                          timeout=300)
    return done


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def copy_example(name: str, folder: Path, **input_params: object) -> Path:
    doc = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    for block in doc["graph"]["blocks"]:
        if block["type"] == "builtin.Input":
            if block["params"].get("path"):
                block["params"]["path"] = str((EXAMPLES / block["params"]["path"]).resolve())
            block["params"].update(input_params)
    path = folder / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def weights_after(project: Path, folder: Path, procs: int, *args: str) -> dict[str, torch.Tensor]:
    done = train(project, "--no-run", "--checkpoint-dir", folder, *args, procs=procs)
    assert done.returncode == 0, done.stderr
    return torch.load(folder / "last.pt", weights_only=True)["model"]


def one_process(project: Path, epochs: int, metrics: list[dict] | None = None) -> dict[str, torch.Tensor]:
    """The single-process reference, trained here (what `dpg-blocks train` runs, without a process
    start: tests/test_cli.py checks that path)."""
    trainer = Trainer(load_project(project), registry(), project.parent, device="cpu")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each rank runs
    try:
        for m in trainer.fit(epochs):
            if metrics is not None:
                metrics.append(json.loads(json.dumps(m)))
    finally:
        torch.set_num_threads(threads)
    return trainer.model.state_dict()


def assert_close(one: dict[str, torch.Tensor], two: dict[str, torch.Tensor], within: float) -> None:
    assert one.keys() == two.keys()
    worst = max((one[k] - two[k]).abs().max().item() for k in one)
    assert worst <= within, f"the weights differ by up to {worst}"
    assert any((one[k] != 0).any() for k in one)


def test_two_processes_train_mlp_digits_to_the_weights_of_one(tmp_path: Path) -> None:
    # one sample more in training (10.05 % validation): 1257 samples, so each epoch ends with a
    # batch of 9 that does not split over 2 ranks (it runs whole on both), besides 39 that do
    project = copy_example("mlp_digits.dpgb", tmp_path, val_percent=10.05)
    first: list[dict] = []
    one = one_process(project, 2, first)
    two = weights_after(project, tmp_path / "two", 2, "--epochs", "2", "--metrics-out", str(tmp_path / "two.jsonl"))
    assert_close(one, two, 1e-5)
    both = [json.loads(line) for line in (tmp_path / "two.jsonl").read_text().splitlines()]  # rank 0's alone
    assert len(both) == 2
    for a, b in zip(first, both, strict=True):  # metrics reduced over the ranks: counts summed
        assert a["train_accuracy"] == b["train_accuracy"] and a["test_accuracy"] == b["test_accuracy"]
        assert a["confusion_matrix"] == b["confusion_matrix"] and a["misclassified"] == b["misclassified"]
        assert abs(a["loss"] - b["loss"]) < 1e-5 and abs(a["val_loss/order_1"] - b["val_loss/order_1"]) < 1e-5
    assert sum(map(sum, both[-1]["confusion_matrix"])) == 359  # every test sample, once


def test_two_processes_train_the_gan_with_each_orders_optimizer(tmp_path: Path) -> None:
    # two orders, each stepping its own blocks: the generator is live but not optimised in the
    # discriminator's order (and the other way round), so each order's DDP reduces only its own
    project = copy_example("gan_digits.dpgb", tmp_path)
    one = one_process(project, 1)
    two = weights_after(project, tmp_path / "two", 2, "--epochs", "1")
    assert_close(one, two, 1e-5)


def test_a_batch_that_does_not_split_over_the_processes_is_refused(tmp_path: Path) -> None:
    project = copy_example("mlp_digits.dpgb", tmp_path)
    done = train(project, "--no-run", "--epochs", "1", "--batch-size", "33", procs=2)
    assert done.returncode == 1
    text = done.stderr.replace("\n", " ")
    assert "the batch size 33 does not divide by the 2 processes" in text
    assert text.count("cannot train") == 1  # rank 0 alone says so
    assert not runs_folder(project).exists() or not list_runs(runs_folder(project))


def test_kill_a_two_process_run_after_epoch_2_then_resume_it_exactly(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    whole = dropout_project(tmp_path / "a")  # Dropout: the random streams must resume too
    done = train(whole, "--run-name", "whole", procs=2)
    assert done.returncode == 0, done.stderr
    [ref] = list_runs(runs_folder(whole))
    expected = read_metrics(ref.path)
    assert len(expected) == EPOCHS

    cut = dropout_project(tmp_path / "b")
    group = subprocess.Popen(train_argv(cut, procs=2), env=ENV, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 240
    seen = False
    while time.monotonic() < deadline and group.poll() is None:
        runs = list_runs(runs_folder(cut))
        if runs and len(read_metrics(runs[0].path)) >= 2:
            seen = True
            break
        time.sleep(0.005)
    ranks = children(group.pid)  # torchrun starts each rank in a session of its own
    for pid in ranks:
        os.kill(pid, signal.SIGKILL)  # both ranks at once, as a preemption does
    group.wait()  # torchrun reaps the ranks and gives up (no restarts asked for)
    assert seen, "training ended before epoch 2 was seen"
    assert len(ranks) == 2
    killed = list_runs(runs_folder(cut))[0]
    assert killed.state == "stopped" and killed.epochs_done < EPOCHS  # killed mid-run, seen as such

    again = train(cut, "--resume", "last", procs=2)
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("continuing run") == 1
    [run] = list_runs(runs_folder(cut))
    got = read_metrics(run.path)
    assert run.state == "finished" and run.id == killed.id
    assert [r["epoch"] for r in got] == list(range(1, EPOCHS + 1))
    for a, b in zip(losses(got)[2:], losses(expected)[2:], strict=True):  # epochs 3–5
        assert a[0] == b[0] and all(abs(x - y) <= 1e-6 for x, y in zip(a[1:], b[1:], strict=True)), (a, b)
    assert got[-1]["confusion_matrix"] == expected[-1]["confusion_matrix"]


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA devices")
def test_two_gpus_train_with_nccl_to_the_weights_of_one(tmp_path: Path) -> None:
    project = copy_example("mlp_digits.dpgb", tmp_path, val_percent=10.05)
    one = weights_after(project, tmp_path / "one", 0, "--epochs", "2", "--device", "cuda")
    two = weights_after(project, tmp_path / "two", 2, "--epochs", "2", "--device", "cuda")
    assert_close(one, two, 1e-4)  # cuBLAS sums in its own order: a little more room than on the CPU


def test_torchrun_is_recognised_by_its_variables_and_bad_ones_are_named() -> None:
    from dpg_blocks.engine.training.distributed import World, world_from_env

    assert world_from_env({}) is None  # a plain `dpg-blocks train`
    assert world_from_env({"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == World(1, 4, 1)
    with pytest.raises(ValueError, match="RANK='one'"):
        world_from_env({"RANK": "one", "WORLD_SIZE": "4", "LOCAL_RANK": "1"})
    with pytest.raises(ValueError, match="RANK=4, WORLD_SIZE=4"):
        world_from_env({"RANK": "4", "WORLD_SIZE": "4", "LOCAL_RANK": "0"})


@pytest.fixture
def one_rank_group(tmp_path: Path):  # noqa: ANN201 - a gloo group of this process alone
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


def reduced(trainer: Trainer, order: int) -> set[str]:
    """The blocks (top-level module names) whose parameters order ``order``'s DDP wrapper reduces."""
    wrapper = trainer.shards.wrappers[order]
    assert not wrapper.find_unused_parameters  # the probe found them: no graph walk every step
    return {name.split(".")[1] for name, _ in wrapper.module.named_parameters()
            if name not in wrapper.parameters_to_ignore}


def test_each_order_reduces_only_the_parameters_its_optimizer_steps_and_its_loss_reaches(
        tmp_path: Path, one_rank_group: None) -> None:
    from dpg_blocks.engine.training.distributed import World

    gan = Trainer(load_project(copy_example("gan_digits.dpgb", tmp_path)), registry(), tmp_path, device="cpu",
                  world=World(0, 1, 0))
    assert reduced(gan, 1) == {"Discriminator"} and reduced(gan, 2) == {"Generator"}

    # a block live in the order and in its optimizer, but no loss reaches it: left out, and
    # training steps through DDP without "expected to have finished reduction" errors
    write_npz(tmp_path / "d.npz", n=96)
    b = builder("side branch")
    data = b.add("builtin.Input", "data", source="npz", path="d.npz", batch_size=16)
    fc = b.add("builtin.Linear", "fc", out_features=3)
    side = b.add("builtin.Linear", "side", out_features=3)
    out = b.add("builtin.Output", "side output")
    loss = b.add("builtin.CrossEntropyLoss", "loss")
    b.chain((data, "x", ""), (fc, "y", "x"), (loss, "", "input"))
    b.link(data, "x", side, "x")
    b.link(side, "y", out, "x")
    trainer = Trainer(b.project, registry(), tmp_path, device="cpu", world=World(0, 1, 0))
    assert reduced(trainer, 1) == {"fc"}
    weights = {nid: trainer.model.block_modules[nid].weight.detach().clone() for nid in (fc, side)}
    assert len(list(trainer.fit(2))) == 2
    assert not torch.equal(trainer.model.block_modules[fc].weight, weights[fc])  # trained through DDP
    assert torch.equal(trainer.model.block_modules[side].weight, weights[side])  # no gradient, no step
