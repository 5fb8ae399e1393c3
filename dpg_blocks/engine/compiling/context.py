"""The engine's :class:`~dpg_blocks.blocks.BuildContext`: one block's view while it is built.

Besides the block's input shapes, the context is how a pack reaches the engine's services
(STYLE.md habit 8): reading data files into data sources, and compiling code a block carries.
The built-in pack uses exactly these members, as any third-party pack may, so ``builtin`` never
imports the engine. The services are a mixin so stand-in contexts (tests, a pack's own) get the
real readers and compilers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ContextServices:
    """What a block may ask the engine for while being built or loaded (data and code)."""

    name: str
    path: list[str]
    project_dir: Path

    # -- data --------------------------------------------------------------------------------
    def data_file(self, path: str, what: str) -> Path:
        """``path`` resolved against the project's folder; a data error naming the block and
        ``what`` to choose when it is empty."""
        from ..data.datasets import DatasetError

        if not path:
            raise DatasetError(f"{self.name}: choose a {what} with Add Data… (or the 'path' parameter)")
        file = Path(path).expanduser()
        return file if file.is_absolute() else Path(self.project_dir) / file

    def read_csv(self, file: Path, label_column: str) -> tuple[Any, Any]:
        """A CSV table's features and labels (None without ``label_column``) as arrays."""
        from ..data.readers import read_csv

        return read_csv(file, label_column)

    def read_npz(self, file: Path) -> tuple[Any, Any]:
        """An .npz file's arrays ``x`` and ``y`` (None when it has no ``y``)."""
        from ..data.readers import read_npz

        return read_npz(file)

    def read_image_folder(self, folder: Path, size: Sequence[int], color: str) -> tuple[Any, Any, list[str]]:
        """Images in one sub-folder per class, resized to ``size``: samples, labels, class names."""
        from ..data.images import read_image_folder

        return read_image_folder(folder, size, color)

    def array_source(self, x: Any, y: Any, *, name: str, class_names: list[str] | None = None,
                     **options: Any) -> Any:
        """A data source over arrays in memory, split, normalised and batched; ``options`` are
        ``val_percent``, ``test_percent``, ``batch_size``, ``shuffle_seed``, ``reshape`` and
        ``normalize`` (see the built-in Input's params)."""
        from ..data.datasets import ArrayDataSource

        source = ArrayDataSource(x, y, name=name, **options)
        source.class_names = class_names
        return source

    def noise_source(self, shape: Sequence[int], count: int, batch_size: int, seed: int, ids: int = 0) -> Any:
        """Gaussian noise (or, with ``ids`` > 0, random ids 0 … ids − 1), ``count`` samples per split."""
        from ..data.datasets import NoiseSource

        return NoiseSource(shape, count, batch_size, seed, name=self.name, ids=ids)

    # -- code --------------------------------------------------------------------------------
    def build_module(self, code: str, class_name: str, arguments: str) -> Any:
        """Compile ``code`` (its top level runs: trusted projects only) and construct
        ``class_name(arguments)``; errors name the line of the code."""
        from .module_code import build_module

        return build_module(code, self._code_filename(), class_name, arguments)

    def code_module(self, code: str, inputs: list[str], outputs: list[str], values: dict[str, Any],
                    gradient_scale: float = 0.0, gradient_schedule: str = "constant") -> Any:
        """A module running ``forward(ctx, *inputs)`` (and ``backward``, if defined) of ``code``."""
        from .usercode import CustomModule

        return CustomModule(code, self._code_filename(), inputs, outputs, values, gradient_scale,
                            gradient_schedule)

    def _code_filename(self) -> str:
        from .usercode import code_filename

        return code_filename(" › ".join(self.path))


@dataclass
class BuildCtx(ContextServices):
    """The context the validator builds each block with."""

    block_id: str
    name: str
    path: list[str]
    project_dir: Path
    device: str
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    dtypes: dict[str, Any] = field(default_factory=dict)
    linked: set[str] = field(default_factory=set)

    def in_shape(self, port: str) -> tuple[int, ...]:
        if port not in self.shapes:
            raise ValueError(f"input {port!r} carries no tensor")
        return self.shapes[port]

    def in_dtype(self, port: str) -> Any:
        return self.dtypes.get(port)

    def connected(self, port: str) -> bool:
        return port in self.linked
