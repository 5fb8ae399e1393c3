"""Projects that validated and trained nonsense without a word now fail with a record (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from engine_fixtures import builder, registry, write_npz

from dpg_blocks.cli import main
from dpg_blocks.core import Order
from dpg_blocks.core.project_file import save_project
from dpg_blocks.engine.compiling.compiler import validate_project
from dpg_blocks.engine.data.datasets import DatasetError
from dpg_blocks.engine.data.readers import read_csv


def _records(project, folder: Path, trusted: bool = False) -> dict[str, dict]:
    return {r.name: r.to_dict() for r in validate_project(project, registry(), folder, trusted=trusted)}


def _mlp(folder: Path, code: str | None = None, **input_params):
    params = input_params or {"source": "npz", "path": "d.npz"}
    if params.get("source") == "npz":
        write_npz(folder / "d.npz")
    b = builder("silent")
    data = b.add("builtin.Input", "data", batch_size=16, **params)
    chain = [(data, "x", "")]
    if code is not None:
        chain.append((b.add("builtin.Custom", "divide", code=code), "y", "x"))
    chain.append((b.add("builtin.Linear", "fc", out_features=3), "y", "x"))
    loss = b.add("builtin.CrossEntropyLoss", "loss")
    b.chain(*chain, (loss, "", "input"))
    return b.project, data, loss


def test_an_order_whose_losses_name_an_input_is_an_error_on_that_block(tmp_path, capsys):
    project, data, _ = _mlp(tmp_path)
    project.orders = [Order(1, "main", losses=[data])]
    recs = _records(project, tmp_path)
    assert recs["data"]["status"] == "error"
    assert recs["data"]["message"].startswith("order 1 (main) lists this block among its losses, but it is a")
    assert "not a loss" in recs["data"]["message"]
    path = tmp_path / "p.dpgb"
    save_project(project, path)
    assert main(["train", str(path), "--epochs", "1", "-q"]) == 1  # it trained nothing with loss 0.0000


def test_an_order_whose_losses_name_no_block_of_the_project_says_so_on_its_loss(tmp_path):
    project, _, _ = _mlp(tmp_path)
    project.orders = [Order(1, "main", losses=["b999"])]
    recs = _records(project, tmp_path)
    assert recs["loss"]["status"] == "error" and "'b999'" in recs["loss"]["message"]


def test_a_nan_made_by_a_custom_block_is_recorded_on_that_block_not_the_loss(tmp_path):
    project, _, _ = _mlp(tmp_path, code="def forward(ctx, x):\n    return x / 0 * 0\n")
    recs = _records(project, tmp_path, trusted=True)
    assert recs["divide"]["status"] == "error"
    assert recs["divide"]["message"].startswith("output 'y' is not finite:")
    assert recs["fc"]["status"] == recs["loss"]["status"] == "upstream-error"


def _csv(folder: Path, text: str) -> Path:
    path = folder / "d.csv"
    path.write_text(text)
    return path


def test_labels_too_large_to_be_class_numbers_are_refused_with_their_line(tmp_path):
    path = _csv(tmp_path, "a,b,label\n1,2,0\n3,4,1e30\n5,6,1\n")
    with pytest.raises(DatasetError, match=r"d.csv, line 3, column 'label': the label 1e\+30 is a whole number"):
        read_csv(path)
    x, y = read_csv(_csv(tmp_path, "a,b,label\n1,2,0\n3,4,2\n5,6,1\n"))
    assert y.dtype == np.int64 and y.tolist() == [0, 2, 1]


def test_values_beyond_float32_are_refused_not_made_infinite(tmp_path):
    with pytest.raises(DatasetError, match=r"line 2, column 'b': the value 1e\+300 is too large"):
        read_csv(_csv(tmp_path, "a,b,label\n1,1e300,0\n3,4,1\n"))
    with pytest.raises(DatasetError, match=r"line 3, column 'label': the label 1\.5e\+300 is too large"):
        read_csv(_csv(tmp_path, "a,b,label\n1,2,0.5\n3,4,1.5e300\n"))


@pytest.mark.parametrize("header", ["a,label,label", "label,a,a"])
def test_a_csv_naming_a_column_twice_is_refused(tmp_path, header):
    path = _csv(tmp_path, f"{header}\n1,2,0\n3,4,1\n")
    name = "label" if header.endswith("label") else "a"
    with pytest.raises(DatasetError, match=f"d.csv, line 1: the column name '{name}' appears twice"):
        read_csv(path)


def test_a_duplicated_label_header_fails_validation_on_the_input(tmp_path, capsys):
    _csv(tmp_path, "a,label,label\n1,2,0\n3,4,1\n")
    project, _, _ = _mlp(tmp_path, source="csv", path="d.csv")
    path = tmp_path / "p.dpgb"
    save_project(project, path)
    assert main(["validate", str(path), "--json"]) == 1
    recs = {r["name"]: r for r in json.loads(capsys.readouterr().out)["blocks"]}
    assert "appears twice" in recs["data"]["message"]


def test_npz_labels_beyond_float32_are_refused(tmp_path):
    project, _, _ = _mlp(tmp_path, source="npz", path="d.npz")  # writes a good d.npz; replaced here
    np.savez(tmp_path / "d.npz", x=np.zeros((20, 3), np.float32), y=np.full(20, 1e300))
    recs = _records(project, tmp_path)
    assert recs["data"]["status"] == "error" and "too large for a 32-bit float" in recs["data"]["message"]


# -- size limits: refused before anything is inflated or allocated ---------------------------------


def _header_bomb(path: Path, shape: tuple[int, ...]) -> None:
    """An npz whose x.npy header declares ``shape`` (float32) but holds a few bytes: a tiny file
    that np.load would allocate the whole declared array for."""
    import io
    import zipfile

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("x.npy", buf.getvalue() + b"\0" * 4096)


def test_an_npz_declaring_a_huge_array_is_refused_before_np_load(tmp_path, monkeypatch):
    import tracemalloc

    from dpg_blocks.engine.data.readers import read_npz

    _header_bomb(tmp_path / "bomb.npz", (1 << 20, 4096))  # 16 GiB declared, 4 KiB stored
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError, match=r"bomb.npz: the arrays' declared size .* is 16,384.0 MiB, more than"
                                               r" the limit of 1,024 MiB; nothing was loaded"):
            read_npz(tmp_path / "bomb.npz")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_a_zip_bomb_is_refused_by_its_declared_uncompressed_size_and_the_limit_is_configurable(tmp_path, monkeypatch):
    from dpg_blocks.engine.data.readers import read_npz

    np.savez_compressed(tmp_path / "zeros.npz", x=np.zeros((64, 1 << 18), np.float32))  # 64 MiB of zeros
    assert (tmp_path / "zeros.npz").stat().st_size < 1 << 20
    monkeypatch.setenv("DPG_BLOCKS_MAX_DATA_MB", "16")
    with pytest.raises(DatasetError, match=r"the uncompressed size of 'x' and 'y' is 64.0 MiB, more than the limit "
                                           r"of 16 MiB; .*DPG_BLOCKS_MAX_DATA_MB"):
        read_npz(tmp_path / "zeros.npz")
    monkeypatch.setenv("DPG_BLOCKS_MAX_DATA_MB", "100")
    assert read_npz(tmp_path / "zeros.npz")[0].shape == (64, 1 << 18)
    monkeypatch.setenv("DPG_BLOCKS_MAX_DATA_MB", "lots")
    with pytest.raises(DatasetError, match="DPG_BLOCKS_MAX_DATA_MB='lots' is not a size"):
        read_npz(tmp_path / "zeros.npz")


def test_a_csv_larger_than_the_limit_is_refused_before_reading(tmp_path, monkeypatch):
    path = _csv(tmp_path, "a,label\n" + "1,0\n" * 300_000)  # 1.2 MB
    monkeypatch.setenv("DPG_BLOCKS_MAX_DATA_MB", "1")
    with pytest.raises(DatasetError, match=r"d.csv: the file is 1.1 MiB, more than the limit of 1 MiB"):
        read_csv(path)
