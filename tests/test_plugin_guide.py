"""docs/plugins.md: its worked pack is the new-pack template's, and its example runs as written.

The guide's code blocks marked ``file=PATH`` are written to a temporary folder as they stand;
``make_project.py`` is run there in a fresh interpreter, and what it prints must be what the
guide says it prints.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from dpg_blocks.core import load_project
from dpg_blocks.scaffold import pack_files

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "plugins.md"
FENCE = re.compile(r"^```(\w+)(?: file=(\S+))?\n(.*?)^```$", re.M | re.S)


def guide_blocks() -> list[tuple[str, str, str]]:
    """(language, file or "", text) of every fenced block of the guide."""
    return [(m.group(1), m.group(2) or "", m.group(3)) for m in FENCE.finditer(GUIDE.read_text())]


def test_the_guides_worked_pack_is_exactly_what_new_pack_writes():
    files = {path: text for _, path, text in guide_blocks() if path}
    template = pack_files("my_blocks")
    for path in ("pyproject.toml", "src/my_blocks/__init__.py", "src/my_blocks/modules.py", "tests/test_my_blocks.py"):
        assert files.get(path) == template[path], f"docs/plugins.md's {path} differs from the new-pack template"


def test_the_guides_project_example_runs_as_written(tmp_path):
    blocks = guide_blocks()
    for _, path, text in blocks:
        if path:
            (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / path).write_text(text)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "make_project.py"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    printed = next(text for i, (lang, _, text) in enumerate(blocks)
                   if lang == "text" and blocks[i - 1][1] == "make_project.py")
    assert done.stdout == printed
    project = load_project(tmp_path / "residual.dpgb")
    assert {b.type for b in project.graph.walk()} >= {"my_blocks.Residual"}
    assert project.packs == {"my_blocks": "0.1.0"}  # the folder package's __version__
    assert "class ResidualMLP(nn.Module):" in (tmp_path / "residual.py").read_text()
