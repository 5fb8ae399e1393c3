"""Where the time to the first validated frame goes.

With ``DPG_BLOCKS_STARTUP_TRACE=FILE`` set, the editor and the engine (which inherits the
environment through ``spawn``) each append ``<pid> <phase> <wall-clock s>`` lines to FILE as they
pass their start-up phases; ``benchmarks/startup.py`` reads them back. Unset, a mark costs one
environment lookup.
"""

from __future__ import annotations

import os
import time

TRACE_ENV = "DPG_BLOCKS_STARTUP_TRACE"


def mark(phase: str) -> None:
    """Note that this process has just reached ``phase`` (only while tracing)."""
    path = os.environ.get(TRACE_ENV)
    if path:
        # one short append per phase: the two processes' lines cannot interleave mid-line
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()} {phase} {time.time():.6f}\n")


def read(path: str | os.PathLike[str]) -> dict[str, float]:
    """The first time each phase was reached, from a trace file."""
    seen: dict[str, float] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3:
                seen.setdefault(parts[1], float(parts[2]))
    return seen
