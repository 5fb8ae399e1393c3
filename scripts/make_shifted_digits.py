"""Write ``assets/data/digits_shifted.csv``: the example digits with a visual domain shift.

The target domain of the domain-adaptation example (scenario B): every 8×8 digit of
``assets/data/digits.csv`` shifted one pixel right and one down, inverted (dark strokes on a
light background) and covered in Gaussian noise, then clipped to the original 0..16 range and
rounded. The labels are kept so that the target accuracy can be measured; the example never
trains on them. Deterministic (fixed seed), numpy only.

Usage: ``python scripts/make_shifted_digits.py [OUTPUT]``
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1] / "assets" / "data"
SOURCE = DATA / "digits.csv"
DEFAULT_OUTPUT = DATA / "digits_shifted.csv"
NOISE_STD = 3.0  # on the 0..16 pixel scale
SEED = 0


def shift_domain(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(N, 64) pixels in 0..16 -> shifted, inverted, noisy pixels in 0..16 (integers)."""
    images = pixels.reshape(-1, 8, 8)
    shifted = np.zeros_like(images)
    shifted[:, 1:, 1:] = images[:, :-1, :-1]  # one pixel right and down; the strip that enters is blank
    inverted = 16.0 - shifted
    noisy = inverted + rng.normal(0.0, NOISE_STD, size=inverted.shape)
    return np.clip(np.rint(noisy), 0, 16).astype(np.int64).reshape(-1, 64)


def main(argv: list[str]) -> None:
    output = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUTPUT
    table = np.loadtxt(SOURCE, delimiter=",", skiprows=1, dtype=np.float64)
    labels, pixels = table[:, 0].astype(np.int64), table[:, 1:]
    target = shift_domain(pixels, np.random.default_rng(SEED))
    header = ",".join(["label", *(f"p{i}" for i in range(64))])
    rows = np.concatenate([labels[:, None], target], axis=1)
    np.savetxt(output, rows, fmt="%d", delimiter=",", header=header, comments="")
    print(f"wrote {len(rows)} rows to {output}")


if __name__ == "__main__":
    main(sys.argv)
