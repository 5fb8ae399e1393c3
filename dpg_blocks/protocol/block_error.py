"""How a block's error record reads as text: the same words in the editor and in the CLI.

A record is ``BlockRecord.to_dict()`` (engine/compiling/records.py), sent in ``TrainingError``; this module
is torch-free so the editor can use it.
"""

from __future__ import annotations

import re
from typing import Any

_FRAME = re.compile(r'^\s*File "(?P<file>[^"]*)", line (?P<line>\d+), in [^\n]*\n(?P<code>[^\n]*)', re.M)


def shapes_text(infos: list[dict[str, Any]]) -> str:
    """``x 32×64 float32, y —``: each port and the tensor it carried."""
    parts = []
    for t in infos:
        shape = t.get("shape")
        text = "×".join(str(d) for d in shape) if shape is not None else "—"
        parts.append(f"{t.get('port')} {text}" + (f" {t['dtype']}" if t.get("dtype") else ""))
    return ", ".join(parts) or "—"


def _library(path: str) -> bool:
    """A frame of torch or of dpg-blocks itself: not a line the user wrote."""
    parts = path.replace("\\", "/").split("/")
    return "torch" in parts or "dpg_blocks" in parts


def code_line(record: dict[str, Any]) -> str:
    """The innermost line of the user's code in the traceback (the block's own code, a plugin's),
    as ``line N of the code: source`` or ``file:line: source``; empty when there is none."""
    frames = [f for f in _FRAME.finditer(str(record.get("traceback") or "")) if not _library(f["file"])]
    if not frames:
        return ""
    f = frames[-1]
    if f["file"].startswith("<code of "):  # the block's own code (engine/compiling/usercode.py)
        return f"line {f['line']} of the code: {f['code'].strip()}"
    return f"{f['file']}:{f['line']}: {f['code'].strip()}"


def headline(record: dict[str, Any], where: str = "") -> str:
    """One line: ``block Backbone › view failed at epoch 1, step 3: RuntimeError: shape …``."""
    first = (str(record.get("message") or "").strip().splitlines() or [""])[0]
    at = f" {where}" if where else ""
    return f"block {record.get('path_text') or record.get('name')} failed{at}: {record.get('error_type')}: {first}"


def error_text(record: dict[str, Any], where: str = "") -> str:
    """The headline, the shapes at the failing call and the line of code, one per line."""
    lines = [headline(record, where), f"  inputs: {shapes_text(record.get('inputs') or [])}"]
    line = code_line(record)
    if line:
        lines.append(f"  at {line}")
    return "\n".join(lines)


def where_text(phase: str, epoch: int, step: int) -> str:
    """``at epoch 2, step 17`` (training, Step) or ``while evaluating after epoch 2``."""
    if phase == "evaluate":
        return f"while evaluating after epoch {epoch}"
    return f"at epoch {epoch}, step {step}"
