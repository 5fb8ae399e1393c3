"""A run's optimizers and schedulers from an order's settings (checked first, so a typo is named),
and the seeds and RNG state that make a run, and its resume, exact."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import torch
from torch import nn

from dpg_blocks.core.project import OptimizerSettings


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's global random streams."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


MAX_RATE = 1e6  # a learning rate, decay or momentum beyond this is a typo, not a setting


def check_optimizer_settings(settings: OptimizerSettings, where: str) -> None:
    """Refuse settings no optimizer can use (``lr: 1e308``, NaN, negative), naming ``where``."""
    def number(name: str, value: Any, low: float, high: float, low_ok: bool = True) -> None:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        ok = ok and (value >= low if low_ok else value > low) and value <= high
        if not ok:
            bound = "at least" if low_ok else "more than"
            raise ValueError(f"{where}: the optimizer's {name} is {value!r}; use a number {bound} {low:g} "
                             f"and at most {high:g}")

    number("learning rate (lr)", settings.lr, 0.0, MAX_RATE)
    number("momentum", settings.momentum, 0.0, MAX_RATE)
    number("weight decay", settings.weight_decay, 0.0, MAX_RATE)
    if settings.scheduler.lower() in ("step", "exponential"):
        number("scheduler gamma", settings.gamma, 0.0, MAX_RATE, low_ok=False)
    if settings.scheduler.lower() == "step":
        number("scheduler step size", settings.step_size, 1, 1e9)


def make_optimizer(settings: OptimizerSettings, params: list[nn.Parameter]) -> torch.optim.Optimizer:
    kind = settings.type.lower()
    if kind == "sgd":
        return torch.optim.SGD(params, lr=settings.lr, momentum=settings.momentum, weight_decay=settings.weight_decay)
    if kind == "adam":
        return torch.optim.Adam(params, lr=settings.lr, weight_decay=settings.weight_decay)
    if kind == "adamw":
        return torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)
    raise ValueError(f"unknown optimizer {settings.type!r} (choose sgd, adam or adamw)")


def make_scheduler(settings: OptimizerSettings, opt: torch.optim.Optimizer, epochs: int) -> Any:
    kind = settings.scheduler.lower()
    if kind == "none":
        return None
    if kind == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=settings.step_size, gamma=settings.gamma)
    if kind == "exponential":
        return torch.optim.lr_scheduler.ExponentialLR(opt, gamma=settings.gamma)
    if kind == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs))
    raise ValueError(f"unknown scheduler {settings.scheduler!r}")


def rng_state() -> dict[str, Any]:
    """Every random stream training draws from, in a form ``torch.load(weights_only=True)`` reads."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": [version, list(internal), gauss],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` saved."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
