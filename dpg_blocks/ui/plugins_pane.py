"""The Plugins pane: the block packs the engine loaded, the ones that failed, and a reload button.

Loaded packs come from the catalog (each spec's ``pack``); failures from the engine's Ready
event (``PluginFailure.to_dict()``: pack, path, error, traceback), kept in
``EditorState.plugin_failures``. "Reload plugins" sends ``ReloadPlugins``; the engine answers
with a new Ready, which refreshes the catalog and this pane.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import dearpygui.dearpygui as dpg

from .state import EditorState
from .theme import GREY, RED

TRACEBACK_LINES = 14  # the traceback box's height in lines; longer ones scroll


class PluginsPane:
    """Loaded packs with their block counts, and failures in red with their tracebacks."""

    def __init__(self, state: EditorState, parent: int | str, on_reload: Callable[[], None]) -> None:
        self.state = state
        self.on_reload = on_reload
        with dpg.group(parent=parent):
            with dpg.group(horizontal=True):
                self.reload_button = dpg.add_button(label="Reload plugins", callback=lambda: self.on_reload())
                self.summary = dpg.add_text("", color=GREY)
            self.body = dpg.add_group()
        self.lines: list[str] = []  # what the pane shows, as text (tests read it)
        self.tracebacks: list[int | str] = []  # the traceback boxes, one per failure that has one
        state.subscribe(self._on_state)
        self.update()

    def _on_state(self, topic: str) -> None:
        if topic in ("catalog", "plugins"):
            self.update()

    def packs(self) -> dict[str, int]:
        """Block count by pack name, from the catalog."""
        counts = Counter(spec.pack or "(no pack)" for spec in self.state.catalog.unique_specs())
        return dict(sorted(counts.items()))

    def _text(self, text: str, **kw: Any) -> int | str:
        self.lines.append(text)
        return dpg.add_text(text, parent=self.body, **kw)

    def update(self) -> None:
        """Redraw from the catalog and the failures."""
        dpg.delete_item(self.body, children_only=True)
        self.lines, self.tracebacks = [], []
        failures = self.state.plugin_failures
        packs = self.packs()
        n_blocks = sum(packs.values())
        if not self.state.catalog and not failures:
            dpg.set_value(self.summary, "waiting for the engine to report its block packs…")
            return
        dpg.set_value(
            self.summary,
            f"{len(packs)} pack(s), {n_blocks} block(s)" + (f"; {len(failures)} failed" if failures else ""),
        )
        for i, f in enumerate(failures):
            pack, path = str(f.get("pack") or "?"), str(f.get("path") or "")
            self._text(f"FAILED  {pack}: {f.get('error') or 'unknown error'}", color=RED, wrap=0)
            if path:
                self._text(f"    {path}", color=GREY)
            tb = str(f.get("traceback") or "").rstrip()
            if tb:
                with dpg.tree_node(label=f"traceback##{i}", parent=self.body, default_open=False):
                    lines = tb.count("\n") + 1
                    self.tracebacks.append(dpg.add_input_text(
                        default_value=tb, multiline=True, readonly=True, width=-1,
                        height=min(TRACEBACK_LINES, lines + 1) * 17,
                    ))
        if failures:
            dpg.add_spacer(height=6, parent=self.body)
        for pack, n in packs.items():
            self._text(f"{pack}  —  {n} block{'s' if n != 1 else ''}")

    def text(self) -> str:
        """Everything the pane shows, one line per row (for tests and screenshots' reports)."""
        return "\n".join([str(dpg.get_value(self.summary)), *self.lines])
