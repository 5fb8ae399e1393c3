"""John's digits MLP written by hand in plain PyTorch: the reference the compiled graph is
measured and checked against (benchmarks/train_overhead.py, tests/test_equivalence.py)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class HandwrittenMLP(nn.Module):
    """Flatten, then FC1-FC4 with ReLU, then FC5 (logits), as in mlp_digits.dpgb."""

    def __init__(self, sizes: tuple[int, ...] = (64, 128, 128, 64, 64, 10)) -> None:
        super().__init__()
        self.fcs = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        for fc in self.fcs[:-1]:
            x = F.relu(fc(x))
        return self.fcs[-1](x)


def copy_weights_from(hand: HandwrittenMLP, compiled_linears: list[nn.Module]) -> None:
    """Copy the compiled blocks' Linear weights (in graph order) into ``hand``."""
    linears = [m for block in compiled_linears for m in block.modules() if isinstance(m, nn.Linear)]
    if len(linears) != len(hand.fcs):
        raise ValueError(f"expected {len(hand.fcs)} Linear layers in the graph, found {len(linears)}")
    with torch.no_grad():
        for dst, src in zip(hand.fcs, linears, strict=True):
            dst.weight.copy_(src.weight)
            dst.bias.copy_(src.bias)
