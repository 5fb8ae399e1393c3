"""A training run inside the engine process: step-wise, pausable, tapped and guarded.

The engine loop calls :meth:`TrainingSession.advance` with a time budget between reading
commands, so pause/resume/stop/step take effect between two steps. Watched blocks ("taps") are
observed through forward hooks registered only on them, and summarised at the chosen rate.
A loss or a watched output that turns NaN/Inf pauses training and names the first block, in
execution order, whose output went non-finite.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dpg_blocks import protocol as m
from dpg_blocks.core.project import Project
from dpg_blocks.core.runs.folders import runs_folder
from dpg_blocks.protocol.block_error import headline, where_text

from ..compiling.records import PATH_SEP
from ..packs.registry import Registry
from .epoch import EpochRun, NonFiniteLoss
from .run_keeper import RunKeeper
from .tap_hooks import Taps
from .taps import summarize
from .trainer import Trainer, require_a_loss, starting_weights

Emit = Callable[[Any], None]
STEP_METRICS_INTERVAL_S = 0.1
RATE_WINDOW = 30  # samples/s over the last RATE_WINDOW step reports (about 3 s of training)


class Throughput:
    """Samples/s and steps/s over a sliding window of the step reports.

    A step only adds to two counters; the window gets a point per report (every 0.1 s), so
    measuring costs training nothing it would notice. A pause empties it: paused time is no
    training time.
    """

    def __init__(self) -> None:
        self.samples = 0
        self.steps = 0
        self._points: deque[tuple[float, int, int]] = deque(maxlen=RATE_WINDOW)

    def add(self, samples: int) -> None:
        self.samples += samples
        self.steps += 1

    def mark(self, now: float) -> None:
        self._points.append((now, self.samples, self.steps))

    def reset(self) -> None:
        self._points.clear()

    def rates(self) -> tuple[float, float]:
        """(samples/s, steps/s); zeros until two points lie apart."""
        if len(self._points) < 2:
            return 0.0, 0.0
        (t0, s0, n0), (t1, s1, n1) = self._points[0], self._points[-1]
        if t1 - t0 <= 0:
            return 0.0, 0.0
        return (s1 - s0) / (t1 - t0), (n1 - n0) / (t1 - t0)


def batch_samples(batches: dict[int, list[Any]]) -> int:
    """The samples one step trained on: the largest batch an order of it drew."""
    return max((b[0].shape[0] for b in batches.values() if b and isinstance(b[0], torch.Tensor)), default=0)


@dataclass(frozen=True)
class RunRequest:
    """Where a Train keeps its run (the Train command's run fields)."""

    project_path: str = ""
    name: str = ""
    resume: str = ""
    init_from: str = ""


def diagnose_non_finite(trainer: Trainer, index: int, batch: list[Any]) -> tuple[str, str, str]:
    """Re-run order ``index`` on ``batch`` and find the first block whose output is NaN/Inf.

    Returns (block id, port, what) — what is "nan" or "inf"; ("", "", "") if nothing is found.
    """
    for i, inp in enumerate(trainer.model.input_ids.get(index, [])):
        for port, value in (("x", batch[2 * i]), ("y", batch[2 * i + 1])):
            if isinstance(value, torch.Tensor) and value.is_floating_point() and not torch.isfinite(value).all():
                return inp, port, _what(value)
    found: list[tuple[str, str, str]] = []
    handles = []
    flat = trainer.compiled.flat

    def watch(bid: str) -> Callable[..., None]:
        outs = [p.name for p in flat.nodes[bid].block.outputs] or ["loss"]

        def hook(_m: nn.Module, _args: Any, output: Any) -> None:
            if found:
                return
            values = output if isinstance(output, tuple | list) else (output,)
            for name, v in zip(outs, values, strict=False):
                if isinstance(v, torch.Tensor) and v.is_floating_point() and not torch.isfinite(v).all():
                    found.append((bid, name, _what(v)))
                    return

        return hook

    for bid, module in trainer.model.block_modules.items():
        handles.append(module.register_forward_hook(watch(bid)))
    try:
        with torch.no_grad():
            trainer.forward(index, batch)
    except Exception:
        pass  # the hooks already saw what they needed
    finally:
        for h in handles:
            h.remove()
    return found[0] if found else ("", "", "")


def _what(t: torch.Tensor) -> str:
    return "nan" if torch.isnan(t).any() else "inf"


class TrainingSession:
    """One Train request, advanced by the engine loop."""

    def __init__(
        self,
        emit: Emit,
        emit_tap: Emit,
        project: Project,
        registry: Registry,
        project_dir: str,
        request_id: int,
        epochs: int | None = None,
        device: str | None = None,
        trusted: bool = False,
        on_block: Callable[[Any], None] | None = None,
        run: RunRequest | None = None,
    ) -> None:
        self.emit, self.emit_tap = emit, emit_tap
        self.request_id = request_id
        # on_block: the engine's progress and beacon while the Train compiles (validates) the project
        self.trainer = Trainer(project, registry, project_dir, device=device, trusted=trusted, on_block=on_block)
        require_a_loss(self.trainer)
        self.project_dir = project_dir
        self.epochs = project.training.epochs if epochs is None else epochs
        self.keeper = self._keep_run(run or RunRequest())
        self.taps = Taps(self.trainer)
        self.state = "running"
        self.global_step = 0
        self._run: EpochRun | None = None
        self._epoch_started = 0.0
        self._last_step_metrics = 0.0
        self._paths = {nid: PATH_SEP.join(n.path) for nid, n in self.trainer.compiled.flat.nodes.items()}
        self.throughput = Throughput()
        self._rates = (0.0, 0.0)  # the last measured (samples/s, steps/s)

    def _keep_run(self, run: RunRequest) -> RunKeeper:
        """The run folder (a ValueError when the run to resume or the weights cannot be used)."""
        warned: list[str] = []

        def warn(text: str) -> None:
            if not warned:  # one warning: a full disk would otherwise say so every epoch
                warned.append(text)
                self.emit(m.Log(level="warning", text=text))

        if run.resume:
            keeper = RunKeeper.resume(self.trainer, run.resume, self.epochs, warn)
        else:
            init_from = None
            if run.init_from:
                self.trainer.load_weights(run.init_from)
                init_from = f"{Path(run.init_from).parent.name}:{Path(run.init_from).stem}"
            else:
                weights = starting_weights(self.trainer.project, self.project_dir)
                if weights is not None:  # an imported model trains on from its own weights
                    self.trainer.load_weights(weights)
                    init_from = str(weights)
            keeper = RunKeeper.start(self.trainer, runs_folder(run.project_path or None), run.name, self.epochs,
                                     warn, init_from=init_from)
        if keeper.path is not None:
            self.emit(m.RunStarted(request_id=self.request_id, run_id=keeper.path.name, path=str(keeper.path),
                                   resumed=bool(run.resume)))
        return keeper

    @property
    def running(self) -> bool:
        return self.state == "running"

    def set_state(self, state: str, reason: str = "") -> None:
        if state != "running":
            self.throughput.reset()
        self.state = state
        self.keeper.finish(state)
        self.emit(m.TrainingState(state=state, reason=reason, request_id=self.request_id))

    def plan(self) -> m.TrainingPlan:
        """The blocks live in each order, SuperBlocks holding one included (for the canvas)."""
        compiled = self.trainer.compiled
        live: dict[str, list[str]] = {}
        for index, plan in compiled.plans.items():
            ids: list[str] = []
            for s in plan.steps:
                if s.live:
                    ids += [i for i in (*s.node.super_ids, s.node.id) if i not in ids]
            live[str(index)] = ids
        return m.TrainingPlan(request_id=self.request_id, live=live)

    def advance(self, budget_s: float) -> None:
        """Run steps until ``budget_s`` is spent or the state changes."""
        end = time.perf_counter() + budget_s
        while self.running and time.perf_counter() < end:
            self.step()

    def step(self, report: bool = False) -> None:
        """One training step (every order once); ends the epoch and the run when due.

        Step metrics go out at most every STEP_METRICS_INTERVAL_S, or always with ``report``
        (a single step asked for while paused).
        """
        if self.trainer.epoch >= self.epochs:
            self.set_state("finished")
            return
        if self._run is None:
            self._run = self.trainer.start_epoch()
            self._epoch_started = time.perf_counter()
        run = self._run
        capture = self.taps.due(time.perf_counter())
        if capture:
            self.taps.arm()
        try:
            totals = run.step(check_finite=True)
        except NonFiniteLoss as e:
            self._non_finite(e.order, e.batch, f"the loss of order {e.order} is {e.value}")
            return
        except Exception as e:  # a block failed on the real batch: its record, the run paused
            self._block_failed(e, "step" if report else "train", run.steps_done + 1)
            return
        finally:
            if capture:
                self.taps.disarm()
        self.global_step += 1
        self.throughput.add(batch_samples(run.last_batches))
        now = time.perf_counter()
        if capture:
            for index, batch in run.last_batches.items():
                self.taps.observe_batch(index, batch)
            self._send_taps(now)
        if report or run.done or now - self._last_step_metrics >= STEP_METRICS_INTERVAL_S:
            self._last_step_metrics = now
            self.emit(self._step_metrics(run, totals, now))
        if run.done:
            try:
                metrics = self.trainer.finish_epoch(run.metrics(), self._epoch_started)
            except Exception as e:
                self._block_failed(e, "evaluate", run.steps_done)
                return
            self._run = None
            self.keeper.epoch_done(metrics)
            self.emit(m.EpochMetrics(request_id=self.request_id, epoch=metrics["epoch"], metrics=metrics))
            for event in evaluation_events(self.trainer, self.request_id, metrics["epoch"], metrics):
                self.emit(event)
            if self.trainer.epoch >= self.epochs:
                self.set_state("finished")

    def pause(self) -> None:
        """Pause, first saying exactly where the run stands (the last report may be 0.1 s old)."""
        if self._run is not None:
            self.emit(self._step_metrics(self._run, {}, time.perf_counter(), measure=False))
        self.set_state("paused")

    def _step_metrics(self, run: EpochRun, totals: dict[int, Any], now: float, measure: bool = True) -> m.StepMetrics:
        """The losses and where the run stands: batch i of M, samples/s, the ETAs."""
        if measure and self.running:  # a Step while paused says nothing about the speed
            self.throughput.mark(now)
            rates = self.throughput.rates()
            if rates[1] > 0:  # right after a (re)start the window is empty: keep the last rates
                self._rates = rates
        samples_s, steps_s = self._rates
        epoch = self.trainer.epoch + 1
        left_epoch = run.n_steps - run.steps_done
        left_run = left_epoch + max(0, self.epochs - epoch) * run.n_steps
        return m.StepMetrics(
            request_id=self.request_id,
            step=run.steps_done,
            epoch=epoch,
            losses={f"order_{k}": float(v) for k, v in totals.items()},
            steps=run.n_steps,
            epochs=self.epochs,
            samples_per_s=samples_s,
            eta_epoch_s=left_epoch / steps_s if steps_s else -1.0,
            eta_run_s=left_run / steps_s if steps_s else -1.0,
        )

    def _block_failed(self, exc: Exception, phase: str, step: int) -> None:
        """Send the failing block's record (TrainingError) and pause; re-raise when no block's
        code raised it (then the run fails as before, with the raw error)."""
        from .errors import failure_records

        records = failure_records(self.trainer, exc)
        if not records:
            raise exc
        epoch = self.trainer.epoch + 1  # the epoch under way (finish_epoch counts it only once done)
        self.emit(m.TrainingError(request_id=self.request_id, phase=phase, epoch=epoch, step=step,
                                  records=[r.to_dict() for r in records]))
        rec = records[0].to_dict()
        self.set_state("paused", headline(rec, where_text(phase, epoch, step)))

    def _send_taps(self, now: float) -> None:
        for key, tensor in self.taps.take(now).items():
            frame = summarize(tensor).to_frame(key.block_id, key.port, key.direction, self.global_step)
            self.emit_tap(frame)
            if (frame.nan_count or frame.inf_count) and self.running:
                run = self._run
                index = next(iter(run.last_batches)) if run and run.last_batches else None
                batch = run.last_batches.get(index) if run is not None and index is not None else None
                path = self._paths.get(frame.block_id, frame.block_id)
                self._non_finite(index, batch, f"watched output {path}.{frame.port} went non-finite")
                return

    def _non_finite(self, index: int | None, batch: list[Any] | None, why: str) -> None:
        block_id, port, what = ("", "", "")
        if index is not None and batch is not None:
            block_id, port, what = diagnose_non_finite(self.trainer, index, batch)
        self.emit(
            m.NonFinite(
                request_id=self.request_id,
                block_id=block_id,
                path=list(self.trainer.compiled.flat.nodes[block_id].path) if block_id else [],
                port=port,
                step=self.global_step,
                what=what or why,
            )
        )
        where = f": first non-finite output at {self._paths.get(block_id, block_id)}.{port}" if block_id else ""
        self.set_state("paused", f"{why}{where}")

    def close(self) -> None:
        if self.state in ("running", "paused"):  # replaced by a new Train: this run is over
            self.keeper.finish("stopped")
        self.taps.close()


def evaluation_events(trainer: Trainer, request_id: int, epoch: int, metrics: dict[str, Any]) -> list[m.Event]:
    """What the last test evaluation has beyond its metrics: the misclassified gallery and the
    regression scatter, each when the model has one."""
    events: list[m.Event | None] = [misclassified_event(trainer, request_id, epoch, metrics.get("classes") or []),
                                    regression_event(trainer, request_id, epoch)]
    return [e for e in events if e is not None]


def regression_event(trainer: Trainer, request_id: int, epoch: int) -> m.RegressionSamples | None:
    """The scatter's (predicted, true) pairs of the first regression head (None without one)."""
    import numpy as np

    reg = trainer.regression
    head = next((h for k in trainer.model.orders for h in trainer.model.heads[k] if h.kind == "regression"), None)
    if reg is None or head is None or not reg.pred:
        return None
    return m.RegressionSamples(request_id=request_id, epoch=epoch, head=head.name,
                               pred=m.array_to_wire(np.asarray(reg.pred, np.float32)),
                               true=m.array_to_wire(np.asarray(reg.true, np.float32)))


def misclassified_event(trainer: Trainer, request_id: int, epoch: int,
                        names: list[str]) -> m.MisclassifiedSamples | None:
    """The last test evaluation's wrong samples as thumbnails (None when there are none or the
    classifier's input is not image-like: fewer than 16 values a sample)."""
    import numpy as np

    from ..data.data_info import thumbnail

    found = [f for f in trainer.misclassified if np.asarray(f["sample"]).size >= 16]
    if not found:
        return None
    samples = [np.asarray(f["sample"], dtype=np.float64) for f in found]
    lo, hi = min(float(s.min()) for s in samples), max(float(s.max()) for s in samples)

    def name(c: int) -> str:
        return names[c] if 0 <= c < len(names) else str(c)

    return m.MisclassifiedSamples(
        request_id=request_id, epoch=epoch,
        thumbnails=[m.array_to_wire(thumbnail(s, lo, hi)) for s in samples],
        true=[name(f["true"]) for f in found], pred=[name(f["pred"]) for f in found],
        indices=[int(f["index"]) for f in found])

