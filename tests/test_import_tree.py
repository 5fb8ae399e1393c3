"""Import keeps the module tree: each submodule a SuperBlock named after it, nested as the
modules nest; a ResNet reads x → stem → layer1 … layer4 → head → output."""

from __future__ import annotations

import torch
from engine_fixtures import registry
from test_import_fx import assert_readable, count_parameters, max_difference, user_folder  # noqa: F401
from torch import nn

from dpg_blocks.cli import main
from dpg_blocks.core import load_project
from dpg_blocks.engine.interop.import_fx import import_module


class Bottleneck(nn.Module):
    """torchvision's Bottleneck, small: 1×1, 3×3, 1×1 convolutions, one ReLU module used three times."""

    def __init__(self, cin: int, width: int, stride: int = 1) -> None:
        super().__init__()
        cout = width * 4
        self.conv1, self.bn1 = nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
        self.conv3, self.bn3 = nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                           if stride != 1 or cin != cout else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = self.downsample(x) if self.downsample is not None else x
        return self.relu(out + identity)


class ResNetish(nn.Module):
    """ResNet-50's layout (stem, four stages of Bottlenecks, pooled head) at a test's size."""

    def __init__(self, blocks: tuple[int, ...] = (2, 2, 3, 2)) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8)
        self.relu, self.maxpool = nn.ReLU(), nn.MaxPool2d(2)
        cin, stages = 8, []
        for i, n in enumerate(blocks):
            width = 4 * 2**i
            layers = [Bottleneck(cin, width, 1 if i == 0 else 2)] + [Bottleneck(width * 4, width) for _ in range(n - 1)]
            stages.append(nn.Sequential(*layers))
            cin = width * 4
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool, self.flatten, self.fc = nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.flatten(self.avgpool(x)))


def test_a_resnet_comes_in_as_its_stages_with_their_bottlenecks(tmp_path):
    module = ResNetish()
    imported = import_module(module, [(3, 32, 32)], registry())
    root = imported.project.graph
    top = {b.name: b for b in root.blocks.values()}
    assert len(top) <= 10
    assert set(top) == {"x", "stem", "layer1", "layer2", "layer3", "layer4", "head", "output"}
    layer3 = top["layer3"].graph
    assert sorted(b.name for b in layer3.blocks.values()) == ["Bottleneck 0", "Bottleneck 1", "Bottleneck 2"]
    bottleneck = next(b for b in layer3.blocks.values() if b.name == "Bottleneck 0")
    first = {b.name: b for b in bottleneck.graph.blocks.values()}
    assert {"conv1", "bn1", "conv3", "downsample"} <= set(first)  # short names; downsample is a SuperBlock too
    assert first["downsample"].graph is not None
    assert [b.name for b in top["stem"].graph.blocks.values()] == ["conv1", "bn1", "relu", "maxpool"]
    # with its weights it computes what the module computes
    torch.manual_seed(0)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):  # statistics that are not the initial ones, so copying them matters
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    assert max_difference(module, (3, 32, 32), tmp_path) <= 1e-5


def test_the_cli_imports_the_tree_readably_or_flat(tmp_path):
    ref = f"{__file__}:ResNetish"
    nested, flat = tmp_path / "nested.dpgb", tmp_path / "flat.dpgb"
    assert main(["import", ref, "-o", str(nested), "--input-shape", "3,32,32"]) == 0
    assert main(["import", ref, "-o", str(flat), "--input-shape", "3,32,32", "--flat", "--no-weights"]) == 0
    assert main(["validate", str(nested)]) == 0
    assert count_parameters(nested) == count_parameters(flat) == sum(p.numel() for p in ResNetish().parameters())
    assert len(load_project(flat).graph.blocks) > 100 and len(load_project(nested).graph.blocks) == 8
    graph = load_project(nested).graph
    for sb in [graph, *(b.graph for b in graph.walk() if b.graph is not None)]:
        for a in sb.blocks.values():  # every level laid out: no two blocks on one spot
            assert sum(1 for o in sb.blocks.values() if o.pos == a.pos) == 1
    assert_readable(flat)


def test_a_layer_called_three_times_stays_three_blocks_of_its_module():
    imported = import_module(Bottleneck(8, 4), [(8, 4, 4)], registry())  # 8 -> 16 channels: a downsample
    names = sorted(b.name for b in imported.project.graph.blocks.values())
    # no SuperBlock per call of the shared ReLU (fx calls them relu@1, relu@2); downsample's layers by type
    assert not [n for n in names if "@" in n] and "downsample" in names
    (down,) = [b for b in imported.project.graph.blocks.values() if b.name == "downsample"]
    assert sorted(b.name for b in down.graph.blocks.values()) == ["BatchNorm2d 1", "Conv2d 0"]
