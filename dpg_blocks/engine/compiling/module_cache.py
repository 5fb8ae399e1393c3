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
from typing import Any, Generic, TypeVar

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


V = TypeVar("V")


class PlaceCache(Generic[V]):
    """One value per place (a block, or a block in an order) with the key it was made from, of
    the last validation: a new value for a place replaces the old one, so an editing session
    keeps no more than one value per block however many edits it makes."""

    def __init__(self) -> None:
        self._kept: dict[Hashable, tuple[Hashable, V]] = {}
        self._used: dict[Hashable, tuple[Hashable, V]] = {}
        self.hits = 0
        self.misses = 0

    def get(self, place: Hashable, key: Hashable | None) -> V | None:
        """The value made at ``place`` from ``key`` (None: not kept, or made from another key)."""
        entry = self._kept.get(place) if key is not None else None
        if entry is None or entry[0] != key:
            return None
        self.hits += 1
        self._used[place] = entry
        return entry[1]

    def put(self, place: Hashable, key: Hashable | None, value: V) -> None:
        self.misses += 1
        if key is not None:
            self._used[place] = (key, value)

    def finish(self, keep_unused: bool = False) -> None:
        """End of a validation: keep what it used, drop the rest (a deleted block's value goes);
        with ``keep_unused`` (a revalidation, which runs only some blocks) keep the rest too."""
        if keep_unused:
            self._kept.update(self._used)
            self._used = {}
        else:
            self._kept, self._used = self._used, {}

    def clear(self) -> None:
        self._kept, self._used = {}, {}


class StepCache(PlaceCache[Step]):
    """Steps by (block, order) and :func:`step_key` (see the module doc)."""

    UNKNOWN = _UNKNOWN

    @property
    def runs(self) -> int:
        return self.misses


class ModuleCache(PlaceCache[nn.Module]):
    """Layers by block and :func:`layer_key` (see the module doc)."""

    @property
    def builds(self) -> int:
        return self.misses
