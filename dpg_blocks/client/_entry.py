"""The engine process's entry point, importable without torch.

``spawn`` pickles the process target by reference; pointing it here keeps the GUI process
free of torch, and the child imports the engine (and torch) only once it runs.
"""

from __future__ import annotations

from typing import Any


def main(*args: Any) -> None:
    from dpg_blocks.core.startup_trace import mark

    mark("engine_spawned")  # the child's interpreter is up and has unpickled its target
    from dpg_blocks.engine.process.server import engine_main

    engine_main(*args)
