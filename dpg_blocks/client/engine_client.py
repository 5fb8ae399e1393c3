"""The GUI's handle on the engine process: spawn, send, poll, detect death and hangs, restart.

Importable without torch (DESIGN.md §1). Three ``spawn``-context queues carry msgpack bytes:
commands to the engine; reliable events back (metrics, results, errors — never dropped); and a
small bounded queue for tap frames, which the engine coalesces (latest wins) when the reader is
slow, so taps can never delay or crowd out the reliable events.
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
from dpg_blocks.core.user.plugin_quarantine import (
    PLUGIN_MARK,
    QuarantineStore,
    describe_death,
    import_limit_s,
)
from dpg_blocks.protocol import ProtocolError, decode, encode

from . import _entry
from .validation_link import ValidationLink

TAP_QUEUE_SIZE = 8
BEACON_BYTES = 512
MAX_START_FAILURES = 3  # engine deaths in a row before its first Ready: then it is not restarted
PLUGIN_HANG_GRACE_S = 5.0  # past the import limit: the engine's own guard could not interrupt it


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


def describe_exit(exitcode: int | None) -> tuple[str, int | None]:
    """A human reason for a dead process, and the signal number if a signal killed it."""
    if exitcode is None:
        return "engine stopped", None
    if exitcode < 0:
        sig = -exitcode
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return f"engine crashed (signal {sig}, {name})", sig
    return f"engine exited with code {exitcode}", None


class EngineClient:
    """Runs the engine in a child process and talks to it without ever blocking the caller."""

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

    def _check_liveness(self, out: list[Any]) -> None:
        now = time.monotonic()
        if not self._proc.is_alive():
            self._proc.join(0.1)
            reason, sig = describe_exit(self._proc.exitcode)
            self._died("crashed", reason, self._proc.exitcode, sig)
            return
        if not self._ready:
            # no request's deadline runs before Ready; start-up itself gets a generous one
            waited = now - self._spawned_at
            if waited > self.start_deadline_s:
                self._proc.kill()
                self._proc.join(2.0)
                self._died("hung", f"engine hung: not started after {waited:.0f} s", self._proc.exitcode, None)
            return
        if not self._busy:
            return
        deadline = self.validate_deadline_s if self._busy == "validate" else self.train_deadline_s
        quiet = now - max(self._last_event, self._busy_since)
        if quiet > deadline:
            block_id, path = self._beacon_block()
            block = path or block_id
            what = "validating" if self._busy == "validate" else "training"
            reason = f"engine hung: no answer for {quiet:.0f} s while {what}" + (f" block {block}" if block else "")
            self._proc.kill()
            self._proc.join(2.0)
            self._died("hung", reason, self._proc.exitcode, None)
        elif quiet > 1.0 and now - self._last_ping > 1.0:
            self._last_ping = now
            self._ping_seq += 1
            try:
                self._cmd.put(encode(m.Ping(seq=self._ping_seq)))
            except (OSError, ValueError):
                pass

    def _beacon_block(self) -> tuple[str, str]:
        raw = bytes(self._beacon.raw).split(b"\0", 1)[0].decode("utf-8", "replace")
        block_id, _, path = raw.partition("\t")
        return block_id, path

    def _strike(self, reason: str) -> str:
        """Count a death against the Validate the engine was running; the current project is
        re-sent once after a restart (the kill may have been the machine's fault), and not after
        it has killed the engine twice (it would again). Returns ``reason``, extended."""
        running = self._running_validate if self._running_validate > 0 else self._busy_request
        self._running_validate = -1
        self._kills[running] = self._kills.get(running, 0) + 1
        if self._kills[running] >= 2 and self._last_validate is not None and self._last_validate.request_id == running:
            self._poisoned_request = running
            return reason + "; it killed the engine twice, so it is not sent again until the next edit"
        return reason

    def _check_plugin_import(self) -> bool:
        """Kill an engine stuck importing one plugin past the import limit (a hang its own
        guard could not interrupt, e.g. in C code); True when it did."""
        limit = import_limit_s()
        raw = bytes(self._beacon.raw).split(b"\0", 1)[0].decode("utf-8", "replace") if self._beacon else ""
        if not raw.startswith(PLUGIN_MARK) or limit <= 0:
            self._plugin_seen = ("", 0.0)
            return False
        now = time.monotonic()
        if raw != self._plugin_seen[0]:
            self._plugin_seen = (raw, now)
            return False
        stuck = now - self._plugin_seen[1]
        if stuck <= limit + PLUGIN_HANG_GRACE_S:
            return False
        self._proc.kill()
        self._proc.join(2.0)
        self._died("hung", f"engine hung: importing a plugin for {stuck:.0f} s", self._proc.exitcode, None,
                   plugin_hung=True)
        return True

    def _quarantine_plugin(self, state: str, exitcode: int | None, plugin_hung: bool) -> str:
        """If the engine died importing a plugin, quarantine it; the text naming it, or ""."""
        block_id, key = self._beacon_block()
        if not block_id.startswith(PLUGIN_MARK) or not key:
            return ""
        pack = block_id.removeprefix(PLUGIN_MARK)
        if state == "hung" and not plugin_hung:  # killed by another deadline: not proof enough
            return f" while importing plugin {pack} ({key})"
        why = describe_death(None if state == "hung" else exitcode)
        try:
            QuarantineStore().add(key, pack, key.removeprefix("entry-point:"), why)
        except Exception:  # noqa: BLE001 - a broken user folder must not stop the client
            return f" while importing plugin {pack} ({key})"
        return f" while importing plugin {pack} ({key}); it is quarantined"

    def _died(self, state: str, reason: str, exitcode: int | None, sig: int | None, plugin_hung: bool = False) -> None:
        plugin = self._quarantine_plugin(state, exitcode, plugin_hung)
        reason += plugin
        block_id, block_path = self._beacon_block() if self._busy or plugin else ("", "")
        if self._busy == "validate" and not plugin:
            reason = self._strike(reason)
            if block_path:
                reason += f" (while validating {block_path})"
        if not self._ready_since_start:
            self.start_failures += 1
        self._set_state(state, reason=reason, exitcode=exitcode, signal=sig, block_id=block_id, block_path=block_path)
        self._close_queues()
        self._proc = None
        self._busy = ""
        if self.auto_restart and self.start_failures >= MAX_START_FAILURES:
            self._set_state("stopped", reason=f"the engine failed to start {self.start_failures} times in a row; "
                            f"not restarting it (last: {reason})", block_id=block_id, block_path=block_path)
        elif self.auto_restart:
            self._resend = True
            self.restarts += 1
            self.start()
