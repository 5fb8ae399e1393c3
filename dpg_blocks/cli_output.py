"""What the ``dpg-blocks`` commands print with: rich consoles, tables, block records, plugin failures.

rich is imported inside these functions, when a command first prints, so that ``--help`` and
the editor's start do not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # rich is imported by the commands that print, not by the editor's start
    from rich.console import Console
    from rich.table import Table

PIPE_WIDTH = 160  # tables written to a file or a pipe: wide enough that messages stay on a line


def _table(**kwargs: Any) -> Table:
    from rich.table import Table

    return Table(**kwargs)


def escape(text: str) -> str:
    """``text`` shown as it is by rich (a block named ``[/]`` is not markup)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def _console(stderr: bool = False) -> Console:
    """A rich console; when not a terminal, wide instead of rich's 80 columns."""
    from rich.console import Console

    # Messages never break inside a word or a path (tests and scripts grep them); tables
    # still lay out within the width.
    console = Console(stderr=stderr, soft_wrap=True)
    if not console.is_terminal:
        console = Console(stderr=stderr, width=PIPE_WIDTH, soft_wrap=True)
    return console

_STATUS_STYLE = {"ok": "green", "error": "bold red", "upstream-error": "yellow", "idle": "dim"}


def _shapes(infos: list[dict[str, Any]]) -> str:
    parts = []
    for t in infos:
        shape = "×".join(str(d) for d in t["shape"]) if t["shape"] is not None else "—"
        parts.append(f"{t['port']}: {shape}")
    return "\n".join(parts)


def _records_table(records: list[dict[str, Any]], title: str) -> Table:
    table = _table(title=title, show_lines=False)
    for col in ("block", "type", "status", "inputs", "outputs", "message"):
        table.add_column(col, overflow="fold")
    for r in records:
        style = _STATUS_STYLE.get(r["status"], "")
        table.add_row(
            escape(r["path_text"]),  # names and messages are the user's text, not rich markup
            escape(r["type"].removeprefix("builtin.")),
            f"[{style}]{r['status']}[/]",
            _shapes(r["inputs"]),
            _shapes(r["outputs"]),
            escape(r["message"]),
        )
    return table


def _print_pack_notes(project: Any, registry: Any, console: Console) -> None:
    """Warn about packs whose installed version differs from the project's, and name the pack that
    tried to take a block id the project uses."""
    from dpg_blocks.core.pack_versions import version_warnings

    for warning in version_warnings(project.packs, registry.pack_versions()):
        console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    for type_id in sorted({b.type for b in project.graph.walk() if b.graph is None}):
        note = registry.refusal_note(type_id)
        if note:
            console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)


def _print_plugin_failures(failures: list[dict[str, Any]], console: Console) -> None:
    """One line per plugin that failed to load or is quarantined (plugin name, path, reason);
    a block of a pack refused alone (a bad declaration, a clashing id) says which block."""
    for f in failures:
        if f.get("block"):
            console.print(f"[red]plugin {escape(str(f['pack']))}[/] ({escape(str(f['path']))}): block "
                          f"{escape(str(f['block']))} not loaded: {escape(str(f['error']))}", highlight=False)
            continue
        verb = "" if f.get("quarantined") else " failed to load"  # a quarantine's text says so itself
        console.print(f"[red]plugin {escape(str(f['pack']))}[/] ({escape(str(f['path']))}){verb}: "
                      f"{escape(str(f['error']))}", highlight=False)
