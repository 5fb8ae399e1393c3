"""Live plugin folders: notice a plugin copied into (changed in, removed from) a watched folder.

The editor never imports plugins (that is the engine's job, and it would pull in torch): it only
looks at the folders. At most once a second :meth:`PluginWatch.tick` takes a cheap signature of
them (names, sizes and modification times, a few levels deep, ``__pycache__`` left out); once a
new signature has held still for ``settle_s`` — so a folder still being copied is not loaded
half-way — it calls ``on_change`` once, which sends ``ReloadPlugins``. No Dear PyGui here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

CHECK_INTERVAL_S = 1.0
SETTLE_S = 0.5
MAX_DEPTH = 4  # watched folder / pack / subpackage / … : deeper files are data, not code
MAX_ENTRIES = 5000  # a pack that ships a dataset must not make every check slow

Signature = tuple[tuple[str, int, int], ...]


def _skipped(name: str, top: bool) -> bool:
    if name == "__pycache__" or name.startswith(".") or name.endswith(".pyc"):
        return True
    return top and name.startswith("_")  # the engine skips these at the top (core.user.plugin_folders.is_plugin)


def folders_signature(folders: Iterable[Path]) -> Signature:
    """(path, size, mtime) of each file and the path of each folder in ``folders``, a few levels deep."""
    out: list[tuple[str, int, int]] = []
    stack = [(str(folder), 0) for folder in folders]
    while stack and len(out) < MAX_ENTRIES:
        path, depth = stack.pop()
        try:
            entries = list(os.scandir(path))
        except OSError:  # missing, or not a folder: its absence is part of the signature
            out.append((path, -1, 0))
            continue
        for entry in entries:
            if _skipped(entry.name, depth == 0):
                continue
            try:
                is_dir = entry.is_dir()
                st = entry.stat()
            except OSError:  # removed while we looked; the next check sees the new state
                continue
            # A folder's own mtime moves when the engine writes __pycache__ into it: files only.
            out.append((entry.path, -2, 0) if is_dir else (entry.path, st.st_size, st.st_mtime_ns))
            if is_dir and depth + 1 < MAX_DEPTH:
                stack.append((entry.path, depth + 1))
    return tuple(sorted(out))


class PluginWatch:
    """Calls ``on_change`` once per settled change of the plugin folders (see module docstring)."""

    def __init__(
        self,
        folders: Callable[[], list[Path]],
        on_change: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
        interval_s: float = CHECK_INTERVAL_S,
        settle_s: float = SETTLE_S,
    ) -> None:
        self.folders, self.on_change, self.clock = folders, on_change, clock
        self.interval_s, self.settle_s = interval_s, settle_s
        # What the engine loaded (it discovers the folders as they are when it starts).
        self.loaded = folders_signature(folders())
        self._seen, self._seen_at = self.loaded, clock()
        self._next_check = clock() + interval_s

    def tick(self) -> bool:
        """Check the folders if a check is due; True when ``on_change`` was called."""
        now = self.clock()
        if now < self._next_check:
            return False
        self._next_check = now + self.interval_s
        sig = folders_signature(self.folders())
        if sig != self._seen:  # still changing (or just changed): wait until it holds still
            self._seen, self._seen_at = sig, now
            return False
        if sig == self.loaded or now - self._seen_at < self.settle_s:
            return False
        self.loaded = sig
        self.on_change()
        return True
