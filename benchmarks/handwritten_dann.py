"""The DANN of assets/examples/dann_digits.dpgb written by hand in plain PyTorch.

Ganin & Lempitsky (2015): a shared feature extractor, a label classifier trained on the source
rows, and a domain classifier behind a gradient-reversal layer. This is the reference that
``benchmarks/dann_reference.py`` and ``tests/test_dann_equivalence.py`` check the compiled
graph against; :func:`copy_weights_from` gives it the compiled model's initial weights.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F


class GradReverse(torch.autograd.Function):
    """Identity forward; the gradient times ``-scale`` backward."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.scale * grad, None


def _mlp(sizes: list[int]) -> nn.ModuleList:
    return nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:], strict=False))


def _run_mlp(layers: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
    x = x.flatten(1)
    for i, fc in enumerate(layers):
        x = fc(x)
        if i < len(layers) - 1:
            x = F.relu(x)
    return x


class HandwrittenDANN(nn.Module):
    """Three convs (16, 32 stride 2, 32; ReLU) -> label head 512-64-64-10 and, behind a
    gradient reversal, domain head 512-64-64-1."""

    def __init__(self, grl_scale: float = 1.0) -> None:
        super().__init__()
        self.convs = nn.ModuleList([
            nn.Conv2d(1, 16, 3, 1, 1), nn.Conv2d(16, 32, 3, 2, 1), nn.Conv2d(32, 32, 3, 1, 1),
        ])  # fmt: skip
        self.label_head = _mlp([512, 64, 64, 10])
        self.domain_head = _mlp([512, 64, 64, 1])
        self.grl_scale = grl_scale

    def features(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = F.relu(conv(x))
        return x

    def forward(self, xs: torch.Tensor, xt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Class scores of the source rows, of the target rows, and domain logits of all rows."""
        f = self.features(torch.cat([xs, xt], 0))
        scores = _run_mlp(self.label_head, f)
        domain = _run_mlp(self.domain_head, GradReverse.apply(f, self.grl_scale))
        return scores[: xs.shape[0]], scores[xs.shape[0] :], domain

    def dann_loss(self, xs: torch.Tensor, ys: torch.Tensor, xt: torch.Tensor) -> torch.Tensor:
        """Label cross-entropy on the source rows plus domain BCE (source 0, target 1) on all rows."""
        source_scores, _, domain = self(xs, xt)
        labels = torch.cat([torch.zeros(xs.shape[0]), torch.ones(xt.shape[0])]).reshape(domain.shape)
        return F.cross_entropy(source_scores, ys) + F.binary_cross_entropy_with_logits(domain, labels)

    def source_only_loss(self, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        """The same network trained on the source alone: label cross-entropy, no domain branch."""
        return F.cross_entropy(_run_mlp(self.label_head, self.features(xs)), ys)

    @torch.no_grad()
    def accuracy(self, batches: Iterator[tuple[torch.Tensor, torch.Tensor]]) -> float:
        correct = total = 0
        for x, y in batches:
            correct += int((_run_mlp(self.label_head, self.features(x)).argmax(1) == y).sum())
            total += y.shape[0]
        return correct / total


def copy_weights_from(hand: HandwrittenDANN, modules_by_name: dict[str, nn.Module]) -> None:
    """Copy the compiled blocks' weights (conv1-3, fc1-3, d_fc1-3 by block name) into ``hand``."""
    pairs = [(hand.convs[i], f"conv{i + 1}") for i in range(3)]
    pairs += [(hand.label_head[i], f"fc{i + 1}") for i in range(3)]
    pairs += [(hand.domain_head[i], f"d_fc{i + 1}") for i in range(3)]
    with torch.no_grad():
        for dst, name in pairs:
            src = modules_by_name[name]
            dst.weight.copy_(src.weight)
            dst.bias.copy_(src.bias)
