"""Watched blocks (taps) during training: forward hooks only on them, capturing the tensors a
``TapSpec`` asks for on the steps that send, at the chosen rate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from dpg_blocks import protocol as m

from .trainer import Trainer


@dataclass(frozen=True)
class TapKey:
    block_id: str
    port: str
    direction: str  # "in" or "out"


class Taps:
    """Watched blocks; their tensors are captured by forward hooks on the steps that send.

    Hooks exist only during a step whose frames are due (``arm`` … ``disarm``): between frames
    the watched modules run hook-free, so tapping costs the summaries and nothing else.
    """

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.keys: list[TapKey] = []
        self.rate_hz = 0.0
        self.latest: dict[TapKey, torch.Tensor] = {}
        self._handles: list[Any] = []
        self._by_module: dict[str, list[TapKey]] = {}
        self._last_sent = 0.0

    def configure(self, taps: list[m.TapSpec], rate_hz: float) -> None:
        self.disarm()
        self.keys = [TapKey(t.block_id, t.port, t.direction) for t in taps]
        self.rate_hz = rate_hz
        self._by_module = {}
        for key in self.keys:
            if key.block_id in self.trainer.model.block_modules:
                self._by_module.setdefault(key.block_id, []).append(key)

    def arm(self) -> None:
        """Hook the watched modules for the coming step."""
        nodes = self.trainer.compiled.flat.nodes
        self.latest.clear()
        for bid, keys in self._by_module.items():
            node = nodes[bid]
            ins = [p.name for p in node.block.inputs]
            outs = [p.name for p in node.block.outputs] or [node.role or "out"]
            # A takes_signal block is called as module(order, target, *inputs) (codegen.py).
            skip = 2 if node.spec is not None and node.spec.takes_signal else 0
            hook = self._hook(keys, ins, outs, skip)
            self._handles.append(self.trainer.model.block_modules[bid].register_forward_hook(hook))

    def disarm(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _hook(self, keys: list[TapKey], ins: list[str], outs: list[str], skip: int = 0) -> Callable[..., None]:
        def hook(_module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            values = output if isinstance(output, tuple | list) else (output,)
            for key in keys:
                names, vals = (ins, args[skip:]) if key.direction == "in" else (outs, values)
                idx = names.index(key.port) if key.port in names else 0
                if idx < len(vals) and isinstance(vals[idx], torch.Tensor):
                    self.latest[key] = vals[idx].detach()

        return hook

    def observe_batch(self, index: int, batch: list[Any]) -> None:
        """Input blocks have no module: their taps read the batch itself."""
        for i, inp in enumerate(self.trainer.model.input_ids.get(index, [])):
            for port, value in (("x", batch[2 * i]), ("y", batch[2 * i + 1])):
                key = TapKey(inp, port, "out")
                if key in self.keys and isinstance(value, torch.Tensor):
                    self.latest[key] = value

    def due(self, now: float) -> bool:
        return bool(self.keys) and self.rate_hz > 0 and now - self._last_sent >= 1.0 / self.rate_hz

    def take(self, now: float) -> dict[TapKey, torch.Tensor]:
        """The tensors captured on this step (for the summariser thread)."""
        self._last_sent = now
        taken, self.latest = self.latest, {}
        return taken

    def close(self) -> None:
        self.configure([], 0.0)
        self.latest.clear()
