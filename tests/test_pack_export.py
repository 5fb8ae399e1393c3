"""Exports stand alone: a pack's layer classes come with the helper modules they import, the
new-pack template's blocks export, and what cannot be inlined is refused naming the import.

The script runs where neither dpg_blocks nor the pack can be imported (``run_standalone``).
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_fixtures import write_npz
from test_export import run_standalone
from test_pack_trust import install_fake_dist

from dpg_blocks.blocks.builder import ProjectBuilder
from dpg_blocks.engine.interop.export import ExportError, write_export
from dpg_blocks.engine.packs.registry import discover
from dpg_blocks.scaffold import new_pack

ATTN_INIT = '''
from dpg_blocks.blocks import In, Out, Param, block

@block("attnpack.Gate", category="Attention")
class Gate:
    """x times a learned sigmoid gate."""
    x = In()
    y = Out()
    temperature = Param(float, 2.0, min=0.1)

    def build(self, ctx):
        from attnpack.layers import GateLayer
        return GateLayer(ctx.in_shape("x")[-1], self.temperature)
'''
ATTN_LAYERS = '''
import torch
from torch import nn

from attnpack._util import soft_gate
from ._util import EPS


class GateLayer(nn.Module):
    """x * soft_gate(w * x)."""

    def __init__(self, features: int, temperature: float) -> None:
        super().__init__()
        self.features, self.temperature = features, temperature
        self.w = nn.Parameter(torch.ones(features))

    def forward(self, x):
        return x * soft_gate(self.w * x, self.temperature) + EPS

    def export_args(self):
        return (self.features, self.temperature)
'''
ATTN_UTIL = '''
import torch

EPS = 0.0  # what the gate adds (kept so a second helper name is copied)


def soft_gate(x, temperature):
    """A sigmoid gate, softened by ``temperature``."""
    return torch.sigmoid(x / temperature)
'''


@pytest.fixture
def attnpack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An installed pack whose layer class imports helpers from a private module of the pack."""
    site = tmp_path / "site"
    monkeypatch.syspath_prepend(str(site))
    install_fake_dist(site, "attnpack", "1.2.0", "attnpack", "attnpack", ATTN_INIT)
    (site / "attnpack" / "layers.py").write_text(ATTN_LAYERS)
    (site / "attnpack" / "_util.py").write_text(ATTN_UTIL)
    yield site
    for name in [n for n in sys.modules if n.split(".")[0] == "attnpack"]:  # "uninstalled" again
        del sys.modules[name]


def _project(reg, block_type: str, **params):
    b = ProjectBuilder(reg.specs, "packed")
    data = b.add("builtin.Input", "data", source="npz", path="d.npz")
    layer = b.add(block_type, "layer", **params)
    head = b.add("builtin.Linear", "head", out_features=3)
    loss = b.add("builtin.CrossEntropyLoss", "loss")
    b.chain((data, "x", ""), (layer, "y", "x"), (head, "y", "x"), (loss, "", "input"))
    b.link(data, "y", loss, "target")
    return b.project


def _export_and_run(reg, block_type: str, tmp_path: Path, **params) -> str:
    write_npz(tmp_path / "d.npz", n=32, features=6)
    out = tmp_path / "out"
    out.mkdir()
    umask = os.umask(0o027)  # a group-readable export, as the user's umask says (mkstemp made 0600)
    try:
        script = write_export(_project(reg, block_type, **params), reg, tmp_path, out / "model.py", trusted=True)
    finally:
        os.umask(umask)
    assert stat.S_IMODE(script.stat().st_mode) == 0o640
    text = script.read_text()
    done = run_standalone(script, "--epochs", "1", "--device", "cpu")
    assert done.returncode == 0, done.stderr
    return text


def test_an_exported_script_of_a_pack_with_a_helper_module_runs_with_the_pack_uninstalled(attnpack, tmp_path):
    reg = discover(defaults=False, quarantine=False)
    assert reg.get("attnpack.Gate") is not None, reg.failures
    text = _export_and_run(reg, "attnpack.Gate", tmp_path, temperature=3.0)
    assert "attnpack" not in text.replace('"attnpack.Gate"', "")  # no import of the pack
    assert "def soft_gate(x, temperature):" in text and "EPS = 0.0" in text
    assert "GateLayer(6, 3.0)" in text


def test_a_layer_importing_a_pack_module_whole_is_refused_naming_the_import(attnpack, tmp_path):
    layers = attnpack / "attnpack" / "layers.py"
    layers.write_text(layers.read_text().replace("from attnpack._util import soft_gate", "import attnpack._util as u")
                      .replace("soft_gate(self.w", "u.soft_gate(self.w"))
    reg = discover(defaults=False, quarantine=False)
    write_npz(tmp_path / "d.npz", n=32, features=6)
    with pytest.raises(ExportError) as caught:
        write_export(_project(reg, "attnpack.Gate"), reg, tmp_path, tmp_path / "model.py", trusted=True)
    assert str(caught.value) == (
        "layer: its layer GateLayer cannot be written out alone: 'import attnpack._util' cannot be inlined "
        "(import the definitions it uses by name: 'from attnpack._util import ...')"
    )
    assert not (tmp_path / "model.py").exists()


@pytest.mark.parametrize("block", ["Scale", "Residual"])
def test_the_new_pack_templates_blocks_export_and_run_without_the_pack(tmp_path, block):
    root = new_pack("tmpl_blocks", tmp_path / "packs")
    reg = discover([root / "src"], defaults=False, quarantine=False)  # the package as a plugin folder
    assert reg.get(f"tmpl_blocks.{block}") is not None, reg.failures
    text = _export_and_run(reg, f"tmpl_blocks.{block}", tmp_path)
    assert "dpg_blocks_plugin" not in text and "tmpl_blocks" not in text.replace("tmpl_blocks.", "")
