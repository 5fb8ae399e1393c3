"""Optimization and Results: training settings, Train/Pause/Resume/Stop, live metric plots."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dearpygui.dearpygui as dpg

from dpg_blocks.core.project import OPTIMIZERS

from .state import EditorState

SERIES = (
    ("loss", "loss (train)", "loss"),
    ("train_accuracy", "train accuracy", "acc"),
    ("val_accuracy", "val accuracy", "acc"),
    ("test_accuracy", "test accuracy", "acc"),
)


class ResultsPane:
    """Training controls on the left, the loss and accuracy plots on the right."""

    def __init__(self, state: EditorState, parent: int | str, command: Callable[[str], None]) -> None:
        self.state = state
        self.command = command  # "train", "pause", "resume", "stop"
        with dpg.group(horizontal=True, parent=parent):
            with dpg.child_window(width=300, border=False):
                with dpg.group(horizontal=True):
                    self.train_btn = dpg.add_button(label="Train", callback=lambda: command("train"))
                    self.pause_btn = dpg.add_button(label="Pause", callback=self._on_pause)
                    self.stop_btn = dpg.add_button(label="Stop", callback=lambda: command("stop"))
                self.state_text = dpg.add_text("not trained")
                dpg.add_separator()
                self.epochs = dpg.add_input_int(label="epochs", width=120, on_enter=True, min_value=0,
                                                min_clamped=True, callback=self._on_epochs)
                self.optimizer = dpg.add_combo(list(OPTIMIZERS), label="optimizer", width=120,
                                               callback=lambda s, a: self.state.set_optimizer(1, type=a))
                self.lr = dpg.add_input_float(label="learning rate", width=120, format="%g", on_enter=True,
                                              step=0, callback=self._on_lr)
            with dpg.group():
                with dpg.plot(label="loss", height=-1, width=360):
                    dpg.add_plot_legend()
                    dpg.add_plot_axis(dpg.mvXAxis, label="epoch")
                    self.loss_axis = dpg.add_plot_axis(dpg.mvYAxis, label="loss")
            with dpg.group():
                with dpg.plot(label="accuracy", height=-1, width=-1):
                    dpg.add_plot_legend()
                    dpg.add_plot_axis(dpg.mvXAxis, label="epoch")
                    self.acc_axis = dpg.add_plot_axis(dpg.mvYAxis, label="accuracy")
        self.series: dict[str, int] = {}
        for key, label, axis in SERIES:
            parent_axis = self.loss_axis if axis == "loss" else self.acc_axis
            self.series[key] = dpg.add_line_series([], [], label=label, parent=parent_axis)
        self.update_settings()
        self.update()

    def update_settings(self) -> None:
        """Show the project's training settings (after load, undo, redo)."""
        p = self.state.project
        dpg.set_value(self.epochs, p.training.epochs)
        if p.orders:
            dpg.set_value(self.optimizer, p.orders[0].optimizer.type)
            dpg.set_value(self.lr, p.orders[0].optimizer.lr)

    def update(self) -> None:
        run = self.state.training
        text = run.state if run.state != "idle" else "not trained"
        if run.epochs:
            last = run.epochs[-1]
            acc = last.get("test_accuracy")
            text += f" · epoch {last.get('epoch')}" + (f" · test accuracy {acc:.3f}" if isinstance(acc, float) else "")
        elif run.last_step_loss is not None:
            text += f" · loss {run.last_step_loss:.4f}"
        if run.reason:
            text += f"\n{run.reason}"
        dpg.set_value(self.state_text, text)
        dpg.configure_item(self.pause_btn, label="Resume" if run.state == "paused" else "Pause")
        for key, item in self.series.items():
            xs, ys = run.series(key)
            dpg.set_value(item, [xs, ys])
        for axis in (self.loss_axis, self.acc_axis):
            if run.epochs:
                dpg.fit_axis_data(axis)

    def _on_pause(self) -> None:
        self.command("resume" if self.state.training.state == "paused" else "pause")

    def _on_epochs(self, sender: Any, value: int) -> None:
        if not self.state.set_training("epochs", int(value)):
            self.update_settings()

    def _on_lr(self, sender: Any, value: float) -> None:
        if value <= 0 or not self.state.set_optimizer(1, lr=float(value)):
            self.state.say("the learning rate must be > 0")
            self.update_settings()
