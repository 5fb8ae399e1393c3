"""The project a ``dpg-blocks`` command works on: read from its file, with its block registry,
its custom code allowed to run or not, and a block found in it by name.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dpg_blocks.cli_output import _console, _print_plugin_failures, escape

if TYPE_CHECKING:
    from rich.console import Console


def _load(path: str, console: Console) -> Any:
    from dpg_blocks.core.project_file import ProjectFileError, load_project

    try:
        return load_project(path)
    except ProjectFileError as e:
        console.print(f"[bold red]cannot read the project:[/] {escape(str(e))}", highlight=False)
        return None


def _registry(args: argparse.Namespace, report: bool = True) -> Any:
    """The block registry with the plugins; ``report``: say on stderr which plugins failed
    (a project that then names a missing block is otherwise a riddle). validate and plugins
    report the failures themselves."""
    # Plugins not yet known to import safely are tried in a child process first: one that
    # segfaults, exits or hangs is quarantined there and never imported here.
    from dpg_blocks.engine.packs.registry import safe_discover

    registry = safe_discover(args.plugins or [])
    if report:
        _print_plugin_failures([f.to_dict() for f in registry.failures], _console(stderr=True))
    return registry


def _code_items(project: Any, registry: Any) -> list[Any]:
    from dpg_blocks.core.user.trust import project_code

    return project_code(project, registry.code_params)


def _trusted(project: Any, registry: Any, args: argparse.Namespace, console: Console) -> bool:
    """Whether the project's custom code may run; ``--trust`` records the trust first.

    Says, when it may not, which blocks hold the code and how to trust it.
    """
    from dpg_blocks.core.user.trust import TrustStore, code_digest

    items = _code_items(project, registry)
    digest = code_digest(items)
    store = TrustStore()
    if digest is None:
        return True
    if getattr(args, "trust", False):
        store.trust(digest, project.name, str(Path(args.project).resolve()))
        return True
    if store.is_trusted(digest):
        return True
    blocks = escape(", ".join(sorted({i.block_name for i in items})))
    console.print(
        f"[bold yellow]custom code not run:[/] {escape(args.project)} contains code (in {blocks}) that has not been "
        "trusted on this computer, so none of it was run and those blocks are marked as errors.\n"
        f"Read it with [bold]dpg-blocks trust {args.project} --show[/]; if you trust where the project came "
        f"from, run again with [bold]--trust[/] (or run [bold]dpg-blocks trust {args.project}[/]).",
        highlight=False,
    )
    return False


def _find_block(project: Any, ref: str) -> Any:
    """A block by id, by name, or by path (``Outer/Inner`` or ``Outer › Inner``)."""
    parts = [p.strip() for p in ref.replace(" › ", "/").split("/") if p.strip()]
    for b in project.graph.walk():
        if b.id == ref or project.path_of(b.id) == parts:
            return b
    matches = [b for b in project.graph.walk() if b.name == ref]
    return matches[0] if len(matches) == 1 else None
