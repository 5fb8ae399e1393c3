"""The Plugins pane: the block packs the engine loaded, the ones that failed, the watched plugin
folders, a reload button and "Add plugin folder…".

Loaded packs come from the catalog (each spec's ``pack`` and ``pack_version``); failures from the
engine's Ready event (``PluginFailure.to_dict()``: pack, path, error, traceback, and ``block`` /
``kind`` when one block was refused: a clashing id shows as REFUSED, a bad declaration as FAILED
with its block id, both in red), kept in
``EditorState.plugin_failures``. "Reload plugins" sends ``ReloadPlugins``; the engine answers
with a new Ready, which refreshes the catalog and this pane. "Add plugin folder…" copies a
chosen plugin package into the user plugin folder, where the editor's watcher
(``ui/panes/plugin_watch.py``) notices it and has the engine load it. A quarantined plugin (one that
exited, crashed or hung the engine at import: ``quarantined`` in its failure) is shown in red
with an "Enable and retry" button, which lifts the quarantine and reloads the plugins.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg

from dpg_blocks.core.user.folder import plugins_dir
from dpg_blocks.core.user.plugin_folders import PluginFolderError, add_plugin_folder, default_plugin_dirs
from dpg_blocks.core.user.plugin_quarantine import QuarantineStore
from dpg_blocks.ui.state.editor_state import EditorState
from dpg_blocks.ui.theme import GREY, RED

TRACEBACK_LINES = 14  # the traceback box's height in lines; longer ones scroll


class PluginsPane:
    """Loaded packs with their block counts, failures in red with their tracebacks, and the
    watched folders (``folders()``: the engine's plugin folders, the user's one among them)."""

    def __init__(
        self,
        state: EditorState,
        parent: int | str,
        on_reload: Callable[[], None],
        folders: Callable[[], list[Path]] = default_plugin_dirs,
    ) -> None:
        self.state = state
        self.on_reload = on_reload
        self.folders = folders
        self.add_dialog: int | str | None = None  # created on first use: most sessions add none
        with dpg.group(parent=parent):
            with dpg.group(horizontal=True):
                self.reload_button = dpg.add_button(label="Reload plugins", callback=lambda: self.on_reload())
                self.add_button = dpg.add_button(label="Add plugin folder…", callback=lambda: self.add_folder_dialog())
                self.summary = dpg.add_text("", color=GREY)
            # Two columns, so that packs, failures and the folders to drop plugins into all fit
            # in the short bottom pane.
            with dpg.table(header_row=False, policy=dpg.mvTable_SizingStretchProp, borders_innerV=True):
                dpg.add_table_column(init_width_or_weight=0.55)
                dpg.add_table_column(init_width_or_weight=0.45)
                with dpg.table_row():
                    self.body = dpg.add_group()
                    with dpg.group():
                        self.message = dpg.add_text("", wrap=0, show=False)
                        self.folders_group = dpg.add_group()
        self.folder_lines: list[str] = []
        self.message_text = ""  # the last "Add plugin folder…" outcome
        self.lines: list[str] = []  # what the pane shows, as text (tests read it)
        self.tracebacks: list[int | str] = []  # the traceback boxes, one per failure that has one
        self.enable_buttons: dict[str, int | str] = {}  # quarantine key -> its "Enable and retry" button
        state.subscribe(self._on_state)
        self.update()

    def _on_state(self, topic: str) -> None:
        if topic in ("catalog", "plugins"):
            self.update()

    def packs(self) -> dict[str, int]:
        """Block count by pack name, from the catalog."""
        counts = Counter(spec.pack or "(no pack)" for spec in self.state.catalog.unique_specs())
        return dict(sorted(counts.items()))

    def versions(self) -> dict[str, str]:
        """Pack name -> its version, from the catalog ("" when the pack declares none)."""
        return {spec.pack or "(no pack)": spec.pack_version for spec in self.state.catalog.unique_specs()}

    def _text(self, text: str, **kw: Any) -> int | str:
        self.lines.append(text)
        return dpg.add_text(text, parent=self.body, **kw)

    def _show_folders(self) -> None:
        dpg.delete_item(self.folders_group, children_only=True)
        user = plugins_dir()
        self.folder_lines = ["Watched plugin folders: copy a plugin folder into one and it loads, no restart needed"]
        for folder in self.folders():
            note = "  (yours; Add plugin folder… copies here)" if folder == user else ""
            if not folder.is_dir():
                note += "  (does not exist yet)"
            self.folder_lines.append(f"    {folder}{note}")
        for i, line in enumerate(self.folder_lines):
            dpg.add_text(line, parent=self.folders_group, wrap=0, **({"color": GREY} if i else {}))

    def _say(self, text: str, error: bool = False) -> None:
        self.message_text = text
        dpg.set_value(self.message, text)
        dpg.configure_item(self.message, color=RED if error else GREY, show=True)
        self.state.say(text)

    def add_folder_dialog(self) -> None:
        """"Add plugin folder…": choose a plugin package to copy into the user plugin folder."""
        if self.add_dialog is None:
            self.add_dialog = dpg.add_file_dialog(
                label="Add plugin folder", directory_selector=True, show=False, modal=True, width=720,
                height=440, callback=self._chosen,
            )
        dpg.show_item(self.add_dialog)

    def _chosen(self, sender: Any, app_data: dict[str, Any]) -> None:
        path = app_data.get("file_path_name") or app_data.get("current_path") or ""
        if path:
            self.add_folder(path)

    def add_folder(self, path: str | Path) -> Path | None:
        """Copy the plugin package at ``path`` into the user plugin folder; the watcher loads it."""
        try:
            target = add_plugin_folder(path)
        except PluginFolderError as e:
            self._say(f"not added: {e}", error=True)
            return None
        self._say(f"copied {target.name} into {target.parent}; its blocks appear in a moment")
        self._show_folders()  # the user folder may have just been created
        return target

    def update(self) -> None:
        """Redraw from the catalog, the failures and the watched folders."""
        self._show_folders()
        dpg.delete_item(self.body, children_only=True)
        self.lines, self.tracebacks, self.enable_buttons = [], [], {}
        failures = self.state.plugin_failures
        packs = self.packs()
        n_blocks = sum(packs.values())
        if not self.state.catalog and not failures:
            dpg.set_value(self.summary, "waiting for the engine to report its block packs…")
            return
        held = sum(1 for f in failures if f.get("quarantined"))
        dpg.set_value(
            self.summary,
            f"{len(packs)} pack(s), {n_blocks} block(s)" + (f"; {len(failures)} failed" if failures else "")
            + (f" ({held} quarantined)" if held else ""),
        )
        for i, f in enumerate(failures):
            pack, path = str(f.get("pack") or "?"), str(f.get("path") or "")
            label = "QUARANTINED" if f.get("quarantined") else "FAILED"
            if f.get("kind") == "clash":  # the pack loaded; this one id of it was refused
                label, pack = "REFUSED", f"{pack} · {f.get('block')}"
            elif f.get("block"):  # a bad declaration: that block failed, the others of its pack loaded
                pack = f"{pack} · {f.get('block')}"
            self._text(f"{label}  {pack}: {f.get('error') or 'unknown error'}", color=RED, wrap=0)
            key = str(f.get("key") or "")
            if f.get("quarantined") and key:
                self.enable_buttons[key] = dpg.add_button(
                    label=f"Enable and retry##{i}", parent=self.body, callback=lambda s, a, u: self.enable(u),
                    user_data=key,
                )
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
        versions = self.versions()
        for pack, n in packs.items():
            version = f" {versions[pack]}" if versions.get(pack) else ""
            self._text(f"{pack}{version}  —  {n} block{'s' if n != 1 else ''}")

    def enable(self, key: str) -> None:
        """Lift a plugin's quarantine and reload the plugins, so the engine tries it again."""
        gone = QuarantineStore().enable(key)
        names = ", ".join(e.name for e in gone) or key
        self._say(f"re-enabled {names}; reloading the plugins")
        self.on_reload()

    def text(self) -> str:
        """Everything the pane shows, one line per row (for tests and screenshots' reports)."""
        message = [self.message_text] if self.message_text else []
        return "\n".join([str(dpg.get_value(self.summary)), *message, *self.folder_lines, *self.lines])
