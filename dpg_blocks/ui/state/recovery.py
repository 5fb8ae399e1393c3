"""Autosave for crash recovery: a dirty project is copied to the user folder every N seconds.

``<user folder>/recovery/<key>.dpgb`` holds the project (the project file format, written
atomically) and ``<key>.json`` a sidecar ``{"format": 1, "path", "time", "pid", "name"}``. The
key is a hash of the project file's resolved path, or ``untitled-<pid>`` for a project that has
no file yet. A clean save, or a clean close, deletes what this process wrote. A recovery whose
writer is no longer alive and which is newer than the project file is what a crash left behind:
the editor offers it (``ProjectControls.offer_recovery``). No Dear PyGui here.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dpg_blocks.core import Project, dumps, load_project
from dpg_blocks.core.atomic_file import write_text_atomic
from dpg_blocks.core.user.folder import user_dir

if TYPE_CHECKING:
    from dpg_blocks.ui.state.editor_state import EditorState

RECOVERY_FORMAT = 1
DEFAULT_INTERVAL_S = 30.0


def recovery_dir() -> Path:
    """Where recovery files live."""
    return user_dir() / "recovery"


def recovery_key(path: str | None, pid: int | None = None) -> str:
    """The file stem for the project at ``path`` (None: an untitled project of process ``pid``)."""
    if not path:
        return f"untitled-{pid if pid is not None else os.getpid()}"
    return hashlib.sha256(str(Path(path).resolve()).encode("utf-8")).hexdigest()[:20]


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a process of another user counts as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


@dataclass
class RecoveryInfo:
    """One recovery file found on disk."""

    file: Path  # the recovered project
    sidecar: Path
    path: str | None  # the project file it belongs to (None: never saved)
    time: float  # when it was written (seconds since the epoch)
    pid: int  # the process that wrote it
    name: str = ""

    @property
    def when(self) -> str:
        """The time it was written, in local time."""
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.time))

    def load(self) -> Project:
        """The recovered project (:class:`ProjectFileError` when the file is damaged)."""
        return load_project(self.file)

    def remove(self) -> None:
        """Delete the recovery file and its sidecar."""
        for f in (self.file, self.sidecar):
            f.unlink(missing_ok=True)


def read_info(sidecar: Path) -> RecoveryInfo | None:
    """The sidecar's record, or None when it (or its project file) is missing or damaged."""
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
        info = RecoveryInfo(
            file=sidecar.with_suffix(".dpgb"),
            sidecar=sidecar,
            path=data.get("path") or None,
            time=float(data["time"]),
            pid=int(data["pid"]),
            name=str(data.get("name", "")),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return info if info.file.is_file() else None


def left_behind(path: str | None, folder: Path | None = None) -> list[RecoveryInfo]:
    """Recoveries a crashed editor left for ``path`` (None: untitled ones), newest first.

    Only those whose writer is dead (a live editor is still working on it) and that are newer
    than the project file on disk (an older one was superseded by a later save).
    """
    folder = folder if folder is not None else recovery_dir()
    if path:
        sidecars = [folder / f"{recovery_key(path)}.json"]
    else:
        sidecars = sorted(folder.glob("untitled-*.json")) if folder.is_dir() else []
    found = []
    for sidecar in sidecars:
        info = read_info(sidecar)
        if info is None or info.pid == os.getpid() or pid_alive(info.pid):
            continue
        if path:
            try:
                if Path(path).stat().st_mtime >= info.time:
                    continue
            except OSError:
                pass  # the project file is gone: the recovery is all there is
        found.append(info)
    return sorted(found, key=lambda i: -i.time)


class Recovery:
    """Writes the open project to its recovery file while it is dirty; :meth:`tick` each frame."""

    def __init__(
        self,
        state: EditorState,
        interval_s: float = DEFAULT_INTERVAL_S,
        folder: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.state = state
        self.interval_s = interval_s
        self.folder = folder if folder is not None else recovery_dir()
        self.clock = clock
        self._revision = 0  # bumped by every document change
        self._written_revision = -1
        self._last_write = float("-inf")  # the first change is saved at once, later ones every interval
        self._written: dict[str, tuple[Path, Path]] = {}  # key -> files this process wrote
        self.closed = False  # the user closed without saving: nothing may be written any more
        state.subscribe(self._on_state)

    def _on_state(self, topic: str) -> None:
        if topic == "document":
            self._revision += 1
        elif topic == "file" and not self.state.dirty:
            self.discard()  # saved (or replaced by a clean project): nothing left to recover

    def files(self, path: str | None) -> tuple[Path, Path]:
        """The recovery file and sidecar for a project at ``path``."""
        key = recovery_key(path)
        return self.folder / f"{key}.dpgb", self.folder / f"{key}.json"

    def tick(self) -> bool:
        """Autosave if due: dirty, changed since the last write, and ``interval_s`` passed."""
        if self.closed or not self.state.dirty or self._revision == self._written_revision:
            return False
        if self.clock() - self._last_write < self.interval_s:
            return False
        return self.write() is not None

    def write(self) -> Path | None:
        """Write the recovery file now (SIGTERM does this); None when it could not be written."""
        st = self.state
        file, sidecar = self.files(st.path)
        self._last_write = self.clock()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_text_atomic(file, dumps(st.project))
            meta: dict[str, Any] = {
                "format": RECOVERY_FORMAT,
                "path": st.path,
                "time": time.time(),
                "pid": os.getpid(),
                "name": st.project.name,
            }
            write_text_atomic(sidecar, json.dumps(meta, indent=1, ensure_ascii=False))
        except OSError as e:
            st.say(f"autosave failed: {e}")
            return None
        self._written_revision = self._revision
        self._written[recovery_key(st.path)] = (file, sidecar)
        return file

    def write_if_dirty(self) -> Path | None:
        """Write the recovery file when the project has unsaved changes (on SIGTERM, on a crash)."""
        return self.write() if self.state.dirty and not self.closed else None

    def discard(self) -> None:
        """Delete every recovery file this process wrote (a clean save or a clean close)."""
        # Every key, not just the current one: a Save As moves an untitled project to its path.
        for file, sidecar in self._written.values():
            file.unlink(missing_ok=True)
            sidecar.unlink(missing_ok=True)
        self._written.clear()
        self._written_revision = -1

    def close(self) -> None:
        """The user quit without saving: delete what was written and never write again.

        The quit is answered in a callback, and the rest of that frame (its autosave tick, a
        guarded stage's error handler) still runs before the loop ends: without this, that tick
        wrote the discarded work back and the next start offered to recover it."""
        self.discard()
        self.closed = True

    def left_behind(self, path: str | None) -> list[RecoveryInfo]:
        """What crashed editors left for ``path`` (None: untitled), newest first."""
        return left_behind(path, self.folder)
