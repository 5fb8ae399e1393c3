"""What an Input's data holds, for Add Data… and the Input's preview (the InspectData command).

The engine reads the data exactly as validation would (the block's own ``read``), so the check
before the editor changes the block's params is the real one: a file that does not load gives
the reader's error (file, line, column) and the params stay as they were.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .datasets import DatasetError, _resolve_reshape

THUMBNAILS = 8  # samples in the preview strip
THUMB_SIDE = 64  # the protocol's limit on a thumbnail's side


def inspect_input(block_id: str, name: str, params: dict[str, Any], project_dir: str | Path) -> dict[str, Any]:
    """The fields of a ``DataInfo`` for an Input with ``params`` (``ok`` False with the error)."""
    from dpg_blocks.blocks.declare import spec_of
    from dpg_blocks.builtin.inputs import Input

    from ..compiling.context import BuildCtx

    out: dict[str, Any] = {"block_id": block_id, "source": str(params.get("source", "")),
                           "path": str(params.get("path", ""))}
    try:
        block = spec_of(Input).instantiate(params)
        if block.source == "noise":
            raise DatasetError(f"{name}: a noise Input reads no data; choose a file, a folder or the example digits")
        ctx = BuildCtx(block_id, name, [name], Path(project_dir), "cpu")
        x, y, file, class_names = block.read(ctx)
        out.update(summarise(np.asarray(x), None if y is None else np.asarray(y), file, class_names,
                             list(block.reshape)))
    except DatasetError as e:
        return {**out, "ok": False, "error": str(e)}
    except (OSError, ValueError) as e:  # a bad param (ParamError), a folder that cannot be listed
        return {**out, "ok": False, "error": f"{name}: {e}"}
    return {**out, "ok": True}


def summarise(
    x: np.ndarray, y: np.ndarray | None, file: Path, class_names: list[str] | None, reshape: list[int]
) -> dict[str, Any]:
    """Rows, sample shape, classes with counts and thumbnails; DatasetError for one class only."""
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    rows = int(x.shape[0])
    raw_shape = tuple(int(d) for d in x.shape[1:])
    note = ""
    try:
        shape = _resolve_reshape(raw_shape, reshape, file.name)
        fits = True
    except DatasetError:
        shape, fits = raw_shape, False
        note = (f"the reshape {reshape} does not fit samples of shape {list(raw_shape)}; "
                "it was cleared (set it again under the Input)")
    kind, classes, counts = "none", [], []
    labels: list[str] = [""] * rows
    if y is not None:
        y = y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y
        if y.ndim == 1 and (np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_) and (y.size == 0 or y.min() >= 0):
            kind = "classes"
            values, n = np.unique(y.astype(np.int64), return_counts=True)
            classes = [class_names[v] if class_names and v < len(class_names) else str(v) for v in values.tolist()]
            counts = [int(c) for c in n]
            if len(values) < 2:
                raise DatasetError(
                    f"{file.name}: every sample has the label {classes[0]!r} ({rows} rows); a classifier needs "
                    "at least two classes"
                )
            labels = [class_names[v] if class_names and v < len(class_names) else str(v) for v in y.tolist()]
        else:
            kind = "values"
            labels = [f"{float(v):g}" if np.ndim(v) == 0 else "" for v in y[:rows]]
    picks = _picks(y if kind == "classes" else None, rows)
    lo, hi = float(np.min(x)), float(np.max(x))
    thumbs = [thumbnail(x[i].reshape(shape), lo, hi) for i in picks]
    return {"rows": rows, "sample_shape": list(shape), "label_kind": kind, "classes": classes, "counts": counts,
            "thumbnails": thumbs, "thumb_labels": [labels[i] for i in picks], "reshape_fits": fits, "note": note}


def _picks(y: np.ndarray | None, rows: int) -> list[int]:
    """Samples taken from the classes in turn (so the strip shows every class it can), in class order."""
    if y is None:
        return list(range(min(THUMBNAILS, rows)))
    by_class: dict[int, list[int]] = {}
    for i, v in enumerate(y.tolist()):
        members = by_class.setdefault(int(v), [])
        if len(members) < THUMBNAILS:
            members.append(i)
    chosen: list[int] = []
    for turn in range(THUMBNAILS):
        for label in sorted(by_class):
            if len(chosen) < THUMBNAILS and turn < len(by_class[label]):
                chosen.append(by_class[label][turn])
    return sorted(chosen, key=lambda i: (int(y[i]), i))


def thumbnail(sample: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """One sample as a uint8 image (H×W or H×W×3, at most THUMB_SIDE a side), scaled by ``lo``..``hi``.

    (C, H, W) with C 1 or 3 is an image; (H, W) a grayscale one; a flat sample of a square
    number of values (64: the digits) is a square; anything else a single row of values.
    """
    a = np.asarray(sample, dtype=np.float64)
    if a.ndim == 3 and a.shape[0] == 3:
        img = a.transpose(1, 2, 0)
    elif a.ndim == 3:
        img = a[0]
    elif a.ndim == 2:
        img = a
    else:
        flat = a.reshape(-1)
        side = math.isqrt(flat.size)
        img = flat.reshape(side, side) if side * side == flat.size else flat.reshape(1, -1)
    step_h = max(1, math.ceil(img.shape[0] / THUMB_SIDE))
    step_w = max(1, math.ceil(img.shape[1] / THUMB_SIDE))
    img = img[::step_h, ::step_w]
    span = hi - lo if hi > lo else 1.0
    return np.ascontiguousarray(np.clip(np.round((img - lo) / span * 255), 0, 255).astype(np.uint8))
