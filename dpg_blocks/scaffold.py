"""``dpg-blocks new-pack NAME``: write a pip-installable block pack with two example blocks and a test.

The pack registers itself exactly like the built-in one: its ``pyproject.toml`` lists the
package under the ``dpg_blocks.blocks`` entry-point group, and the package's ``BLOCKS`` are its
blocks (``engine/packs/registry.py``). Standard library only; nothing is written when the name or
the folder is refused.
"""

from __future__ import annotations

import keyword
import re
import sys
from pathlib import Path

from dpg_blocks.core.atomic_file import write_text_atomic

# Names a pack cannot take: the built-in pack's entry-point name, this package, and
# standard-library modules (an installed pack of that name would shadow them).
RESERVED = {"builtin", "dpg_blocks", "dpg-blocks", "torch"}


class PackError(ValueError):
    """A name or folder that ``new-pack`` refuses (the message says why; nothing was written)."""


def check_name(name: str) -> None:
    """Raise :class:`PackError` unless ``name`` can be the pack's import name and entry-point name."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise PackError(
            f"{name!r} is not a valid Python package name: use letters, digits and underscores, "
            "not starting with a digit (e.g. my_blocks)"
        )
    if keyword.iskeyword(name):
        raise PackError(f"{name!r} is a Python keyword and cannot be imported as a package")
    if name in RESERVED or name in sys.stdlib_module_names:
        raise PackError(f"{name!r} is already taken (by dpg-blocks, torch or the standard library); pick another name")


def _title(name: str) -> str:
    return " ".join(part.capitalize() for part in name.split("_") if part) or name


def pack_files(name: str) -> dict[str, str]:
    """The pack's files, relative path -> text."""
    subs = {"NAME": name, "TITLE": _title(name)}

    def fill(template: str) -> str:
        return re.sub(r"\{\{(NAME|TITLE)\}\}", lambda m: subs[m.group(1)], template)

    return {
        "pyproject.toml": fill(PYPROJECT),
        "README.md": fill(README),
        f"src/{name}/__init__.py": fill(INIT),
        f"src/{name}/modules.py": fill(MODULES),
        f"tests/test_{name}.py": fill(TEST),
    }


def new_pack(name: str, parent: Path | str = ".") -> Path:
    """Write the pack ``parent/name/``; raises :class:`PackError` (writing nothing) when refused."""
    check_name(name)
    root = Path(parent).expanduser() / name
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise PackError(f"{root} already exists and is not an empty folder; choose another name or --dir")
    for rel, text in pack_files(name).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, text)
    return root


PYPROJECT = '''\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{{NAME}}"
version = "0.1.0"
description = "A block pack for dpg-blocks: {{TITLE}}"
readme = "README.md"
requires-python = ">=3.11"
# torch comes with dpg-blocks; the blocks import it only inside build().
dependencies = ["dpg-blocks"]

[project.optional-dependencies]
test = ["pytest"]

# dpg-blocks loads every module listed in this group: its BLOCKS list is the pack, and the
# name on the left is the pack's name in `dpg-blocks plugins` and the editor's Plugins tab.
[project.entry-points."dpg_blocks.blocks"]
{{NAME}} = "{{NAME}}"

[tool.setuptools.packages.find]
where = ["src"]

[tool.pytest.ini_options]
testpaths = ["tests"]
'''

README = '''\
# {{NAME}}

A block pack for dpg-blocks with two example blocks to start from: **Scale** (multiply by a
constant) and **Residual MLP** (x + MLP(x), sized from its input).

## Install

In the environment where dpg-blocks is installed:

    pip install -e .

`dpg-blocks plugins` now lists the pack `{{NAME}}` and its blocks. In the editor they are in
the Blocks menu under **{{TITLE}}** (start the editor after installing; the Plugins tab lists
every pack and any that failed to load, with its error).

The pack is found through the `dpg_blocks.blocks` entry point in `pyproject.toml`. After
editing a block, restart the editor: an installed pack's module is imported once per engine.

## Test

    pip install pytest     # if it is not installed yet
    python -m pytest

The tests check each block's declaration (ports, params, category) and build and run it on a
small tensor, the way the engine does.

## Write your own blocks

Add a class to `src/{{NAME}}/__init__.py` and list it in `BLOCKS`:

* `@block("{{NAME}}.MyBlock", category=CATEGORY)`: a stable id (saved in project files; never
  change it once projects use it) and the Blocks menu path (`"A/B"` nests B under A).
* `x = In("tensor")`, `y = Out("tensor")`: ports; the attribute names are the port names.
* `factor = Param(float, 1.0, min=0.0, doc="…")`: params (int, float, bool, str, or a choice
  with `choices=[…]`); the inspector shows one field each and checks the bounds.
* A loss: `@block(..., role="loss", metric="classification")`, with the prediction as the first
  `In` and an `In` named `target`; `metric` ("classification", "binary", "regression" or
  none) gives the accuracy (or, for "regression", R², MSE and MAE) training reports on it.
* `build(self, ctx)` returns the `torch.nn.Module` the engine runs, called with the inputs in
  port order. `ctx.in_shape("x")` is the input's shape (batch first); a `ValueError` raised
  here shows on the block in red. Import torch inside `build()` (or from `modules.py`, as here),
  so that listing the blocks stays fast.

## Without installing

`src/{{NAME}}` also works as a plugin folder: copy it into the user plugin folder (its path is
shown in the editor's Plugins tab) and its blocks appear while the editor runs.
'''

INIT = '''\
"""{{TITLE}}: a block pack for dpg-blocks.

dpg-blocks finds this module through the ``dpg_blocks.blocks`` entry point in
``pyproject.toml`` and registers every class in ``BLOCKS``; they appear in the editor's Blocks
menu under ``CATEGORY``.

Importing this module must stay cheap and must not import torch: the blocks are listed from
their declarations alone. ``build()`` runs in the engine only, and imports torch there.
"""

from __future__ import annotations

from typing import Any

from dpg_blocks.blocks import BuildContext, In, Out, Param, block

PACK_NAME = "{{NAME}}"
# Shown beside the pack when it is used as a plugin folder (installed, the version in
# pyproject.toml is shown); keep the two equal.
__version__ = "0.1.0"
CATEGORY = "{{TITLE}}"  # the Blocks menu path; "{{TITLE}}/Layers" would nest a submenu


@block("{{NAME}}.Scale", category=CATEGORY, name="Scale")
class Scale:
    """Multiplies every value by a constant: y = factor · x."""

    # Ports are class attributes: their names are the port names on the node.
    x = In("tensor", doc="Any tensor.")
    y = Out("tensor", doc="x times the factor, the same shape as x.")
    # One inspector field per param; on the instance build() sees, self.factor is its value.
    factor = Param(float, 2.0, doc="What every value is multiplied by.")

    def build(self, ctx: BuildContext) -> Any:
        """A module computing ``factor * x``."""
        from .modules import ScaleModule  # torch is imported here, in the engine only

        return ScaleModule(self.factor)


@block("{{NAME}}.Residual", category=CATEGORY, name="Residual MLP")
class Residual:
    """x + W2·act(W1·x) over the last dimension: the output has the input's shape, so these stack.

    The layers are sized from the input's shape when the block is built.
    """

    x = In("tensor", doc="(batch, …, features).")
    y = Out("tensor", doc="The same shape as x.")
    hidden = Param(int, 64, min=1, doc="Width of the hidden layer.")
    activation = Param(str, "relu", choices=["relu", "gelu", "tanh"], doc="Between the two layers.")

    def build(self, ctx: BuildContext) -> Any:
        """Two linear layers around an activation, plus the skip connection."""
        shape = ctx.in_shape("x")
        if len(shape) < 2:
            # The message is shown on the block in red: say what is wrong and what would fit.
            raise ValueError(f"Residual MLP needs (batch, features), got shape {tuple(shape)}")
        from .modules import ResidualMLP

        return ResidualMLP(shape[-1], self.hidden, self.activation)


# A loss block is declared with role="loss" (no Out port; build() returns a module giving the
# loss). metric= says how training reports accuracy on its prediction (the first In) against its
# In named "target": "classification" (argmax vs class labels), "binary" (logit > 0 vs 0/1
# labels), "regression" (R², MSE, MAE of values) or None, the default (loss only). For example:
#     @block("{{NAME}}.FocalLoss", category=CATEGORY, role="loss", metric="classification")

# The pack's blocks, in menu order (without BLOCKS, every @block class in the module is used).
BLOCKS = [Scale, Residual]
'''

MODULES = '''\
"""The torch modules that the {{NAME}} blocks build (imported only inside ``build()``).

``export_args()`` returns the arguments a module was constructed with: File › Export writes
``ScaleModule(2.0)`` into the standalone script and copies this class (and what it uses from
this pack) into it, so the script runs without the pack installed.
"""

from __future__ import annotations

from torch import Tensor, nn

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


class ScaleModule(nn.Module):
    """``factor * x``."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: Tensor) -> Tensor:
        return x * self.factor

    def export_args(self) -> tuple[float]:
        return (self.factor,)

    def extra_repr(self) -> str:
        return f"factor={self.factor}"


class ResidualMLP(nn.Module):
    """``x + fc2(act(fc1(x)))``."""

    def __init__(self, features: int, hidden: int, activation: str) -> None:
        super().__init__()
        self.args = (features, hidden, activation)
        self.fc1 = nn.Linear(features, hidden)
        self.act = ACTIVATIONS[activation]()
        self.fc2 = nn.Linear(hidden, features)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.fc2(self.act(self.fc1(x)))

    def export_args(self) -> tuple[int, int, str]:
        return self.args
'''

TEST = '''\
"""The {{NAME}} pack: the declarations the editor shows, and the modules the engine builds."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch
from dpg_blocks.blocks import spec_of

from {{NAME}} import BLOCKS, CATEGORY, PACK_NAME, Residual, Scale


@dataclass
class FakeCtx:
    """The engine's BuildContext reduced to the input shapes (batch first)."""

    shapes: dict[str, tuple[int, ...]]
    block_id: str = "b1"
    name: str = "block"
    path: list[str] = field(default_factory=lambda: ["block"])
    project_dir: Path = Path(".")
    device: str = "cpu"

    def in_shape(self, port: str) -> tuple[int, ...]:
        if port not in self.shapes:
            raise ValueError(f"input {port!r} carries no tensor")
        return self.shapes[port]

    def in_dtype(self, port: str) -> Any:
        return torch.float32 if port in self.shapes else None

    def connected(self, port: str) -> bool:
        return port in self.shapes


def build(cls: type, shapes: dict[str, tuple[int, ...]], **params: Any) -> torch.nn.Module:
    """The module the engine builds for a block of ``cls`` with ``params`` (the rest default)."""
    return spec_of(cls).instantiate(params).build(FakeCtx(shapes))


def test_the_pack_lists_its_blocks_in_its_category():
    specs = [spec_of(cls) for cls in BLOCKS]
    assert [s.id for s in specs] == [f"{PACK_NAME}.Scale", f"{PACK_NAME}.Residual"]
    assert all(s.category == CATEGORY and s.doc for s in specs)


def test_scale_has_one_input_one_output_and_a_float_factor():
    spec = spec_of(Scale)
    assert [p.name for p in spec.inputs] == ["x"] and [p.name for p in spec.outputs] == ["y"]
    (factor,) = spec.params
    assert (factor.name, factor.type, factor.default) == ("factor", "float", 2.0)


def test_scale_multiplies_by_its_factor():
    x = torch.randn(4, 3)
    assert torch.allclose(build(Scale, {"x": (4, 3)}, factor=0.5)(x), 0.5 * x)


def test_residual_declares_its_width_and_activation():
    spec = spec_of(Residual)
    assert [p.name for p in spec.inputs] == ["x"] and [p.name for p in spec.outputs] == ["y"]
    params = {p.name: p for p in spec.params}
    assert params["hidden"].type == "int" and params["hidden"].min == 1
    assert params["activation"].choices == ["relu", "gelu", "tanh"]


def test_residual_keeps_the_shape_and_every_weight_learns():
    module = build(Residual, {"x": (8, 5)}, hidden=16, activation="gelu")
    x = torch.randn(8, 5)
    y = module(x)
    assert y.shape == x.shape
    y.sum().backward()
    assert all(p.grad is not None for p in module.parameters())


def test_residual_on_a_batch_of_scalars_says_which_shape_it_needs():
    with pytest.raises(ValueError, match=r"needs \\(batch, features\\), got shape \\(8,\\)"):
        build(Residual, {"x": (8,)})


def test_importing_the_pack_does_not_import_torch():
    code = f"import sys, {PACK_NAME}; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
'''
