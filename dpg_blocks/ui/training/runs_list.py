"""The Runs tab: every kept run of the project, its curves overlaid on demand, and what to do with it.

The engine keeps each run in a folder beside the project (``core/runs/folders.py``); this list reads
those folders' ``run.json`` — once per change (a run started or ended, an epoch finished, the
project opened or saved elsewhere), never per frame. A ticked run's ``metrics.jsonl`` is read
once and cached by (run, epochs done); its loss and test accuracy are drawn in the Curves tab in
a colour of its own (RUN_COLOURS, fixed so a render test can find it), labelled with its name.
Per run: rename (typed, committed on Enter or leaving the field), Continue (Train resuming it
exactly; the engine refuses a changed project and says what changed), Load weights (the next
Train starts from its best checkpoint), Evaluate (its best checkpoint with the project it was
trained from, on the test split, in the Evaluation tab) and Delete (asks first; a live run
cannot be deleted).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg

from dpg_blocks.core.runs.folders import (
    RunError,
    RunInfo,
    delete_run,
    list_runs,
    read_metrics,
    rename_run,
    runs_folder,
)
from dpg_blocks.ui.state.editor_state import EditorState
from dpg_blocks.ui.text import short

RUN_COLOURS = (  # overlay colours, never the live run's (results_pane.SERIES)
    (230, 90, 200), (250, 220, 80), (100, 220, 230), (240, 110, 90), (170, 130, 250),
    (150, 230, 120), (255, 170, 200), (200, 160, 90), (120, 150, 255), (210, 210, 210),
)
MUTED = (160, 160, 170)
CHANGES_W = 46  # characters of "what changed" shown in the row (all of it in the tooltip)


def final_text(info: RunInfo) -> str:
    """``loss 0.213 · val 0.951 · test 0.962`` from the run's last epoch (a regression run's
    test figure is its R²: ``test R² 0.978``)."""
    f = info.final
    parts = []
    for key, label in (("loss", "loss"), ("val_accuracy", "val"), ("test_accuracy", "test"), ("test_r2", "test R²")):
        v = f.get(key)
        if isinstance(v, int | float):
            parts.append(f"{label} {v:.3f}")
    return " · ".join(parts) or "—"


class RunsList:
    """Fills ``parent``; ``train(resume=, init_from=)`` starts a run; ``axes`` are the Curves'
    (loss axis, accuracy axis) the overlays are drawn on."""

    def __init__(self, state: EditorState, parent: int | str, train: Callable[..., None],
                 axes: tuple[int | str, int | str], evaluate: Callable[[RunInfo, Path], None]) -> None:
        self.state = state
        self.train = train
        self.evaluate = evaluate  # (run, checkpoint): the Evaluation tab shows that model on the test split
        self.loss_axis, self.acc_axis = axes
        self.runs: list[RunInfo] = []
        self.ticked: set[str] = set()  # run ids
        self.colours: dict[str, tuple[int, int, int]] = {}
        self.series: dict[str, list[int | str]] = {}  # run id -> its overlay series
        self._metrics: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self.rows: dict[str, dict[str, int | str]] = {}  # run id -> its widgets
        self.init_from: str = ""  # the checkpoint the next Train starts from (Load weights)
        self._deleting: RunInfo | None = None
        for child in dpg.get_item_children(parent, 1) or []:
            dpg.delete_item(child)  # the placeholder text
        with dpg.group(parent=parent):
            with dpg.group(horizontal=True):
                dpg.add_button(label="Refresh", callback=lambda: self.refresh())
                self.where = dpg.add_text("", color=MUTED)
            self.note = dpg.add_text("", color=(240, 180, 80))
            self.body = dpg.add_group()
        with dpg.window(label="Delete run", modal=True, show=False, autosize=True, no_saved_settings=True) as self.confirm:
            self.confirm_text = dpg.add_text("")
            with dpg.group(horizontal=True):
                dpg.add_button(label="Delete", callback=lambda: self._delete_confirmed())
                dpg.add_button(label="Cancel", callback=lambda: dpg.configure_item(self.confirm, show=False))
        self.table: int | str | None = None

    # -- reading ---------------------------------------------------------------------------------
    @property
    def folder(self) -> Path:
        return runs_folder(self.state.path)

    def refresh(self) -> None:
        """Read the run folders again and rebuild the table (the ticked runs stay ticked)."""
        self.runs = list(reversed(list_runs(self.folder)))  # newest first
        ids = {r.id for r in self.runs}
        for gone in self.ticked - ids:
            self._untick(gone)
        where = "untitled project: runs are kept in " if not self.state.path else "kept in "
        dpg.set_value(self.where, f"{len(self.runs)} run(s) · {where}{self.folder}")
        self._build()
        self._redraw_overlays()

    def metrics(self, info: RunInfo) -> list[dict[str, Any]]:
        """The run's epochs, read once per (run, epochs done)."""
        key = (info.id, info.epochs_done)
        if key not in self._metrics:
            self._metrics = {k: v for k, v in self._metrics.items() if k[0] != info.id}
            self._metrics[key] = read_metrics(info.path)
        return self._metrics[key]

    # -- the table -------------------------------------------------------------------------------
    def _build(self) -> None:
        if self.table is not None:
            dpg.delete_item(self.table)
        self.rows = {}
        with dpg.table(parent=self.body, header_row=True, borders_innerH=True, scrollY=True, height=-1,
                       policy=dpg.mvTable_SizingFixedFit, clipper=True) as self.table:
            for label in ("", "name", "date", "state", "epochs", "what changed", "final", ""):
                dpg.add_table_column(label=label)
            for info in self.runs:
                self._row(info)

    def _row(self, info: RunInfo) -> None:
        widgets: dict[str, int | str] = {}
        with dpg.table_row():
            widgets["tick"] = dpg.add_checkbox(default_value=info.id in self.ticked, user_data=info.id,
                                               callback=lambda s, a, u: self.tick(u, bool(a)))
            widgets["name"] = dpg.add_input_text(default_value=info.name, width=150, on_enter=True,
                                                 user_data=info.id, callback=lambda s, a, u: self.rename(u, a))
            dpg.add_text(info.created.replace("T", " ")[:16])
            dpg.add_text(info.state, color=MUTED if info.state != "unreadable" else (240, 110, 90))
            dpg.add_text(f"{info.epochs_done}/{info.epochs_planned}")
            changed = "; ".join(info.changes) or ("first run" if info is self.runs[-1] else "nothing")
            widgets["changes"] = dpg.add_text(short(changed, CHANGES_W))
            if len(changed) > CHANGES_W or info.reason:
                with dpg.tooltip(widgets["changes"]):
                    dpg.add_text("\n".join(info.changes) or changed, wrap=500)
                    if info.reason:
                        dpg.add_text(info.reason, color=MUTED, wrap=500)
            dpg.add_text(final_text(info))
            with dpg.group(horizontal=True):
                usable = info.state != "unreadable"
                widgets["continue"] = dpg.add_button(label="Continue", user_data=info.id, enabled=usable,
                                                     callback=lambda s, a, u: self.continue_run(u))
                widgets["weights"] = dpg.add_button(label="Load weights", user_data=info.id, enabled=usable,
                                                    callback=lambda s, a, u: self.load_weights(u))
                widgets["evaluate"] = dpg.add_button(label="Evaluate", user_data=info.id, enabled=usable,
                                                     callback=lambda s, a, u: self.evaluate_run(u))
                widgets["delete"] = dpg.add_button(label="Delete", user_data=info.id,
                                                   callback=lambda s, a, u: self.ask_delete(u))
        self.rows[info.id] = widgets

    def _info(self, run_id: str) -> RunInfo | None:
        return next((r for r in self.runs if r.id == run_id), None)

    # -- actions ---------------------------------------------------------------------------------
    def tick(self, run_id: str, on: bool) -> None:
        """Overlay (or stop overlaying) a run's curves in the Curves tab."""
        if on:
            self.ticked.add(run_id)
        else:
            self._untick(run_id)
        self._redraw_overlays()

    def _untick(self, run_id: str) -> None:
        self.ticked.discard(run_id)
        for item in self.series.pop(run_id, []):
            if dpg.does_item_exist(item):
                dpg.delete_item(item)

    def _redraw_overlays(self) -> None:
        used = {self.colours[i] for i in self.ticked if i in self.colours}
        for run_id in sorted(self.ticked):
            info = self._info(run_id)
            if info is None:
                continue
            if run_id not in self.colours:
                free = [c for c in RUN_COLOURS if c not in used] or list(RUN_COLOURS)
                self.colours[run_id] = free[0]
                used.add(free[0])
            rows = self.metrics(info)
            for item in self.series.pop(run_id, []):
                if dpg.does_item_exist(item):
                    dpg.delete_item(item)
            made = []
            for key, axis in (("loss", self.loss_axis), ("test_accuracy", self.acc_axis)):
                pts = [(r["epoch"], r[key]) for r in rows if isinstance(r.get(key), int | float) and "epoch" in r]
                if not pts:
                    continue
                xs, ys = [float(p[0]) for p in pts], [float(p[1]) for p in pts]
                label = f"{info.name} ({'loss' if key == 'loss' else 'test'})"
                series = dpg.add_line_series(xs, ys, label=label, parent=axis)
                with dpg.theme() as theme, dpg.theme_component(dpg.mvLineSeries):
                    dpg.add_theme_color(dpg.mvPlotCol_Line, self.colours[run_id], category=dpg.mvThemeCat_Plots)
                    dpg.add_theme_style(dpg.mvPlotStyleVar_LineWeight, 2.0, category=dpg.mvThemeCat_Plots)
                dpg.bind_item_theme(series, theme)
                made.append(series)
            self.series[run_id] = made
        if self.ticked:
            for axis in (self.loss_axis, self.acc_axis):
                dpg.fit_axis_data(axis)

    def rename(self, run_id: str, name: str) -> None:
        info = self._info(run_id)
        if info is None or not name.strip() or name == info.name:
            return
        try:
            rename_run(info.path, name.strip())
        except (RunError, OSError) as e:
            self.state.say(f"cannot rename run {info.name}: {e}")
            return
        self.state.say(f"run {info.name!r} is now {name.strip()!r}")
        self.refresh()

    def continue_run(self, run_id: str) -> None:
        info = self._info(run_id)
        if info is not None:
            self.init_from = ""
            dpg.set_value(self.note, "")
            self.train(resume=str(info.path))

    def _checkpoint(self, run_id: str, doing: str) -> tuple[RunInfo, Path] | None:
        """The run and its best checkpoint (else its last); None, said why, when it has none."""
        info = self._info(run_id)
        if info is None:
            return None
        checkpoint = info.best_checkpoint if info.best_checkpoint.is_file() else info.last_checkpoint
        if not checkpoint.is_file():
            self.state.say(f"run {info.name} has no checkpoint to {doing}")
            return None
        return info, checkpoint

    def load_weights(self, run_id: str) -> None:
        found = self._checkpoint(run_id, "load")
        if found is None:
            return
        info, checkpoint = found
        self.init_from = str(checkpoint)
        dpg.set_value(self.note, f"the next Train starts from the weights of {info.name} ({checkpoint.name})")
        self.state.say(f"the next Train starts from the weights of run {info.name}")

    def evaluate_run(self, run_id: str) -> None:
        """Its best checkpoint (else the last) on the test split, in the Evaluation tab."""
        found = self._checkpoint(run_id, "evaluate")
        if found is not None:
            self.evaluate(*found)

    def take_init_from(self) -> str:
        """The checkpoint for the Train being sent (used once)."""
        path, self.init_from = self.init_from, ""
        dpg.set_value(self.note, "")
        return path

    def ask_delete(self, run_id: str) -> None:
        info = self._info(run_id)
        if info is None:
            return
        self._deleting = info
        dpg.set_value(self.confirm_text, f"Delete run {info.name!r} ({info.epochs_done} epochs, its checkpoints "
                                         f"and metrics)?\n{info.path}")
        dpg.configure_item(self.confirm, show=True)

    def _delete_confirmed(self) -> None:
        dpg.configure_item(self.confirm, show=False)
        info, self._deleting = self._deleting, None
        if info is None:
            return
        try:
            delete_run(info.path)
        except (RunError, OSError) as e:
            self.state.say(f"cannot delete run {info.name}: {e}")
            return
        self.state.say(f"deleted run {info.name}")
        self.refresh()

    def boxes(self) -> dict[str, Any]:
        """The runs shown, which are ticked and their overlay colours (for render tests)."""
        return {"runs": [r.name for r in self.runs], "ticked": sorted(self.ticked),
                "colours": {self._info(i).name if self._info(i) else i: list(c)
                            for i, c in self.colours.items() if i in self.ticked}}
