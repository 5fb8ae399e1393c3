"""Torch modules of the extra_activations pack (imported only inside build())."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Swish(nn.Module):
    def __init__(self, beta: float) -> None:
        super().__init__()
        self.beta = beta

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(self.beta * x)

    def extra_repr(self) -> str:
        return f"beta={self.beta}"
