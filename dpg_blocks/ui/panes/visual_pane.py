"""The Visualization pane: heatmaps, statistics and histograms of the selected block's ports.

The engine streams a :class:`~dpg_blocks.protocol.TapFrame` per watched port while training
(``SetTaps``); each port of the selected block gets a panel with the heatmap drawn from a
dynamic texture (DESIGN.md §7: ``add_heat_series`` costs 50-200 ms a frame, a texture a few),
a colour bar, the statistics and a histogram. :func:`tap_slots` decides which engine tensors
show a block's ports (a SuperBlock's ports are the plain outputs that drive them) and needs no
Dear PyGui. No torch here, and numpy and the protocol (~0.25 s to import) are imported only when
the first frame is drawn or taps are sent: the pane is built before the editor's first frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dearpygui.dearpygui as dpg

from dpg_blocks.core.graph import MAX_DEPTH, Endpoint, Graph, GraphError
from dpg_blocks.core.project import Project

if TYPE_CHECKING:
    import numpy as np

    from dpg_blocks.protocol import SetTaps, TapFrame
    from dpg_blocks.ui.panes.catalog import Catalog
    from dpg_blocks.ui.state.editor_state import EditorState

# The heatmap's box on screen, px: the bottom pane shows ~200 px; wider, so a batch×features
# map (32×128) is not a thin strip.
DISPLAY_H, DISPLAY_W = 160, 256
MIN_SIDE = 12  # a one-row heatmap still shows as a strip you can see
BAR_W, BAR_H = 14, 124  # the colour bar
STATS_W, HIST_H = 330, 78
TAP_RATE_HZ = 10.0
HINT = "Select a block, then Train: its inputs and outputs stream here."
WAITING = "no frame yet: frames stream while training (press Train)"
# viridis at ten evenly spaced points (R's viridis(10)); linear in between stays within a few
# levels of matplotlib's 256-entry table and keeps matplotlib out of the GUI process.
VIRIDIS = ("440154", "482878", "3E4A89", "31688E", "26828E", "1F9E89", "35B779", "6DCD59", "B4DE2C", "FDE725")
NO_DATA = (0.3, 0.3, 0.3, 1.0)  # NaN pixels of a float16 heatmap: entry 256 of the table
TITLE_IN, TITLE_OUT = (120, 180, 255), (255, 190, 100)
DIM, WARN = (160, 160, 170), (255, 90, 90)

TapKey = tuple[str, str, str]  # (block id, port, direction) as the engine watches it


@dataclass(frozen=True)
class TapSlot:
    """One panel: a port of the selected block and the engine tensor that shows it."""

    direction: str  # "in" or "out", of the selected block's port
    port: str
    tap: TapKey | None  # None: nothing drives it (an open SuperBlock or Custom block port)
    via: str = ""  # the output shown when the port is read at its driver ("Backbone › fc3.y")

    @property
    def label(self) -> str:
        """The panel's title, e.g. ``in x``."""
        return f"{self.direction} {self.port}"


def tap_slots(project: Project, block_id: str, catalog: Catalog | None = None) -> list[TapSlot]:
    """The panels of ``block_id``: one per input port, then one per output port.

    The engine taps plain blocks only (forward hooks on their modules, the batch for Input
    blocks), at any depth since ids are unique; a SuperBlock's input is shown as the plain
    output driving it from outside and its output as the plain output driving it inside. A
    block without outputs (a loss) gets one ``out`` panel named by its role: the engine's hook
    reads the module's return value.
    """
    try:
        graph, block = project.locate(block_id)
    except GraphError:
        return []
    spec = catalog.spec(block.type) if catalog else None
    slots: list[TapSlot] = []
    for p in block.inputs:
        if block.graph is None:
            slots.append(TapSlot("in", p.name, (block.id, p.name, "in")))
        else:
            lk = graph.driver(Endpoint(block.id, p.name))
            slots.append(_via(project, "in", p.name, _source(project, graph, lk.src) if lk else None))
    outputs = [p.name for p in block.outputs]
    if not outputs and block.graph is None:
        if spec is not None and spec.role:
            outputs = [spec.role]
    for name in outputs:
        if block.graph is None:
            slots.append(TapSlot("out", name, (block.id, name, "out")))
        else:
            lk = block.graph.driver(Endpoint(block.id, name))
            slots.append(_via(project, "out", name, _source(project, block.graph, lk.src) if lk else None))
    return slots


def _via(project: Project, direction: str, port: str, source: tuple[str, str] | None) -> TapSlot:
    if source is None:
        return TapSlot(direction, port, None, "not connected")
    bid, out = source
    return TapSlot(direction, port, (bid, out, "out"), f"{' › '.join(project.path_of(bid))}.{out}")


def _source(project: Project, graph: Graph, ep: Endpoint) -> tuple[str, str] | None:
    """The plain block output that drives link source ``ep`` of ``graph``, across boundaries
    (the same resolution the engine's flattening does)."""
    for _ in range(4 * MAX_DEPTH):  # each step crosses one boundary; the document caps nesting
        if graph.owner is not None and ep.block == graph.owner.id:
            parent, _owner = project.locate(graph.owner.id)
            lk = parent.driver(Endpoint(graph.owner.id, ep.port))
            if lk is None:
                return None
            graph, ep = parent, lk.src
            continue
        b = graph.blocks.get(ep.block)
        if b is None:
            return None
        if b.graph is None:
            return b.id, ep.port
        lk = b.graph.driver(Endpoint(b.id, ep.port))
        if lk is None:
            return None
        graph, ep = b.graph, lk.src
    return None


def set_taps_command(slots: list[TapSlot], rate_hz: float = TAP_RATE_HZ) -> SetTaps:
    """The SetTaps that watches exactly what ``slots`` show (each tensor once)."""
    from dpg_blocks.protocol import SetTaps, TapSpec

    keys = list(dict.fromkeys(s.tap for s in slots if s.tap is not None))
    return SetTaps(taps=[TapSpec(block_id=b, port=p, direction=d) for b, p, d in keys], rate_hz=rate_hz)


# -- colours ---------------------------------------------------------------------------------
_LUT: Any = None


def colour_table() -> np.ndarray:
    """257 RGBA float32 rows: viridis for 0..255, then the no-data grey."""
    global _LUT
    if _LUT is None:
        import numpy as np

        anchors = np.array([[int(h[i:i + 2], 16) / 255.0 for i in (0, 2, 4)] for h in VIRIDIS])
        at = np.linspace(0.0, 255.0, len(VIRIDIS))
        lut = np.ones((257, 4), np.float32)
        for c in range(3):
            lut[:256, c] = np.interp(np.arange(256), at, anchors[:, c])
        lut[256] = NO_DATA
        _LUT = lut
    return _LUT


def display_size(h: int, w: int, box: tuple[int, int] = (DISPLAY_H, DISPLAY_W)) -> tuple[int, int]:
    """On-screen (height, width) of an h×w heatmap: as large as fits ``box``, aspect kept."""
    scale = min(box[0] / max(h, 1), box[1] / max(w, 1))
    return max(MIN_SIDE, min(box[0], round(h * scale))), max(MIN_SIDE, min(box[1], round(w * scale)))


def colour_indices(image: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Rows of :func:`colour_table` for a heatmap: uint8 as is, float16 mapped over lo..hi."""
    import numpy as np

    if image.dtype == np.uint8:
        return image
    f = image.astype(np.float32)
    finite = np.isfinite(f)
    span = hi - lo if math.isfinite(hi - lo) and hi > lo else 1.0
    with np.errstate(invalid="ignore"):
        idx = np.clip((f - lo) * (255.0 / span), 0, 255)
    return np.where(finite, idx, 256).astype(np.uint16)


def heatmap_rgba(image: np.ndarray, lo: float, hi: float, size: tuple[int, int]) -> np.ndarray:
    """The heatmap coloured and upscaled (nearest neighbour) to ``size`` = (h, w): (h, w, 4) float32."""
    import numpy as np

    h, w = image.shape
    dh, dw = size
    # Upscale the indices (1-2 bytes a pixel), then look colours up once per screen pixel.
    rows = (np.arange(dh) * h) // dh
    cols = (np.arange(dw) * w) // dw
    idx = colour_indices(image, lo, hi)[rows][:, cols]
    return np.take(colour_table(), idx, axis=0)  # ~4x faster than colour_table()[idx]


# -- the pane --------------------------------------------------------------------------------
def _num(v: float) -> str:
    return "—" if not math.isfinite(v) else f"{v:.4g}"


def _shape(shape: tuple[int, ...] | list[int]) -> str:
    return "×".join(str(d) for d in shape) if len(shape) else "scalar"


def heatmap_caption(shape: tuple[int, ...] | list[int]) -> str:
    """What the engine's heatmap of a tensor of ``shape`` shows (engine/taps.heatmap_source)."""
    rank = len(shape)
    if rank <= 1:
        return "the values" if rank else "the value"
    if rank == 2:
        return "rows: batch, columns: features"
    if rank == 3:
        return "the first item"
    return "the first item's channels, tiled"


class _Panel:
    """The widgets of one slot; its texture is made on the first frame, remade on a new size."""

    def __init__(self, slot: TapSlot, parent: int | str, registry: int | str) -> None:
        self.slot = slot
        self.registry = registry
        self.texture: int | str = 0
        self.size = (0, 0)
        self.image: int | str = 0
        self.frame: TapFrame | None = None
        with dpg.group(horizontal=True, parent=parent) as self.group:
            with dpg.group() as self.left:
                self.title = dpg.add_text(slot.label, color=TITLE_IN if slot.direction == "in" else TITLE_OUT)
                self.placeholder = dpg.add_text(slot.via or "", color=DIM, wrap=DISPLAY_W)
            with dpg.group(show=False) as self.bar:
                self.bar_max = dpg.add_text("", color=DIM)
                self.bar_image = 0
                self.bar_min = dpg.add_text("", color=DIM)
            with dpg.group():
                self.shape = dpg.add_text(WAITING if slot.tap else "nothing to show", color=DIM, wrap=STATS_W)
                self.stats = dpg.add_text("")
                self.counts = dpg.add_text("")
                with dpg.plot(height=HIST_H, width=STATS_W, no_title=True, no_menus=True, no_box_select=True,
                              no_mouse_pos=True, no_frame=True, show=False) as self.plot:
                    self.x_axis = dpg.add_plot_axis(dpg.mvXAxis, no_gridlines=True)
                    self.y_axis = dpg.add_plot_axis(dpg.mvYAxis, no_tick_labels=True, no_gridlines=True)
                    self.hist = dpg.add_bar_series([], [], parent=self.y_axis)
            dpg.add_spacer(width=18)

    def text(self) -> str:
        items = (self.title, self.placeholder, self.bar_max, self.bar_min, self.shape, self.stats, self.counts)
        return "\n".join(str(dpg.get_value(i) or "") for i in items)

    def show(self, frame: TapFrame, bar_texture: int | str) -> None:
        """Draw ``frame``: texture, colour bar, statistics, histogram."""
        from dpg_blocks.protocol.arrays import wire_to_array

        self.frame = frame
        image = wire_to_array(frame.heatmap)
        h, w = image.shape if image.size else (1, 1)
        if not image.size:
            import numpy as np

            image = np.zeros((1, 1), np.uint8)
        size = display_size(h, w)
        rgba = heatmap_rgba(image, frame.heatmap_min, frame.heatmap_max, size)
        self._texture(size, rgba)
        if not self.bar_image:
            self.bar_image = dpg.add_image(bar_texture, width=BAR_W, height=BAR_H, parent=self.bar,
                                           before=self.bar_min)
            dpg.configure_item(self.bar, show=True)
        dpg.set_value(self.bar_max, _num(frame.heatmap_max))
        dpg.set_value(self.bar_min, _num(frame.heatmap_min))
        via = f" · {self.slot.via}" if self.slot.via else ""
        dpg.set_value(self.title, f"{self.slot.label}{via}")
        dpg.configure_item(self.placeholder, show=False)
        dpg.set_value(self.shape, f"{_shape(frame.shape)}  {frame.dtype}  ·  step {frame.step}\n"
                                  f"heatmap {h}×{w}: {heatmap_caption(frame.shape)}")
        dpg.configure_item(self.shape, color=(220, 220, 225))
        dpg.set_value(self.stats, f"min {_num(frame.min)}   max {_num(frame.max)}\n"
                                  f"mean {_num(frame.mean)}   std {_num(frame.std)}")
        bad = frame.nan_count or frame.inf_count
        dpg.set_value(self.counts, f"NaN {frame.nan_count}   Inf {frame.inf_count}   ·   histogram, log counts")
        dpg.configure_item(self.counts, color=WARN if bad else DIM)
        self._histogram(frame)

    def _texture(self, size: tuple[int, int], rgba: np.ndarray) -> None:
        dh, dw = size
        data = rgba.reshape(-1)
        if size == self.size:
            dpg.set_value(self.texture, data)
            return
        # A texture's size is fixed when it is made: make the new one, point the image at it,
        # and only then delete the old one (an image must never show a deleted texture).
        old = self.texture
        self.texture = dpg.add_dynamic_texture(dw, dh, data, parent=self.registry)
        self.size = size
        if self.image:
            dpg.configure_item(self.image, texture_tag=self.texture, width=dw, height=dh)
        else:
            self.image = dpg.add_image(self.texture, width=dw, height=dh, parent=self.left)
        if old:
            dpg.delete_item(old)

    def _histogram(self, frame: TapFrame) -> None:
        counts, edges = frame.hist_counts, frame.hist_edges
        if not counts:
            dpg.configure_item(self.plot, show=False)
            return
        # At most 64 bars: a tiny bar series is cheap, more bins would be unreadable at this size.
        group = max(1, math.ceil(len(counts) / 64))
        xs, ys = [], []
        for i in range(0, len(counts), group):
            j = min(i + group, len(counts))
            xs.append((edges[i] + edges[j]) / 2)
            # log: ReLU zeros or an image's background would flatten every other bar
            ys.append(math.log10(1.0 + sum(counts[i:j])))
        width = (edges[-1] - edges[0]) / len(xs) if edges[-1] > edges[0] else 1.0
        dpg.set_value(self.hist, [xs, ys])
        dpg.configure_item(self.hist, weight=width * 0.9)
        dpg.configure_item(self.plot, show=True)
        dpg.set_axis_limits(self.x_axis, edges[0] - width / 2, edges[-1] + width / 2)
        dpg.set_axis_limits(self.y_axis, 0.0, max(ys) * 1.05 or 1.0)

    def delete(self) -> None:
        dpg.delete_item(self.group)
        if self.texture:
            dpg.delete_item(self.texture)


class VisualPane:
    """The selected block's ports (``state.selected[-1]``), one panel each, fed TapFrames."""

    def __init__(self, state: EditorState, parent: int | str) -> None:
        self.state = state
        self.block_id: str | None = None
        self.slots: list[TapSlot] = []
        self.panels: list[_Panel] = []
        self.frames: dict[TapKey, TapFrame] = {}
        self._bar_texture: int | str = 0
        self.registry = dpg.add_texture_registry()
        with dpg.group(parent=parent):
            self.title = dpg.add_text(HINT)
            with dpg.child_window(border=False, horizontal_scrollbar=True, height=-1):
                # panels side by side: a block with many ports scrolls sideways
                self.body = dpg.add_group(horizontal=True)
        self.update()

    @property
    def taps(self) -> SetTaps:
        """The SetTaps command for the panels shown now."""
        return set_taps_command(self.slots)

    def text(self) -> str:
        """Everything the pane shows, as text (what a test reads)."""
        return "\n".join([str(dpg.get_value(self.title))] + [p.text() for p in self.panels])

    def panel(self, label: str) -> _Panel | None:
        """The panel titled ``label`` (``in x``), if shown."""
        return next((p for p in self.panels if p.slot.label == label), None)

    def update(self, force: bool = True) -> bool:
        """Show the selected block's ports; returns whether the watched taps changed.

        ``force`` (a new selection, a new run) drops every frame; otherwise (a document edit)
        the panels are rebuilt only when the ports or their sources changed.
        """
        sel = self.state.selected
        block = self.state.block(sel[-1]) if sel else None
        bid = block.id if block is not None else None
        slots = tap_slots(self.state.project, bid, self.state.catalog) if bid else []
        self._title(bid)
        if not force and bid == self.block_id and slots == self.slots:
            return False
        changed = [s.tap for s in slots] != [s.tap for s in self.slots]
        for p in self.panels:
            p.delete()
        self.block_id, self.slots, self.panels, self.frames = bid, slots, [], {}
        self.panels = [_Panel(s, self.body, self.registry) for s in slots]
        return changed or force

    def _title(self, bid: str | None) -> None:
        if bid is None:
            dpg.set_value(self.title, HINT)
            return
        path = " › ".join(self.state.project.path_of(bid))
        b = self.state.block(bid)
        kind = "SuperBlock" if b is not None and b.is_super else (b.type if b else "")
        dpg.set_value(self.title, f"{path}   ({kind}) — its inputs and outputs while training")

    def on_frame(self, frame: TapFrame) -> bool:
        """Draw a TapFrame on the panels it belongs to; False when none shows it (stale)."""
        key = (frame.block_id, frame.port, frame.direction)
        panels = [p for p in self.panels if p.slot.tap == key]
        if not panels:
            return False
        self.frames[key] = frame
        bar = self._bar()
        for p in panels:
            p.show(frame, bar)
        return True

    def _bar(self) -> int | str:
        """The colour bar's texture (max at the top), made once and shared by every panel."""
        if not self._bar_texture:
            table = colour_table()[255::-1]  # row 0 is the top of the bar: the highest value
            self._bar_texture = dpg.add_static_texture(1, 256, table.reshape(-1), parent=self.registry)
        return self._bar_texture
