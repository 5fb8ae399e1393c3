"""Helpers for the editor tests: a Dear PyGui context without a viewport, the built-in
catalog without an engine, and driving widgets through their own callbacks."""

from __future__ import annotations

import contextlib
import inspect
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "assets" / "examples"
DIGITS_CSV = ROOT / "assets" / "data" / "digits.csv"

needs_xvfb = pytest.mark.skipif(
    shutil.which("xvfb-run") is None,
    reason="rendering tests need Xvfb (apt-get install xvfb xauth libgl1-mesa-dri); CI installs it",
)


def builtin_catalog() -> list[dict[str, Any]]:
    """The built-in pack's specs as the engine would send them (importing it needs no torch)."""
    from dpg_blocks.blocks.declare import spec_of
    from dpg_blocks.builtin import BLOCKS, PACK_NAME
    from dpg_blocks.engine.packs.registry import builtin_version

    version = builtin_version()
    return [{**spec_of(cls).to_dict(), "pack": PACK_NAME, "pack_version": version} for cls in BLOCKS]


def click(item: int | str, app_data: Any = None) -> None:
    """Run an item's callback the way Dear PyGui would (sender, app_data, user_data)."""
    callback = dpg.get_item_callback(item)
    assert callback is not None, f"{dpg.get_item_label(item) or item} has no callback"
    args = (item, app_data, dpg.get_item_user_data(item))
    # Dear PyGui passes only as many arguments as the callback takes.
    params = inspect.signature(callback).parameters.values()
    n = len([p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)])
    callback(*args[:n])


def enter(item: int | str, value: Any) -> None:
    """Type ``value`` into an input (and press Enter): set it, then run its callback (a typed
    field's commit: what Enter, Tab or a click elsewhere does)."""
    from dpg_blocks.ui import fields

    dpg.set_value(item, value)
    if fields.is_typed(item):
        fields.commit(int(item))
    else:
        click(item, value)


@contextlib.contextmanager
def gui_context() -> Iterator[None]:
    """A Dear PyGui context without a viewport: items and callbacks work, nothing renders."""
    dpg.create_context()
    dpg.configure_app(manual_callback_management=True)
    try:
        yield
    finally:
        dpg.destroy_context()


def wait_for(editor: Any, pred: Callable[[], bool], timeout: float = 60.0) -> None:
    """Pump the engine like the render loop does until ``pred()`` holds."""
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise AssertionError(
                f"timed out; engine {editor.state.engine_text!r}, status {editor.state.status!r}"
            )
        editor.pump(4.0)
        time.sleep(0.005)


@contextlib.contextmanager
def live_editor(**options: Any) -> Iterator[Any]:
    """The whole editor (no viewport) with a real engine process, shut down afterwards."""
    from dpg_blocks.ui.editor.app import Editor
    from dpg_blocks.ui.state.editor_state import EditorState

    with gui_context():
        ed = Editor(EditorState(), **options)
        ed.start_engine(threads=1)
        try:
            yield ed
        finally:
            ed.close()
