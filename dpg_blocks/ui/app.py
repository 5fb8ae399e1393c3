"""The editor: the panes on one window, the engine pump, shortcuts, and the render loop.

:class:`Editor` builds every pane into the current Dear PyGui context and needs no viewport, so
tests build it, call its callbacks and pump a real engine without a display. :func:`run_editor`
and :func:`run_screenshot` add the viewport and the loop. The GUI process never imports torch:
the engine client (numpy, msgpack) is imported only after the first frame is on screen.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import signal
import time
import traceback
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg

from dpg_blocks.core.assets import example_projects
from dpg_blocks.core.atomic_file import write_text_atomic
from dpg_blocks.core.startup_trace import mark as trace

from .blocks_menu import BlocksMenu
from .canvas import Canvas
from .code_window import CodeWindow
from .data_dialog import DATA_W, INPUT_TYPE, DataControls
from .debug_pane import DebugPane
from .drop import DropHook, install_drop_hook
from .drop_actions import DropActions
from .export_dialog import ExportControls
from .import_dialog import ImportControls
from .menus import MenuCloser
from .network_tree import NetworkTree
from .plugins_pane import PluginsPane
from .prefs import Preferences
from .process_controls import ProcessControls
from .project_controls import ProjectControls
from .recovery import DEFAULT_INTERVAL_S, Recovery
from .results_pane import ResultsPane
from .runs_list import RunsList
from .screen import fit_viewport
from .shortcuts import MOUSE_HELP, SHORTCUTS, Keyboard
from .state import EditorState
from .state_dump import StateDump
from .theme import ENGINE_COLOURS, build_themes, load_fonts
from .visual_pane import VisualPane
from .welcome import Welcome
from .workspace import Workspace, configure_docking

POLL_BUDGET_MS = 4.0
# The shipped examples (scenarios A-C), present in a source checkout.
INPUT_ITEMS = ("mvAppItemType::mvInputText", "mvAppItemType::mvInputInt", "mvAppItemType::mvInputFloat")


class Editor:
    """Every pane, wired to one :class:`EditorState` and (optionally) an engine client."""

    def __init__(
        self,
        state: EditorState | None = None,
        size: tuple[int, int] = (1600, 1000),
        autosave_s: float = DEFAULT_INTERVAL_S,
        saved_layout: bool = False,
    ) -> None:
        self.state = state or EditorState()
        self.client: Any = None
        self.plugin_watch: Any = None  # a PluginWatch once the engine runs (ui/plugin_watch.py)
        self.extra_plugin_dirs: tuple[str, ...] = ()  # the engine's --plugins folders
        self.internal_errors = 0  # exceptions caught by _guarded (tests and the status line)
        self._validate_wanted = True
        self.themes = build_themes()
        self.fonts = load_fonts()
        self.prefs = Preferences.load()
        self.size = size
        with dpg.viewport_menu_bar() as self.menu_bar:
            self._menu_bar()
            # The status line lives in the menu bar, so no pane can cover it.
            dpg.add_spacer(width=24)
            self.engine_text = dpg.add_text("engine stopped")
            dpg.add_text("|", color=(110, 110, 110))
            self.status_text = dpg.add_text("")
        self.menus = MenuCloser(self.menu_bar)  # Escape closes an open menu (ImGui does not)
        self.workspace = Workspace(size, saved=saved_layout)
        panes = self.workspace.windows
        self.left, self.centre, self.right, self.bottom = (panes[k] for k in ("network", "canvas", "blocks", "inspector"))
        self.canvas = Canvas(self.state, self.themes, self.centre)
        self.code_window = CodeWindow(self.state, self.fonts[1])
        self.tree = NetworkTree(self.state, self.left, on_show=self.canvas.go_to,
                                on_add_data=lambda bid: self.data.show(bid), on_edit_code=self.code_window.open)
        self.blocks_menu = BlocksMenu(self.state, self.right)
        with dpg.tab_bar(parent=self.bottom) as self.tabs:
            with dpg.tab(label="Debug") as self.debug_tab:
                # the selected block's status on the left; an Input's data preview beside it, in view
                with dpg.table(header_row=False, policy=dpg.mvTable_SizingStretchProp):
                    dpg.add_table_column(init_width_or_weight=1.0)
                    dpg.add_table_column(width_fixed=True, init_width_or_weight=DATA_W)
                    with dpg.table_row():
                        debug_cell, data_cell = dpg.add_group(), dpg.add_group()
                self.debug = DebugPane(self.state, self.themes, debug_cell)
                self.data = DataControls(self.state, lambda: self.client, data_cell)  # Add Data…, preview
            with dpg.tab(label="Visualization") as self.visual_tab:
                self.visual = VisualPane(self.state, self.visual_tab)
            with dpg.tab(label="Optimization & Results") as self.results_tab:
                self.results = ResultsPane(self.state, self.results_tab, self.training_command)
            with dpg.tab(label="Plugins") as self.plugins_tab:
                self.plugins = PluginsPane(self.state, self.plugins_tab, self.reload_plugins, self.plugin_dirs)
        self.recovery = Recovery(self.state, autosave_s)
        self.controls = ProjectControls(self.state, self.prefs, self.recovery)
        self.exporter = ExportControls(self.state, lambda: self.client)  # File › Export to PyTorch / ONNX…
        self.importer = ImportControls(self.state, lambda: self.client, self.controls)  # File › Import PyTorch…
        self.controls.attach_menus(self.recent_menu, self.font_menu)
        self.runs = RunsList(self.state, self.results.runs_area,  # the Results pane's Runs tab
                             lambda resume: self.training_command("train", resume=resume),
                             (self.results.loss_axis, self.results.acc_axis), self.evaluate_run)
        self._evaluations: dict[int, str] = {}  # Evaluate request -> what it evaluates (for the title)
        self.process = ProcessControls(  # Optimization › "Run on N processes" (torchrun as a child)
            self.state, self.results.processes_area, self.controls,
            lambda take: self.runs.take_init_from() if take else self.runs.init_from, on_epoch=self.runs.refresh)
        self.welcome = Welcome(self.state, self.canvas.view, self.controls.open_recent)  # on an empty project
        self.drops = DropActions(self)  # files dropped from the desktop, by kind (ui/drop_actions.py)
        self.drop_hook: DropHook | None = None  # installed by run_editor once the window exists
        self.menu_block: str | None = None  # the block the right-click menu was opened on
        self._context_menu()
        self._help_window()
        self.keyboard = Keyboard(self, self._typing)
        self._handlers()
        self._runs_shown = self.runs.folder
        self.runs.refresh()
        self.state.subscribe(self._on_state)
        if self.prefs.problem:
            self.state.say(self.prefs.problem)
        self.layout(*size)
        self.canvas.sync()
        self.tree.update()
        self.debug.update()
        self._show_engine()

    # -- building ----------------------------------------------------------------------------
    def _menu_bar(self) -> None:
        """The menus (inside the viewport's menu bar)."""
        with dpg.menu(label="File"):
            dpg.add_menu_item(label="New", shortcut="Ctrl+N", callback=lambda: self.controls.new())
            dpg.add_menu_item(label="Open…", shortcut="Ctrl+O", callback=lambda: self.controls.open_dialog())
            self.recent_menu = dpg.add_menu(label="Open Recent")
            if example_projects():
                with dpg.menu(label="Open Example"):
                    for path in example_projects():
                        dpg.add_menu_item(label=path.stem, user_data=str(path),
                                          callback=lambda s, a, u: self.controls.open_recent(u))
            dpg.add_menu_item(label="Save", shortcut="Ctrl+S", callback=lambda: self.controls.save())
            dpg.add_menu_item(label="Save As…", callback=lambda: self.controls.save_as_dialog())
            dpg.add_menu_item(label="Import PyTorch module…", callback=lambda: self.importer.show())
            dpg.add_menu_item(label="Export to PyTorch / ONNX…", callback=lambda: self.exporter.show())
            dpg.add_menu_item(label="Review custom code…", callback=lambda: self.controls.review_code())
            dpg.add_separator()
            dpg.add_menu_item(label="Quit", shortcut="Ctrl+Q", callback=lambda: self.controls.quit())
        with dpg.menu(label="Edit"):
            dpg.add_menu_item(label="Undo", shortcut="Ctrl+Z", callback=lambda: self.state.undo())
            dpg.add_menu_item(label="Redo", shortcut="Ctrl+Y", callback=lambda: self.state.redo())
            dpg.add_separator()
            dpg.add_menu_item(label="Delete", shortcut="Del", callback=lambda: self.canvas.delete_selected())
            dpg.add_menu_item(label="Merge selected into a SuperBlock", callback=lambda: self.merge_selected())
            dpg.add_menu_item(label="Expand SuperBlock", callback=lambda: self.expand_selected())
            dpg.add_menu_item(label="Rename…", shortcut="F2", callback=lambda: self.rename_dialog())
            dpg.add_menu_item(label="Edit code…", shortcut="double-click", callback=lambda: self.edit_code())
            dpg.add_menu_item(label="Select all", shortcut="Ctrl+A", callback=lambda: self.select_all())
            dpg.add_menu_item(label="Save to library", callback=lambda: self.save_to_library())
            dpg.add_separator()
            dpg.add_menu_item(label="Cut", shortcut="Ctrl+X", callback=lambda: self.cut())
            dpg.add_menu_item(label="Copy", shortcut="Ctrl+C", callback=lambda: self.copy())
            dpg.add_menu_item(label="Paste", shortcut="Ctrl+V", callback=lambda: self.paste())
            paste_shared = dpg.add_menu_item(label="Paste sharing weights", callback=lambda: self.paste(shared=True))
            with dpg.tooltip(paste_shared):
                dpg.add_text("Paste the copied blocks as shared copies: each layer uses its original's weights (one "
                             "set, trained once, e.g. a Siamese network's second tower). The copies say whose "
                             "weights they use.", wrap=360)
            dpg.add_menu_item(label="Stop sharing weights", callback=lambda: self.stop_sharing())
            dpg.add_menu_item(label="Duplicate", shortcut="Ctrl+D", callback=lambda: self.duplicate())
        with dpg.menu(label="View"):
            self.font_menu = dpg.add_menu(label="Font size")
            dpg.add_separator()
            dpg.add_menu_item(label="Zoom in", shortcut="Ctrl+=", callback=lambda: self.zoom_in())
            dpg.add_menu_item(label="Zoom out", shortcut="Ctrl+-", callback=lambda: self.zoom_out())
            dpg.add_menu_item(label="Zoom 100 %", shortcut="Ctrl+0", callback=lambda: self.zoom_reset())
            dpg.add_menu_item(label="Zoom to fit", shortcut="Ctrl+Home", callback=lambda: self.zoom_to_fit())
            dpg.add_separator()
            dpg.add_menu_item(label="Reset layout", callback=lambda: self.workspace.reset(*self._viewport_size()))
        with dpg.menu(label="Canvas"):
            dpg.add_menu_item(label="Frame all", shortcut="Home", callback=lambda: self.canvas.frame_all())
            dpg.add_menu_item(label="Go to block…", shortcut="Ctrl+G", callback=lambda: self.go_to_dialog())
            dpg.add_menu_item(label="Auto-layout", shortcut="Ctrl+L", callback=lambda: self.canvas.auto_layout())
            dpg.add_separator()
            dpg.add_menu_item(label="Open SuperBlock", shortcut="double-click", callback=lambda: self.open_selected())
            dpg.add_menu_item(label="Up one level", shortcut="Backspace", callback=lambda: self.state.leave())
        with dpg.menu(label="Help"):
            dpg.add_menu_item(label="Shortcuts and mouse", shortcut="F1", callback=lambda: self.show_shortcuts())

    def _context_menu(self) -> None:
        with dpg.window(show=False, no_title_bar=True, no_move=True, autosize=True, popup=False,
                        no_saved_settings=True) as self.menu_window:
            dpg.add_menu_item(label="Rename…", callback=lambda: self._menu(self.rename_dialog))
            # Add Data… and Edit code… act on the block right-clicked, not on the selection's last
            # block: with several selected, that may be another block (a SuperBlock just merged).
            self.data_item = dpg.add_menu_item(label="Add Data…",
                                               callback=lambda: self._menu(lambda: self.data.show(self.menu_block)))
            self.code_item = dpg.add_menu_item(label="Edit code…",
                                               callback=lambda: self._menu(lambda: self.code_window.open(self.menu_block or "")))
            self.merge_item = dpg.add_menu_item(label="Merge selected into a SuperBlock",
                                                callback=lambda: self._menu(self.merge_selected))
            self.expand_item = dpg.add_menu_item(label="Expand SuperBlock", callback=lambda: self._menu(self.expand_selected))
            self.library_item = dpg.add_menu_item(label="Save to library", callback=lambda: self._menu(self.save_to_library))
            self.open_item = dpg.add_menu_item(label="Open SuperBlock", callback=lambda: self._menu(self.open_selected))
            dpg.add_menu_item(label="Copy", callback=lambda: self._menu(self.copy))
            dpg.add_menu_item(label="Duplicate", callback=lambda: self._menu(self.duplicate))
            dpg.add_menu_item(label="Delete", callback=lambda: self._menu(self.canvas.delete_selected))
        with dpg.window(label="Rename block", modal=True, show=False, autosize=True,
                        no_saved_settings=True) as self.rename_window:
            self.rename_input = dpg.add_input_text(width=260, on_enter=True, callback=lambda: self._rename_ok())
            with dpg.group(horizontal=True):
                dpg.add_button(label="Rename", callback=lambda: self._rename_ok())
                dpg.add_button(label="Cancel", callback=lambda: dpg.configure_item(self.rename_window, show=False))
        with dpg.window(label="Go to block", modal=True, show=False, width=420, height=360,
                        no_saved_settings=True) as self.goto_window:
            self.goto_input = dpg.add_input_text(hint="name or path, e.g. Backbone/FC3", width=-1,
                                                 callback=lambda: self._goto_filter(), on_enter=False)
            self.goto_list = dpg.add_listbox([], width=-1, num_items=12, callback=lambda s, a: self._goto_pick(a))

    def _handlers(self) -> None:
        with dpg.handler_registry():
            dpg.add_mouse_click_handler(button=dpg.mvMouseButton_Right, callback=self._on_right_click)
            dpg.add_mouse_click_handler(button=dpg.mvMouseButton_Left, callback=self._on_left_click)
            dpg.add_mouse_double_click_handler(button=dpg.mvMouseButton_Left, callback=self._on_double_click)
            dpg.add_mouse_release_handler(button=dpg.mvMouseButton_Left, callback=lambda: self.canvas.record_moves())
            dpg.add_mouse_wheel_handler(callback=lambda s, delta: self._on_wheel(delta))
            self.key_press_handler = dpg.add_key_press_handler(callback=self._on_key)
            self.key_release_handler = dpg.add_key_release_handler(
                callback=lambda s, key: self.keyboard.on_release(key))

    def layout(self, width: int, height: int) -> None:
        """Follow a viewport of ``width`` × ``height`` (unless the user arranged the panes)."""
        self.size = (width, height)
        self.workspace.on_resize(width, height)

    def show_tab(self, name: str) -> None:
        """Bring a bottom tab forward: debug, visualization, optimization, evaluation or runs (the
        Optimization tab's Evaluation and Runs views) or plugins."""
        tabs = {"debug": self.debug_tab, "visualization": self.visual_tab,
                "optimization": self.results_tab, "evaluation": self.results_tab, "runs": self.results_tab,
                "plugins": self.plugins_tab}
        if name not in tabs:
            raise ValueError(f"no tab {name!r}; one of {', '.join(tabs)}")
        dpg.set_value(self.tabs, tabs[name])
        if name in ("evaluation", "runs"):
            dpg.set_value(self.results.view_tabs, getattr(self.results, f"{name}_tab"))

    def _viewport_size(self) -> tuple[int, int]:
        if dpg.is_viewport_ok():
            return dpg.get_viewport_client_width(), dpg.get_viewport_client_height()
        return self.size

    # -- state -> widgets --------------------------------------------------------------------
    def _on_state(self, topic: str) -> None:
        if topic == "document":
            self.canvas.sync()
            self.tree.update()
            self.debug.update()
            self.data.update()
            self.code_window.refresh()
            self.results.update_settings()
            self.request_validation()
            if self.visual.update(force=False):  # the selected block's ports or sources changed
                self.send_taps()
        elif topic == "validation":
            self.canvas.apply_validation()
            self.tree.colour()
            self.debug.update()
            self.code_window.show_record()
        elif topic == "selection":
            self.canvas.apply_validation()  # Ctrl+A's outline (imnodes cannot select from code)
            self.debug.update()
            self.data.update()
            self.visual.update()
            self.send_taps()
        elif topic == "scope":
            self.canvas.sync()
            self.canvas.frame()
        elif topic == "catalog":
            self.blocks_menu.refresh()
            self.canvas.sync()
            self.tree.update()
            self.data.engine_ready()
        elif topic == "trust":
            self.request_validation()
        elif topic == "packs" and not dpg.is_item_shown(self.controls.trust_window):
            # the trust prompt, when it is up, comes first; the status line says it meanwhile
            self.controls.show_error("Block pack versions differ", "\n".join(
                [f"This project was {w}." for w in self.state.pack_warnings]
                + ["", "It opens as it is; validation shows any block that no longer fits."]))
        elif topic == "engine":
            self._show_engine()
        elif topic == "status":
            dpg.set_value(self.status_text, self.state.status)
        elif topic == "training":
            if self.state.stop_requested:
                self.state.stop_requested = False
                if self.process.running:
                    self.process.stop()
                elif self.client is not None:
                    self.training_command("stop")  # a new or opened project: the old run ends
            self.results.update()
            self._show_engine()
        elif topic == "file":
            if self.runs.folder != self._runs_shown:
                self._runs_shown = self.runs.folder  # another project (or Save As): its runs
                self.runs.refresh()
            if dpg.is_viewport_ok():
                dpg.set_viewport_title(self.state.title)

    def _show_engine(self) -> None:
        dpg.set_value(self.engine_text, self.state.engine_text)
        key = self.state.engine_state
        if key == "ready" and self.state.validation.pending:
            key = "validating"
        dpg.bind_item_theme(self.engine_text, self.themes.status_text.get(key if key in ENGINE_COLOURS else "stopped", 0))

    # -- gestures --------------------------------------------------------------------------
    def _typing(self) -> bool:
        """Whether a text field has the keyboard: its keys are text, not shortcuts.

        Not only ``get_focused_item()``: for a field in a pane (the Blocks search) it names the
        pane's window, and Delete or Backspace typed there deleted the selected blocks."""
        item = dpg.get_focused_item()
        if item and dpg.does_item_exist(item) and dpg.get_item_type(item) in INPUT_ITEMS and dpg.is_item_active(item):
            return True
        return any(dpg.get_item_type(i) in INPUT_ITEMS and dpg.get_item_state(i).get("active") for i in dpg.get_all_items())

    def _on_key(self, sender: Any, key: int) -> None:
        if key in (dpg.mvKey_Return, dpg.mvKey_NumPadEnter) and dpg.is_item_shown(self.goto_window):
            items = dpg.get_item_configuration(self.goto_list).get("items") or []
            if items:
                self._goto_pick(items[0])
            return
        if key in (dpg.mvKey_Return, dpg.mvKey_NumPadEnter) and self.data.typing_path():
            self.data.load()  # Enter in Add Data…'s path field loads it
            return
        self.keyboard.on_press(key)

    # -- what the shortcuts run (named in ui/shortcuts.py) --------------------------------------
    def shortcut_new(self) -> None:
        self.controls.new()

    def shortcut_open(self) -> None:
        self.controls.open_dialog()

    def shortcut_save(self) -> None:
        self.controls.save()

    def shortcut_quit(self) -> None:
        self.controls.quit()

    def shortcut_undo(self) -> None:
        self.state.undo()

    def shortcut_redo(self) -> None:
        self.state.redo()

    def shortcut_layout(self) -> None:
        self.canvas.auto_layout()

    def shortcut_frame(self) -> None:
        self.canvas.frame_all()

    # View › Zoom: the open graph's zoom, about the mouse for the wheel, else the canvas' centre
    def zoom_in(self) -> None:
        self.canvas.zoom_step(1)

    def zoom_out(self) -> None:
        self.canvas.zoom_step(-1)

    def zoom_reset(self) -> None:
        self.canvas.zoom_to(1.0)

    def zoom_to_fit(self) -> None:
        self.canvas.zoom_to_fit()

    def _on_wheel(self, delta: float) -> None:
        """Ctrl+wheel over the canvas zooms about the mouse (a wheel notch is one zoom step)."""
        ctrl = self.keyboard.ctrl_down or any(dpg.is_key_down(k) for k in self.keyboard.ctrl_keys)
        if not ctrl or not delta or self.canvas.mouse_doc_pos() is None:
            return
        if any(dpg.is_item_shown(w) and dpg.get_item_state(w).get("hovered")
               for w in (self.menu_window, self.help_window, self.code_window.window)):
            return  # a window over the canvas has the wheel
        x, y = dpg.get_mouse_pos(local=False)
        self.canvas.zoom_step(1 if delta > 0 else -1, about=(x, y))

    def shortcut_leave(self) -> None:
        self.state.leave()

    def delete_selected(self) -> None:
        self.canvas.delete_selected()

    def select_all(self) -> None:
        """Every block of the graph on the canvas becomes the selection."""
        ids = list(self.state.graph.blocks)
        self.canvas.keyboard_selection = set(ids)  # outlined by the canvas until the selection changes
        self.state.select(ids)
        self.state.say(f"selected {len(ids)} block{'s' if len(ids) != 1 else ''}: Delete, Ctrl+C or "
                       "right-click › Merge act on them" if ids else "nothing to select: the canvas is empty")

    def close_popups(self) -> None:
        """Escape: close an open menu, the context menu and any dialog that is open (the answer
        is Cancel)."""
        self.menus.close()
        for window in (self.menu_window, self.rename_window, self.goto_window, self.help_window, self.data.window):
            if window is not None and dpg.does_item_exist(window) and dpg.is_item_shown(window):
                dpg.configure_item(window, show=False)
        self.controls.cancel_prompts()
        if self.drops.prompting:
            self.drops.answer(False)

    def show_shortcuts(self) -> None:
        """Help › Shortcuts (F1)."""
        w, h = self._viewport_size()
        dpg.configure_item(self.help_window, show=True, pos=(max(0, w // 2 - 330), max(30, h // 2 - 330)))

    def _help_window(self) -> None:
        with dpg.window(label="Shortcuts", show=False, width=660, height=640, no_saved_settings=True,
                        no_collapse=True) as self.help_window:
            with dpg.table(header_row=True, borders_innerH=True, policy=dpg.mvTable_SizingStretchProp):
                dpg.add_table_column(label="keys", width_fixed=True, init_width_or_weight=170)
                dpg.add_table_column(label="does")
                for sc in SHORTCUTS:
                    with dpg.table_row():
                        dpg.add_text(sc.keys)
                        dpg.add_text(sc.help)
                for keys, what in MOUSE_HELP:
                    with dpg.table_row():
                        dpg.add_text(keys, color=(170, 200, 255))
                        dpg.add_text(what, wrap=440)
            dpg.add_spacer(height=6)
            dpg.add_text("Fields take what you typed when you press Enter or Tab, or click elsewhere; "
                         "Escape in a field gives its old value back.", wrap=620, color=(170, 170, 180))

    def _on_right_click(self) -> None:
        bid = self.canvas.hovered_block()
        if bid is None:
            return
        if bid not in self.state.selected:
            self.state.select([bid])
        self.menu_block = bid
        b = self.state.block(bid)
        dpg.configure_item(self.expand_item, enabled=bool(b and b.is_super))
        dpg.configure_item(self.open_item, enabled=bool(b and b.is_super))
        dpg.configure_item(self.data_item, show=bool(b and b.type == INPUT_TYPE))
        dpg.configure_item(self.code_item, enabled=self.has_code(bid))
        dpg.configure_item(self.menu_window, show=True, pos=dpg.get_mouse_pos(local=False))

    def _on_left_click(self) -> None:
        if dpg.is_item_shown(self.menu_window) and not dpg.is_item_hovered(self.menu_window):
            dpg.configure_item(self.menu_window, show=False)
        elif self.canvas.empty_spot_hovered():
            self.clear_selection()

    def clear_selection(self) -> None:
        """A click on empty canvas selects nothing. imnodes clears its own selection itself, but
        not Ctrl+A's (it cannot select from code), whose outline and whose fallback for Delete
        would otherwise outlive the click."""
        self.canvas.keyboard_selection = set()
        self.canvas.deselect_all()
        self.state.select([])

    def _menu(self, action: Any) -> None:
        dpg.configure_item(self.menu_window, show=False)
        action()

    def _on_double_click(self) -> None:
        bid = self.canvas.hovered_block()
        b = self.state.block(bid) if bid else None
        if b is not None and b.is_super:
            self.state.enter(b.id)
        elif b is not None and self.has_code(b.id):
            self.code_window.open(b.id)

    def has_code(self, block_id: str | None) -> bool:
        """Whether the block carries code of its own (a Custom block): it has a code window."""
        b = self.state.block(block_id) if block_id else None
        spec = self.state.catalog.spec(b.type) if b is not None else None
        return bool(spec and spec.code_params())

    def edit_code(self) -> bool:
        """Open the selected block's code window (Custom blocks)."""
        sel = self.state.selected
        if not sel or not self.has_code(sel[-1]):
            self.state.say("select a Custom block to edit its code")
            return False
        return self.code_window.open(sel[-1])

    def apply_code(self) -> bool:
        """Ctrl+Enter: apply the code window's code, when it is open."""
        return self.code_window.shown and self.code_window.apply()

    def open_selected(self) -> bool:
        """Open the selected SuperBlock on the canvas."""
        sel = self.state.selected
        return self.state.enter(sel[-1]) if sel else False

    # -- clipboard ---------------------------------------------------------------------------
    def _chosen(self) -> list[str]:
        return self.canvas.selected_blocks() or [b for b in self.state.selected if b in self.state.graph.blocks]

    def copy(self) -> str:
        """Copy the selected blocks (and the links among them) for pasting in any editor window.

        The text goes to the user folder's ``clipboard.json`` (read back by :meth:`paste`) and,
        for pasting into a text file, to the system clipboard. Pasting never reads the system
        clipboard: Dear PyGui 2.3's ``get_clipboard_text`` aborts the process when the X11
        clipboard holds no text (``basic_string::_M_construct null not valid``).
        """
        text = self.state.copy(self._chosen())
        if text:
            try:
                clipboard_file().parent.mkdir(parents=True, exist_ok=True)
                write_text_atomic(clipboard_file(), text)
            except OSError as e:
                self.state.say(f"copied, but only for this window: {clipboard_file()}: {e}")
            if dpg.is_viewport_ok():
                dpg.set_clipboard_text(text)
        return text

    def cut(self) -> bool:
        return bool(self.copy()) and self.canvas.delete_selected()

    def stop_sharing(self) -> bool:
        """The selected blocks get their own weights again."""
        return self.state.stop_sharing(self.canvas.selected_blocks())

    def paste(self, shared: bool = False) -> list[str]:
        """Paste at the mouse when it is over the canvas, else beside the originals; ``shared``:
        each pasted layer shares its original's weights."""
        try:
            text = clipboard_file().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = self.state.clipboard
        at = self.canvas.mouse_doc_pos()
        if at is None:
            at = self._beside(text)
        return self.state.paste(text, at, shared=shared)

    def _beside(self, text: str) -> tuple[float, float] | None:
        try:
            blocks = json.loads(text).get("blocks") or []
            xs = [float(b["pos"][0]) for b in blocks]
            ys = [float(b["pos"][1]) for b in blocks]
        except (ValueError, TypeError, KeyError, AttributeError, IndexError):
            return None
        return (min(xs) + 40.0, max(ys) + 140.0) if xs else None

    def duplicate(self) -> list[str]:
        text = self.state.copy(self._chosen())
        return self.state.paste(text, self._beside(text)) if text else []

    # -- go to block -------------------------------------------------------------------------
    def go_to_dialog(self) -> None:
        dpg.set_value(self.goto_input, "")
        self._goto_filter()
        vw = dpg.get_viewport_client_width() if dpg.is_viewport_ok() else 800
        dpg.configure_item(self.goto_window, show=True, pos=[max(0, vw // 2 - 210), 120])
        dpg.focus_item(self.goto_input)

    def block_paths(self, query: str = "") -> dict[str, str]:
        """``Backbone › FC3`` -> block id, for every block whose path contains ``query``."""
        q = query.strip().lower().replace("/", "›")
        q = " › ".join(part.strip() for part in q.split("›")) if "›" in q else q
        out = {}
        for b in self.state.project.graph.walk():
            path = " › ".join(self.state.project.path_of(b.id))
            if q in path.lower():
                out[path] = b.id
        return out

    def _goto_filter(self) -> None:
        items = sorted(self.block_paths(dpg.get_value(self.goto_input) or ""), key=str.lower)
        dpg.configure_item(self.goto_list, items=items)

    def _goto_pick(self, path: str) -> None:
        bid = self.block_paths().get(path)
        if bid is not None:
            dpg.configure_item(self.goto_window, show=False)
            self.canvas.go_to(bid)

    def merge_selected(self) -> str | None:
        ids = self.canvas.selected_blocks() or list(self.state.selected)
        return self.state.merge(ids)

    def expand_selected(self) -> bool:
        sel = self.state.selected
        return self.state.unmerge(sel[-1]) if sel else False

    def save_to_library(self) -> Path | None:
        """Save the selected block or SuperBlock to the library; asks before replacing one."""
        sel = self.state.selected
        if not sel:
            self.state.say("select a block or SuperBlock to save to the library")
            return None
        target = self.state.library_file(sel[-1])
        if target is None or not target.exists():
            return self.state.save_to_library(sel[-1])
        # created on first use: most sessions never replace a library block
        if not hasattr(self, "replace_window"):
            with dpg.window(label="Replace library block", modal=True, show=False, autosize=True,
                            no_saved_settings=True) as self.replace_window:
                self.replace_text = dpg.add_text("", wrap=420)
                with dpg.group(horizontal=True):
                    dpg.add_button(label="Replace", callback=lambda: self._replace_ok())
                    dpg.add_button(label="Cancel", callback=lambda: dpg.configure_item(self.replace_window, show=False))
        self._replace_id = sel[-1]
        dpg.set_value(self.replace_text, f"The library already holds {target.stem!r} ({target}). Replace it?")
        dpg.configure_item(self.replace_window, show=True)
        return None

    def _replace_ok(self) -> None:
        dpg.configure_item(self.replace_window, show=False)
        self.state.save_to_library(self._replace_id, overwrite=True)

    def rename_dialog(self) -> None:
        sel = self.state.selected
        b = self.state.block(sel[-1]) if sel else None
        if b is None:
            self.state.say("select a block to rename")
            return
        dpg.set_value(self.rename_input, b.name)
        dpg.configure_item(self.rename_window, show=True, pos=dpg.get_mouse_pos(local=False))
        dpg.focus_item(self.rename_input)  # type the new name at once

    def _rename_ok(self) -> None:
        sel = self.state.selected
        if sel and self.state.rename(sel[-1], dpg.get_value(self.rename_input)):
            dpg.configure_item(self.rename_window, show=False)

    # -- the engine ----------------------------------------------------------------------------
    def start_engine(self, **options: Any) -> None:
        """Spawn the engine process (imports the client, never torch)."""
        from dpg_blocks.client.engine_client import EngineClient

        from .plugin_watch import PluginWatch

        trace("engine_starting")
        self.client = EngineClient(**options)
        self.extra_plugin_dirs = tuple(str(d) for d in options.get("plugin_dirs", ()))
        # Before the engine starts: what it discovers at start-up is the watcher's baseline.
        self.plugin_watch = PluginWatch(self.plugin_dirs, lambda: self.reload_plugins("plugin folders changed"))
        self.client.start()
        self.plugins.update()  # --plugins folders join the watched list

    def request_validation(self) -> None:
        self._validate_wanted = True

    def pump(self, budget_ms: float = POLL_BUDGET_MS) -> None:
        """Handle what the engine sent (within ``budget_ms``) and send what is due."""
        if self.client is None:
            return
        for ev in self.client.poll(budget_ms):
            self.handle(ev)
        if self._validate_wanted and self.client.state != "stopped":
            self._validate_wanted = False
            rid = self.client.validate(self.state.project_dict(), self.state.project_dir)
            trace("validate_sent")
            self.state.validation_sent(rid)
        activity = self.client.activity()  # "validating… (3 s)": the seconds tick while it lasts
        if activity != self.state.engine_activity:
            self.state.engine_activity = activity
            self.state.emit("engine")

    def handle(self, ev: Any) -> None:
        """Apply one engine event to the state."""
        from dpg_blocks import protocol as m
        from dpg_blocks.client.engine_client import ClientError, EngineStatus, stuck_text

        st = self.state
        if isinstance(ev, m.Ready):
            trace("ready_received")
            st.set_catalog(ev.catalog)
            st.set_plugin_failures(ev.failures)
            failures = [f.get("pack") or "?" for f in ev.failures if not f.get("block")]
            refused = [f"{f['block']} ({f.get('pack') or '?'})" for f in ev.failures if f.get("block")]
            said = []
            if failures:
                said.append(f"{len(failures)} plugin(s) failed to load: {', '.join(map(str, failures))}")
            if refused:  # a clashing id or a bad declaration: that block only (Plugins tab in red)
                said.append(f"{len(refused)} block(s) not loaded: {', '.join(refused)}")
            if said:
                st.say("; ".join(said + st.clash_notes() + st.pack_warnings))
        elif isinstance(ev, EngineStatus):
            st.set_engine(ev.state, ev.reason)
            if ev.state in ("crashed", "hung") or (ev.state == "stopped" and ev.reason):
                st.say(ev.reason)
                if st.training.state in ("running", "paused", "starting") and not st.training.processes:
                    st.training.state, st.training.reason = "failed", ev.reason  # (torchrun's run goes on)
                    st.emit("training")
                if st.validation.pending:
                    st.validation.received = st.validation.sent  # that answer will never come
        elif isinstance(ev, m.ValidationResult):
            trace("validation_received")
            st.validation_result(ev.request_id, ev.records, ev.ok, ev.error)
        elif isinstance(ev, m.TrainingState):
            if ev.request_id in (None, st.training.request_id) and not st.training.processes:
                was_active = st.training.active
                st.training.state, st.training.reason = ev.state, ev.reason
                st.emit("training")
                if ev.state in ("finished", "stopped", "failed", "paused"):
                    self.runs.refresh()  # the run's state and final figures
                if was_active != st.training.active:
                    st.emit("validation")  # the canvas marks (or stops marking) the live blocks
        elif isinstance(ev, m.TrainingPlan):
            if ev.request_id == st.training.request_id:
                st.training.live = {k: list(v) for k, v in ev.live.items()}
                st.emit("validation")
        elif isinstance(ev, m.TrainingError):
            if ev.request_id == st.training.request_id:
                from dpg_blocks.protocol.block_error import where_text

                st.training_error(list(ev.records), where_text(ev.phase, ev.epoch, ev.step))
        elif isinstance(ev, m.EpochMetrics):
            if ev.request_id == st.training.request_id:
                st.training.epochs.append(dict(ev.metrics))
                st.emit("training")
                self.runs.refresh()  # its epochs and final figures (one run.json read per run)
        elif isinstance(ev, m.StepMetrics):
            if ev.request_id == st.training.request_id:
                if ev.losses:
                    st.training.last_step_loss = float(sum(ev.losses.values()))
                if ev.steps:
                    st.training.progress = {
                        "epoch": ev.epoch, "epochs": ev.epochs, "step": ev.step, "steps": ev.steps,
                        "samples_per_s": ev.samples_per_s, "eta_epoch_s": ev.eta_epoch_s, "eta_run_s": ev.eta_run_s}
                st.emit("training")  # the progress bar moves within an epoch (at most 10 a second)
        elif isinstance(ev, m.TrainingStuck):
            if ev.request_id == st.training.request_id:
                if ev.block_id != st.stuck_block:
                    st.stuck_block = ev.block_id
                    st.say(stuck_text(ev))  # once; the engine indicator counts the seconds
                    st.emit("validation")  # outline the block
        elif isinstance(ev, m.NonFinite):
            st.say(f"non-finite values ({ev.what}) in {' › '.join(ev.path)}.{ev.port} at step {ev.step}; training paused")
        elif isinstance(ev, m.Error):
            st.say(f"engine error in {ev.where}: {ev.error_type}: {ev.message}")
            if ev.request_id is not None and ev.request_id == st.training.request_id:
                st.training.state, st.training.reason = "failed", f"{ev.error_type}: {ev.message}"
                st.emit("training")
        elif isinstance(ev, m.TapFrame):
            self.visual.on_frame(ev)
        elif isinstance(ev, m.RunStarted):
            if ev.request_id == st.training.request_id:
                self.runs.refresh()
        elif isinstance(ev, m.MisclassifiedSamples):
            if ev.request_id == st.training.request_id or ev.request_id in self._evaluations:
                epoch = 0 if ev.request_id in self._evaluations else ev.epoch  # on demand: not an epoch's
                self.results.evaluation.gallery.show(ev.thumbnails, ev.true, ev.pred, epoch)
        elif isinstance(ev, m.RegressionSamples):
            if ev.request_id == st.training.request_id or ev.request_id in self._evaluations:
                epoch = 0 if ev.request_id in self._evaluations else ev.epoch
                self.results.evaluation.show_scatter(m.wire_to_array(ev.pred).tolist(),
                                                     m.wire_to_array(ev.true).tolist(), ev.head, epoch)
        elif isinstance(ev, m.EvaluationResult):
            self.results.evaluation.on_result(dict(ev.metrics), self._evaluations.get(ev.request_id, ""))
        elif isinstance(ev, m.ExportResult):
            self.exporter.on_result(ev)
        elif isinstance(ev, m.ImportResult):
            self.importer.on_result(ev)
        elif isinstance(ev, m.DataInfo):
            self.data.on_info(ev)
        elif isinstance(ev, ClientError):
            st.say(ev.message)

    def send_taps(self) -> None:
        """Watch the Visualization pane's ports in the engine (it streams them while training)."""
        if self.client is not None:
            self.client.send(self.visual.taps)

    def plugin_dirs(self) -> list[Path]:
        """The plugin folders the engine reads (and the editor watches), ``--plugins`` included."""
        from dpg_blocks.core.plugin_folders import plugin_dirs

        return plugin_dirs(self.extra_plugin_dirs)

    def _watch_plugins(self) -> None:
        if self.plugin_watch is not None:
            self.plugin_watch.tick()

    def reload_plugins(self, why: str = "") -> None:
        """Have the engine discover the packs again (Reload plugins, the folder watcher)."""
        from dpg_blocks import protocol as m

        if self.client is None:
            self.state.say("the engine is not running")
            return
        if self.client.state == "stopped" and self.client.start_failures:
            self.client.revive()  # it gave up after failed starts: a new start discovers afresh
        else:
            self.client.send(m.ReloadPlugins())
        self.state.say(f"{why}: reloading plugins…" if why else "reloading plugins…")

    def training_command(self, what: str, resume: str = "") -> None:
        """Train / pause / resume / stop / step through the protocol; ``resume``: a run folder
        that Train continues exactly (the Runs tab's Continue)."""
        from dpg_blocks import protocol as m

        if self.process.intercept(what):  # a run on N processes: Stop ends its whole group
            return
        if self.client is None:
            self.state.say("the engine is not running")
            return
        st = self.state
        if what == "train":
            if st.validation.ok is False:
                st.say("the network has errors (red blocks); training would fail")
            rid = self.client.request_id()
            st.training = type(st.training)(request_id=rid, state="starting")
            if st.stuck_block:  # a new run: the last one's stuck block is history
                st.stuck_block = ""
                st.emit("validation")
            self.visual.update()  # a new run: drop the last run's frames
            self.send_taps()  # before Train, so its first step is already watched
            # project_path: the engine keeps the run beside the saved project (core/runs.py)
            init_from = "" if resume else self.runs.take_init_from()  # the Runs tab's Load weights
            self.client.send(m.Train(project=st.project_dict(), project_dir=st.project_dir, request_id=rid,
                                     project_path=st.path or "", resume=resume, init_from=init_from))
        elif what == "pause":
            self.client.send(m.Pause())
        elif what == "resume":
            self.client.send(m.Resume())
        elif what == "stop":
            self.client.send(m.Stop())
        elif what == "evaluate":
            if not st.training.active:
                st.say("Evaluate runs the model being trained: press Train first (a paused run can be evaluated)")
                return
            rid = self.client.request_id()
            self._evaluations[rid] = ""
            self.client.send(m.Evaluate(split="test", request_id=rid))
        elif what == "step":
            self.client.send(m.Step())  # one batch of every order, then paused again
        st.emit("training")

    def evaluate_run(self, run: Any, checkpoint: Path) -> None:
        """A kept run's checkpoint on the test split, with the project it was trained from."""
        from dpg_blocks import protocol as m
        from dpg_blocks.core.runs import PROJECT_FILE

        if self.client is None:
            self.state.say("the engine is not running")
            return
        try:
            project = json.loads((run.path / PROJECT_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            self.state.say(f"cannot evaluate run {run.name}: its project snapshot cannot be read ({e})")
            return
        rid = self.client.request_id()
        self._evaluations[rid] = f"run {run.name} ({checkpoint.name})"
        self.client.send(m.Evaluate(split="test", request_id=rid, checkpoint=str(checkpoint), project=project,
                                    project_dir=self.state.project_dir))
        self.state.say(f"evaluating run {run.name} ({checkpoint.name}) on the test split…")
        self.show_tab("evaluation")

    def frame(self) -> None:
        """Everything the editor does once per frame, before rendering.

        A bug in one callback or pane must not take the editor, and the user's work, down with
        it: each queued callback and each stage runs guarded (:meth:`_guarded`).
        """
        self._guarded(self.canvas.begin_frame)  # before any callback moves a node
        for job in dpg.get_callback_queue() or []:
            self._guarded(_run_callback, job)
        for stage in (self.pump, self.process.tick, self.recovery.tick, self.controls.tick, self.canvas.poll, self.menus.tick,
                      self._watch_plugins, self.welcome.tick, self._take_drops):
            self._guarded(stage)

    def _take_drops(self) -> None:
        """Act on what was dropped on the window during the last rendered frame (ui/drop.py)."""
        if self.drop_hook is not None:
            for drop in self.drop_hook.drain():
                self._guarded(self.drops.handle, drop.paths, drop.pos)

    def _guarded(self, fn: Any, *args: Any) -> None:
        """Run ``fn``; an exception is reported in the status line (traceback on stderr) and
        the project is written to its recovery file, and the editor carries on."""
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - the editor must outlive its own bugs
            self.internal_errors += 1
            traceback.print_exc()
            target = args[0][0] if fn is _run_callback and args and args[0] else fn
            where = getattr(target, "__qualname__", repr(target))
            self.state.say(f"internal error in {where}: {type(e).__name__}: {e} "
                           "(please report it; unsaved work is in the recovery file)")
            with contextlib.suppress(Exception):
                self.recovery.write_if_dirty()

    def close(self) -> None:
        """Save the pane arrangement, end a run on N processes and shut the engine down."""
        self.workspace.save()
        self.process.close()
        if self.client is not None:
            self.client.shutdown(timeout=3.0)
            self.client = None


# -- the app ---------------------------------------------------------------------------------
def _create(size: tuple[int, int], project_path: str | None) -> Editor:
    dpg.create_context()
    dpg.configure_app(manual_callback_management=True)
    saved_layout = configure_docking()
    dpg.create_viewport(title="dpg-blocks", width=size[0], height=size[1], min_width=900, min_height=600,
                        disable_close=True)  # the close button asks about unsaved changes (exit callback)
    editor = Editor(EditorState(), size, saved_layout=saved_layout)
    dpg.set_exit_callback(lambda: editor.controls.quit())
    dpg.set_viewport_resize_callback(lambda: editor.layout(dpg.get_viewport_client_width(),
                                                           dpg.get_viewport_client_height()))
    dpg.setup_dearpygui()
    dpg.show_viewport()
    if project_path:
        editor.controls.open(project_path)
    else:
        editor.controls.offer_recovery(None)  # what a crashed editor left untitled
    dpg.set_viewport_title(editor.state.title)
    return editor


# benchmarks/startup.py: write the time of the first frame showing validation colours, then quit
VALIDATED_PROBE_ENV = "DPG_BLOCKS_VALIDATED_PROBE"


def run_editor(project_path: str | None, size: tuple[int, int] = (1600, 1000)) -> int:
    """Open the editor (on ``project_path`` if given) and run until the window closes."""
    editor = _create(size, project_path)
    try:
        dpg.render_dearpygui_frame()  # the first frame, before the engine (and torch) exist
        trace("first_frame")
        if fit_viewport():  # on a small screen without a window manager, all of it stays visible
            editor.layout(dpg.get_viewport_width(), dpg.get_viewport_height())
        probe = os.environ.get("DPG_BLOCKS_STARTUP_PROBE")
        if probe:
            write_text_atomic(probe, repr(time.time()))
            return 0
        editor.drop_hook = install_drop_hook()  # the GLFW window exists once a frame is drawn
        editor.start_engine()
        # SIGTERM ends the loop without asking; unsaved work goes to the recovery file (below).
        signal.signal(signal.SIGTERM, lambda *_: dpg.stop_dearpygui())
        dump = StateDump(editor, _layout_info)  # DPG_BLOCKS_STATE_DUMP: the real-input tests' view
        until_validated = os.environ.get(VALIDATED_PROBE_ENV)
        shown = False
        while dpg.is_dearpygui_running():
            editor.frame()
            dpg.render_dearpygui_frame()
            editor._guarded(dump.tick)
            if not shown and editor.state.validation.received:
                shown = True  # this frame drew the first validation's colours
                trace("validated_frame")
                if until_validated:
                    write_text_atomic(until_validated, repr(time.time()))
                    break
    finally:
        if not editor.controls.closed_cleanly:
            editor.recovery.write_if_dirty()  # SIGTERM or an exception: keep the unsaved work
        editor.close()
        dpg.destroy_context()
    return 0


def _run_callback(job: Any) -> None:
    """One job of Dear PyGui's callback queue, called as ``dpg.run_callbacks`` would."""
    fn = job[0]
    if fn is not None:
        fn(*job[1:1 + len(inspect.signature(fn).parameters)])


def clipboard_file() -> Path:
    """Where the last copied blocks are kept, shared by every editor window of this user."""
    from dpg_blocks.core.user_folder import user_dir

    return user_dir() / "clipboard.json"


def find_block(state: EditorState, name: str) -> str | None:
    """A block by id, name, or path (``Backbone/FC1`` or ``Backbone › FC1``)."""
    if state.block(name) is not None:
        return name
    parts = [p.strip() for p in name.replace("›", "/").split("/") if p.strip()]
    for b in state.project.graph.walk():
        if state.project.path_of(b.id) == parts:
            return b.id
    return None


def run_screenshot(
    project_path: str | None,
    out: str,
    select: str | None = None,
    size: tuple[int, int] = (1600, 1000),
    boxes: str | None = None,
    timeout_s: float = 90.0,
    open_super: str | None = None,
    layout: bool = False,
    tab: str | None = None,
    train_epochs: int = 0,
    code: str | None = None,
    runs: str | None = None,
    processes: int = 0,
    zoom: float | str | None = None,
) -> int:
    """Render the editor on ``project_path`` (None: a bare editor, as a bare ``dpg-blocks`` opens)
    once validation has arrived, save the frame, exit.

    ``open_super`` opens that SuperBlock on the canvas; ``select`` opens the graph holding that
    block and centres it; ``layout`` runs auto-layout first (the file is not changed); ``tab``
    shows that bottom tab (debug, visualization, optimization or plugins); ``train_epochs``
    presses Train and shoots once that many epochs are plotted and the selected block's
    heatmaps have arrived, or once the run paused itself (a block failed in training);
    ``code`` selects that block and opens its code window; ``runs`` ("all" or comma-separated
    run names) ticks those kept runs and shoots their curves overlaid in the Curves tab;
    ``zoom`` (a factor, or "fit") zooms the canvas before the shot (the file is not changed).
    ``processes`` (with ``train_epochs``) presses "Run on N processes" instead of Train (the
    saved project's epochs; the shot once ``train_epochs`` are plotted or the run has ended).
    Returns 0 on success, 1 on a timeout, 2 when the project cannot be read.
    """
    from dpg_blocks.core import load_project

    if project_path:
        load_project(project_path)  # ProjectFileError propagates: the caller reports it
    editor = _create(size, project_path)
    state = editor.state
    out_path = Path(out).resolve()
    out_path.unlink(missing_ok=True)
    try:
        dpg.render_dearpygui_frame()
        editor.start_engine()
        select = select or code
        for name in (open_super, select):
            if name and find_block(state, name) is None:
                raise SystemExit(f"no block {name!r} in {project_path}")
        if open_super:
            state.enter(find_block(state, open_super) or "")
        if tab:
            editor.show_tab(tab)
        if select:
            editor.canvas.go_to(find_block(state, select) or "")  # opens its graph, centres it
        deadline = time.monotonic() + timeout_s
        settled = 0
        saved_at = 0
        while dpg.is_dearpygui_running() and time.monotonic() < deadline:
            if not saved_at:  # once the frame is asked for, nothing changes: boxes match the pixels
                editor.frame()
            dpg.render_dearpygui_frame()
            v = state.validation
            if state.catalog and v.received and not v.pending and not editor._validate_wanted:
                settled += 1
            if layout and settled == 2:
                layout = False
                editor.canvas.auto_layout()
                settled = 0
            if zoom is not None and settled == 2:
                if zoom == "fit":
                    editor.canvas.zoom_to_fit()
                else:
                    editor.canvas.zoom_to(float(zoom))
                zoom = None
                settled = 0
            if editor.canvas.framing:  # a framing (a zoom to fit) under way
                settled = min(settled, 2)
            if train_epochs and settled == 2 and state.training.state == "idle":
                if processes:
                    dpg.set_value(editor.process.processes, processes)
                    editor.process.refresh()
                    editor.process.launch()
                else:
                    editor.training_command("train")
            if processes and train_epochs and (state.training.state in ("idle", "running")
                                               and len(state.training.epochs) < train_epochs):
                settled = min(settled, 2)
            elif train_epochs and not processes and not _trained(editor, train_epochs):
                settled = min(settled, 2)
            if not editor.data.ready():  # a selected Input: shoot once its data preview is drawn
                settled = min(settled, 2)
            if runs and settled == 2:
                wanted = {n.strip() for n in runs.split(",")}
                chosen = [r for r in editor.runs.runs if runs == "all" or r.name in wanted]
                if not chosen:
                    raise SystemExit(f"no kept run called {runs!r} (runs: {', '.join(r.name for r in editor.runs.runs)})")
                for r in chosen:
                    editor.runs.tick(r.id, True)
                editor.show_tab("optimization")
                dpg.set_value(editor.results.view_tabs, editor.results.curves_tab)
                runs = None
            if code and settled == 2:
                editor.code_window.open(find_block(state, code) or "")
                code = None
            if settled == 8 and not saved_at:
                dpg.output_frame_buffer(str(out_path))
                saved_at = settled
            if saved_at and out_path.exists() and out_path.stat().st_size > 0:
                if boxes:
                    write_text_atomic(boxes, json.dumps(_layout_info(editor), indent=1))
                return 0
        return 1
    finally:
        editor.close()
        dpg.destroy_context()


def _trained(editor: Editor, epochs: int) -> bool:
    """Whether ``epochs`` epochs are plotted and every watched port has shown a frame."""
    run = editor.state.training
    if run.state == "failed":
        raise SystemExit(f"training failed: {run.reason}")
    if run.state == "paused":
        return True  # the run paused itself (a block failed): that is the picture
    watched = {s.tap for s in editor.visual.slots if s.tap}
    return len(run.epochs) >= epochs and watched <= set(editor.visual.frames)


def _layout_info(editor: Editor) -> dict[str, Any]:
    """Node rectangles and statuses, for tests that check a screenshot's pixels."""
    nodes = editor.canvas.boxes()
    for bid, box in nodes.items():
        rec = editor.state.record(bid)
        box["status"] = rec["status"] if rec else ""
    tabs = {"debug": editor.debug_tab, "visualization": editor.visual_tab,
            "optimization": editor.results_tab, "plugins": editor.plugins_tab}
    widgets = {f"tab:{name}": tab for name, tab in tabs.items()}
    widgets["canvas"] = editor.canvas.view  # the visible canvas: what "every block in view" means
    widgets.update({"epochs": editor.results.epochs, "seed": editor.results.seed, "data_strip": editor.data.strip,
                    "train": editor.results.train_btn, "step": editor.results.step_btn,
                    "stop": editor.results.stop_btn, "progress_bar": editor.results.progress_bar})
    code = editor.code_window
    code_info = {"shown": code.shown, "marked": code.marked_rect(), "error": code.error_text,
                 "forward": _rect(code.forward), "backward": _rect(code.backward),
                 "window": {"x": int(dpg.get_item_pos(code.window)[0]), "y": int(dpg.get_item_pos(code.window)[1]),
                            "w": int(dpg.get_item_width(code.window) or 0),
                            "h": int(dpg.get_item_height(code.window) or 0)}} if code.shown else {}
    return {"nodes": nodes, "zoom": editor.canvas.zoom, "culled": editor.canvas.zoomer.culled,
            "debug": editor.debug.text(), "data": editor.data.text(), "engine": editor.state.engine_text,
            "status": editor.state.status, "dirty": editor.state.dirty,
            "code": code_info, "welcome": editor.welcome.boxes(), "runs": editor.runs.boxes(), "evaluation": editor.results.evaluation.boxes(),
            "plots": editor.results.plot_boxes(), "widgets": {name: _rect(item) for name, item in widgets.items()},
            "training": {"state": editor.state.training.state, "live": sorted(editor.state.training.live_blocks),
                         "progress": list(editor.results.progress_reading())}}


def _rect(item: int | str) -> dict[str, int]:
    """Where ``item`` was drawn in the last frame (zero-sized when it was not shown)."""
    state = dpg.get_item_state(item)  # some items (a progress bar) report no rectangle
    (x, y), (w, h) = state.get("rect_min", (0, 0)), state.get("rect_size", (0, 0))
    return {"x": int(x), "y": int(y), "w": int(w), "h": int(h)}
