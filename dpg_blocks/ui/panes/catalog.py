"""The block catalog as the editor sees it: specs by id, grouped by category, searchable.

Plain data from the engine's Ready event (``BlockSpec.to_dict`` items); no Dear PyGui here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the blocks package costs ~50 ms to import: not before the first frame
    from dpg_blocks.blocks.spec import BlockSpec


@dataclass
class CategoryNode:
    """One level of the category tree ("Layers" > "Linear"), with its blocks."""

    name: str
    children: dict[str, CategoryNode] = field(default_factory=dict)
    specs: list[BlockSpec] = field(default_factory=list)

    def count(self) -> int:
        return len(self.specs) + sum(c.count() for c in self.children.values())


class Catalog:
    """The block types the engine offers."""

    def __init__(self, specs: Iterable[dict[str, Any]] = ()) -> None:
        self.specs: dict[str, BlockSpec] = {}
        specs = list(specs)
        if specs:
            from dpg_blocks.blocks.spec import BlockSpec
        for d in specs:
            spec = BlockSpec.from_dict(d)
            self.specs[spec.id] = spec
            for legacy in spec.legacy_ids:
                self.specs.setdefault(legacy, spec)

    def __bool__(self) -> bool:
        return bool(self.specs)

    def spec(self, type_id: str) -> BlockSpec | None:
        return self.specs.get(type_id)

    def unique_specs(self) -> list[BlockSpec]:
        seen: dict[str, BlockSpec] = {}
        for s in self.specs.values():
            seen.setdefault(s.id, s)
        return list(seen.values())

    def tree(self, query: str = "") -> CategoryNode:
        """The categories (``"Layers/Convolution"`` nests) holding the specs matching ``query``."""
        root = CategoryNode("")
        q = query.strip().lower()
        for spec in sorted(self.unique_specs(), key=lambda s: (s.category.lower(), s.name.lower())):
            if q and not _matches(spec, q):
                continue
            node = root
            for part in [p for p in spec.category.split("/") if p] or ["Other"]:
                node = node.children.setdefault(part, CategoryNode(part))
            node.specs.append(spec)
        return root


def _matches(spec: BlockSpec, q: str) -> bool:
    return any(q in text.lower() for text in (spec.name, spec.id, spec.category))
