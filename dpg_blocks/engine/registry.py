"""The block registry and plugin discovery.

Block packs come from three places: the entry-point group ``dpg_blocks.blocks`` (the built-in
pack registers itself there), plugin folders (``plugins/`` beside the package, the user plugin
folder, ``DPG_BLOCKS_PLUGIN_PATH`` and ``--plugins DIR``), and explicit registration in tests.
Each pack loads inside its own try/except: a failing pack is recorded with its traceback and
skipped; id collisions are recorded too, and the first registration wins.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import sys
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from dpg_blocks.blocks.spec import BlockSpec
from dpg_blocks.core.plugin_folders import plugin_dirs as folders_to_load
from dpg_blocks.core.plugin_folders import plugins_in

ENTRY_POINT_GROUP = "dpg_blocks.blocks"


@dataclass
class PluginFailure:
    """A pack (or one block of it) that could not be registered."""

    pack: str
    path: str
    error: str
    traceback: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Pack:
    """A registered block pack."""

    name: str
    source: str  # "entry-point", "folder" or "explicit"
    path: str
    blocks: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Registry:
    """Block specs by id (legacy ids resolve too), the packs they came from, and failures."""

    def __init__(self) -> None:
        self.specs: dict[str, BlockSpec] = {}
        self.legacy: dict[str, str] = {}
        self.packs: list[Pack] = []
        self.failures: list[PluginFailure] = []

    def get(self, type_id: str) -> BlockSpec | None:
        spec = self.specs.get(type_id)
        if spec is None and type_id in self.legacy:
            spec = self.specs.get(self.legacy[type_id])
        return spec

    def __getitem__(self, type_id: str) -> BlockSpec:
        spec = self.get(type_id)
        if spec is None:
            raise KeyError(type_id)
        return spec

    def add_pack(self, name: str, members: Iterable[Any], source: str = "explicit", path: str = "") -> Pack:
        """Register every block class (or spec) in ``members`` under pack ``name``."""
        pack = Pack(name, source, path)
        for member in members:
            spec = _spec_of(member)
            if spec is None:
                self.failures.append(PluginFailure(name, path, f"{member!r} is not a block declared with @block"))
                continue
            spec.pack = name
            owner = self.specs.get(spec.id)
            if owner is not None:
                self.failures.append(
                    PluginFailure(
                        name, path, f"block id {spec.id!r} is already registered by pack {owner.pack!r}; skipped"
                    )
                )
                continue
            self.specs[spec.id] = spec
            for legacy in spec.legacy_ids:
                self.legacy.setdefault(legacy, spec.id)
            pack.blocks.append(spec.id)
        self.packs.append(pack)
        return pack

    def code_params(self, type_id: str) -> list[str]:
        """Names of the params of ``type_id`` that hold source code (for the trust check)."""
        spec = self.get(type_id)
        return spec.code_params() if spec is not None else []

    def catalog(self) -> list[dict[str, Any]]:
        """Every spec as plain data, for the editor's Blocks menu."""
        return [s.to_dict() for s in self.specs.values()]


def _spec_of(member: Any) -> BlockSpec | None:
    if isinstance(member, BlockSpec):
        return member
    spec = getattr(member, "__block_spec__", None)
    if isinstance(spec, BlockSpec) and spec.cls is member:
        return spec
    return None


def blocks_in_module(module: ModuleType) -> list[Any]:
    """``module.BLOCKS`` if present, else every @block class defined in the module."""
    listed = getattr(module, "BLOCKS", None)
    if listed is not None:
        return list(listed() if callable(listed) else listed)
    return [
        v
        for v in vars(module).values()
        if isinstance(v, type) and _spec_of(v) is not None and v.__module__ == module.__name__
    ]


class PluginDiscovery:
    """Finds and loads block packs into a :class:`Registry`, one try/except per pack."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def load_entry_points(self) -> None:
        eps = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        names = {ep.name for ep in eps}
        for ep in eps:
            try:
                target = ep.load()
                members = blocks_in_module(target) if isinstance(target, ModuleType) else list(target())
            except Exception as e:  # a broken pack never stops the others
                self._fail(ep.name, ep.value, e)
                continue
            self.registry.add_pack(ep.name, members, "entry-point", ep.value)
        if "builtin" not in names:
            # Running from a source tree that was never pip-installed: the built-in pack still loads.
            self.load_module("builtin", "dpg_blocks.builtin")

    def load_module(self, pack: str, module_name: str) -> None:
        try:
            module = importlib.import_module(module_name)
            members = blocks_in_module(module)
        except Exception as e:
            self._fail(pack, module_name, e)
            return
        self.registry.add_pack(pack, members, "entry-point", module_name)

    def load_folder(self, folder: Path) -> None:
        """Load each ``*.py`` file and each package (folder with ``__init__.py``) in ``folder``."""
        for entry in plugins_in(folder):  # the editor's watcher agrees on what a plugin is
            if entry.is_dir():
                self._load_path(entry.name, entry / "__init__.py", package_dir=entry)
            else:
                self._load_path(entry.stem, entry)

    def _load_path(self, pack: str, file: Path, package_dir: Path | None = None) -> None:
        # Key the module by its path (as pytest does for conftest) so two packs never collide.
        digest = hashlib.sha1(str(file.resolve()).encode()).hexdigest()[:10]
        module_name = f"dpg_blocks_plugin_{pack}_{digest}"
        try:
            spec = importlib.util.spec_from_file_location(
                module_name, file, submodule_search_locations=[str(package_dir)] if package_dir else None
            )
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot import {file}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(module_name, None)
                raise
            members = blocks_in_module(module)
        except Exception as e:
            self._fail(pack, str(package_dir or file), e)
            return
        self.registry.add_pack(pack, members, "folder", str(package_dir or file))

    def _fail(self, pack: str, path: str, error: BaseException) -> None:
        self.registry.failures.append(
            PluginFailure(pack, path, f"{type(error).__name__}: {error}", traceback.format_exc())
        )


def discover(plugin_dirs: Iterable[Path | str] = (), defaults: bool = True) -> Registry:
    """A registry with the entry-point packs and every plugin folder loaded."""
    registry = Registry()
    finder = PluginDiscovery(registry)
    finder.load_entry_points()
    for folder in folders_to_load(plugin_dirs, defaults):
        finder.load_folder(folder)
    return registry
