"""What an edit must refuse, so that every document an edit makes saves and loads back.

The project file's reader (``project_file.py``) refuses the same things in a file; these are
the checks on the edit side, raising :class:`~dpg_blocks.core.graph.GraphError` before an edit
changes anything. Shared by the edit families (``graph_edits.py``, ``structure.py``,
``settings.py``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

from dpg_blocks.core.graph import BLOCK_ID, PORT_NAME, SUPERBLOCK_TYPE, Block, Graph, GraphError, Port
from dpg_blocks.core.names import name_key, name_problem
from dpg_blocks.core.project import Project

__all__ = [
    "check_json", "check_name", "check_new_block", "check_pos", "check_ports", "is_int", "is_number",
    "name_taken", "nesting_depth", "nesting_height",
]


def check_json(what: str, value: Any) -> None:
    """Refuse ``value`` unless it saves as strict JSON (no NaN, no objects json cannot write)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as e:
        raise GraphError(f"{what} cannot be saved: {e}") from None


def is_int(v: Any) -> bool:
    """Whether ``v`` is an integer (a bool is not)."""
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    """Whether ``v`` is a finite int or float (a bool is not)."""
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def check_pos(what: str, pos: Any) -> None:
    """Refuse a canvas position that is not two finite numbers."""
    if not isinstance(pos, tuple | list) or len(pos) != 2 or not all(is_number(c) for c in pos):
        raise GraphError(f"the position of {what} must be two finite numbers, got {pos!r}")


def check_ports(what: str, inputs: Sequence[Port], outputs: Sequence[Port]) -> None:
    """Refuse port names that are not identifiers or repeat on one side, and kinds that are not strings."""
    for side, ports in (("input", inputs), ("output", outputs)):
        seen: set[str] = set()
        for p in ports:
            if not isinstance(p.name, str) or not PORT_NAME.fullmatch(p.name):
                raise GraphError(f"{what}: port name {p.name!r} must be an identifier")
            if p.name in seen:
                raise GraphError(f"{what}: {side} port {p.name!r} is declared twice")
            if not isinstance(p.kind, str):
                raise GraphError(f"{what}: the kind of port {p.name!r} must be a string")
            seen.add(p.name)


def check_name(name: Any) -> None:
    """Refuse a block name that is empty, padded with spaces, or not visible text on one line."""
    if not isinstance(name, str) or not name.strip():
        raise GraphError("a block name cannot be empty")
    if name != name.strip():
        raise GraphError(f"a block name cannot start or end with spaces ({name!r})")
    problem = name_problem(name, "a block name")
    if problem is not None:
        raise GraphError(problem)


def name_taken(name: str, blocks: Iterable[Block]) -> None:
    """Refuse ``name`` when a sibling has it, or a name that looks the same (NFKC-equal)."""
    key = name_key(name)
    twin = next((b for b in blocks if name_key(b.name) == key), None)
    if twin is None:
        return
    if twin.name == name:
        raise GraphError(f"a block named {name!r} already exists here")
    raise GraphError(f"a block named {twin.name!r} already exists here, and {name!r} looks the same")


def check_new_block(block: Block) -> None:
    """One block about to enter the document (not its nested blocks, nor its links)."""
    if not isinstance(block.id, str) or not BLOCK_ID.fullmatch(block.id):
        raise GraphError(f"block id {block.id!r} must be 1-64 letters, digits, '_' or '-'")
    check_name(block.name)
    what = repr(block.name)
    if not isinstance(block.type, str) or not block.type:
        raise GraphError(f"{what} has no block type")
    if (block.type == SUPERBLOCK_TYPE) != (block.graph is not None):
        raise GraphError(f"{what}: only {SUPERBLOCK_TYPE} blocks have a graph, and they must")
    if not is_int(block.version) or block.version < 1:
        raise GraphError(f"{what}: version must be an integer >= 1, got {block.version!r}")
    check_pos(what, block.pos)
    check_ports(what, block.inputs, block.outputs)
    if not isinstance(block.params, dict) or not all(isinstance(k, str) for k in block.params):
        raise GraphError(f"{what}: params must be a dict with string keys")
    check_json(f"the params of {what}", block.params)
    if block.graph is not None:
        names = [name_key(b.name) for b in block.graph.blocks.values()]
        if len(set(names)) != len(names):
            raise GraphError(f"{what}: two blocks inside it have the same name")


def nesting_depth(project: Project, g: Graph) -> int:
    """How many SuperBlocks enclose ``g`` (0 for the root graph)."""
    depth = 0
    while g.owner is not None:
        depth += 1
        g, _ = project.locate(g.owner.id)
    return depth


def nesting_height(block: Block) -> int:
    """How many levels of SuperBlock graphs ``block`` holds (0 for a plain block)."""
    if block.graph is None:
        return 0
    return 1 + max((nesting_height(b) for b in block.graph.blocks.values()), default=0)
