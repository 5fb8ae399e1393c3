"""Reading a dataset file: CSV tables (fast path, then a checked parse naming the row and
column) and NPZ archives, each refused before it is read when larger than the limit."""

from __future__ import annotations

import csv
import math
import os
import warnings
import zipfile
from pathlib import Path
from typing import TextIO

import numpy as np

from .datasets import DatasetError, _check_finite

MAX_DATA_ENV = "DPG_BLOCKS_MAX_DATA_MB"  # the largest dataset read, in MiB (docs/project-format.md)
DEFAULT_MAX_DATA_MB = 1024


def max_data_bytes() -> int:
    """The size limit on one dataset (``DPG_BLOCKS_MAX_DATA_MB``, default 1024 MiB)."""
    raw = os.environ.get(MAX_DATA_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_DATA_MB << 20
    try:
        mb = float(raw)
    except ValueError:
        mb = -1.0
    if not math.isfinite(mb) or mb <= 0:
        raise DatasetError(f"{MAX_DATA_ENV}={raw!r} is not a size; give the limit in MiB, e.g. {DEFAULT_MAX_DATA_MB}")
    return int(mb * (1 << 20))


def _too_big(name: str, what: str, size: int, limit: int) -> DatasetError:
    return DatasetError(
        f"{name}: {what} is {size / (1 << 20):,.1f} MiB, more than the limit of {limit / (1 << 20):,.0f} MiB; "
        f"nothing was loaded (raise the limit with the environment variable {MAX_DATA_ENV}=MiB)"
    )


def _check_npz_sizes(path: Path) -> None:
    """Refuse, before anything is inflated or allocated, an archive whose ``x``/``y`` declare more
    than the limit: the zip's uncompressed sizes and each ``.npy`` header's shape × dtype (a
    2 MB zip bomb inflated to 5 GB)."""
    limit = max_data_bytes()
    try:
        with zipfile.ZipFile(path) as archive:
            members = [i for i in archive.infolist() if i.filename in ("x.npy", "y.npy")]
            total = sum(i.file_size for i in members)
            if total > limit:
                raise _too_big(path.name, "the uncompressed size of 'x' and 'y'", total, limit)
            declared = 0
            for info in members:
                with archive.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
                    else:
                        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
                declared += math.prod(int(d) for d in shape) * dtype.itemsize
            if declared > limit:
                raise _too_big(path.name, "the arrays' declared size (shape × dtype)", declared, limit)
    except zipfile.BadZipFile:
        return  # np.load says what is wrong with it (a plain .npy, a broken file)
    except (ValueError, OSError, EOFError) as e:
        if isinstance(e, DatasetError):
            raise
        raise DatasetError(f"{path.name}: not a readable .npz file ({e})") from None


def read_csv(path: str | Path, label_column: str = "label") -> tuple[np.ndarray, np.ndarray | None]:
    """Features (float32) and labels (int64 when every label is a whole number, else float32).

    The first row is the header. An empty ``label_column`` means the file has no labels; the
    labels returned are then ``None``.
    """
    path = Path(path)
    limit = max_data_bytes()
    if path.is_file() and path.stat().st_size > limit:
        raise _too_big(path.name, "the file", path.stat().st_size, limit)
    header, header_line = _read_header(path)
    if label_column and label_column not in header:
        raise DatasetError(
            f"{path.name}: no column named {label_column!r}; the columns are {', '.join(header)}"
        )
    table = _fast_table(path, len(header)) if header_line == 1 else None
    if table is None:
        # the careful reader: slower, but it finds the line and column of whatever is wrong
        rows = _read_rows(path)
        table = _parse_table(path, header, rows)
        _check_table_finite(path, header, rows, table)
    if label_column:
        li = header.index(label_column)
        labels = table[:, li]
        features = np.delete(table, li, axis=1)
    else:
        labels, features = None, table
    if features.shape[1] == 0:
        raise DatasetError(f"{path.name}: there are no feature columns besides {label_column!r}")
    if labels is not None:
        labels = _csv_labels(path, labels, label_column)
    _check_float32(path, features, [c for c in header if c != label_column] if label_column else header)
    return features.astype(np.float32), labels


MAX_EXACT_LABEL = 2**53  # whole numbers beyond this are not exact in a float64 cell, nor class numbers


def _csv_row_line(path: Path, row: int) -> str:
    """``line N`` of data row ``row`` (0-based), read again only to name an error."""
    try:
        return f"line {_read_rows(path)[row][0]}"
    except (DatasetError, IndexError):
        return f"data row {row + 1}"


def _csv_labels(path: Path, labels: np.ndarray, column: str) -> np.ndarray:
    """Class numbers (int64) when every label is a whole number, else values (float32); refuses
    labels that neither can hold exactly (``1e30`` became int64 garbage)."""
    if np.all(labels == np.round(labels)):
        big = np.abs(labels) > MAX_EXACT_LABEL
        if big.any():
            row = int(np.argmax(big))
            raise DatasetError(
                f"{path.name}, {_csv_row_line(path, row)}, column {column!r}: the label {labels[row]:g} is a whole "
                f"number too large to be a class number (at most {MAX_EXACT_LABEL:,}); labels are class numbers "
                "0, 1, 2, … or values to regress of moderate size"
            )
        return labels.astype(np.int64)
    over = np.abs(labels) > np.finfo(np.float32).max
    if over.any():
        row = int(np.argmax(over))
        raise DatasetError(
            f"{path.name}, {_csv_row_line(path, row)}, column {column!r}: the label {labels[row]:g} is too large "
            "for a 32-bit float (at most 3.4e38)"
        )
    return labels.astype(np.float32)


def _check_float32(path: Path, features: np.ndarray, columns: list[str]) -> None:
    over = np.abs(features) > np.finfo(np.float32).max
    if over.any():
        r, c = (int(i) for i in np.argwhere(over)[0])
        raise DatasetError(
            f"{path.name}, {_csv_row_line(path, r)}, column {columns[c]!r}: the value {features[r, c]:g} is too "
            "large for a 32-bit float (at most 3.4e38); rescale the column"
        )


def _open_csv(path: Path) -> TextIO:
    if not path.is_file():
        raise DatasetError(f"{path.name}: file not found at {path}")
    return path.open(newline="", encoding="utf-8-sig")


def _read_header(path: Path) -> tuple[list[str], int]:
    """The first non-blank row's cells and its line number."""
    try:
        with _open_csv(path) as f:
            reader = csv.reader(f)
            for row in reader:
                if any(cell.strip() for cell in row):
                    header = [c.strip() for c in row]
                    _check_unique_columns(path, header, reader.line_num)
                    return header, reader.line_num
    except (UnicodeDecodeError, csv.Error) as e:
        raise DatasetError(f"{path.name}: not a readable CSV text file ({e})") from None
    raise DatasetError(f"{path.name}: the file is empty; expected a header row and data rows")


def _check_unique_columns(path: Path, header: list[str], line: int) -> None:
    """Refuse a header that names a column twice: which ``label`` would be the labels?"""
    seen: dict[str, int] = {}
    for i, name in enumerate(header, 1):
        if name in seen:
            raise DatasetError(
                f"{path.name}, line {line}: the column name {name!r} appears twice (columns {seen[name]} and {i}); "
                "give every column its own name"
            )
        seen[name] = i


def _fast_table(path: Path, width: int) -> np.ndarray | None:
    """The data rows parsed by numpy in C (~3x faster), or None when anything looks wrong."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data": the careful reader says it better
            table = np.loadtxt(
                path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2, comments=None,
                quotechar='"', encoding="utf-8-sig",
            )  # fmt: skip
    except (ValueError, UnicodeDecodeError):
        return None
    if table.shape[0] == 0 or table.shape[1] != width or not np.isfinite(table).all():
        return None
    return table


def _read_rows(path: Path) -> list[tuple[int, list[str]]]:
    """The non-blank data rows (after the header) with their line numbers in the file."""
    try:
        with _open_csv(path) as f:
            reader = csv.reader(f)
            lines = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except (UnicodeDecodeError, csv.Error) as e:
        raise DatasetError(f"{path.name}: not a readable CSV text file ({e})") from None
    if len(lines) <= 1:
        raise DatasetError(f"{path.name}: the file has a header but no data rows")
    return lines[1:]


def _parse_table(path: Path, header: list[str], rows: list[tuple[int, list[str]]]) -> np.ndarray:
    width = len(header)
    for line, row in rows:
        if len(row) != width:
            raise DatasetError(
                f"{path.name}, line {line}: the row has {len(row)} values but the header has {width} columns"
            )
    try:
        return np.array([row for _, row in rows], dtype=np.float64)
    except ValueError:
        pass
    for line, row in rows:
        for col, cell in zip(header, row, strict=True):
            try:
                float(cell)
            except ValueError:
                shown = cell.strip() or "(empty)"
                raise DatasetError(
                    f"{path.name}, line {line}, column {col!r}: {shown!r} is not a number"
                ) from None
    raise DatasetError(f"{path.name}: could not read the values as numbers")  # pragma: no cover


def _check_table_finite(
    path: Path, header: list[str], rows: list[tuple[int, list[str]]], table: np.ndarray
) -> None:
    bad = ~np.isfinite(table)
    if bad.any():
        r, c = (int(i) for i in np.argwhere(bad)[0])
        raise DatasetError(
            f"{path.name}, line {rows[r][0]}, column {header[c]!r}: the value {rows[r][1][c].strip()!r} "
            "is not a finite number; fill in or remove missing and infinite values"
        )


def read_npz(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Arrays ``x`` (required) and ``y`` (optional) from a NumPy ``.npz`` file."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path.name}: file not found at {path}")
    _check_npz_sizes(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.keys())
            if "x" not in keys:
                found = ", ".join(keys) if keys else "none"
                raise DatasetError(f"{path.name}: no array named 'x' (the samples); keys found: {found}")
            x = archive["x"]
            y = archive["y"] if "y" in keys else None
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        if isinstance(e, DatasetError):
            raise
        raise DatasetError(f"{path.name}: not a readable .npz file ({e})") from None
    if x.ndim == 0 or x.shape[0] == 0:
        raise DatasetError(f"{path.name}: 'x' holds no samples (shape {x.shape})")
    _check_finite(x, path.name, "x")
    if y is not None:
        if y.ndim == 0 or y.shape[0] != x.shape[0]:
            raise DatasetError(
                f"{path.name}: 'x' has {x.shape[0]} samples but 'y' has "
                f"{y.shape[0] if y.ndim else 0} labels; they must match"
            )
        _check_finite(y, path.name, "y")
    return x, y
