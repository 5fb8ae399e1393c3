"""The editor: the panes on one window, the engine pump, shortcuts, and the render loop.

:class:`Editor` builds every pane into the current Dear PyGui context and needs no viewport, so
tests build it, call its callbacks and pump a real engine without a display. :func:`run_editor`
and :func:`run_screenshot` add the viewport and the loop. The GUI process never imports torch:
the engine client (numpy, msgpack) is imported only after the first frame is on screen.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg

from .blocks_menu import BlocksMenu
from .canvas import Canvas
from .debug_pane import DebugPane
from .network_tree import NetworkTree
from .project_controls import ProjectControls
from .results_pane import ResultsPane
from .state import EditorState
from .theme import ENGINE_COLOURS, build_themes, load_fonts

POLL_BUDGET_MS = 4.0
LEFT_W, RIGHT_W, BOTTOM_H, STATUS_H, MENU_H = 290, 290, 270, 26, 22
INPUT_ITEMS = ("mvAppItemType::mvInputText", "mvAppItemType::mvInputInt", "mvAppItemType::mvInputFloat")


class Editor:
    """Every pane, wired to one :class:`EditorState` and (optionally) an engine client."""

    def __init__(self, state: EditorState | None = None, size: tuple[int, int] = (1600, 1000)) -> None:
        self.state = state or EditorState()
        self.client: Any = None
        self._validate_wanted = True
        self.themes = build_themes()
        self.fonts = load_fonts()
        self.size = size
        with dpg.window(tag="dpgb/main", no_scrollbar=True, menubar=True) as self.window:
            self._menu_bar()
            with dpg.group(horizontal=True):
                self.left = dpg.add_child_window(width=LEFT_W, height=100)
                self.centre = dpg.add_child_window(width=100, height=100, no_scrollbar=True)
                self.right = dpg.add_child_window(width=RIGHT_W, height=100)
            self.bottom = dpg.add_child_window(height=BOTTOM_H, width=-1)
            with dpg.group(horizontal=True):
                self.engine_text = dpg.add_text("engine stopped")
                dpg.add_text("|", color=(110, 110, 110))
                self.status_text = dpg.add_text("")
        self.canvas = Canvas(self.state, self.themes, self.centre)
        self.tree = NetworkTree(self.state, self.left)
        self.blocks_menu = BlocksMenu(self.state, self.right)
        with dpg.tab_bar(parent=self.bottom):
            with dpg.tab(label="Debug") as self.debug_tab:
                self.debug = DebugPane(self.state, self.themes, self.debug_tab)
            with dpg.tab(label="Optimization & Results") as self.results_tab:
                self.results = ResultsPane(self.state, self.results_tab, self.training_command)
        self.controls = ProjectControls(self.state)
        self._context_menu()
        self._handlers()
        self.state.subscribe(self._on_state)
        self.layout(*size)
        self.canvas.sync()
        self.tree.update()
        self.debug.update()
        self._show_engine()

    # -- building ----------------------------------------------------------------------------
    def _menu_bar(self) -> None:
        with dpg.menu_bar():
            with dpg.menu(label="File"):
                dpg.add_menu_item(label="New", callback=lambda: self.controls.new())
                dpg.add_menu_item(label="Open…", callback=lambda: self.controls.open_dialog())
                dpg.add_menu_item(label="Save", shortcut="Ctrl+S", callback=lambda: self.controls.save())
                dpg.add_menu_item(label="Save As…", callback=lambda: self.controls.save_as_dialog())
                dpg.add_separator()
                dpg.add_menu_item(label="Quit", callback=lambda: dpg.stop_dearpygui())
            with dpg.menu(label="Edit"):
                dpg.add_menu_item(label="Undo", shortcut="Ctrl+Z", callback=lambda: self.state.undo())
                dpg.add_menu_item(label="Redo", shortcut="Ctrl+Y", callback=lambda: self.state.redo())
                dpg.add_separator()
                dpg.add_menu_item(label="Delete", shortcut="Del", callback=lambda: self.canvas.delete_selected())
                dpg.add_menu_item(label="Merge selected into a SuperBlock", callback=lambda: self.merge_selected())
                dpg.add_menu_item(label="Expand SuperBlock", callback=lambda: self.expand_selected())
                dpg.add_menu_item(label="Rename…", callback=lambda: self.rename_dialog())

    def _context_menu(self) -> None:
        with dpg.window(show=False, no_title_bar=True, no_move=True, autosize=True, popup=False,
                        no_saved_settings=True) as self.menu_window:
            dpg.add_menu_item(label="Rename…", callback=lambda: self._menu(self.rename_dialog))
            dpg.add_menu_item(label="Merge selected into a SuperBlock", callback=lambda: self._menu(self.merge_selected))
            self.expand_item = dpg.add_menu_item(label="Expand SuperBlock", callback=lambda: self._menu(self.expand_selected))
            dpg.add_menu_item(label="Delete", callback=lambda: self._menu(self.canvas.delete_selected))
        with dpg.window(label="Rename block", modal=True, show=False, autosize=True,
                        no_saved_settings=True) as self.rename_window:
            self.rename_input = dpg.add_input_text(width=260, on_enter=True, callback=lambda: self._rename_ok())
            with dpg.group(horizontal=True):
                dpg.add_button(label="Rename", callback=lambda: self._rename_ok())
                dpg.add_button(label="Cancel", callback=lambda: dpg.configure_item(self.rename_window, show=False))

    def _handlers(self) -> None:
        with dpg.handler_registry():
            dpg.add_mouse_click_handler(button=dpg.mvMouseButton_Right, callback=self._on_right_click)
            dpg.add_mouse_click_handler(button=dpg.mvMouseButton_Left, callback=self._on_left_click)
            dpg.add_mouse_release_handler(button=dpg.mvMouseButton_Left, callback=lambda: self.canvas.record_moves())
            dpg.add_key_press_handler(callback=self._on_key)

    def layout(self, width: int, height: int) -> None:
        """Size the panes for a viewport of ``width`` × ``height``."""
        self.size = (width, height)
        top = max(200, height - BOTTOM_H - STATUS_H - MENU_H - 30)
        centre = max(300, width - LEFT_W - RIGHT_W - 40)
        for item, w in ((self.left, LEFT_W), (self.centre, centre), (self.right, RIGHT_W)):
            dpg.configure_item(item, width=w, height=top)
        dpg.configure_item(self.bottom, height=BOTTOM_H)

    # -- state -> widgets --------------------------------------------------------------------
    def _on_state(self, topic: str) -> None:
        if topic == "document":
            self.canvas.sync()
            self.tree.update()
            self.debug.update()
            self.results.update_settings()
            self.request_validation()
        elif topic == "validation":
            self.canvas.apply_validation()
            self.tree.colour()
            self.debug.update()
        elif topic == "selection":
            self.debug.update()
        elif topic == "catalog":
            self.blocks_menu.refresh()
            self.canvas.sync()
            self.tree.update()
        elif topic == "engine":
            self._show_engine()
        elif topic == "status":
            dpg.set_value(self.status_text, self.state.status)
        elif topic == "training":
            self.results.update()
        elif topic == "file" and dpg.is_viewport_ok():
            dpg.set_viewport_title(self.state.title)

    def _show_engine(self) -> None:
        dpg.set_value(self.engine_text, self.state.engine_text)
        key = self.state.engine_state
        if key == "ready" and self.state.validation.pending:
            key = "validating"
        dpg.bind_item_theme(self.engine_text, self.themes.status_text.get(key if key in ENGINE_COLOURS else "stopped", 0))

    # -- gestures --------------------------------------------------------------------------
    def _typing(self) -> bool:
        item = dpg.get_focused_item()
        return bool(item) and dpg.does_item_exist(item) and dpg.get_item_type(item) in INPUT_ITEMS and dpg.is_item_active(item)

    def _on_key(self, sender: Any, key: int) -> None:
        ctrl = dpg.is_key_down(dpg.mvKey_LControl) or dpg.is_key_down(dpg.mvKey_RControl)
        if ctrl and key == dpg.mvKey_S:
            self.controls.save()
        elif self._typing():
            return
        elif ctrl and key == dpg.mvKey_Z:
            self.state.undo()
        elif ctrl and key == dpg.mvKey_Y:
            self.state.redo()
        elif key == dpg.mvKey_Delete:
            self.canvas.delete_selected()

    def _on_right_click(self) -> None:
        bid = self.canvas.hovered_block()
        if bid is None:
            return
        if bid not in self.state.selected:
            self.state.select([bid])
        b = self.state.block(bid)
        dpg.configure_item(self.expand_item, enabled=bool(b and b.is_super))
        dpg.configure_item(self.menu_window, show=True, pos=dpg.get_mouse_pos(local=False))

    def _on_left_click(self) -> None:
        if dpg.is_item_shown(self.menu_window) and not dpg.is_item_hovered(self.menu_window):
            dpg.configure_item(self.menu_window, show=False)

    def _menu(self, action: Any) -> None:
        dpg.configure_item(self.menu_window, show=False)
        action()

    def merge_selected(self) -> str | None:
        ids = self.canvas.selected_blocks() or list(self.state.selected)
        return self.state.merge(ids)

    def expand_selected(self) -> bool:
        sel = self.state.selected
        return self.state.unmerge(sel[-1]) if sel else False

    def rename_dialog(self) -> None:
        sel = self.state.selected
        b = self.state.block(sel[-1]) if sel else None
        if b is None:
            self.state.say("select a block to rename")
            return
        dpg.set_value(self.rename_input, b.name)
        dpg.configure_item(self.rename_window, show=True, pos=dpg.get_mouse_pos(local=False))

    def _rename_ok(self) -> None:
        sel = self.state.selected
        if sel and self.state.rename(sel[-1], dpg.get_value(self.rename_input)):
            dpg.configure_item(self.rename_window, show=False)

    # -- the engine ----------------------------------------------------------------------------
    def start_engine(self, **options: Any) -> None:
        """Spawn the engine process (imports the client, never torch)."""
        from dpg_blocks.client.engine_client import EngineClient

        self.client = EngineClient(**options)
        self.client.start()

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
            self.state.validation_sent(rid)

    def handle(self, ev: Any) -> None:
        """Apply one engine event to the state."""
        from dpg_blocks import protocol as m
        from dpg_blocks.client.engine_client import ClientError, EngineStatus

        st = self.state
        if isinstance(ev, m.Ready):
            st.set_catalog(ev.catalog)
            failures = [f.get("plugin") or f.get("name") or "?" for f in ev.failures]
            if failures:
                st.say(f"{len(failures)} plugin(s) failed to load: {', '.join(map(str, failures))}")
        elif isinstance(ev, EngineStatus):
            st.set_engine(ev.state, ev.reason)
            if ev.state in ("crashed", "hung"):
                st.say(ev.reason)
                if st.training.state in ("running", "paused", "starting"):
                    st.training.state, st.training.reason = "failed", ev.reason
                    st.emit("training")
                if st.validation.pending:
                    st.validation.received = st.validation.sent  # that answer will never come
        elif isinstance(ev, m.ValidationResult):
            st.validation_result(ev.request_id, ev.records, ev.ok, ev.error)
        elif isinstance(ev, m.TrainingState):
            if ev.request_id in (None, st.training.request_id):
                st.training.state, st.training.reason = ev.state, ev.reason
                st.emit("training")
        elif isinstance(ev, m.EpochMetrics):
            if ev.request_id == st.training.request_id:
                st.training.epochs.append(dict(ev.metrics))
                st.emit("training")
        elif isinstance(ev, m.StepMetrics):
            if ev.request_id == st.training.request_id and ev.losses:
                st.training.last_step_loss = float(sum(ev.losses.values()))
                if not st.training.epochs:
                    st.emit("training")
        elif isinstance(ev, m.NonFinite):
            st.say(f"non-finite values ({ev.what}) in {' › '.join(ev.path)}.{ev.port} at step {ev.step}; training paused")
        elif isinstance(ev, m.Error):
            st.say(f"engine error in {ev.where}: {ev.error_type}: {ev.message}")
            if ev.request_id is not None and ev.request_id == st.training.request_id:
                st.training.state, st.training.reason = "failed", f"{ev.error_type}: {ev.message}"
                st.emit("training")
        elif isinstance(ev, ClientError):
            st.say(ev.message)

    def training_command(self, what: str) -> None:
        """Train / pause / resume / stop through the protocol."""
        from dpg_blocks import protocol as m

        if self.client is None:
            self.state.say("the engine is not running")
            return
        st = self.state
        if what == "train":
            if st.validation.ok is False:
                st.say("the network has errors (red blocks); training would fail")
            rid = self.client.request_id()
            st.training = type(st.training)(request_id=rid, state="starting")
            self.client.send(m.Train(project=st.project_dict(), project_dir=st.project_dir, request_id=rid))
        elif what == "pause":
            self.client.send(m.Pause())
        elif what == "resume":
            self.client.send(m.Resume())
        elif what == "stop":
            self.client.send(m.Stop())
        st.emit("training")

    def frame(self) -> None:
        """Everything the editor does once per frame, before rendering."""
        dpg.run_callbacks(dpg.get_callback_queue())
        self.pump()
        self.canvas.poll_selection()

    def close(self) -> None:
        if self.client is not None:
            self.client.shutdown(timeout=3.0)
            self.client = None


# -- the app ---------------------------------------------------------------------------------
def _create(size: tuple[int, int], project_path: str | None) -> Editor:
    dpg.create_context()
    dpg.configure_app(manual_callback_management=True)
    dpg.create_viewport(title="dpg-blocks", width=size[0], height=size[1], min_width=900, min_height=600)
    editor = Editor(EditorState(), size)
    dpg.set_primary_window(editor.window, True)
    dpg.set_viewport_resize_callback(lambda: editor.layout(dpg.get_viewport_client_width(),
                                                           dpg.get_viewport_client_height()))
    dpg.setup_dearpygui()
    dpg.show_viewport()
    if project_path:
        editor.controls.open(project_path)
    dpg.set_viewport_title(editor.state.title)
    return editor


def run_editor(project_path: str | None, size: tuple[int, int] = (1600, 1000)) -> int:
    """Open the editor (on ``project_path`` if given) and run until the window closes."""
    editor = _create(size, project_path)
    try:
        dpg.render_dearpygui_frame()  # the first frame, before the engine (and torch) exist
        probe = os.environ.get("DPG_BLOCKS_STARTUP_PROBE")
        if probe:
            Path(probe).write_text(repr(time.time()))
            return 0
        editor.start_engine()
        # SIGTERM ends the loop like closing the window: the engine is shut down cleanly.
        signal.signal(signal.SIGTERM, lambda *_: dpg.stop_dearpygui())
        while dpg.is_dearpygui_running():
            editor.frame()
            dpg.render_dearpygui_frame()
    finally:
        editor.close()
        dpg.destroy_context()
    return 0


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
    project_path: str,
    out: str,
    select: str | None = None,
    size: tuple[int, int] = (1600, 1000),
    boxes: str | None = None,
    timeout_s: float = 90.0,
) -> int:
    """Render the editor on ``project_path`` once validation has arrived, save the frame, exit.

    Returns 0 on success, 1 on a timeout, 2 when the project cannot be read.
    """
    from dpg_blocks.core import load_project

    load_project(project_path)  # ProjectFileError propagates: the caller reports it
    editor = _create(size, project_path)
    state = editor.state
    out_path = Path(out).resolve()
    out_path.unlink(missing_ok=True)
    try:
        dpg.render_dearpygui_frame()
        editor.start_engine()
        if select:
            bid = find_block(state, select)
            if bid is None:
                raise SystemExit(f"no block {select!r} in {project_path}")
            state.select([bid])
        deadline = time.monotonic() + timeout_s
        settled = 0
        saved_at = 0
        while dpg.is_dearpygui_running() and time.monotonic() < deadline:
            editor.frame()
            dpg.render_dearpygui_frame()
            v = state.validation
            if state.catalog and v.received and not v.pending and not editor._validate_wanted:
                settled += 1
            if settled == 8 and not saved_at:
                dpg.output_frame_buffer(str(out_path))
                saved_at = settled
            if saved_at and out_path.exists() and out_path.stat().st_size > 0:
                if boxes:
                    Path(boxes).write_text(json.dumps(_layout_info(editor), indent=1))
                return 0
        return 1
    finally:
        editor.close()
        dpg.destroy_context()


def _layout_info(editor: Editor) -> dict[str, Any]:
    """Node rectangles and statuses, for tests that check a screenshot's pixels."""
    nodes = editor.canvas.boxes()
    for bid, box in nodes.items():
        rec = editor.state.record(bid)
        box["status"] = rec["status"] if rec else ""
    return {"nodes": nodes, "debug": editor.debug.text(), "engine": editor.state.engine_text}
