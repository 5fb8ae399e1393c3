"""What changed between two project documents, when only block params did.

Most edits while a user designs are one parameter typed into one block. Then the editor need not
send the whole document again, nor the engine decode it and validate from scratch:
:func:`param_changes` finds the blocks whose params differ (and nothing else does, positions
aside: moving a block changes no result); the editor sends only those (``Validate.edits``), the
engine sets them in its copy of the document (:func:`block_dicts`), and the validator runs those
blocks and what is downstream of them again (``Validator.revalidate``). Comparing two documents is
plain dict equality, block by block: far cheaper than encoding, decoding and checking one.
Standard library only: the editor and the engine both use it.
"""

from __future__ import annotations

from typing import Any

# what a block's dict may differ in and still be "the same block" for validation
_VIEW_ONLY = frozenset({"pos"})


def param_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]] | None:
    """Block id -> its new params, for every block whose params changed; None when anything but
    params and positions differs (a block or link added or removed, a renamed block, other ports,
    orders, training settings, shared weights…): then the document must be decoded anew."""
    if old.keys() != new.keys() or any(old[k] != new[k] for k in old if k not in ("graph", "meta")):
        return None
    changes: dict[str, dict[str, Any]] = {}
    return changes if _graph(old.get("graph"), new.get("graph"), changes) else None


def _graph(old: Any, new: Any, changes: dict[str, dict[str, Any]]) -> bool:
    if not isinstance(old, dict) or not isinstance(new, dict) or old.keys() != new.keys():
        return False
    if any(old[k] != new[k] for k in old if k != "blocks"):  # links, and anything a later format adds
        return False
    a, b = old.get("blocks"), new.get("blocks")
    if not isinstance(a, list) or not isinstance(b, list) or len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x == y:
            continue
        if not isinstance(x, dict) or not isinstance(y, dict) or x.keys() != y.keys():
            return False
        for k in x:
            if x[k] == y[k] or k in _VIEW_ONLY:
                continue
            if k == "params":
                changes[str(y.get("id"))] = y[k]
            elif k != "graph" or not _graph(x[k], y[k], changes):  # a SuperBlock's inside, recursively
                return False
    return True


def block_dicts(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Block id -> the block's dict in ``doc``, at every depth (a SuperBlock's inside too), so
    that an edit naming a block id can be set in the document where it lives."""
    out: dict[str, dict[str, Any]] = {}
    stack = [doc.get("graph")]
    while stack:
        graph = stack.pop()
        if not isinstance(graph, dict) or not isinstance(graph.get("blocks"), list):
            continue
        for block in graph["blocks"]:
            if isinstance(block, dict):
                out[str(block.get("id"))] = block
                stack.append(block.get("graph"))
    return out
