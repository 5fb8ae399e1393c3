"""``dpg-blocks train``: a project trained in this process (one rank of torchrun's under DDP),
with a progress bar, metrics and checkpoint files, and a run folder kept beside the project.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dpg_blocks.cli_exit import (
    EXIT_INTERNAL,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_UNREADABLE,
    EXIT_WRITE,
    _os_error_text,
)
from dpg_blocks.cli_output import _console, _print_pack_notes, _records_table, _table, escape
from dpg_blocks.cli_project import _load, _registry, _trusted

if TYPE_CHECKING:
    from rich.console import Console


def _fmt(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


_TRAINING_STARTED = [False]  # this process reached the training loop (its errors are then its own)


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
    _TRAINING_STARTED[0] = False  # (a second in-process call must not inherit the last one's)
    try:
        code = _train(args, world)
    finally:
        # A refusal before training is every rank's, said by rank 0 alone: the others wait for
        # it, or their quick exit makes torchrun end rank 0 before it has said why.
        distributed.stop(wait_for_all=code == EXIT_OK or not _TRAINING_STARTED[0])
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
        _TRAINING_STARTED[0] = True
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
    from dpg_blocks.core.runs.folders import RunError, resolve_run, runs_folder
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
