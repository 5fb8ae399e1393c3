"""Data sources by the path earlier docs/plugins.md gave input packs; the code is in :mod:`.data`.

New packs make their sources through the build context (``ctx.array_source``, ``ctx.noise_source``);
this name stays importable for packs written against the earlier guide (an external contract).
"""

from .data.datasets import ArrayDataSource, DatasetError, DataSource, NoiseSource
from .data.images import read_image_folder
from .data.readers import read_csv, read_npz

__all__ = ["ArrayDataSource", "DataSource", "DatasetError", "NoiseSource", "read_csv", "read_image_folder", "read_npz"]
