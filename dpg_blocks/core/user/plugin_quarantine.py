"""Plugins that exited, crashed or hung at import, kept out until they change or are re-enabled.

A plugin is keyed by its resolved path (a plugin folder's file or package) or by
``entry-point:NAME``; its *fingerprint* is the mtime and size of its ``.py`` files (or the
distribution's version for an entry point), so editing or upgrading a plugin retries it.
The file (``plugin_quarantine.json`` in the user folder) also remembers the fingerprints of
plugins known to import safely, so the CLI probes only new or changed plugins in a child
process. Written atomically; an unreadable file counts as empty (it only ever costs a re-probe).
Shared by the engine (which imports plugins), the editor's engine client (which sees the engine
die) and the CLI, so it is stdlib only.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dpg_blocks.core.user.folder import user_dir

ENTRY_POINT_PREFIX = "entry-point:"
ENTRY_POINT_GROUP = "dpg_blocks.blocks"
FILE_NAME = "plugin_quarantine.json"
PLUGIN_MARK = "plugin:"  # the engine's beacon holds "plugin:PACK\tKEY" while a plugin imports


def quarantine_file() -> Path:
    """Where the quarantine and the known-good fingerprints are kept."""
    return user_dir() / FILE_NAME


def fingerprint(key: str) -> str:
    """A short digest that changes when the plugin ``key`` changes (files or installed version)."""
    h = hashlib.sha1()
    if key.startswith(ENTRY_POINT_PREFIX):
        import importlib.metadata

        name = key.removeprefix(ENTRY_POINT_PREFIX)
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP, name=name):
            dist = getattr(ep, "dist", None)
            h.update(f"{ep.value}|{getattr(dist, 'name', '')}|{getattr(dist, 'version', '')}".encode())
        return h.hexdigest()[:16]
    path = Path(key)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)
    for f in files:
        try:
            st = f.stat()
        except OSError:
            continue  # removed while we looked: the next look sees the new state
        h.update(f"{f.relative_to(path) if f != path else f.name}|{st.st_mtime_ns}|{st.st_size}\n".encode())
    return h.hexdigest()[:16]


@dataclass
class QuarantineEntry:
    """One quarantined plugin: what it is called, where it is, and why it is kept out."""

    key: str
    name: str
    path: str
    fingerprint: str
    reason: str
    since: float

    def message(self) -> str:
        """The failure text shown by ``plugins``, ``validate`` and the Plugins pane."""
        return (f"quarantined: {self.reason}; retried when it changes, or "
                f"`dpg-blocks plugins --enable {self.name}`")


class QuarantineStore:
    """The quarantine file: read on every query (another process may have written it)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = quarantine_file() if path is None else Path(path)

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        for section in ("quarantined", "good"):
            if not isinstance(data.get(section), dict):
                data[section] = {}
        return data

    def _write(self, data: dict[str, Any]) -> None:
        from dpg_blocks.core.project_file import write_text_atomic

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.path, json.dumps(data, indent=1, sort_keys=True))
        except OSError:
            pass  # a full disk or a read-only folder: the plugin is still skipped for this run

    def entries(self) -> list[QuarantineEntry]:
        """Every quarantined plugin (also those whose files changed since)."""
        out = []
        for key, rec in self._read()["quarantined"].items():
            if not isinstance(rec, dict):
                continue  # a hand-edited entry: ignored, so the plugin is simply tried again
            try:
                since = float(rec.get("since", 0.0) or 0.0)
            except (TypeError, ValueError):
                since = 0.0
            out.append(QuarantineEntry(
                key, str(rec.get("name", key)), str(rec.get("path", key)), str(rec.get("fingerprint", "")),
                str(rec.get("reason", "")), since,
            ))
        return out

    def current(self, key: str, fp: str | None = None) -> QuarantineEntry | None:
        """The quarantine of ``key`` if its fingerprint is still ``fp`` (a changed plugin is retried)."""
        fp = fingerprint(key) if fp is None else fp
        for entry in self.entries():
            if entry.key == key and entry.fingerprint == fp:
                return entry
        return None

    def add(self, key: str, name: str, path: str, reason: str, fp: str | None = None) -> QuarantineEntry:
        """Quarantine ``key`` (its current fingerprint unless given)."""
        entry = QuarantineEntry(key, name, path, fingerprint(key) if fp is None else fp, reason, time.time())
        data = self._read()
        data["quarantined"][key] = {k: v for k, v in entry.__dict__.items() if k != "key"}
        data["good"].pop(key, None)
        self._write(data)
        return entry

    def enable(self, name: str) -> list[QuarantineEntry]:
        """Lift the quarantine of the plugins called ``name`` (pack name, path or key)."""
        data = self._read()
        gone = [e for e in self.entries()
                if name in (e.name, e.key, e.path) or str(Path(name).expanduser().resolve()) == e.key]
        for e in gone:
            data["quarantined"].pop(e.key, None)
        if gone:
            self._write(data)
        return gone

    def is_good(self, key: str, fp: str) -> bool:
        """Whether ``key`` with fingerprint ``fp`` is known to import without killing its process."""
        return self._read()["good"].get(key) == fp

    def mark_good(self, prints: dict[str, str]) -> None:
        """Remember these fingerprints as safe to import (written only when something changed)."""
        data = self._read()
        if all(data["good"].get(k) == v for k, v in prints.items()):
            return
        data["good"].update(prints)
        self._write(data)


def describe_death(exitcode: int | None) -> str:
    """How a process that was importing a plugin ended, for the quarantine reason."""
    if exitcode is None:
        return "hung at import"
    if exitcode < 0:
        import signal

        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"crashed its process at import (signal {-exitcode}, {name})"
    return f"ended its process at import (exit code {exitcode})"


IMPORT_LIMIT_ENV = "DPG_BLOCKS_PLUGIN_IMPORT_TIMEOUT"
DEFAULT_IMPORT_LIMIT_S = 10.0


def import_limit_s() -> float:
    """Seconds one plugin's import may take (``DPG_BLOCKS_PLUGIN_IMPORT_TIMEOUT``; 0 = no limit)."""
    try:
        value = float(os.environ.get(IMPORT_LIMIT_ENV, "") or DEFAULT_IMPORT_LIMIT_S)
    except ValueError:
        return DEFAULT_IMPORT_LIMIT_S
    if value != value or value < 0:
        return DEFAULT_IMPORT_LIMIT_S
    return value if value < 1e6 else 0.0  # "inf" means no limit
