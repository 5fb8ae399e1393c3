"""Reading and writing project files (JSON, ``"format": 1``; see docs/project-format.md).

Loading checks everything and raises one error type, :class:`ProjectFileError`, whose message
names the problem and the JSON path (``$.graph.blocks[2].inputs[0].name``). Loading never
writes; saving is atomic (temp file in the same folder, fsync, rename).
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dpg_blocks.core.atomic_file import write_text_atomic
from dpg_blocks.core.graph import Block, Graph
from dpg_blocks.core.project import Project
from dpg_blocks.core.project_reader import (  # re-exported: callers import the file's names from here
    INT64_MAX,
    INT64_MIN,
    MAX_JSON_DEPTH,
    DocumentReader,
    ProjectFileError,
    check_tree,
    reject_constant,
    show_value,
)

__all__ = [
    "FILE_SUFFIX", "FORMAT_VERSION", "INT64_MAX", "INT64_MIN", "MAX_FILE_BYTES", "MAX_JSON_DEPTH", "MIGRATIONS",
    "ProjectFileError", "block_from_dict", "block_to_dict", "dumps", "format_json", "graph_to_dict", "load_project",
    "loads", "project_from_dict", "project_to_dict", "save_project", "write_text_atomic",
]

FORMAT_VERSION = 1
FILE_SUFFIX = ".dpgb"
MAX_FILE_BYTES = 256 * 1024 * 1024


# -- writing --------------------------------------------------------------------------------
def project_to_dict(project: Project) -> dict[str, Any]:
    """The JSON-ready form of ``project`` (stable key order, diffable)."""
    doc: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "name": project.name,
        "graph": graph_to_dict(project.graph),
        "orders": [o.to_dict() for o in project.orders],
        "training": project.training.to_dict(),
        "meta": project.meta,
    }
    if project.packs:  # optional: a project of built-in blocks only has none
        doc["packs"] = dict(project.packs)
    ids = {b.id for b in project.graph.walk()}
    ties = [t.to_dict() for t in project.ties if t.block in ids and t.source in ids]  # a deleted block's go
    if ties:  # optional: shared weights
        doc["ties"] = ties
    return doc


def graph_to_dict(graph: Graph) -> dict[str, Any]:
    return {
        "blocks": [block_to_dict(b) for b in graph.blocks.values()],
        "links": [
            {"src": [lk.src.block, lk.src.port], "dst": [lk.dst.block, lk.dst.port]} for lk in graph.links
        ],
    }


def block_to_dict(block: Block) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": block.id,
        "type": block.type,
        "version": block.version,
        "name": block.name,
        "pos": [float(block.pos[0]), float(block.pos[1])],
        # a copy: an edit changes the live params in place, and a document taken earlier (the
        # one the editor last sent the engine) must keep what it held
        "params": dict(block.params),
        "inputs": [p.to_dict() for p in block.inputs],
        "outputs": [p.to_dict() for p in block.outputs],
    }
    if block.graph is not None:
        d["graph"] = graph_to_dict(block.graph)
    return d


def dumps(project: Project) -> str:
    """Project JSON text: indented, with short arrays and objects kept on one line for diffs."""
    return _format(project_to_dict(project), "") + "\n"


def format_json(value: Any) -> str:
    """JSON text in the project file's layout (used for library files too)."""
    return _format(value, "") + "\n"


def _format(value: Any, indent: str) -> str:
    flat = json.dumps(value, allow_nan=False, ensure_ascii=False)
    if not isinstance(value, dict | list) or len(flat) + len(indent) <= 100 or not value:
        return flat
    inner = indent + "  "
    if isinstance(value, list):
        items = [inner + _format(v, inner) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + indent + "]"
    items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {_format(v, inner)}" for k, v in value.items()]
    return "{\n" + ",\n".join(items) + "\n" + indent + "}"


def save_project(project: Project, path: str | os.PathLike[str]) -> None:
    """Write ``project`` atomically: a crash mid-save leaves the old file intact."""
    write_text_atomic(Path(path), dumps(project))


# -- reading --------------------------------------------------------------------------------
def load_project(path: str | os.PathLike[str]) -> Project:
    """Read a project file; any problem raises :class:`ProjectFileError` naming file and path."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ProjectFileError(f"file is {size} bytes; the limit is {MAX_FILE_BYTES}", file=str(p))
        raw = p.read_bytes()
    except ProjectFileError:
        raise
    except OSError as e:
        raise ProjectFileError(f"cannot read the file: {e.strerror or e}", file=str(p)) from None
    try:
        return loads(raw)
    except ProjectFileError as e:
        raise ProjectFileError(e.reason, e.json_path, file=str(p)) from None


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause the cycle collector: a load allocates objects that all stay alive, and each of the
    collector's full passes, triggered by that growth, walks the whole heap — loading 2,000
    blocks took twice as long per block as 100 with it running. Garbage made meanwhile (a
    refused file) is collected once it runs again."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def loads(data: str | bytes) -> Project:
    """Parse project JSON text; raises :class:`ProjectFileError`."""
    with _no_cycle_collection():
        return _loads(data)


def _loads(data: str | bytes) -> Project:
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as e:
        raise ProjectFileError(f"not UTF-8 text (byte {e.start})") from None
    try:
        doc = json.loads(text, parse_constant=reject_constant)
    except json.JSONDecodeError as e:
        raise ProjectFileError(f"not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None
    except RecursionError:
        raise ProjectFileError("JSON nested too deeply") from None
    except ValueError as e:
        raise ProjectFileError(str(e)) from None
    check_tree(doc)
    return project_from_dict(doc)


def block_from_dict(d: Any, json_path: str = "$.block") -> Block:
    """One block (a SuperBlock with its nested graph) from its JSON form; raises
    :class:`ProjectFileError` naming the JSON path (used by the block library)."""
    r = DocumentReader()
    return r.block(r.obj(d, json_path), json_path, 0, set())


def project_from_dict(doc: Any) -> Project:
    """Build a :class:`Project` from parsed JSON, migrating older formats."""
    r = DocumentReader()
    obj = r.obj(doc, "$")
    fmt = obj.get("format")
    if fmt is None:
        raise ProjectFileError("missing 'format' (is this a dpg-blocks project?)", "$")
    if not isinstance(fmt, int) or isinstance(fmt, bool):
        raise ProjectFileError(f"'format' must be an integer, got {show_value(fmt)}", "$.format")
    if fmt > FORMAT_VERSION:
        raise ProjectFileError(
            f"format {fmt} was written by a newer dpg-blocks (this one reads up to {FORMAT_VERSION})",
            "$.format",
        )
    while fmt < FORMAT_VERSION:
        migrate = MIGRATIONS.get(fmt)
        if migrate is None:
            raise ProjectFileError(f"format {fmt} is not supported", "$.format")
        obj = migrate(obj)
        fmt = obj["format"]
    return r.project(obj)


# Migrations from format N to N+1 (dict -> dict). None yet: format 1 is the first.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


