"""The engine process's lifetime: it ends the moment its editor dies (even by kill -9), and its
helper threads leave process signals to the main thread."""

from __future__ import annotations

import os
import signal
import threading
import time

PARENT_POLL_S = 0.5  # how often the parent watch also checks os.getppid()


def block_signals() -> None:
    """Keep process signals off the calling helper thread: they go to the main thread, where a
    plugin's import guard (SIGALRM) and the user's own signal masks expect them."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())


def watch_parent() -> None:
    """End this process (``os._exit``, no torch teardown) as soon as the editor that spawned it
    dies: kill -9 of the editor runs no cleanup, and an orphaned engine holds torch's memory."""
    import multiprocessing as mp
    from multiprocessing.connection import wait

    parent = mp.parent_process()
    ppid = os.getppid()
    sentinel = parent.sentinel if parent is not None else None

    def run() -> None:
        block_signals()
        while True:
            # the sentinel becomes ready when the parent exits; getppid() changes when we are
            # re-parented (the fallback where there is no sentinel)
            if sentinel is not None:
                if wait([sentinel], timeout=PARENT_POLL_S):
                    os._exit(0)
            else:
                time.sleep(PARENT_POLL_S)
            if os.getppid() != ppid:
                os._exit(0)

    threading.Thread(target=run, name="dpg-blocks-parent-watch", daemon=True).start()
