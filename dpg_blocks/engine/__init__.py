"""The engine: registry and plugins, compiler, validation, training (imports torch).

Its parts are sub-packages (docs/architecture.md): ``packs``, ``data``, ``compiling``,
``training``, ``interop`` and ``process``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

# Module paths docs/plugins.md gives scripts and packs, from before the engine had sub-packages
# (an external contract). Each old name is the new module itself, found on first import, so no
# file stays at the old path (git follows the moves) and nothing here imports torch early.
MOVED = {
    "dpg_blocks.engine.compiler": "dpg_blocks.engine.compiling.compiler",
    "dpg_blocks.engine.export": "dpg_blocks.engine.interop.export",
    "dpg_blocks.engine.registry": "dpg_blocks.engine.packs.registry",
    "dpg_blocks.engine.datasets": "dpg_blocks.engine.data",
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds each old name in :data:`MOVED` and answers with the module it moved to."""

    def __init__(self) -> None:
        self._specs: dict[str, importlib.machinery.ModuleSpec | None] = {}

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(MOVED[spec.name])
        self._specs[spec.name] = module.__spec__  # the import system overwrites it next
        return module

    def exec_module(self, module: ModuleType) -> None:
        # the new module has run already; it keeps its own spec (pickling, reload, tracebacks)
        module.__spec__ = self._specs.pop(module.__spec__.name, module.__spec__)


if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
    sys.meta_path.insert(0, _MovedModules())
