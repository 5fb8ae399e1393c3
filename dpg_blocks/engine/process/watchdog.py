"""The engine's watchdog: names the block a stuck training step is running, and keeps a slow
but working data load from looking like a hang.

Training costs it nothing per step: the engine loop only notes when each training slice starts.
A thread wakes a few times a second; when a slice has run past ``stuck_after_s`` it reads the
main thread's Python stack (``sys._current_frames``), finds the frame of the generated forward
(compiled under ``<dpg-blocks order K>``) and, through the compiler's line -> block map, the
block whose call is running. It writes that block to the crash beacon (so the client names it
even when it has to kill the engine) and sends :class:`TrainingStuck` once a second.

While validation loads an Input's data (one long call: ``np.loadtxt`` on a big CSV) no block
progress is sent; the watchdog sends ``Progress(phase="load data")`` once a second as long as
the main thread is using CPU time (a read blocked forever uses none, so it still ends in "hung")
and for at most ``MAX_LOAD_S``.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from dpg_blocks import protocol as m

from ..compiling.records import PATH_SEP

CHECK_INTERVAL_S = 0.25
REPORT_INTERVAL_S = 1.0
MAX_LOAD_S = 600.0  # a load working longer than this is treated as a hang all the same


def running_block(frame: FrameType | None, block_lines: dict[str, dict[int, str]]) -> tuple[str, str]:
    """(block id, where) for a stack whose innermost frame is ``frame``.

    The block id is that of the generated forward's line being run ("" when no generated forward
    is on the stack); ``where`` names the innermost frame (function, file, line).
    """
    where = ""
    if frame is not None:
        code = frame.f_code
        where = f"{code.co_name} ({code.co_filename}:{frame.f_lineno})"
    f = frame
    while f is not None:
        lines = block_lines.get(f.f_code.co_filename)
        if lines is not None:
            return lines.get(f.f_lineno, ""), where
        f = f.f_back
    return "", where


def _main_cpu_clock() -> Callable[[], float]:
    """The main thread's CPU time (process CPU time where a per-thread clock is not available)."""
    try:
        clock = time.pthread_getcpuclockid(threading.main_thread().ident)  # type: ignore[arg-type]
        time.clock_gettime(clock)
    except (AttributeError, OSError):
        return time.process_time
    return lambda: time.clock_gettime(clock)


class Watchdog:
    """A daemon thread watching the engine loop's training slices and data loads."""

    def __init__(
        self,
        slice_info: Callable[[], tuple[float, Any] | None],
        emit: Callable[[Any], None],
        mark: Callable[[str, str], None],
        stuck_after_s: float,
        load_info: Callable[[], tuple[float, int, str, str] | None] = lambda: None,
    ) -> None:
        # slice_info(): (monotonic start, session) of the training slice running now, or None;
        # load_info(): (monotonic start, request id, block id, path) of the data load, or None
        self.slice_info, self.emit, self.mark = slice_info, emit, mark
        self.load_info = load_info
        self.stuck_after_s = stuck_after_s
        self.main_ident = threading.main_thread().ident
        self.cpu = _main_cpu_clock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dpg-blocks-watchdog", daemon=True)
        self._load: tuple[float, float, float] | None = None  # (load start, last beat, cpu then)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        from .lifetime import block_signals

        block_signals()
        reported: tuple[float, float] | None = None  # (slice start, last report time)
        while not self._stop.wait(CHECK_INTERVAL_S):
            self.beat_load()
            info = self.slice_info()
            if info is None:
                reported = None
                continue
            started, session = info
            now = time.monotonic()
            if now - started < self.stuck_after_s:
                continue
            if reported is not None and reported[0] == started and now - reported[1] < REPORT_INTERVAL_S:
                continue
            reported = (started, now)
            try:
                self.check(session, now - started)
            except Exception:  # noqa: BLE001 — a watchdog that dies would leave the hang unnamed
                continue

    def beat_load(self) -> None:
        """Progress for a data load that is working (using CPU), once a second."""
        info = self.load_info()
        if info is None:
            self._load = None
            return
        started, request_id, block_id, path = info
        now, cpu = time.monotonic(), self.cpu()
        if self._load is None or self._load[0] != started:
            self._load = (started, now, cpu)
            return
        _, last, cpu_then = self._load
        if now - last < REPORT_INTERVAL_S:
            return
        self._load = (started, now, cpu)
        if cpu - cpu_then > 0.05 * (now - last) and now - started < MAX_LOAD_S:
            self.emit(m.Progress(request_id=request_id, phase="load data", done=int(now - started), total=None,
                                 block_id=block_id, detail=path))

    def check(self, session: Any, seconds: float) -> None:
        """Find the running block of the stuck step and report it."""
        frame = sys._current_frames().get(self.main_ident)
        model = session.trainer.model
        block_id, where = running_block(frame, getattr(model, "block_lines", {}))
        del frame  # a frame reference would keep the main thread's locals alive
        nodes = session.trainer.compiled.flat.nodes
        path = list(nodes[block_id].path) if block_id in nodes else []
        if block_id:
            self.mark(block_id, PATH_SEP.join(path))
        self.emit(m.TrainingStuck(request_id=session.request_id, block_id=block_id, path=path,
                                  seconds=round(seconds, 1), where=where))
