"""Scenario E, the way in: an existing nn.Module becomes editable blocks (torch.fx), laid out readably.

The imported project validates, holds as many parameters as the module, and, with the module's
weights copied into it, computes the same outputs.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from engine_fixtures import registry
from torch import nn

from dpg_blocks.cli import main
from dpg_blocks.core import load_project
from dpg_blocks.core.layout import DEFAULT_SIZE
from dpg_blocks.engine.compiling.model import compile_project
from dpg_blocks.engine.interop.export_onnx import build_inference
from dpg_blocks.engine.interop.import_fx import FxImportError, import_module, load_module, write_weights

ROOT = Path(__file__).resolve().parents[1]
MLP = f"{ROOT / 'benchmarks' / 'handwritten_mlp.py'}:HandwrittenMLP"


class ResidualCNN(nn.Module):
    """A small CNN with a residual add, a concatenation, a view by size(0) and an op without a block."""

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.side = nn.Conv2d(1, 4, 1)
        self.pool = nn.MaxPool2d(2)
        self.drop = nn.Dropout(0.25)
        self.fc = nn.Linear((width + 4) * 16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn1(self.conv1(x)))
        h = h + self.conv2(h)  # residual
        h = torch.cat([h, self.side(x)], dim=1)
        h = self.pool(h)
        h = h.view(h.size(0), -1)
        return torch.clamp(self.fc(self.drop(h)), -5.0, 5.0)  # no built-in block: a Custom one


class Dilated(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, dilation=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Scaled(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


@pytest.fixture(autouse=True)
def user_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private user folder: import records the trust of the code it generates there."""
    folder = tmp_path / "user"
    monkeypatch.setenv("DPG_BLOCKS_USER_DIR", str(folder))
    return folder


def count_parameters(path: Path) -> int:
    """Parameters of the project as the engine compiles it."""
    result = compile_project(load_project(path), registry(), path.parent, trusted=True)
    return sum(p.numel() for p in result.model.parameters())


def assert_readable(path: Path) -> None:
    """No two blocks overlap (at the default node size) and every link runs left to right."""
    graph = load_project(path).graph
    w, h = DEFAULT_SIZE
    for a, b in itertools.combinations(graph.blocks.values(), 2):
        apart = abs(a.pos[0] - b.pos[0]) >= w or abs(a.pos[1] - b.pos[1]) >= h
        assert apart, f"{a.name} overlaps {b.name}"
    for link in graph.links:
        src, dst = graph.blocks[link.src.block], graph.blocks[link.dst.block]
        assert src.pos[0] + w <= dst.pos[0], f"{src.name} -> {dst.name} runs right to left"


def max_difference(module: nn.Module, shape: tuple[int, ...], tmp_path: Path) -> float:
    """Largest |imported - original| on 16 samples, with the module's weights copied in."""
    imported = import_module(module, [shape], registry())
    weights = tmp_path / "weights.pt"
    write_weights(imported, module, registry(), tmp_path, weights)
    blocks, _ = build_inference(imported.project, registry(), tmp_path, weights=weights, trusted=True)
    module.eval()
    x = torch.randn(16, *shape)
    with torch.no_grad():
        return float((blocks(x)[0] - module(x)).abs().max())


@pytest.mark.parametrize("ref, shape, blocks", [
    (MLP, "1,8,8", 12),  # x, flatten, 5 Linear, 4 ReLU, output
    (f"{__file__}:ResidualCNN", "1,8,8", 14),
])
def test_imported_module_validates_with_the_same_parameter_count_laid_out_left_to_right(
    tmp_path, capsys, ref, shape, blocks
):
    out = tmp_path / "imported.dpgb"
    assert main(["import", ref, "-o", str(out), "--input-shape", shape]) == 0
    said = capsys.readouterr().out
    assert main(["validate", str(out)]) == 0  # the generated Custom code was trusted by the import
    project = load_project(out)
    assert len(project.graph.blocks) == blocks
    original = load_module(ref)
    assert count_parameters(out) == sum(p.numel() for p in original.parameters())
    assert f"{sum(p.numel() for p in original.parameters())} parameters" in said
    assert (tmp_path / "imported.weights.pt").exists()
    assert_readable(out)


def test_the_cnn_blocks_are_the_layers_and_ops_of_its_forward(tmp_path):
    imported = import_module(ResidualCNN(), [(1, 8, 8)], registry())
    types = {b.name: b.type.removeprefix("builtin.") for b in imported.project.graph.blocks.values()}
    assert types == {
        "x": "Input", "conv1": "Conv2d", "bn1": "BatchNorm2d", "relu": "ReLU", "conv2": "Conv2d", "add": "Add",
        "side": "Conv2d", "cat": "Concat", "pool": "MaxPool2d", "view": "Reshape", "drop": "Dropout", "fc": "Linear",
        "clamp": "Custom", "output": "Output",
    }
    graph = imported.project.graph
    by_name = {b.name: b for b in graph.blocks.values()}
    assert by_name["view"].params["shape"] == [12 * 16]
    assert by_name["cat"].params["dim"] == 1
    assert "torch.clamp(x, -5.0, 5.0)" in by_name["clamp"].params["code"]


@pytest.mark.parametrize("module, shape", [
    (load_module(MLP), (1, 8, 8)),
    (ResidualCNN(), (1, 8, 8)),
])
def test_with_the_weights_copied_the_blocks_compute_what_the_module_does(tmp_path, module, shape):
    torch.manual_seed(0)
    if isinstance(module, ResidualCNN):  # statistics that are not the initial ones, so copying them matters
        module.bn1.running_mean.uniform_(-0.5, 0.5)
        module.bn1.running_var.uniform_(0.5, 2.0)
    assert max_difference(module, shape, tmp_path) <= 1e-6


@pytest.mark.parametrize("module, message", [
    (Dilated(), r"node 'conv' \(call_module conv\): the built-in Conv2d block cannot build it \(dilation=\(2, 2\)\)"),
    (Scaled(), r"node 'scale' \(get_attr scale\): reads the parameter scale of shape \(8,\) whole"),
])
def test_an_unsupported_node_is_refused_naming_the_node_and_its_target(module, message):
    with pytest.raises(FxImportError, match=message):
        import_module(module, [(1, 8, 8)] if isinstance(module, Dilated) else [(8,)], registry())


def test_the_cli_reports_an_unsupported_node_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "d.dpgb"
    assert main(["import", f"{__file__}:Dilated", "-o", str(out), "--input-shape", "1,8,8"]) == 1
    assert "node 'conv' (call_module conv)" in capsys.readouterr().err
    assert not out.exists()


def test_constructor_arguments_come_from_args_json(tmp_path):
    out = tmp_path / "wide.dpgb"
    assert main(["import", f"{__file__}:ResidualCNN", "-o", str(out), "--input-shape", "1,8,8",
                 "--args", '{"width": 4}', "--no-weights"]) == 0
    assert count_parameters(out) == sum(p.numel() for p in ResidualCNN(width=4).parameters())
    assert not (tmp_path / "wide.weights.pt").exists()
