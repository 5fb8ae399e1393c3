"""Export a project to one standalone PyTorch script (scenario E, DESIGN.md §4).

The script needs only torch and numpy and reproduces ``dpg-blocks train``. It is assembled from
what the engine itself runs, not from a second implementation:

* the model: one ``nn.Module`` class per SuperBlock and one for the project, built with the
  shapes validation decided (``nn.Linear(64, 128)``); each order's forward is the straight-line
  code of :class:`~.codegen.CodeGen` in its :class:`~.codegen.MethodCodeGen` form;
* layers of the built-in pack that plain torch lacks (a class with ``export_args()``) and the
  dataset classes are copied from their modules by :class:`~.source_copy.SourceCopier`, only
  those used; Custom blocks' code is inlined as written, run by the engine's
  :class:`~.usercode.UserCodeModule`;
* the training loop is :mod:`.export_runtime`, which follows the Trainer step for step.

Same results: the layers are constructed in the order validation built them (so a seeded run
draws the same initial weights), the data are split, normalised and shuffled by the same code,
and each step runs the orders in sequence with the same optimizers.
"""

from __future__ import annotations

import ast
import re
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from dpg_blocks.builtin import loss_modules, sequence_modules
from dpg_blocks.builtin import modules as builtin_modules
from dpg_blocks.core.atomic_file import write_text_atomic
from dpg_blocks.core.project import Project

from ..compiling import progress, ties, usercode
from ..compiling.codegen import MethodCodeGen
from ..compiling.model import CompileResult, compile_project
from ..compiling.module_code import ModuleCode, call_arguments, module_code_of, parse_arguments
from ..compiling.source_text import RESERVED, comment, doc, lit
from ..data import datasets, readers
from ..packs.registry import Registry
from ..training import evaluation, optimizers, scoring
from . import export_runtime
from .export_run import ExportError, _RunWriter
from .source_copy import CopyError, SourceCopier, names_used

__all__ = ["ExportError", "export_project", "write_export"]

# Names the generated code (and inlined user code, which the engine runs with torch, nn, F and
# math at hand) may use, with their import.
IMPORTS = {
    "argparse": ("", "import argparse"), "math": ("", "import math"), "json": ("", "import json"),
    "torch": ("", "import torch"), "np": ("", "import numpy as np"),
    "F": ("", "import torch.nn.functional as F"), "nn": ("torch", "nn"), "Tensor": ("torch", "Tensor"),
    "Path": ("pathlib", "Path"), "Any": ("typing", "Any"),
}
PATH_SEP = " › "


# The engine modules an exported script holds copies from (data, training, the runtime); a
# script's names must not clash with theirs, and their copies form the script's last section.
SUPPORT_MODULES = (export_runtime, datasets, readers, optimizers, scoring, progress, evaluation, ties)

def export_project(project: Project, registry: Registry, project_dir: Path | str, trusted: bool = False) -> str:
    """The standalone script of ``project`` (raises CompileError when it does not validate)."""
    with torch.random.fork_rng(devices=[]):  # building draws weights; the caller's stream stays
        result = compile_project(project, registry, project_dir, trusted=trusted)
    return _Exporter(project, result, Path(project_dir).resolve()).source()


def write_export(
    project: Project, registry: Registry, project_dir: Path | str, path: Path | str, trusted: bool = False
) -> Path:
    """Write the script to ``path`` (atomically); returns the absolute path."""
    text = export_project(project, registry, project_dir, trusted)
    out = Path(path).expanduser().resolve()
    write_text_atomic(out, text)  # the user's umask; a failure leaves the old file
    return out


def camel(name: str, fallback: str) -> str:
    """``"Feature Extractor"`` -> ``FeatureExtractor`` (a class name)."""
    words = re.findall(r"[A-Za-z0-9]+", name.replace("'", ""))
    text = "".join(w[0].upper() + w[1:] for w in words)
    return text if text and not text[0].isdigit() else fallback + text


def snake(name: str) -> str:
    """``"Gradient Reversal"`` -> ``gradient_reversal`` (a function name)."""
    text = "_".join(re.findall(r"[A-Za-z0-9]+", name)).lower()
    return text if text and not text[0].isdigit() else f"block_{text}"


def _unique(base: str, taken: set[str]) -> str:
    out, n = base, 2
    while out in taken:
        out, n = f"{base}{n}", n + 1
    taken.add(out)
    return out


@dataclass
class _Container:
    """The model or one SuperBlock: a class whose ``__init__`` builds its children."""

    path: str  # attribute path under the model ("" for the model itself)
    name: str  # the block's (or project's) name
    children: list[str] = field(default_factory=list)  # attribute paths, in construction order
    class_name: str = ""


class _Exporter(_RunWriter):
    def __init__(self, project: Project, result: CompileResult, project_dir: Path) -> None:
        self.project, self.result, self.project_dir = project, result, project_dir
        self.flat = result.flat
        self.model = result.model
        self.copier = SourceCopier(drop_methods=("export_args",))
        self.copy_modules = [export_runtime, datasets, readers, usercode]  # where generated code's names live
        # class and function names made from user names must not hide what the script uses
        self.taken = {"load_data", "make_orders", "main", "DATA_DIR", *RESERVED, *IMPORTS}
        for module in (*SUPPORT_MODULES, usercode, builtin_modules, loss_modules, sequence_modules):
            self.taken |= self.copier.defined(module)  # a SuperBlock named "Concat" must not hide a layer
        by_module = {id(mod): name for name, mod in self.model.named_modules() if name}
        self.paths = {nid: by_module[id(mod)] for nid, mod in self.model.block_modules.items()}
        self.user_functions: list[str] = []

    # -- the model tree ----------------------------------------------------------------------
    def _tree(self) -> dict[str, _Container]:
        """Containers by attribute path; children ordered as the layers were built."""
        order = {nid: i for i, nid in enumerate(self.result.build_order)}
        containers = {"": _Container("", self.project.name)}
        first: dict[str, int] = {}  # attribute path -> first build index under it
        for nid, path in self.paths.items():
            parts = path.split(".")
            node = self.flat.nodes[nid]
            for depth, sid in enumerate(node.super_ids):
                cpath = ".".join(parts[: depth + 1])
                containers.setdefault(cpath, _Container(cpath, self.flat.supers[sid][0].name))
            for depth in range(len(parts)):
                p = ".".join(parts[: depth + 1])
                first[p] = min(first.get(p, len(order)), order.get(nid, len(order)))
        for p in first:
            parent = p.rpartition(".")[0]
            containers[parent].children.append(p)
        for c in containers.values():
            c.children.sort(key=lambda p: first[p])
        return containers

    def _built_in_order(self, containers: dict[str, _Container]) -> bool:
        """Whether building the tree draws weights in the order validation did."""
        leaf_of = {p: nid for nid, p in self.paths.items()}
        weighted = {nid for nid, m in self.model.block_modules.items() if any(True for _ in m.parameters())}
        sequence: list[str] = []

        def walk(path: str) -> None:
            for child in containers[path].children:
                if child in containers:
                    walk(child)
                elif leaf_of[child] in weighted:
                    sequence.append(leaf_of[child])

        walk("")
        return sequence == [nid for nid in self.result.build_order if nid in weighted]

    # -- constructing one layer --------------------------------------------------------------
    def _construct(self, nid: str, module: nn.Module) -> str:
        where = PATH_SEP.join(self.flat.nodes[nid].path)
        if isinstance(module, usercode.CustomModule):
            return self._custom(nid, module)
        code = module_code_of(module)
        if code is not None:
            return self._module_code(nid, code)
        export_args = getattr(module, "export_args", None)
        cls = type(module)
        if callable(export_args):
            home = sys.modules.get(cls.__module__)
            if home is None or cls.__qualname__ != cls.__name__ or not self.copier.has(home, cls.__name__):
                raise ExportError(f"{where}: its layer class {cls.__qualname__} is not defined at the top of a module")
            try:
                self.copier.add(home, cls.__name__)
            except CopyError as e:
                raise ExportError(f"{where}: its layer {cls.__name__} cannot be written out alone: {e}") from None
            self.taken.add(cls.__name__)
            return f"{cls.__name__}({', '.join(lit(a) for a in export_args())})"
        if cls.__module__.startswith("torch.nn.modules."):
            text = f"nn.{module!r}"
            try:
                again = eval(text, {"nn": nn, "torch": torch})  # noqa: S307 - our own repr, checked
            except Exception:
                again = None
            if "\n" in text or type(again) is not cls or repr(again) != repr(module):
                raise ExportError(f"{where}: {cls.__name__} cannot be written out from its description {module!r}")
            return text
        raise ExportError(
            f"{where}: its layer {cls.__module__}.{cls.__qualname__} cannot be written out (neither a torch.nn "
            "layer nor a class with export_args())"
        )

    def _custom(self, nid: str, module: usercode.CustomModule) -> str:
        node = self.flat.nodes[nid]
        where = PATH_SEP.join(node.path)
        _check_inlinable(where, module.source)
        name = _unique(f"{snake(node.block.name)}_code", self.taken)
        back = "backward" if module.user_backward is not None else "None"
        self.user_functions.append(
            f"def {name}():\n"
            f'    """The code of the Custom block \"{doc(where)}\", as written in the project."""\n'
            f"{textwrap.indent(module.source.strip(), '    ')}\n\n"
            f"    return forward, {back}\n"
        )
        return (
            f"UserCodeModule(*{name}(), {lit(module.input_names)}, {lit(module.output_names)}, {lit(module.values)}, "
            f"{lit(module.gradient_scale)}{_schedule_arg(module)})"
        )

    def _module_code(self, nid: str, code: ModuleCode) -> str:
        """An Opaque Module block: its class's code as the body of a function returning the class."""
        node = self.flat.nodes[nid]
        where = PATH_SEP.join(node.path)
        _check_inlinable(where, code.source)
        name = _unique(f"{snake(node.block.name)}_class", self.taken)
        self.user_functions.append(
            f"def {name}() -> type:\n"
            f'    """The class of the Opaque Module block \"{doc(where)}\", as written in the project."""\n'
            f"{textwrap.indent(code.source.strip(), '    ')}\n\n"
            f"    return {code.class_name}\n"
        )
        # written from the parsed values, never the text as typed
        return f"{name}()({call_arguments(*parse_arguments(code.arguments))})"

    # -- writing -----------------------------------------------------------------------------
    def _classes(self, containers: dict[str, _Container], in_order: bool) -> list[str]:
        leaf_of = {p: nid for nid, p in self.paths.items()}
        for c in sorted(containers.values(), key=lambda c: c.path.count(".") if c.path else -1):
            fallback = "Model" if not c.path else "SuperBlock"
            c.class_name = _unique(camel(c.name, fallback), self.taken)
        texts: list[str] = []

        def write(c: _Container) -> None:
            for child in c.children:
                if child in containers:
                    write(containers[child])
            lines = [f"class {c.class_name}(nn.Module):"]
            if c.path:
                lines.append(f'    """The SuperBlock \"{doc(c.name)}\": its layers (the model\'s order_<k> runs them)."""')
            else:
                lines += [f'    """The project \"{doc(c.name)}\": its layers, and one forward per order.',
                          "",
                          "    ``order_<k>`` takes x, y of each Input emitting in order k and returns the order's",
                          "    total loss, each loss, and (prediction, target) of each scored head.",
                          '    """']
            lines += ["", "    def __init__(self) -> None:", "        super().__init__()"]
            for child in c.children:
                attr = child.rpartition(".")[2]
                if child in containers:
                    lines.append(f"        self.{attr} = {containers[child].class_name}()")
                    continue
                nid = leaf_of[child]
                made = self._construct(nid, self.model.block_modules[nid])
                name = self.flat.nodes[nid].block.name
                lines.append(f"        self.{attr} = {made}" + (f"  # {comment(name)}" if name != attr else ""))
            if not c.path:
                lines += self._root_methods(in_order)
            texts.append("\n".join(lines))

        write(containers[""])
        return texts

    def _root_methods(self, in_order: bool) -> list[str]:
        lines = ["", "    def forward(self, order: int, *batch: Tensor | None) -> tuple:",
                 '        """Order ``order``\'s forward on x, y of each of its Inputs."""',
                 '        return getattr(self, f"order_{order}")(*batch)']
        if not in_order:
            weighted = [nid for nid in self.result.build_order
                        if any(True for _ in self.model.block_modules[nid].parameters())]
            layers = ", ".join(f"self.{self.paths[nid]}" for nid in weighted)
            lines += ["", "    def draw_initial_weights(self) -> None:",
                      '        """Draw the initial weights again in the order dpg-blocks built the layers."""',
                      f"        for layer in ({layers},):",
                      "            layer.reset_parameters()"]
        for index, plan in self.result.plans.items():
            order = next((o for o in self.project.orders if o.index == index), None)
            selected = set(order.losses) if order is not None and order.losses is not None else None
            title = order.name if order is not None and order.name else f"order {index}"
            code = MethodCodeGen(plan, selected, self.paths, title).generate()
            lines += ["", code.source.rstrip()]
        return lines

    def _docstring(self, root: str) -> str:
        name = self.project.name
        return f'''"""{doc(name)}: a model exported from dpg-blocks, with the training it runs there.

Needs only PyTorch and NumPy. Train it as ``dpg-blocks train`` does:

    python {{this file}} [--epochs N] [--seed S] [--device auto|cpu|cuda] [--data-dir DIR]

With the same seed it draws the same initial weights, reads the same batches in the same order
and takes the same optimizer steps as ``dpg-blocks train`` on the same device, so the losses and
accuracies match. --max-steps N trains only the first N steps of each epoch; --metrics-out FILE
and --steps-out FILE write each epoch's metrics and each step's losses as JSON lines.

Data: a dataset path that is relative in the project is resolved against --data-dir, which
defaults to the folder the project file was in when it was exported ({doc(str(self.project_dir))}).
Absolute paths (dpg-blocks' digits example among them) are used as they are. Pass --data-dir
when the data move with the script.

Contents: the layer classes of dpg-blocks' blocks that plain torch lacks (only those used);
the model, {root}, with one nn.Module class per SuperBlock and one method per order
(``order_<k>``: the straight-line forward dpg-blocks compiles); the data loading; the training
loop. A checkpoint of ``dpg-blocks train --checkpoint-dir`` loads into the model:
``model.load_state_dict(torch.load(path)["model"])``.
"""'''

    def generated(self) -> tuple[str, str, str, str]:
        """What this project's names and settings write: the docstring, the model classes, the
        Custom blocks' functions and the data/orders/run part (the rest is copied code)."""
        containers = self._tree()
        in_order = self._built_in_order(containers)
        classes = self._classes(containers, in_order)
        root = containers[""].class_name
        names = self._input_names()
        generated = [
            "# The folder relative dataset paths start from: the project's folder at export time.",
            f"DATA_DIR = {lit(str(self.project_dir))}",
            "", "",
            *self._load_data(names), "", "",
            *self._make_orders(root, names), "", "",
            *self._main(root, in_order), "", "",
            'if __name__ == "__main__":',
            "    main()",
        ]
        return self._docstring(root), "\n\n\n".join(classes), "\n\n\n".join(self.user_functions), "\n".join(generated)

    def source(self) -> str:
        """The whole script."""
        docstring, model_part, user_part, tail = self.generated()
        used = names_used(ast.parse("\n".join([user_part, model_part, tail])))
        for name in sorted(used):
            home = next((m for m in self.copy_modules if self.copier.has(m, name)), None)
            if home is not None:
                self.copier.add(home, name)
            elif name in IMPORTS:
                module, what = IMPORTS[name]
                self.copier.imports.setdefault(module, set()).add(what)
        self.copier.add(optimizers, "seed_everything")
        # the built-in pack's layers (a plugin's copied layer class sits with them)
        support = {m.__name__ for m in SUPPORT_MODULES}
        internal = support | {usercode.__name__}
        layers = self.copier.texts(self.copier.copied_from() - internal)
        code_support = self.copier.texts({usercode.__name__})
        rest = self.copier.texts(support)
        sections = [
            ("the layers of dpg-blocks' blocks that plain torch lacks (copied from dpg-blocks)", layers),
            ("Custom blocks: the code as written in the project, run as dpg-blocks runs it",
             [*code_support, *self.user_functions]),
            ("the model", [model_part]),
            ("data and training, as dpg-blocks does them (copied from dpg-blocks)", rest),
            ("this project's data, orders and run", [tail]),
        ]
        body = [docstring, "", "from __future__ import annotations", "", *self.copier.import_lines()]
        for title, texts in sections:
            texts = [t.strip("\n") for t in texts if t.strip()]
            if texts:
                gap = [""] if body[-1].startswith(("import", "from")) else ["", ""]  # isort: 1 after imports
                body += [*gap, f"# -- {title} " + "-" * max(3, 96 - len(title)), "", "", "\n\n\n".join(texts)]
        return "\n".join(body).rstrip() + "\n"


def _check_inlinable(where: str, source: str) -> None:
    """Refuse code that cannot be the body of a function (its top-level ``global``, ``import *``)."""
    for stmt in ast.parse(source).body:
        star = isinstance(stmt, ast.ImportFrom) and any(a.name == "*" for a in stmt.names)
        future = isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"
        if star or future or isinstance(stmt, ast.Global | ast.Nonlocal):
            what = "import *" if star else "from __future__ import" if future else "global/nonlocal"
            raise ExportError(f"{where}: its code cannot be inlined as a function (line {stmt.lineno}: "
                              f"{what} at the top level)")


def _schedule_arg(module: usercode.CustomModule) -> str:
    """A Custom block's gradient schedule argument (none for the default, constant)."""
    return "" if module.gradient_schedule == "constant" else f", {lit(module.gradient_schedule)}"
