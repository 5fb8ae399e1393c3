"""Atomic file writes: every file the tool writes goes through here (stdlib only).

A write goes to a temp file beside the target (``.NAME.PID-RANDOM.tmp``), is fsynced and renamed
over the target, so a kill or a full disk leaves the previous file, never a truncated one. The
temp file is created with the user's umask (``tempfile.mkstemp`` would make it 0600, and the
rename would carry that onto saved projects and exports); a file that already exists keeps its
permissions. The temp file is removed on any failure, and temp files left by a killed writer
(its process is gone, or the file is old) are removed on the next write to the same folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import time
from collections.abc import Iterator
from pathlib import Path

TMP_SUFFIX = ".tmp"
STALE_AFTER_S = 3600.0  # a temp file this old is stale even when its pid is alive (pid reuse)
_TMP_NAME = re.compile(r"^\..+\.(\d+)-[0-9a-f]{8}\.tmp$")

__all__ = ["atomic_path", "clean_stale_temps", "temp_path_for", "write_bytes_atomic", "write_text_atomic"]


def temp_path_for(target: Path) -> Path:
    """A fresh temp path beside ``target`` that names this process (for stale-file cleanup)."""
    return target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}{TMP_SUFFIX}")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process: assume it is still writing
    return True


def clean_stale_temps(folder: Path) -> list[Path]:
    """Remove temp files in ``folder`` left by writers that died; returns what was removed."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        m = _TMP_NAME.match(entry.name)
        if m is None:
            continue
        try:
            old = now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER_S
            if not entry.is_file(follow_symlinks=False):
                continue
            if old or not _pid_alive(int(m.group(1))):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue  # another writer cleaned it, or it cannot be removed: not ours to insist
    return removed


def _umask() -> int:
    try:  # Linux says it without changing it (another thread may be creating a file right now)
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)  # elsewhere it can only be read by setting it: briefly the strictest one
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    try:  # make the rename itself durable
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _mode_for(target: Path) -> int:
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        return 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp path to write (``torch.save(state, p)``); on success it replaces ``target``.

    Whatever is written to the path is fsynced and renamed over ``target`` when the block ends;
    on any exception the temp file is removed and ``target`` is unchanged.
    """
    final = Path(target)
    folder = final.parent if str(final.parent) else Path(".")
    clean_stale_temps(folder)
    tmp = temp_path_for(final)
    mode = _mode_for(final)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # widened below, once ours
        os.close(fd)
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, mode)
        os.replace(tmp, final)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if e.filename is None or str(e.filename) == str(tmp):
            # name the file the user asked for, not our temp file
            raise OSError(e.errno, e.strerror or str(e), str(final)) from e
        raise
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file, fsync and rename (old file kept on a failure)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`write_bytes_atomic`."""
    write_bytes_atomic(path, text.encode("utf-8"))


def append_line_durably(path: str | os.PathLike[str], line: str) -> None:
    """Append one line (``line`` ends in a newline) to a log such as a run's ``metrics.jsonl``,
    flushed and fsynced before returning.

    Not atomic — a kill can leave a torn last line, which readers of such logs skip — but
    appending never rewrites what earlier epochs wrote, so a log of any length costs one line per
    epoch. A new file gets the user's umask, like every other file the tool writes.
    """
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, _mode_for(Path(path)))
    try:
        data = line.encode("utf-8")
        while data:
            data = data[os.write(fd, data):]
        os.fsync(fd)
    finally:
        os.close(fd)
