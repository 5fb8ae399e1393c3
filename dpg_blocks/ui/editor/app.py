"""The editor: the panes on one window, wired to one state, and the render loop.

:class:`Editor` builds every pane into the current Dear PyGui context and needs no viewport, so
tests build it, call its callbacks and pump a real engine without a display. It keeps here what
holds the panes together (building them, routing state topics to them, the guarded frame); its
other parts are mixins, each in its own module: the engine link (``ui/editor/engine_link.py``), the
menus (``ui/editor/menus.py``), the block commands (``ui/editor/block_commands.py``) and the mouse and
keys (``ui/editor/gestures.py``). :func:`run_editor` and :func:`run_screenshot`
(``ui/editor/screenshot.py``) add the viewport and the loop. The GUI process never imports torch: the
engine client (numpy, msgpack) is imported only after the first frame is on screen.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import signal
import time
import traceback
from typing import Any

import dearpygui.dearpygui as dpg

from dpg_blocks.core.atomic_file import write_text_atomic
from dpg_blocks.core.startup_trace import mark as trace
from dpg_blocks.ui.canvas.graph_canvas import Canvas
from dpg_blocks.ui.canvas.overview import Overview
from dpg_blocks.ui.canvas.welcome import Welcome
from dpg_blocks.ui.code.window import CodeWindow
from dpg_blocks.ui.editor.block_commands import BlockCommands, find_block
from dpg_blocks.ui.editor.engine_link import EngineLink
from dpg_blocks.ui.editor.gestures import Gestures
from dpg_blocks.ui.editor.menu_escape import MenuCloser
from dpg_blocks.ui.editor.menus import EditorMenus
from dpg_blocks.ui.editor.screen import fit_viewport
from dpg_blocks.ui.editor.screenshot import layout_info, run_screenshot
from dpg_blocks.ui.editor.shortcuts import Keyboard
from dpg_blocks.ui.editor.workspace import Workspace, configure_docking
from dpg_blocks.ui.files.data_dialog import DATA_W, DataControls
from dpg_blocks.ui.files.drop import DropHook, install_drop_hook
from dpg_blocks.ui.files.drop_actions import DropActions
from dpg_blocks.ui.files.export_dialog import ExportControls
from dpg_blocks.ui.files.import_dialog import ImportControls
from dpg_blocks.ui.files.project_controls import ProjectControls
from dpg_blocks.ui.panes.blocks_menu import BlocksMenu
from dpg_blocks.ui.panes.debug_pane import DebugPane
from dpg_blocks.ui.panes.network_tree import NetworkTree
from dpg_blocks.ui.panes.plugins_pane import PluginsPane
from dpg_blocks.ui.panes.visual_pane import VisualPane
from dpg_blocks.ui.state.dump import StateDump
from dpg_blocks.ui.state.editor_state import EditorState
from dpg_blocks.ui.state.prefs import Preferences
from dpg_blocks.ui.state.recovery import DEFAULT_INTERVAL_S, Recovery
from dpg_blocks.ui.theme import ENGINE_COLOURS, build_themes, load_fonts
from dpg_blocks.ui.training.process_controls import ProcessControls
from dpg_blocks.ui.training.results_pane import ResultsPane
from dpg_blocks.ui.training.runs_list import RunsList

__all__ = ["Editor", "find_block", "run_editor", "run_screenshot"]


class Editor(EngineLink, EditorMenus, BlockCommands, Gestures):
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
        self.plugin_watch: Any = None  # a PluginWatch once the engine runs (ui/panes/plugin_watch.py)
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
        self.overview = Overview(self.canvas)  # every block, culled or not, and the view's frame
        self.drops = DropActions(self)  # files dropped from the desktop, by kind (ui/files/drop_actions.py)
        self.drop_hook: DropHook | None = None  # installed by run_editor once the window exists
        self.menu_block: str | None = None  # the block the right-click menu was opened on
        self._context_menu()
        self._block_dialogs()
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

    # -- layout and tabs -----------------------------------------------------------------------
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
            self.canvas.framer.refit_after_validation()
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

    # -- the frame ---------------------------------------------------------------------------
    def frame(self) -> None:
        """Everything the editor does once per frame, before rendering.

        A bug in one callback or pane must not take the editor, and the user's work, down with
        it: each queued callback and each stage runs guarded (:meth:`_guarded`).
        """
        self._guarded(self.canvas.begin_frame)  # before any callback moves a node
        for job in dpg.get_callback_queue() or []:
            self._guarded(_run_callback, job)
        for stage in (self.pump, self.process.tick, self.recovery.tick, self.controls.tick, self.canvas.poll, self.menus.tick,
                      self._watch_plugins, self.welcome.tick, self.overview.tick, self._take_drops):
            self._guarded(stage)

    def _take_drops(self) -> None:
        """Act on what was dropped on the window during the last rendered frame (ui/files/drop.py)."""
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
        dump = StateDump(editor, layout_info)  # DPG_BLOCKS_STATE_DUMP: the real-input tests' view
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

