"""The compiled graph computes what the same model written by hand computes."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from engine_fixtures import registry

from dpg_blocks.core import load_project
from dpg_blocks.engine.training.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from handwritten_mlp import HandwrittenMLP, copy_weights_from  # noqa: E402


def test_compiled_mlp_matches_handwritten_mlp_for_20_steps():
    path = ROOT / "assets" / "examples" / "mlp_digits.dpgb"
    trainer = Trainer(load_project(path), registry(), path.parent, device="cpu")
    hand = HandwrittenMLP()
    copy_weights_from(hand, list(trainer.model.block_modules.values()))
    settings = trainer.project.orders[0].optimizer
    opt = torch.optim.Adam(hand.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    (input_id,) = trainer.model.input_ids[1]
    batches = list(trainer.sources[input_id].batches("train", epoch=0, shuffle=True, device="cpu"))
    trainer.model.train()
    for step in range(20):
        x, y = batches[step % len(batches)]
        graph_loss, _, _ = trainer.train_step(1, [x, y])
        hand_loss = torch.nn.functional.cross_entropy(hand(x), y)
        opt.zero_grad(set_to_none=True)
        hand_loss.backward()
        opt.step()
        rel = abs(graph_loss.item() - hand_loss.item()) / abs(hand_loss.item())
        assert rel <= 1e-5, f"step {step}: graph {graph_loss.item()} vs hand {hand_loss.item()}"
