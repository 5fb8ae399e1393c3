"""Mixed precision (`train --amp`): bf16 autocast anywhere, fp16 with a grad scaler on CUDA only."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from engine_fixtures import builder, registry, write_npz

from dpg_blocks.core import OptimizerSettings, Order
from dpg_blocks.engine.training.trainer import Trainer


def _project(folder: Path, device: str = "cpu"):
    write_npz(folder / "d.npz", n=96)
    b = builder("small")
    data = b.add("builtin.Input", "data", source="npz", path="d.npz", batch_size=16, test_percent=25, val_percent=10)
    fc1 = b.add("builtin.Linear", "fc1", out_features=16, activation="relu")
    fc2 = b.add("builtin.Linear", "fc2", out_features=3)
    loss = b.add("builtin.CrossEntropyLoss", "loss")
    b.chain((data, "x", ""), (fc1, "y", "x"), (fc2, "y", "x"), (loss, "", "input"))
    b.project.orders = [Order(1, "main", OptimizerSettings(type="adam", lr=0.01))]
    b.project.training.device = device
    return b.project


def _dtypes_seen(trainer: Trainer) -> set[torch.dtype]:
    seen: set[torch.dtype] = set()
    for module in trainer.model.block_modules.values():
        module.register_forward_hook(lambda _m, _i, out: seen.add(out.dtype) if isinstance(out, torch.Tensor) else None)
    return seen


def test_bf16_trains_in_bfloat16_on_the_cpu_and_float32_stays_the_default(tmp_path: Path) -> None:
    project = _project(tmp_path)
    plain = Trainer(project, registry(), tmp_path, seed=1)
    plain_seen = _dtypes_seen(plain)
    fp32 = [m["loss"] for m in plain.fit(3)]
    amp = Trainer(project, registry(), tmp_path, seed=1, amp="bf16")
    amp_seen = _dtypes_seen(amp)
    bf16 = [m["loss"] for m in amp.fit(3)]
    assert plain_seen == {torch.float32}
    assert torch.bfloat16 in amp_seen  # the Linear layers ran under autocast
    assert all(math.isfinite(v) for v in bf16) and bf16[-1] < bf16[0]  # and it learns
    assert bf16 != fp32  # in another precision
    assert all(p.dtype == torch.float32 for p in amp.model.parameters())  # the weights stay float32


def test_fp16_off_cuda_and_an_unknown_mode_are_refused_by_name(tmp_path: Path) -> None:
    project = _project(tmp_path)
    with pytest.raises(ValueError, match="--amp fp16 needs a CUDA device .* use --amp bf16"):
        Trainer(project, registry(), tmp_path, amp="fp16")
    with pytest.raises(ValueError, match="--amp 'fp8': choose one of off, bf16, fp16"):
        Trainer(project, registry(), tmp_path, amp="fp8")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fp16_on_cuda_scales_the_loss_and_resumes_the_scale(tmp_path: Path) -> None:
    project = _project(tmp_path, device="cuda")
    trainer = Trainer(project, registry(), tmp_path, seed=1, amp="fp16")
    losses = [m["loss"] for m in trainer.fit(3)]
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
    scale = trainer.precision.scalers[1].get_scale()
    path = trainer.save_checkpoint(tmp_path / "ckpt")
    again = Trainer(project, registry(), tmp_path, seed=1, amp="fp16")
    again.load_checkpoint(path)
    assert again.precision.scalers[1].get_scale() == scale
