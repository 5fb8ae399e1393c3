"""Data sources kept between validations in the engine process.

Every edit re-validates the project, and re-reading a dataset file each time cost more than
running a 200-block graph on its sample batch. A source is reused while its block's type and
params, the project folder and the size and modification time of every file its "path"
params name are unchanged (for an image folder: of every file in its class sub-folders).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

from ..data.datasets import DataSource
from .plan import FlatNode

CAPACITY = 8  # sources kept (least recently used go first)


def _stamp(value: Any, project_dir: Path) -> tuple[str, int, int] | None:
    if not isinstance(value, str) or not value:
        return None
    path = Path(value).expanduser()
    path = path if path.is_absolute() else project_dir / path
    try:
        st = os.stat(path)
        if path.is_dir():
            return (str(path), *_folder_stamp(path))
    except OSError:
        return None  # a missing file is never cached: loading it fails and says so
    return (str(path), st.st_mtime_ns, st.st_size)


def _folder_stamp(path: Path) -> tuple[int, int]:
    """A digest of the names, sizes and times of the files one level down (an image folder's
    classes), and their count: adding, removing or editing an image changes it."""
    h = hashlib.blake2b(digest_size=8)
    count = 0
    for sub in sorted(os.scandir(path), key=lambda e: e.name):
        if not sub.is_dir():
            continue
        for f in sorted(os.scandir(sub.path), key=lambda e: e.name):
            st = f.stat()
            h.update(f"{sub.name}/{f.name}\0{st.st_mtime_ns}\0{st.st_size}\n".encode())
            count += 1
    return int.from_bytes(h.digest(), "little"), count


class SourceCache:
    """A small LRU of loaded :class:`DataSource` objects."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._items: OrderedDict[tuple[Any, ...], DataSource] = OrderedDict()

    def key(self, node: FlatNode, project_dir: Path) -> tuple[Any, ...] | None:
        """What the node's source depends on, or None when it cannot be told (not cached)."""
        spec = node.spec
        if spec is None:
            return None
        try:
            params = json.dumps(node.params, sort_keys=True)
        except (TypeError, ValueError):
            return None
        stamps = []
        for p in spec.params:
            if p.type == "path" and node.params.get(p.name):
                stamp = _stamp(node.params[p.name], project_dir)
                if stamp is None:
                    return None
                stamps.append(stamp)
        return (spec.id, spec.version, params, str(project_dir), tuple(stamps))

    def get(self, key: tuple[Any, ...]) -> DataSource | None:
        source = self._items.get(key)
        if source is not None:
            self._items.move_to_end(key)
        return source

    def put(self, key: tuple[Any, ...], source: DataSource) -> None:
        self._items[key] = source
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
