"""Optimization and Results: training settings, each order's optimisation, Train/Pause/Stop, plots.

Each order (DESIGN.md §3) gets a collapsing header with its optimizer, the blocks it optimises
and the losses it sums. Every change is one undoable edit (``SetOrders`` / ``SetTraining``)
and the widgets are refreshed from the document (:meth:`ResultsPane.update_settings`), so undo,
redo and opening a file show what the document holds. The section is rebuilt only when its
structure changes (orders, blocks, which fields apply); otherwise values are set in place, so
the field being typed in is never destroyed under the user.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dearpygui.dearpygui as dpg

from dpg_blocks.core.graph import Block
from dpg_blocks.core.project import OPTIMIZERS, SCHEDULERS, Order
from dpg_blocks.ui.fields import add_typed, show
from dpg_blocks.ui.state.editor_state import EditorState
from dpg_blocks.ui.text import short
from dpg_blocks.ui.training.evaluation_pane import EvaluationPane

SERIES = (  # key, legend label, plot, line colour (fixed, so a render test can find each curve)
    ("loss", "loss (train)", "loss", (90, 160, 255)),
    ("train_accuracy", "train accuracy", "acc", (90, 160, 255)),
    ("val_accuracy", "val accuracy", "acc", (255, 150, 60)),
    ("test_accuracy", "test accuracy", "acc", (80, 200, 110)),
)
DEVICES = ("auto", "cpu", "cuda")
SETTINGS_W = 390  # the settings column; two fields a row still fit beside the plots at 1600 px
FIELD_W = 90
MUTED = (160, 160, 170)
WARN = (240, 180, 80)


def _optimizer_fields(order: Order) -> list[str]:
    """The optimizer fields that mean something for this order's optimizer and scheduler."""
    s = order.optimizer
    fields = ["type", "lr", "weight_decay"]
    if s.type == "sgd":
        fields.append("momentum")
    fields.append("scheduler")
    if s.scheduler == "step":
        fields.append("step_size")
    if s.scheduler in ("step", "exponential"):
        fields.append("gamma")
    return fields


def _summary(order: Order, names: dict[str, str], width: int = 50) -> str:
    """The header's one-line summary, readable with the header closed (cut to fit the column)."""
    s = order.optimizer
    what = "all live blocks" if order.optimize is None else (
        ", ".join(names.get(i, i) for i in order.optimize) or "nothing")
    title = f"Order {order.index}" + (f" · {order.name}" if order.name and order.name != f"order {order.index}" else "")
    text = f"{title}: {s.type} {s.lr:g} → {what}"
    return short(text, width)


class ResultsPane:
    """Training and per-order settings on the left, the loss and accuracy plots on the right."""

    def __init__(self, state: EditorState, parent: int | str, command: Callable[[str], None]) -> None:
        self.state = state
        self.command = command  # "train", "pause", "resume", "stop", "step"
        self._structure: Any = None
        self._open: dict[int, bool] = {}  # order index -> header open (kept across rebuilds)
        # (order index, field) -> widget; fields: name, remove, fed, the optimizer's fields,
        # all_blocks, all_losses, block:<id>, loss:<id>
        self.order_widgets: dict[tuple[int, str], int] = {}
        self.headers: dict[int, int] = {}
        self._plotted: tuple[int, int] | None = None  # (run, epochs) the curves show
        with dpg.group(horizontal=True, parent=parent):
            # The run's controls and progress sit above the scrolling settings, so they stay in
            # view however far the orders scroll.
            with dpg.group() as self.controls:
                with dpg.group(horizontal=True):
                    self.train_btn = dpg.add_button(label="Train", callback=lambda: command("train"))
                    self.pause_btn = dpg.add_button(label="Pause", callback=self._on_pause)
                    self.step_btn = dpg.add_button(label="Step", callback=lambda: command("step"), enabled=False)
                    self.stop_btn = dpg.add_button(label="Stop", callback=lambda: command("stop"))
                    self.state_text = dpg.add_text("not trained", wrap=SETTINGS_W - 210)
                with dpg.tooltip(self.step_btn):
                    dpg.add_text("One batch of every order, then paused again (while paused or stopped).")
                self.progress_bar = dpg.add_progress_bar(default_value=0.0, width=SETTINGS_W - 8, overlay="")
                self.progress_text = dpg.add_text("", color=MUTED, wrap=SETTINGS_W - 8)
                self.processes_area = dpg.add_group()  # "Run on N processes" (ui/training/process_controls.py)
                self.settings_area = dpg.add_child_window(width=SETTINGS_W, border=False)
                self.settings = self.settings_area  # the scrolling part
            with dpg.group(parent=self.settings_area):
                with dpg.group(horizontal=True):
                    self.epochs = add_typed(dpg.add_input_int, self._on_training, "epochs", label="epochs",
                                            width=50, step=0, min_value=0, min_clamped=True)
                    self.seed = add_typed(dpg.add_input_int, self._on_training, "seed", label="seed", width=50,
                                          step=0)
                    self.device = dpg.add_combo(list(DEVICES), label="device", width=70,
                                                callback=self._on_training, user_data="device")
                self.weights = add_typed(dpg.add_input_text, self._on_training, "weights", label="start from",
                                         width=SETTINGS_W - 90, hint="fresh weights")
                with dpg.tooltip(self.weights):
                    dpg.add_text("A checkpoint a new run starts from, relative to the project file: an imported "
                                 "model's own weights (NAME.weights.pt) or a run's best.pt. Empty: fresh random "
                                 "weights. Continue and Load weights in the Runs tab take precedence.", wrap=360)
                dpg.add_separator()
                with dpg.group(horizontal=True):
                    self.orders_title = dpg.add_text("Orders")
                    self.add_order_btn = dpg.add_button(label="Add order", callback=lambda: self.state.add_order())
                    self.orders_note = dpg.add_text("", color=MUTED)
                with dpg.tooltip(self.orders_title):
                    dpg.add_text("Each training step runs the orders in sequence. In an order only the inputs "
                                 "that list it (their 'orders' parameter) emit; the others emit nothing. Each "
                                 "order has its own optimizer over its own blocks and sums its own losses.",
                                 wrap=380)
                self.orders_body = dpg.add_group()
            # Beside the settings: the curves, the evaluation of the last epoch and the kept runs.
            # Each tab's body is a container the pane that fills it owns.
            with dpg.group(), dpg.tab_bar() as self.view_tabs:
                with dpg.tab(label="Curves") as self.curves_tab, dpg.group(horizontal=True):
                    with dpg.plot(label="loss", height=-1, width=340) as self.loss_plot:
                        dpg.add_plot_legend()
                        self.loss_x = dpg.add_plot_axis(dpg.mvXAxis, label="epoch")
                        self.loss_axis = dpg.add_plot_axis(dpg.mvYAxis, label="loss")
                    with dpg.plot(label="accuracy", height=-1, width=-1) as self.acc_plot:
                        dpg.add_plot_legend()
                        self.acc_x = dpg.add_plot_axis(dpg.mvXAxis, label="epoch")
                        self.acc_axis = dpg.add_plot_axis(dpg.mvYAxis, label="accuracy")
                with dpg.tab(label="Evaluation") as self.evaluation_tab:
                    self.evaluation_area = dpg.add_group()
                with dpg.tab(label="Runs") as self.runs_tab:
                    self.runs_area = dpg.add_group()
                    dpg.add_text("Every training run is kept beside the project; the runs show here.",
                                 parent=self.runs_area, color=MUTED)
        # fitted with a margin: a dot on the fitted range's edge was half cut off (one epoch's
        # train accuracy at the bottom, its test accuracy at the top)
        with dpg.theme() as fit_theme, dpg.theme_component(dpg.mvPlot):
            dpg.add_theme_style(dpg.mvPlotStyleVar_FitPadding, 0.1, 0.1, category=dpg.mvThemeCat_Plots)
        for plot in (self.loss_plot, self.acc_plot):
            dpg.bind_item_theme(plot, fit_theme)
        self.series: dict[str, int] = {}
        self.colours: dict[str, tuple[int, int, int]] = {}
        for key, label, axis, colour in SERIES:
            parent_axis = self.loss_axis if axis == "loss" else self.acc_axis
            self.series[key] = dpg.add_line_series([], [], label=label, parent=parent_axis)
            self.colours[key] = colour
            with dpg.theme() as line_theme, dpg.theme_component(dpg.mvLineSeries):
                dpg.add_theme_color(dpg.mvPlotCol_Line, colour, category=dpg.mvThemeCat_Plots)
                dpg.add_theme_style(dpg.mvPlotStyleVar_LineWeight, 2.0, category=dpg.mvThemeCat_Plots)
                # a dot at every epoch: a line needs two points, and after one epoch the plot
                # looked empty (scenario B trains one epoch from the editor)
                dpg.add_theme_style(dpg.mvPlotStyleVar_Marker, dpg.mvPlotMarker_Circle, category=dpg.mvThemeCat_Plots)
                dpg.add_theme_style(dpg.mvPlotStyleVar_MarkerSize, 4.0, category=dpg.mvThemeCat_Plots)
                dpg.add_theme_color(dpg.mvPlotCol_MarkerFill, colour, category=dpg.mvThemeCat_Plots)
                dpg.add_theme_color(dpg.mvPlotCol_MarkerOutline, colour, category=dpg.mvThemeCat_Plots)
            dpg.bind_item_theme(self.series[key], line_theme)
        # the catalog tells which blocks are inputs and losses: the order lists depend on it
        state.subscribe(lambda topic: self.update_settings() if topic == "catalog" else None)
        self.evaluation = EvaluationPane(state, self.evaluation_area, lambda: command("evaluate"))
        self.update_settings()
        self.update()

    # -- document -> widgets -----------------------------------------------------------------
    def _shape(self) -> tuple[Any, ...]:
        st = self.state
        orders = tuple(
            (o.index, tuple(_optimizer_fields(o)), o.optimize is None, o.losses is None,
             tuple(o.optimize or ()), tuple(o.losses or ()))
            for o in st.project.orders
        )
        blocks = tuple((b.id, b.name) for b in st.optimizable_blocks())
        losses = tuple((b.id, b.name) for b in st.loss_blocks())
        return orders, blocks, losses, bool(st.catalog)

    def update_settings(self) -> None:
        """Show the project's training settings and orders (after load, undo, redo)."""
        p = self.state.project
        show(self.epochs, p.training.epochs)
        show(self.seed, p.training.seed)
        devices = list(DEVICES) + ([p.training.device] if p.training.device not in DEVICES else [])
        dpg.configure_item(self.device, items=devices)
        dpg.set_value(self.device, p.training.device)
        show(self.weights, p.training.weights)
        shape = self._shape()
        if shape != self._structure:
            self._structure = shape
            self._build_orders()
        self._fill_orders()

    def _build_orders(self) -> None:
        for index, header in self.headers.items():
            if dpg.does_item_exist(header):
                self._open[index] = bool(dpg.get_value(header))
        dpg.delete_item(self.orders_body, children_only=True)
        self.order_widgets, self.headers = {}, {}
        st = self.state
        blocks = st.optimizable_blocks()
        losses = st.loss_blocks()
        names = {b.id: b.name for b in st.project.graph.walk()}
        for order in st.project.orders:
            i = order.index
            with dpg.collapsing_header(label=_summary(order, names), parent=self.orders_body,
                                       default_open=self._open.get(i, True)) as header:
                self.headers[i] = header
                self._build_order(order, blocks, losses, names)

    def _build_order(self, order: Order, blocks: list[Block], losses: list[Block], names: dict[str, str]) -> None:
        i, w = order.index, self.order_widgets
        with dpg.group(indent=8):
            with dpg.group(horizontal=True):
                w[(i, "name")] = add_typed(dpg.add_input_text, self._on_name, i, label="name", width=150)
                w[(i, "remove")] = dpg.add_button(label="Remove order", callback=self._on_remove, user_data=i)
            w[(i, "fed")] = dpg.add_text("", wrap=SETTINGS_W - 30)
            fields = _optimizer_fields(order)
            rows = [["type", "lr"], ["weight_decay", "momentum"], ["scheduler", "step_size"], ["gamma"]]
            for row in ([f for f in r if f in fields] for r in rows):
                if not row:
                    continue
                with dpg.group(horizontal=True):
                    for f in row:
                        w[(i, f)] = self._optimizer_widget(i, f)
            self._pick_list(order, "optimize", blocks, names)
            self._pick_list(order, "losses", losses, names)
            dpg.add_spacer(height=4)

    def _pick_list(self, order: Order, field: str, candidates: list[Block], names: dict[str, str]) -> None:
        """The "every … live in this order" box and, when unticked, one box per candidate."""
        i, w = order.index, self.order_widgets
        blocks_field = field == "optimize"
        dpg.add_text("optimises" if blocks_field else "losses", color=MUTED)
        w[(i, "all_blocks" if blocks_field else "all_losses")] = dpg.add_checkbox(
            label=f"every {'block' if blocks_field else 'loss'} live in this order", callback=self._on_all,
            user_data=(i, field))
        chosen = getattr(order, field)
        if chosen is None:
            return
        ids = [b.id for b in candidates]
        listed = ids + [x for x in chosen if x not in set(ids)]  # nested ids from a file, by path
        prefix = "block" if blocks_field else "loss"
        for bid in listed:
            w[(i, f"{prefix}:{bid}")] = dpg.add_checkbox(
                label=self._label(bid, names), indent=16, callback=self._on_pick, user_data=(i, field, bid))
        if blocks_field and not listed:
            dpg.add_text("no block to optimise yet", indent=16, color=MUTED)
        elif not chosen:
            warning = "nothing ticked: this order trains no block" if blocks_field else \
                "no loss ticked: this order does not train"
            dpg.add_text(warning, indent=16, color=WARN)

    def _label(self, bid: str, names: dict[str, str]) -> str:
        b = self.state.block(bid)
        if b is None:
            return bid
        path = " › ".join(self.state.project.path_of(bid))
        return f"{path}  (SuperBlock)" if b.is_super else path

    def _optimizer_widget(self, i: int, f: str) -> int:
        cb, ud = self._on_optimizer, (i, f)
        if f == "type":
            return dpg.add_combo(list(OPTIMIZERS), label="optimizer", width=FIELD_W, callback=cb, user_data=ud)
        if f == "scheduler":
            return dpg.add_combo(list(SCHEDULERS), label="scheduler", width=FIELD_W, callback=cb, user_data=ud)
        if f == "step_size":
            return add_typed(dpg.add_input_int, cb, ud, label="step (epochs)", width=FIELD_W, step=0)
        label = {"lr": "learning rate", "weight_decay": "weight decay"}.get(f, f)
        # doubles, not floats: a float32 widget would turn 0.0005 into 0.0005000000237 in the file
        return add_typed(dpg.add_input_double, cb, ud, label=label, width=FIELD_W, format="%g", step=0)

    def _fill_orders(self) -> None:
        st = self.state
        names = {b.id: b.name for b in st.project.graph.walk()}
        for order in st.project.orders:
            i, w = order.index, self.order_widgets
            if (i, "name") not in w:
                continue
            dpg.configure_item(self.headers[i], label=_summary(order, names))
            show(w[(i, "name")], order.name)
            fed = st.input_names(i)
            dpg.set_value(w[(i, "fed")], f"fed by {', '.join(fed)}" if fed else
                          f"no input emits in this order yet: add {i} to an Input's orders")
            dpg.configure_item(w[(i, "fed")], color=MUTED if fed else WARN)
            for f in _optimizer_fields(order):
                show(w[(i, f)], getattr(order.optimizer, f))
            dpg.set_value(w[(i, "all_blocks")], order.optimize is None)
            dpg.set_value(w[(i, "all_losses")], order.losses is None)
            for key, listed in (("block", order.optimize), ("loss", order.losses)):
                for (j, name), item in w.items():
                    if j == i and name.startswith(key + ":"):
                        dpg.set_value(item, listed is not None and name.split(":", 1)[1] in listed)
        n = len(st.project.orders)
        dpg.set_value(self.orders_note, "run in sequence each step" if n > 1 else
                      "one: add one for alternating schemes")

    def update(self) -> None:
        """Show the training run: state, progress, last epoch's numbers, the plots."""
        run = self.state.training
        self.evaluation.update()
        self._show_progress()
        text = run.state if run.state != "idle" else "not trained"
        if run.processes:  # a torchrun group (ui/training/process_controls.py)
            text = f"training on {run.processes} processes" if run.state == "running" else \
                f"{text} on {run.processes} processes"
        if run.epochs:
            last = run.epochs[-1]
            acc, r2 = last.get("test_accuracy"), last.get("test_r2")
            text += f" · epoch {last.get('epoch')}" + (f" · test accuracy {acc:.3f}" if isinstance(acc, float) else "")
            text += f" · test R² {r2:.3f}" if isinstance(r2, float) else ""
        elif run.last_step_loss is not None:
            text += f" · loss {run.last_step_loss:.4f}"
        if run.reason:
            text += f"\n{run.reason}"
        dpg.set_value(self.state_text, text)
        dpg.configure_item(self.pause_btn, label="Resume" if run.state == "paused" else "Pause")
        dpg.configure_item(self.step_btn, enabled=run.state in ("paused", "stopped"))
        plotted = (run.request_id, len(run.epochs))
        if plotted == self._plotted:
            return  # a step's progress: the curves change once an epoch
        self._plotted = plotted
        for key, item in self.series.items():
            xs, ys = run.series(key)
            dpg.set_value(item, [xs, ys])
        if run.epochs:
            # Both axes: epochs start at 1, so an X axis left at its default 0-1 shows no curve.
            for axis in (self.loss_x, self.loss_axis, self.acc_x, self.acc_axis):
                dpg.fit_axis_data(axis)

    def _show_progress(self) -> None:
        """The bar (the run's share done) and where it stands; "paused" when paused."""
        run = self.state.training
        p = run.progress
        dpg.set_value(self.progress_bar, run.fraction)
        overlay = f"epoch {p['epoch']}/{p['epochs']} · batch {p['step']}/{p['steps']}" if p.get("steps") else ""
        if run.processes and p.get("epochs"):
            overlay = f"{len(run.epochs)}/{p['epochs']} epochs"
        if run.state == "paused":
            overlay = f"paused · {overlay}" if overlay else "paused"
        dpg.configure_item(self.progress_bar, overlay=overlay)
        dpg.set_value(self.progress_text, run.progress_line if run.state in ("running", "paused") else "")

    def progress_reading(self) -> tuple[float, str, str]:
        """(bar value, bar overlay, progress line): what a test reads of the progress."""
        return (float(dpg.get_value(self.progress_bar)), str(dpg.get_item_configuration(self.progress_bar)["overlay"]),
                str(dpg.get_value(self.progress_text)))

    def plot_boxes(self) -> dict[str, dict[str, Any]]:
        """Where the two plots are drawn and the colour of each curve (for render tests)."""
        out: dict[str, dict[str, Any]] = {}
        for name, plot, keys in (("loss", self.loss_plot, ["loss"]),
                                 ("accuracy", self.acc_plot, ["train_accuracy", "val_accuracy", "test_accuracy"])):
            (x, y), (w, h) = dpg.get_item_rect_min(plot), dpg.get_item_rect_size(plot)
            out[name] = {"x": int(x), "y": int(y), "w": int(w), "h": int(h),
                         "series": {k: list(self.colours[k]) for k in keys}}
        return out

    # -- widgets -> edits ----------------------------------------------------------------------
    def _on_pause(self) -> None:
        self.command("resume" if self.state.training.state == "paused" else "pause")

    def _on_training(self, sender: Any, value: Any, name: str) -> None:
        value = str(value).strip() if name in ("device", "weights") else int(value)
        if not self.state.set_training(name, value):
            self.update_settings()  # refused or unchanged: show what the document holds

    def _on_optimizer(self, sender: Any, value: Any, user_data: tuple[int, str]) -> None:
        index, name = user_data
        if name in ("lr", "weight_decay", "momentum", "gamma"):
            value = float(value)
        elif name == "step_size":
            value = int(value)
        if not self.state.set_optimizer(index, **{name: value}):
            self.update_settings()

    def _on_name(self, sender: Any, value: str, index: int) -> None:
        if not self.state.set_order(index, name=str(value).strip()):
            self.update_settings()

    def _on_remove(self, sender: Any, app_data: Any, index: int) -> None:
        self.state.remove_order(index)

    def _on_all(self, sender: Any, value: bool, user_data: tuple[int, str]) -> None:
        index, key = user_data
        if value:
            chosen: list[str] | None = None
        else:
            # start from every candidate ticked, so unticking "every…" changes nothing by itself
            st = self.state
            chosen = [b.id for b in (st.optimizable_blocks() if key == "optimize" else st.loss_blocks())]
        if not self.state.set_order(index, **{key: chosen}):
            self.update_settings()

    def _on_pick(self, sender: Any, value: bool, user_data: tuple[int, str, str]) -> None:
        index, key, bid = user_data
        order = self.state.project.order(index)
        current = list(getattr(order, key) or [])
        chosen = current + [bid] if value and bid not in current else [x for x in current if x != bid or value]
        if not self.state.set_order(index, **{key: chosen}):
            self.update_settings()
