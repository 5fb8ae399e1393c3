"""What the engine process keeps between validations: incremental validation.

**Layers** (:class:`ModuleCache`):

Every edit re-validates the whole project, and building a layer (weight init included) cost
more than running it on the sample batch. A block's layer is reused while what it was built
from is unchanged: its id, type, version and params, the shapes, dtypes and links of its inputs
(so a change upstream that changes them rebuilds it and, through their shapes, what is
downstream of it), the project folder and the trust. Only the last validation's layers are kept,
so a deleted block's layer goes with the next validation. Training never uses it: a run builds
fresh layers from its seed. Layers with shared weights are not kept (a tie replaces their
parameters), nor is anything after a plugin reload.

**Steps** (:class:`StepCache`): what a block computed on the sample batch, in an order. A step's
key chains the keys of the steps that feed it (:func:`step_key`), so it is unchanged exactly when
the block and everything upstream of it are: then its outputs, their shapes and its gradient check
are taken as they were, and the block is not run again. An edit re-runs the edited block and what
is downstream of it. Only successful steps are kept: a failure is run again, so its message is
fresh.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Hashable
from dataclasses import dataclass
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


def step_key(layer: Hashable | None, order: int, upstream: list[Hashable | None]) -> Hashable | None:
    """A step's key: its layer's (``layer_key`` with the node's own params), its order and the keys
    of what feeds each input (None for an unlinked one); None when any of them cannot be told.

    A digest, not the nested tuple: a chain of a thousand blocks would nest a thousand deep."""
    if layer is None or any(k is _UNKNOWN for k in upstream):
        return None
    return hashlib.blake2b(repr((layer, order, upstream)).encode(), digest_size=20).digest()


_UNKNOWN = object()  # an upstream step whose key could not be told: nothing downstream is kept


@dataclass
class Step:
    """A successful step: its outputs on the sample batch (a loss's or an Output's value: ``value``)
    and the gradient check's summary."""

    outputs: list[Any]
    value: Any = None
    gradcheck: str = ""


class StepCache:
    """Steps by :func:`step_key`, of the last validation (see the module doc)."""

    UNKNOWN = _UNKNOWN

    def __init__(self) -> None:
        self._kept: dict[Hashable, Step] = {}
        self._used: dict[Hashable, Step] = {}
        self.hits = 0
        self.runs = 0

    def get(self, key: Hashable | None) -> Step | None:
        step = self._kept.get(key) if key is not None else None
        if step is not None:
            self.hits += 1
            self._used[key] = step
        return step

    def put(self, key: Hashable | None, step: Step) -> None:
        self.runs += 1
        if key is not None:
            self._used[key] = step

    def finish(self) -> None:
        """End of a validation: keep what it used, drop the rest."""
        self._kept, self._used = self._used, {}

    def clear(self) -> None:
        self._kept, self._used = {}, {}


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
