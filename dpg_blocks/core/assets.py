"""Where dpg-blocks' shipped files are: example projects, the embedded digits, trusted digests.

In a checkout they are the repository's top-level ``assets/`` folder; in an installed wheel the
same folder is the package ``dpg_blocks.assets`` (pyproject.toml maps it), found through
``importlib.resources`` — never through a path relative to the source tree, which an installed
package does not have. A checkout is tried first so that running from a source tree (or a git
worktree on ``PYTHONPATH``) uses that tree's files, not those of another install.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

ASSETS_PACKAGE = "dpg_blocks.assets"


@functools.cache
def assets_dir() -> Path:
    """The folder holding ``examples/`` and ``data/`` (it may be missing in a broken install)."""
    checkout = Path(__file__).resolve().parents[2] / "assets"
    if (checkout / "__init__.py").is_file():
        return checkout
    try:
        return Path(str(resources.files(ASSETS_PACKAGE)))
    except (ModuleNotFoundError, TypeError):  # not installed with the package: say where it was looked for
        return checkout


def examples_dir() -> Path:
    """The shipped example projects (File › Open Example)."""
    return assets_dir() / "examples"


def data_dir() -> Path:
    """The embedded example datasets (the Input's "digits" source reads ``digits.csv``)."""
    return assets_dir() / "data"


def example_projects() -> list[Path]:
    """The shipped ``.dpgb`` examples, by name; empty when the folder is missing."""
    folder = examples_dir()
    return sorted(folder.glob("*.dpgb")) if folder.is_dir() else []
