"""Shared weights: one parameter tensor in two blocks (a Siamese network's tower used twice, a
language model's output layer tied to its input Embedding) — validated, trained once, saved,
exported with the tie, and what an import makes of a model that shares."""

from __future__ import annotations

import json

import pytest
import torch
from engine_fixtures import builder, registry
from test_export import script_run, without_time
from test_import_fx import user_folder  # noqa: F401 - the fixture is used by name
from torch import nn

from dpg_blocks.cli import main
from dpg_blocks.core import (
    Connect,
    Endpoint,
    GraphError,
    SetTies,
    Tie,
    load_project,
    loads,
    project_to_dict,
    save_project,
)
from dpg_blocks.engine.compiling.compiler import CompileError
from dpg_blocks.engine.compiling.model import compile_project
from dpg_blocks.engine.interop.export import write_export
from dpg_blocks.engine.interop.export_onnx import build_inference
from dpg_blocks.engine.interop.import_fx import import_module, write_weights


def siamese(tmp_path, out_features: int = 16):
    """Two towers of one Linear each on the digits, their outputs added, a classifier: tower 2's
    weight and bias are tower 1's."""
    b = builder("siamese")
    x = b.add("builtin.Input", "digits", batch_size=64)
    t1 = b.add("builtin.Linear", "tower", out_features=16)
    t2 = b.add("builtin.Linear", "tower copy", out_features=out_features)
    scale = b.add("builtin.Tanh", "squash")
    add = b.add("builtin.Add", "both")
    fc = b.add("builtin.Linear", "classes", out_features=10)
    loss = b.add("builtin.CrossEntropyLoss", "loss")
    b.link(x, "x", t1, "x")
    b.link(x, "x", scale, "x")
    b.link(scale, "y", t2, "x")
    b.link(t1, "y", add, "x1")
    b.link(t2, "y", add, "x2")
    b.link(add, "y", fc, "x")
    b.link(fc, "y", loss, "input")
    b.link(x, "y", loss, "target")
    b.history.do(SetTies([Tie(t2, "weight", t1, "weight"), Tie(t2, "bias", t1, "bias")]))
    b.project.training.epochs = 2
    path = tmp_path / "siamese.dpgb"
    save_project(b.project, path)
    return path, t1, t2


def test_a_shared_tower_is_one_tensor_trained_once_saved_and_exported(tmp_path):
    path, t1, t2 = siamese(tmp_path)
    project = load_project(path)
    assert project.ties == [Tie(t2, "weight", t1, "weight"), Tie(t2, "bias", t1, "bias")]
    assert loads(json.dumps(project_to_dict(project))).ties == project.ties  # the file keeps them
    result = compile_project(project, registry(), tmp_path)
    m = result.model.block_modules
    assert m[t2].weight is m[t1].weight and m[t2].bias is m[t1].bias
    assert sum(p.numel() for p in result.model.parameters()) == (64 * 16 + 16) + (16 * 10 + 10)
    out = tmp_path / "m.jsonl"
    assert main(["train", str(path), "--no-run", "--device", "cpu", "-q", "--metrics-out", str(out)]) == 0
    cli = [json.loads(line) for line in out.read_text().splitlines()]
    (tmp_path / "out").mkdir()
    script = write_export(project, registry(), tmp_path, tmp_path / "out" / "model.py", trusted=True)
    assert 'tie(model, "tower_copy.weight", "tower.weight")' in script.read_text()
    _, metrics, _ = script_run(script, 2)
    assert without_time(metrics) == without_time(cli)  # the script trains the same tied model


def test_a_tie_between_different_sizes_is_the_tied_blocks_error(tmp_path):
    path, _, t2 = siamese(tmp_path, out_features=8)
    with pytest.raises(CompileError) as err:
        compile_project(load_project(path), registry(), tmp_path)
    rec = next(r for r in err.value.records if r.id == t2)
    assert rec.status == "error" and "its weight of shape (8, 64) cannot share the weights of tower.weight" in rec.message
    with pytest.raises(GraphError, match="cannot share weights with itself"):
        SetTies([Tie(t2, "weight", t2, "weight")]).apply(load_project(path))


class Siamese(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.tower = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 4))
        self.head = nn.Linear(4, 1)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.head((self.tower(a) - self.tower(b)).abs())


class TiedLM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(30, 12)
        self.mix = nn.Linear(12, 12)
        self.out = nn.Linear(12, 30, bias=False)
        self.out.weight = self.embed.weight  # tied input and output embeddings

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.mix(self.embed(ids))))


@pytest.mark.parametrize("module, shapes, dtypes", [
    (Siamese(), [(6,), (6,)], None),
    (TiedLM(), [(5,)], ["int64"]),
], ids=["siamese", "tied-embeddings"])
def test_an_imported_model_that_shares_weights_comes_in_tied(tmp_path, module, shapes, dtypes):
    imported = import_module(module, shapes, registry(), input_dtypes=dtypes)
    assert imported.project.ties
    weights = tmp_path / "w.pt"
    result = write_weights(imported, module, registry(), tmp_path, weights)  # checks the parameter count
    assert sum(p.numel() for p in result.model.parameters()) == sum(p.numel() for p in module.parameters())
    blocks, _ = build_inference(imported.project, registry(), tmp_path, weights=weights, trusted=True)
    inputs = [torch.randint(0, 30, (4, *s)) if dtypes else torch.randn(4, *s) for s in shapes]
    with torch.no_grad():
        assert float((blocks(*inputs)[0] - module.eval()(*inputs)).abs().max()) <= 1e-6


def test_paste_sharing_weights_makes_a_tied_copy_undoably(tmp_path):
    from ui_fixtures import builtin_catalog

    from dpg_blocks.ui.state.editor_state import EditorState

    st = EditorState()
    st.set_catalog(builtin_catalog())
    b = builder("tower")
    x = b.add("builtin.Input", "digits")
    fc = b.add("builtin.Linear", "tower", out_features=8)
    act = b.add("builtin.ReLU", "act")
    b.link(x, "x", fc, "x")
    b.link(fc, "y", act, "x")
    save_project(b.project, tmp_path / "t.dpgb")
    st.open(str(tmp_path / "t.dpgb"))
    st.copy([fc, act])
    ids = st.paste(shared=True)
    copy = next(i for i in ids if st.project.block(i).type == "builtin.Linear")
    assert st.project.ties == [Tie(copy, "*", fc, "*")] + [t for t in st.project.ties if t.block != copy]
    assert st.shares_with(copy) == "tower" and st.shares_with(fc) is None
    st.copy([copy])
    again = st.paste(shared=True)[0]  # a copy of a copy shares the first's weights
    assert st.shares_with(again) == "tower"
    st.undo()
    st.undo()
    assert st.project.ties == [] and copy not in {blk.id for blk in st.project.graph.walk()}
    st.redo()
    assert st.shares_with(copy) == "tower"
    # the engine ties every parameter of the copy to the tower's
    st.do(Connect(Endpoint(x, "x"), Endpoint(copy, "x")))
    model = compile_project(st.project, registry(), tmp_path).model.block_modules
    assert model[copy].weight is model[fc].weight and model[copy].bias is model[fc].bias
    assert st.stop_sharing(ids) and not st.project.ties  # (the ReLU copy shared its none too)
