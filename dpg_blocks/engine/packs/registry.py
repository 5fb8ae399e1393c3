"""Plugin discovery: loading block packs into a :class:`~.block_registry.Registry`.

The built-in pack is imported first, by its module name (never through an entry point: another
distribution's entry point named ``builtin`` would otherwise stand in for it). Then come the
entry-point group ``dpg_blocks.blocks`` and the plugin folders (``plugins/`` beside the
package, the user plugin folder, ``DPG_BLOCKS_PLUGIN_PATH`` and ``--plugins DIR``).
Each plugin imports inside a guard that catches ``BaseException`` (``sys.exit``,
``KeyboardInterrupt``) and bounds its import time (``DPG_BLOCKS_PLUGIN_IMPORT_TIMEOUT``,
default 10 s): a failing pack is recorded with its traceback and skipped; while it imports, a
refused ``@block`` declaration costs that block only. One that exited, hung or (seen from
outside: the engine client, the CLI's probe) crashed its process is quarantined
(:mod:`dpg_blocks.core.user.plugin_quarantine`) and skipped on later starts until it changes or is
re-enabled. An id another pack already holds is refused and recorded (``Registry.add_pack``).
A folder pack is imported afresh each time, submodules included, so a reload runs edited code.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from dpg_blocks.blocks.declare import collect_declaration_errors
from dpg_blocks.core.user.plugin_folders import plugin_dirs as folders_to_load
from dpg_blocks.core.user.plugin_folders import plugins_in
from dpg_blocks.core.user.plugin_quarantine import (
    ENTRY_POINT_PREFIX,
    QuarantineStore,
    fingerprint,
    import_limit_s,
)

from .block_registry import Pack, PluginFailure, Registry, blocks_in_module

__all__ = [
    "BUILTIN_MODULE", "ENTRY_POINT_GROUP", "Candidate", "Pack", "PluginDiscovery", "PluginFailure", "Registry",
    "blocks_in_module", "builtin_version", "candidates", "discover", "import_guard", "safe_discover",
]

ENTRY_POINT_GROUP = "dpg_blocks.blocks"
BUILTIN_MODULE = "dpg_blocks.builtin"


class PluginImportTimeout(BaseException):  # noqa: N818 - reads as what happened in tracebacks
    """Raised inside a plugin's import when it takes longer than the import time limit."""


@contextmanager
def import_guard(limit_s: float) -> Iterator[None]:
    """Raise :class:`PluginImportTimeout` in the code run inside if it runs past ``limit_s``.

    Uses ``SIGALRM`` (interrupts pure-Python loops and sleeps), so only on the main thread of
    a POSIX process; elsewhere the code runs unbounded and an outside watcher (the engine
    client, the CLI's probe) catches a hang.
    """
    usable = limit_s > 0 and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise PluginImportTimeout(f"import took longer than {limit_s:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Candidate:
    """A plugin to import: a plugin folder's file or package, or an installed entry point."""

    pack: str
    key: str
    path: str  # shown to the user: the file or package folder, or the entry point's value
    file: Path | None = None
    package_dir: Path | None = None
    entry_point: Any = None


def fatal_reason(error: BaseException) -> str | None:
    """Why ``error`` at import quarantines its plugin, or None for an ordinary exception."""
    if isinstance(error, PluginImportTimeout):
        return str(error)
    if isinstance(error, SystemExit):
        return f"called sys.exit({error.code!r}) at import"
    if not isinstance(error, Exception):
        return f"raised {type(error).__name__} at import"
    return None


def candidates(plugin_dirs: Iterable[Path | str] = (), defaults: bool = True) -> list[Candidate]:
    """Every plugin discovery would import, in order, without importing any."""
    out = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.value == BUILTIN_MODULE:
            continue  # the built-in pack is ours: load_builtin imports it first, unguarded
        name = ep.name
        if name == "builtin":  # an impostor of the built-in pack's name: shown by its distribution
            name = f"{_dist_name(ep) or 'unknown'}:builtin"
        out.append(Candidate(name, ENTRY_POINT_PREFIX + ep.name, ep.value, entry_point=ep))
    for folder in folders_to_load(plugin_dirs, defaults):
        for entry in plugins_in(folder):  # the editor's watcher agrees on what a plugin is
            key = str(entry.resolve())
            if entry.is_dir():
                out.append(Candidate(entry.name, key, str(entry), entry / "__init__.py", entry))
            else:
                out.append(Candidate(entry.stem, key, str(entry), entry))
    return out


class PluginDiscovery:
    """Loads block packs into a :class:`Registry`, each plugin guarded and time-limited.

    ``quarantine``: skip quarantined plugins, quarantine those that exit or hang at import and
    remember the ones that import safely (None: none of that, as for explicit test registries).
    ``on_import(candidate)`` is called before each plugin's import and ``on_import(None)``
    after it, so a process watching from outside knows which plugin killed or hung it.
    """

    def __init__(
        self,
        registry: Registry,
        quarantine: QuarantineStore | None = None,
        on_import: Callable[[Candidate | None], None] | None = None,
        limit_s: float | None = None,
    ) -> None:
        self.registry = registry
        self.quarantine = quarantine
        self.on_import = on_import
        self.limit_s = import_limit_s() if limit_s is None else limit_s
        self.good: dict[str, str] = {}  # key -> fingerprint of plugins that imported safely

    def load_builtin(self) -> None:
        """The built-in pack, imported by its module name before anything else.

        Never through an entry point: another distribution may declare one named ``builtin``
        too, and whichever sorts first would win (that one is loaded, guarded, as any pack).
        """
        pack = "builtin"
        try:
            module = importlib.import_module(BUILTIN_MODULE)
            members = blocks_in_module(module)
        except Exception as e:
            self._fail(pack, BUILTIN_MODULE, e)
            return
        self.registry.add_pack(pack, members, "builtin", BUILTIN_MODULE, builtin_version())

    def load_folder(self, folder: Path) -> None:
        """Load each ``*.py`` file and each package (folder with ``__init__.py``) in ``folder``."""
        for cand in candidates([folder], defaults=False):
            self.load(cand)

    def load(self, cand: Candidate) -> None:
        """Import one plugin and register its blocks; any failure is recorded, never raised."""
        fp = fingerprint(cand.key) if self.quarantine is not None and cand.pack != "builtin" else ""
        if fp:
            held = self.quarantine.current(cand.key, fp)
            if held is not None:
                self.registry.failures.append(
                    PluginFailure(cand.pack, cand.path, held.message(), key=cand.key, quarantined=True)
                )
                return
        if self.on_import is not None:
            self.on_import(cand)
        try:
            with import_guard(self.limit_s), collect_declaration_errors() as declaration_failures:
                members, version = self._import(cand)
        except BaseException as e:  # SystemExit, KeyboardInterrupt, a timeout: none stops the others
            reason = fatal_reason(e)
            quarantined = reason is not None and self.quarantine is not None
            if quarantined:
                error = self.quarantine.add(cand.key, cand.pack, cand.path, reason, fp or None).message()
            else:
                error = reason or f"{type(e).__name__}: {e}"
            self.registry.failures.append(PluginFailure(
                cand.pack, cand.path, error, "".join(traceback.format_exception(e)), key=cand.key,
                quarantined=quarantined,
            ))
            return
        finally:
            if self.on_import is not None:
                self.on_import(None)
        if fp:
            self.good[cand.key] = fp
        source = "entry-point" if cand.entry_point is not None else "folder"
        self.registry.add_pack(cand.pack, members, source, cand.path, version, declaration_failures)

    def _import(self, cand: Candidate) -> tuple[list[Any], str]:
        """The plugin's block classes and its version."""
        if cand.entry_point is not None:
            target = cand.entry_point.load()
            members = blocks_in_module(target) if isinstance(target, ModuleType) else list(target())
            return members, _dist_version(cand.entry_point) or _module_version(target)
        assert cand.file is not None
        # Key the module by its path (as pytest does for conftest) so two packs never collide.
        digest = hashlib.sha1(str(cand.file.resolve()).encode()).hexdigest()[:10]
        module_name = f"dpg_blocks_plugin_{cand.pack}_{digest}"
        # A reload imports every module of the plugin afresh: the package and its submodules
        # (the template keeps its torch code in modules.py), not only __init__.py.
        for loaded in [n for n in sys.modules if n == module_name or n.startswith(module_name + ".")]:
            del sys.modules[loaded]
        importlib.invalidate_caches()
        locations = [str(cand.package_dir)] if cand.package_dir else None
        spec = importlib.util.spec_from_file_location(module_name, cand.file, submodule_search_locations=locations)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {cand.file}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
            return blocks_in_module(module), _module_version(module)
        except BaseException:
            sys.modules.pop(module_name, None)
            raise

    def _fail(self, pack: str, path: str, error: BaseException) -> None:
        self.registry.failures.append(
            PluginFailure(pack, path, f"{type(error).__name__}: {error}", traceback.format_exc())
        )

    def finish(self) -> None:
        """Remember the plugins that imported safely (the CLI then need not probe them)."""
        if self.quarantine is not None and self.good:
            self.quarantine.mark_good(self.good)


def _dist_name(ep: Any) -> str:
    dist = getattr(ep, "dist", None)
    return str(dist.name) if dist is not None and dist.name else ""


def _dist_version(ep: Any) -> str:
    """The installed distribution's version of an entry point ("" when unknown)."""
    dist = getattr(ep, "dist", None)
    return str(dist.version) if dist is not None and dist.version else ""


def _module_version(target: Any) -> str:
    version = getattr(target, "__version__", "")
    return version if isinstance(version, str) else str(version)


def builtin_version() -> str:
    """dpg-blocks' own version: the built-in pack's."""
    try:
        return importlib.metadata.version("dpg-blocks")
    except importlib.metadata.PackageNotFoundError:
        import dpg_blocks

        return _module_version(dpg_blocks)


def discover(
    plugin_dirs: Iterable[Path | str] = (),
    defaults: bool = True,
    quarantine: QuarantineStore | None | bool = True,
    on_import: Callable[[Candidate | None], None] | None = None,
) -> Registry:
    """A registry with the built-in pack, the entry-point packs and every plugin folder loaded.

    ``quarantine=True``: the user folder's quarantine file; ``False``/None: no quarantine.
    Imports in this process: a plugin that segfaults takes it down (the engine's client and
    :func:`safe_discover` contain that).
    """
    store = QuarantineStore() if quarantine is True else (quarantine or None)
    registry = Registry()
    finder = PluginDiscovery(registry, store, on_import)
    finder.load_builtin()
    for cand in candidates(plugin_dirs, defaults):
        finder.load(cand)
    finder.finish()
    return registry


def safe_discover(plugin_dirs: Iterable[Path | str] = (), defaults: bool = True) -> Registry:
    """:func:`discover`, after a child process has tried every plugin not known to be safe.

    A plugin that kills or hangs the child is quarantined, so this process never imports it.
    """
    from .plugin_probe import probe

    store = QuarantineStore()
    unknown = []
    for cand in candidates(plugin_dirs, defaults):
        fp = fingerprint(cand.key)
        if store.current(cand.key, fp) is None and not store.is_good(cand.key, fp):
            unknown.append(cand)
    if unknown:
        probe(unknown, list(plugin_dirs), defaults, store)
    return discover(plugin_dirs, defaults, store)
