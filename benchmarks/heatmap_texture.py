"""Time to turn one tap frame's heatmap into the Visualization pane's texture (DESIGN.md §7).

A 64×64 uint8 heatmap is coloured (viridis lookup), upscaled nearest-neighbour to 192×192 and
``set_value`` into a dynamic texture — what ``VisualPane`` does per new frame, CPU side (the
GPU upload happens in the next ``render_dearpygui_frame``). Also times the whole panel update
(texture, texts, histogram) for a decoded TapFrame. No viewport needed. Prints the medians and,
last, ``texture_update_ms=<median>`` (target 1-4 ms; ``add_heat_series`` costs 50-200 ms).

Run: .venv/bin/python benchmarks/heatmap_texture.py [--runs N] [--side 64] [--display 192]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import dearpygui.dearpygui as dpg
import numpy as np

from dpg_blocks.protocol import TapFrame, array_to_wire, decode, encode
from dpg_blocks.ui.panes.visual_pane import TapSlot, VisualPane, _Panel, heatmap_rgba
from dpg_blocks.ui.state.editor_state import EditorState


def frame(image: np.ndarray, step: int) -> TapFrame:
    """A decoded TapFrame carrying ``image`` as its heatmap."""
    counts, edges = np.histogram(image, bins=64)
    return decode(encode(TapFrame(
        block_id="b1", port="x", direction="in", step=step, shape=(32, 1, *image.shape), dtype="float32",
        numel=32 * image.size, heatmap=array_to_wire(image), heatmap_min=0.0, heatmap_max=1.0,
        min=0.0, max=1.0, mean=0.5, std=0.29, hist_counts=[int(c) for c in counts],
        hist_edges=[float(e) for e in edges], hist_sample=image.size, nan_count=0, inf_count=0,
    )))


def median_ms(fn: Callable[[], None], runs: int) -> float:
    """Median milliseconds of ``fn()`` after a warm-up."""
    for _ in range(5):  # warm-up: the colour table, allocator
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--side", type=int, default=64, help="heatmap side")
    ap.add_argument("--display", type=int, default=192, help="texture side on screen")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (args.side, args.side), dtype=np.uint8) for _ in range(8)]
    size = (args.display, args.display)

    dpg.create_context()
    try:
        with dpg.texture_registry():
            tex = dpg.add_dynamic_texture(args.display, args.display, np.zeros(args.display ** 2 * 4, np.float32))
        i = 0

        def update() -> None:
            nonlocal i
            i += 1
            dpg.set_value(tex, heatmap_rgba(images[i % 8], 0.0, 1.0, size).reshape(-1))

        colour_ms = median_ms(lambda: heatmap_rgba(images[0], 0.0, 1.0, size), args.runs)
        texture_ms = median_ms(update, args.runs)

        state = EditorState()
        with dpg.window():
            pane = VisualPane(state, dpg.last_item())
        # one hand-made panel (no project needed): the slot for block b1's input x
        pane.slots = [TapSlot("in", "x", ("b1", "x", "in"))]
        pane.panels = [_Panel(pane.slots[0], pane.body, pane.registry)]
        frames = [frame(im, k) for k, im in enumerate(images)]
        j = 0

        def panel() -> None:
            nonlocal j
            j += 1
            assert pane.on_frame(frames[j % 8])

        panel_ms = median_ms(panel, args.runs)
    finally:
        dpg.destroy_context()
    print(f"heatmap {args.side}x{args.side} -> texture {args.display}x{args.display}, {args.runs} runs, medians:")
    print(f"colour + upscale: {colour_ms:.3f} ms")
    print(f"whole panel update (texture {pane.panels[0].size[0]}px box, texts, histogram): {panel_ms:.3f} ms")
    print(f"texture_update_ms={texture_ms:.3f}")


if __name__ == "__main__":
    main()
