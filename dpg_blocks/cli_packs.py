"""``dpg-blocks plugins`` and ``dpg-blocks new-pack``: the block packs installed, those that failed
or are quarantined, and a new pack written from the template.
"""

from __future__ import annotations

import argparse
import json
import sys

from dpg_blocks.cli_exit import EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE
from dpg_blocks.cli_output import _console, _table, escape
from dpg_blocks.cli_project import _registry


def cmd_plugins(args: argparse.Namespace) -> int:
    """List packs, blocks and failed or quarantined plugins; exit 1 when any failed."""
    if args.enable:
        from dpg_blocks.core.user.plugin_quarantine import QuarantineStore

        err = _console(stderr=True)
        for name in args.enable:
            gone = QuarantineStore().enable(name)
            if not gone:
                err.print(f"no quarantined plugin is called {name!r}", highlight=False)
                return EXIT_INVALID
            for e in gone:
                err.print(f"re-enabled {e.name} ({e.path}); trying it again", highlight=False)
    registry = _registry(args, report=False)
    code = EXIT_INVALID if registry.failures else EXIT_OK
    data = {
        "packs": [p.to_dict() for p in registry.packs],
        "blocks": [
            {"id": s.id, "name": s.name, "category": s.category, "pack": s.pack, "pack_version": s.pack_version}
            for s in registry.specs.values()
        ],
        "failures": [f.to_dict() for f in registry.failures],
    }
    if args.json:
        json.dump(data, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return code
    console = _console()
    packs = _table(title="block packs")
    for col in ("pack", "version", "source", "path", "blocks"):
        packs.add_column(col, overflow="fold")
    for p in registry.packs:
        packs.add_row(escape(p.name), escape(p.version or "-"), p.source, escape(p.path), str(len(p.blocks)))
    console.print(packs)
    blocks = _table(title="blocks")
    for col in ("id", "name", "category", "pack"):
        blocks.add_column(col)
    for b in data["blocks"]:
        blocks.add_row(b["id"], b["name"], b["category"], b["pack"])
    console.print(blocks)
    if registry.failures:
        fails = _table(title="failed or quarantined plugins", style="red")
        for col in ("pack", "block", "path", "error"):
            fails.add_column(col, overflow="fold")
        for f in registry.failures:  # a refused id or a bad declaration names its block
            fails.add_row(escape(f.pack), escape(f.block or "(whole pack)"), escape(f.path), escape(f.error))
        console.print(fails)
    return code


def cmd_new_pack(args: argparse.Namespace) -> int:
    """Write a pip-installable block pack with two example blocks and a test."""
    from dpg_blocks.scaffold import PackError, new_pack

    try:
        root = new_pack(args.name, args.dir)
    except PackError as e:
        _console(stderr=True).print(f"[bold red]new-pack:[/] {e}", highlight=False)
        return EXIT_UNREADABLE  # 2: the name or folder cannot be used; nothing was written
    _console().print(
        f"wrote the block pack {args.name!r} to {root}\n"
        f"  cd {root}\n"
        "  pip install -e .      # then `dpg-blocks plugins` lists it; the editor shows its blocks\n"
        "  python -m pytest      # its tests: each block's declaration, build and forward",
        highlight=False,
    )
    return EXIT_OK
