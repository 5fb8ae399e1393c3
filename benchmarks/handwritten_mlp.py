"""John's digits MLP written by hand in plain PyTorch: the reference the compiled graph is
measured and checked against (benchmarks/train_overhead.py, tests/test_equivalence.py)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class HandwrittenMLP(nn.Module):
    """Flatten, then FC1-FC4 with ReLU, then FC5 (logits), as in mlp_digits.dpgb."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(64, 128)
        self.fc2 = nn.Linear(128, 128)
        self.fc3 = nn.Linear(128, 64)
        self.fc4 = nn.Linear(64, 64)
        self.fc5 = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.relu(self.fc2(x))
        x = F.relu(self.fc3(x))
        x = F.relu(self.fc4(x))
        return self.fc5(x)

    @property
    def fcs(self) -> list[nn.Linear]:
        return [self.fc1, self.fc2, self.fc3, self.fc4, self.fc5]


def copy_weights_from(hand: HandwrittenMLP, compiled_linears: list[nn.Module]) -> None:
    """Copy the compiled blocks' Linear weights (in graph order) into ``hand``."""
    linears = [m for block in compiled_linears for m in block.modules() if isinstance(m, nn.Linear)]
    if len(linears) != len(hand.fcs):
        raise ValueError(f"expected {len(hand.fcs)} Linear layers in the graph, found {len(linears)}")
    with torch.no_grad():
        for dst, src in zip(hand.fcs, linears, strict=True):
            dst.weight.copy_(src.weight)
            dst.bias.copy_(src.bias)
