"""The ``dpg-blocks`` command line: validate, train, export, trust, the block library, plugins, new packs.

Heavy modules (torch, the engine) are imported inside the commands that need them, so
``dpg-blocks --help`` and the editor start fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # rich is imported by the commands that print, not by the editor's start
    from rich.console import Console
    from rich.table import Table

EXIT_OK, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2
EXIT_WRITE = 3  # a file could not be written (a full disk, no permission); the old file is kept
EXIT_INTERNAL = 4  # an unexpected error inside dpg-blocks: a bug to report
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT
EXIT_PIPE_CLOSED = 141  # the reader of stdout went away (`| head`), as a shell reports SIGPIPE
DEBUG_ENV = "DPG_BLOCKS_DEBUG"  # set (or pass --debug) to see the traceback of an unexpected error
EXIT_CODES = f"""exit codes:
  {EXIT_OK}    done (validate: the project is valid)
  {EXIT_INVALID}    the project does not validate, or the command was refused (the message says why)
  {EXIT_UNREADABLE}    the project or an argument cannot be read or used
  {EXIT_WRITE}    a file could not be written (full disk, permissions); files already there are kept
  {EXIT_INTERNAL}    an unexpected error in dpg-blocks (please report it; --debug or {DEBUG_ENV}=1 shows the traceback)
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)
  {EXIT_PIPE_CLOSED}  stdout was closed by its reader (e.g. `| head`); nothing else went wrong"""
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
    from dpg_blocks.core.trust import project_code

    return project_code(project, registry.code_params)


def _trusted(project: Any, registry: Any, args: argparse.Namespace, console: Console) -> bool:
    """Whether the project's custom code may run; ``--trust`` records the trust first.

    Says, when it may not, which blocks hold the code and how to trust it.
    """
    from dpg_blocks.core.trust import TrustStore, code_digest

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


def _fmt(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def cmd_train(args: argparse.Namespace) -> int:
    """``train``; under torchrun (its RANK/WORLD_SIZE/LOCAL_RANK are set) with DDP, one rank a process."""
    from dpg_blocks.engine.training import distributed

    try:
        world = distributed.world_from_env()
    except ValueError as e:
        _console(stderr=True).print(f"[bold red]cannot train:[/] {escape(str(e))}", highlight=False)
        return EXIT_INVALID
    if world is None:
        return _train(args, None)
    code = EXIT_INTERNAL
    try:
        code = _train(args, world)
    finally:
        distributed.stop(wait_for_all=code == EXIT_OK)
    # A rank's interpreter teardown can destroy a C++ thread still joinable ("terminate called
    # without an active exception", SIGABRT, seen under load): its work is written and the group
    # left, so end here, with what was printed flushed.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _rank_console(world: Any, stderr: bool = False) -> Console:
    """The console of this process: every line on rank 0. The other ranks say nothing until
    ``console.training`` is set, and then only errors, prefixed with the rank (a failure on that
    rank's share of a batch is its own; refusals before training are every rank's, said once)."""
    console = _console(stderr=stderr)
    if world is None or world.main:
        return console
    plain_print = console.print

    def errors_only(*objects: Any, **kwargs: Any) -> None:
        first = objects[0] if objects else None
        if getattr(console, "training", False) and isinstance(first, str) and first.startswith("[bold red]"):
            plain_print(f"[bold red]rank {world.rank}:[/] {first}", *objects[1:], **kwargs)

    console.print = errors_only  # type: ignore[method-assign]
    return console


def _train(args: argparse.Namespace, world: Any) -> int:
    console = _rank_console(world, stderr=True)
    project = _load(args.project, console)
    if project is None:
        return EXIT_UNREADABLE
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from dpg_blocks.engine.compiling.compiler import CompileError
    from dpg_blocks.engine.training.trainer import Trainer, require_a_loss

    main = world is None or world.main  # the rank that prints and writes
    registry = _registry(args, report=main)
    _print_pack_notes(project, registry, console)
    # --trust is recorded once, by rank 0; the other ranks take it as said
    trusted = True if (args.trust and not main) else _trusted(project, registry, args, console)
    try:
        if args.batch_size is not None:
            set_batch_size(project, args.batch_size)
        device = args.device
        if world is not None:
            from dpg_blocks.engine.training.distributed import start

            device = str(start(world, args.device or project.training.device))
        trainer = Trainer(
            project, registry, Path(args.project).resolve().parent, device=device, seed=args.seed,
            trusted=trusted, world=world, amp=args.amp,
        )
        require_a_loss(trainer)
    except CompileError as e:
        bad = [r.to_dict() for r in e.records if r.status in ("error", "upstream-error")]
        console.print(_records_table(bad, "the project does not validate"))
        return EXIT_INVALID
    except ValueError as e:  # a bad device or dataset setting
        console.print(f"[bold red]cannot train:[/] {escape(str(e))}", highlight=False)
        return EXIT_INVALID
    epochs = project.training.epochs if args.epochs is None else args.epochs
    keeper = _keep_run(args, trainer, epochs, console, main)
    if isinstance(keeper, int):
        return keeper
    if trainer.epoch:
        console.print(f"continuing run {escape(keeper.path.name if keeper.path else args.resume)} after epoch "
                      f"{trainer.epoch}", highlight=False)
    if trainer.epoch >= epochs:
        console.print(f"nothing to train: the run has done {trainer.epoch} of {epochs} epoch(s) "
                      "(ask for more with --epochs)", highlight=False)
        keeper.finish("finished")
        return EXIT_OK
    on = f"{trainer.device}" if world is None else f"{world.size} processes ({trainer.device.type}, DDP)"
    console.print(f"training {escape(repr(project.name))} on {on} for {epochs} epoch(s)", highlight=False)
    if keeper.path is not None:
        console.print(f"run folder: {escape(str(keeper.path))}", highlight=False)
    for input_id, source in trainer.sources.items():
        dropped = source.split_size("train") - min(source.split_size("train"),
                                                   source.num_batches("train") * source.batch_size)
        if dropped:
            console.print(f"note: {escape(trainer.names[input_id])} ({escape(source.name)}): "
                          f"{source.split_size('train')} training samples in batches of "
                          f"{source.batch_size}; the last batch of {dropped} sample is left out of each epoch "
                          "(one sample is no batch to train on)", highlight=False)
    from dpg_blocks.core.atomic_file import write_text_atomic
    from dpg_blocks.engine.training.epoch import NonFiniteLoss

    written: list[str] = []  # the metrics file, rewritten atomically after every epoch
    try:
        if args.metrics_out and main:
            write_text_atomic(args.metrics_out, "")
        if args.checkpoint_dir and main:
            Path(args.checkpoint_dir).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        console.print(f"[bold red]cannot train:[/] cannot write {escape(_os_error_text(e))}", highlight=False)
        return EXIT_WRITE
    from dpg_blocks.engine.training.session import Throughput, batch_samples
    from dpg_blocks.protocol.progress_text import duration, rate_text

    last: dict[str, Any] = {}
    step = [0]
    throughput = Throughput()  # the editor's measure: samples/s over a sliding window
    shown_at = [0.0]
    with Progress(
        TextColumn("epoch {task.fields[epoch]}/" + str(epochs)), BarColumn(), TextColumn("batch"),
        MofNCompleteColumn(), TextColumn("{task.fields[speed]}"), TextColumn("{task.fields[eta]}"),
        TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=console, transient=False,
        disable=args.quiet or not main,
    ) as progress:
        task = progress.add_task("train", total=trainer.steps_per_epoch() or 1, epoch=1, info="",
                                 speed=rate_text(0), eta="ETA ?")

        def on_step(done: int, total: int) -> None:
            step[0] = done
            run = trainer.last_run
            throughput.add(batch_samples(run.last_batches) if run is not None else 0)
            now = time.perf_counter()
            if now - shown_at[0] >= 0.1 or done == total:  # as the engine: a report every 0.1 s
                shown_at[0] = now
                throughput.mark(now)
                samples_s, steps_s = throughput.rates()
                left = total - done + max(0, epochs - trainer.epoch - 1) * total
                eta = f"ETA {duration(left / steps_s if steps_s else -1)} " \
                      f"(epoch {duration((total - done) / steps_s if steps_s else -1)})"
                progress.update(task, completed=done, total=total, speed=rate_text(samples_s), eta=eta)
            else:
                progress.update(task, completed=done, total=total)

        ended = "failed"
        console.training = True  # type: ignore[attr-defined]  # from now on a rank's errors are its own
        try:
            for metrics in trainer.fit(epochs - trainer.epoch, on_step=on_step, check_finite=True):
                last = metrics
                step[0] = 0
                shown = [k for k in metrics if k.startswith("loss/")] if len(trainer.model.orders) > 1 else ["loss"]
                info = "  ".join(
                    f"{k}={_fmt(metrics[k])}" for k in (*shown, "val_accuracy", "test_accuracy", "val_r2", "test_r2")
                    if k in metrics
                )
                progress.update(task, epoch=metrics["epoch"] + 1 if metrics["epoch"] < epochs else epochs, info=info)
                if metrics["epoch"] < epochs:
                    progress.reset(task, total=trainer.steps_per_epoch() or 1)
                if args.metrics_out and main:
                    written.append(json.dumps(metrics) + "\n")
                    write_text_atomic(args.metrics_out, "".join(written))
                if args.checkpoint_dir and main:
                    trainer.save_checkpoint(args.checkpoint_dir, metrics)
                keeper.epoch_done(metrics)
            ended = "finished"
        except KeyboardInterrupt:
            ended = "stopped"
            raise
        except OSError as e:
            progress.stop()
            console.print(
                f"[bold red]training stopped after epoch {trainer.epoch}:[/] cannot write {escape(_os_error_text(e))}; "
                "the files written before are kept", highlight=False,
            )
            return EXIT_WRITE
        except NonFiniteLoss as e:
            progress.stop()
            order = trainer._order(e.order)
            console.print(
                f"[bold red]training stopped:[/] the loss of order {e.order} ({escape(order.name)}) is {e.value} at epoch "
                f"{trainer.epoch + 1}, step {e.step}; nothing was learnt from that step. A lower learning rate "
                f"(now {order.optimizer.lr:g}) or normalised data usually helps.", highlight=False,
            )
            return EXIT_INVALID
        except Exception as e:  # a block failing on real data: its record, not a traceback
            progress.stop()
            from dpg_blocks.engine.training.errors import failure_records
            from dpg_blocks.protocol.block_error import error_text, where_text

            evaluating = step[0] >= trainer.steps_per_epoch() > 0  # the epoch's steps ran: val/test
            where = where_text("evaluate", trainer.epoch + 1, 0) if evaluating else \
                where_text("train", trainer.epoch + 1, step[0] + 1)
            records = failure_records(trainer, e)
            if records:  # the same words as the editor's record of the block
                text = error_text(records[0].to_dict(), where)
            else:
                text = f"training failed {where}: {type(e).__name__}: {(str(e).strip().splitlines() or [''])[0]}"
            console.print(f"[bold red]training stopped:[/] {escape(text)}", highlight=False)
            return EXIT_INVALID
        finally:
            keeper.finish(ended)
    summary = _table(title="summary (last epoch)")
    summary.add_column("metric")
    summary.add_column("value", justify="right")
    for k, v in last.items():
        if k not in ("confusion_matrix", "classes", "per_class", "macro", "weighted", "misclassified"):
            summary.add_row(k, _fmt(v))
    if main:
        _console().print(summary)
    return EXIT_OK


def set_batch_size(project: Any, size: int) -> None:
    """``--batch-size``: every Input's batch (the global batch under torchrun), for this run."""
    if size < 1:
        raise ValueError(f"--batch-size must be a whole number >= 1, got {size}")
    for block in project.graph.walk():
        if block.type == "builtin.Input":
            block.params["batch_size"] = size


def _keep_run(args: argparse.Namespace, trainer: Any, epochs: int, console: Console, main: bool = True) -> Any:
    """The run folder for ``train`` (``--resume`` loads its last.pt, ``--init-from`` a run's
    weights into a new run); an exit code when the run named cannot be used."""
    from dpg_blocks.core.runs import RunError, resolve_run, runs_folder
    from dpg_blocks.engine.training.run_keeper import RunKeeper
    from dpg_blocks.engine.training.trainer import starting_weights

    starts = [flag for flag, given in (("--resume", args.resume), ("--init-from", args.init_from),
                                       ("--weights", args.weights)) if given]
    if len(starts) > 1:
        console.print(f"[bold red]cannot train:[/] {' and '.join(starts)} each say where training starts; "
                      "choose one", highlight=False)
        return EXIT_INVALID
    folder = runs_folder(Path(args.project).resolve())
    warned: list[str] = []

    def warn(text: str) -> None:
        if not warned:
            warned.append(text)
            console.print(f"[yellow]warning:[/] {escape(text)}", highlight=False)

    try:
        if args.resume:
            # every rank restores the checkpoint; rank 0 alone writes the run (keep=main)
            return RunKeeper.resume(trainer, resolve_run(folder, args.resume), epochs, warn, keep=main)
        init_from = None
        if args.init_from:
            ref, _, which = args.init_from.rpartition(":") if args.init_from.endswith((":last", ":best")) \
                else (args.init_from, "", "best")
            run = resolve_run(folder, ref)
            ckpt = run / f"{which}.pt"
            if which == "best" and not ckpt.is_file():
                ckpt = run / "last.pt"
            if not ckpt.is_file():
                raise RunError(f"run {run.name} has no checkpoint to start from")
            trainer.load_weights(ckpt)
            init_from = f"{run.name}:{ckpt.stem}"
            console.print(f"starting from the weights of {escape(init_from)}", highlight=False)
        else:
            weights = Path(args.weights) if args.weights else starting_weights(trainer.project, Path(args.project).resolve().parent)
            if weights is not None:
                if not weights.is_file():
                    raise RunError(f"there is no checkpoint {weights}")
                trainer.load_weights(weights)
                init_from = str(weights)
                console.print(f"starting from the weights in {escape(str(weights))}", highlight=False)
    except ValueError as e:  # ResumeRefused, WeightsMismatch, RunError and a missing starting checkpoint
        what = "--resume" if args.resume else "--init-from" if args.init_from else "--weights"
        console.print(f"[bold red]cannot {what[2:].replace('-', ' ')}:[/] {escape(str(e))}", highlight=False)
        return EXIT_INVALID
    if args.no_run or not main:
        return RunKeeper(trainer, None, warn)
    return RunKeeper.start(trainer, folder, args.run_name or "", epochs, warn, argv=sys.argv[1:], init_from=init_from)


def cmd_export(args: argparse.Namespace) -> int:
    """Write the project as one standalone PyTorch script (model, data loading, training)."""
    console = _console(stderr=True)
    project = _load(args.project, console)
    if project is None:
        return EXIT_UNREADABLE
    from dpg_blocks.engine.compiling.compiler import CompileError
    from dpg_blocks.engine.interop.export import ExportError, write_export

    registry = _registry(args)
    if not _trusted(project, registry, args, console):
        return EXIT_INVALID  # the script would carry code this user has not trusted
    if args.onnx:
        return _export_onnx(args, project, registry, console)
    try:
        path = write_export(project, registry, Path(args.project).resolve().parent, args.output, trusted=True)
    except CompileError as e:
        bad = [r.to_dict() for r in e.records if r.status in ("error", "upstream-error")]
        console.print(_records_table(bad, "the project does not validate; nothing was exported"))
        return EXIT_INVALID
    except OSError as e:  # a full disk, a folder that is not there: the old file is kept
        console.print(f"[bold red]cannot export:[/] cannot write {escape(_os_error_text(e))}", highlight=False)
        return EXIT_WRITE
    except (ExportError, ValueError) as e:  # a layer that cannot be written out
        console.print(f"[bold red]cannot export:[/] {escape(str(e))}", highlight=False)
        return EXIT_INVALID
    _console().print(f"wrote {path}\n  python {path} --epochs 1   # needs only torch and numpy", highlight=False)
    return EXIT_OK


def _export_onnx(args: argparse.Namespace, project: Any, registry: Any, console: Console) -> int:
    """``export --onnx``: one order's inference graph (no losses) with a dynamic batch dimension."""
    from dpg_blocks.engine.compiling.compiler import CompileError
    from dpg_blocks.engine.interop.export import ExportError
    from dpg_blocks.engine.interop.export_onnx import export_onnx

    outputs = []
    for ref in args.outputs or []:
        block = _find_block(project, ref)
        if block is None:
            console.print(f"[bold red]cannot export:[/] no block {ref!r} (use its name, id or Outer/Inner path)")
            return EXIT_INVALID
        outputs.append(block.id)
    try:
        path, interface = export_onnx(
            project, registry, Path(args.project).resolve().parent, args.output, order=args.order,
            outputs=outputs or None, weights=args.weights, trusted=True,
        )
    except CompileError as e:
        bad = [r.to_dict() for r in e.records if r.status in ("error", "upstream-error")]
        console.print(_records_table(bad, "the project does not validate; nothing was exported"))
        return EXIT_INVALID
    except OSError as e:
        console.print(f"[bold red]cannot export:[/] cannot write {escape(_os_error_text(e))}", highlight=False)
        return EXIT_WRITE
    except (ExportError, ValueError) as e:
        console.print(f"[bold red]cannot export:[/] {escape(str(e))}", highlight=False)  # "dpg-blocks[onnx]"
        return EXIT_INVALID
    ins = ", ".join(name for _, name in interface.inputs)
    outs = ", ".join(name for _, name in interface.outputs)
    _console().print(f"wrote {path}\n  order {interface.order}: inputs {ins} -> outputs {outs} (batch dimension dynamic)",
                     highlight=False)
    return EXIT_OK


def _shape_arg(text: str) -> tuple[int, ...]:
    """``1,8,8`` -> (1, 8, 8): one sample's shape, without the batch."""
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"a shape is numbers separated by commas, e.g. 1,8,8; got {text!r}") from None
    if not shape or any(d < 1 for d in shape):
        raise argparse.ArgumentTypeError(f"a shape is positive numbers, e.g. 1,8,8; got {text!r}")
    return shape


def cmd_import(args: argparse.Namespace) -> int:
    """Build a project from an nn.Module (torch.fx), with its weights saved as a checkpoint."""
    console = _console(stderr=True)
    from dpg_blocks.engine.interop.import_fx import FxImportError, import_to_project

    try:
        report = import_to_project(args.module, args.input_shape, args.output, _registry(args),
                                   args_json=args.args, weights=not args.no_weights, flat=args.flat,
                                   input_dtypes=args.input_dtype)
    except FxImportError as e:
        console.print(f"[bold red]cannot import:[/] {e}", highlight=False)
        return EXIT_INVALID
    _console().print(report.summary(), highlight=False)
    return EXIT_OK


def cmd_plugins(args: argparse.Namespace) -> int:
    """List packs, blocks and failed or quarantined plugins; exit 1 when any failed."""
    if args.enable:
        from dpg_blocks.core.plugin_quarantine import QuarantineStore

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


def cmd_trust(args: argparse.Namespace) -> int:
    console = _console()
    project = _load(args.project, console)
    if project is None:
        return EXIT_UNREADABLE
    from dpg_blocks.core.trust import TrustStore, code_digest, outside_data_paths

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


def _find_block(project: Any, ref: str) -> Any:
    """A block by id, by name, or by path (``Outer/Inner`` or ``Outer › Inner``)."""
    parts = [p.strip() for p in ref.replace(" › ", "/").split("/") if p.strip()]
    for b in project.graph.walk():
        if b.id == ref or project.path_of(b.id) == parts:
            return b
    matches = [b for b in project.graph.walk() if b.name == ref]
    return matches[0] if len(matches) == 1 else None


def cmd_library(args: argparse.Namespace) -> int:
    from dpg_blocks.core.library import (
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


def cmd_open(args: argparse.Namespace) -> int:
    import importlib.util

    if importlib.util.find_spec("dpg_blocks.ui.app") is None:
        console = _console(stderr=True)
        console.print(
            "[bold]The Dear PyGui editor is not part of this build yet[/] (README, 'State of this build').\n"
            f"Meanwhile: dpg-blocks validate {args.project or 'PROJECT'}   |   "
            f"dpg-blocks train {args.project or 'PROJECT'}",
            highlight=False,
        )
        return EXIT_UNREADABLE
    from dpg_blocks.ui.app import run_editor  # type: ignore[import-not-found]

    return int(run_editor(args.project))


def cmd_screenshot(args: argparse.Namespace) -> int:
    """Render the editor on a project once validation has arrived and save the frame as PNG."""
    from dpg_blocks.core.project_file import ProjectFileError
    from dpg_blocks.ui.app import run_screenshot

    console = _console(stderr=True)
    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        console.print(f"[bold red]--size must be WIDTHxHEIGHT, got {args.size!r}[/]", highlight=False)
        return EXIT_UNREADABLE
    try:
        code = run_screenshot(args.project, args.output, select=args.select, size=(w, h), boxes=args.boxes,
                              timeout_s=args.timeout, open_super=args.open, layout=args.auto_layout,
                              tab=args.tab, train_epochs=args.train, code=args.code, runs=args.runs,
                              processes=args.processes, zoom=args.zoom)
    except ProjectFileError as e:
        console.print(f"[bold red]cannot read the project:[/] {e}", highlight=False)
        return EXIT_UNREADABLE
    if code:
        console.print(f"[bold red]no screenshot: validation did not arrive within {args.timeout:g} s[/]")
    return code


def _zoom_arg(text: str) -> str | float:
    """``--zoom``: ``fit`` or a percentage from 25 to 200."""
    if text == "fit":
        return text
    try:
        value = float(text.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--zoom takes a percentage (25-200) or fit, got {text!r}") from None
    if not 25 <= value <= 200:
        raise argparse.ArgumentTypeError(f"--zoom must be between 25 and 200 %, got {text!r}")
    return value / 100


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dpg-blocks", description="Design, train and debug neural networks as block graphs.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true",
                        help=f"show the traceback of an unexpected error (also: {DEBUG_ENV}=1); anywhere on the line")
    sub = parser.add_subparsers(dest="command")

    def with_plugins(p: argparse.ArgumentParser) -> None:
        p.add_argument("--plugins", action="append", metavar="DIR", help="also load block packs from DIR")

    v = sub.add_parser("validate", help="check a project and show every block's status and shapes")
    v.add_argument("project")
    v.add_argument("--json", action="store_true",
                   help='print {"ok": bool, "blocks": [...], "plugin_failures": [...]} as JSON '
                   '(and "error" when the engine could not validate)')
    v.add_argument("-v", "--verbose", action="store_true", help="print tracebacks of failing blocks")
    v.add_argument("--trust", action="store_true", help="trust and run this project's custom code (it is recorded)")
    with_plugins(v)
    v.set_defaults(func=cmd_validate)

    t = sub.add_parser("train", help="train a project")
    t.add_argument("project")
    t.add_argument("--epochs", type=int, help="override the project's number of epochs")
    t.add_argument("--metrics-out", metavar="FILE", help="write one JSON object per epoch (JSON Lines)")
    t.add_argument("--checkpoint-dir", metavar="DIR", help="save a checkpoint after every epoch")
    t.add_argument("--device", help="cpu, cuda, cuda:1 … (default: the project's setting, 'auto')")
    t.add_argument("--seed", type=int, help="override the project's seed")
    t.add_argument("--amp", choices=["off", "bf16", "fp16"], default="off",
                   help="mixed precision: bf16 autocast (CPU or GPU), fp16 autocast with a grad scaler (CUDA)")
    t.add_argument("--batch-size", type=int, metavar="N", help="every Input's batch size for this run; under "
                   "torchrun the global batch (each of the P processes takes N/P)")
    t.add_argument("--trust", action="store_true", help="trust and run this project's custom code (it is recorded)")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    t.add_argument("--run-name", metavar="NAME", help="name of the run folder kept beside the project")
    t.add_argument("--no-run", action="store_true", help="keep no run folder")
    t.add_argument("--resume", metavar="RUN", help="continue a run (an id, a run folder or 'last') from its "
                   "last checkpoint, exactly; --epochs is then the run's total")
    t.add_argument("--init-from", metavar="RUN[:last]", help="start a new run from another run's best "
                   "(or last) weights, with fresh optimizers")
    t.add_argument("--weights", metavar="CHECKPOINT", help="start from the weights in this checkpoint (an import's "
                   "PROJECT.weights.pt, a run's best.pt); default: the project's training.weights, if any")
    with_plugins(t)
    t.set_defaults(func=cmd_train)

    ex = sub.add_parser("export", help="write the project as one standalone PyTorch script (torch and numpy only)")
    ex.add_argument("project")
    ex.add_argument("-o", "--output", required=True, metavar="FILE.py|FILE.onnx")
    ex.add_argument("--trust", action="store_true", help="trust and inline this project's custom code (it is recorded)")
    ex.add_argument("--onnx", action="store_true",
                    help="write one order's inference graph as ONNX instead (needs: pip install 'dpg-blocks[onnx]')")
    ex.add_argument("--order", type=int, metavar="K",
                    help="ONNX: the order to export (default: the first whose losses/Outputs a trainable block feeds)")
    ex.add_argument("--outputs", action="append", metavar="BLOCK",
                    help="ONNX: export this block's outputs instead of what feeds the losses/Outputs (repeatable)")
    ex.add_argument("--weights", metavar="CHECKPOINT",
                    help="ONNX: load the model's weights from a checkpoint (train --checkpoint-dir, or import)")
    with_plugins(ex)
    ex.set_defaults(func=cmd_export)

    im = sub.add_parser("import", help="build a project from a PyTorch nn.Module (torch.fx), weights included")
    im.add_argument("module", metavar="FILE.py:ClassName")
    im.add_argument("-o", "--output", required=True, metavar="PROJECT.dpgb")
    im.add_argument("--input-shape", action="append", required=True, type=_shape_arg, metavar="C,H,W",
                    help="one sample's shape (no batch) for each input of forward, e.g. 1,8,8 (repeatable)")
    im.add_argument("--args", metavar="JSON", help="constructor arguments: a JSON list or object (default: none)")
    im.add_argument("--input-dtype", action="append", choices=["float32", "int64"],
                    help="per --input-shape, in order: float32 (default) or int64 (token ids for an Embedding)")
    im.add_argument("--flat", action="store_true",
                    help="one level of blocks (default: one SuperBlock per submodule, nested as the modules nest)")
    im.add_argument("--no-weights", action="store_true",
                    help="do not write PROJECT.weights.pt (the module's weights as a checkpoint)")
    with_plugins(im)
    im.set_defaults(func=cmd_import)

    o = sub.add_parser("open", help="open a project in the editor (the default command)")
    o.add_argument("project", nargs="?")
    o.set_defaults(func=cmd_open)

    sc = sub.add_parser("screenshot", help="render the editor on a project after validation and save a PNG")
    sc.add_argument("project", nargs="?", help="the project (none: a bare editor, as `dpg-blocks` opens)")
    sc.add_argument("-o", "--output", required=True, metavar="FILE.png")
    sc.add_argument("--select", metavar="BLOCK", help="select this block (name, id or Outer/Inner path)")
    sc.add_argument("--size", default="1600x1000", metavar="WxH", help="window size (default 1600x1000)")
    sc.add_argument("--boxes", metavar="FILE.json", help="also write the nodes' rectangles and statuses")
    sc.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for validation")
    sc.add_argument("--open", metavar="SUPERBLOCK", help="show the inside of this SuperBlock on the canvas")
    sc.add_argument("--auto-layout", action="store_true", help="lay the graph out first (the file is not changed)")
    sc.add_argument("--zoom", metavar="PERCENT|fit", type=_zoom_arg,
                    help="zoom the canvas to PERCENT (25-200) about its centre, or to fit the whole graph")
    sc.add_argument("--tab", choices=["debug", "visualization", "optimization", "evaluation", "runs", "plugins"],
                    help="show this tab of the bottom pane")
    sc.add_argument("--train", type=int, default=0, metavar="EPOCHS",
                    help="press Train and shoot after EPOCHS epochs, with the selected block's heatmaps")
    sc.add_argument("--processes", type=int, default=0, metavar="N",
                    help="with --train: press Run on N processes (torchrun) instead of Train")
    sc.add_argument("--code", metavar="BLOCK", help="open this Custom block's code window (and select it)")
    sc.add_argument("--runs", metavar="NAMES", help="tick these kept runs (comma-separated names, or all) and "
                    "shoot their curves overlaid")
    sc.set_defaults(func=cmd_screenshot)

    tr = sub.add_parser("trust", help="trust the custom code in a project so that it runs (or --show, --revoke)")
    tr.add_argument("project")
    tr.add_argument("--show", action="store_true", help="print the project's code and whether it is trusted")
    tr.add_argument("--revoke", action="store_true", help="stop trusting this code")
    with_plugins(tr)
    tr.set_defaults(func=cmd_trust)

    lib = sub.add_parser("library", help="save blocks and SuperBlocks for reuse, list them, insert copies")
    lib_sub = lib.add_subparsers(dest="action", required=True)
    ll = lib_sub.add_parser("list", help="list the saved blocks")
    ll.add_argument("--json", action="store_true")
    ls = lib_sub.add_parser("save", help="save a block (by name, id or Outer/Inner path) to the library")
    ls.add_argument("project")
    ls.add_argument("block")
    ls.add_argument("--name", help="save it under this name (default: the block's name)")
    ls.add_argument("--overwrite", action="store_true", help="replace a saved block of the same name")
    li = lib_sub.add_parser("insert", help="insert a copy of a saved block into a project (unlinked)")
    li.add_argument("project")
    li.add_argument("block", help="the saved block's name or file")
    li.add_argument("--into", metavar="SUPERBLOCK", help="insert inside this SuperBlock")
    li.add_argument("--name", help="name of the inserted block")
    li.add_argument("--output", metavar="FILE", help="write the result here instead of changing PROJECT")
    for p in (ll, ls, li):
        p.add_argument("--library", metavar="DIR", help="use this library folder instead of the user's")
    lib.set_defaults(func=cmd_library)

    pl = sub.add_parser("plugins", help="list block packs, their blocks, and packs that failed to load "
                        "(exit 1 when any failed or is quarantined)")
    pl.add_argument("--json", action="store_true")
    pl.add_argument("--enable", action="append", metavar="NAME",
                    help="lift the quarantine of plugin NAME (pack name or path) and try it again")
    with_plugins(pl)
    pl.set_defaults(func=cmd_plugins)

    np_ = sub.add_parser("new-pack", help="write a pip-installable block pack (two example blocks and a test)")
    np_.add_argument("name", help="the pack's Python package name, e.g. my_blocks")
    np_.add_argument("--dir", default=".", help="create NAME/ inside this folder (default: the current one)")
    np_.set_defaults(func=cmd_new_pack)
    return parser


def _os_error_text(e: OSError) -> str:
    """``/x/last.pt: No space left on device`` — the file and the reason, without errno noise."""
    where = e.filename if e.filename is not None else ""
    reason = e.strerror or str(e) or type(e).__name__
    return f"{where}: {reason}" if where else reason


def _report_unexpected(e: BaseException, command: str, debug: bool, json_out: bool = False) -> int:
    """One message for an error no command expected; the traceback only when asked for."""
    import traceback

    err = _console(stderr=True)
    if isinstance(e, KeyboardInterrupt):
        err.print(f"dpg-blocks {command}: interrupted", highlight=False, markup=False)
        return EXIT_INTERRUPTED
    if debug:
        sys.stderr.write("".join(traceback.format_exception(e)))
    if isinstance(e, OSError):
        message, code = f"dpg-blocks {command}: cannot complete: {_os_error_text(e)}", EXIT_WRITE
    elif isinstance(e, MemoryError):
        message, code = f"dpg-blocks {command}: out of memory", EXIT_INTERNAL
    else:
        first = (str(e).strip().splitlines() or [""])[0][:300]
        hint = "" if debug else f" (run with --debug or {DEBUG_ENV}=1 for the traceback)"
        message = (f"dpg-blocks {command}: unexpected error: {type(e).__name__}: {first}\n"
                   f"This is a bug in dpg-blocks; please report it{hint}.")
        code = EXIT_INTERNAL
    err.print(message, highlight=False, markup=False)
    if json_out:  # --json promised JSON on stdout: still one object, saying what went wrong
        json.dump({"ok": False, "error": message.splitlines()[0], "exit_code": code}, sys.stdout)
        sys.stdout.write("\n")
    return code


def _pipe_closed() -> int:
    """The reader of stdout left (``validate --json | head``): end quietly, as Unix tools do.

    stdout is pointed at /dev/null first, so the interpreter's final flush of the buffered rest
    cannot raise a second BrokenPipeError at exit (the recipe of Python's signal docs).
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (a test's capture): nothing left to flush
        pass
    return EXIT_PIPE_CLOSED


def main(argv: list[str] | None = None) -> int:
    """Run one command; whatever happens, it ends in a message and an exit code (``--help``)."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    if not argv:
        argv = ["open"]  # a bare `dpg-blocks` (a desktop launcher) opens an empty editor
    commands = {"validate", "train", "export", "import", "plugins", "open", "screenshot", "trust", "library", "new-pack"}
    if argv and argv[0] not in commands and not argv[0].startswith("-"):
        argv = ["open", *argv]  # `dpg-blocks PROJECT` opens the editor
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    try:
        return int(args.func(args))
    except SystemExit:
        raise
    except BrokenPipeError:
        return _pipe_closed()
    except BaseException as e:  # noqa: BLE001 — the last guard: a message, never a traceback
        return _report_unexpected(e, args.command, debug, bool(getattr(args, "json", False)))


if __name__ == "__main__":
    raise SystemExit(main())
