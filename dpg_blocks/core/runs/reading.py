"""Reading run folders: what a run holds, the list of a project's runs, their metrics, the best epoch.

The reading side of ``folders.py`` (which writes, renames and deletes runs, and re-exports all
of this): the Runs tab, the CLI's ``--from`` and the engine's resume only ever read.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dpg_blocks.core.assets import assets_dir
from dpg_blocks.core.user.folder import user_dir

FORMAT = 1
RUN_FILE, PROJECT_FILE, METRICS_FILE = "run.json", "project.dpgb", "metrics.jsonl"
LAST_CHECKPOINT, BEST_CHECKPOINT = "last.pt", "best.pt"
RUN_STATES = ("running", "finished", "stopped", "failed", "paused")
UNREADABLE = "unreadable"
MAX_SLUG = 40
# files a run folder may hold: delete_run removes a folder only when it holds nothing else
_RUN_FILES = re.compile(r"^(run\.json|project\.dpgb|metrics\.jsonl|last\.pt|best\.pt|epoch_\d+\.pt|\..+\.tmp)$")


class RunError(ValueError):
    """A run cannot be found, read, renamed or deleted; the message says why."""


def runs_folder(project_path: Path | str | None) -> Path:
    """Where the runs of the project saved at ``project_path`` live (None: an untitled project)."""
    if project_path is None or str(project_path) == "":
        return user_dir() / "runs" / "untitled"
    p = Path(project_path)
    # A shipped example lives inside the installation (site-packages, or a checkout's assets/):
    # its runs go to the user folder, so the installation is never written to.
    if _inside(p, assets_dir()):
        return user_dir() / "runs" / "examples" / p.stem
    return p.parent / f"{p.stem}.runs"


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except (ValueError, OSError):
        return False
    return True


def slug(name: str) -> str:
    """A file-name-safe form of a run name: lower case letters, digits and ``-`` (``run`` if empty)."""
    text = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return text[:MAX_SLUG].rstrip("-") or "run"


class RunFiles:
    """The files of the run folder at ``path`` (a listed run and the writer share them)."""

    path: Path

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def last_checkpoint(self) -> Path:
        return self.path / LAST_CHECKPOINT

    @property
    def best_checkpoint(self) -> Path:
        return self.path / BEST_CHECKPOINT


@dataclass
class RunInfo(RunFiles):
    """One run as the Runs list shows it (from its ``run.json``)."""

    id: str
    name: str
    path: Path
    created: str = ""
    state: str = UNREADABLE
    epochs_done: int = 0
    epochs_planned: int = 0
    changes: list[str] = field(default_factory=list)
    final: dict[str, float] = field(default_factory=dict)
    best: dict[str, Any] | None = None
    resumed_from: str | None = None
    init_from: str | None = None
    seed: int | None = None
    device: str = ""
    argv: list[str] | None = None
    reason: str = ""  # why it is "unreadable", or why a "running" run is shown "stopped"


def _pid_alive(pid: Any, host: Any) -> bool:
    """Whether the process that wrote a run may still be writing it."""
    if host != socket.gethostname():
        return True  # another computer's process: it cannot be checked from here
    if not isinstance(pid, int) or isinstance(pid, bool):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process: assume it is alive
    return True


def _info(path: Path, doc: dict[str, Any]) -> RunInfo:
    def num(key: str) -> int:
        v = doc.get(key)
        return v if isinstance(v, int) and not isinstance(v, bool) else 0

    final = doc.get("final") if isinstance(doc.get("final"), dict) else {}
    best = doc.get("best") if isinstance(doc.get("best"), dict) else None
    changes = doc.get("changes") if isinstance(doc.get("changes"), list) else []
    info = RunInfo(
        id=path.name, name=str(doc.get("name") or path.name), path=path, created=str(doc.get("created", "")),
        state=str(doc.get("state", "")), epochs_done=num("epochs_done"), epochs_planned=num("epochs_planned"),
        changes=[str(c) for c in changes], final={str(k): v for k, v in final.items() if _is_number(v)},
        best=best, resumed_from=doc.get("resumed_from"), init_from=doc.get("init_from"),
        seed=doc.get("seed") if isinstance(doc.get("seed"), int) else None, device=str(doc.get("device") or ""),
        argv=doc.get("argv") if isinstance(doc.get("argv"), list) else None,
    )
    if info.state not in RUN_STATES:
        info.state, info.reason = UNREADABLE, f"run.json has no known state ({doc.get('state')!r})"
    elif info.state in ("running", "paused") and not _pid_alive(doc.get("pid"), doc.get("host")):
        info.state, info.reason = "stopped", "the process that trained it ended without finishing (killed?)"
    return info


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def read_run(path: Path | str) -> RunInfo:
    """One run folder as a :class:`RunInfo` (state ``"unreadable"`` with a reason when it cannot be read)."""
    path = Path(path)
    try:
        doc = json.loads((path / RUN_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return RunInfo(id=path.name, name=path.name, path=path, reason="no run.json (the run was cut off as it began?)")
    except (OSError, ValueError) as e:
        return RunInfo(id=path.name, name=path.name, path=path, reason=f"run.json cannot be read: {e}")
    if not isinstance(doc, dict):
        return RunInfo(id=path.name, name=path.name, path=path, reason="run.json is not a JSON object")
    if doc.get("format") != FORMAT:
        return RunInfo(id=path.name, name=path.name, path=path,
                       reason=f"run.json has format {doc.get('format')!r}; this version reads {FORMAT}")
    return _info(path, doc)


def list_runs(folder: Path | str) -> list[RunInfo]:
    """The runs in ``folder``, oldest first (by id: the ids begin with the start time)."""
    try:
        entries = [e for e in os.scandir(folder) if not e.name.startswith(".") and e.is_dir()]
    except OSError:
        return []
    return [read_run(Path(e.path)) for e in sorted(entries, key=lambda e: e.name)]


def read_metrics(run_path: Path | str) -> list[dict[str, Any]]:
    """The epochs' metrics of a run; a line cut off by a kill (or otherwise unreadable) is skipped."""
    try:
        text = (Path(run_path) / METRICS_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    out: list[dict[str, Any]] = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            out.append(row)
    return out


def resolve_run(folder: Path | str, ref: str) -> Path:
    """The run folder ``ref`` names: ``last`` (the newest in ``folder``), an id in ``folder``, or a path."""
    folder = Path(folder)
    if ref == "last":
        runs = [r for r in list_runs(folder) if r.state != UNREADABLE]
        if not runs:
            raise RunError(f"no runs in {folder}")
        return runs[-1].path
    for candidate in (folder / ref, Path(ref)):
        if (candidate / RUN_FILE).is_file():
            return candidate
    raise RunError(f"no run {ref!r}: not an id in {folder} nor a run folder")


def _read_doc(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads((path / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise RunError(f"cannot read {path / RUN_FILE}: {e}") from None
    if not isinstance(doc, dict):
        raise RunError(f"{path / RUN_FILE} is not a JSON object")
    return doc


def best_of(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The best epoch of ``rows``: lowest val loss (sum over orders) when there is one, else
    highest val accuracy, else the last; ``{"metric", "epoch", "value"}``."""
    best: dict[str, Any] | None = None
    for row in rows:
        cand = _score(row)
        if cand is None:
            continue
        if best is None or _better(cand, best):
            best = cand
    return best


def _score(row: dict[str, Any]) -> dict[str, Any] | None:
    epoch = row.get("epoch")
    losses = [v for k, v in row.items() if k.startswith("val_loss/")]
    if losses and all(_is_number(v) for v in losses):
        return {"metric": "val_loss", "epoch": epoch, "value": float(sum(losses))}
    if _is_number(row.get("val_accuracy")):
        return {"metric": "val_accuracy", "epoch": epoch, "value": float(row["val_accuracy"])}
    return {"metric": "epoch", "epoch": epoch, "value": epoch} if isinstance(epoch, int) else None


_RANK = {"val_loss": 2, "val_accuracy": 1, "epoch": 0}


def _better(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if _RANK[a["metric"]] != _RANK[b["metric"]]:
        return _RANK[a["metric"]] > _RANK[b["metric"]]
    if a["metric"] == "val_loss":
        return a["value"] < b["value"]
    return a["value"] > b["value"] if a["metric"] == "val_accuracy" else a["value"] >= b["value"]


