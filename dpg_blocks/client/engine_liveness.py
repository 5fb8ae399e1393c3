"""Whether the engine lives: its death or hang noticed, named, counted, and the engine restarted.

:class:`EngineLiveness` is a mixin of :class:`~dpg_blocks.client.engine_client.EngineClient`.
``poll`` asks it after draining the queues: a dead process (exit code or signal), a start-up
past its deadline, a request silent past its deadline (pinged after 1 s of silence), a plugin
import hung past its limit. Each death is reported as an ``EngineStatus`` naming the block the
beacon says was running, counted against the Validate that was running (``_strike``), a plugin
that killed the engine while importing is quarantined, and the engine is restarted, unless it
failed to start too many times in a row. Kept apart from the client's spawning, sending and
event decoding, which do not depend on how a death is judged.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Any

from dpg_blocks import protocol as m
from dpg_blocks.core.user.plugin_quarantine import (
    PLUGIN_MARK,
    QuarantineStore,
    describe_death,
    import_limit_s,
)
from dpg_blocks.protocol import encode

MAX_START_FAILURES = 3  # engine deaths in a row before its first Ready: then it is not restarted
PLUGIN_HANG_GRACE_S = 5.0  # past the import limit: the engine's own guard could not interrupt it


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



class EngineLiveness:
    """EngineClient's checks on a live engine, and what it does when the engine died."""

    # What this mixin uses of the EngineClient it is part of.
    validate_deadline_s: float
    train_deadline_s: float
    start_deadline_s: float
    auto_restart: bool
    restarts: int
    start_failures: int
    _proc: Any
    _cmd: Any
    _beacon: Any
    _busy: str
    _busy_request: int
    _busy_since: float
    _last_event: float
    _last_ping: float
    _ping_seq: int
    _last_validate: m.Validate | None
    _poisoned_request: int
    _kills: dict[int, int]
    _running_validate: int
    _resend: bool
    _ready: bool
    _spawned_at: float
    _ready_since_start: bool
    _plugin_seen: tuple[str, float]
    start: Callable[[], None]
    _set_state: Callable[..., None]
    _close_queues: Callable[[], None]

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
