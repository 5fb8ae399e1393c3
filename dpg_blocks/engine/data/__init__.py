"""The data behind Input blocks: readers, splits, batching, and what an Input's data holds.

The names below are also importable as ``dpg_blocks.engine.datasets``, the path an earlier
docs/plugins.md gave input packs (new packs make their sources through the build context).
"""

from .datasets import ArrayDataSource, DatasetError, DataSource, NoiseSource
from .images import read_image_folder
from .readers import read_csv, read_npz

__all__ = ["ArrayDataSource", "DataSource", "DatasetError", "NoiseSource", "read_csv", "read_image_folder", "read_npz"]
