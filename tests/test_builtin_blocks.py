"""The built-in block pack: what a user sees when building and running each block."""

from __future__ import annotations

import io
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch

import dpg_blocks.builtin as builtin
from dpg_blocks.blocks import spec_of
from dpg_blocks.builtin import BLOCKS, PACK_NAME
from dpg_blocks.engine.compiling.context import ContextServices


@dataclass
class FakeCtx(ContextServices):
    """The engine's BuildContext reduced to a table of input shapes (with the engine's real
    data and code services).

    A port is connected when it has a shape or is listed in ``null`` (linked, but carrying
    nothing in the order being validated: ``in_shape`` raises, as in the engine).
    """

    shapes: dict[str, tuple[int, ...]]
    dtypes: dict[str, torch.dtype] = field(default_factory=dict)
    null: set[str] = field(default_factory=set)
    name: str = "block"
    block_id: str = "b1"
    path: list[str] = field(default_factory=lambda: ["block"])
    project_dir: Path = Path(".")
    device: str = "cpu"

    def in_shape(self, port: str) -> tuple[int, ...]:
        if port not in self.shapes:
            raise ValueError(f"input {port!r} carries no tensor")
        return self.shapes[port]

    def in_dtype(self, port: str) -> torch.dtype | None:
        return self.dtypes.get(port, torch.float32) if port in self.shapes else None

    def connected(self, port: str) -> bool:
        return port in self.shapes or port in self.null


def make(cls: type, **params: Any) -> Any:
    """A block instance with its params set, as the engine creates it."""
    return spec_of(cls).instantiate(params)


def build(cls: type, shapes: dict[str, tuple[int, ...]], **params: Any) -> torch.nn.Module:
    return make(cls, **params).build(FakeCtx(shapes))


# -- the pack as a whole ------------------------------------------------------------------------


def test_importing_the_pack_does_not_import_torch() -> None:
    code = "import sys, dpg_blocks.builtin; assert 'torch' not in sys.modules, 'torch was imported'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_block_has_a_builtin_id_help_text_and_documented_params() -> None:
    assert PACK_NAME == "builtin"
    ids = [spec_of(cls).id for cls in BLOCKS]
    assert len(ids) == len(set(ids))
    for cls in BLOCKS:
        spec = spec_of(cls)
        assert spec.id == f"builtin.{cls.__name__}"
        assert spec.doc, spec.id
        for p in spec.params:
            assert p.doc, f"{spec.id}.{p.name} has no doc"
    assert set(builtin.__all__) >= {"BLOCKS", "PACK_NAME"}


def test_fully_connected_keeps_its_legacy_ids_and_display_name() -> None:
    spec = spec_of(builtin.Linear)
    assert spec.name == "Fully Connected"
    assert spec.category == "Layers/Linear"
    assert "FC" in spec.legacy_ids


def test_categories_follow_the_palette_menus() -> None:
    menus = {
        "Inputs", "Layers/Linear", "Layers/Convolution", "Layers/Normalization",
        "Layers/Regularization", "Layers/Sequence", "Layers/Attention", "Layers/Resampling", "Activations",
        "Pooling", "Structure", "Tensor ops", "Losses", "Outputs",
    }  # fmt: skip
    assert {spec_of(cls).category for cls in BLOCKS} == menus


# -- every block on a random batch ---------------------------------------------------------------

SHAPE_CASES = [
    (builtin.Linear, {"out_features": 10}, (4, 64), (4, 10)),
    (builtin.Linear, {"out_features": 10, "flatten_input": True}, (4, 1, 8, 8), (4, 10)),
    (builtin.Conv1d, {"out_channels": 5, "kernel_size": 3}, (4, 2, 16), (4, 5, 14)),
    (builtin.Conv2d, {"out_channels": 6, "kernel_size": 3, "padding": 1}, (4, 1, 8, 8), (4, 6, 8, 8)),
    (builtin.Conv2d, {"out_channels": 6, "kernel_size": 3, "stride": 2}, (4, 3, 9, 9), (4, 6, 4, 4)),
    (builtin.ConvTranspose2d, {"out_channels": 2, "kernel_size": 4, "stride": 2, "padding": 1},
     (4, 8, 4, 4), (4, 2, 8, 8)),
    (builtin.BatchNorm1d, {}, (4, 7), (4, 7)),
    (builtin.BatchNorm1d, {}, (4, 7, 3), (4, 7, 3)),
    (builtin.BatchNorm2d, {}, (4, 3, 5, 5), (4, 3, 5, 5)),
    (builtin.LayerNorm, {"normalized_dims": 2}, (4, 3, 5), (4, 3, 5)),
    (builtin.Dropout, {"p": 0.2}, (4, 9), (4, 9)),
    (builtin.ReLU, {}, (4, 9), (4, 9)),
    (builtin.LeakyReLU, {"negative_slope": 0.2}, (4, 9), (4, 9)),
    (builtin.GELU, {}, (4, 9), (4, 9)),
    (builtin.Sigmoid, {}, (4, 9), (4, 9)),
    (builtin.Tanh, {}, (4, 9), (4, 9)),
    (builtin.Softmax, {}, (4, 9), (4, 9)),
    (builtin.MaxPool2d, {}, (4, 3, 8, 8), (4, 3, 4, 4)),
    (builtin.AvgPool2d, {"kernel_size": 3, "stride": 1}, (4, 3, 8, 8), (4, 3, 6, 6)),
    (builtin.AdaptiveAvgPool2d, {}, (4, 3, 8, 8), (4, 3, 1, 1)),
    (builtin.AdaptiveAvgPool2d, {"output_size": [2, -1]}, (4, 3, 8, 6), (4, 3, 2, 6)),
    (builtin.Flatten, {}, (4, 1, 8, 8), (4, 64)),
    (builtin.Flatten, {"start_dim": 2}, (4, 3, 8, 8), (4, 3, 64)),
    (builtin.Reshape, {"shape": [1, 8, 8]}, (4, 64), (4, 1, 8, 8)),
    (builtin.Reshape, {"shape": [4, -1]}, (4, 64), (4, 4, 16)),
]  # fmt: skip


@pytest.mark.parametrize(
    "cls, params, in_shape, out_shape",
    SHAPE_CASES,
    ids=[f"{c.__name__}-{i}" for i, (c, *_) in enumerate(SHAPE_CASES)],
)
def test_block_produces_the_expected_output_shape(
    cls: type, params: dict[str, Any], in_shape: tuple[int, ...], out_shape: tuple[int, ...]
) -> None:
    module = build(cls, {"x": in_shape}, **params)
    assert isinstance(module, torch.nn.Module)
    assert module(torch.randn(in_shape)).shape == out_shape


def test_built_modules_can_be_saved_and_loaded() -> None:
    model = torch.nn.Sequential(
        build(builtin.Linear, {"x": (2, 1, 8, 8)}, out_features=3, flatten_input=True),
        build(builtin.Reshape, {"x": (2, 3)}, shape=[3, 1]),
    )
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    x = torch.randn(2, 1, 8, 8)
    assert torch.equal(loaded(x), model(x))


# -- Fully Connected --------------------------------------------------------------------------------


def test_fully_connected_on_images_explains_how_to_flatten() -> None:
    with pytest.raises(ValueError) as err:
        build(builtin.Linear, {"x": (4, 1, 8, 8)}, out_features=10)
    message = str(err.value)
    assert "(4, 1, 8, 8)" in message
    assert "(4, 64)" in message
    assert "flatten input" in message and "Flatten" in message


def test_fully_connected_without_feature_dim_is_rejected_with_its_shape() -> None:
    with pytest.raises(ValueError, match=r"\(4,\)"):
        build(builtin.Linear, {"x": (4,)})


def test_fully_connected_on_flat_input_is_a_plain_linear_layer() -> None:
    module = build(builtin.Linear, {"x": (4, 64)}, out_features=10, bias=False)
    assert type(module) is torch.nn.Linear
    assert module.bias is None and module.in_features == 64


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "gelu", "sigmoid", "tanh"])
@pytest.mark.parametrize("in_shape", [(4, 64), (4, 1, 8, 8)])
def test_fully_connected_applies_its_activation(activation: str, in_shape: tuple[int, ...]) -> None:
    params = {"out_features": 5, "activation": activation, "flatten_input": True}
    fc = build(builtin.Linear, {"x": in_shape}, **params)
    plain = build(builtin.Linear, {"x": in_shape}, out_features=5, flatten_input=True)
    plain.load_state_dict(fc.state_dict())
    x = torch.randn(in_shape)
    expected = {"relu": torch.relu, "leaky_relu": torch.nn.functional.leaky_relu, "gelu": torch.nn.functional.gelu,
                "sigmoid": torch.sigmoid, "tanh": torch.tanh}[activation]  # fmt: skip
    assert isinstance(fc, torch.nn.Linear)
    assert torch.allclose(fc(x), expected(plain(x)))


def test_fully_connected_offers_every_activation_it_implements() -> None:
    from dpg_blocks.builtin.linear import ACTIVATION_CHOICES
    from dpg_blocks.builtin.modules import ACTIVATIONS

    assert ACTIVATION_CHOICES == ["none", *ACTIVATIONS]


# -- shape mistakes name the shapes -----------------------------------------------------------


def test_conv2d_on_flat_input_suggests_a_reshape() -> None:
    with pytest.raises(ValueError) as err:
        build(builtin.Conv2d, {"x": (4, 64)})
    assert "(4, 64)" in str(err.value) and "[1, 8, 8]" in str(err.value)


def test_conv_kernel_larger_than_the_image_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"kernel size 5.*\(4, 1, 3, 3\)"):
        build(builtin.Conv2d, {"x": (4, 1, 3, 3)}, kernel_size=5)


def test_transposed_conv_output_padding_must_be_below_stride() -> None:
    with pytest.raises(ValueError, match="output padding"):
        build(builtin.ConvTranspose2d, {"x": (4, 1, 3, 3)}, output_padding=1, stride=1)


def test_pooling_needs_images() -> None:
    with pytest.raises(ValueError, match=r"\(4, 10\)"):
        build(builtin.MaxPool2d, {"x": (4, 10)})


def test_batchnorm2d_on_flat_features_points_to_batchnorm1d() -> None:
    with pytest.raises(ValueError, match=r"\(4, 10\).*BatchNorm 1D"):
        build(builtin.BatchNorm2d, {"x": (4, 10)})


def test_layernorm_over_more_dims_than_a_sample_has_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"\(4, 10\)"):
        build(builtin.LayerNorm, {"x": (4, 10)}, normalized_dims=2)


def test_softmax_over_a_missing_dim_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"dim 2 .*\(4, 10\)"):
        build(builtin.Softmax, {"x": (4, 10)}, dim=2)


def test_reshape_to_a_different_size_names_both_shapes() -> None:
    with pytest.raises(ValueError) as err:
        build(builtin.Reshape, {"x": (4, 64)}, shape=[3, 5])
    assert "(64,)" in str(err.value) and "[3, 5]" in str(err.value)


def test_flatten_from_a_missing_dim_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"\(4, 10\)"):
        build(builtin.Flatten, {"x": (4, 10)}, start_dim=2)


# -- joining and splitting signals --------------------------------------------------------------


def test_concat_joins_features() -> None:
    concat = build(builtin.Concat, {"x1": (4, 3), "x2": (4, 5)})
    assert concat(torch.randn(4, 3), torch.randn(4, 5)).shape == (4, 8)


def test_concat_of_mismatched_shapes_names_every_shape() -> None:
    with pytest.raises(ValueError) as err:
        build(builtin.Concat, {"x1": (4, 3, 2), "x2": (4, 5, 7)})
    assert "(4, 3, 2)" in str(err.value) and "(4, 5, 7)" in str(err.value)


def test_concat_mismatch_found_only_at_run_time_still_names_the_shapes() -> None:
    concat = build(builtin.Concat, {"x1": (4, 3)})
    with pytest.raises(ValueError) as err:
        concat(torch.randn(4, 3), torch.randn(6, 5))
    assert "(4, 3)" in str(err.value) and "(6, 5)" in str(err.value)


def test_concat_skips_null_inputs() -> None:
    concat = build(builtin.Concat, {"x1": (4, 3), "x2": (4, 5), "x3": (4, 2)}, n_inputs=3)
    assert spec_of(builtin.Concat).accepts_null
    assert concat(torch.randn(4, 3), None, torch.randn(4, 2)).shape == (4, 5)
    assert concat(None, None, None) is None


def test_concat_builds_while_one_input_is_null_in_the_validated_order() -> None:
    ctx = FakeCtx({"x1": (4, 3)}, null={"x2"})
    concat = make(builtin.Concat).build(ctx)
    assert concat(torch.randn(4, 3), None).shape == (4, 3)


def test_variadic_ports_expand_from_their_count_param() -> None:
    inputs, outputs = spec_of(builtin.Concat).ports_for({"n_inputs": 3})
    assert [p.name for p in inputs] == ["x1", "x2", "x3"]
    inputs, outputs = spec_of(builtin.Copy).ports_for({"n_outputs": 4})
    assert [p.name for p in outputs] == ["y1", "y2", "y3", "y4"]


def test_add_and_multiply_combine_element_wise() -> None:
    a, b, c = torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 1)
    add = build(builtin.Add, {"x1": (4, 3), "x2": (4, 3), "x3": (4, 1)}, n_inputs=3)
    mul = build(builtin.Multiply, {"x1": (4, 3), "x2": (4, 3)})
    assert torch.allclose(add(a, b, c), a + b + c)
    assert torch.allclose(mul(a, b), a * b)


def test_add_refuses_shapes_that_would_broadcast_into_a_matrix() -> None:
    with pytest.raises(ValueError) as err:
        build(builtin.Add, {"x1": (4, 1), "x2": (4,)})
    assert "(4, 1)" in str(err.value) and "(4,)" in str(err.value)


def test_copy_returns_the_input_once_per_output() -> None:
    x = torch.randn(4, 3)
    outs = build(builtin.Copy, {"x": (4, 3)}, n_outputs=3)(x)
    assert isinstance(outs, tuple) and len(outs) == 3
    assert all(o is x for o in outs)
    assert build(builtin.Copy, {"x": (4, 3)}, n_outputs=1)(x) is x


def test_or_passes_the_live_input() -> None:
    x = torch.randn(4, 3)
    gate = build(builtin.OR, {"x1": (4, 3), "x2": (4, 3)})
    assert spec_of(builtin.OR).accepts_null
    assert gate(None, x) is x
    assert gate(x, None) is x
    assert gate(None, None) is None


# -- losses and output ------------------------------------------------------------------------------

LOSS_CASES = [
    (builtin.CrossEntropyLoss, torch.randn(8, 5), torch.randint(0, 5, (8,))),
    (builtin.NLLLoss, torch.randn(8, 5).log_softmax(1), torch.randint(0, 5, (8,))),
    (builtin.BCEWithLogitsLoss, torch.randn(8, 1), torch.randint(0, 2, (8,))),
    (builtin.MSELoss, torch.randn(8, 3), torch.randn(8, 3)),
    (builtin.L1Loss, torch.randn(8, 3), torch.randn(8, 3)),
]


@pytest.mark.parametrize("cls, pred, target", LOSS_CASES, ids=[c.__name__ for c, *_ in LOSS_CASES])
def test_loss_weight_scales_the_loss(cls: type, pred: torch.Tensor, target: torch.Tensor) -> None:
    spec = spec_of(cls)
    assert spec.role == "loss" and not spec.outputs
    assert [(p.name, p.optional) for p in spec.inputs] == [("input", False), ("target", True)]
    shapes = {"input": tuple(pred.shape)}
    plain = make(cls).build(FakeCtx(shapes))(pred, target)
    tripled = make(cls, weight=3.0).build(FakeCtx(shapes))(pred, target)
    assert plain.dim() == 0 and plain.item() > 0
    assert torch.allclose(tripled, 3 * plain)


def test_cross_entropy_with_more_labels_than_scores_says_how_many_outputs_are_needed() -> None:
    loss = build(builtin.CrossEntropyLoss, {"input": (4, 3)})
    with pytest.raises(ValueError) as err:
        loss(torch.randn(4, 3), torch.tensor([0, 1, 9, 2]))
    message = str(err.value)
    assert "3 class scores" in message and "9" in message and "at least 10 outputs" in message


def test_cross_entropy_refuses_a_connected_float_target() -> None:
    ctx = FakeCtx({"input": (4, 3), "target": (4, 3)}, dtypes={"target": torch.float32})
    with pytest.raises(ValueError, match="whole-number class labels"):
        make(builtin.CrossEntropyLoss).build(ctx)


def test_cross_entropy_on_real_valued_labels_from_the_input_is_refused_at_build() -> None:
    # target left unconnected: the engine supplies the Input's labels, here floats (regression data)
    ctx = FakeCtx({"input": (4, 3), "target": (4,)}, dtypes={"target": torch.float32})
    with pytest.raises(ValueError, match=r"whole-number class labels.*\(4,\)"):
        make(builtin.CrossEntropyLoss).build(ctx)


def test_bce_accepts_labels_for_a_single_logit() -> None:
    loss = build(builtin.BCEWithLogitsLoss, {"input": (4, 1), "target": (4,)}, weight=1.0)
    value = loss(torch.zeros(4, 1), torch.tensor([0, 1, 1, 0]))
    assert value.item() == pytest.approx(torch.log(torch.tensor(2.0)).item())


def test_mse_with_the_wrong_number_of_targets_names_both_shapes() -> None:
    with pytest.raises(ValueError) as err:
        build(builtin.MSELoss, {"input": (4, 3), "target": (4,)})
    assert "(4, 3)" in str(err.value) and "(4,)" in str(err.value)
    loss = build(builtin.MSELoss, {"input": (4, 3)})
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 2\)"):
        loss(torch.randn(4, 3), torch.randn(4, 2))


def test_output_returns_the_predictions() -> None:
    spec = spec_of(builtin.Output)
    assert spec.role == "output" and not spec.outputs
    x = torch.randn(4, 10)
    assert build(builtin.Output, {"x": (4, 10)})(x, torch.zeros(4)) is x


# -- Input -------------------------------------------------------------------------------------------


def test_input_block_loads_the_embedded_digits() -> None:
    spec = spec_of(builtin.Input)
    assert spec.role == "input" and [p.name for p in spec.outputs] == ["x", "y"] and not spec.inputs
    source = make(builtin.Input, reshape=[1, 8, 8], batch_size=32).load(FakeCtx({}))
    assert source.sample_shape == (1, 8, 8) and source.num_classes == 10
    x, y = next(source.batches("train", epoch=0, shuffle=True))
    assert x.shape == (32, 1, 8, 8) and y.shape == (32,)


def test_input_block_resolves_a_relative_csv_path_against_the_project(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "tiny.csv").write_text(
        "a,b,target\n" + "".join(f"{i},{-i},{i % 2}\n" for i in range(10))
    )
    ctx = FakeCtx({}, project_dir=tmp_path)
    source = make(
        builtin.Input,
        source="csv",
        path="data/tiny.csv",
        label_column="target",
        val_percent=0,
        test_percent=20,
    ).load(ctx)
    assert source.name == "tiny.csv" and source.split_size("train") == 8 and source.num_classes == 2


def test_input_block_without_a_file_asks_for_one() -> None:
    from dpg_blocks.engine.data.datasets import DatasetError

    with pytest.raises(DatasetError, match="choose a csv file"):
        make(builtin.Input, source="csv").load(FakeCtx({}, name="Input 1"))


def test_input_block_noise_source() -> None:
    source = make(builtin.Input, source="noise", noise_shape=[3, 2], noise_count=10, batch_size=4).load(
        FakeCtx({})
    )
    assert not source.has_labels and source.sample_shape == (3, 2) and source.num_batches("train") == 3
