"""The ``dpg-blocks`` command line: validate, train, list plugins.

Heavy modules (torch, the engine) are imported inside the commands that need them, so
``dpg-blocks --help`` and the editor start fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

EXIT_OK, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2

_STATUS_STYLE = {"ok": "green", "error": "bold red", "upstream-error": "yellow", "idle": "dim"}


def _shapes(infos: list[dict[str, Any]]) -> str:
    parts = []
    for t in infos:
        shape = "×".join(str(d) for d in t["shape"]) if t["shape"] is not None else "—"
        parts.append(f"{t['port']}: {shape}")
    return "\n".join(parts)


def _records_table(records: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title, show_lines=False)
    for col in ("block", "type", "status", "inputs", "outputs", "message"):
        table.add_column(col, overflow="fold")
    for r in records:
        style = _STATUS_STYLE.get(r["status"], "")
        table.add_row(
            r["path_text"],
            r["type"].removeprefix("builtin."),
            f"[{style}]{r['status']}[/]",
            _shapes(r["inputs"]),
            _shapes(r["outputs"]),
            r["message"],
        )
    return table


def _load(path: str, console: Console) -> Any:
    from dpg_blocks.core.project_file import ProjectFileError, load_project

    try:
        return load_project(path)
    except ProjectFileError as e:
        console.print(f"[bold red]cannot read the project:[/] {e}", highlight=False)
        return None


def _registry(args: argparse.Namespace) -> Any:
    from dpg_blocks.engine.registry import discover

    return discover(args.plugins or [])


def cmd_validate(args: argparse.Namespace) -> int:
    console = Console(stderr=args.json)
    project = _load(args.project, console)
    if project is None:
        return EXIT_UNREADABLE
    from dpg_blocks.engine.compiler import validate_project

    records = [r.to_dict() for r in validate_project(project, _registry(args), Path(args.project).resolve().parent)]
    ok = not any(r["status"] == "error" for r in records)
    if args.json:
        json.dump({"ok": ok, "blocks": records}, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        console.print(_records_table(records, f"{project.name}: {'valid' if ok else 'INVALID'}"))
        for r in records:
            if r["status"] == "error" and r["traceback"] and args.verbose:
                console.print(f"[red]{r['path_text']}[/]\n{r['traceback']}", highlight=False)
    return EXIT_OK if ok else EXIT_INVALID


def _fmt(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def cmd_train(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    project = _load(args.project, console)
    if project is None:
        return EXIT_UNREADABLE
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from dpg_blocks.engine.compiler import CompileError
    from dpg_blocks.engine.training import Trainer

    try:
        trainer = Trainer(
            project, _registry(args), Path(args.project).resolve().parent, device=args.device, seed=args.seed
        )
    except CompileError as e:
        bad = [r.to_dict() for r in e.records if r.status in ("error", "upstream-error")]
        console.print(_records_table(bad, "the project does not validate"))
        return EXIT_INVALID
    except ValueError as e:  # a bad device or dataset setting
        console.print(f"[bold red]cannot train:[/] {e}", highlight=False)
        return EXIT_INVALID
    epochs = project.training.epochs if args.epochs is None else args.epochs
    console.print(f"training {project.name!r} on {trainer.device} for {epochs} epoch(s)", highlight=False)
    metrics_file = open(args.metrics_out, "w", encoding="utf-8") if args.metrics_out else None  # noqa: SIM115
    last: dict[str, Any] = {}
    try:
        with Progress(
            TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=console, transient=False,
            disable=args.quiet,
        ) as progress:
            task = progress.add_task("train", total=trainer.steps_per_epoch() or 1, epoch=1, info="")

            def on_step(step: int, total: int) -> None:
                progress.update(task, completed=step, total=total)

            for metrics in trainer.fit(epochs, on_step=on_step):
                last = metrics
                info = "  ".join(
                    f"{k}={_fmt(metrics[k])}" for k in ("loss", "val_accuracy", "test_accuracy") if k in metrics
                )
                progress.update(task, epoch=metrics["epoch"] + 1 if metrics["epoch"] < epochs else epochs, info=info)
                if metrics["epoch"] < epochs:
                    progress.reset(task, total=trainer.steps_per_epoch() or 1)
                if metrics_file:
                    metrics_file.write(json.dumps(metrics) + "\n")
                    metrics_file.flush()
                if args.checkpoint_dir:
                    trainer.save_checkpoint(args.checkpoint_dir, metrics)
    finally:
        if metrics_file:
            metrics_file.close()
    summary = Table(title="summary (last epoch)")
    summary.add_column("metric")
    summary.add_column("value", justify="right")
    for k, v in last.items():
        if k != "confusion_matrix":
            summary.add_row(k, _fmt(v))
    Console().print(summary)
    return EXIT_OK


def cmd_plugins(args: argparse.Namespace) -> int:
    registry = _registry(args)
    data = {
        "packs": [p.to_dict() for p in registry.packs],
        "blocks": [
            {"id": s.id, "name": s.name, "category": s.category, "pack": s.pack} for s in registry.specs.values()
        ],
        "failures": [f.to_dict() for f in registry.failures],
    }
    if args.json:
        json.dump(data, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return EXIT_OK
    console = Console()
    packs = Table(title="block packs")
    for col in ("pack", "source", "path", "blocks"):
        packs.add_column(col, overflow="fold")
    for p in registry.packs:
        packs.add_row(p.name, p.source, p.path, str(len(p.blocks)))
    console.print(packs)
    blocks = Table(title="blocks")
    for col in ("id", "name", "category", "pack"):
        blocks.add_column(col)
    for b in data["blocks"]:
        blocks.add_row(b["id"], b["name"], b["category"], b["pack"])
    console.print(blocks)
    if registry.failures:
        fails = Table(title="failures", style="red")
        for col in ("pack", "path", "error"):
            fails.add_column(col, overflow="fold")
        for f in registry.failures:
            fails.add_row(f.pack, f.path, f.error)
        console.print(fails)
    return EXIT_OK


def cmd_open(args: argparse.Namespace) -> int:
    import importlib.util

    if importlib.util.find_spec("dpg_blocks.ui.app") is None:
        console = Console(stderr=True)
        console.print(
            "[bold]The Dear PyGui editor is not part of this build yet[/] (README, 'State of this build').\n"
            f"Meanwhile: dpg-blocks validate {args.project or 'PROJECT'}   |   "
            f"dpg-blocks train {args.project or 'PROJECT'}",
            highlight=False,
        )
        return EXIT_UNREADABLE
    from dpg_blocks.ui.app import run_editor  # type: ignore[import-not-found]

    return int(run_editor(args.project))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dpg-blocks", description="Design, train and debug neural networks as block graphs.")
    sub = parser.add_subparsers(dest="command")

    def with_plugins(p: argparse.ArgumentParser) -> None:
        p.add_argument("--plugins", action="append", metavar="DIR", help="also load block packs from DIR")

    v = sub.add_parser("validate", help="check a project and show every block's status and shapes")
    v.add_argument("project")
    v.add_argument("--json", action="store_true", help='print {"ok": bool, "blocks": [...]} as JSON')
    v.add_argument("-v", "--verbose", action="store_true", help="print tracebacks of failing blocks")
    with_plugins(v)
    v.set_defaults(func=cmd_validate)

    t = sub.add_parser("train", help="train a project")
    t.add_argument("project")
    t.add_argument("--epochs", type=int, help="override the project's number of epochs")
    t.add_argument("--metrics-out", metavar="FILE", help="write one JSON object per epoch (JSON Lines)")
    t.add_argument("--checkpoint-dir", metavar="DIR", help="save a checkpoint after every epoch")
    t.add_argument("--device", help="cpu, cuda, cuda:1 … (default: the project's setting, 'auto')")
    t.add_argument("--seed", type=int, help="override the project's seed")
    t.add_argument("--trust", action="store_true", help="run custom code in this project (it was made elsewhere)")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    with_plugins(t)
    t.set_defaults(func=cmd_train)

    o = sub.add_parser("open", help="open a project in the editor (the default command)")
    o.add_argument("project", nargs="?")
    o.set_defaults(func=cmd_open)

    pl = sub.add_parser("plugins", help="list block packs, their blocks, and packs that failed to load")
    pl.add_argument("--json", action="store_true")
    with_plugins(pl)
    pl.set_defaults(func=cmd_plugins)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    commands = {"validate", "train", "plugins", "open"}
    if argv and argv[0] not in commands and not argv[0].startswith("-"):
        argv = ["open", *argv]  # `dpg-blocks PROJECT` opens the editor
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
