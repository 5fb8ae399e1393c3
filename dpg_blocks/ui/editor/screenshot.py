"""``dpg-blocks screenshot``: the editor drawn once validation has arrived, saved as a PNG, and
where everything was drawn (``--boxes``), so tests check the pixels against the rectangles.

:func:`run_screenshot` drives a real editor (from :func:`dpg_blocks.ui.editor.app._create`) through a
scenario (open a SuperBlock, train N epochs, open a code window, tick runs…) and shoots when the
frame has settled; :func:`layout_info` is the rectangle report it writes, which the real-input
tests' state dump (``ui/state/dump.py``) reads too.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dearpygui.dearpygui as dpg

from dpg_blocks.core.atomic_file import write_text_atomic
from dpg_blocks.ui.editor.block_commands import find_block

if TYPE_CHECKING:
    from dpg_blocks.ui.editor.app import Editor


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
    from dpg_blocks.ui.editor.app import (
        _create,  # app imports this module for layout_info: imported here, no cycle
    )

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
                    write_text_atomic(boxes, json.dumps(layout_info(editor), indent=1))
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


def layout_info(editor: Editor) -> dict[str, Any]:
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
            "code": code_info, "welcome": editor.welcome.boxes(), "overview": editor.overview.boxes(), "runs": editor.runs.boxes(), "evaluation": editor.results.evaluation.boxes(),
            "plots": editor.results.plot_boxes(), "widgets": {name: _rect(item) for name, item in widgets.items()},
            "training": {"state": editor.state.training.state, "live": sorted(editor.state.training.live_blocks),
                         "progress": list(editor.results.progress_reading())}}


def _rect(item: int | str) -> dict[str, int]:
    """Where ``item`` was drawn in the last frame (zero-sized when it was not shown)."""
    state = dpg.get_item_state(item)  # some items (a progress bar) report no rectangle
    (x, y), (w, h) = state.get("rect_min", (0, 0)), state.get("rect_size", (0, 0))
    return {"x": int(x), "y": int(y), "w": int(w), "h": int(h)}
