"""What an fx import starts from and gives: the module loaded from a reference (a file or a
module path, run definitions only), the import's result, and its error."""

from __future__ import annotations

import ast
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from dpg_blocks.core.project import Project

from .import_opaque import record_constructor_calls


class FxImportError(ValueError):
    """The module cannot be imported; the message names the node and its target."""


def load_module(ref: str, args: list[Any] | dict[str, Any] | None = None) -> nn.Module:
    """Instantiate ``FILE.py:ClassName`` with ``args`` (a JSON-like list or dict; none by default).

    The file is read as a library, not run as a script: only its imports, definitions and
    constant assignments run (:func:`definitions_only`), so a training script's argument
    parsing, data loading or training at the top level does not happen. What the class needs
    from the skipped code is named in the error, with its line.
    """
    file_text, sep, class_name = ref.rpartition(":")
    if not sep or not file_text or not class_name:
        raise FxImportError(f"name the module as FILE.py:ClassName, got {ref!r}")
    file = Path(file_text).expanduser().resolve()
    if not file.is_file():
        raise FxImportError(f"no file {file}")
    try:
        tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
    except (SyntaxError, UnicodeDecodeError) as e:
        raise FxImportError(f"{file.name} is not readable Python: {e}") from e
    kept, skipped = definitions_only(tree)
    module = types.ModuleType(f"dpg_blocks_import_{file.stem}")
    module.__file__ = str(file)
    sys.modules[module.__name__] = module  # dataclasses and pickling look classes up there
    sys.path.insert(0, str(file.parent))  # the file may import its neighbours
    try:
        exec(compile(kept, str(file), "exec"), module.__dict__)  # noqa: S102 - the user's own file, as before
        record_constructor_calls(module)  # an opaque submodule's block constructs it with the same arguments
        cls = getattr(module, class_name, None)
        if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
            raise FxImportError(f"{file.name} has no nn.Module class {class_name!r}")
        return cls(**args) if isinstance(args, dict) else cls(*(args or []))
    except NameError as e:
        name = getattr(e, "name", None) or str(e)
        line = skipped.get(str(name))
        if line is None:
            raise
        raise FxImportError(
            f"{class_name} needs {name!r}, which {file.name} sets at line {line} in code the import does not run "
            "(beyond imports, definitions and constants, a file's top level is skipped so that a training script "
            "does not train); make it a constant or pass it with --args"
        ) from e
    except SystemExit as e:
        raise FxImportError(
            f"{class_name}({'...' if args else ''}) exited (SystemExit {e.code}): it parses the command line or "
            "calls sys.exit; give its constructor its settings with --args instead"
        ) from e
    finally:
        sys.path.remove(str(file.parent))


def definitions_only(tree: ast.Module) -> tuple[ast.Module, dict[str, int]]:
    """The statements of ``tree`` a library import needs — imports, functions, classes and
    assignments of values computed without calls — and, for the rest, each name it would
    have set with its line (so an error can say where the skipped value came from)."""
    kept: list[ast.stmt] = []
    skipped: dict[str, int] = {}

    def reads_skipped(nodes: list[ast.expr]) -> bool:
        return any(isinstance(n, ast.Name) and n.id in skipped for e in nodes for n in ast.walk(e))

    for stmt in tree.body:
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            kept.append(stmt)
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            # what runs when it is defined: decorators, defaults, base classes
            at_def = [*stmt.decorator_list, *(stmt.bases if isinstance(stmt, ast.ClassDef) else
                                              [*stmt.args.defaults, *(d for d in stmt.args.kw_defaults if d)])]
            if reads_skipped(at_def):
                skipped.setdefault(stmt.name, stmt.lineno)
            else:
                kept.append(stmt)
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            kept.append(stmt)  # the docstring
        elif isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign) and stmt.value is not None \
                and not any(isinstance(n, ast.Call) for n in ast.walk(stmt.value)) and not reads_skipped([stmt.value]):
            kept.append(stmt)  # a constant (one computed from a skipped value is skipped too)
        elif isinstance(stmt, ast.Try) and all(isinstance(s, ast.Import | ast.ImportFrom | ast.Pass)
                                               for s in stmt.body):
            kept.append(stmt)  # try: import fast_thing / except ImportError: …
        else:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    skipped.setdefault(node.id, stmt.lineno)
    return ast.Module(body=kept, type_ignores=[]), skipped




@dataclass
class ImportedModule:
    """The imported project, which node became which block, and the copied weights."""

    project: Project
    blocks: dict[str, str]  # fx node name -> block id
    layers: dict[str, str]  # block id -> the original module's qualified name (layers with state)
    custom: list[str] = field(default_factory=list)  # names of blocks that run generated code
    opaque: list[str] = field(default_factory=list)  # the untraceable submodules kept whole (qualified names)
    asserts: list[str] = field(default_factory=list)  # asserts left out of the graph ("model.py line 12")
    tensors: dict[str, str] = field(default_factory=dict)  # Learned Tensor block id -> the parameter it holds
    parameters: int = 0
