"""Colours, fonts and the per-item themes that show validation on the canvas (DESIGN.md §7)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dearpygui.dearpygui as dpg

RED = (235, 60, 60)
YELLOW = (250, 210, 40)
SELECTED = (240, 240, 250)  # the outline of blocks selected from the keyboard (Ctrl+A): not LIVE blue
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
    selected_node: int = 0  # Edit › Select All: imnodes cannot select nodes from code (DearPyGui#2353)
    live_node: int = 0  # training: a block live in the running order
    dimmed_node: int = 0  # training: a block no order of the run uses
    global_component: int = 0  # the global theme's component: ZoomStyle puts the node style there
    plain_node: int = 0  # a node with no status to show: only the zoom's row spacing
    # The row spacing (ImGui's ItemSpacing) inside every node theme: the zoom scales it. Bound to
    # the node editor it does not reach the nodes, and globally it would space every pane.
    spacing: tuple[int, ...] = ()


BASE_FONT_SIZE = 15  # px: the editor's text at 100 % font scale and 100 % canvas zoom


def first_file(paths: tuple[str, ...]) -> str | None:
    """The first of ``paths`` that is a file (None when none is)."""
    return next((p for p in paths if Path(p).is_file()), None)


def load_fonts(size: int = BASE_FONT_SIZE) -> tuple[int, int]:
    """A readable proportional and a monospace font (0 where none is installed)."""
    regular = mono = 0
    with dpg.font_registry():
        for path, slot in ((first_file(FONT_CANDIDATES), "regular"), (first_file(MONO_CANDIDATES), "mono")):
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


ITEM_SPACING = (8.0, 4.0)  # ImGui's default


def build_themes() -> Themes:
    """Create the global theme and the per-item ones; call once per context."""
    spacing: list[int] = []

    def row_spacing() -> None:
        spacing.append(dpg.add_theme_style(dpg.mvStyleVar_ItemSpacing, *ITEM_SPACING))
    with dpg.theme() as global_theme:
        # the node style variables that scale with the canvas zoom are added here by ui/canvas/zoom_style.py
        with dpg.theme_component(dpg.mvAll) as global_component:
            dpg.add_theme_color(dpg.mvNodeCol_Pin, PIN, category=dpg.mvThemeCat_Nodes)
            dpg.add_theme_color(dpg.mvNodeCol_PinHovered, (200, 220, 240), category=dpg.mvThemeCat_Nodes)
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
                row_spacing()
        return t

    with dpg.theme() as plain:
        with dpg.theme_component(dpg.mvNode):
            row_spacing()

    with dpg.theme() as upstream:
        with dpg.theme_component(dpg.mvNodeAttribute):
            dpg.add_theme_color(dpg.mvNodeCol_Pin, YELLOW, category=dpg.mvThemeCat_Nodes)
            dpg.add_theme_color(dpg.mvNodeCol_PinHovered, (255, 240, 120), category=dpg.mvThemeCat_Nodes)
    with dpg.theme() as idle:
        with dpg.theme_component(dpg.mvNode):
            dpg.add_theme_color(dpg.mvNodeCol_NodeBackground, (40, 40, 44), category=dpg.mvThemeCat_Nodes)
            row_spacing()
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
            row_spacing()
    return Themes(
        live_node=node_theme(LIVE, 2.5),
        dimmed_node=dimmed,
        failing_node=node_theme(RED, 4.0, (120, 30, 30)),
        upstream_pin=upstream,
        idle_node=idle,
        boundary_node=node_theme((80, 160, 130), 2.0, (35, 85, 70)),
        status_text=status_text,
        selected_node=node_theme(SELECTED, 3.0, (40, 75, 120)),
        global_component=global_component,
        plain_node=plain,
        spacing=tuple(spacing),
    )
