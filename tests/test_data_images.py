"""Image folders as Input data, and what Add Data… checks before it changes an Input.

A folder with one sub-folder per class (PNG/JPEG) is read with Pillow, validated and trained
like a CSV; every bad dataset is refused with a message naming the file (and, for tables, the
line and column), by the same readers validation uses.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from engine_fixtures import builder
from PIL import Image

from dpg_blocks.cli import main
from dpg_blocks.core import save_project
from dpg_blocks.engine.data.data_info import inspect_input
from dpg_blocks.engine.data.datasets import DatasetError
from dpg_blocks.engine.data.images import read_image_folder

CLASSES = ("circle", "square", "stripe")


def make_image_folder(root: Path, per_class: int = 12, side: int = 10) -> Path:
    """Three classes of small grayscale PNGs, each class a different bright pattern."""
    rng = np.random.default_rng(0)
    for c, name in enumerate(CLASSES):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            a = (rng.random((side, side)) * 60).astype(np.uint8)
            if c == 0:
                a[3:7, 3:7] = 250
            elif c == 1:
                a[:, :3] = 250
            else:
                a[::2, :] = 250
            Image.fromarray(a).save(folder / f"{i:03}.png")
    return root


def image_project(path: str, out: Path) -> Path:
    b = builder("shapes")
    data = b.add("builtin.Input", "shapes", source="images", path=path, image_size=[8, 8], batch_size=8)
    fc = b.add("builtin.Linear", "FC", out_features=3, flatten_input=True)
    loss = b.add("builtin.CrossEntropyLoss", "loss")
    b.link(data, "x", fc, "x")
    b.link(fc, "y", loss, "input")
    b.project.training.epochs = 1
    save_project(b.project, out)
    return out


def test_an_image_folder_is_read_as_classes_of_resized_images(tmp_path: Path) -> None:
    root = make_image_folder(tmp_path / "shapes")
    x, y, names = read_image_folder(root, [8, 8], "grayscale")
    assert names == list(CLASSES)
    assert x.shape == (36, 1, 8, 8) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert np.bincount(y).tolist() == [12, 12, 12]
    rgb, _, _ = read_image_folder(root, [5, 6], "rgb")
    assert rgb.shape == (36, 3, 5, 6)
    again = read_image_folder(root, [8, 8], "grayscale")
    assert again[0] is x  # decoded once: unchanged files come from the cache


def test_an_image_folder_project_validates_and_trains_one_epoch_from_the_cli(tmp_path: Path) -> None:
    make_image_folder(tmp_path / "shapes")
    project = image_project("shapes", tmp_path / "shapes.dpgb")  # relative to the project file
    assert main(["validate", str(project)]) == 0
    metrics = tmp_path / "m.jsonl"
    assert main(["train", str(project), "--epochs", "1", "--metrics-out", str(metrics), "-q"]) == 0
    row = json.loads(metrics.read_text().splitlines()[0])
    assert row["epoch"] == 1 and np.isfinite(row["loss/order_1"]) and len(row["confusion_matrix"]) == 3


def test_inspect_summarises_rows_shape_classes_and_thumbnails(tmp_path: Path) -> None:
    root = make_image_folder(tmp_path / "shapes")
    info = inspect_input("b1", "shapes", {"source": "images", "path": str(root), "image_size": [10, 10]}, tmp_path)
    assert info["ok"], info
    assert (info["rows"], info["sample_shape"]) == (36, [1, 10, 10])
    assert (info["classes"], info["counts"]) == (list(CLASSES), [12, 12, 12])
    assert info["thumb_labels"] == ["circle"] * 3 + ["square"] * 3 + ["stripe"] * 2
    first = info["thumbnails"][0]  # the first circle, scaled to 0..255 by the dataset's range
    pixels = np.asarray(Image.open(root / "circle" / "000.png"), dtype=np.float64) / 255
    x, _, _ = read_image_folder(root, [10, 10])
    lo, hi = float(x.min()), float(x.max())
    assert first.shape == (10, 10)
    assert np.abs(first - (pixels - lo) / (hi - lo) * 255).max() <= 1


def _bad(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda t: _bad(t, "nolabel.csv", "a,b\n1,2\n3,4\n"), "nolabel.csv: no column named 'label'"),
        (lambda t: _bad(t, "cell.csv", "label,a,b\n0,1,2\n1,x,4\n"), "cell.csv, line 3, column 'a': 'x' is not a number"),
        (lambda t: _bad(t, "nan.csv", "label,a,b\n0,1,2\n1,nan,4\n"), "nan.csv, line 3, column 'a'"),
        (lambda t: _bad(t, "ragged.csv", "label,a,b\n0,1,2\n1,3\n"), "ragged.csv, line 3: the row has 2 values"),
        (lambda t: _bad(t, "empty.csv", ""), "empty.csv: the file is empty"),
        (lambda t: _bad(t, "one.csv", "label,a\n0,1\n0,2\n0,3\n"), "one.csv: every sample has the label '0'"),
    ],
    ids=["no-label-column", "non-numeric", "nan", "ragged", "empty", "one-class"],
)
def test_bad_tables_are_refused_naming_file_line_and_column(tmp_path: Path, make, expected: str) -> None:
    path = make(tmp_path)
    info = inspect_input("b1", "data", {"source": "csv", "path": str(path)}, tmp_path)
    assert not info["ok"] and expected in info["error"], info["error"]


def test_bad_image_folders_are_refused_naming_the_file(tmp_path: Path) -> None:
    root = make_image_folder(tmp_path / "shapes", per_class=2)
    (root / "square" / "001.png").write_bytes(b"not a png")
    info = inspect_input("b1", "data", {"source": "images", "path": str(root)}, tmp_path)
    assert not info["ok"] and "shapes/square/001.png: cannot read the image" in info["error"]
    one = make_image_folder(tmp_path / "one", per_class=2)
    for name in CLASSES[1:]:
        for f in (one / name).iterdir():
            f.unlink()
        (one / name).rmdir()
    with pytest.raises(DatasetError, match=r"one: only one class \('circle', 2 images\)"):
        read_image_folder(one)
    (tmp_path / "void").mkdir()
    with pytest.raises(DatasetError, match="void: the folder is empty"):
        read_image_folder(tmp_path / "void")


def test_the_source_cache_sees_a_changed_image(tmp_path: Path) -> None:
    from dpg_blocks.engine.compiling.source_cache import _stamp

    root = make_image_folder(tmp_path / "shapes", per_class=2)
    before = _stamp("shapes", tmp_path)
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(root / "circle" / "002.png")
    assert _stamp("shapes", tmp_path) != before
