"""Import a file, not a script: a training script's top level (argparse, data loading, training)
does not run when its model class is imported; what the class needs from it is named by line."""

from __future__ import annotations

import pytest
import torch
from engine_fixtures import registry
from test_import_fx import user_folder  # noqa: F401 - the fixture is used by name

from dpg_blocks.cli import main
from dpg_blocks.engine.interop.import_fx import FxImportError, import_to_project, load_module

SCRIPT = '''
"""Train a digits classifier."""
import argparse
import sys

import torch
from torch import nn

HIDDEN = 32
parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True)
args = parser.parse_args()  # would exit: no --data on the import's command line
open(MARKER, "w").write("the script ran")  # noqa
loader = torch.utils.data.DataLoader(list(range(10)))


class Net(nn.Module):
    def __init__(self, hidden: int = HIDDEN) -> None:
        super().__init__()
        self.fc1 = nn.Linear(64, hidden)
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))


class NeedsArgs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(64, args.width)


class ParsesItsOwn(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        argparse.ArgumentParser().parse_args(["--nope"])


if __name__ == "__main__":
    for epoch in range(10):
        pass
'''


@pytest.fixture
def script(tmp_path):
    marker = tmp_path / "ran.txt"
    path = tmp_path / "train_digits.py"
    path.write_text(SCRIPT.replace("MARKER", repr(str(marker))))
    return path, marker


def test_the_model_class_of_a_training_script_imports_without_running_the_script(tmp_path, script, capsys):
    path, marker = script
    out = tmp_path / "net.dpgb"
    assert main(["import", f"{path}:Net", "-o", str(out), "--input-shape", "1,8,8"]) == 0
    assert not marker.exists()  # its top level (argparse, a file written, a data loader) did not run
    assert main(["validate", str(out)]) == 0
    assert sum(p.numel() for p in load_module(f"{path}:Net").parameters()) == 64 * 32 + 32 + 32 * 10 + 10


def test_what_the_class_needs_from_skipped_code_is_named_with_its_line(tmp_path, script):
    path, _ = script
    with pytest.raises(FxImportError, match=r"NeedsArgs needs 'args', which train_digits.py sets at line 12 in code "
                                            r"the import does not run"):
        import_to_project(f"{path}:NeedsArgs", [(1, 8, 8)], tmp_path / "n.dpgb", registry())
    with pytest.raises(FxImportError, match=r"ParsesItsOwn\(\) exited \(SystemExit 2\): it parses the command line"):
        import_to_project(f"{path}:ParsesItsOwn", [(1, 8, 8)], tmp_path / "p.dpgb", registry())


class DataDependent(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(4, 4)

    def forward(self, x):
        if x.sum() > 0:  # data-dependent: fx cannot trace it
            return self.fc(x)
        return x


def test_a_data_dependent_if_is_refused_naming_its_source_line():
    import inspect

    from dpg_blocks.engine.interop.import_fx import import_module

    line = inspect.getsourcelines(DataDependent.forward)[1] + 1
    with pytest.raises(FxImportError, match=rf"cannot trace DataDependent at line {line} of test_import_script.py "
                                            r"\(`if x.sum\(\) > 0:  # data-dependent: fx cannot trace it`\).*"
                                            r"an `if`, `assert` or loop on a tensor's value has no block"):
        import_module(DataDependent(), [(4,)], registry())
