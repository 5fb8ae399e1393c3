"""The Evaluation tab: the test split's confusion matrix and per-class figures of the last epoch.

The engine adds ``confusion_matrix`` (rows: true class, columns: predicted), ``classes``,
``per_class`` (precision, recall, F1, support) and the ``macro``/``weighted`` averages to the
test metrics of every epoch (``engine/evaluation.py``); "Evaluate now" asks for the same on
demand (the Evaluate command, answered by EvaluationResult). The matrix is drawn on a drawlist:
a cell's colour is its share of the true class's samples (so the diagonal reads as recall), and
up to MAX_COUNTED classes a cell shows its count. A regression head (MSE, L1) adds R², MSE and
MAE and a predicted-vs-true scatter (``regression_plot.py``, beside this one). The pane redraws only when new
figures arrive, never per frame or per progress update.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dearpygui.dearpygui as dpg

from dpg_blocks.ui.state.editor_state import EditorState
from dpg_blocks.ui.text import short
from dpg_blocks.ui.training.regression_plot import ScatterPlot, figures_text

MATRIX_SIDE = 330  # px: the matrix area (cells are MATRIX_SIDE / classes, at most MAX_CELL)
MAX_CELL = 40
MAX_COUNTED = 20  # beyond this many classes, cells are colour only
LABEL_W = 44  # room for the class names left of and above the matrix
EMPTY = (38, 40, 48)
FULL = (60, 140, 235)
MUTED = (160, 160, 170)


def cell_colour(share: float) -> tuple[int, int, int]:
    """From the canvas grey (no sample) to blue (every sample of the true class)."""
    t = min(1.0, max(0.0, share))
    return tuple(int(round(a + (b - a) * t)) for a, b in zip(EMPTY, FULL, strict=True))  # type: ignore[return-value]


def evaluated(metrics: dict[str, Any]) -> bool:
    """Whether ``metrics`` hold a test evaluation the tab shows: a confusion matrix or R²/MSE."""
    return bool(metrics.get("confusion_matrix")) or "test_mse" in metrics


def latest_evaluation(epochs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The last epoch's metrics that hold a test evaluation (None before the first one)."""
    for metrics in reversed(epochs):
        if evaluated(metrics):
            return metrics
    return None


class EvaluationPane:
    """Fills ``parent`` (the Results pane's Evaluation tab); ``evaluate()`` asks the engine."""

    def __init__(self, state: EditorState, parent: int | str, evaluate: Callable[[], None]) -> None:
        self.state = state
        self.shown: dict[str, Any] | None = None  # the metrics drawn now
        self.on_demand: dict[str, Any] | None = None  # the last Evaluate answer
        self.cells: list[list[dict[str, int]]] = []  # drawn cell rectangles with their counts
        for child in dpg.get_item_children(parent, 1) or []:
            dpg.delete_item(child)  # the placeholder text
        with dpg.group(parent=parent):
            with dpg.group(horizontal=True):
                self.evaluate_btn = dpg.add_button(label="Evaluate now", callback=lambda: evaluate())
                with dpg.tooltip(self.evaluate_btn):
                    dpg.add_text("Run the model as it is now on the test split (training must have started).")
                self.title = dpg.add_text("Train a model: its evaluation on the test split shows here after each "
                                          "epoch.", color=MUTED)
            with dpg.group(horizontal=True):
                side = MATRIX_SIDE + LABEL_W + 20
                self.matrix = dpg.add_drawlist(width=side, height=side)
                with dpg.group():
                    self.table_parent = dpg.add_group()
                    self.accuracy_text = dpg.add_text("", color=MUTED)
                with dpg.group() as side:
                    self.gallery = Gallery(side)
                    self.scatter = ScatterPlot(side)
        self.table: int | str | None = None

    # -- data ----------------------------------------------------------------------------------
    def on_result(self, metrics: dict[str, Any], what: str = "") -> None:
        """An Evaluate answer (``what``: e.g. "run lr 0.01 (best.pt)"; empty: the model being
        trained): shown until the next epoch's figures arrive."""
        if evaluated(metrics):
            done = len(self.state.training.epochs)
            self.on_demand = dict(metrics, epoch=what or f"{done} + now (on demand)", _after=done)
            self.update()

    def update(self) -> None:
        """Redraw when newer figures exist (cheap otherwise: called on every training update)."""
        latest = latest_evaluation(self.state.training.epochs)
        if self.on_demand is not None and self.on_demand["_after"] >= len(self.state.training.epochs):
            latest = self.on_demand  # no epoch has ended since it was asked for
        if latest is self.shown:
            return
        self.shown = latest
        self._draw(latest)

    # -- drawing -------------------------------------------------------------------------------
    def _draw(self, metrics: dict[str, Any] | None) -> None:
        dpg.delete_item(self.matrix, children_only=True)
        if self.table is not None:
            dpg.delete_item(self.table)
            self.table = None
        self.cells = []
        if metrics is None:
            dpg.set_value(self.title, "Train a model: its evaluation on the test split shows here after each epoch.")
            dpg.set_value(self.accuracy_text, "")
            return
        label = metrics.get("epoch", "?")
        when = label if isinstance(label, str) else f"epoch {label}"  # an Evaluate answer says what it ran
        regression = figures_text(metrics)
        lines = []
        cm = [list(map(int, row)) for row in metrics.get("confusion_matrix") or []]
        if cm:
            n = len(cm)
            names = list(metrics.get("classes") or [str(i) for i in range(n)])
            acc = metrics.get("test_accuracy")
            acc_text = f" · accuracy {acc:.3f}" if isinstance(acc, float) else ""
            dpg.set_value(self.title, f"test split · {when} · {sum(map(sum, cm))} samples{acc_text}")
            side = self._side()
            dpg.configure_item(self.matrix, width=side, height=side)
            self._draw_matrix(cm, names, side - LABEL_W)
            self._draw_table(metrics, names, side)
        else:
            dpg.set_value(self.title, f"test split · {when} · {regression}")
            dpg.configure_item(self.matrix, width=1, height=1)  # no classifier: the scatter takes the room
        if cm and regression:
            lines.append(f"regression: {regression}")
        per_input = [f"{k.split('/', 1)[1]}: {v:.3f}" for k, v in metrics.items()
                     if k.startswith("test_accuracy/") and isinstance(v, float)]
        if per_input:
            lines.append("test accuracy per input: " + ", ".join(per_input))
        dpg.set_value(self.accuracy_text, "\n".join(lines))

    def show_scatter(self, pred: list[float], true: list[float], head: str, epoch: int) -> None:
        """A RegressionSamples event: the scatter of the epoch (``epoch`` 0: an Evaluate answer)."""
        self.scatter.show(pred, true, head, f", epoch {epoch}" if epoch > 0 else "", self._side() - 24)

    def _side(self) -> int:
        """The matrix's side: what the pane leaves below the title (it is short when docked low)."""
        if not dpg.is_viewport_ok():
            return MATRIX_SIDE + LABEL_W
        top = dpg.get_item_rect_min(self.title)[1] + 26
        room = dpg.get_viewport_client_height() - top - 10
        return int(max(LABEL_W + 100, min(MATRIX_SIDE + LABEL_W, room)))

    def _draw_matrix(self, cm: list[list[int]], names: list[str], room: int) -> None:
        n = len(cm)
        cell = min(MAX_CELL, room // max(1, n))
        x0, y0 = LABEL_W, LABEL_W
        dl = self.matrix
        dpg.draw_text((x0, 2), "predicted →", size=13, color=MUTED, parent=dl)
        dpg.draw_text((2, 2), "true ↓", size=13, color=MUTED, parent=dl)
        label_every = 1 if cell >= 14 else max(1, 14 // cell + 1)
        for i, name in enumerate(names[:n]):
            if i % label_every:
                continue
            label = short(name, 5)
            dpg.draw_text((x0 + i * cell + 2, y0 - 16), label, size=12, color=MUTED, parent=dl)
            dpg.draw_text((2, y0 + i * cell + max(0, (cell - 13) // 2)), label, size=12, color=MUTED, parent=dl)
        for i, row in enumerate(cm):
            support = sum(row)
            rects = []
            for j, count in enumerate(row):
                share = count / support if support else 0.0
                colour = cell_colour(share)
                a = (x0 + j * cell, y0 + i * cell)
                b = (a[0] + cell - 1, a[1] + cell - 1)
                dpg.draw_rectangle(a, b, fill=(*colour, 255), color=(*colour, 255), parent=dl)
                if n <= MAX_COUNTED and count:
                    text = str(count)
                    ink = (255, 255, 255) if share > 0.35 else (200, 200, 210)
                    size = 13 if cell >= 24 else 10
                    dpg.draw_text((a[0] + max(1, (cell - len(text) * size * 0.55) / 2), a[1] + (cell - size) / 2 - 1),
                                  text, size=size, color=ink, parent=dl)
                rects.append({"x": int(a[0]), "y": int(a[1]), "w": cell - 1, "h": cell - 1, "count": count,
                              "colour": list(colour)})
            self.cells.append(rects)

    def _draw_table(self, metrics: dict[str, Any], names: list[str], height: int) -> None:
        per_class = metrics.get("per_class") or {}
        with dpg.table(parent=self.table_parent, header_row=True, borders_innerH=True, policy=dpg.mvTable_SizingFixedFit,
                       scrollY=True, height=height, width=380) as self.table:
            for col in ("class", "precision", "recall", "F1", "support"):
                dpg.add_table_column(label=col)
            rows = [(name, per_class.get(name)) for name in names]
            rows += [(label, metrics.get(key)) for label, key in (("macro avg", "macro"), ("weighted avg", "weighted"))]
            for name, row in rows:
                if not row:
                    continue
                with dpg.table_row():
                    dpg.add_text(name)
                    for key in ("precision", "recall", "f1"):
                        dpg.add_text(f"{row.get(key, 0.0):.3f}")
                    dpg.add_text(str(row["support"]) if "support" in row else "")

    def boxes(self) -> dict[str, Any]:
        """Where the matrix was drawn, its cells (with counts and colours) and the table (tests)."""
        (x, y), (w, h) = dpg.get_item_rect_min(self.matrix), dpg.get_item_rect_size(self.matrix)
        return {"matrix": {"x": int(x), "y": int(y), "w": int(w), "h": int(h)},
                "cells": [[{**c, "x": c["x"] + int(x), "y": c["y"] + int(y)} for c in row] for row in self.cells],
                "classes": list((self.shown or {}).get("classes") or []), "gallery": self.gallery.boxes(), "scatter": self.scatter.boxes(),
                "title": dpg.get_value(self.title)}


GALLERY_COLUMNS, GALLERY_SLOTS = 8, 16
GALLERY_CELL, GALLERY_GAP, GALLERY_LABEL = 34, 6, 14  # px: a thumbnail, the space beside it, its label below


class Gallery:
    """The misclassified test samples (MisclassifiedSamples): thumbnails with "true → predicted"."""

    def __init__(self, parent: int | str) -> None:
        from dpg_blocks.ui.files.data_dialog import grid_pixels

        self._pixels = grid_pixels
        self.height = -(-GALLERY_SLOTS // GALLERY_COLUMNS) * (GALLERY_CELL + GALLERY_LABEL)
        self.width = GALLERY_COLUMNS * (GALLERY_CELL + GALLERY_GAP) - GALLERY_GAP
        with dpg.texture_registry():
            self.texture = dpg.add_dynamic_texture(self.width, self.height, [0.0] * (self.width * self.height * 4))
        with dpg.group(parent=parent, show=False) as self.group:  # until there is a sample to show
            self.title = dpg.add_text("", color=MUTED)
            with dpg.drawlist(width=self.width, height=self.height) as self.drawlist:
                dpg.draw_image(self.texture, (0, 0), (self.width, self.height))
                self.labels = dpg.add_draw_layer()
        self.shown: list[tuple[str, str]] = []

    def show(self, thumbnails: list[Any], true: list[str], pred: list[str], epoch: int) -> None:
        import numpy as np

        from dpg_blocks.protocol import wire_to_array

        images = [np.asarray(wire_to_array(t)) for t in thumbnails]
        pixels = self._pixels(images, GALLERY_SLOTS, GALLERY_COLUMNS, GALLERY_CELL, GALLERY_GAP, GALLERY_LABEL)
        dpg.set_value(self.texture, pixels.ravel().tolist())
        dpg.delete_item(self.labels, children_only=True)
        self.shown = list(zip(true, pred, strict=True))[:GALLERY_SLOTS]
        for i, (t, p) in enumerate(self.shown):
            x = (i % GALLERY_COLUMNS) * (GALLERY_CELL + GALLERY_GAP)
            y = (i // GALLERY_COLUMNS) * (GALLERY_CELL + GALLERY_LABEL) + GALLERY_CELL
            dpg.draw_text((x, y), short(f"{t}→{p}", 7), size=12, color=(240, 150, 130), parent=self.labels)
        when = f", epoch {epoch}" if epoch > 0 else ""
        dpg.set_value(self.title, f"misclassified test samples (true → predicted){when}:" if self.shown else "")
        dpg.configure_item(self.group, show=bool(self.shown))

    def boxes(self) -> dict[str, Any]:
        (x, y), (w, h) = dpg.get_item_rect_min(self.drawlist), dpg.get_item_rect_size(self.drawlist)
        return {"x": int(x), "y": int(y), "w": int(w), "h": int(h), "labels": [f"{t}→{p}" for t, p in self.shown]}
