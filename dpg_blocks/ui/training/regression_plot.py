"""The Evaluation tab's predicted-vs-true scatter of a regression head (MSE, L1).

The engine sends up to 2,000 (predicted, true) pairs of the test split after each epoch and
each Evaluate (RegressionSamples); the epoch's metrics carry R², MSE and MAE over every value.
A perfect model puts every point on the dashed y = x line, so the line spans both axes' range
and the axes are fitted to the data each time (an unfitted ImPlot axis stays at 0–1 and shows
nothing: the lesson of the Curves tab).
"""

from __future__ import annotations

from typing import Any

import dearpygui.dearpygui as dpg

POINTS = (240, 170, 60)  # orange: apart from the matrix's blues and the y = x line's grey
IDEAL = (150, 150, 160)
SIDE = 260  # px


def figures_text(metrics: dict[str, Any]) -> str:
    """'R² 0.912 · MSE 0.0412 · MAE 0.151' of the test split ('' without a regression head)."""
    parts = []
    for key, label, fmt in (("test_r2", "R²", ".3f"), ("test_mse", "MSE", ".4g"), ("test_mae", "MAE", ".4g")):
        value = metrics.get(key)
        if isinstance(value, (int, float)):
            parts.append(f"{label} {value:{fmt}}")
        elif key == "test_r2" and key in metrics:
            parts.append("R² – (the targets do not vary)")
    return " · ".join(parts)


def ideal_line(pred: list[float], true: list[float]) -> tuple[list[float], list[float]]:
    """The y = x segment across the range both the predictions and the targets cover."""
    values = [*pred, *true]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    return [lo, hi], [lo, hi]


class ScatterPlot:
    """Hidden until the first RegressionSamples; ``show`` replaces the points."""

    def __init__(self, parent: int | str) -> None:
        with dpg.group(parent=parent, show=False) as self.group:
            self.title = dpg.add_text("", color=(160, 160, 170))
            with dpg.plot(height=SIDE, width=SIDE + 40, no_menus=True) as self.plot:
                self.x_axis = dpg.add_plot_axis(dpg.mvXAxis, label="true")
                self.y_axis = dpg.add_plot_axis(dpg.mvYAxis, label="predicted")
                self.line = dpg.add_line_series([], [], parent=self.y_axis)
                self.points = dpg.add_scatter_series([], [], parent=self.y_axis)
        with dpg.theme() as points_theme, dpg.theme_component(dpg.mvScatterSeries):
            for colour_key in (dpg.mvPlotCol_MarkerFill, dpg.mvPlotCol_MarkerOutline, dpg.mvPlotCol_Line):
                dpg.add_theme_color(colour_key, POINTS, category=dpg.mvThemeCat_Plots)
            dpg.add_theme_style(dpg.mvPlotStyleVar_MarkerSize, 2.5, category=dpg.mvThemeCat_Plots)
        dpg.bind_item_theme(self.points, points_theme)
        with dpg.theme() as line_theme, dpg.theme_component(dpg.mvLineSeries):
            dpg.add_theme_color(dpg.mvPlotCol_Line, IDEAL, category=dpg.mvThemeCat_Plots)
            dpg.add_theme_style(dpg.mvPlotStyleVar_LineWeight, 1.5, category=dpg.mvThemeCat_Plots)
        dpg.bind_item_theme(self.line, line_theme)
        self.count = 0
        self.head = ""

    def show(self, pred: list[float], true: list[float], head: str, when: str, height: int = SIDE) -> None:
        """Draw ``pred`` against ``true`` (same length) for the loss block ``head``, in a square
        plot of ``height`` px at most SIDE (what the pane leaves when it is docked low)."""
        self.count, self.head = len(pred), head
        side = max(120, min(SIDE, height))
        dpg.configure_item(self.plot, height=side, width=side + 40)
        dpg.set_value(self.points, [list(true), list(pred)])
        dpg.set_value(self.line, list(ideal_line(pred, true)))
        dpg.set_value(self.title, f"{head}: predicted vs true, {len(pred)} test values{when}")
        dpg.configure_item(self.group, show=bool(pred))
        for axis in (self.x_axis, self.y_axis):
            dpg.fit_axis_data(axis)

    def boxes(self) -> dict[str, Any]:
        """The plot's rectangle, its point count and colour (render tests read the pixels there)."""
        (x, y), (w, h) = dpg.get_item_rect_min(self.plot), dpg.get_item_rect_size(self.plot)
        return {"x": int(x), "y": int(y), "w": int(w), "h": int(h), "points": self.count, "head": self.head,
                "colour": list(POINTS), "title": dpg.get_value(self.title), "shown": self.count > 0}
