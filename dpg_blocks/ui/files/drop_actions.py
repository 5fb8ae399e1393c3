"""What the editor does with a path dropped on its window, by kind (``ui/files/dropped_files.py``).

* a plugin (package folder or ``.py`` with ``@block``) → "Install plugin 'NAME' into your
  plugin folder?" listing its files and block ids; Install copies it into the user plugin
  folder and the plugin watcher loads it live (``ui/panes/plugin_watch.py``);
* a ``.py`` with nn.Module classes → the import dialog, on that file and its last class;
* a ``.dpgb`` → opened through the unsaved-changes guard, as File › Open does;
* a ``.dpgblock`` → inserted at the drop point, as the Blocks menu's Custom "+" does;
* a CSV, NPZ or image-class folder → dropped on an Input, it becomes that Input's data; on
  empty canvas a new Input with it (the Add Data… dialog reads it and shows any error);
* anything else → the status line says which kinds are accepted.

The GLFW hook (``ui/files/drop.py``) only queues; :meth:`DropActions.handle` runs in the editor's
frame, where Dear PyGui may be called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dearpygui.dearpygui as dpg

from dpg_blocks.core.user.folder import plugins_dir
from dpg_blocks.ui.files.data_dialog import INPUT_TYPE
from dpg_blocks.ui.files.dropped_files import (
    ACCEPTED,
    DATASET,
    IMPORT,
    LIBRARY_BLOCK,
    PLUGIN,
    PROJECT,
    Dropped,
    PluginContents,
    classify,
    plugin_contents,
)

PROMPT_W = 560


class DropActions:
    """Dispatches dropped paths to the editor's parts; owns the install prompt."""

    def __init__(self, editor: Any) -> None:
        self.editor = editor
        self.state = editor.state
        self.asking: Dropped | None = None  # the plugin the install prompt asks about
        self.queued: list[Dropped] = []  # further plugins of the same drop, asked in turn
        with dpg.window(label="Install plugin", modal=True, show=False, no_collapse=True, width=PROMPT_W,
                        autosize=True, no_saved_settings=True) as self.window:
            self.question = dpg.add_text("", wrap=PROMPT_W - 30)
            dpg.add_text("A plugin is Python code: it runs in the engine once installed. Install "
                         "only code you trust.", wrap=PROMPT_W - 30, color=(230, 200, 120))
            self.contents = dpg.add_text("", wrap=PROMPT_W - 30, color=(170, 170, 180))
            with dpg.group(horizontal=True):
                self.install_button = dpg.add_button(label="Install", width=110,
                                                     callback=lambda: self.answer(True))
                self.cancel_button = dpg.add_button(label="Cancel", width=110,
                                                    callback=lambda: self.answer(False))

    # -- dispatch --------------------------------------------------------------------------
    def handle(self, paths: tuple[str, ...] | list[str], pos: tuple[float, float]) -> None:
        """Act on ``paths`` dropped together at viewport pixel ``pos``."""
        if self.editor.controls.prompting:  # its pending action would be replaced by the drop's
            self.state.say("answer the open prompt first; the dropped files were not opened")
            return
        actions: dict[str, Callable[[Dropped, tuple[float, float]], None]] = {
            PLUGIN: self._plugin, PROJECT: self._project, LIBRARY_BLOCK: self._library_block,
            IMPORT: self._import, DATASET: self._dataset,
        }
        for raw in paths:
            dropped = classify(raw)
            action = actions.get(dropped.kind)
            if action is None:
                self.state.say(f"not opened: {dropped.why}; accepted: {ACCEPTED}")
            else:
                action(dropped, pos)

    def _doc_pos(self, pos: tuple[float, float]) -> tuple[float, float] | None:
        return self.editor.canvas.doc_pos_at(*pos)

    def _project(self, dropped: Dropped, pos: tuple[float, float]) -> None:
        self.editor.controls.open_recent(str(dropped.path))  # File › Open's guarded open

    def _library_block(self, dropped: Dropped, pos: tuple[float, float]) -> None:
        bid = self.state.insert_from_library(str(dropped.path), pos=self._doc_pos(pos))
        if bid is not None:
            self.state.say(f"inserted {self.state.block(bid).name} from {dropped.path.name}")

    def _import(self, dropped: Dropped, pos: tuple[float, float]) -> None:
        self.editor.importer.offer(str(dropped.path), dropped.classes[-1])  # the model is usually last
        self.state.say(f"{dropped.path.name}: nn.Module classes {', '.join(dropped.classes)}; "
                       "give the input shape and press Import")

    def _dataset(self, dropped: Dropped, pos: tuple[float, float]) -> None:
        target = self.editor.canvas.block_at(*pos)
        if target is not None:
            b = self.state.block(target)
            if b is None or b.type != INPUT_TYPE:
                self.state.say(f"data goes on an Input block: drop {dropped.path.name} on an Input, "
                               f"or on empty canvas for a new one ({b.name if b else target} is not an Input)")
                return
        else:
            target = self.state.add_block(INPUT_TYPE, self._doc_pos(pos))  # says why when it cannot
            if target is None:
                return
        data = self.editor.data
        if data.show(target):
            data.load(str(dropped.path))  # errors show in the Add Data dialog, as when typed

    # -- installing a plugin -------------------------------------------------------------------
    def _plugin(self, dropped: Dropped, pos: tuple[float, float]) -> None:
        if self.asking is not None:
            self.queued.append(dropped)
            return
        self.asking = dropped
        info = plugin_contents(dropped.path)
        dpg.set_value(self.question, f"Install plugin '{info.name}' into your plugin folder?\n({plugins_dir()})")
        dpg.set_value(self.contents, contents_text(info))
        self.editor.controls._show(self.window, PROMPT_W)

    def answer(self, install: bool) -> None:
        """The prompt's Install (copy it in; the watcher loads it) or Cancel."""
        dropped, self.asking = self.asking, None
        self.editor.controls._hide(self.window)
        if dropped is not None:
            if install:
                self.editor.plugins.add_folder(dropped.path)  # says what happened, in red if not
            else:
                self.state.say(f"not installed: {dropped.path.name}")
        if self.queued:
            self._plugin(self.queued.pop(0), (0.0, 0.0))

    @property
    def prompting(self) -> bool:
        """Whether the install prompt waits for an answer."""
        return bool(dpg.is_item_shown(self.window))

    def boxes(self) -> dict[str, Any]:
        """The prompt's text and buttons as drawn (for real-input tests)."""
        def rect(item: int | str) -> list[int]:
            st = dpg.get_item_state(item)
            (x, y), (w, h) = st.get("rect_min", (0, 0)), st.get("rect_size", (0, 0))
            return [int(x), int(y), int(w), int(h)]

        return {"shown": self.prompting, "question": str(dpg.get_value(self.question)),
                "contents": str(dpg.get_value(self.contents)),
                "install": rect(self.install_button), "cancel": rect(self.cancel_button)}


def contents_text(info: PluginContents) -> str:
    """The install prompt's list: the block ids it declares, then its files."""
    ids = ", ".join(info.block_ids) if info.block_ids else "none found without running it"
    files = "\n".join(f"  {f}" for f in info.files)
    more = f"\n  … and {info.more_files} more" if info.more_files else ""
    return f"Blocks: {ids}\nFiles ({len(info.files) + info.more_files}):\n{files}{more}"

