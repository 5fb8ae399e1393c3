"""Data sources behind the Input block: train/val/test splits, normalisation and batching.

A :class:`DataSource` hands out ``(x, y)`` batches per split. :class:`ArrayDataSource` holds a
whole dataset in memory as torch tensors (moved to each device once), splits it with a seeded
permutation and normalises it with statistics of the training split only, so validation and
test numbers are honest. :class:`NoiseSource` draws standard-normal samples (GAN generators).
The files are read by :mod:`.readers` (CSV, NPZ) and :mod:`.images` (a folder of images).

Every problem a user can cause raises :class:`DatasetError` with a message that names the file
and the row/column or key, because the user has to find and fix it in their data.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "DatasetError",
    "DataSource",
    "ArrayDataSource",
    "NoiseSource",
    "SPLITS",
    "NORMALIZATIONS",
    "batch_starts",
]

SPLITS = ("train", "val", "test")
NORMALIZATIONS = ("none", "minmax", "standardize")
_U64 = (1 << 64) - 1


class DatasetError(ValueError):
    """Bad data or bad dataset settings; the message names the file and the row/column or key."""


def _seed(*keys: int) -> list[int]:
    # numpy seeds must be non-negative; masking keeps a negative seed distinct and reproducible
    # and leaves non-negative seeds unchanged (so default_rng(seed) matches the documented split).
    return [int(k) & _U64 for k in keys]


def _device_key(device: torch.device | str) -> torch.device:
    dev = torch.device(device)
    if dev.type == "cuda" and dev.index is None:
        # "cuda" and "cuda:0" are the same memory; one cache entry for both
        dev = torch.device("cuda", torch.cuda.current_device())
    return dev


def batch_starts(n: int, batch_size: int, split: str) -> range:
    """Where the batches of a pass over ``n`` samples start.

    A trailing *training* batch of one sample is dropped (when the batch size is larger): one
    sample is no batch to train on — BatchNorm refuses it ("Expected more than 1 value per
    channel") and its gradient is one sample's noise. Validation and test keep every sample.
    """
    if split == "train" and batch_size > 1 and n > 1 and n % batch_size == 1:
        n -= 1
    return range(0, n, batch_size)


class DataSource:
    """Batches of ``(x, y)`` for the splits "train", "val" and "test" (``y`` is None without labels)."""

    name: str = ""
    has_labels: bool = False
    num_classes: int | None = None
    class_names: list[str] | None = None  # an image folder's sub-folders; None: the classes are numbered
    sample_shape: tuple[int, ...] = ()
    batch_size: int = 1

    def split_size(self, split: str) -> int:
        """Number of samples in ``split``."""
        raise NotImplementedError

    def num_batches(self, split: str) -> int:
        """Number of batches one pass over ``split`` yields (the last one may be partial)."""
        return len(batch_starts(self.split_size(split), self.batch_size, split))

    def batches(
        self, split: str, *, epoch: int, shuffle: bool, device: torch.device | str = "cpu"
    ) -> Iterator[tuple[Tensor, Tensor | None]]:
        """The batches of one pass over ``split``; reproducible for a given ``epoch``."""
        raise NotImplementedError

    def sample(self, n: int, device: torch.device | str = "cpu") -> tuple[Tensor, Tensor | None]:
        """The first ``n`` training samples (always the same ones), for validating a graph."""
        raise NotImplementedError

    def _check_split(self, split: str) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")


# -- in-memory arrays ---------------------------------------------------------------------------


class ArrayDataSource(DataSource):
    """A dataset held in memory: split, normalised with training statistics, reshaped per sample."""

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray | None,
        *,
        name: str,
        val_percent: float = 10.0,
        test_percent: float = 20.0,
        batch_size: int = 64,
        shuffle_seed: int = 0,
        reshape: Sequence[int] = (),
        normalize: str = "minmax",
    ) -> None:
        self.name = name
        self.batch_size = _check_batch_size(batch_size, name)
        self.shuffle_seed = int(shuffle_seed)
        x = np.asarray(x)
        if x.ndim == 1:
            x = x.reshape(-1, 1)  # one feature per sample
        n = x.shape[0]
        if n == 0:
            raise DatasetError(f"{name}: the dataset has no samples")
        if y is not None:
            y = np.asarray(y)
            if y.shape[0] != n:
                raise DatasetError(
                    f"{name}: x has {n} samples but y has {y.shape[0]} labels; they must match"
                )
        _check_finite(x, name, "x")
        _check_float32_range(x, name, "x")
        features = x.reshape(n, -1).astype(np.float32)
        self.sample_shape = _resolve_reshape(x.shape[1:], reshape, name)

        test_idx, val_idx, train_idx = _split_indices(n, val_percent, test_percent, self.shuffle_seed, name)
        features = _normalize(features, features[train_idx], normalize, name)
        labels = _labels_tensor(y, name) if y is not None else None
        self.has_labels = labels is not None
        self.num_classes = _num_classes(labels)

        data = torch.from_numpy(features).reshape(n, *self.sample_shape)
        index = {"train": train_idx, "val": val_idx, "test": test_idx}
        self._cpu: dict[str, tuple[Tensor, Tensor | None]] = {}
        for split, idx in index.items():
            t_idx = torch.from_numpy(idx)
            self._cpu[split] = (
                data.index_select(0, t_idx).contiguous(),
                labels.index_select(0, t_idx).contiguous() if labels is not None else None,
            )
        self._by_device: dict[torch.device, dict[str, tuple[Tensor, Tensor | None]]] = {
            torch.device("cpu"): self._cpu
        }

    def split_size(self, split: str) -> int:
        """Number of samples in ``split``."""
        self._check_split(split)
        return int(self._cpu[split][0].shape[0])

    def _on(self, device: torch.device | str) -> dict[str, tuple[Tensor, Tensor | None]]:
        key = _device_key(device)
        cached = self._by_device.get(key)
        if cached is None:
            # moved once per device: batches are then views/gathers on the device, no copies per step
            cached = {s: (x.to(key), y.to(key) if y is not None else None) for s, (x, y) in self._cpu.items()}
            self._by_device[key] = cached
        return cached

    def batches(
        self, split: str, *, epoch: int, shuffle: bool, device: torch.device | str = "cpu"
    ) -> Iterator[tuple[Tensor, Tensor | None]]:
        """Batches of ``split``; with ``shuffle`` the order depends only on (shuffle_seed, epoch)."""
        self._check_split(split)
        x, y = self._on(device)[split]
        n = x.shape[0]
        if shuffle and n > 1:
            order = np.random.default_rng(_seed(self.shuffle_seed, epoch, SPLITS.index(split))).permutation(n)
            perm = torch.from_numpy(order).to(x.device)
            # one gather per epoch, then every batch is a cheap slice
            x = x.index_select(0, perm)
            y = y.index_select(0, perm) if y is not None else None
        bs = self.batch_size
        for start in batch_starts(n, bs, split):
            yield x[start : start + bs], (y[start : start + bs] if y is not None else None)

    def split_data(self, split: str) -> tuple[Tensor, Tensor | None]:
        """Every sample of ``split`` (CPU), in split order; batches may leave one out (``batch_starts``)."""
        self._check_split(split)
        return self._cpu[split]

    def sample(self, n: int, device: torch.device | str = "cpu") -> tuple[Tensor, Tensor | None]:
        """The first ``n`` training samples in split order."""
        x, y = self._on(device)["train"]
        return x[:n], (y[:n] if y is not None else None)


def _check_batch_size(batch_size: int, name: str) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer) or batch_size < 1:
        raise DatasetError(f"{name}: batch size must be a whole number >= 1, got {batch_size!r}")
    return int(batch_size)


def _check_finite(a: np.ndarray, name: str, key: str) -> None:
    real = np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating) or a.dtype == np.bool_
    if not real:
        raise DatasetError(f"{name}: {key} must hold real numbers, but its values are of type {a.dtype}")
    if np.issubdtype(a.dtype, np.floating):
        bad = ~np.isfinite(a)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            value = a[where]
            raise DatasetError(
                f"{name}: {key}[{', '.join(map(str, where))}] is {value}; remove or fill in missing "
                "and infinite values"
            )


def _resolve_reshape(raw_shape: tuple[int, ...], reshape: Sequence[int], name: str) -> tuple[int, ...]:
    size = math.prod(raw_shape)
    want = [int(d) for d in reshape]
    if not want:
        return tuple(raw_shape)
    if want.count(-1) > 1 or any(d < 1 and d != -1 for d in want):
        raise DatasetError(f"{name}: reshape {want} is invalid; use sizes >= 1 and at most one -1")
    known = math.prod(d for d in want if d != -1)
    if -1 in want:
        if size % known:
            raise DatasetError(
                f"{name}: each sample has {size} values, which cannot be reshaped to {want} "
                f"({size} is not a multiple of {known})"
            )
        want[want.index(-1)] = size // known
    elif known != size:
        raise DatasetError(
            f"{name}: each sample has {size} values, which cannot be reshaped to {want} ({known} values)"
        )
    return tuple(want)


def _split_indices(
    n: int, val_percent: float, test_percent: float, seed: int, name: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    for label, pct in (("validation", val_percent), ("test", test_percent)):
        if not 0 <= pct < 100:
            raise DatasetError(f"{name}: {label} percent must be between 0 and 100, got {pct}")
    if val_percent + test_percent >= 100:
        raise DatasetError(
            f"{name}: validation {val_percent:g}% + test {test_percent:g}% leaves nothing to train on; "
            "keep their sum below 100%"
        )
    n_test = round(n * test_percent / 100)
    n_val = round(n * val_percent / 100)
    n_train = n - n_test - n_val
    # A split asked for (percent > 0) that rounds to nothing would silently report no metrics.
    for label, pct, count in (("validation", val_percent, n_val), ("test", test_percent, n_test)):
        if pct > 0 and count == 0:
            raise DatasetError(
                f"{name}: {pct:g}% of {n} samples is 0 samples for the {label} split; "
                "raise the percentage or add data"
            )
    if n_train <= 0:
        raise DatasetError(f"{name}: no samples are left for training out of {n}; lower the val/test percent")
    perm = np.random.default_rng(_seed(seed)).permutation(n)
    return perm[:n_test], perm[n_test : n_test + n_val], perm[n_test + n_val :]


def _normalize(features: np.ndarray, train: np.ndarray, how: str, name: str) -> np.ndarray:
    # Per feature (column), like scikit-learn's scalers; a constant feature keeps scale 1 so it
    # maps to 0 instead of dividing by zero.
    if how == "none":
        return features
    if how == "minmax":
        lo = train.min(axis=0)
        span = train.max(axis=0) - lo
        return ((features - lo) / np.where(span > 0, span, 1)).astype(np.float32)
    if how == "standardize":
        mean = train.mean(axis=0, dtype=np.float64)
        std = train.std(axis=0, dtype=np.float64)
        return ((features - mean) / np.where(std > 0, std, 1)).astype(np.float32)
    raise DatasetError(f"{name}: unknown normalisation {how!r}; use one of {', '.join(NORMALIZATIONS)}")


def _labels_tensor(y: np.ndarray, name: str) -> Tensor:
    if np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_:
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.reshape(-1)  # a column of class numbers: losses and metrics want (N,)
        if y.dtype == np.uint64 and y.size and int(y.max()) > np.iinfo(np.int64).max:
            where = int(np.argmax(y))
            raise DatasetError(f"{name}: y[{where}] is {y[where]}, too large for a class number")
        return torch.from_numpy(y.astype(np.int64))
    _check_finite(y, name, "y")
    _check_float32_range(y, name, "y")
    return torch.from_numpy(y.astype(np.float32))


def _check_float32_range(a: np.ndarray, name: str, key: str) -> None:
    """Values a float32 tensor cannot hold would silently become ±inf."""
    if np.issubdtype(a.dtype, np.floating) and a.dtype.itemsize > 4 and a.size:
        over = np.abs(a) > np.finfo(np.float32).max
        if over.any():
            where = tuple(int(i) for i in np.argwhere(over)[0])
            raise DatasetError(
                f"{name}: {key}[{', '.join(map(str, where))}] is {a[where]:g}, too large for a 32-bit float "
                "(at most 3.4e38); rescale the data"
            )


def _num_classes(labels: Tensor | None) -> int | None:
    if labels is None or labels.dtype != torch.int64 or labels.numel() == 0 or labels.dim() != 1:
        return None
    if int(labels.min()) < 0:
        return None  # negative integers are values to regress, not class indices
    return int(labels.max()) + 1


# -- random noise ------------------------------------------------------------------------------


class NoiseSource(DataSource):
    """Standard-normal samples (or, with ``ids``, random whole-number ids), ``count`` per split;
    training batches change every epoch.

    Validation and test noise stay the same across epochs so their losses are comparable.
    """

    def __init__(
        self, shape: Sequence[int], count: int, batch_size: int, seed: int, name: str = "noise", ids: int = 0
    ) -> None:
        self.name = name
        if isinstance(ids, bool) or int(ids) < 0:
            raise DatasetError(f"{name}: noise ids must be 0 (Gaussian noise) or the number of ids, got {ids!r}")
        self.ids = int(ids)  # > 0: whole-number ids 0 … ids − 1 (token inputs) instead of Gaussian noise
        shape = tuple(int(d) for d in shape)
        if not shape or any(d < 1 for d in shape):
            raise DatasetError(f"{name}: noise shape must be one or more sizes >= 1, got {list(shape)}")
        if isinstance(count, bool) or int(count) < 1:
            raise DatasetError(f"{name}: noise count must be >= 1, got {count!r}")
        self.sample_shape = shape
        self.count = int(count)
        self.batch_size = _check_batch_size(batch_size, name)
        self.seed = int(seed)
        self.has_labels = False
        self.num_classes = None

    def split_size(self, split: str) -> int:
        """The same ``count`` for every split."""
        self._check_split(split)
        return self.count

    def _generator(self, split: str, epoch: int) -> torch.Generator:
        key = epoch if split == "train" else 0
        seed_seq = np.random.SeedSequence(_seed(self.seed, SPLITS.index(split), key))
        return torch.Generator().manual_seed(int(seed_seq.generate_state(1, np.uint64)[0] >> 1))

    def batches(
        self, split: str, *, epoch: int, shuffle: bool, device: torch.device | str = "cpu"
    ) -> Iterator[tuple[Tensor, None]]:
        """Fresh noise for (seed, split, epoch); ``shuffle`` has no meaning for noise."""
        self._check_split(split)
        gen = self._generator(split, epoch)
        dev = torch.device(device)
        for start in batch_starts(self.count, self.batch_size, split):
            b = min(self.batch_size, self.count - start)
            # drawn on the CPU so the numbers are the same on every device; to a GPU from pinned
            # memory, so the copy does not hold the step up (array data is on the device already)
            x = self._draw(b, gen)
            yield (x.pin_memory().to(dev, non_blocking=True) if dev.type == "cuda" else x), None

    def _draw(self, n: int, gen: torch.Generator) -> Tensor:
        if self.ids:
            return torch.randint(0, self.ids, (n, *self.sample_shape), generator=gen)
        return torch.randn((n, *self.sample_shape), generator=gen)

    def sample(self, n: int, device: torch.device | str = "cpu") -> tuple[Tensor, None]:
        """The first ``n`` samples of epoch 0's training noise."""
        n = min(n, self.count)
        gen = self._generator("train", 0)
        return self._draw(n, gen).to(torch.device(device)), None
