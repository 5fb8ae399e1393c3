"""DESIGN.md §2: the document model and the block API never import torch."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "module",
    ["dpg_blocks.core", "dpg_blocks.blocks", "dpg_blocks.blocks.builder", "dpg_blocks.builtin", "dpg_blocks.cli"],
)
def test_module_imports_without_torch(module):
    code = f"import sys, {module}; assert 'torch' not in sys.modules, 'torch was imported'"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_core_modules_use_the_standard_library_only():
    code = (
        "import sys; before = set(sys.modules); import dpg_blocks.core; "
        "new = {m.split('.')[0] for m in set(sys.modules) - before}; "
        "third = {m for m in new if m not in sys.stdlib_module_names and m != 'dpg_blocks' and not m.startswith('_')}; "
        "assert not third, third"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
