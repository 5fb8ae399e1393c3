"""Trust: custom code in a project runs only after this user trusted that exact code.

A project's *code digest* is a SHA-256 over every piece of source code its blocks carry (block
id, block type, parameter name, source), sorted. Which parameters hold code is decided by the
block specs, so the caller passes ``code_params`` (block type -> names of its code
parameters); this module stays free of specs and of torch. Hashing the code rather than the
whole file means moving a block or changing a learning rate keeps the trust, while any change
to any code — or code added to another block — needs trusting again. A project without code
needs no trust at all.

Trust records live in one JSON file in the user folder (:func:`user_folder.trust_file`):
``{"format": 1, "trusted": {"<digest>": {"project": name, "file": path, "time": iso}}}``.

The example projects shipped with dpg-blocks carry code too (the DANN's gradient reversal).
Their digests are listed in ``assets/examples/trusted_code.json`` (written by
``scripts/make_examples.py``) and trusted like the installation itself: the list names exact
code, by digest, so a project that merely sits in that folder, or a copy with one changed
character, is not trusted by it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dpg_blocks.core.assets import data_dir, examples_dir
from dpg_blocks.core.atomic_file import write_text_atomic
from dpg_blocks.core.project import Project
from dpg_blocks.core.user.folder import trust_file

TRUST_FORMAT = 1
SHIPPED_TRUST = examples_dir() / "trusted_code.json"
# the embedded example data (the Input's "digits" source): part of the installation, never listed
EMBEDDED_DATA = (data_dir(),)
NO_FILE_SOURCES = ("digits", "noise")  # Input sources that read no file of the project's


def shipped_digests() -> set[str]:
    """Digests of the code in the example projects shipped with dpg-blocks."""
    try:
        data = json.loads(SHIPPED_TRUST.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    listed = data.get("digests") if isinstance(data, dict) else None
    return {d for d in listed.values() if isinstance(d, str)} if isinstance(listed, dict) else set()


@dataclass(frozen=True)
class CodeItem:
    """One piece of code in a project."""

    block_id: str
    block_name: str
    block_type: str
    param: str
    source: str


def project_code(project: Project, code_params: Callable[[str], Iterable[str]]) -> list[CodeItem]:
    """Every non-empty code parameter of every block (SuperBlocks included), sorted by block id."""
    items = []
    for b in project.graph.walk():
        for name in code_params(b.type):
            source = b.params.get(name)
            if isinstance(source, str) and source.strip():
                items.append(CodeItem(b.id, b.name, b.type, name, source))
    return sorted(items, key=lambda i: (i.block_id, i.param))


@dataclass(frozen=True)
class DataPath:
    """A data file a block reads from outside the project's folder."""

    block_id: str
    block_name: str
    path: str  # as written in the project
    resolved: str  # where it points

    def describe(self) -> str:
        """``data: ../../x.csv (/home/x/x.csv)``."""
        shown = self.path if self.path == self.resolved else f"{self.path} ({self.resolved})"
        return f"{self.block_name}: {shown}"


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def outside_data_paths(project: Project, project_dir: Path | str | None) -> list[DataPath]:
    """Data paths (a block's ``path`` parameter) that leave the project's folder: absolute
    paths, ``~`` and ``..``. Opening a project from elsewhere reads them, so the trust prompt lists
    them (``/home/x/.ssh/...``). Without a folder (an unsaved project) every absolute path counts."""
    folder = Path(project_dir).resolve() if project_dir is not None else None
    out = []
    for b in project.graph.walk():
        raw = b.params.get("path")
        if not isinstance(raw, str) or not raw.strip():
            continue
        if b.type == "builtin.Input" and b.params.get("source", "digits") in NO_FILE_SOURCES:
            continue  # that path is not read
        given = Path(raw).expanduser()
        try:
            resolved = (given if given.is_absolute() or folder is None else folder / given).resolve()
        except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL: still worth showing
            out.append(DataPath(b.id, b.name, raw, raw))
            continue
        if any(_inside(resolved, d) for d in EMBEDDED_DATA):
            continue
        outside = folder is None and given.is_absolute() or folder is not None and not _inside(resolved, folder)
        if outside or (folder is None and ".." in given.parts):
            out.append(DataPath(b.id, b.name, raw, str(resolved)))
    return out


def code_digest(items: Iterable[CodeItem]) -> str | None:
    """SHA-256 of the code items, or None when there is no code."""
    rows = [[i.block_id, i.block_type, i.param, i.source] for i in items]
    if not rows:
        return None
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode("utf-8")).hexdigest()


class TrustStore:
    """The user's trust records (default: the file in the user folder)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else trust_file()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}  # an unreadable record trusts nothing; it is rewritten on the next trust
        trusted = data.get("trusted") if isinstance(data, dict) else None
        return trusted if isinstance(trusted, dict) else {}

    def _write(self, trusted: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"format": TRUST_FORMAT, "trusted": trusted}, indent=1, ensure_ascii=False)
        write_text_atomic(self.path, text)

    def is_trusted(self, digest: str | None) -> bool:
        """Whether code with this digest may run (no code: always)."""
        return digest is None or digest in self._read() or digest in shipped_digests()

    def trust(self, digest: str | None, project: str = "", file: str = "") -> None:
        """Record that this user trusts code with ``digest``."""
        if digest is None:
            return
        trusted = self._read()
        trusted[digest] = {"project": project, "file": file, "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
        self._write(trusted)

    def revoke(self, digest: str | None) -> bool:
        """Forget the trust in ``digest``; returns whether there was any."""
        trusted = self._read()
        if digest is None or digest not in trusted:
            return False
        del trusted[digest]
        self._write(trusted)
        return True

    def records(self) -> dict[str, Any]:
        """Every trust record, by digest."""
        return self._read()
