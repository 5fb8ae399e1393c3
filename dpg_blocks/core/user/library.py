"""The block library: blocks and SuperBlocks saved for reuse in other projects.

Each saved block is one JSON file in the library folder (:func:`user_folder.library_dir`)::

    {"format": 1, "kind": "dpg-blocks block", "name": "Feature Extractor",
     "saved": "2026-11-25T10:00:00", "block": { <the block exactly as in a project file> }}

The ``block`` object is the project file's block form (params, ports, custom code, and for a
SuperBlock its nested graph), read back by the same checked reader, so a library file is
versioned and validated like a project file. Inserting makes a copy with fresh ids (the
document's ids are unique across all SuperBlock levels) and a name unique where it lands; it
is one :class:`~dpg_blocks.core.edits.AddBlock`, so it undoes exactly.

Stdlib only, no torch: the editor saves and inserts without the engine. Custom code that
comes in from the library changes the project's code digest, so it needs trusting like any
other code (see :mod:`dpg_blocks.core.user.trust`).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dpg_blocks.core.atomic_file import write_text_atomic
from dpg_blocks.core.edits import AddBlock
from dpg_blocks.core.graph import Block, Endpoint, Link
from dpg_blocks.core.project import Project
from dpg_blocks.core.project_file import ProjectFileError, block_from_dict, block_to_dict, format_json
from dpg_blocks.core.user.folder import library_dir

LIBRARY_FORMAT = 1
LIBRARY_SUFFIX = ".dpgblock"
LIBRARY_KIND = "dpg-blocks block"


class LibraryError(ValueError):
    """A library file that cannot be written or read; the message names the file."""


@dataclass
class LibraryEntry:
    """One saved block, as listed."""

    name: str
    path: Path
    type: str  # the block's type (core.SuperBlock for SuperBlocks)
    blocks: int  # how many blocks it holds, itself included
    saved: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": str(self.path), "type": self.type, "blocks": self.blocks, "saved": self.saved}


def _folder(folder: Path | None) -> Path:
    return Path(folder) if folder is not None else library_dir()


def file_name(name: str) -> str:
    """The library file name for a block saved as ``name``."""
    stem = re.sub(r"[^\w\- ]+", "_", name).strip(" ._") or "block"
    return stem + LIBRARY_SUFFIX


def save_to_library(
    project: Project, block_id: str, name: str | None = None, folder: Path | None = None, overwrite: bool = False
) -> Path:
    """Save block ``block_id`` (with everything nested in it) as a library file; returns its path.

    Links to blocks outside it are not part of the saved block.
    """
    block = project.block(block_id)
    name = (name or block.name).strip()
    if not name:
        raise LibraryError("a library block needs a name")
    target = _folder(folder) / file_name(name)
    if target.exists() and not overwrite:
        raise LibraryError(f"{target}: a library block with this name exists (save with overwrite to replace it)")
    doc = {
        "format": LIBRARY_FORMAT,
        "kind": LIBRARY_KIND,
        "name": name,
        "saved": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "block": block_to_dict(block),
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(target, format_json(doc))
    return target


def _read(path: Path) -> tuple[dict[str, Any], Block]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise LibraryError(f"{path}: cannot read the file: {e.strerror or e}") from None
    except ValueError as e:
        raise LibraryError(f"{path}: not a library block (not valid JSON: {e})") from None
    if not isinstance(doc, dict) or doc.get("kind") != LIBRARY_KIND:
        raise LibraryError(f"{path}: not a dpg-blocks library block (no \"kind\": \"{LIBRARY_KIND}\")")
    fmt = doc.get("format")
    if not isinstance(fmt, int) or isinstance(fmt, bool):
        raise LibraryError(f"{path}: $.format: expected an integer, got {fmt!r}")
    if fmt > LIBRARY_FORMAT:
        raise LibraryError(
            f"{path}: $.format: format {fmt} was written by a newer dpg-blocks (this one reads up to {LIBRARY_FORMAT})"
        )
    try:
        block = block_from_dict(doc.get("block"))
    except ProjectFileError as e:
        raise LibraryError(f"{path}: {e}") from None
    return doc, block


def load_from_library(name_or_path: str | Path, folder: Path | None = None) -> Block:
    """The saved block (with its original ids; :func:`insert_copy` gives it fresh ones)."""
    path = Path(name_or_path)
    if path.suffix != LIBRARY_SUFFIX or not path.exists():
        path = _folder(folder) / file_name(str(name_or_path))
    if not path.exists():
        raise LibraryError(f"no library block named {str(name_or_path)!r} in {path.parent}")
    return _read(path)[1]


def list_library(folder: Path | None = None) -> tuple[list[LibraryEntry], list[LibraryError]]:
    """The saved blocks, by name, and the files that could not be read."""
    entries: list[LibraryEntry] = []
    problems: list[LibraryError] = []
    root = _folder(folder)
    if not root.is_dir():
        return entries, problems
    for path in sorted(root.glob(f"*{LIBRARY_SUFFIX}")):
        try:
            doc, block = _read(path)
        except LibraryError as e:
            problems.append(e)
            continue
        name = doc.get("name") if isinstance(doc.get("name"), str) else block.name
        entries.append(LibraryEntry(name, path, block.type, sum(1 for _ in block.walk()), str(doc.get("saved", ""))))
    return entries, problems


def copy_with_fresh_ids(block: Block, new_id: Callable[[], str]) -> Block:
    """A deep copy of ``block`` whose every id (nested ones included) comes from ``new_id``.

    Links inside SuperBlocks follow: inside a SuperBlock its own id is the boundary.
    """
    clone = block.clone()
    mapping = {b.id: new_id() for b in clone.walk()}

    def remap(b: Block) -> None:
        b.id = mapping[b.id]
        if b.graph is None:
            return
        g = b.graph
        children = list(g.blocks.values())
        g.blocks = {mapping[c.id]: c for c in children}
        g.links = [
            Link(
                Endpoint(mapping.get(lk.src.block, lk.src.block), lk.src.port),
                Endpoint(mapping.get(lk.dst.block, lk.dst.block), lk.dst.port),
            )
            for lk in g.links
        ]
        g.owner = b
        for c in children:
            remap(c)

    remap(clone)
    return clone


def insert_copy(
    project: Project,
    block: Block,
    parent: str | None = None,
    pos: tuple[float, float] | None = None,
    name: str | None = None,
) -> AddBlock:
    """The edit that inserts a copy of ``block`` (fresh ids, a free name) into graph ``parent``.

    Run it with ``History.do``; its ``block.id`` is the new block's id.
    """
    copy = copy_with_fresh_ids(block, project.new_id)
    copy.name = project.unique_name(name or block.name, project.graph_of(parent))
    if pos is not None:
        copy.pos = (float(pos[0]), float(pos[1]))
    return AddBlock(copy, parent)
