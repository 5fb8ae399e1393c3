"""The GUI's handle on the engine process: spawn, send, poll, detect death and hangs, restart.

Importable without torch (DESIGN.md §1). Three ``spawn``-context queues carry msgpack bytes:
commands to the engine; reliable events back (metrics, results, errors — never dropped); and a
small bounded queue for tap frames, which the engine coalesces (latest wins) when the reader is
slow, so taps can never delay or crowd out the reliable events. How a death or a hang is
noticed, reported and answered with a restart is ``engine_liveness.py``.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import time
from dataclasses import dataclass, replace
from typing import Any

from dpg_blocks import protocol as m
from dpg_blocks.protocol import ProtocolError, decode, encode

from . import _entry
from .engine_liveness import MAX_START_FAILURES, PLUGIN_HANG_GRACE_S, EngineLiveness, describe_exit
from .validation_link import ValidationLink

__all__ = [
    "BEACON_BYTES", "MAX_START_FAILURES", "PLUGIN_HANG_GRACE_S", "TAP_QUEUE_SIZE",
    "ClientError", "EngineClient", "EngineStatus", "describe_exit", "stuck_text",
]

TAP_QUEUE_SIZE = 8
BEACON_BYTES = 512


@dataclass
class EngineStatus:
    """A change in the engine's life, made by the client (never sent on the wire).

    ``state``: starting, ready, validating, training, crashed, hung, restarting, stopped.
    For crashed/hung, ``block_id``/``block_path`` name what was running at the time.
    """

    state: str
    reason: str = ""
    exitcode: int | None = None
    signal: int | None = None
    block_id: str = ""
    block_path: str = ""


@dataclass
class ClientError:
    """An event from the engine that could not be decoded."""

    message: str


def stuck_text(ev: m.TrainingStuck) -> str:
    """The status line's words for a stuck training step."""
    if ev.block_id:
        return f"training is stuck in block {' › '.join(ev.path) or ev.block_id} ({ev.seconds:.0f} s)"
    return f"training is stuck ({ev.seconds:.0f} s){f' in {ev.where}' if ev.where else ''}"


class EngineClient(EngineLiveness):
    """Runs the engine in a child process and talks to it without ever blocking the caller;
    noticing its death or hang and restarting it is :class:`EngineLiveness`."""

    def __init__(
        self,
        plugin_dirs: tuple[str, ...] = (),
        validate_deadline_s: float = 15.0,
        train_deadline_s: float = 60.0,
        auto_restart: bool = True,
        threads: int | None = None,
        start_deadline_s: float = 180.0,
        stuck_after_s: float = 5.0,
    ) -> None:
        # stuck_after_s: the engine reports a training step running this long (TrainingStuck)
        self.options = {"plugin_dirs": [str(p) for p in plugin_dirs], "threads": threads,
                        "stuck_after_s": stuck_after_s}
        # Deadlines count silence while the engine is up: a request sent before Ready waits for
        # it (torch's import and plugin discovery are not the request's time); start-up has its
        # own, generous deadline.
        self.validate_deadline_s = validate_deadline_s
        self.train_deadline_s = train_deadline_s
        self.start_deadline_s = start_deadline_s
        self.auto_restart = auto_restart
        self.state = "stopped"
        self.catalog: list[dict[str, Any]] = []
        self.restarts = 0
        self._proc: Any = None
        self._cmd: Any = None
        self._evt: Any = None
        self._tap: Any = None
        self._pending: list[Any] = []  # client events not yet returned by poll()
        self._last_event = 0.0
        self._last_ping = 0.0
        self._ping_seq = 0
        self._busy: str = ""  # "validate" or "train" while a request is outstanding
        self._busy_request = 0
        self._beacon: Any = None
        self._last_validate: m.Validate | None = None  # whole, as a restarted engine gets it again
        self._link = ValidationLink()  # edits go as params, answers come as the records that changed
        self._poisoned_request = -1  # a Validate that killed the engine twice is not re-sent
        self._kills: dict[int, int] = {}  # Validate request id -> engines that died running it
        self._running_validate = -1  # the Validate the engine said it is running (Progress)
        self._next_request = 1
        self._resend = False
        self._ready = False
        self._spawned_at = 0.0
        self._busy_since = 0.0  # when the outstanding request's clock started (send, or Ready)
        self.stuck: m.TrainingStuck | None = None  # the latest report of a stuck training step
        self.start_failures = 0  # deaths in a row before the engine's first Ready
        self._ready_since_start = False
        self._plugin_seen: tuple[str, float] = ("", 0.0)  # beacon plugin entry, since when

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Spawn the engine (returns at once; a Ready event follows when it is up)."""
        ctx = mp.get_context("spawn")
        # Fresh queues every time: a process killed while holding a queue's lock poisons it.
        self._cmd, self._evt, self._tap = ctx.Queue(), ctx.Queue(), ctx.Queue(TAP_QUEUE_SIZE)
        # Shared memory the engine writes the block it is about to run into: unlike a queued
        # event it survives a crash in that very block (queued bytes may never be flushed).
        self._beacon = ctx.Array("c", BEACON_BYTES, lock=False)
        self._proc = ctx.Process(
            target=_entry.main,
            args=(self._cmd, self._evt, self._tap, self._beacon, self.options),
            name="dpg-blocks-engine",
            daemon=True,
        )
        self._proc.start()
        self._last_event = self._spawned_at = time.monotonic()
        self._ready = False
        self._busy = ""
        self.stuck = None
        self._ready_since_start = False
        self._plugin_seen = ("", 0.0)
        self._link.reset()
        self._set_state("starting" if self.restarts == 0 else "restarting")

    def revive(self) -> None:
        """Start again an engine the client gave up on after failed starts (a reload, a retry)."""
        if self._proc is None:
            self.start_failures = 0
            self._resend = True
            self.start()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    def shutdown(self, timeout: float = 5.0) -> None:
        """Ask the engine to exit; kill it if it does not within ``timeout``."""
        if self._proc is None:
            return
        if self._proc.is_alive():
            try:
                self._cmd.put(encode(m.Shutdown()))
            except (OSError, ValueError):
                pass
            self._proc.join(timeout)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join(2.0)
        self._close_queues()
        self._proc = None
        self.state = "stopped"

    def kill(self) -> None:
        """Kill the engine now (SIGKILL); poll() then reports it and restarts it."""
        if self._proc is not None and self._proc.is_alive():
            os.kill(self._proc.pid, signal.SIGKILL)

    def _close_queues(self) -> None:
        for q in (self._cmd, self._evt, self._tap):
            if q is not None:
                q.close()
                q.cancel_join_thread()  # never block the GUI on a dead reader

    # -- commands ----------------------------------------------------------------------------
    def send(self, msg: Any) -> None:
        """Queue a command for the engine (never blocks)."""
        if isinstance(msg, m.Validate):
            self._last_validate = msg
            self._mark_busy("validate", msg.request_id)
        elif isinstance(msg, m.Train):
            self._mark_busy("train", msg.request_id)
        elif isinstance(msg, m.Stop) and self._busy == "train" and self.stuck is not None and self.alive:
            # the stuck step will not return to read a Stop: end the engine (it restarts)
            reason = f"training stopped: {stuck_text(self.stuck)}; the engine was restarted"
            self._proc.kill()
            self._proc.join(2.0)
            self._died("hung", reason, self._proc.exitcode, None)
            return
        if self._proc is None:
            return
        self._cmd.put(encode(msg))

    def request_id(self) -> int:
        rid = self._next_request
        self._next_request += 1
        return rid

    def validate(self, project: dict[str, Any], project_dir: str) -> int:
        """Send the project for validation; returns the request id its result will carry."""
        rid = self.request_id()
        msg, whole = self._link.request(project, project_dir, rid)
        self.send(msg)
        self._last_validate = whole
        return rid

    def _mark_busy(self, what: str, request_id: int) -> None:
        self._busy, self._busy_request = what, request_id
        self._last_event = self._busy_since = time.monotonic()
        self.stuck = None

    def activity(self) -> str:
        """What the engine is doing and for how long, for the status line ("" when nothing is
        under way): "starting engine… (12 s)", "validating… (3 s)"."""
        now = time.monotonic()
        if self._proc is not None and not self._ready:
            return f"starting engine… ({now - self._spawned_at:.0f} s)"
        if self._busy == "validate":
            return f"validating… ({now - self._busy_since:.0f} s)"
        if self._busy == "train" and self.stuck is not None:
            return stuck_text(self.stuck)
        return ""

    # -- events ------------------------------------------------------------------------------
    def poll(self, max_ms: float = 5.0) -> list[Any]:
        """Events that arrived, within a time budget: reliable events first, then the latest
        tap frame per tap. Also notices a dead or hung engine, reports it and restarts it."""
        out: list[Any] = self._pending
        self._pending = []
        if self._proc is None:
            return out
        deadline = time.perf_counter() + max_ms / 1000.0
        while time.perf_counter() < deadline:
            try:
                data = self._evt.get_nowait()
            except (queue.Empty, OSError, ValueError):
                break
            event = self._decode(data)
            if event is not None:  # (None: an answer the client resolves itself)
                out.append(event)
        taps: dict[tuple[str, str, str], Any] = {}
        while time.perf_counter() < deadline:
            try:
                data = self._tap.get_nowait()
            except (queue.Empty, OSError, ValueError):
                break
            frame = self._decode(data)
            if isinstance(frame, m.TapFrame):
                taps[(frame.block_id, frame.port, frame.direction)] = frame
            else:
                out.append(frame)
        out.extend(taps.values())
        if not self._check_plugin_import():
            self._check_liveness(out)
        out.extend(self._pending)
        self._pending = []
        return out

    def _decode(self, data: bytes) -> Any:
        """The event in ``data`` as the editor should see it; None when there is none to see."""
        now = time.monotonic()
        try:
            msg = decode(data)
        except ProtocolError as e:
            self._last_event = now
            return ClientError(f"undecodable event from the engine: {e}")
        if not isinstance(msg, m.TrainingStuck):  # the watchdog's reports are not the step's progress
            self._last_event = now
        if isinstance(msg, m.Ready):
            self.start_failures, self._ready_since_start = 0, True
        return self._track(msg)

    def _track(self, msg: Any) -> Any:
        if isinstance(msg, m.Ready):
            self.catalog = msg.catalog
            if not self._ready and self._busy:
                self._busy_since = time.monotonic()  # a request sent during start-up starts now
            self._ready = True
            self._set_state("ready")
            last = self._last_validate
            if self._resend and last is not None and last.request_id != self._poisoned_request:
                self.send(last)  # a restarted engine gets the current project again
            self._resend = False
        elif isinstance(msg, m.Progress):
            if msg.phase == "validate" or (msg.phase == "load data" and self._busy == "validate"):
                self._running_validate = msg.request_id
        elif isinstance(msg, m.ValidationResult):
            if msg.request_id == self._running_validate:
                self._running_validate = -1
            if self._busy == "validate" and msg.request_id == self._busy_request:
                self._busy = ""
            whole = self._link.answer(msg)
            last = self._last_validate
            if whole is None and last is not None and last.request_id == msg.request_id:
                self.send(replace(last, known=0))  # the engine lost the document: it goes whole
            return whole
        elif isinstance(msg, m.TrainingStuck):
            self.stuck = msg
        elif isinstance(msg, m.TrainingState):
            if msg.state in ("running", "paused"):
                self._busy = "train" if msg.state == "running" else ""
                self._set_state("training")
            else:
                self._busy = ""
                self._set_state("ready")
        elif isinstance(msg, m.Exit):
            self._busy = ""
        return msg

    def _set_state(self, state: str, **info: Any) -> None:
        if state != self.state or info:
            self.state = state
            self._pending.append(EngineStatus(state, **info))
