"""What changed between two project dicts, in the words a user would use (stdlib only).

The Runs list shows it beside each run ("learning rate of order 1: 0.003 → 0.01"), and
``dpg-blocks train --resume`` refuses a changed project by naming it. Only what changes training
is named: positions on the canvas, the project's display name and ``meta`` are not.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["settings_changes"]

ARROW = "→"
# param names as a user says them; anything else is shown under its own name
PARAM_WORDS = {
    "out_features": "units",
    "out_channels": "channels",
    "kernel_size": "kernel size",
    "p": "dropout rate",
    "batch_size": "batch size",
    "val_percent": "validation %",
    "test_percent": "test %",
    "shuffle_seed": "shuffle seed",
}
OPTIMIZER_WORDS = {
    "type": "optimizer",
    "lr": "learning rate",
    "weight_decay": "weight decay",
    "momentum": "momentum",
    "scheduler": "scheduler",
    "step_size": "scheduler step size",
    "gamma": "scheduler gamma",
}
MAX_VALUE_CHARS = 40


def _show(value: Any) -> str:
    if isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def _change(what: str, before: Any, after: Any) -> str:
    return f"{what}: {_show(before)} {ARROW} {_show(after)}"


def _blocks(graph: Any, prefix: str = "") -> dict[str, tuple[str, dict[str, Any]]]:
    """Every block at every SuperBlock level: id → (path, block dict)."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    if not isinstance(graph, dict):
        return found
    for b in graph.get("blocks") or []:
        if not isinstance(b, dict) or "id" not in b:
            continue
        path = f"{prefix}{b.get('name', b['id'])}"
        found[str(b["id"])] = (path, b)
        if isinstance(b.get("graph"), dict):
            found.update(_blocks(b["graph"], path + " › "))
    return found


def _links(graph: Any, names: dict[str, str]) -> set[str]:
    out: set[str] = set()
    if not isinstance(graph, dict):
        return out
    for link in graph.get("links") or []:
        try:
            (s, sp), (d, dp) = link["src"], link["dst"]
        except (KeyError, TypeError, ValueError):
            continue
        out.add(f"{names.get(s, s)}.{sp} {ARROW} {names.get(d, d)}.{dp}")
    for b in graph.get("blocks") or []:
        if isinstance(b, dict) and isinstance(b.get("graph"), dict):
            out |= _links(b["graph"], names)
    return out


def _type_name(block: dict[str, Any]) -> str:
    return str(block.get("type", "")).rsplit(".", 1)[-1]


def _block_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    old, new = _blocks(before.get("graph")), _blocks(after.get("graph"))
    changes: list[str] = []
    for bid, (path, b) in new.items():
        if bid not in old:
            name = _type_name(b)
            changes.append(f"block added: {name}" + (f" ({path})" if path != name else ""))
    for bid, (path, _b) in old.items():
        if bid not in new:
            changes.append(f"block removed: {path}")
    for bid, (path, b) in new.items():
        if bid not in old:
            continue
        old_path, ob = old[bid]
        if old_path != path:
            changes.append(f"block renamed: {old_path} {ARROW} {path}")
        if ob.get("type") != b.get("type"):
            changes.append(_change(f"{path} type", _type_name(ob), _type_name(b)))
        op, np_ = ob.get("params") or {}, b.get("params") or {}
        for key in list(np_) + [k for k in op if k not in np_]:
            if op.get(key) == np_.get(key):
                continue
            word = PARAM_WORDS.get(key, key)
            if key == "code" or (isinstance(np_.get(key), str) and "\n" in np_.get(key, "")):
                changes.append(f"{path} {word} edited")
            else:
                changes.append(_change(f"{path} {word}", op.get(key), np_.get(key)))
    names_old = {bid: p for bid, (p, _) in old.items()}
    names_new = {bid: p for bid, (p, _) in new.items()}
    lo, ln = _links(before.get("graph"), names_old), _links(after.get("graph"), names_new)
    # links of added/removed blocks are implied by the block lines
    gone = {p for bid, (p, _) in old.items() if bid not in new}
    came = {p for bid, (p, _) in new.items() if bid not in old}
    for link in sorted(ln - lo):
        if not any(link.startswith(p + ".") or f"{ARROW} {p}." in link for p in came):
            changes.append(f"link added: {link}")
    for link in sorted(lo - ln):
        if not any(link.startswith(p + ".") or f"{ARROW} {p}." in link for p in gone):
            changes.append(f"link removed: {link}")
    return changes


def _order_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    def orders(doc: dict[str, Any]) -> dict[int, dict[str, Any]]:
        return {o["index"]: o for o in doc.get("orders") or [] if isinstance(o, dict) and "index" in o}

    old, new = orders(before), orders(after)
    changes: list[str] = []
    for k in sorted(new.keys() - old.keys()):
        changes.append(f"order added: {k}")
    for k in sorted(old.keys() - new.keys()):
        changes.append(f"order removed: {k}")
    for k in sorted(new.keys() & old.keys()):
        o, n = old[k], new[k]
        if o.get("name") != n.get("name"):
            changes.append(_change(f"name of order {k}", o.get("name"), n.get("name")))
        oo, no = o.get("optimizer") or {}, n.get("optimizer") or {}
        for key in list(no) + [x for x in oo if x not in no]:
            if oo.get(key) != no.get(key):
                changes.append(_change(f"{OPTIMIZER_WORDS.get(key, key)} of order {k}", oo.get(key), no.get(key)))
        for key, word in (("optimize", "blocks optimised"), ("losses", "losses")):
            if o.get(key) != n.get(key):
                changes.append(_change(f"{word} by order {k}" if key == "optimize" else f"{word} of order {k}",
                                       o.get(key) or "all", n.get(key) or "all"))
    return changes


def settings_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What changed from ``before`` to ``after`` (project dicts), one phrase per change, e.g.
    ``"learning rate of order 1: 0.003 → 0.01"``, ``"FC2 units: 128 → 64"``,
    ``"block added: Dropout"``, ``"epochs: 10 → 20"``. Empty when nothing that trains changed."""
    changes: list[str] = []
    ot, nt = before.get("training") or {}, after.get("training") or {}
    for key in ("epochs", "seed", "device"):
        if ot.get(key) != nt.get(key):
            changes.append(_change(key, ot.get(key), nt.get(key)))
    changes += _order_changes(before, after)
    changes += _block_changes(before, after)
    return changes
