"""A training run on N processes: ``torchrun … -m dpg_blocks train`` as a child of the editor.

Torch-free and without Dear PyGui (``process_controls.py`` is its widgets), so it is unit-tested
alone. The editor never talks to the ranks: it reads what rank 0 writes, as a user on a cluster
node would — the run folder it names on stderr (``run folder: PATH``) and that folder's
``metrics.jsonl``, one JSON object per finished epoch (``core/runs/folders.py``).

Stopping is the subtle part. torchrun starts every rank in a session of its own, so a signal to
torchrun's process group never reaches them; and a rank whose torchrun died is re-parented, so
it is no longer found under torchrun. :class:`ProcessRun` therefore notes torchrun's descendants
(from ``/proc/<pid>/task/*/children``) as they appear, and :meth:`ProcessRun.stop` sends SIGTERM
to torchrun and to every process it ever saw, then SIGKILL to those still alive after a grace
period. A process is known by (pid, start time), so a pid the system has reused is never signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MIN_PROCESSES = 2
MAX_PROCESSES = 64
GRACE_S = 5.0  # SIGTERM, then this long before SIGKILL
SCAN_S = 0.5  # how often the group's processes are looked up while it runs
RUN_FOLDER = "run folder: "  # the line `dpg-blocks train` prints on stderr once its run folder exists
TAIL_LINES = 60  # stderr lines kept (torchrun's report of a failure alone is ~40)
_TORCHRUN_FAILED = re.compile(r"^E\d{4} .*(failed|ChildFailedError)")  # torchrun's report begins
_TORCHRUN_LOG = re.compile(r"^[IWEF]\d{4} \d\d:\d\d")  # torch's own log lines (glog style)
_SAYS_WHY = re.compile(r"cannot |training stopped|error|Error|^rank \d+:")


def _torchrun_noise(line: str) -> bool:
    """torchrun's banner about OMP_NUM_THREADS and its log lines: never why a run failed."""
    return line.startswith("*****") or line.startswith("Setting OMP_NUM_THREADS") or bool(_TORCHRUN_LOG.match(line))


def torchrun_command(project: str | Path, processes: int, epochs: int | None = None, weights: str = "",
                     python: str | None = None) -> list[str]:
    """The argv that trains ``project`` on ``processes`` ranks, as the editor's Train would.

    The project's own settings (seed, device, batch sizes, orders) are in the saved file; the
    editor's Train adds only the epochs and a starting checkpoint (the Runs tab's Load weights),
    which become ``--epochs`` and ``--weights``.
    """
    if isinstance(processes, bool) or not isinstance(processes, int) or \
            not MIN_PROCESSES <= processes <= MAX_PROCESSES:
        raise ValueError(f"the number of processes must be a whole number from {MIN_PROCESSES} to "
                         f"{MAX_PROCESSES}, got {processes!r}")
    argv = [python or sys.executable, "-m", "torch.distributed.run", "--standalone",
            "--nproc-per-node", str(processes), "-m", "dpg_blocks", "train", str(Path(project).resolve())]
    if epochs is not None:
        argv += ["--epochs", str(int(epochs))]
    if weights:
        argv += ["--weights", str(weights)]
    return argv


def command_text(argv: list[str]) -> str:
    """The command as a shell line (what the editor shows and copies)."""
    return shlex.join(argv)


# -- processes, from /proc ------------------------------------------------------------------
def _start_time(pid: int) -> int | None:
    """The process's start time (clock ticks after boot), which tells it from a reused pid."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # the name, in parentheses, may hold spaces
    if fields[0] in ("Z", "X"):
        return None  # a zombie has ended; only its parent's wait remains
    return int(fields[19])


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (every thread's children: /proc lists them per task)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        with contextlib.suppress(OSError, ValueError):
            found += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    return found


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children, …)."""
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in children(todo.pop()):
            if child not in out:
                out.append(child)
                todo.append(child)
    return out


def alive(proc: tuple[int, int]) -> bool:
    """Whether the process (pid, start time) still runs (a zombie does not)."""
    return _start_time(proc[0]) == proc[1]


@dataclass
class Outcome:
    """How a group ended: its exit code, and for a failure the lines that say why."""

    code: int
    stopped: bool  # the user stopped it
    error_lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """``exit code 1: <the rank's error>``; a signal is named (``killed by SIGTERM``)."""
        if self.code < 0:
            with contextlib.suppress(ValueError):
                return f"killed by {signal.Signals(-self.code).name}"
        head = f"exit code {self.code}"
        return f"{head}: " + "\n".join(self.error_lines) if self.error_lines else head


class ProcessRun:
    """One ``torchrun`` group started by the editor: its output, its metrics, Stop."""

    def __init__(self, argv: list[str], processes: int, epochs: int, cwd: str | Path | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.argv = list(argv)
        self.processes = processes
        self.epochs = epochs
        self.cwd = str(cwd) if cwd is not None else None
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.seen: dict[int, int] = {}  # pid -> start time: every process of the group seen so far
        self.run_folder: Path | None = None
        self.rows: list[dict[str, Any]] = []  # the epochs' metrics read so far
        self.outcome: Outcome | None = None
        self.stop_requested = False
        self._kill_at: float | None = None
        self._scanned = 0.0
        self._logs = tempfile.TemporaryDirectory(prefix="dpg-blocks-run-")
        self._stderr_path = Path(self._logs.name) / "stderr.txt"
        self._stdout_path = Path(self._logs.name) / "stdout.txt"
        self._stderr_at = 0
        self._partial = b""  # a stderr line not finished yet
        self._tail: deque[str] = deque(maxlen=TAIL_LINES)
        self._own: deque[str] = deque(maxlen=TAIL_LINES)  # the ranks' lines before torchrun's report
        self._in_report = False
        self.lines_read = 0
        self._metrics_at = 0  # bytes of metrics.jsonl consumed (whole lines only)

    # -- starting --------------------------------------------------------------------------
    def start(self) -> None:
        """Start torchrun in a session of its own, its output going to files this run reads."""
        env = dict(os.environ if self.env is None else self.env)
        # The editor may run from a source checkout that is not installed: the ranks must
        # import this dpg_blocks, not fail with "No module named dpg_blocks".
        # (An installed one is found anyway: site-packages ahead of the standard library would
        # be wrong, so it is left out.)
        here = Path(__file__).resolve().parents[3]
        if here.name not in ("site-packages", "dist-packages"):
            env["PYTHONPATH"] = os.pathsep.join([str(here), *[p for p in env.get("PYTHONPATH", "").split(os.pathsep)
                                                              if p]])
        with open(self._stdout_path, "wb") as out, open(self._stderr_path, "wb") as err:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=self.cwd,
                                         env=env, start_new_session=True)
        self._note(self.proc.pid)

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc is not None else 0

    @property
    def running(self) -> bool:
        """Whether the group has not ended yet (torchrun, or a rank it left behind)."""
        return self.proc is not None and self.outcome is None

    def _note(self, pid: int) -> None:
        start = _start_time(pid)
        if start is not None:
            self.seen.setdefault(pid, start)

    def scan(self) -> None:
        """Note the group's processes now (the ranks appear a moment after torchrun). Below every
        process still alive, not only torchrun: a rank whose torchrun died has a new parent."""
        if self.proc is None:
            return
        for pid, start in list(self.seen.items()):
            if alive((pid, start)):
                for child in descendants(pid):
                    self._note(child)

    def living(self) -> list[int]:
        """The group's processes still alive (torchrun included while it runs)."""
        return [pid for pid, start in self.seen.items() if alive((pid, start))]

    # -- following -------------------------------------------------------------------------
    def poll(self) -> list[dict[str, Any]]:
        """Per frame: new stderr lines, new epochs (returned), the end of the group. Cheap: a
        few small file reads; the process table is read at most every ``SCAN_S``."""
        if self.proc is None or self.outcome is not None:
            return []
        now = time.monotonic()
        if now - self._scanned >= SCAN_S:
            self._scanned = now
            self.scan()
        self._read_stderr()
        new = self._read_metrics()
        code = self.proc.poll()
        if code is not None and self._kill_at is None and self.living():
            # torchrun ended but left a process behind (it ends its ranks itself when one fails):
            # the same end as Stop, without calling it stopped
            self._signal(signal.SIGTERM)
            self._kill_at = now + GRACE_S
        if self._kill_at is not None and now >= self._kill_at:
            self._signal(signal.SIGKILL)
            self._kill_at = None if code is not None and not self.living() else now + 0.2
        if code is not None and not self.living():
            self._read_stderr(final=True)
            new += self._read_metrics()
            # a stopped group's stderr holds torchrun's traceback of the signal: not a failure
            self.outcome = Outcome(code, self.stop_requested,
                                   [] if code == 0 or self.stop_requested else self.error_lines())
        return new

    def _read_stderr(self, final: bool = False) -> None:
        try:
            with open(self._stderr_path, "rb") as f:
                f.seek(self._stderr_at)
                data = f.read()
        except OSError:
            return
        self._stderr_at += len(data)
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = b"" if final else lines.pop()
        for raw in lines:
            line = raw.decode("utf-8", "replace").rstrip("\r")
            self._tail.append(line)
            self.lines_read += 1
            if _TORCHRUN_FAILED.match(line) or "ChildFailedError" in line:
                self._in_report = True  # torchrun's report of a failed rank (40-odd lines) begins
            elif line.strip() and not self._in_report and not _torchrun_noise(line):
                self._own.append(line)
            if line.startswith(RUN_FOLDER) and self.run_folder is None:
                self.run_folder = Path(line[len(RUN_FOLDER):].strip())

    def _read_metrics(self) -> list[dict[str, Any]]:
        if self.run_folder is None:
            return []
        try:
            with open(self.run_folder / "metrics.jsonl", "rb") as f:
                f.seek(self._metrics_at)
                data = f.read()
        except OSError:
            return []
        end = data.rfind(b"\n") + 1  # a line still being written waits for the next poll
        self._metrics_at += end
        new: list[dict[str, Any]] = []
        for line in data[:end].splitlines():
            with contextlib.suppress(ValueError):
                row = json.loads(line)
                if isinstance(row, dict):
                    new.append(row)
        self.rows += new
        return new

    @property
    def stderr_lines(self) -> list[str]:
        """The last stderr lines read (up to ``TAIL_LINES``)."""
        return list(self._tail)

    def error_lines(self, most: int = 6) -> list[str]:
        """What a failed run says about why: the ranks' own error lines, else their last lines.

        torchrun adds its banner and, after a rank fails, its own report (``E1203 … failed
        (exitcode: 1)``, a traceback of its agent, a ``ChildFailedError`` table). That is about
        torchrun, so the ranks' lines before it (``cannot train: …``, ``training stopped: …``,
        ``rank 1: …``, a rank's own traceback) come first."""
        own = list(self._own)
        said = [line for line in own if _SAYS_WHY.search(line)]
        return (said or own or [line for line in self._tail if line.strip()])[-most:]

    # -- stopping --------------------------------------------------------------------------
    def _signal(self, sig: int) -> None:
        for pid, start in list(self.seen.items()):
            if alive((pid, start)):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)

    def stop(self, grace: float = GRACE_S) -> None:
        """End the whole group: SIGTERM now to torchrun and every rank, SIGKILL after ``grace``
        (done by :meth:`poll`; :meth:`close` waits for it)."""
        if self.proc is None or self.outcome is not None or self.stop_requested:
            return  # a second Stop must not put the SIGKILL off
        self.stop_requested = True
        self.scan()
        self._signal(signal.SIGTERM)
        self._kill_at = time.monotonic() + grace

    def close(self, grace: float = GRACE_S) -> None:
        """End the group and wait until none of it is left (the editor quitting)."""
        if self.proc is not None and self.outcome is None:
            self.stop(grace)
            end = time.monotonic() + grace + 5.0
            while self.outcome is None and time.monotonic() < end:
                self.poll()
                time.sleep(0.02)
            if self.outcome is None:  # nothing ends it: be sure, then move on
                self._signal(signal.SIGKILL)
        self._logs.cleanup()
