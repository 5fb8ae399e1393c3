"""``dpg-blocks validate`` and ``dpg-blocks trust``: a project checked before anything of it runs.

validate hands the project to a real engine process (so a block that crashes or hangs is named
instead of taking the command down); trust shows, records or revokes the trust its code needs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from dpg_blocks.cli_exit import EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE
from dpg_blocks.cli_output import _console, _print_pack_notes, _print_plugin_failures, _records_table, escape
from dpg_blocks.cli_project import _code_items, _load, _registry, _trusted


def cmd_validate(args: argparse.Namespace) -> int:
    console = _console(stderr=args.json)
    project = _load(args.project, console)
    if project is None:
        return EXIT_UNREADABLE
    registry = _registry(args, report=False)
    _print_pack_notes(project, registry, _console(stderr=True))
    _trusted(project, registry, args, _console(stderr=True))  # --trust records it; the engine reads it
    folder = Path(args.project).resolve().parent
    # The engine process validates, so a block whose build() or forward crashes or hangs it is
    # named instead of taking this command down (the engine checks the trust itself).
    from dpg_blocks.core.project_file import project_to_dict

    run = _validate_in_engine(project_to_dict(project), str(folder), args.plugins or [])
    failures = run["plugin_failures"] if run["started"] else [f.to_dict() for f in registry.failures]
    records, error = run["records"], run["error"]
    ok = not error and not any(r["status"] == "error" for r in records)
    if args.json:
        out: dict[str, Any] = {"ok": ok, "blocks": records, "plugin_failures": failures}
        if error:
            out["error"] = error
        json.dump(out, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        if records:
            console.print(_records_table(records, f"{project.name}: {'valid' if ok else 'INVALID'}"))
        for r in records:
            if r["status"] == "error" and r["traceback"] and args.verbose:
                console.print(f"[red]{escape(r['path_text'])}[/]\n{escape(r['traceback'])}", highlight=False)
        if error:
            console.print(f"[bold red]{escape(project.name)}: not validated:[/] {escape(error)}", highlight=False)
    _print_plugin_failures(failures, _console(stderr=True))
    return EXIT_OK if ok else EXIT_INVALID


VALIDATE_DEADLINE_S = 120.0  # the CLI waits longer than the editor: nobody is editing meanwhile
ENGINE_START_LIMIT_S = 300.0  # torch's import on a slow machine; a plugin hang is caught sooner


def _validate_in_engine(project: dict[str, Any], folder: str, plugin_dirs: list[str]) -> dict[str, Any]:
    """Validate in a real engine process: {"started", "records", "error", "plugin_failures"}.

    A plugin that kills the engine at start-up is quarantined by the client, which restarts it
    (at most 3 times in a row); a crash or hang during validation is an ``error`` naming the
    block that was running.
    """
    import time

    from dpg_blocks import protocol as m
    from dpg_blocks.client.engine_client import EngineClient, EngineStatus

    client = EngineClient(tuple(plugin_dirs), validate_deadline_s=VALIDATE_DEADLINE_S)
    result: dict[str, Any] = {"started": False, "records": [], "error": "", "plugin_failures": []}
    request = None
    client.start()
    give_up = time.monotonic() + ENGINE_START_LIMIT_S
    try:
        while True:
            if request is None and time.monotonic() > give_up:
                result["error"] = f"the engine did not start within {ENGINE_START_LIMIT_S:g} s"
                return result
            for ev in client.poll(50.0):
                if isinstance(ev, m.Ready):
                    result["started"] = True
                    result["plugin_failures"] = [dict(f) for f in ev.failures]
                    client.auto_restart = False  # a crash from here on is the project's, not a plugin's
                    request = client.validate(project, folder)
                elif isinstance(ev, m.ValidationResult) and ev.request_id == request:
                    result["records"], result["error"] = list(ev.records), ev.error
                    return result
                elif isinstance(ev, EngineStatus) and ev.state in ("crashed", "hung", "stopped") and ev.reason:
                    if request is not None or ev.state == "stopped":
                        block = ev.block_path or ev.block_id
                        where = f" in block {block}" if block and request is not None else ""
                        why = ev.reason.removesuffix(f" (while validating {ev.block_path})")  # said once
                        result["error"] = f"validation {ev.state}{where}: {why}"
                        return result
            time.sleep(0.02)
    finally:
        client.shutdown()


def cmd_trust(args: argparse.Namespace) -> int:
    console = _console()
    project = _load(args.project, console)
    if project is None:
        return EXIT_UNREADABLE
    from dpg_blocks.core.user.trust import TrustStore, code_digest, outside_data_paths

    items = _code_items(project, _registry(args))
    digest = code_digest(items)
    store = TrustStore()
    outside = outside_data_paths(project, Path(args.project).resolve().parent)
    if args.show and outside:  # what opening it reads besides its own folder (~/.ssh/...)
        console.print("[bold yellow]reads data from outside the project's folder:[/]", highlight=False)
        for d in outside:
            console.print(f"  {d.describe()}", highlight=False, markup=False)
    if digest is None:
        console.print(f"{args.project} contains no custom code; there is nothing to trust.", highlight=False)
        return EXIT_OK
    if args.show:
        for item in items:
            console.rule(f"{item.block_name} ({item.block_type}) · {item.param}")
            console.print(item.source, highlight=False, markup=False)
        console.print(f"trusted: {'yes' if store.is_trusted(digest) else 'no'}")
        return EXIT_OK
    if args.revoke:
        gone = store.revoke(digest)
        console.print("trust revoked" if gone else "this code was not trusted", highlight=False)
        return EXIT_OK
    store.trust(digest, project.name, str(Path(args.project).resolve()))
    blocks = ", ".join(sorted({i.block_name for i in items}))
    console.print(f"trusted the code in {blocks} (recorded in {store.path})", highlight=False)
    return EXIT_OK
