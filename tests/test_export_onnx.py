"""Scenario E, leaving the tool: one order's inference graph exported to ONNX runs in onnxruntime.

The ONNX file is run on real inputs with a batch size the traced example never had (validation
uses 4), and its outputs are compared with the torch forward of the same weights.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from engine_fixtures import builder, registry

from dpg_blocks.cli import main
from dpg_blocks.core import load_project
from dpg_blocks.engine.interop import export_onnx as onnx_export
from dpg_blocks.engine.interop.export import ExportError
from dpg_blocks.engine.interop.export_onnx import (
    InferenceModule,
    build_inference,
    export_onnx,
    missing_onnx_packages,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "assets" / "examples"
TOLERANCE = 1e-5

needs_onnx = pytest.mark.skipif(
    bool(missing_onnx_packages()) or importlib.util.find_spec("onnxruntime") is None,
    reason="ONNX export is the optional extra dpg-blocks[onnx] (scripts/setup.sh installs it)",
)


def reference(name: str, folder: Path, **kw: object) -> tuple[InferenceModule, Path, object]:
    """The example's inference module and its weights saved as a checkpoint (the ONNX gets the same)."""
    path = EXAMPLES / f"{name}.dpgb"
    module, result = build_inference(load_project(path), registry(), path.parent, **kw)  # type: ignore[arg-type]
    weights = folder / f"{name}.pt"
    torch.save({"model": result.model.state_dict()}, weights)
    return module, weights, result


def run_onnx(path: Path, *inputs: torch.Tensor) -> list[np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {i.name: x.numpy() for i, x in zip(session.get_inputs(), inputs, strict=True)}
    return session.run(None, feed)


@needs_onnx
def test_mlp_digits_onnx_matches_torch_on_a_batch_of_37_test_digits(tmp_path, capsys):
    module, weights, result = reference("mlp_digits", tmp_path)
    out = tmp_path / "mlp.onnx"
    assert main(["export", str(EXAMPLES / "mlp_digits.dpgb"), "--onnx", "-o", str(out), "--weights", str(weights)]) == 0
    assert "inputs digits -> outputs FC5" in capsys.readouterr().out
    digits = result.sources[module.interface.inputs[0][0][0]]
    batches = list(digits.batches("test", epoch=0, shuffle=False))
    x = torch.cat([b[0] for b in batches])[:37]  # 37: not a size the graph was traced with
    y = torch.cat([b[1] for b in batches])[:37]
    got = run_onnx(out, x)
    with torch.no_grad():
        want = module(x)[0]
        _, _, heads = result.model.run_order(1, x, y)  # the engine's own forward of the order
    assert got[0].shape == (37, 10)
    diff = float(np.abs(got[0] - want.numpy()).max())
    assert diff <= TOLERANCE, diff
    assert torch.equal(heads[0][0], want)  # the inference module is the order's forward without the loss
    import onnx

    graph = onnx.load(str(out)).graph
    assert [d.dim_param or d.dim_value for d in graph.input[0].type.tensor_type.shape.dim] == ["batch", 1, 8, 8]


@needs_onnx
@pytest.mark.parametrize("outputs, shape", [(None, (50, 1)), (["Generator"], (50, 1, 8, 8))])
def test_gan_generator_order_onnx_matches_torch_on_50_noise_samples(tmp_path, outputs, shape):
    project = load_project(EXAMPLES / "gan_digits.dpgb")
    ids = [b.id for b in project.graph.blocks.values() if b.name in (outputs or [])]
    module, weights, result = reference("gan_digits", tmp_path, order=2, outputs=ids or None)
    out, interface = export_onnx(project, registry(), EXAMPLES, tmp_path / "gan.onnx", order=2,
                                 outputs=ids or None, weights=weights)
    assert [name for _, name in interface.inputs] == ["noise"]  # order 2: the real digits emit nothing
    noise, _ = result.sources[interface.inputs[0][0][0]].sample(50)
    got = run_onnx(out, noise)
    with torch.no_grad():
        want = module(noise)[0]
    assert got[0].shape == shape
    diff = float(np.abs(got[0] - want.numpy()).max())
    assert diff <= TOLERANCE, diff


@needs_onnx
def test_the_default_order_is_the_first_whose_losses_a_trainable_block_feeds():
    path = EXAMPLES / "gan_digits.dpgb"
    module, _ = build_inference(load_project(path), registry(), path.parent)
    # order 1, the discriminator's step: noise and real digits in, the discriminator's logits out
    assert module.interface.order == 1
    assert [n for _, n in module.interface.inputs] == ["noise", "real_digits"]
    assert [n for _, n in module.interface.outputs] == ["Discriminator.d_fc3"]


def _custom_project(code: str):
    b = builder("custom")
    x = b.add("builtin.Input", "noise", source="noise", noise_shape=[6])
    fc = b.add("builtin.Linear", "fc", out_features=4)
    c = b.add("builtin.Custom", "Doubler", code=code)
    o = b.add("builtin.Output", "out")
    b.chain((x, "x", ""), (fc, "y", "x"), (c, "y", "x"), (o, "", "x"))
    return b.project


@needs_onnx
def test_a_traceable_custom_block_is_exported(tmp_path):
    project = _custom_project("def forward(ctx, x):\n    return torch.clamp(x * 2, min=0)\n")
    torch.manual_seed(0)
    module, _ = build_inference(project, registry(), tmp_path, trusted=True)
    torch.manual_seed(0)  # the same initial weights in the exported graph
    out, _ = export_onnx(project, registry(), tmp_path, tmp_path / "c.onnx", trusted=True)
    x = torch.randn(9, 6)
    with torch.no_grad():
        want = module(x)[0].numpy()
    assert float(np.abs(run_onnx(out, x)[0] - want).max()) <= TOLERANCE


@needs_onnx
def test_a_custom_block_torch_cannot_trace_is_refused_by_name(tmp_path):
    project = _custom_project("def forward(ctx, x):\n    return torch.from_numpy(x.numpy() * 2)\n")
    with pytest.raises(ExportError, match=r"^Doubler: torch cannot trace it for ONNX"):
        export_onnx(project, registry(), tmp_path, tmp_path / "c.onnx", trusted=True)
    assert not (tmp_path / "c.onnx").exists()


def test_without_the_onnx_packages_the_cli_says_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(onnx_export, "missing_onnx_packages", lambda: ["onnxscript"])
    code = main(["export", str(EXAMPLES / "mlp_digits.dpgb"), "--onnx", "-o", str(tmp_path / "m.onnx")])
    err = capsys.readouterr().err
    assert code == 1
    assert "needs the package(s) onnxscript" in err and "pip install 'dpg-blocks[onnx]'" in err
