"""Issue 13's acceptance for the imported sequence, style and shared-weight models (the GPT and
the model with a data-dependent `if` have their own tests): each, imported with its weights and
given a dataset the test makes and a loss, trains one epoch from those weights with
`dpg-blocks train`; its exported script computes the original's outputs with the imported
weights and trains that epoch to the CLI's figures; and its ONNX export, where torch can make
one, computes the original's outputs too."""

from __future__ import annotations

import importlib.util
import inspect
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from engine_fixtures import registry
from test_export import script_run, without_time
from test_import_fx import user_folder  # noqa: F401 - the fixture is used by name
from test_import_sequences import LanguageModel, StyleNet
from test_shared_weights import Siamese, TiedLM

from dpg_blocks.cli import main
from dpg_blocks.core import AddBlock, Connect, Endpoint, SetParam, save_project
from dpg_blocks.engine.interop.export import write_export
from dpg_blocks.engine.interop.import_fx import import_module, write_weights

N = 96  # samples per dataset: 64 train, 9 val, 19 test batches of 16


@dataclass
class Case:
    make: Callable[[], torch.nn.Module]
    shapes: list[tuple[int, ...]]
    dtypes: list[str] | None
    data: Callable[[np.random.Generator], list[tuple[np.ndarray, np.ndarray]]]  # (x, y) per Input
    loss: str  # scoring what feeds the Output against the first Input's y


def tokens(vocab: int, length: int) -> Callable[[np.random.Generator], list[tuple[np.ndarray, np.ndarray]]]:
    """Counting sequences: the next token is always one more."""
    def make(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
        x = (rng.integers(0, vocab, size=(N, 1)) + np.arange(length)) % vocab
        return [(x, (x + 1) % vocab)]
    return make


def pairs(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Two towers' inputs; the target is how far apart the pair is."""
    a, b = rng.normal(size=(2, N, 6)).astype(np.float32)
    return [(a, np.abs(a - b).sum(1, keepdims=True).astype(np.float32)), (b, np.zeros((N, 1), np.float32))]


def images(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """3×8×8 images and 2×32×32 targets: a style net's output is an image."""
    x = rng.normal(size=(N, 3, 8, 8)).astype(np.float32)
    return [(x, np.repeat(np.repeat(x[:, :2], 4, axis=2), 4, axis=3).astype(np.float32))]


CASES = {
    "lstm-language-model": Case(LanguageModel, [(12,)], ["int64"], tokens(50, 12), "builtin.CrossEntropyLoss"),
    "siamese": Case(Siamese, [(6,), (6,)], None, pairs, "builtin.MSELoss"),
    "style": Case(StyleNet, [(3, 8, 8)], None, images, "builtin.MSELoss"),
    "tied-embeddings": Case(TiedLM, [(5,)], ["int64"], tokens(30, 5), "builtin.CrossEntropyLoss"),
}


def trainable(case: Case, folder: Path) -> tuple[torch.nn.Module, Path, list[tuple[np.ndarray, np.ndarray]]]:
    """The imported project with its weights as the starting point, data on each Input and a loss."""
    torch.manual_seed(0)
    module = case.make().eval()
    imported = import_module(module, case.shapes, registry(), input_dtypes=case.dtypes)
    assert not imported.custom  # every operation is a readable built-in block, no code to trust
    write_weights(imported, module, registry(), folder, folder / "imported.pt")
    project = imported.project
    project.training.weights = "imported.pt"
    project.training.epochs = 1
    graph = project.graph
    inputs = sorted((b for b in graph.blocks.values() if b.type == "builtin.Input"), key=lambda b: b.name)
    assert len(inputs) == len(case.shapes)
    data = case.data(np.random.default_rng(0))
    for i, (block, (x, y)) in enumerate(zip(inputs, data, strict=True)):
        np.savez(folder / f"data{i}.npz", x=x, y=y)
        for name, value in {"source": "npz", "path": f"data{i}.npz", "normalize": "none", "batch_size": 16}.items():
            SetParam(block.id, name, value).apply(project)
    output = next(b for b in graph.blocks.values() if b.type == "builtin.Output")
    scores = next(link.src for link in graph.links if link.dst.block == output.id)
    loss = registry().specs[case.loss].new_block(project.new_id(), "loss", (0.0, 300.0))
    AddBlock(loss).apply(project)
    Connect(scores, Endpoint(loss.id, "input")).apply(project)
    Connect(Endpoint(inputs[0].id, "y"), Endpoint(loss.id, "target")).apply(project)
    if len(inputs) > 1:  # a prediction from several inputs: which labels it is scored against
        Connect(Endpoint(inputs[0].id, "y"), Endpoint(output.id, "target")).apply(project)
    path = folder / "imported.dpgb"
    save_project(project, path)
    return module, path, data


def exported_model(script: Path) -> torch.nn.Module:
    spec = importlib.util.spec_from_file_location(f"exported_{script.parent.name}", script)
    exported = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = exported  # type: ignore[union-attr]
    spec.loader.exec_module(exported)  # type: ignore[union-attr]
    model = next(c for c in vars(exported).values() if isinstance(c, type) and hasattr(c, "order_1"))()
    exported.load_weights(model, script.parent.parent / "imported.pt")
    return model.eval()


def prediction(model: torch.nn.Module, xs: list[torch.Tensor], ys: list[torch.Tensor]) -> torch.Tensor:
    """The first head's prediction of the exported model's order 1 (the targets only feed the loss)."""
    names = list(inspect.signature(model.order_1).parameters)
    given_x, given_y = iter(xs), iter(ys)
    args = [next(given_x) if n.startswith("x_") else next(given_y) for n in names]
    _, _, heads = model.order_1(*args)
    return heads[0][0]


@pytest.mark.parametrize("name", list(CASES))
def test_an_imported_model_trains_from_its_weights_and_its_export_computes_and_trains_the_same(tmp_path, name):
    case = CASES[name]
    module, path, data = trainable(case, tmp_path)
    batch = [torch.as_tensor(x[:8]) for x, _ in data]
    targets = [torch.as_tensor(y[:8]) for _, y in data]

    metrics = tmp_path / "cli.jsonl"
    assert main(["validate", str(path)]) == 0
    assert main(["train", str(path), "--no-run", "--device", "cpu", "-q", "--metrics-out", str(metrics)]) == 0
    cli = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert len(cli) == 1 and np.isfinite(cli[0]["loss"])

    (tmp_path / "out").mkdir()
    from dpg_blocks.core import load_project

    script = write_export(load_project(path), registry(), tmp_path, tmp_path / "out" / "model.py", trusted=True)
    with torch.no_grad():
        assert float((prediction(exported_model(script), batch, targets) - module(*batch)).abs().max()) <= 1e-5
    _, script_metrics, _ = script_run(script, 1)  # from the imported weights, as the CLI started
    assert without_time(script_metrics) == without_time(cli)


@pytest.mark.parametrize("name", list(CASES))
def test_an_imported_model_exports_to_onnx_computing_what_the_original_computes(tmp_path, name):
    from dpg_blocks.core import load_project
    from dpg_blocks.engine.interop.export_onnx import export_onnx, missing_onnx_packages

    if missing_onnx_packages():
        pytest.skip("ONNX export is the optional extra dpg-blocks[onnx] (scripts/setup.sh installs it)")
    ort = pytest.importorskip("onnxruntime")
    module, path, data = trainable(CASES[name], tmp_path)
    onnx, _ = export_onnx(load_project(path), registry(), tmp_path, tmp_path / "model.onnx",
                          weights=tmp_path / "imported.pt", trusted=True)
    session = ort.InferenceSession(str(onnx))
    batch = [x[:5] for x, _ in data]
    # an NPZ's features come in as float32, token ids too (Embedding takes ids of any number
    # type), so the ONNX input is typed as the Input's data is
    given = {i.name: x.astype(np.float32 if i.type == "tensor(float)" else np.int64)
             for i, x in zip(session.get_inputs(), batch, strict=True)}
    (out,) = session.run(None, given)
    with torch.no_grad():
        assert float(abs(out - module(*map(torch.as_tensor, batch)).numpy()).max()) <= 1e-5
