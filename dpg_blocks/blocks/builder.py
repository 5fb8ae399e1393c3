"""Build projects from code: add blocks from a catalog and link them, through edit commands.

Used by the example generator, the tests and anyone scripting a project::

    b = ProjectBuilder(registry.specs, "demo")
    x = b.add("builtin.Input", "digits")
    fc = b.add("builtin.Linear", "FC1", out_features=10, flatten_input=True)
    b.link(x, "x", fc, "x")
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dpg_blocks.core import AddBlock, Connect, Endpoint, History, Merge, Project

from .spec import BlockSpec


class ProjectBuilder:
    """A project plus its history; every call is one undoable edit."""

    def __init__(self, catalog: Mapping[str, BlockSpec], name: str = "untitled") -> None:
        self.catalog = catalog
        self.project = Project(name)
        self.history = History(self.project)
        self._x = 40.0

    def spec(self, type_id: str) -> BlockSpec:
        spec = self.catalog.get(type_id)
        if spec is None:
            raise KeyError(f"no block type {type_id!r} in the catalog")
        return spec

    def add(self, type_id: str, name: str, pos: tuple[float, float] | None = None, **params: Any) -> str:
        """Add a block (placed left to right unless ``pos`` is given); returns its id."""
        if pos is None:
            pos, self._x = (self._x, 200.0), self._x + 220.0
        spec = self.spec(type_id)
        block = spec.new_block(self.project.new_id(), name, pos, **params)
        self.history.do(AddBlock(block))
        if spec.pack and spec.pack != "builtin":  # the project records the pack versions it uses
            self.project.packs[spec.pack] = spec.pack_version
        return block.id

    def link(self, src: str, src_port: str, dst: str, dst_port: str, parent: str | None = None) -> None:
        self.history.do(Connect(Endpoint(src, src_port), Endpoint(dst, dst_port), parent))

    def chain(self, *steps: tuple[str, str, str]) -> None:
        """Link ``(block, out_port, in_port)`` steps in sequence: each output feeds the next input."""
        for (a, out_port, _), (b, _, in_port) in zip(steps, steps[1:], strict=False):
            self.link(a, out_port, b, in_port)

    def merge(self, ids: list[str], name: str) -> str:
        sb_id = self.project.new_id()
        self.history.do(Merge(ids, sb_id, name))
        return sb_id
