"""Run folders: every training run kept beside its project (stdlib only; the editor imports it).

Layout (docs/project-format.md, "Run folders")::

    <project folder>/<project stem>.runs/        # untitled: <user folder>/runs/untitled/
        <YYYYmmdd-HHMMSS>-<slug of name>/       # one run; its id is the folder name
            run.json       # what the Runs list shows (rewritten atomically after each epoch)
            project.dpgb   # the project as trained
            metrics.jsonl  # one JSON object per finished epoch
            last.pt, best.pt   # checkpoints (written by the engine, atomically)

Listing reads ``run.json`` only, so 200 runs list in milliseconds; a folder whose ``run.json``
is missing or corrupt is listed as ``"unreadable"`` with the reason, never an exception.

This module writes, renames and deletes runs; reading them is ``reading.py``, whose names it
re-exports so that callers import runs from one place.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any

from dpg_blocks.core.atomic_file import append_line_durably, write_text_atomic
from dpg_blocks.core.runs.changes import settings_changes
from dpg_blocks.core.runs.reading import (  # re-exported: callers import runs from here
    _RUN_FILES,
    FORMAT,
    METRICS_FILE,
    PROJECT_FILE,
    RUN_FILE,
    RUN_STATES,
    UNREADABLE,
    RunError,
    RunFiles,
    RunInfo,
    _is_number,
    _read_doc,
    best_of,
    list_runs,
    read_metrics,
    read_run,
    resolve_run,
    runs_folder,
    slug,
)

__all__ = [
    "PROJECT_FILE", "RUN_STATES", "RunError", "RunInfo", "RunWriter", "best_of", "delete_run", "list_runs",
    "read_metrics", "read_run", "rename_run", "resolve_run", "runs_folder", "settings_changes", "slug",
]


def rename_run(path: Path | str, name: str) -> None:
    """Give a run a new display name (its id, the folder name, stays: other runs refer to it)."""
    path = Path(path)
    if not name.strip():
        raise RunError("a run's name cannot be empty")
    doc = _read_doc(path)
    doc["name"] = name.strip()
    write_text_atomic(path / RUN_FILE, json.dumps(doc, indent=1, ensure_ascii=False) + "\n")


def delete_run(path: Path | str) -> None:
    """Delete a run folder. Refused while a live process is writing it (state running or paused),
    and for a folder holding anything a run does not write (so a wrong path deletes nothing)."""
    path = Path(path)
    info = read_run(path)
    if info.state in ("running", "paused"):
        raise RunError(f"run {info.id} is still training; stop it first")
    try:
        strangers = [e.name for e in os.scandir(path) if not _RUN_FILES.match(e.name)]
    except OSError as e:
        raise RunError(f"cannot read {path}: {e}") from None
    if strangers:
        raise RunError(f"{path} holds files no run writes ({', '.join(sorted(strangers)[:3])}); not deleted")
    shutil.rmtree(path)


class RunWriter(RunFiles):
    """Writes one run folder: ``create`` a new run or ``reopen`` one to resume it.

    Every method may raise OSError (a full disk, a read-only folder); the engine's callers turn
    that into one warning and keep training (``engine/training/run_keeper.py``).
    """

    def __init__(self, path: Path, doc: dict[str, Any]) -> None:
        self.path = path
        self.doc = doc
        self._rows = read_metrics(path)

    # -- opening -----------------------------------------------------------------------------
    @classmethod
    def create(
        cls, folder: Path | str, name: str, project_dict: dict[str, Any], seed: int, device: str,
        epochs_planned: int, argv: list[str] | None = None, resumed_from: str | None = None,
        init_from: str | None = None,
    ) -> RunWriter:
        """A new run folder in ``folder``; ``changes`` says what differs from the previous run."""
        from dpg_blocks.core.project_file import format_json

        folder = Path(folder)
        previous = [r for r in list_runs(folder) if r.state != UNREADABLE]
        changes: list[str] = []
        if previous:
            try:
                before = json.loads((previous[-1].path / PROJECT_FILE).read_text(encoding="utf-8"))
                changes = settings_changes(before, project_dict)
                if seed != previous[-1].seed and previous[-1].seed is not None and not any(
                        c.startswith("seed:") for c in changes):
                    changes.append(f"seed: {previous[-1].seed} → {seed}")
            except (OSError, ValueError):
                changes = []
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_name = name.strip() or (project_dict.get("name") or "run")
        base = f"{stamp}-{slug(run_name)}"
        path, n = folder / base, 1
        while True:
            try:
                path.mkdir()
                break
            except FileExistsError:
                n += 1
                path = folder / f"{base}-{n}"
        doc = {
            "format": FORMAT, "id": path.name, "name": run_name,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "state": "running",
            "epochs_planned": int(epochs_planned), "epochs_done": 0, "seed": int(seed), "device": str(device),
            "resumed_from": resumed_from, "init_from": init_from, "best": None, "changes": changes,
            "final": {}, "argv": list(argv) if argv is not None else None,
            "pid": os.getpid(), "host": socket.gethostname(),
        }
        write_text_atomic(path / PROJECT_FILE, format_json(project_dict))
        (path / METRICS_FILE).touch()
        writer = cls(path, doc)
        writer._save()
        return writer

    @classmethod
    def reopen(cls, path: Path | str, epoch: int | None = None, epochs_planned: int | None = None) -> RunWriter:
        """Continue the run at ``path``: state running again, metrics appended. With ``epoch``
        (the checkpoint's), metric lines of later epochs — written after that checkpoint, before
        a kill — are dropped, so the resumed epochs are not listed twice."""
        path = Path(path)
        doc = _read_doc(path)
        doc.update(state="running", pid=os.getpid(), host=socket.gethostname())
        if epochs_planned is not None:
            doc["epochs_planned"] = int(epochs_planned)
        writer = cls(path, doc)
        if epoch is not None and any(r.get("epoch", 0) > epoch for r in writer._rows):
            writer._rows = [r for r in writer._rows if r.get("epoch", 0) <= epoch]
            write_text_atomic(path / METRICS_FILE, "".join(json.dumps(r) + "\n" for r in writer._rows))
        writer._summarise()
        writer._save()
        return writer

    # -- writing -----------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.path.name

    @property
    def epochs_done(self) -> int:
        return int(self.doc.get("epochs_done") or 0)

    def append_metrics(self, metrics: dict[str, Any]) -> bool:
        """Append one epoch's metrics (one line, flushed and fsynced) and update run.json;
        True when this epoch is the run's best so far (the caller then writes best.pt)."""
        line = json.dumps(metrics, allow_nan=False) + "\n"
        append_line_durably(self.metrics_path, line)
        self._rows.append(metrics)
        before = self.doc.get("best")
        self._summarise()
        self._save()
        now = self.doc.get("best")
        return now is not None and now != before and now.get("epoch") == metrics.get("epoch")

    def set_best(self, metric: str, epoch: int, value: float) -> None:
        """Record the best epoch explicitly (``append_metrics`` does it by the rule of :func:`best_of`)."""
        self.doc["best"] = {"metric": metric, "epoch": int(epoch), "value": float(value)}
        self._save()

    def finish(self, state: str) -> None:
        """The run ended (``finished``, ``stopped``, ``failed``) or paused."""
        if state not in RUN_STATES:
            raise RunError(f"unknown run state {state!r}")
        self.doc["state"] = state
        self._save()

    def _summarise(self) -> None:
        rows = self._rows
        if rows:
            last = rows[-1]
            self.doc["epochs_done"] = int(last.get("epoch", len(rows)))
            self.doc["final"] = {k: v for k, v in last.items() if _is_number(v) and k != "epoch"}
        self.doc["best"] = best_of(rows)

    def _save(self) -> None:
        write_text_atomic(self.path / RUN_FILE, json.dumps(self.doc, indent=1, ensure_ascii=False) + "\n")
