"""Mixed precision (``train --amp bf16|fp16``): autocast around the forwards, a grad scaler for fp16.

bf16 keeps float32's exponent range, so its gradients need no scaling and it runs on the CPU as
on recent GPUs. fp16's narrow range needs a :class:`torch.amp.GradScaler` (one per order: each
order's loss has its own scale) and is refused off CUDA, where it is slower, not faster.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

MODES = ("off", "bf16", "fp16")


class Precision:
    """How a trainer's forwards and optimizer steps run: float32 (``off``), bf16 or fp16."""

    def __init__(self, mode: str | None, device: torch.device, orders: list[int]) -> None:
        self.mode = (mode or "off").lower()
        if self.mode not in MODES:
            raise ValueError(f"--amp {mode!r}: choose one of {', '.join(MODES)}")
        self.device = device
        if self.mode == "fp16" and device.type != "cuda":
            raise ValueError(f"--amp fp16 needs a CUDA device (training runs on {device}); on the CPU use --amp bf16")
        if self.mode == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise ValueError(f"--amp bf16: {torch.cuda.get_device_name(device)} has no bfloat16; use --amp fp16")
        self.scalers = {k: torch.amp.GradScaler("cuda") for k in orders} if self.mode == "fp16" else {}

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """The context the forwards run in (nothing when the precision is float32)."""
        if self.mode == "off":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.mode == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def step(self, index: int, opt: torch.optim.Optimizer, total: torch.Tensor) -> None:
        """Backward ``total`` and step ``opt`` (through order ``index``'s scaler under fp16: a step
        whose gradients overflowed is skipped and the scale lowered)."""
        scaler = self.scalers.get(index)
        if scaler is None:
            total.backward()
            opt.step()
            return
        scaler.scale(total).backward()
        scaler.step(opt)
        scaler.update()

    def state_dict(self) -> dict[int, Any]:
        """The scalers' states, for an exact resume."""
        return {k: s.state_dict() for k, s in self.scalers.items()}

    def load_state_dict(self, state: dict[Any, Any]) -> None:
        for k, s in state.items():
            if int(k) in self.scalers:
                self.scalers[int(k)].load_state_dict(s)
