"""The Input block: where samples and labels enter the graph."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dpg_blocks.blocks import BuildContext, Out, Param, block
from dpg_blocks.core.assets import data_dir

SOURCES = ["digits", "csv", "npz", "images", "noise"]
COLORS = ["grayscale", "rgb"]


def digits_csv() -> Path:
    """The embedded example dataset (8×8 handwritten digits, 1797 rows)."""
    return data_dir() / "digits.csv"


@block("builtin.Input", category="Inputs", name="Input", role="input", version=1)
class Input:
    """Feeds samples (x) and their labels (y) into the graph, in batches.

    The data comes from the built-in handwritten digits example, a CSV file (one sample per row,
    a header row, one column holding the label), a NumPy .npz file (arrays "x" and optionally
    "y"), a folder of images with one sub-folder per class (PNG or JPEG, resized to "image
    size") or random noise (for GAN generators). The rows are split once into training,
    validation and test sets; normalisation uses statistics of the training set only. The
    Input emits only in the orders listed in "orders"; in the other orders it emits nothing.
    """

    x = Out("tensor", doc="A batch of samples, shape (batch, *sample shape).")
    y = Out("tensor", doc="The batch's labels (class numbers or target values).")

    source = Param(str, "digits", choices=SOURCES, doc="Where the data comes from.")
    path = Param(
        "path",
        "",
        doc="The CSV or .npz file, or the image folder; a relative path is relative to the project file's folder.",
    )
    label_column = Param(str, "label", doc="The CSV column that holds the labels; empty for none.")
    val_percent = Param(float, 10.0, min=0, max=90, doc="Percent of the samples kept for validation.")
    test_percent = Param(float, 20.0, min=0, max=90, doc="Percent of the samples kept for the final test.")
    batch_size = Param(int, 64, min=1, doc="Samples per training step.")
    shuffle_seed = Param(
        int, 0, doc="Seed of the split and of the per-epoch shuffling; the same seed gives the same run."
    )
    reshape = Param(
        "shape", [], doc="Shape of one sample, e.g. [1, 8, 8] for convolutions; empty keeps the file's shape."
    )
    normalize = Param(
        str,
        "minmax",
        choices=["none", "minmax", "standardize"],
        doc="Per feature, from the training set: minmax scales to 0..1, standardize to mean 0 and std 1.",
    )
    orders = Param("ints", [1], min=1, max=1000, doc="The orders (steps of a training iteration) this input emits in.")
    image_size = Param(
        "shape", [28, 28], doc="Height and width every image is resized to (source 'images')."
    )
    color = Param(
        str, "grayscale", choices=COLORS, doc="Images as 1 grayscale channel or 3 RGB channels (source 'images')."
    )
    noise_shape = Param("shape", [16], doc="Shape of one noise sample (source 'noise').")
    noise_count = Param(int, 1024, min=1, doc="Noise samples per epoch and per split (source 'noise').")
    noise_ids = Param(
        int, 0, min=0,
        doc="Source 'noise': 0 for Gaussian noise; N > 0 for random whole-number ids 0 … N−1 (token inputs).",
    )

    def read(self, ctx: BuildContext) -> tuple[Any, Any, Path, list[str] | None]:
        """The raw samples, labels, file and class names (None: numbered) of a file source (engine side)."""
        if self.source == "digits":
            file = digits_csv()
            return (*ctx.read_csv(file, "label"), file, None)
        what = "image folder" if self.source == "images" else f"{self.source} file"
        file = ctx.data_file(self.path, what)
        if self.source == "csv":
            return (*ctx.read_csv(file, self.label_column), file, None)
        if self.source == "images":
            x, y, names = ctx.read_image_folder(file, self.image_size, self.color)
            return x, y, file, names
        return (*ctx.read_npz(file), file, None)

    def load(self, ctx: BuildContext) -> Any:
        """The data source this block reads (engine side)."""
        if self.source == "noise":
            return ctx.noise_source(self.noise_shape, self.noise_count, self.batch_size, self.shuffle_seed,
                                    ids=self.noise_ids)
        x, y, file, names = self.read(ctx)
        return ctx.array_source(
            x,
            y,
            name=file.name,
            class_names=names,
            val_percent=self.val_percent,
            test_percent=self.test_percent,
            batch_size=self.batch_size,
            shuffle_seed=self.shuffle_seed,
            reshape=self.reshape,
            normalize=self.normalize,
        )
