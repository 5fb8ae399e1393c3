"""Where a training run stands, as the editor and the CLI both write it:
``epoch 2/10 · batch 17/56 · 850 samples/s · ETA 1:20 (epoch 0:09)`` (torch-free, from StepMetrics' fields)."""

from __future__ import annotations


def duration(seconds: float) -> str:
    """``0:07``, ``1:20``, ``1:02:03``; ``?`` when unknown (negative)."""
    if seconds < 0:
        return "?"
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    minutes, sec = divmod(rest, 60)
    return f"{h}:{minutes:02d}:{sec:02d}" if h else f"{minutes}:{sec:02d}"


def rate_text(samples_per_s: float) -> str:
    """``850 samples/s`` (``… samples/s`` before the first measurement)."""
    if samples_per_s <= 0:
        return "… samples/s"
    return f"{samples_per_s:.0f} samples/s" if samples_per_s >= 10 else f"{samples_per_s:.1f} samples/s"


def progress_text(epoch: int, epochs: int, step: int, steps: int, samples_per_s: float,
                  eta_epoch_s: float, eta_run_s: float) -> str:
    """The whole line; ETA is the run's (this epoch and the next ones), then this epoch's."""
    return (f"epoch {epoch}/{epochs} · batch {step}/{steps} · {rate_text(samples_per_s)} · "
            f"ETA {duration(eta_run_s)} (epoch {duration(eta_epoch_s)})")
