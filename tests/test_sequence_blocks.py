"""Sequence, attention, resampling and tensor-op blocks: each gives what torch gives, refuses
bad shapes naming them, and a small sequence model validates, trains and exports."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from test_builtin_blocks import build
from torch import nn

import dpg_blocks.builtin as builtin

torch.manual_seed(0)


def same_weights(ours: nn.Module, theirs: nn.Module) -> nn.Module:
    theirs.load_state_dict(ours.state_dict())  # parameter names are torch's own
    return theirs


def test_embedding_takes_float_ids_and_names_an_out_of_range_one():
    emb = build(builtin.Embedding, {"ids": (4, 7)}, num_embeddings=10, embedding_dim=3, padding_idx=0)
    ids = torch.randint(0, 10, (4, 7))
    ref = same_weights(emb, nn.Embedding(10, 3, padding_idx=0))
    assert torch.equal(emb(ids.float()), ref(ids)) and emb(ids).shape == (4, 7, 3)
    with pytest.raises(ValueError, match=r"ids must be whole numbers 0 to 9, but the input holds 0 to 12.*at least 13"):
        emb(torch.tensor([[0, 12]]))
    with pytest.raises(ValueError, match="padding id 10 is not below num embeddings 10"):
        build(builtin.Embedding, {"ids": (4, 7)}, num_embeddings=10, padding_idx=10)


@pytest.mark.parametrize("cls, ref_cls", [(builtin.RNN, nn.RNN), (builtin.GRU, nn.GRU), (builtin.LSTM, nn.LSTM)])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_recurrent_blocks_give_torchs_sequence_and_final_states_batch_first(cls, ref_cls, bidirectional):
    layer = build(cls, {"x": (3, 5, 4)}, hidden_size=6, num_layers=2, bidirectional=bidirectional)
    ref = same_weights(layer, ref_cls(4, 6, num_layers=2, bidirectional=bidirectional, batch_first=True))
    x = torch.randn(3, 5, 4)
    outs = layer(x)
    seq, state = ref(x)
    h, c = state if ref_cls is nn.LSTM else (state, None)
    dirs = 2 if bidirectional else 1
    assert torch.equal(outs[0], seq) and outs[0].shape == (3, 5, 6 * dirs)
    last = torch.cat((h[-2], h[-1]), 1) if bidirectional else h[-1]
    assert torch.equal(outs[1], last) and outs[1].shape == (3, 6 * dirs)
    assert torch.equal(outs[2], h.transpose(0, 1)) and outs[2].shape == (3, 2 * dirs, 6)
    if c is not None:
        assert len(outs) == 4 and torch.equal(outs[3], c.transpose(0, 1))
    with pytest.raises(ValueError, match=r"expects a 3-D input \(batch, length, features\) but got shape \(3, 20\)"):
        build(cls, {"x": (3, 20)})


def test_multihead_attention_self_cross_causal_and_padding():
    mha = build(builtin.MultiheadAttention, {"query": (2, 5, 8)}, num_heads=2, causal=True)
    ref = same_weights(mha, nn.MultiheadAttention(8, 2, batch_first=True))
    x = torch.randn(2, 5, 8)
    mask = torch.ones(5, 5, dtype=torch.bool).triu(1)
    y, w = mha(x, None, None, None)
    ry, rw = ref(x, x, x, attn_mask=mask)
    assert torch.allclose(y, ry, atol=1e-6) and torch.allclose(w, rw, atol=1e-6)
    assert torch.all(w[:, 0, 1:] == 0)  # the first position sees only itself
    # cross-attention with other key/value dims and a padding mask
    cross = build(builtin.MultiheadAttention, {"query": (2, 5, 8), "key": (2, 3, 6), "value": (2, 3, 4),
                                              "padding_mask": (2, 3)}, num_heads=4)
    pad = torch.tensor([[0, 0, 1], [0, 0, 0]])
    y, w = cross(x, torch.randn(2, 3, 6), torch.randn(2, 3, 4), pad)
    assert y.shape == (2, 5, 8) and torch.all(w[0, :, 2] == 0)
    with pytest.raises(ValueError, match=r"embed dim 8 \(query \(2, 5, 8\)\) does not divide into 3 heads"):
        build(builtin.MultiheadAttention, {"query": (2, 5, 8)}, num_heads=3)


def test_dot_product_attention_matches_torch_and_checks_shapes():
    sdpa = build(builtin.ScaledDotProductAttention, {"q": (2, 4, 5, 8), "k": (2, 4, 5, 8), "v": (2, 4, 5, 3)},
                 causal=True)
    q, k, v = torch.randn(2, 4, 5, 8), torch.randn(2, 4, 5, 8), torch.randn(2, 4, 5, 3)
    assert torch.allclose(sdpa(q, k, v, None), F.scaled_dot_product_attention(q, k, v, is_causal=True))
    with pytest.raises(ValueError, match="must share the last dim"):
        build(builtin.ScaledDotProductAttention, {"q": (2, 5, 8), "k": (2, 5, 7), "v": (2, 5, 3)})


def test_norms_resampling_and_padding_match_torch():
    x = torch.randn(2, 4, 6, 6)
    cases = [
        (build(builtin.InstanceNorm2d, {"x": x.shape}, affine=True), nn.InstanceNorm2d(4, affine=True), x),
        (build(builtin.InstanceNorm1d, {"x": (2, 4, 6)}), nn.InstanceNorm1d(4), x[:, :, 0]),
        (build(builtin.GroupNorm, {"x": x.shape}, num_groups=2), nn.GroupNorm(2, 4), x),
        (build(builtin.Upsample, {"x": x.shape}, mode="bilinear"), nn.Upsample(scale_factor=2.0, mode="bilinear"), x),
        (build(builtin.PixelShuffle, {"x": x.shape}), nn.PixelShuffle(2), x),
        (build(builtin.Pad, {"x": x.shape}, padding=[1, 2, 2, 1], mode="reflect"), nn.ReflectionPad2d((1, 2, 2, 1)), x),
        (build(builtin.Pad, {"x": x.shape}, padding=[1, 1], value=3.0), nn.ConstantPad1d((1, 1), 3.0), x),
        (build(builtin.Identity, {"x": x.shape}), nn.Identity(), x),
    ]
    for ours, ref, inp in cases:
        ref.load_state_dict(ours.state_dict())
        assert torch.equal(ours(inp), ref(inp)), type(ref).__name__
    with pytest.raises(ValueError, match=r"4 channels \(shape \(2, 4, 6, 6\)\) do not divide into 3 groups"):
        build(builtin.GroupNorm, {"x": x.shape}, num_groups=3)
    with pytest.raises(ValueError, match=r"padding \[6, 1\] must be smaller than the dim it pads \(6"):
        build(builtin.Pad, {"x": x.shape}, padding=[6, 1], mode="reflect")
    with pytest.raises(ValueError, match="do not divide by the factor squared"):
        build(builtin.PixelShuffle, {"x": (2, 6, 4, 4)})


def test_tensor_ops_match_torch():
    x = torch.randn(2, 6, 4)
    assert torch.equal(build(builtin.Permute, {"x": x.shape}, dims=[0, 2, 1])(x), x.permute(0, 2, 1))
    assert torch.equal(build(builtin.Transpose, {"x": x.shape}, dim0=-1, dim1=1)(x), x.transpose(1, 2))
    b = torch.randn(2, 4, 3)
    assert torch.equal(build(builtin.MatMul, {"a": x.shape, "b": b.shape})(x, b), x @ b)
    assert torch.equal(build(builtin.LogSoftmax, {"x": x.shape})(x), x.log_softmax(-1))
    parts = build(builtin.Chunk, {"x": x.shape}, chunks=3, dim=1)(x)
    assert len(parts) == 3 and all(torch.equal(p, q) for p, q in zip(parts, x.chunk(3, 1), strict=True))
    assert torch.equal(build(builtin.Mean, {"x": x.shape}, dims=[1])(x), x.mean(1))
    assert torch.equal(build(builtin.Sum, {"x": x.shape}, dims=[1, 2], keepdim=True)(x), x.sum((1, 2), keepdim=True))
    ids = build(builtin.PositionIds, {"x": x.shape})(x)
    assert ids.dtype == torch.int64 and torch.equal(ids, torch.arange(6).expand(2, 6))
    with pytest.raises(ValueError, match=r"Permute: \[0, 1\] must list each of the 3 dims of shape \(2, 6, 4\) once"):
        build(builtin.Permute, {"x": x.shape}, dims=[0, 1])
    with pytest.raises(ValueError, match=r"does not cut into 4 parts"):
        build(builtin.Chunk, {"x": (2, 6)}, chunks=4)
    with pytest.raises(ValueError, match=r"not 0 \(the batch\)"):
        build(builtin.Mean, {"x": x.shape}, dims=[0])
    with pytest.raises(ValueError, match=r"the last dim of a \(2, 6, 4\) must equal the row count of b \(2, 3, 3\)"):
        build(builtin.MatMul, {"a": x.shape, "b": (2, 3, 3)})


def sequence_project(tmp_path):
    """The digits read as 8 rows of 8 pixels by an LSTM with attention over its outputs, token
    embedding of the rows' positions added: most of the new blocks in one trainable model."""
    from engine_fixtures import builder

    from dpg_blocks.core.project_file import save_project

    b = builder("rows")
    data = b.add("builtin.Input", "digits", reshape=[8, 8], batch_size=64)
    pos = b.add("builtin.PositionIds", "positions")
    emb = b.add("builtin.Embedding", "position table", num_embeddings=8, embedding_dim=8)
    add = b.add("builtin.Add", "with positions")
    lstm = b.add("builtin.LSTM", "reader", hidden_size=16, bidirectional=True)
    att = b.add("builtin.MultiheadAttention", "attend", num_heads=4)
    norm = b.add("builtin.LayerNorm", "norm")
    mean = b.add("builtin.Mean", "pool", dims=[1])
    fc = b.add("builtin.Linear", "classes", out_features=10)
    loss = b.add("builtin.CrossEntropyLoss", "loss")
    b.link(data, "x", pos, "x")
    b.link(pos, "ids", emb, "ids")
    b.link(data, "x", add, "x1")
    b.link(emb, "y", add, "x2")
    b.link(add, "y", lstm, "x")
    b.link(lstm, "seq", att, "query")
    b.link(att, "y", norm, "x")
    b.link(norm, "y", mean, "x")
    b.link(mean, "y", fc, "x")
    b.link(fc, "y", loss, "input")
    b.link(data, "y", loss, "target")
    b.project.training.epochs = 3
    b.project.orders[0].optimizer.lr = 0.01
    path = tmp_path / "rows.dpgb"
    save_project(b.project, path)
    return path


def test_a_sequence_model_validates_trains_and_exports_to_the_same_losses(tmp_path):
    from engine_fixtures import registry
    from test_export import script_run, without_time

    from dpg_blocks.cli import main
    from dpg_blocks.core.project_file import load_project
    from dpg_blocks.engine.interop.export import write_export

    project = sequence_project(tmp_path)
    assert main(["validate", str(project)]) == 0
    out = tmp_path / "m.jsonl"
    assert main(["train", str(project), "--no-run", "--device", "cpu", "-q", "--metrics-out", str(out)]) == 0
    cli = [json.loads(line) for line in out.read_text().splitlines()]
    assert cli[-1]["test_accuracy"] > 0.6  # it learns
    (tmp_path / "out").mkdir()
    script = write_export(load_project(project), registry(), tmp_path, tmp_path / "out" / "model.py", trusted=True)
    _, metrics, _ = script_run(script, 3)
    assert without_time(metrics) == without_time(cli)


def test_select_slice_and_linear_on_the_last_dim():
    x = torch.randn(2, 6, 4)
    assert torch.equal(build(builtin.Select, {"x": x.shape})(x), x[:, -1])
    assert torch.equal(build(builtin.Slice, {"x": x.shape}, start=1, end=-1, step=2)(x), x[:, 1:-1:2])
    assert torch.equal(build(builtin.Slice, {"x": x.shape}, dim=2, start=2)(x), x[:, :, 2:])
    with pytest.raises(ValueError, match=r"index 6 is outside dim 1 \(6\)"):
        build(builtin.Select, {"x": x.shape}, index=6)
    with pytest.raises(ValueError, match="is empty"):
        build(builtin.Slice, {"x": x.shape}, start=4, end=2)
    fc = build(builtin.Linear, {"x": x.shape}, out_features=3, last_dim=True)
    ref = same_weights(fc, nn.Linear(4, 3))
    assert torch.equal(fc(x), ref(x)) and fc(x).shape == (2, 6, 3)
    # without it, John's unflattened input is still an error that says what to tick (scenario A)
    with pytest.raises(ValueError, match=r"tick 'flatten input' or insert a Flatten block.*tick 'last dim'"):
        build(builtin.Linear, {"x": (4, 1, 8, 8)}, out_features=10)


def test_cross_entropy_scores_every_position_of_a_sequence():
    from test_builtin_blocks import FakeCtx, make

    from dpg_blocks.engine.training.scoring import _score

    scores, labels = torch.randn(4, 8, 40), torch.randint(0, 40, (4, 8))
    ctx = FakeCtx({"input": (4, 8, 40), "target": (4, 8)}, dtypes={"target": torch.int64})
    loss = make(builtin.CrossEntropyLoss).build(ctx)
    assert torch.allclose(loss(scores, labels), F.cross_entropy(scores.reshape(32, 40), labels.reshape(32)))
    correct, total = _score("classification", scores, labels)
    assert total == 32 and int(correct) == int((scores.argmax(2) == labels).sum())
    with pytest.raises(ValueError, match="labels go from 45 to 45; labels must be 0..39"):  # the usual checks
        loss(scores, torch.full((4, 8), 45))
