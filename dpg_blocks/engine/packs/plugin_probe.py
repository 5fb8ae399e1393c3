"""Try plugins in a short child process, so a plugin that segfaults, exits or hangs at import
takes down the child, not the command line that asked.

The parent (:func:`probe`) runs ``python -m dpg_blocks.engine.packs.plugin_probe`` with the plugin
keys on stdin. The child imports each of them under the usual guard and prints a ``start`` and
a ``done`` line per plugin, then ``end`` (marked, so a plugin's own prints are ignored). When the child dies
or stops answering while a plugin's ``start`` has no ``done``, the parent quarantines that
plugin and starts a new child for the rest. A plugin that merely raises is fine here: it is
recorded as a failure when the parent loads it.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from dpg_blocks.core.user.plugin_quarantine import (
    QuarantineStore,
    describe_death,
    fingerprint,
    import_limit_s,
)

MARK = "\x1edpg-probe\t"  # starts every protocol line; anything else on stdout is a plugin's print
START_GRACE_S = 60.0  # the child's own start (Python and dpg_blocks, no torch) on a busy machine
HANG_GRACE_S = 5.0  # past the import limit: the in-process guard failed, the import is stuck in C


def probe(cands: list[Any], plugin_dirs: list[Any], defaults: bool, store: QuarantineStore) -> None:
    """Quarantine each of ``cands`` that kills or hangs a child process importing it."""
    remaining = [c.key for c in cands]
    by_key = {c.key: c for c in cands}
    limit = import_limit_s()
    while remaining:
        done, culprit, reason = _run_child(remaining, plugin_dirs, defaults, limit)
        if culprit is None and not done:
            return  # the child could not even start: nothing is blamed, the guard still applies
        if culprit is not None:
            c = by_key[culprit]
            store.add(c.key, c.pack, c.path, reason)
        remaining = [k for k in remaining if k not in done and k != culprit]


def _run_child(keys: list[str], plugin_dirs: list[Any], defaults: bool,
               limit: float) -> tuple[set[str], str | None, str]:
    """(keys imported to the end, the key being imported when the child died or hung, why)."""
    root = str(Path(__file__).resolve().parents[3])  # the child imports this same dpg_blocks
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p))
    request = json.dumps({"keys": keys, "plugin_dirs": [str(d) for d in plugin_dirs], "defaults": defaults})
    proc = subprocess.Popen(
        [sys.executable, "-m", "dpg_blocks.engine.packs.plugin_probe"], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(request.encode())
        proc.stdin.close()
    except OSError:
        pass  # it died already; its exit status says so below
    done: set[str] = set()
    current: str | None = None
    deadline = time.monotonic() + START_GRACE_S
    buffer = b""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        while True:
            wait = deadline - time.monotonic() if current is None or limit > 0 else None
            if wait is not None and wait <= 0:
                proc.kill()
                proc.wait()
                seconds = limit + HANG_GRACE_S if current is not None else START_GRACE_S
                return done, current, f"hung at import (no answer for {seconds:g} s)"
            if not sel.select(wait):
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                line = raw.decode("utf-8", "replace")
                if not line.startswith(MARK):
                    continue
                what, _, key = line.removeprefix(MARK).partition("\t")
                if what == "start":
                    current = key
                    deadline = time.monotonic() + limit + HANG_GRACE_S
                elif what == "done":
                    done.add(key)
                    current = None
                    deadline = time.monotonic() + START_GRACE_S
                elif what == "end":  # a process a plugin started may hold our pipe open: no EOF
                    proc.kill()
                    proc.wait()
                    return done, None, ""
        code = proc.wait()
    finally:
        sel.close()
        proc.stdout.close()
    if current is None:
        return done, None, ""
    return done, current, describe_death(code)


def _child() -> None:
    """The child: import the requested plugins one by one, saying which one it is on."""
    from .registry import PluginDiscovery, Registry, candidates

    request = json.loads(sys.stdin.read())
    keys = set(request["keys"])
    out = os.fdopen(os.dup(1), "w", buffering=1)  # our own handle: a plugin may close sys.stdout

    def say(what: str, key: str) -> None:
        out.write(f"{MARK}{what}\t{key}\n")
        out.flush()

    store = QuarantineStore()
    finder = PluginDiscovery(Registry(), store)
    for cand in candidates(request["plugin_dirs"], request["defaults"]):
        if cand.key not in keys or store.current(cand.key, fingerprint(cand.key)) is not None:
            continue
        say("start", cand.key)
        finder.load(cand)  # guarded: exits, KeyboardInterrupt and timeouts are quarantined here
        say("done", cand.key)
    say("end", "")
    os._exit(0)  # whatever a plugin left behind (threads, atexit hooks) cannot hang or change this


if __name__ == "__main__":
    _child()
