"""Choosing the torch device: CUDA when present, else CPU, unless the user names one."""

from __future__ import annotations

import torch


def resolve_device(name: str | None) -> torch.device:
    """``"auto"``/None -> cuda if available else cpu; otherwise the named device, checked."""
    wanted = (name or "auto").strip().lower()
    if wanted == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(wanted)
    except RuntimeError as e:
        raise ValueError(f"unknown device {name!r}: {e}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} was asked for, but CUDA is not available on this machine")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {name!r} was asked for, but MPS is not available on this machine")
    return device
