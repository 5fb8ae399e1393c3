"""What a file or folder dropped on the editor is: a plugin, a project, a library block, a
PyTorch module to import, or a dataset — decided from names and, for Python, from its syntax
tree, never by running it (plugins are code: the user decides before anything executes).

No Dear PyGui here: ``ui/files/drop_actions.py`` acts on the answer, and tests call :func:`classify`
on plain folders.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

PLUGIN = "plugin"
PROJECT = "project"
LIBRARY_BLOCK = "library block"
IMPORT = "pytorch module"
DATASET = "dataset"
UNKNOWN = "unknown"

PROJECT_SUFFIX = ".dpgb"
LIBRARY_SUFFIX = ".dpgblock"
DATA_SUFFIXES = (".csv", ".npz")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
ACCEPTED = ".dpgb, .dpgblock, a plugin folder, .py (a plugin or nn.Modules), .csv, .npz, an image-class folder"
MAX_LISTED = 40  # files named in the install prompt; a bigger pack says "and N more"
MAX_SOURCE_BYTES = 2_000_000  # a bigger .py is not parsed for block ids (it still installs)


@dataclass
class Dropped:
    """One dropped path and what it is; ``why`` says why an UNKNOWN is not accepted."""

    path: Path
    kind: str
    why: str = ""
    classes: list[str] = field(default_factory=list)  # IMPORT: the nn.Module classes, in file order


@dataclass
class PluginContents:
    """What the install prompt shows: the plugin's files and the block ids it declares."""

    name: str
    files: list[str]
    more_files: int
    block_ids: list[str]


def _tree(path: Path) -> ast.Module | None:
    try:
        if path.stat().st_size > MAX_SOURCE_BYTES:
            return None
        return ast.parse(path.read_text(encoding="utf-8", errors="replace"), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return None


def declared_block_ids(tree: ast.Module) -> list[str]:
    """The ids of ``@block("id", ...)`` decorators (any import spelling), in source order."""
    ids = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        for deco in node.decorator_list:
            fn = deco.func if isinstance(deco, ast.Call) else None
            name = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
            if name == "block" and isinstance(deco, ast.Call) and deco.args:
                first = deco.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    ids.append(first.value)
    return ids


def module_classes(tree: ast.Module) -> list[str]:
    """Top-level classes whose base is spelled ``nn.Module``, ``torch.nn.Module`` or ``Module``."""
    out = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            bases = [ast.unparse(b) for b in node.bases]
            if any(b in ("nn.Module", "torch.nn.Module", "Module") for b in bases):
                out.append(node.name)
    return out


def _has_class_folders(folder: Path) -> bool:
    """Whether ``folder`` holds sub-folders with images (an image-class dataset)."""
    try:
        subs = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
        return any(f.suffix.lower() in IMAGE_SUFFIXES for sub in subs for f in sub.iterdir())
    except OSError:
        return False


def classify(path: Path | str) -> Dropped:
    """What ``path`` is (see the module docstring); reads names and Python syntax only."""
    p = Path(path)
    suffix = p.suffix.lower()
    if p.is_dir():
        if (p / "__init__.py").is_file():
            return Dropped(p, PLUGIN)
        if _has_class_folders(p):
            return Dropped(p, DATASET)
        if any(p.glob("*.py")):
            return Dropped(p, UNKNOWN, f"{p.name} holds Python files but no __init__.py, so it is not a "
                                       "plugin folder (a plugin folder is a package declaring blocks with @block)")
        return Dropped(p, UNKNOWN, f"{p.name} is neither a plugin folder nor an image folder "
                                   "(one sub-folder of images per class)")
    if not p.is_file():
        return Dropped(p, UNKNOWN, f"{p} cannot be read")
    if suffix == PROJECT_SUFFIX:
        return Dropped(p, PROJECT)
    if suffix == LIBRARY_SUFFIX:
        return Dropped(p, LIBRARY_BLOCK)
    if suffix in DATA_SUFFIXES:
        return Dropped(p, DATASET)
    if suffix == ".py":
        tree = _tree(p)
        if tree is None:
            return Dropped(p, UNKNOWN, f"{p.name} cannot be parsed as Python")
        if declared_block_ids(tree):
            return Dropped(p, PLUGIN)
        classes = module_classes(tree)
        if classes:
            return Dropped(p, IMPORT, classes=classes)
        return Dropped(p, UNKNOWN, f"{p.name} declares no blocks (@block) and no nn.Module classes")
    return Dropped(p, UNKNOWN, f"{p.name} is not a kind the editor opens")


def plugin_contents(path: Path | str) -> PluginContents:
    """The files of plugin ``path`` (a package folder or one ``.py``) and its block ids, read
    from the syntax of its Python files without importing them."""
    p = Path(path)
    if p.is_file():
        files, sources = [p.name], [p]
    else:
        found = sorted(f for f in p.rglob("*") if f.is_file() and "__pycache__" not in f.parts
                       and not f.name.endswith(".pyc"))
        files = [f.relative_to(p).as_posix() for f in found]
        sources = [f for f in found if f.suffix == ".py"]
    ids: list[str] = []
    for source in sources:
        tree = _tree(source)
        ids.extend(i for i in (declared_block_ids(tree) if tree else []) if i not in ids)
    name = p.stem if p.is_file() else p.name
    return PluginContents(name, files[:MAX_LISTED], max(0, len(files) - MAX_LISTED), ids)
