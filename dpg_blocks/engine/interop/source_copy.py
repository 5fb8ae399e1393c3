"""Copy module-level definitions out of Python modules as source text, with what they use.

An exported script holds the code the engine itself runs — a layer class of
``builtin/modules.py``, the dataset classes of ``engine/data/datasets.py`` — not a second version of
it. :class:`SourceCopier` takes definitions by name, finds (by AST) every module-level name each
one uses — a definition of the same module, or one imported from another module of dpg_blocks
or of the block pack the definition came from (``from attnpack._util import scaled``),
followed there — and gives them back in dependency order, with the imports of outside
libraries they need. Comment lines right above a definition come with it (they say why). What
cannot be copied (``import attnpack._util as u``: a module, not a definition) is refused with
:class:`CopyError` naming the import, so a script never imports a pack it claims not to need.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
from dataclasses import dataclass, field
from types import ModuleType

__all__ = ["CopyError", "SourceCopier", "names_used"]

THIRD_PARTY = {"numpy", "torch"}


class CopyError(ValueError):
    """A definition uses something that cannot be copied; the message names the import."""


def names_used(tree: ast.AST) -> set[str]:
    """Every plain name read or written anywhere in ``tree``."""
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


@dataclass
class _Module:
    """One module's top-level definitions and imports, parsed once."""

    module: ModuleType
    lines: list[str]
    defs: dict[str, ast.stmt] = field(default_factory=dict)
    # local name -> (module, imported name or None for ``import x``, as-name or None)
    imports: dict[str, tuple[str, str | None, str | None]] = field(default_factory=dict)


# Parsed modules, shared by every export (parsing the copied modules is most of an export's
# time); keyed by file and modification time so a plugin edited on disk is parsed again.
_PARSED: dict[tuple[str, str, int], _Module] = {}


def _parse_module(module: ModuleType) -> _Module:
    """``module``'s top-level definitions and imports (read-only once built)."""
    name = module.__name__
    file = getattr(module, "__file__", None) or ""
    try:
        mtime = os.stat(file).st_mtime_ns if file else 0
    except OSError:
        mtime = 0
    key = (name, file, mtime)
    if key in _PARSED and _PARSED[key].module is module:
        return _PARSED[key]
    source = inspect.getsource(module)
    info = _Module(module, source.splitlines())
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            info.defs[node.name] = node
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name) and t.id != "__all__":
                    info.defs[t.id] = node
        elif isinstance(node, ast.Import):
            for a in node.names:
                info.imports[a.asname or a.name.split(".")[0]] = (a.name, None, a.asname)
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            base = node.module or ""
            if node.level:  # relative: resolve against the module's package
                package = name.rsplit(".", node.level)[0]
                base = f"{package}.{base}" if base else package
            for a in node.names:
                info.imports[a.asname or a.name] = (base, a.name, a.asname)
    _PARSED[key] = info
    return info


class SourceCopier:
    """Collects definitions and their dependencies; ``text()`` writes them out in order.

    ``drop_methods`` are left out of copied classes (the exporter's own protocol, e.g.
    ``export_args``, means nothing in the script).
    """

    def __init__(self, drop_methods: tuple[str, ...] = ()) -> None:
        self.drop_methods = set(drop_methods)
        self._modules: dict[str, _Module] = {}
        self._done: dict[str, str] = {}  # definition name -> module name (names must not collide)
        self._visiting: set[tuple[str, str]] = set()
        self._texts: list[tuple[str, str]] = []  # (module name, source), dependencies first
        self.imports: dict[str, set[str]] = {}  # "from" module -> names; "" -> "import x [as y]" lines
        # Top-level packages whose imports are followed and copied, never imported by the
        # script: ours, and each block pack something was copied from.
        self.followed: set[str] = {"dpg_blocks"}

    # -- reading modules ---------------------------------------------------------------------
    def _parsed(self, module: ModuleType) -> _Module:
        name = module.__name__
        if name not in self._modules:
            self._modules[name] = _parse_module(module)
        return self._modules[name]


    # -- collecting --------------------------------------------------------------------------
    def defined(self, module: ModuleType) -> set[str]:
        """The names ``module`` defines at its top level."""
        return set(self._parsed(module).defs)

    def copied_from(self) -> set[str]:
        """The modules something was copied from."""
        return {name for name, _ in self._texts}

    def has(self, module: ModuleType, name: str) -> bool:
        """Whether ``module`` defines ``name`` at its top level."""
        return name in self._parsed(module).defs

    def add(self, module: ModuleType, name: str) -> None:
        """Copy ``module.name`` and everything it uses (once; dependencies first)."""
        if self._done.get(name) == module.__name__:
            return
        self.followed.add(module.__name__.split(".")[0])
        if name in self._done:
            raise CopyError(f"two definitions named {name!r}: in {self._done[name]} and {module.__name__}")
        key = (module.__name__, name)
        if key in self._visiting:
            return  # a cycle (two functions calling each other): order does not matter for them
        self._visiting.add(key)
        info = self._parsed(module)
        node = info.defs[name]
        self.need(info, names_used(node) - {name})
        self._visiting.discard(key)
        if name not in self._done:
            self._done[name] = module.__name__
            self._texts.append((module.__name__, self._text(info, node)))

    def need(self, info: _Module, names: set[str]) -> None:
        """Resolve ``names`` used by code of ``info``'s module: copy or import each."""
        for used in sorted(names):
            if used in info.defs:
                self.add(info.module, used)
            elif used in info.imports:
                self._import(*info.imports[used], local=used)

    def need_from(self, module: ModuleType, names: set[str]) -> None:
        """Resolve ``names`` as if used by code inside ``module`` (generated code's helpers)."""
        self.need(self._parsed(module), names)

    def _import(self, module: str, name: str | None, asname: str | None, local: str) -> None:
        if module.split(".")[0] in self.followed:
            if name is None:
                raise CopyError(f"'import {module}' cannot be inlined (import the definitions it uses by name: "
                                f"'from {module} import ...')")
            target = importlib.import_module(module)
            if self.has(target, name):
                self.add(target, name)
                return
            again = self._parsed(target).imports.get(name)
            if again is not None and again[1] is not None:  # re-exported: follow it to its definition
                self._import(*again, local=local)
                return
            # a submodule, or a name the module imports from elsewhere: not a definition to copy
            raise CopyError(f"'from {module} import {name}' cannot be inlined: {name} is not defined at the top "
                            f"of {module} (import the definitions it uses by name)")
        if name is None:
            self.imports.setdefault("", set()).add(f"import {module} as {asname}" if asname else f"import {module}")
        else:
            self.imports.setdefault(module, set()).add(f"{name} as {asname}" if asname else name)

    def _text(self, info: _Module, node: ast.stmt) -> str:
        start = node.lineno - 1
        decorators = getattr(node, "decorator_list", [])
        if decorators:
            start = decorators[0].lineno - 1
        while start > 0 and info.lines[start - 1].lstrip().startswith("#"):
            start -= 1  # the comment that says why
        end = node.end_lineno or node.lineno
        keep = list(range(start, end))
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name in self.drop_methods:
                    first = (item.decorator_list[0].lineno if item.decorator_list else item.lineno) - 1
                    drop = set(range(first, item.end_lineno or item.lineno))
                    if first > 0 and not info.lines[first - 1].strip():
                        drop.add(first - 1)  # and the blank line before it
                    keep = [i for i in keep if i not in drop]
        return "\n".join(info.lines[i] for i in keep).rstrip()

    # -- writing -----------------------------------------------------------------------------
    def texts(self, modules: set[str] | None = None) -> list[str]:
        """The copied definitions (of ``modules`` only, when given), dependencies first."""
        return [text for name, text in self._texts if modules is None or name in modules]

    def import_lines(self) -> list[str]:
        """``import`` lines for what the copied code uses: standard library, then numpy/torch."""
        groups: tuple[list[str], list[str]] = ([], [])
        for line in sorted(self.imports.get("", ())):
            groups[line.split()[1].split(".")[0] in THIRD_PARTY].append(line)
        for module, names in sorted(self.imports.items()):
            if module:
                groups[module.split(".")[0] in THIRD_PARTY].append(f"from {module} import {', '.join(sorted(names))}")
        std, third = groups
        return std + ([""] if std and third else []) + third
