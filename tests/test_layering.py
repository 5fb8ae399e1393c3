"""DESIGN.md §2: the document model and the block API never import torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


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


def _imported_modules(path: Path, package: str) -> set[str]:
    """Every module the file imports, anywhere in it (relative imports resolved against ``package``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            module = node.module or ""
            names.add(f"{base}.{module}".rstrip(".") if node.level else module)
    return names


def test_the_builtin_pack_imports_no_engine_module():
    """STYLE.md habit 8: the built-in pack is a plugin; the engine reaches it, never the reverse
    (``engine.export`` copies ``builtin.modules`` into scripts, so the reverse would be a circle)."""
    files = sorted((ROOT / "dpg_blocks" / "builtin").rglob("*.py"))
    assert files
    bad = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files
        for name in _imported_modules(path, ".".join(path.relative_to(ROOT).parent.parts))
        if name == "dpg_blocks.engine" or name.startswith("dpg_blocks.engine.")
    }
    assert not bad, sorted(bad)


def test_the_import_scan_sees_relative_and_lazy_engine_imports(tmp_path):
    """The scan above must catch the forms a pack file could use: ``from ..engine import x`` and
    an import inside a function."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from ..engine import datasets\n    import dpg_blocks.engine.compiling.usercode\n")
    found = _imported_modules(probe, "dpg_blocks.builtin")
    assert {"dpg_blocks.engine", "dpg_blocks.engine.compiling.usercode"} <= found


# The engine's sub-packages, lowest first (docs/architecture.md): each imports only those before it.
ENGINE_LAYERS = ["packs", "data", "compiling", "training", "interop", "process"]
REACHES_UP = {"dpg_blocks/engine/data/data_info.py": {"compiling"}}  # builds an Input through the context


def test_each_engine_sub_package_imports_only_those_below_it():
    engine = ROOT / "dpg_blocks" / "engine"
    assert sorted(p.name for p in engine.iterdir() if (p / "__init__.py").exists()) == sorted(ENGINE_LAYERS)
    bad = []
    for rank, layer in enumerate(ENGINE_LAYERS):
        for path in sorted((engine / layer).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            allowed = set(ENGINE_LAYERS[: rank + 1]) | REACHES_UP.get(rel, set())
            for name in _imported_modules(path, f"dpg_blocks.engine.{layer}"):
                parts = name.split(".")
                if parts[:2] == ["dpg_blocks", "engine"] and len(parts) > 2 and parts[2] not in allowed:
                    bad.append(f"{rel} imports {name}")
    assert not bad, bad


def test_the_engine_paths_docs_plugins_md_gives_still_import():
    """Scripts and packs written against docs/plugins.md import these; each old name is the moved
    module itself (no second copy), and importing the engine package alone does not load torch."""
    code = (
        "import sys, dpg_blocks.engine; assert 'torch' not in sys.modules, 'torch imported early'; "
        "from dpg_blocks.engine.compiler import validate_project; "
        "from dpg_blocks.engine.export import write_export; "
        "from dpg_blocks.engine.registry import discover; "
        "from dpg_blocks.engine.datasets import ArrayDataSource, NoiseSource, DatasetError, read_csv; "
        "import dpg_blocks.engine.compiler as old, dpg_blocks.engine.compiling.compiler as new; "
        "assert old is new and new.__spec__.name == new.__name__, new.__spec__; "
        "import dpg_blocks.engine.packs.registry as reg; assert discover is reg.discover"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
