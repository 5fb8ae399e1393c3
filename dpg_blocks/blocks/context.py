"""What ``build(self, ctx)`` and ``load(self, ctx)`` receive (implemented by the engine)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol


class BuildContext(Protocol):
    """The engine's view of one block while building it."""

    block_id: str
    name: str
    path: list[str]  # names from the root, through SuperBlocks, to this block
    project_dir: Path  # relative dataset paths resolve against this folder
    device: str

    def in_shape(self, port: str) -> tuple[int, ...]:
        """Shape of the tensor on input ``port`` in the sample batch (batch dimension first)."""
        ...

    def in_dtype(self, port: str) -> Any:
        """The torch dtype on input ``port``."""
        ...

    def connected(self, port: str) -> bool:
        """Whether input ``port`` is linked (optional inputs may not be)."""
        ...
