"""Plugin folders: which folders are read, what in them is a plugin, and adding one.

Shared by the engine (which imports the plugins) and the editor (which only looks at the
folders, to notice changes and to copy a folder in): both must agree on the list and on what
counts as a plugin, so it lives here, in the stdlib-only core.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from dpg_blocks.core.user.folder import plugins_dir

PLUGIN_PATH_ENV = "DPG_BLOCKS_PLUGIN_PATH"


class PluginFolderError(ValueError):
    """A folder that cannot be added as a plugin (the message says why)."""


def default_plugin_dirs() -> list[Path]:
    """The repo's ``plugins/``, the user plugin folder and ``DPG_BLOCKS_PLUGIN_PATH``."""
    dirs = [Path(__file__).resolve().parents[3] / "plugins", plugins_dir()]
    env = os.environ.get(PLUGIN_PATH_ENV, "")
    dirs.extend(Path(p) for p in env.split(os.pathsep) if p)
    return dirs


def plugin_dirs(extra: Iterable[Path | str] = (), defaults: bool = True) -> list[Path]:
    """The folders the engine loads plugins from, in order, each once (``extra``: ``--plugins``)."""
    folders = (default_plugin_dirs() if defaults else []) + [Path(d) for d in extra]
    seen: set[Path] = set()
    out = []
    for folder in folders:
        key = folder.resolve()
        if key not in seen:
            seen.add(key)
            out.append(folder)
    return out


def is_plugin(entry: Path) -> bool:
    """Whether the engine loads ``entry`` from a plugin folder: a ``*.py`` file or a package.

    Names starting with ``.`` or ``_`` are skipped, so a folder can be copied in under a hidden
    name and renamed when complete.
    """
    if entry.name.startswith((".", "_")):
        return False
    if entry.is_dir():
        return (entry / "__init__.py").is_file()
    return entry.suffix == ".py" and entry.is_file()


def plugins_in(folder: Path) -> list[Path]:
    """The plugins in ``folder``, sorted by name (none when it does not exist)."""
    if not folder.is_dir():
        return []
    return [entry for entry in sorted(folder.iterdir()) if is_plugin(entry)]


def add_plugin_folder(source: Path | str, target_dir: Path | None = None) -> Path:
    """Copy the plugin ``source`` — a package folder, or one ``.py`` file — into ``target_dir``
    (the user plugin folder).

    Raises :class:`PluginFolderError` when ``source`` is not a plugin or the name is taken.
    Returns the new folder (or file).
    """
    source = Path(source).expanduser()
    target_dir = plugins_dir() if target_dir is None else Path(target_dir)
    single_file = source.is_file() and source.suffix == ".py"
    if not source.is_dir() and not single_file:
        raise PluginFolderError(f"{source} is not a folder or a .py file")
    if not is_plugin(source):
        why = (f"its name starts with {source.name[0]!r}, which plugin folders skip"
               if source.name.startswith((".", "_")) else "it has no __init__.py")
        raise PluginFolderError(
            f"{source} is not a plugin folder: {why} (a plugin folder is a Python package whose "
            "__init__.py declares blocks with @block)"
        )
    target = target_dir / source.name
    if target.exists():
        raise PluginFolderError(f"the plugin folder already holds {source.name!r} ({target}); "
                                "remove or rename it first")
    if target_dir.resolve() in source.resolve().parents or source.resolve() == target_dir.resolve():
        raise PluginFolderError(f"{source} is already inside the plugin folder {target_dir}")
    import shutil  # the editor imports this module before its first frame; copying is rare

    target_dir.mkdir(parents=True, exist_ok=True)
    # Copy under a hidden name, then rename: the engine and the editor's watcher skip hidden
    # names, so neither ever sees a half-copied package.
    staging = target_dir / f".adding-{source.name}-{os.getpid()}"
    try:
        if single_file:
            shutil.copy2(source, staging)
        else:
            shutil.copytree(source, staging, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        staging.rename(target)
    except OSError as e:
        if staging.is_dir():
            shutil.rmtree(staging, ignore_errors=True)
        else:
            staging.unlink(missing_ok=True)
        raise PluginFolderError(f"cannot copy {source} to {target}: {e}") from e
    return target
