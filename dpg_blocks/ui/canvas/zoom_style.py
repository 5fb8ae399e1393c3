"""What a canvas zoom changes in Dear PyGui besides the nodes' places: the nodes' font and the
node editor's style variables (DESIGN.md §7, "Zoom, emulated").

A font bound to the node editor does not reach its nodes' text, so each node gets the font of
the zoom (:meth:`ZoomStyle.font`); the style variables live in the global theme (bound to an
editor they had no effect) and are rescaled in place with ``set_value``.
"""

from __future__ import annotations

import dearpygui.dearpygui as dpg

from dpg_blocks.ui.canvas.view import ZOOM_MAX, ZOOM_MIN
from dpg_blocks.ui.theme import BASE_FONT_SIZE, FONT_CANDIDATES, ITEM_SPACING, first_file

# imnodes' defaults (ours for the pin radius): at 100 % the canvas looks as it did before zoom.
NODE_STYLE: dict[str, tuple[float, ...]] = {
    "mvNodeStyleVar_GridSpacing": (24.0,),
    "mvNodeStyleVar_NodePadding": (8.0, 8.0),
    "mvNodeStyleVar_NodeCornerRounding": (4.0,),
    "mvNodeStyleVar_PinCircleRadius": (5.0,),
    "mvNodeStyleVar_PinHoverRadius": (10.0,),
    "mvNodeStyleVar_LinkThickness": (3.0,),
    "mvNodeStyleVar_LinkHoverDistance": (10.0,),
}
MIN_FONT_PX = 4  # 25 % of 15 px; below this glyphs are blots anyway
MIN_GRID_PX = 12.0  # a finer grid is noise, not a sense of scale


class ZoomStyle:
    """Fonts for every zoom, loaded once, and the global theme's node style variables."""

    def __init__(self, theme_component: int | str | None = None, spacing: tuple[int, ...] = ()) -> None:
        self.fonts: dict[int, int] = {}
        path = first_file(FONT_CANDIDATES)
        if path is not None:
            # Dear PyGui 2.x rasterises glyphs on demand: a font per pixel size costs little.
            with dpg.font_registry():
                for px in range(MIN_FONT_PX, round(BASE_FONT_SIZE * ZOOM_MAX) + 1):
                    if px != BASE_FONT_SIZE:
                        self.fonts[px] = dpg.add_font(path, px)
        self.styles: dict[str, int] = {}
        # Unscaled, ImGui's spacing between a node's rows kept a zoomed-out node with many pins
        # tall, over the next one down: the node themes' ItemSpacing items (ui/theme.py).
        self.spacing = spacing
        if theme_component is not None:
            for name, values in NODE_STYLE.items():
                self.styles[name] = dpg.add_theme_style(getattr(dpg, name), *values, parent=theme_component,
                                                        category=dpg.mvThemeCat_Nodes)
        self.zoom = 1.0

    def font(self, zoom: float) -> int:
        """The font a node's text uses at ``zoom`` (0: the default font, as at 100 %)."""
        # rounded down: a glyph line is a little taller than its pixel size, and rounding up
        # made zoomed-out nodes taller than their places (they overlapped at 50 %)
        px = max(MIN_FONT_PX, int(BASE_FONT_SIZE * max(ZOOM_MIN, zoom) + 1e-6))
        return self.fonts.get(px, 0)

    def apply(self, zoom: float) -> None:
        """Scale the node editor's padding, pins, grid and links to ``zoom``."""
        if abs(zoom - self.zoom) < 1e-9:
            return
        self.zoom = zoom
        for name, item in self.styles.items():
            values = [v * zoom for v in NODE_STYLE[name]]
            if name == "mvNodeStyleVar_GridSpacing":
                values = [max(MIN_GRID_PX, values[0])]
            dpg.set_value(item, values)
        for item in self.spacing:
            dpg.set_value(item, [v * zoom for v in ITEM_SPACING])

    def padding(self, zoom: float) -> float:
        """The node padding in pixels at ``zoom`` (a node's ``rect_min`` lies that far inside it)."""
        return NODE_STYLE["mvNodeStyleVar_NodePadding"][0] * zoom
