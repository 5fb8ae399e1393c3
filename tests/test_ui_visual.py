"""The Visualization pane: which tensors a block's panels watch, what a TapFrame draws, and
heatmaps streamed from a real training run.

Run as a script (``python tests/test_ui_visual.py OUT.png``, under Xvfb) it renders the editor
with synthetic frames on FC1's panels and saves the screenshot (the rendering test does that).
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import dearpygui.dearpygui as dpg
import numpy as np
import pytest
from ui_fixtures import (
    DIGITS_CSV,
    EXAMPLES,
    ROOT,
    builtin_catalog,
    click,
    enter,
    gui_context,
    needs_xvfb,
    wait_for,
)

from dpg_blocks import protocol as m
from dpg_blocks.protocol import array_to_wire, decode, encode
from dpg_blocks.ui.editor.app import Editor
from dpg_blocks.ui.panes.visual_pane import (
    HINT,
    colour_table,
    display_size,
    heatmap_rgba,
    set_taps_command,
    tap_slots,
)
from dpg_blocks.ui.state.editor_state import EditorState

MLP = EXAMPLES / "mlp_digits.dpgb"
FC1, FC2, FC3, LOSS = "b2", "b3", "b4", "b7"


def make_frame(block_id: str, port: str, direction: str, values: np.ndarray, heatmap: np.ndarray | None = None,
               step: int = 1) -> m.TapFrame:
    """A TapFrame summarising ``values`` as the engine would (heatmap: ``values`` as 2-D), through the codec."""
    v = values.astype(np.float64)
    finite = v[np.isfinite(v)]
    src = heatmap if heatmap is not None else v.reshape(-1, v.shape[-1]) if v.ndim > 1 else v.reshape(1, -1)
    if src.dtype != np.float16:
        lo, hi = float(np.nanmin(src)), float(np.nanmax(src))
        src = np.round((src - lo) / (hi - lo or 1.0) * 255).astype(np.uint8)
    else:
        lo, hi = float(np.nanmin(src)), float(np.nanmax(src))
    counts, edges = np.histogram(finite, bins=64)
    frame = m.TapFrame(
        block_id=block_id, port=port, direction=direction, step=step, shape=tuple(values.shape),
        dtype="float32", numel=int(values.size), heatmap=array_to_wire(src), heatmap_min=lo, heatmap_max=hi,
        min=float(finite.min()), max=float(finite.max()), mean=float(finite.mean()), std=float(finite.std()),
        hist_counts=[int(c) for c in counts], hist_edges=[float(e) for e in edges], hist_sample=int(finite.size),
        nan_count=int(np.isnan(v).sum()), inf_count=int(np.isinf(v).sum()),
    )
    return decode(encode(frame))  # exactly what the client hands the editor


class FakeClient:
    """Records what the editor sends; no engine."""

    state = "ready"

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self._rid = 0

    def send(self, msg: Any) -> None:
        self.sent.append(msg)

    def request_id(self) -> int:
        self._rid += 1
        return self._rid

    def taps(self) -> list[tuple[str, str, str]]:
        last = [s for s in self.sent if isinstance(s, m.SetTaps)][-1]
        return [(t.block_id, t.port, t.direction) for t in last.taps]


@pytest.fixture
def editor() -> Iterator[Editor]:
    with gui_context():
        ed = Editor(EditorState())
        ed.state.set_catalog(builtin_catalog())
        ed.state.open(str(MLP))
        ed.client = FakeClient()
        yield ed


def texture(panel: Any) -> np.ndarray:
    h, w = panel.size
    return np.asarray(dpg.get_value(panel.texture), np.float32).reshape(h, w, 4)


# -- which tensors ----------------------------------------------------------------------------
def test_tap_slots_cover_plain_nested_loss_and_superblock_ports(editor):
    st = editor.state
    assert [(s.label, s.tap) for s in tap_slots(st.project, FC1)] == [
        ("in x", (FC1, "x", "in")), ("out y", (FC1, "y", "out"))]
    # A loss has no output port: its panel watches the module's return value, named by its role.
    assert [s.tap for s in tap_slots(st.project, LOSS, st.catalog)][-1] == (LOSS, "loss", "out")
    sb = st.merge([FC2, FC3], "Middle")
    assert sb is not None
    # Blocks inside a SuperBlock are tapped by their own ids (ids are unique in the document).
    assert [s.tap for s in tap_slots(st.project, FC3)] == [(FC3, "x", "in"), (FC3, "y", "out")]
    # A SuperBlock has no module: its ports show the plain outputs that drive them.
    slots = tap_slots(st.project, sb)
    assert [(s.direction, s.tap) for s in slots] == [("in", (FC1, "y", "out")), ("out", (FC3, "y", "out"))]
    assert slots[0].via == "FC1.y" and slots[1].via == "Middle › FC3.y"
    # Nested twice: the outer SuperBlock's output resolves through both boundaries.
    outer = st.merge([sb, "b5"], "Outer")
    out = [s for s in tap_slots(st.project, outer) if s.direction == "out"]
    assert [s.tap for s in out] == [("b5", "y", "out")]
    assert [s.tap for s in tap_slots(st.project, outer) if s.direction == "in"] == [(FC1, "y", "out")]
    assert tap_slots(st.project, "nope") == []
    cmd = set_taps_command(tap_slots(st.project, sb) + tap_slots(st.project, FC1))
    assert [(t.block_id, t.port, t.direction) for t in cmd.taps] == [
        (FC1, "y", "out"), (FC3, "y", "out"), (FC1, "x", "in")]  # each tensor watched once


def test_custom_block_ports_are_watched_on_the_block_itself():
    # The engine's input hook skips the (order, target) a takes_signal block is called with
    # (tests/test_taps.py checks the tensor), so the pane watches the block's own ports.
    from dpg_blocks.core import load_project
    from dpg_blocks.ui.panes.catalog import Catalog

    project, catalog = load_project(EXAMPLES / "dann_digits.dpgb"), Catalog(builtin_catalog())
    (reversal,) = [b for b in project.graph.walk() if b.name == "Gradient Reversal"]
    slots = tap_slots(project, reversal.id, catalog)
    assert [s.label for s in slots] == ["in x", "out y"]
    assert [s.tap for s in slots] == [(reversal.id, "x", "in"), (reversal.id, "y", "out")]


def test_selection_sends_set_taps_and_clears_frames(editor):
    client, st = editor.client, editor.state
    st.select([FC1])
    assert client.taps() == [(FC1, "x", "in"), (FC1, "y", "out")]
    assert editor.visual.on_frame(make_frame(FC1, "y", "out", np.ones((32, 128), np.float32)))
    st.select([FC2])
    assert client.taps() == [(FC2, "x", "in"), (FC2, "y", "out")]
    assert not editor.visual.frames and editor.visual.panel("out y").frame is None
    # A frame of the old selection still in flight is dropped.
    assert not editor.visual.on_frame(make_frame(FC1, "y", "out", np.ones((32, 128), np.float32)))
    st.select([])
    assert client.taps() == [] and dpg.get_value(editor.visual.title) == HINT
    assert "Train" in editor.visual.text()


def test_train_watches_the_selection_before_the_run_starts(editor):
    client = editor.client
    editor.state.select([FC1])
    client.sent.clear()
    click(editor.results.train_btn)
    kinds = [type(s).__name__ for s in client.sent]
    assert kinds == ["SetTaps", "Train"]
    assert client.taps() == [(FC1, "x", "in"), (FC1, "y", "out")]


def test_an_edit_that_changes_the_sources_re_sends_the_taps(editor):
    st, client = editor.state, editor.client
    sb = st.merge([FC2, FC3], "Middle")
    assert client.taps() == [(FC1, "y", "out"), (FC3, "y", "out")]
    n = len(client.sent)
    st.rename(sb, "Hidden")  # same tensors: nothing re-sent, the title follows
    assert len(client.sent) == n and "Hidden" in dpg.get_value(editor.visual.title)
    st.undo()
    st.undo()  # the merge: the SuperBlock is gone, so is the selection
    assert client.taps() == []


# -- what a frame draws -------------------------------------------------------------------------
def test_a_frame_shows_shape_stats_and_a_viridis_texture(editor):
    editor.state.select([FC1])
    values = np.linspace(-1.0, 3.0, 32 * 64, dtype=np.float32).reshape(32, 1, 8, 8)
    image = values[0, 0]  # the engine's heatmap of a 4-D batch: the first item's channels
    frame = make_frame(FC1, "x", "in", values, heatmap=image, step=7)
    editor.handle(frame)  # as the pump would
    panel = editor.visual.panel("in x")
    text = panel.text()
    assert "32×1×8×8  float32  ·  step 7" in text
    assert "heatmap 8×8: the first item's channels, tiled" in text
    assert f"min {-1:.4g}" in text and f"max {frame.max:.4g}" in text and f"mean {frame.mean:.4g}" in text
    assert "NaN 0   Inf 0" in text
    assert panel.size == display_size(8, 8) == (160, 160)
    tex = texture(panel)
    lut = colour_table()
    # The brightest heatmap pixel (bottom right) is the top of the colour map, the darkest the bottom.
    assert np.allclose(tex[-1, -1], lut[255]) and np.allclose(tex[0, 0], lut[0])
    assert np.allclose(lut[255][:3], [0xFD / 255, 0xE7 / 255, 0x25 / 255], atol=1e-3)  # viridis yellow
    assert np.allclose(lut[0][:3], [0x44 / 255, 0x01 / 255, 0x54 / 255], atol=1e-3)  # viridis purple
    # Nearest-neighbour: each heatmap pixel is a 20×20 block of one colour.
    hm = m.wire_to_array(frame.heatmap)
    assert np.allclose(tex[20 * 3 + 5, 20 * 6 + 19], lut[hm[3, 6]])
    assert np.allclose(tex, lut[np.repeat(np.repeat(hm, 20, 0), 20, 1)])
    # The colour bar and the histogram.
    assert dpg.get_value(panel.bar_max) == f"{frame.heatmap_max:.4g}"
    xs, ys = dpg.get_value(panel.hist)[:2]
    assert len(xs) == 64 and sum(10 ** y - 1 for y in ys) == pytest.approx(values.size)  # log counts


def test_textures_are_reused_and_remade_only_when_the_size_changes(editor):
    editor.state.select([FC1])
    panel = editor.visual.panel("out y")
    rng = np.random.default_rng(0)
    editor.handle(make_frame(FC1, "y", "out", rng.random((32, 128), np.float32)))
    first = panel.texture
    assert panel.size == (64, 256)  # 32×128 scaled 2×: the box is 160×256
    editor.handle(make_frame(FC1, "y", "out", rng.random((32, 128), np.float32), step=2))
    assert panel.texture == first
    editor.handle(make_frame(FC1, "y", "out", rng.random((16, 16), np.float32), step=3))
    assert panel.texture != first and not dpg.does_item_exist(first)
    assert panel.size == (160, 160) and dpg.get_item_configuration(panel.image)["texture_tag"] == panel.texture


def test_nan_and_inf_are_counted_in_red_and_float16_nan_pixels_are_grey(editor):
    editor.state.select([FC1])
    values = np.ones((4, 6), np.float32)
    values[0, 0], values[1, 1] = np.nan, np.inf
    hm = values.astype(np.float16)
    hm[1, 1] = 2.0
    editor.handle(make_frame(FC1, "y", "out", values, heatmap=hm))
    panel = editor.visual.panel("out y")
    assert "NaN 1   Inf 1" in panel.text()
    assert tuple(dpg.get_item_configuration(panel.counts)["color"])[:2] == pytest.approx((1.0, 90 / 255), abs=0.01)
    tex = texture(panel)
    assert np.allclose(tex[0, 0], colour_table()[256])  # no data
    assert np.allclose(tex[-1, -1], colour_table()[0])  # 1.0 is the bottom of 1..2


def test_heatmap_rgba_upscales_any_aspect():
    image = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    out = heatmap_rgba(image, 0.0, 1.0, display_size(3, 4))
    assert out.shape == (160, 213, 4) and out.dtype == np.float32
    assert display_size(1, 256) == (12, 256)  # a single row stays visible
    assert display_size(1, 1) == (160, 160)


# -- a real engine ------------------------------------------------------------------------------
def test_training_streams_fc1_heatmaps_from_a_real_engine():
    with gui_context():
        ed = Editor(EditorState())
        ed.start_engine(threads=1)
        try:
            st = ed.state
            st.open(str(MLP))
            enter(ed.results.epochs, 2)
            wait_for(ed, lambda: bool(st.catalog) and bool(st.validation.received) and not st.validation.pending)
            st.select([FC1])
            click(ed.results.train_btn)
            wait_for(ed, lambda: len(ed.visual.frames) == 2 or st.training.state in ("finished", "failed"), 60)
            assert st.training.state != "failed", st.training.reason
            assert set(ed.visual.frames) == {(FC1, "x", "in"), (FC1, "y", "out")}
            fin, fout = ed.visual.frames[(FC1, "x", "in")], ed.visual.frames[(FC1, "y", "out")]
            # The digits batch as the Input reshapes it; FC1 flattens it and maps 64 -> 128.
            assert len(fin.shape) == 4 and fin.shape[1:] == (1, 8, 8)
            assert fout.shape[1:] == (128,) and fout.shape[0] == fin.shape[0]
            for f in (fin, fout):
                assert all(math.isfinite(v) for v in (f.min, f.max, f.mean, f.std)) and f.nan_count == 0
            text = ed.visual.text()
            assert f"{fin.shape[0]}×1×8×8  float32" in text and f"{fout.shape[0]}×128  float32" in text
            assert fout.min >= 0  # FC1 has a ReLU
            panel = ed.visual.panel("in x")
            assert panel.size == display_size(*m.wire_to_array(fin.heatmap).shape)
            wait_for(ed, lambda: st.training.state in ("finished", "stopped"), 60)
        finally:
            ed.close()


# -- rendered -------------------------------------------------------------------------------------
def render(out: str, size: tuple[int, int] = (1600, 1000)) -> None:
    """Render the editor on John's MLP with synthetic frames on FC1's panels; save the frame."""
    from dpg_blocks.ui.editor import app
    editor = app._create(size, str(MLP))
    try:
        editor.state.set_catalog(builtin_catalog())
        editor.state.select([FC1])
        dpg.set_value(dpg.get_item_parent(editor.visual_tab), editor.visual_tab)
        digits = np.loadtxt(DIGITS_CSV, delimiter=",", skiprows=1, max_rows=32)[:, 1:].astype(np.float32)
        x = (digits / 16.0).reshape(32, 1, 8, 8)
        rng = np.random.default_rng(1)
        y = np.maximum(0, x.reshape(32, 64) @ rng.normal(0, 0.25, (64, 128)) + 0.05).astype(np.float32)
        editor.handle(make_frame(FC1, "x", "in", x, heatmap=x[0, 0], step=412))
        editor.handle(make_frame(FC1, "y", "out", y, step=412))
        for _ in range(6):
            dpg.render_dearpygui_frame()
        dpg.output_frame_buffer(out)
        for _ in range(3):
            dpg.render_dearpygui_frame()
    finally:
        dpg.destroy_context()


@needs_xvfb
@pytest.mark.skipif(shutil.which("convert") is None, reason="needs ImageMagick's convert to read the PNG")
def test_the_heatmaps_render(tmp_path):
    png = tmp_path / "visual.png"
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", sys.executable, __file__, str(png)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    raw = subprocess.run(["convert", str(png), "-depth", "8", "rgb:-"], capture_output=True, check=True).stdout
    img = np.frombuffer(raw, np.uint8).reshape(1000, 1600, 3).astype(int)
    bottom = img[700:]  # the bottom pane
    yellow = np.all(np.abs(bottom - [0xFD, 0xE7, 0x25]) < 12, axis=-1).sum()
    purple = np.all(np.abs(bottom - [0x44, 0x01, 0x54]) < 12, axis=-1).sum()
    assert yellow > 300 and purple > 1000, (yellow, purple)  # the digit's strokes and background


if __name__ == "__main__":
    render(sys.argv[1])
