"""Built layers kept between validations in the engine process: incremental validation.

Every edit re-validates the whole project, and building a layer (weight init included) cost
more than running it on the sample batch. A block's layer is reused while what it was built
from is unchanged: its id, type, version and params, the shapes, dtypes and links of its inputs
(so a change upstream that changes them rebuilds it and, through their shapes, what is
downstream of it), the project folder and the trust. Only the last validation's layers are kept,
so a deleted block's layer goes with the next validation. Training never uses it: a run builds
fresh layers from its seed. Layers with shared weights are not kept (a tie replaces their
parameters), nor is anything after a plugin reload.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from typing import Any

from torch import nn


def layer_key(node_id: str, type_id: str, version: int, params: dict[str, Any],
              inputs: list[tuple[str, Any, Any, bool]], project_dir: str, trusted: bool) -> Hashable | None:
    """What a layer was built from; None when the params cannot be compared (not JSON)."""
    try:
        text = json.dumps(params, sort_keys=True)
    except (TypeError, ValueError):
        return None
    return (node_id, type_id, version, text, tuple(inputs), project_dir, trusted)


class ModuleCache:
    """Layers by :func:`layer_key`, of the last validation (see the module doc)."""

    def __init__(self) -> None:
        self._kept: dict[Hashable, nn.Module] = {}
        self._used: dict[Hashable, nn.Module] = {}
        self.hits = 0
        self.builds = 0

    def get(self, key: Hashable | None) -> nn.Module | None:
        module = self._kept.get(key) if key is not None else None
        if module is not None:
            self.hits += 1
            self._used[key] = module
        return module

    def put(self, key: Hashable | None, module: nn.Module) -> None:
        self.builds += 1
        if key is not None:
            self._used[key] = module

    def finish(self) -> None:
        """End of a validation: keep what it used, drop the rest."""
        self._kept, self._used = self._used, {}

    def clear(self) -> None:
        self._kept, self._used = {}, {}
