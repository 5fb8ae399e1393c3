"""Data sources kept between validations in the engine process.

Every edit re-validates the project, and re-reading a dataset file each time cost more than
running a 200-block graph on its sample batch. A source is reused while its block's type and
params, the project folder and the size and modification time of every file its "path"
params name are unchanged.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

from .datasets import DataSource
from .plan import FlatNode

CAPACITY = 8  # sources kept (least recently used go first)


def _stamp(value: Any, project_dir: Path) -> tuple[str, int, int] | None:
    if not isinstance(value, str) or not value:
        return None
    path = Path(value).expanduser()
    path = path if path.is_absolute() else project_dir / path
    try:
        st = os.stat(path)
    except OSError:
        return None  # a missing file is never cached: loading it fails and says so
    return (str(path), st.st_mtime_ns, st.st_size)


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
