"""What ``build(self, ctx)`` and ``load(self, ctx)`` receive (implemented by the engine)."""

from __future__ import annotations

from collections.abc import Sequence
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

    # The engine's services: how any pack (the built-in one included) reads data and compiles
    # code a block carries, without importing the engine (docs/plugins.md, "The build context").
    def data_file(self, path: str, what: str) -> Path:
        """``path`` resolved against ``project_dir``; a data error asking for ``what`` when empty."""
        ...

    def read_csv(self, file: Path, label_column: str) -> tuple[Any, Any]:
        """A CSV table's feature array and label array (None when ``label_column`` is empty)."""
        ...

    def read_npz(self, file: Path) -> tuple[Any, Any]:
        """An .npz file's arrays ``x`` and ``y`` (None when it has no ``y``)."""
        ...

    def read_image_folder(self, folder: Path, size: Sequence[int], color: str) -> tuple[Any, Any, list[str]]:
        """Images in one sub-folder per class, resized: samples, labels and the class names."""
        ...

    def array_source(self, x: Any, y: Any, *, name: str, class_names: list[str] | None = None,
                     **options: Any) -> Any:
        """A data source over arrays (split, normalised, batched): what ``load`` returns."""
        ...

    def noise_source(self, shape: Sequence[int], count: int, batch_size: int, seed: int, ids: int = 0) -> Any:
        """A data source of Gaussian noise (or random ids 0 … ids − 1), ``count`` samples per split."""
        ...

    def build_module(self, code: str, class_name: str, arguments: str) -> Any:
        """Compile ``code`` (trusted projects only) and construct ``class_name(arguments)``."""
        ...

    def code_module(self, code: str, inputs: list[str], outputs: list[str], values: dict[str, Any],
                    gradient_scale: float = 0.0, gradient_schedule: str = "constant") -> Any:
        """A module running the code's ``forward(ctx, *inputs)`` (and its ``backward``, if any)."""
        ...
