"""Scale-out throughput: training samples/s with 1 and 2 processes (torchrun, gloo, CPU).

Two projects: the DANN example (two inputs, one order, a gradient-reversal Custom block) and a
larger CNN on the digits made with ProjectBuilder (four 3×3 convolutions, 64–128 channels). Each
is trained by ``dpg-blocks train`` (1 process) and by ``torchrun --nproc-per-node 2 -m dpg_blocks
train`` with the same global batch; every process gets one thread (``OMP_NUM_THREADS=1``), so 2
processes use 2 cores where 1 uses one. Throughput = training samples of an epoch / the epoch's
``time_s`` (its evaluation of val and test included, which is sharded too), median over the
epochs after the first. Prints one line per case (DANN as shipped, DANN with a global batch of
256, the CNN) and, last, ``ratio=<2-proc/1-proc>`` (the geometric mean over the cases) with the
machine's core count and load average (other jobs share the cores: say so beside the figures).

Run: .venv/bin/python benchmarks/ddp_scaling.py [--epochs N]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cnn_project(folder: Path) -> Path:
    """A CNN on the embedded digits, ~10× the DANN example's work a sample."""
    from dpg_blocks.blocks.builder import ProjectBuilder
    from dpg_blocks.core import save_project
    from dpg_blocks.engine.packs.registry import discover

    b = ProjectBuilder(discover(defaults=False).specs, "digits CNN")
    prev = b.add("builtin.Input", "digits", reshape=[1, 8, 8], batch_size=64)
    port = "x"
    for i, channels in enumerate((64, 64, 128, 128)):
        conv = b.add("builtin.Conv2d", f"conv{i}", out_channels=channels, kernel_size=3, padding=1)
        act = b.add("builtin.ReLU", f"relu{i}")
        b.chain((prev, port, "x"), (conv, "y", "x"))
        b.link(conv, "y", act, "x")
        prev, port = act, "y"
        if i == 1:
            pool = b.add("builtin.MaxPool2d", "pool")
            b.link(prev, port, pool, "x")
            prev, port = pool, "y"
    head = b.add("builtin.Linear", "classes", out_features=10, flatten_input=True)
    loss = b.add("builtin.CrossEntropyLoss", "loss")
    b.link(prev, port, head, "x")
    b.link(head, "y", loss, "input")
    b.project.training.epochs = 5
    b.project.training.device = "cpu"
    path = folder / "cnn.dpgb"
    save_project(b.project, path)
    return path


def dann_project(folder: Path) -> Path:
    doc = json.loads((ROOT / "assets" / "examples" / "dann_digits.dpgb").read_text(encoding="utf-8"))
    for block in doc["graph"]["blocks"]:
        if block["type"] == "builtin.Input" and block["params"].get("path"):
            block["params"]["path"] = str((ROOT / "assets" / "examples" / block["params"]["path"]).resolve())
    path = folder / "dann.dpgb"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def throughput(project: Path, procs: int, epochs: int, samples: int, out: Path, batch: int | None) -> float:
    """Training samples/s of ``project`` on ``procs`` processes (median over epochs 2…)."""
    metrics = out / f"{project.stem}_{batch}_{procs}.jsonl"
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(procs)] \
        if procs > 1 else [sys.executable]
    argv = [*launch, "-m", "dpg_blocks", "train", str(project), "-q", "--no-run", "--device", "cpu", "--trust",
            "--epochs", str(epochs), "--metrics-out", str(metrics), *(["--batch-size", str(batch)] if batch else [])]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=1800)
    if done.returncode:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr}")
    times = [json.loads(line)["time_s"] for line in metrics.read_text().splitlines()][1:]
    return samples / statistics.median(times)


def train_samples(project: Path, batch: int | None) -> int:
    """Samples one training epoch sees (the largest input's split; smaller inputs cycle), per order."""
    from dpg_blocks.cli import set_batch_size
    from dpg_blocks.core import load_project
    from dpg_blocks.engine.packs.registry import discover
    from dpg_blocks.engine.training.trainer import Trainer

    loaded = load_project(project)
    if batch:
        set_batch_size(loaded, batch)
    trainer = Trainer(loaded, discover(defaults=False), project.parent, device="cpu", trusted=True)
    steps = trainer.steps_per_epoch()
    return sum(int(x.shape[0]) for ids in trainer.model.input_ids.values() for i in ids
               for _, (x, _y) in zip(range(steps), trainer._cycle(trainer.sources[i], "train", 0, True), strict=False))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=4, help="epochs a run (the first is not counted)")
    args = ap.parse_args()
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        dann, cnn = dann_project(folder), cnn_project(folder)
        # DANN as shipped (batch 32: a step is mostly per-op overhead, which halving the batch
        # does not halve), DANN with a global batch of 256, and the CNN (batch 64)
        for label, project, batch in (("dann", dann, None), ("dann_b256", dann, 256), ("cnn", cnn, None)):
            samples = train_samples(project, batch)
            one = throughput(project, 1, args.epochs, samples, folder, batch)
            two = throughput(project, 2, args.epochs, samples, folder, batch)
            ratios.append((label, two / one))
            print(f"{label}: 1 process {one:.0f} samples/s, 2 processes {two:.0f} samples/s "
                  f"({samples} samples an epoch, threads=1 per process)", flush=True)
    ratio = math.exp(sum(math.log(r) for _, r in ratios) / len(ratios))
    load = os.getloadavg()[0]
    print(f"cpu_count={os.cpu_count()} load={load:.1f} " + " ".join(f"ratio_{n}={r:.2f}" for n, r in ratios)
          + f" ratio={ratio:.2f}")


if __name__ == "__main__":
    main()
