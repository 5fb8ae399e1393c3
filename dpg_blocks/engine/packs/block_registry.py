"""The block registry: block specs by id (legacy ids too), the packs they came from, and what
failed — a pack that would not import, one block whose declaration was refused, an id another
pack already held (refused: no pack ever replaces a block).

Plain bookkeeping, no importing: :mod:`.registry` discovers the packs and fills it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from dpg_blocks.blocks.declare import DeclarationFailure
from dpg_blocks.blocks.spec import BlockSpec

__all__ = ["Pack", "PluginFailure", "Registry", "blocks_in_module"]


@dataclass
class PluginFailure:
    """A pack (or one block of it) that could not be registered."""

    pack: str
    path: str
    error: str
    traceback: str = ""
    key: str = ""  # the quarantine key: the plugin's resolved path, or entry-point:NAME
    quarantined: bool = False  # skipped because it exited, crashed or hung at import before
    block: str = ""  # the block id, when one block failed (a bad declaration, a refused id)
    kind: str = "import"  # "import" (the whole pack), "declaration" or "clash" (one block)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Pack:
    """A registered block pack."""

    name: str
    source: str  # "entry-point", "folder" or "explicit"
    path: str
    blocks: list[str] = field(default_factory=list)
    version: str = ""  # the distribution's version, or a folder package's ``__version__``

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Registry:
    """Block specs by id (legacy ids resolve too), the packs they came from, and failures."""

    def __init__(self) -> None:
        self.specs: dict[str, BlockSpec] = {}
        self.legacy: dict[str, str] = {}
        self.packs: list[Pack] = []
        self.failures: list[PluginFailure] = []
        self.refused: dict[str, list[str]] = {}  # block id -> packs whose registration of it was refused

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

    def add_pack(
        self,
        name: str,
        members: Iterable[Any],
        source: str = "explicit",
        path: str = "",
        version: str = "",
        declaration_failures: Iterable[DeclarationFailure] = (),
    ) -> Pack:
        """Register every block class (or spec) in ``members`` under pack ``name``.

        An id already registered (by the built-in pack, which loads first, or any earlier pack),
        or one that is another block's legacy id, is refused and recorded: a pack never
        replaces a block. ``declaration_failures``: the pack's blocks whose ``@block`` was
        refused; each is recorded, the others register.
        """
        pack = Pack(name, source, path, version=version)
        bad = set()
        for failed in declaration_failures:
            bad.add(failed.cls)
            self.failures.append(PluginFailure(name, path, failed.error, block=failed.block_id, kind="declaration"))
        for member in members:
            if member in bad:
                continue
            spec = _spec_of(member)
            if spec is None:
                self.failures.append(PluginFailure(name, path, f"{member!r} is not a block declared with @block"))
                continue
            taken_by = self._owner(spec.id)
            if taken_by is not None:  # checked before touching the spec: it may be the owner's own
                self.refused.setdefault(spec.id, []).append(name)
                self.failures.append(PluginFailure(
                    name, path, f"block id {spec.id!r} is already registered by pack {taken_by!r}; refused",
                    block=spec.id, kind="clash",
                ))
                continue
            spec.pack, spec.pack_version = name, version
            self.specs[spec.id] = spec
            for legacy in spec.legacy_ids:
                owner = self._owner(legacy)
                if owner is None:
                    self.legacy[legacy] = spec.id
                elif legacy != spec.id:
                    self.failures.append(PluginFailure(
                        name, path, f"legacy id {legacy!r} of {spec.id!r} is already taken by pack {owner!r}; "
                        "ignored", block=spec.id, kind="clash",
                    ))
            pack.blocks.append(spec.id)
        self.packs.append(pack)
        return pack

    def _owner(self, type_id: str) -> str | None:
        """The pack that holds ``type_id`` as an id or a legacy id, or None when it is free."""
        spec = self.get(type_id)
        return spec.pack if spec is not None else None

    def why_unknown(self, type_id: str) -> str:
        """Why a project's block of type ``type_id`` has no spec here, for the block's error."""
        for f in self.failures:
            if f.block == type_id and f.kind == "declaration":
                return f"block type {type_id!r} was refused when pack {f.pack} loaded: {f.error}"
        pack_name = type_id.partition(".")[0]
        for f in self.failures:
            if f.pack == pack_name and not f.block:
                return f"unknown block type {type_id!r}: pack {f.pack} failed to load: {_first_line(f.error)}"
        failed = sorted({f.pack for f in self.failures if not f.block})
        if failed:
            return (f"unknown block type {type_id!r} (is its plugin installed? these packs failed to load: "
                    f"{', '.join(failed)})")
        return f"unknown block type {type_id!r} (is its plugin installed?)"

    def refusal_note(self, type_id: str) -> str:
        """For a registered ``type_id`` that other packs tried to take: which, and who kept it."""
        spec = self.get(type_id)
        tried = self.refused.get(spec.id if spec is not None else type_id)
        if spec is None or not tried:
            return ""
        return (f"pack {', '.join(tried)} tried to register block id {spec.id!r} too (refused); this block is "
                f"pack {spec.pack}'s")

    def code_params(self, type_id: str) -> list[str]:
        """Names of the params of ``type_id`` that hold source code (for the trust check)."""
        spec = self.get(type_id)
        return spec.code_params() if spec is not None else []

    def catalog(self) -> list[dict[str, Any]]:
        """Every spec as plain data, for the editor's Blocks menu."""
        return [s.to_dict() for s in self.specs.values()]

    def pack_versions(self) -> dict[str, str]:
        """Installed pack name -> version ("" when the pack declares none)."""
        return {p.name: p.version for p in self.packs}


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


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
