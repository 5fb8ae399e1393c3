"""Custom blocks: user forward/backward code, the signal it sees, and what validation reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from engine_fixtures import builder, registry, write_npz

from dpg_blocks.builtin.custom import GRADIENT_REVERSAL_CODE
from dpg_blocks.core import Order, SetOrders, save_project
from dpg_blocks.engine.compiling.compiler import CompileError, validate_project
from dpg_blocks.engine.compiling.model import compile_project

SQUARE_WRONG_BACKWARD = """def forward(ctx, x):
    ctx.save_for_backward(x)
    return x * x


def backward(ctx, grad_y):
    x, = ctx.saved_tensors
    return 3 * x * grad_y   # the derivative of x*x is 2x
"""

SQUARE = SQUARE_WRONG_BACKWARD.replace("3 * x", "2 * x")


@pytest.fixture(autouse=True)
def _user_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DPG_BLOCKS_USER_DIR", str(tmp_path / "user"))


def _custom_project(folder: Path, code: str, **params):
    """data -> Custom -> fc -> cross-entropy; returns (project, custom id)."""
    write_npz(folder / "d.npz")
    b = builder("custom")
    data = b.add("builtin.Input", "data", source="npz", path="d.npz", batch_size=8)
    custom = b.add("builtin.Custom", "mine", code=code, **params)
    fc = b.add("builtin.Linear", "fc", out_features=3)
    loss = b.add("builtin.CrossEntropyLoss", "loss")
    b.chain((data, "x", ""), (custom, "y", "x"), (fc, "y", "x"), (loss, "", "input"))
    return b.project, custom


def _record(project, block_id, folder):
    return {r.id: r for r in validate_project(project, registry(), folder, trusted=True)}[block_id]


def test_a_syntax_error_is_the_blocks_record_with_the_line_in_the_users_code(tmp_path):
    project, custom = _custom_project(tmp_path, "def forward(ctx, x):\n    y = x *\n    return y\n")
    rec = _record(project, custom, tmp_path)
    assert rec.status == "error" and rec.error_type == "SyntaxError"
    assert rec.code_line == 2 and "line 2 of the code" in rec.message


def test_an_exception_in_forward_names_the_line_and_hides_engine_frames(tmp_path):
    code = "def forward(ctx, x):\n    scale = 2\n    return x * scale + missing_name\n"
    project, custom = _custom_project(tmp_path, code)
    recs = {r.id: r for r in validate_project(project, registry(), tmp_path, trusted=True)}
    rec = recs[custom]
    assert rec.status == "error" and rec.error_type == "NameError"
    assert rec.code_line == 3 and "missing_name" in rec.message and "line 3" in rec.message
    assert "x * scale + missing_name" in rec.traceback and "dpg_blocks" not in rec.traceback
    assert rec.inputs[0].shape == [4, 6]
    downstream = [r for r in recs.values() if r.name in ("fc", "loss")]
    assert all(r.status == "upstream-error" for r in downstream)


def test_code_without_forward_or_with_the_wrong_arguments_is_explained(tmp_path):
    project, custom = _custom_project(tmp_path, "def fwd(ctx, x):\n    return x\n")
    assert "must define forward(ctx, x)" in _record(project, custom, tmp_path).message
    project, custom = _custom_project(tmp_path, "def forward(x):\n    return x\n")
    assert "forward must take (ctx, x)" in _record(project, custom, tmp_path).message


def test_a_wrong_backward_fails_validation_with_the_gradcheck_error(tmp_path):
    project, custom = _custom_project(tmp_path, SQUARE_WRONG_BACKWARD)
    rec = _record(project, custom, tmp_path)
    assert rec.status == "error" and rec.error_type == "GradientCheckError"
    assert "wrong gradient" in rec.message and "gradcheck" in rec.message
    project, custom = _custom_project(tmp_path, SQUARE)
    assert _record(project, custom, tmp_path).status == "ok"


def test_a_passing_gradient_check_is_in_the_record_for_the_debug_pane(tmp_path):
    project, custom = _custom_project(tmp_path, GRADIENT_REVERSAL_CODE, gradient_scale=1.0)
    rec = _record(project, custom, tmp_path)
    assert rec.status == "ok"
    assert rec.to_dict()["gradcheck"].startswith("passed: backward matches −1 × the numerical gradient of forward")
    project, custom = _custom_project(tmp_path, "def forward(ctx, x):\n    return 2 * x\n")
    assert _record(project, custom, tmp_path).gradcheck == ""  # no backward: autograd's, nothing to check


def test_gradient_reversal_passes_only_when_it_declares_its_scale(tmp_path):
    project, custom = _custom_project(tmp_path, GRADIENT_REVERSAL_CODE, gradient_scale=1.0)
    assert _record(project, custom, tmp_path).status == "ok"
    project, custom = _custom_project(tmp_path, GRADIENT_REVERSAL_CODE.replace("-ctx", "-0.5 * ctx"), gradient_scale=1.0)
    assert _record(project, custom, tmp_path).error_type == "GradientCheckError"
    project, custom = _custom_project(tmp_path, GRADIENT_REVERSAL_CODE)  # no declared scale
    rec = _record(project, custom, tmp_path)
    assert rec.error_type == "GradientCheckError" and "numerical gradient" in rec.message


def test_the_cli_fails_validate_on_a_wrong_backward_and_names_the_block(tmp_path, capsys):
    from dpg_blocks.cli import main

    project, _ = _custom_project(tmp_path, SQUARE_WRONG_BACKWARD)
    save_project(project, tmp_path / "p.dpgb")
    assert main(["validate", str(tmp_path / "p.dpgb"), "--json", "--trust"]) == 1
    out = json.loads(capsys.readouterr().out)
    mine = next(b for b in out["blocks"] if b["name"] == "mine")
    assert mine["status"] == "error" and mine["error_type"] == "GradientCheckError"
    assert "wrong gradient" in mine["message"]


def test_gradient_reversal_negates_and_scales_the_gradient_in_training(tmp_path):
    project, custom = _custom_project(tmp_path, GRADIENT_REVERSAL_CODE, gradient_scale=0.25)
    model = compile_project(project, registry(), tmp_path, trusted=True).model
    module = model.block_modules[custom]
    x = torch.randn(3, 6, requires_grad=True)
    y = module(1, None, x)
    (y * torch.arange(6.0)).sum().backward()
    assert torch.equal(y, x)
    assert torch.allclose(x.grad, -0.25 * torch.arange(6.0).expand(3, 6))


def test_forward_sees_the_order_the_training_flag_and_the_target(tmp_path):
    write_npz(tmp_path / "d.npz")
    code = (
        "def forward(ctx, x):\n"
        "    assert ctx.target is not None and ctx.target.shape == (x.shape[0],)\n"
        "    flag = 1.0 if ctx.training else -1.0\n"
        "    return x * 0 + flag * ctx.order * ctx.values['gain']\n"
    )
    b = builder("signal")
    data = b.add("builtin.Input", "data", source="npz", path="d.npz", orders=[1, 2])
    custom = b.add("builtin.Custom", "mine", code=code, values={"gain": 10})
    out = b.add("builtin.Output", "out")
    b.chain((data, "x", ""), (custom, "y", "x"), (out, "", "x"))
    b.history.do(SetOrders([Order(1), Order(2)]))
    result = compile_project(b.project, registry(), tmp_path, trusted=True)
    model = result.model
    assert f"m0(2, y_{data}, x_{data})" in model.sources_code[2]
    x, y = result.sources[data].sample(4)
    for order in (1, 2):
        model.train()
        (pred, _target), = model.run_order(order, x, y)[2]
        assert float(pred.mean()) == 10 * order
        model.eval()
        (pred, _target), = model.run_order(order, x, y)[2]
        assert float(pred.mean()) == -10 * order


def test_graphs_without_signal_blocks_generate_the_same_calls_as_before(tmp_path):
    project, _ = _custom_project(tmp_path, SQUARE)
    code = compile_project(project, registry(), tmp_path, trusted=True).model.sources_code[1]
    lines = [line.strip() for line in code.splitlines() if "= m" in line and "(" in line]
    custom_line, fc_line, loss_line = lines
    assert custom_line.split("(", 1)[1].startswith("1, y_")  # the order literal and the labels
    assert fc_line.split("(", 1)[1].startswith("v_") and loss_line.split("(", 1)[1].startswith("v_")


def test_custom_ports_follow_the_names_the_user_declares(tmp_path):
    write_npz(tmp_path / "d.npz")
    code = "def forward(ctx, a, b):\n    return a + b, a - b\n"
    b = builder("ports")
    data = b.add("builtin.Input", "data", source="npz", path="d.npz")
    custom = b.add("builtin.Custom", "pair", code=code, inputs=["a", "b"], outputs=["total", "diff"])
    block = b.project.block(custom)
    assert [p.name for p in block.inputs] == ["a", "b"]
    assert [p.name for p in block.outputs] == ["total", "diff"]
    b.link(data, "x", custom, "a")
    b.link(data, "x", custom, "b")
    recs = {r.id: r for r in validate_project(b.project, registry(), tmp_path, trusted=True)}
    assert recs[custom].status == "ok"
    assert [o.port for o in recs[custom].outputs] == ["total", "diff"]


def test_an_untrusted_custom_block_is_not_built_and_training_refuses(tmp_path):
    project, custom = _custom_project(tmp_path, SQUARE)
    rec = {r.id: r for r in validate_project(project, registry(), tmp_path)}[custom]
    assert rec.status == "error" and rec.error_type == "UntrustedCode" and "--trust" in rec.message
    with pytest.raises(CompileError):
        compile_project(project, registry(), tmp_path)
