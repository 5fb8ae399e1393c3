"""Reading a folder of images, one sub-folder per class: decoded with Pillow, resized, kept
in a small cache so a folder is decoded once, not per validation."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .datasets import DatasetError
from .readers import _too_big, max_data_bytes

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
COLOR_MODES = ("grayscale", "rgb")
_IMAGE_CACHE_SIZE = 4  # decoded folders kept (an image folder is decoded once, not per validation)
_image_cache: OrderedDict[tuple, tuple[np.ndarray, np.ndarray, list[str]]] = OrderedDict()


def _image_files(root: Path) -> list[tuple[str, list[Path]]]:
    """``(class name, its image files)`` per sub-folder, both sorted by name (so labels are stable)."""
    if not root.exists():
        raise DatasetError(f"{root.name}: folder not found at {root}")
    if not root.is_dir():
        raise DatasetError(f"{root.name}: not a folder; an image dataset is a folder with one sub-folder per class")
    classes = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(f for f in sub.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DatasetError(
                f"{root.name}/{sub.name}: the class folder holds no PNG or JPEG images; add some or remove it"
            )
        classes.append((sub.name, files))
    if not classes:
        raise DatasetError(
            f"{root.name}: the folder is empty; put the images in one sub-folder per class "
            f"(e.g. {root.name}/cats/001.png, {root.name}/dogs/001.png)"
        )
    if len(classes) < 2:
        raise DatasetError(
            f"{root.name}: only one class ({classes[0][0]!r}, {len(classes[0][1])} images); a classifier "
            "needs at least two class sub-folders"
        )
    return classes


def read_image_folder(
    path: str | Path, size: Sequence[int] = (28, 28), color: str = "grayscale"
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Images as float32 ``(N, C, H, W)`` in 0..1, their class numbers and the class names.

    Each sub-folder of ``path`` is a class (sorted by name: the first is class 0); its PNG and
    JPEG files are decoded with Pillow, converted to grayscale (C = 1) or RGB (C = 3) and resized
    to ``size`` (height, width). A decoded folder is kept while no file in it changes.
    """
    root = Path(path)
    dims = [int(d) for d in size]
    if len(dims) != 2 or any(d < 1 or d > 4096 for d in dims):
        raise DatasetError(f"{root.name}: image size must be [height, width] between 1 and 4096, got {dims}")
    if color not in COLOR_MODES:
        raise DatasetError(f"{root.name}: color must be one of {', '.join(COLOR_MODES)}, got {color!r}")
    classes = _image_files(root)
    files = [f for _, fs in classes for f in fs]
    stamp = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    key = (str(root.resolve()), tuple(dims), color, stamp)
    hit = _image_cache.get(key)
    if hit is not None:
        _image_cache.move_to_end(key)
        return hit
    channels = 1 if color == "grayscale" else 3
    h, w = dims
    need = len(files) * channels * h * w * 4
    limit = max_data_bytes()
    if need > limit:
        raise _too_big(root.name, f"{len(files)} images of {channels}×{h}×{w}", need, limit)
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:  # pragma: no cover - pillow is a dependency
        raise DatasetError(f"{root.name}: reading images needs Pillow (pip install pillow)") from None
    x = np.empty((len(files), channels, h, w), dtype=np.float32)
    y = np.empty(len(files), dtype=np.int64)
    i = 0
    for label, (name, fs) in enumerate(classes):
        for f in fs:
            try:
                with Image.open(f) as im:
                    im = im.convert("L" if channels == 1 else "RGB")
                    if im.size != (w, h):
                        im = im.resize((w, h), Image.BILINEAR)
                    a = np.asarray(im, dtype=np.float32) / 255.0
            except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
                raise DatasetError(
                    f"{root.name}/{name}/{f.name}: cannot read the image ({e}); replace or remove the file"
                ) from None
            x[i] = a[None] if channels == 1 else a.transpose(2, 0, 1)
            y[i] = label
            i += 1
    result = (x, y, [name for name, _ in classes])
    _image_cache[key] = result
    while len(_image_cache) > _IMAGE_CACHE_SIZE:
        _image_cache.popitem(last=False)
    return result
