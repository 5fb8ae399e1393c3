"""Colours, fonts and the per-item themes that show validation on the canvas (DESIGN.md §7)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dearpygui.dearpygui as dpg

RED = (235, 60, 60)
YELLOW = (250, 210, 40)
GREEN = (90, 200, 110)
GREY = (150, 150, 150)
BLUE = (110, 170, 240)
LIVE = (110, 170, 240)  # a block live in the running order (outline while training)
DIMMED_BG = (28, 28, 31)  # a block no order of the running run uses
PIN = (150, 180, 210)  # the global pin colour: imnodes' default is yellowish, too close to "upstream"

STATUS_COLOURS = {
    "ok": GREEN,
    "error": RED,
    "upstream-error": YELLOW,
    "idle": GREY,
}
ENGINE_COLOURS = {
    "starting": YELLOW,
    "restarting": YELLOW,
    "ready": GREEN,
    "validating": BLUE,
    "training": BLUE,
    "crashed": RED,
    "hung": RED,
    "stopped": GREY,
}

# Fonts with the glyphs the editor prints (× in shapes, › in block paths), first found wins.
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "C:/Windows/Fonts/segoeui.ttf",
)
MONO_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansMono-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
    "C:/Windows/Fonts/consola.ttf",
)


@dataclass
class Themes:
    """The themes bound to single items; ``0`` unbinds (back to the global theme)."""

    failing_node: int
    upstream_pin: int
    idle_node: int
    boundary_node: int
    status_text: dict[str, int]
    mono_font: int = 0
    live_node: int = 0  # training: a block live in the running order
    dimmed_node: int = 0  # training: a block no order of the run uses


def _first(paths: tuple[str, ...]) -> str | None:
    return next((p for p in paths if Path(p).is_file()), None)


def load_fonts(size: int = 15) -> tuple[int, int]:
    """A readable proportional and a monospace font (0 where none is installed)."""
    regular = mono = 0
    with dpg.font_registry():
        for path, slot in ((_first(FONT_CANDIDATES), "regular"), (_first(MONO_CANDIDATES), "mono")):
            if path is None:
                continue
            # Dear PyGui 2.x loads glyph ranges on demand (add_font_range is a no-op there).
            font = dpg.add_font(path, size)
            if slot == "regular":
                regular = font
            else:
                mono = font
    if regular:
        dpg.bind_font(regular)
    return regular, mono


def build_themes() -> Themes:
    """Create the global theme and the per-item ones; call once per context."""
    with dpg.theme() as global_theme:
        with dpg.theme_component(dpg.mvAll):
            dpg.add_theme_color(dpg.mvNodeCol_Pin, PIN, category=dpg.mvThemeCat_Nodes)
            dpg.add_theme_color(dpg.mvNodeCol_PinHovered, (200, 220, 240), category=dpg.mvThemeCat_Nodes)
            dpg.add_theme_style(dpg.mvNodeStyleVar_PinCircleRadius, 5, category=dpg.mvThemeCat_Nodes)
            dpg.add_theme_style(dpg.mvNodeStyleVar_NodeBorderThickness, 1.5, category=dpg.mvThemeCat_Nodes)
            dpg.add_theme_style(dpg.mvStyleVar_FrameRounding, 3)
    dpg.bind_theme(global_theme)

    def node_theme(outline: tuple[int, int, int], thickness: float, title: tuple[int, int, int] | None = None) -> int:
        with dpg.theme() as t:
            with dpg.theme_component(dpg.mvNode):
                dpg.add_theme_color(dpg.mvNodeCol_NodeOutline, outline, category=dpg.mvThemeCat_Nodes)
                dpg.add_theme_style(dpg.mvNodeStyleVar_NodeBorderThickness, thickness, category=dpg.mvThemeCat_Nodes)
                if title is not None:
                    for col in (dpg.mvNodeCol_TitleBar, dpg.mvNodeCol_TitleBarHovered, dpg.mvNodeCol_TitleBarSelected):
                        dpg.add_theme_color(col, title, category=dpg.mvThemeCat_Nodes)
        return t

    with dpg.theme() as upstream:
        with dpg.theme_component(dpg.mvNodeAttribute):
            dpg.add_theme_color(dpg.mvNodeCol_Pin, YELLOW, category=dpg.mvThemeCat_Nodes)
            dpg.add_theme_color(dpg.mvNodeCol_PinHovered, (255, 240, 120), category=dpg.mvThemeCat_Nodes)
    with dpg.theme() as idle:
        with dpg.theme_component(dpg.mvNode):
            dpg.add_theme_color(dpg.mvNodeCol_NodeBackground, (40, 40, 44), category=dpg.mvThemeCat_Nodes)
    status_text = {}
    for status, colour in {**STATUS_COLOURS, **ENGINE_COLOURS}.items():
        with dpg.theme() as t:
            with dpg.theme_component(dpg.mvText):
                dpg.add_theme_color(dpg.mvThemeCol_Text, colour)
        status_text[status] = t
    with dpg.theme() as dimmed:
        with dpg.theme_component(dpg.mvNode):
            dpg.add_theme_color(dpg.mvNodeCol_NodeBackground, DIMMED_BG, category=dpg.mvThemeCat_Nodes)
            dpg.add_theme_color(dpg.mvNodeCol_NodeOutline, (70, 70, 76), category=dpg.mvThemeCat_Nodes)
            for col in (dpg.mvNodeCol_TitleBar, dpg.mvNodeCol_TitleBarHovered, dpg.mvNodeCol_TitleBarSelected):
                dpg.add_theme_color(col, (45, 45, 50), category=dpg.mvThemeCat_Nodes)
            dpg.add_theme_color(dpg.mvThemeCol_Text, (120, 120, 128))
    return Themes(
        live_node=node_theme(LIVE, 2.5),
        dimmed_node=dimmed,
        failing_node=node_theme(RED, 4.0, (120, 30, 30)),
        upstream_pin=upstream,
        idle_node=idle,
        boundary_node=node_theme((80, 160, 130), 2.0, (35, 85, 70)),
        status_text=status_text,
    )
