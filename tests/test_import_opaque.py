"""A submodule torch.fx cannot trace (an `if` on a tensor's value) comes in as one Opaque Module
block: its class's source copied with what it uses, its weights, run as that module; it trains,
saves and exports. Only the top-level forward's own `if` is still refused, naming its line."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from engine_fixtures import registry, train_on
from test_import_fx import count_parameters, max_difference, user_folder  # noqa: F401 - the fixture is used by name

from dpg_blocks.cli import main
from dpg_blocks.core import load_project, save_project
from dpg_blocks.engine.interop.export import write_export
from dpg_blocks.engine.interop.export_onnx import build_inference
from dpg_blocks.engine.interop.import_fx import FxImportError, import_module, load_module
from dpg_blocks.engine.training.trainer import Trainer, starting_weights

# A training script's file: the model's gate branches on its input's mean, which fx cannot trace;
# the gate uses a helper function and a constant of the file, and is built with arguments.
MODEL_FILE = textwrap.dedent('''
    import argparse

    import torch
    from torch import nn

    SCALE = 0.5


    def halve(x):
        return x * SCALE


    class Gate(nn.Module):
        """Transforms its input only when its mean is above the threshold."""

        def __init__(self, features, threshold=0.0):
            super().__init__()
            self.fc = nn.Linear(features, features)
            self.threshold = threshold

        def forward(self, x):
            if x.mean() > self.threshold:
                return torch.tanh(self.fc(x))
            return halve(x)


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.gate = Gate(6, threshold=0.25)
            self.hidden = nn.Linear(6, 16)
            self.classes = nn.Linear(16, 3)

        def forward(self, x):
            return self.classes(torch.relu(self.hidden(self.gate(x))))


    if __name__ == "__main__":
        parser = argparse.ArgumentParser()
        parser.add_argument("--data", required=True)
        parser.parse_args()
''')


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "gated.py"
    path.write_text(MODEL_FILE)
    return path


def both_branches() -> torch.Tensor:
    """Two batches, one taking each branch of the gate."""
    x = torch.randn(16, 6)
    return torch.stack([x.abs() + 1.0, -x.abs() - 1.0])


def with_a_loss(path: Path, tmp_path: Path) -> Path:
    """The imported project reading a dataset the test makes, with a cross-entropy loss."""
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(96, 6)) + 1.0).astype(np.float32)  # batches the gate's fc transforms
    np.savez(tmp_path / "data.npz", x=x, y=x[:, :3].argmax(1).astype(np.int64))
    project = load_project(path)
    train_on(project, {"source": "npz", "path": "data.npz", "normalize": "none", "batch_size": 16})
    project.training.epochs = 1
    save_project(project, path)
    return path


def test_a_submodule_with_a_data_dependent_if_imports_whole_trains_and_exports(tmp_path, capsys, model_file):
    ref = f"{model_file}:Net"
    out = tmp_path / "gated.dpgb"
    torch.manual_seed(0)  # the import constructs Net: the same seed gives the test the same weights
    assert main(["import", ref, "-o", str(out), "--input-shape", "6"]) == 0
    assert "Opaque Module blocks running their own class (torch.fx cannot trace them): gate" in capsys.readouterr().out
    torch.manual_seed(0)
    original = load_module(ref).eval()
    assert main(["validate", str(out)]) == 0  # the copied class is trusted, as the import's own code
    gate = next(b for b in load_project(out).graph.walk() if b.type == "builtin.OpaqueModule")
    assert gate.name == "gate" and gate.params["class_name"] == "Gate"
    assert gate.params["arguments"] == "6, threshold=0.25"
    code = gate.params["code"]  # the class with the helper and the constant it uses, not the script
    assert "def halve(x)" in code and "SCALE = 0.5" in code and "class Net" not in code and "argparse" not in code
    assert count_parameters(out) == sum(p.numel() for p in original.parameters())

    weights = tmp_path / "gated.weights.pt"
    blocks, _ = build_inference(load_project(out), registry(), tmp_path, weights=weights, trusted=True)
    with torch.no_grad():
        for x in both_branches():
            assert float((blocks(x)[0] - original(x)).abs().max()) <= 1e-5

    project_path = with_a_loss(out, tmp_path)
    project = load_project(project_path)
    trainer = Trainer(project, registry(), tmp_path, device="cpu", seed=0, trusted=True)
    trainer.load_weights(starting_weights(project, tmp_path))
    gate_layer = trainer.model.block_modules[gate.id]
    assert type(gate_layer).__name__ == "Gate"  # the block runs the module's own class
    assert torch.equal(gate_layer.fc.weight, original.gate.fc.weight)  # the checkpoint loaded into it
    run = trainer.start_epoch()
    while not run.done:
        run.step()
    trainer.finish_epoch(run.metrics(), time.perf_counter())
    assert not torch.equal(gate_layer.fc.weight, original.gate.fc.weight)  # the optimizer trained it

    script = write_export(project, registry(), tmp_path, tmp_path / "exported.py", trusted=True)
    text = script.read_text()
    assert "dpg_blocks" not in text.replace("dpg-blocks", "") and "class Gate(nn.Module)" in text
    spec = importlib.util.spec_from_file_location("exported_gated", script)
    exported = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = exported  # type: ignore[union-attr]
    spec.loader.exec_module(exported)  # type: ignore[union-attr]
    model = next(c for c in vars(exported).values() if isinstance(c, type) and hasattr(c, "order_1"))()
    exported.load_weights(model, weights)
    model.eval()
    with torch.no_grad():
        for x in both_branches():
            _, _, heads = model.order_1(x, torch.zeros(16, dtype=torch.int64))
            assert float((heads[0][0] - original(x)).abs().max()) <= 1e-5


class Shifted(torch.nn.Module):
    """A top-level forward with its own data-dependent `if`: no block can hold it."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            return self.fc(x)
        return x


def test_the_top_level_forwards_own_if_is_still_refused_naming_its_line():
    with pytest.raises(FxImportError) as e:
        import_module(Shifted(), [(4,)], registry())
    assert "torch.fx cannot trace Shifted at line" in str(e.value) and "if x.sum() > 0:" in str(e.value)
    assert "Opaque Module" in str(e.value)  # the refusal says what would accept it


def test_an_opaque_module_made_by_hand_owns_its_parameters_and_runs_only_when_trusted(tmp_path):
    from engine_fixtures import builder

    from dpg_blocks.engine.compiling.compiler import CompileError
    from dpg_blocks.engine.compiling.model import compile_project

    b = builder("by hand")
    x = b.add("builtin.Input", "x", source="noise", noise_shape=[8])
    gate = b.add("builtin.OpaqueModule", "gate")  # the palette's default: Gate(features=8)
    out = b.add("builtin.Output", "output")
    b.link(x, "x", gate, "x")
    b.link(gate, "y", out, "x")
    result = compile_project(b.project, registry(), tmp_path, trusted=True)
    layer = result.model.block_modules[gate]
    assert [n for n, _ in layer.named_parameters()] == ["scale"]  # the class's own names
    assert "gate.scale" in result.model.state_dict()  # what a checkpoint saves and loads
    with pytest.raises(CompileError, match="not trusted"):
        compile_project(b.project, registry(), tmp_path)


@pytest.mark.parametrize("params, message", [
    ({"class_name": "Missing"}, "the code defines no nn.Module class 'Missing' (it defines Gate)"),
    ({"arguments": "features=len('x')"}, "each must be a literal"),
    ({"arguments": "*sizes"}, "write each argument out"),
    ({"arguments": "8,,"}, "are not Python call arguments"),
    ({"class_name": "not a name"}, "is not a Python class name"),
])
def test_a_wrong_class_or_arguments_is_the_blocks_error_naming_what(tmp_path, params, message):
    from engine_fixtures import builder

    from dpg_blocks.engine.compiling.model import compile_project

    b = builder("wrong")
    x = b.add("builtin.Input", "x", source="noise", noise_shape=[8])
    gate = b.add("builtin.OpaqueModule", "gate", **params)
    b.link(x, "x", gate, "x")
    b.link(gate, "y", b.add("builtin.Output", "output"), "x")
    with pytest.raises(Exception, match="gate") as e:
        compile_project(b.project, registry(), tmp_path, trusted=True)
    assert message in str(e.value)


class Scaled(torch.nn.Module):
    """Untraceable, and built with a tensor: its arguments cannot be written as literals."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight if x.sum() > 0 else x


class HoldsScaled(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scaled = Scaled(torch.ones(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scaled(x) + 1


def test_an_untraceable_submodule_whose_arguments_are_unknown_is_refused_naming_it(tmp_path):
    with pytest.raises(FxImportError) as e:
        import_module(HoldsScaled(), [(4,)], registry())
    assert "node 'scaled' (call_module scaled): torch.fx cannot trace it" in str(e.value)
    assert "Scaled's constructor takes arguments the import did not see" in str(e.value)
    path = tmp_path / "holds.py"
    path.write_text("import torch\nfrom torch import nn\n\n\n" + textwrap.dedent('''
        class Scaled(nn.Module):
            def __init__(self, weight):
                super().__init__()
                self.weight = nn.Parameter(weight)

            def forward(self, x):
                return x * self.weight if x.sum() > 0 else x


        class Holds(nn.Module):
            def __init__(self):
                super().__init__()
                self.scaled = Scaled(torch.ones(4))

            def forward(self, x):
                return self.scaled(x) + 1
    '''))
    with pytest.raises(FxImportError, match="Scaled was constructed with a Tensor .argument 1.; an Opaque Module"):
        import_module(load_module(f"{path}:Holds"), [(4,)], registry())


NESTED_FILE = '''
import torch
from torch import nn


class Split(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.fc = nn.Linear(n, n)

    def forward(self, x):
        if x.mean() > 0:
            return self.fc(x), x
        return x, self.fc(x)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.split = Split(4)
        self.out = nn.Linear(4, 4)

    def forward(self, x):
        a, b = self.split(x)
        return self.out(a) + b


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(Block(), Block())
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.body(x))
'''


def test_opaque_submodules_deep_in_the_tree_keep_their_superblocks_and_give_a_tuple_as_ports(tmp_path):
    from dpg_blocks.engine.interop.import_fx import write_weights

    path = tmp_path / "nested.py"
    path.write_text(NESTED_FILE)
    module = load_module(f"{path}:Net")
    imported = import_module(module, [(4,)], registry())
    assert imported.opaque == ["body.0.split", "body.1.split"]  # the traceable Blocks around them are blocks
    body = next(b for b in imported.project.graph.blocks.values() if b.name == "body")
    first = next(b for b in body.graph.blocks.values() if b.name == "Block 0")
    split = next(b for b in first.graph.blocks.values() if b.name == "split")
    assert split.type == "builtin.OpaqueModule" and [p.name for p in split.outputs] == ["y1", "y2"]
    write_weights(imported, module, registry(), tmp_path, tmp_path / "w.pt")
    blocks, _ = build_inference(imported.project, registry(), tmp_path, weights=tmp_path / "w.pt", trusted=True)
    module.eval()
    with torch.no_grad():
        for x in both_branches():
            assert float((blocks(x[:, :4])[0] - module(x[:, :4])).abs().max()) <= 1e-5


def test_what_the_class_imports_from_a_file_beside_it_is_copied_not_imported(tmp_path):
    (tmp_path / "clipping.py").write_text("import torch\n\nLIMIT = 2.0\n\n\ndef clip(x):\n    return torch.clamp(x, -LIMIT, LIMIT)\n")
    (tmp_path / "beside.py").write_text(textwrap.dedent('''
        from torch import nn
        from clipping import clip


        class Gate(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(3, 3)

            def forward(self, x):
                return clip(self.fc(x)) if x.sum() > 0 else x


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.gate = Gate()

            def forward(self, x):
                return self.gate(x) * 2
    '''))
    imported = import_module(load_module(f"{tmp_path / 'beside.py'}:Net"), [(3,)], registry())
    code = next(b for b in imported.project.graph.walk() if b.type == "builtin.OpaqueModule").params["code"]
    assert "def clip(x)" in code and "LIMIT = 2.0" in code and "clipping" not in code  # runs without that folder


# Asserts on the input's shape, at the top and in a submodule: checks, not computation. (In a file
# of its own: pytest rewrites the asserts of test modules, and a user's file is not rewritten.)
CHECKED = textwrap.dedent('''
    import torch
    from torch import nn


    class CheckedInner(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 8)

        def forward(self, x):
            assert x.shape[1] == 4
            return torch.relu(self.fc(x))


    class Checked(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = CheckedInner()
            self.out = nn.Linear(8, 3)

        def forward(self, x):
            assert x.dim() == 2, "Checked needs (batch, features)"
            return self.out(self.inner(x))
''')


def test_asserts_on_shapes_are_checked_once_and_left_out_not_refused(tmp_path):
    (tmp_path / "checked.py").write_text(CHECKED, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("checked_model", tmp_path / "checked.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    imported = import_module(mod.Checked(), [(4,)], registry())
    assert imported.opaque == [] and not imported.custom  # plain blocks: the asserts are not control flow
    assert sorted(imported.asserts) == ["checked.py line 12", "checked.py line 23"]
    assert max_difference(mod.Checked(), (4,), tmp_path) <= 1e-6
    # an assert that fails on the example input is still refused, naming it
    with pytest.raises(FxImportError, match=r"assert at line 12 of checked.py .*fails on inputs \[\(5,\)\]"):
        import_module(mod.Checked(), [(5,)], registry())
    # an `if` on a value is control flow: still refused at the top level
    with pytest.raises(FxImportError, match="if x.sum"):
        import_module(Shifted(), [(4,)], registry())
