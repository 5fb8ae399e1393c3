"""``dpg-blocks library``: blocks and SuperBlocks saved for reuse, listed, and inserted as copies."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dpg_blocks.cli_exit import EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE
from dpg_blocks.cli_output import _console, _table
from dpg_blocks.cli_project import _find_block, _load


def cmd_library(args: argparse.Namespace) -> int:
    from dpg_blocks.core.user.library import (
        LibraryError,
        insert_copy,
        list_library,
        load_from_library,
        save_to_library,
    )

    console = _console()
    err = _console(stderr=True)
    folder = Path(args.library) if args.library else None
    try:
        if args.action == "list":
            entries, problems = list_library(folder)
            if args.json:
                json.dump({"blocks": [e.to_dict() for e in entries], "problems": [str(p) for p in problems]}, sys.stdout, indent=1)
                sys.stdout.write("\n")
                return EXIT_OK
            table = _table(title="block library")
            for col in ("name", "type", "blocks", "saved", "file"):
                table.add_column(col, overflow="fold")
            for e in entries:
                table.add_row(e.name, e.type.removeprefix("builtin."), str(e.blocks), e.saved, str(e.path))
            console.print(table)
            for p in problems:
                err.print(f"[red]unreadable:[/] {p}", highlight=False)
            return EXIT_OK
        project = _load(args.project, err)
        if project is None:
            return EXIT_UNREADABLE
        if args.action == "save":
            block = _find_block(project, args.block)
            if block is None:
                err.print(f"no block {args.block!r} in {args.project} (use its name, id or Outer/Inner path)")
                return EXIT_INVALID
            path = save_to_library(project, block.id, args.name, folder, overwrite=args.overwrite)
            console.print(f"saved {block.name!r} to {path}", highlight=False)
            return EXIT_OK
        from dpg_blocks.core import History, save_project

        saved = load_from_library(args.block, folder)
        parent = None
        if args.into:
            target = _find_block(project, args.into)
            if target is None or target.graph is None:
                err.print(f"no SuperBlock {args.into!r} in {args.project}")
                return EXIT_INVALID
            parent = target.id
        edit = insert_copy(project, saved, parent, name=args.name)
        History(project).do(edit)
        save_project(project, args.output or args.project)
        console.print(
            f"inserted {edit.block.name!r} as {edit.block.id} into {args.output or args.project}", highlight=False
        )
        return EXIT_OK
    except LibraryError as e:
        err.print(f"[bold red]library:[/] {e}", highlight=False)
        return EXIT_INVALID
