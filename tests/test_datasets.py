"""Datasets behind the Input block: reading files, splitting, normalising, batching, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dpg_blocks.builtin.inputs import digits_csv
from dpg_blocks.engine.data.datasets import (
    ArrayDataSource,
    DatasetError,
    NoiseSource,
)
from dpg_blocks.engine.data.readers import read_csv, read_npz


def source(x: np.ndarray, y: np.ndarray | None = None, **kw: object) -> ArrayDataSource:
    options: dict[str, object] = dict(
        name="data.csv",
        val_percent=10,
        test_percent=20,
        batch_size=8,
        shuffle_seed=0,
        reshape=(),
        normalize="none",
    )
    options.update(kw)
    return ArrayDataSource(x, y, **options)  # type: ignore[arg-type]


def rows_of(src: ArrayDataSource, split: str) -> set[float]:
    """The first feature of every sample in ``split`` (the tests make it a unique row id)."""
    xs, _ = src.split_data(split)
    return {float(x.reshape(-1)[0]) for x in xs}


@pytest.fixture
def write(tmp_path: Path):
    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


# -- the embedded digits ----------------------------------------------------------------------------


def test_embedded_digits_have_1797_images_of_64_pixels_and_10_classes() -> None:
    x, y = read_csv(digits_csv())
    assert x.shape == (1797, 64) and x.dtype == np.float32
    assert y.dtype == np.int64 and set(np.unique(y)) == set(range(10))
    assert x.min() == 0 and x.max() == 16
    src = ArrayDataSource(
        x, y, name="digits.csv", val_percent=10, test_percent=20, batch_size=64, shuffle_seed=0,
        reshape=[1, 8, 8], normalize="minmax",
    )  # fmt: skip
    assert src.num_classes == 10 and src.has_labels and src.sample_shape == (1, 8, 8)
    assert src.split_size("test") == 359 and src.split_size("val") == 180 and src.split_size("train") == 1258


# -- splits -----------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(20, 300),
    val=st.sampled_from([0, 5, 10, 25]),
    test=st.sampled_from([0, 10, 20, 30]),
    seed=st.integers(-5, 5),
)
def test_splits_add_up_are_disjoint_and_reproducible(n: int, val: int, test: int, seed: int) -> None:
    x = np.arange(n, dtype=np.float32).reshape(n, 1)
    a = source(x, val_percent=val, test_percent=test, shuffle_seed=seed)
    b = source(x, val_percent=val, test_percent=test, shuffle_seed=seed)
    splits = {s: rows_of(a, s) for s in ("train", "val", "test")}
    assert sum(a.split_size(s) for s in splits) == n
    assert set.union(*splits.values()) == set(range(n))
    assert sum(len(v) for v in splits.values()) == n
    assert a.split_size("test") == round(n * test / 100)
    assert all(rows_of(b, s) == splits[s] for s in splits)


def test_a_different_seed_gives_a_different_split() -> None:
    x = np.arange(100, dtype=np.float32).reshape(100, 1)
    assert rows_of(source(x, shuffle_seed=1), "test") != rows_of(source(x, shuffle_seed=2), "test")


def test_split_follows_the_documented_permutation() -> None:
    x = np.arange(50, dtype=np.float32).reshape(50, 1)
    perm = np.random.default_rng(7).permutation(50)
    src = source(x, shuffle_seed=7, val_percent=10, test_percent=20)
    assert rows_of(src, "test") == set(perm[:10].tolist())
    assert rows_of(src, "val") == set(perm[10:15].tolist())


# -- normalisation ---------------------------------------------------------------------------------


def test_minmax_scales_with_training_statistics_only() -> None:
    x = np.arange(100, dtype=np.float32).reshape(100, 1) * np.array([[1.0, 10.0]], dtype=np.float32)
    raw = source(x)
    scaled = source(x, normalize="minmax")
    train_raw = raw.sample(1000)[0]
    lo, hi = train_raw.min(0).values, train_raw.max(0).values
    train = scaled.sample(1000)[0]
    assert torch.allclose(train.min(0).values, torch.zeros(2)) and torch.allclose(
        train.max(0).values, torch.ones(2)
    )
    test_raw = torch.cat([xb for xb, _ in raw.batches("test", epoch=0, shuffle=False)])
    test = torch.cat([xb for xb, _ in scaled.batches("test", epoch=0, shuffle=False)])
    assert torch.allclose(test, (test_raw - lo) / (hi - lo))


def test_standardize_gives_training_mean_0_and_std_1() -> None:
    x = np.random.default_rng(0).normal(5, 3, size=(200, 4)).astype(np.float32)
    train = source(x, normalize="standardize").sample(1000)[0]
    assert torch.allclose(train.mean(0), torch.zeros(4), atol=1e-5)
    assert torch.allclose(train.std(0, unbiased=False), torch.ones(4), atol=1e-4)


def test_a_constant_feature_does_not_become_nan() -> None:
    x = np.ones((50, 2), dtype=np.float32)
    for how in ("minmax", "standardize"):
        assert torch.isfinite(source(x, normalize=how).sample(50)[0]).all()


# -- batching --------------------------------------------------------------------------------------


def test_batches_cover_the_split_and_keep_the_last_partial_batch() -> None:
    x = np.arange(50, dtype=np.float32).reshape(50, 1)
    src = source(x, np.arange(50), val_percent=0, test_percent=0, batch_size=16)
    batches = list(src.batches("train", epoch=0, shuffle=True))
    assert src.num_batches("train") == len(batches) == 4
    assert [len(xb) for xb, _ in batches] == [16, 16, 16, 2]
    xs = torch.cat([xb for xb, _ in batches]).flatten()
    ys = torch.cat([yb for _, yb in batches])
    assert sorted(xs.tolist()) == list(range(50)) and torch.equal(xs.long(), ys)
    assert ys.dtype == torch.int64


def test_training_order_is_reproducible_per_epoch_and_changes_between_epochs() -> None:
    x = np.arange(64, dtype=np.float32).reshape(64, 1)

    def order(src: ArrayDataSource, epoch: int) -> list[float]:
        return torch.cat([xb for xb, _ in src.batches("train", epoch=epoch, shuffle=True)]).flatten().tolist()

    a, b = source(x, shuffle_seed=3), source(x, shuffle_seed=3)
    assert order(a, 1) == order(b, 1)
    assert order(a, 1) != order(a, 2)
    unshuffled = [torch.cat([xb for xb, _ in a.batches("train", epoch=e, shuffle=False)]) for e in (1, 2)]
    assert torch.equal(*unshuffled)


def test_sample_is_the_first_training_samples() -> None:
    x = np.arange(40, dtype=np.float32).reshape(40, 1)
    src = source(x, np.arange(40) % 4)
    sx, sy = src.sample(5)
    first = next(src.batches("train", epoch=0, shuffle=False))
    assert torch.equal(sx, first[0][:5]) and torch.equal(sy, first[1][:5])
    assert torch.equal(src.sample(5)[0], sx)


def test_unlabelled_data_yields_no_labels() -> None:
    src = source(np.zeros((20, 3), dtype=np.float32), None)
    assert not src.has_labels and src.num_classes is None
    assert next(src.batches("train", epoch=0, shuffle=False))[1] is None


def test_csv_with_blank_lines_quotes_and_windows_line_ends(write) -> None:
    x, y = read_csv(write("win.csv", 'a,"b",label\r\n\r\n1,"2.5",0\r\n3, 4 ,1\r\n\r\n'))
    assert x.tolist() == [[1.0, 2.5], [3.0, 4.0]] and y.tolist() == [0, 1]


def test_csv_without_a_label_column(write) -> None:
    x, y = read_csv(write("plain.csv", "a,b\n1,2\n3,4\n"), label_column="")
    assert x.shape == (2, 2) and y is None


def test_a_column_of_class_numbers_becomes_a_label_vector() -> None:
    src = source(np.zeros((20, 2)), (np.arange(20) % 3).reshape(20, 1))
    assert src.num_classes == 3 and src.sample(4)[1].shape == (4,)


def test_real_valued_labels_stay_float(write) -> None:
    x, y = read_csv(write("r.csv", "a,label\n1,0.5\n2,1.5\n"))
    assert y.dtype == np.float32
    assert source(np.repeat(x, 10, 0), np.repeat(y, 10)).num_classes is None


def test_reshape_gives_every_sample_the_requested_shape() -> None:
    src = source(np.zeros((20, 12), dtype=np.float32), reshape=[3, -1])
    assert src.sample_shape == (3, 4) and src.sample(2)[0].shape == (2, 3, 4)


# -- noise ------------------------------------------------------------------------------------------


def test_noise_is_reproducible_per_seed_and_epoch() -> None:
    def epoch(src: NoiseSource, e: int, split: str = "train") -> torch.Tensor:
        return torch.cat([xb for xb, _ in src.batches(split, epoch=e, shuffle=True)])

    a, b = NoiseSource([4], 20, 8, seed=1, name="z"), NoiseSource([4], 20, 8, seed=1, name="z")
    assert epoch(a, 0).shape == (20, 4) and a.num_batches("train") == 3
    assert torch.equal(epoch(a, 3), epoch(b, 3))
    assert not torch.equal(epoch(a, 3), epoch(a, 4))
    assert not torch.equal(epoch(a, 3), epoch(NoiseSource([4], 20, 8, seed=2, name="z"), 3))
    assert torch.equal(epoch(a, 0, "val"), epoch(a, 5, "val"))
    assert all(a.split_size(s) == 20 for s in ("train", "val", "test"))
    assert not a.has_labels and a.sample(3)[0].shape == (3, 4)


def test_noise_with_an_open_shape_is_rejected() -> None:
    with pytest.raises(DatasetError, match="noise shape"):
        NoiseSource([-1, 4], 10, 4, seed=0, name="z")


# -- errors a user can make -------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="nope.csv.*not found"):
        read_csv(tmp_path / "nope.csv")
    with pytest.raises(DatasetError, match="nope.npz.*not found"):
        read_npz(tmp_path / "nope.npz")


def test_empty_file(write) -> None:
    with pytest.raises(DatasetError, match="empty.csv.*empty"):
        read_csv(write("empty.csv", ""))
    with pytest.raises(DatasetError, match="header.csv.*no data rows"):
        read_csv(write("header.csv", "a,b,label\n"))


def test_missing_label_column_lists_the_columns_found(write) -> None:
    with pytest.raises(DatasetError, match=r"cols.csv.*'class'.*a, b, label"):
        read_csv(write("cols.csv", "a,b,label\n1,2,0\n"), "class")


def test_non_numeric_cell_names_the_line_and_column(write) -> None:
    path = write("bad.csv", "a,b,label\n1,2,0\n3,four,1\n")
    with pytest.raises(DatasetError, match=r"bad.csv, line 3, column 'b'.*'four' is not a number"):
        read_csv(path)


def test_empty_cell_names_the_line_and_column(write) -> None:
    with pytest.raises(DatasetError, match=r"gap.csv, line 2, column 'a'.*empty"):
        read_csv(write("gap.csv", "a,b,label\n,2,0\n"))


def test_ragged_row_names_the_line(write) -> None:
    path = write("ragged.csv", "a,b,label\n1,2,0\n3,1\n")
    with pytest.raises(DatasetError, match=r"ragged.csv, line 3: the row has 2 values but the header has 3"):
        read_csv(path)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_missing_or_infinite_values_name_the_line_and_column(write, value: str) -> None:
    path = write("holes.csv", f"a,b,label\n1,2,0\n3,{value},1\n")
    with pytest.raises(DatasetError, match=rf"holes.csv, line 3, column 'b'.*'{value}'"):
        read_csv(path)


def test_npz_without_x_lists_the_keys(tmp_path: Path) -> None:
    path = tmp_path / "arrays.npz"
    np.savez(path, images=np.zeros((3, 2)), y=np.zeros(3))
    with pytest.raises(DatasetError, match=r"arrays.npz.*'x'.*images, y"):
        read_npz(path)


def test_npz_with_fewer_labels_than_samples(tmp_path: Path) -> None:
    path = tmp_path / "short.npz"
    np.savez(path, x=np.zeros((5, 2)), y=np.zeros(4, dtype=np.int64))
    with pytest.raises(DatasetError, match=r"short.npz.*5 samples.*4 labels"):
        read_npz(path)


def test_npz_with_nan_names_the_key_and_index(tmp_path: Path) -> None:
    path = tmp_path / "nan.npz"
    x = np.zeros((5, 2))
    x[3, 1] = np.nan
    np.savez(path, x=x)
    with pytest.raises(DatasetError, match=r"nan.npz.*x\[3, 1\]"):
        read_npz(path)


def test_npz_loads_images_and_labels(tmp_path: Path) -> None:
    path = tmp_path / "img.npz"
    np.savez(path, x=np.zeros((30, 1, 4, 4), dtype=np.uint8), y=np.arange(30) % 3)
    x, y = read_npz(path)
    src = source(x, y)
    assert src.sample_shape == (1, 4, 4) and src.num_classes == 3


def test_not_an_npz_file(write) -> None:
    with pytest.raises(DatasetError, match="fake.npz"):
        read_npz(write("fake.npz", "hello"))


def test_x_and_y_of_different_lengths() -> None:
    with pytest.raises(DatasetError, match=r"data.csv.*10 samples.*9 labels"):
        source(np.zeros((10, 2)), np.zeros(9))


def test_val_and_test_percent_leaving_nothing_to_train() -> None:
    with pytest.raises(DatasetError, match=r"data.csv.*60% \+ test 40%"):
        source(np.zeros((10, 2)), val_percent=60, test_percent=40)


def test_a_split_that_rounds_to_no_samples() -> None:
    with pytest.raises(DatasetError, match=r"data.csv.*validation split"):
        source(np.zeros((10, 2)), val_percent=1, test_percent=20)


def test_reshape_that_does_not_fit_names_the_row_size_and_the_shape() -> None:
    with pytest.raises(DatasetError, match=r"data.csv.*64 values.*\[1, 9, 9\]"):
        source(np.zeros((10, 64)), reshape=[1, 9, 9])


def test_noise_ids_are_whole_numbers_below_the_count_the_same_for_a_seed() -> None:
    import torch

    from dpg_blocks.engine.data.datasets import DatasetError, NoiseSource

    source = NoiseSource([7], 40, 16, seed=3, ids=5)
    x, y = next(source.batches("train", epoch=0, shuffle=False))
    again, _ = next(NoiseSource([7], 40, 16, seed=3, ids=5).batches("train", epoch=0, shuffle=False))
    assert x.dtype == torch.int64 and x.shape == (16, 7) and y is None
    assert 0 <= int(x.min()) and int(x.max()) < 5 and torch.equal(x, again)
    with pytest.raises(DatasetError, match="noise ids must be 0"):
        NoiseSource([7], 40, 16, seed=3, ids=-1)
