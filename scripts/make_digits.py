"""Write ``assets/data/digits.csv``, the example dataset behind the Input block's "digits" source.

The data is scikit-learn's bundled 8×8 handwritten digits (1797 images, pixel values 0..16),
read from the copy that ships inside scikit-learn, so nothing is downloaded. scikit-learn is a
dev-time tool only: the CSV is committed and nothing at runtime imports scikit-learn.

Usage: ``python scripts/make_digits.py [OUTPUT]``
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "assets" / "data" / "digits.csv"


def write_digits(output: Path) -> int:
    """Write the digits as ``label,p0..p63`` rows of integers; returns the number of rows."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["label", *(f"p{i}" for i in range(digits.data.shape[1]))])
        for label, pixels in zip(digits.target, digits.data, strict=True):
            writer.writerow([int(label), *(int(v) for v in pixels)])
    return len(digits.target)


def main(argv: list[str]) -> None:
    output = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUTPUT
    rows = write_digits(output)
    print(f"wrote {rows} rows to {output}")


if __name__ == "__main__":
    main(sys.argv)
