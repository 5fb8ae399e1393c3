"""The code window's gutters: line numbers level with each buffer's lines, and the error's red row.

Dear PyGui has no code editor widget, so each buffer is a multiline text input made as tall as
its text (it never scrolls by itself) beside a gutter of one text row per line, with zero item
spacing and frame padding so the rows follow the lines; backward's numbers continue forward's,
as the engine counts lines. The line a validation record names (``code_line``) is drawn as a red
row in the gutter, and the message is written under that buffer. A mixin of
:class:`~dpg_blocks.ui.code.window.CodeWindow`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import dearpygui.dearpygui as dpg

from dpg_blocks.ui.code.text import backward_start, numbered_lines
from dpg_blocks.ui.theme import RED

if TYPE_CHECKING:
    from dpg_blocks.ui.state.editor_state import EditorState

__all__ = ["MIN_ROWS", "ROW_SPACING", "Gutters"]

_LINE_OF_CODE = re.compile(r"\s*\(line \d+ of the code\)$")
MIN_ROWS = 4  # an empty buffer still offers a few lines to click into
ROW_SPACING = 0  # the gutter's rows follow each other like the buffer's lines


class Gutters:
    """Line numbers and the marked error line (a mixin of :class:`~dpg_blocks.ui.code.window.CodeWindow`)."""

    # What this mixin uses of the CodeWindow it is part of.
    state: EditorState
    block_id: str | None
    marked: tuple[str, int] | None
    error_text: str
    _shown: dict[str, Any]
    forward: int | str
    backward: int | str
    forward_gutter: int | str
    backward_gutter: int | str
    forward_error: int | str
    backward_error: int | str
    note_text: Callable[[str], None]

    def _build_themes(self) -> None:
        """The gutter's row spacing, the red row of the error line and the red error text."""
        with dpg.theme() as self._gutter_theme:
            with dpg.theme_component(dpg.mvAll):
                dpg.add_theme_style(dpg.mvStyleVar_ItemSpacing, 0, ROW_SPACING)
                # a text item is as tall as a frame (font + 2 × frame padding); the buffer's lines
                # are only the font's height apart
                dpg.add_theme_style(dpg.mvStyleVar_FramePadding, 2, 0)
        with dpg.theme() as self._mark_theme:  # the error line's row: a red band across the gutter
            with dpg.theme_component(dpg.mvButton):
                for col in (dpg.mvThemeCol_Button, dpg.mvThemeCol_ButtonHovered, dpg.mvThemeCol_ButtonActive):
                    dpg.add_theme_color(col, RED)
                dpg.add_theme_color(dpg.mvThemeCol_Text, (255, 255, 255))
                dpg.add_theme_style(dpg.mvStyleVar_FramePadding, 2, 0)
                dpg.add_theme_style(dpg.mvStyleVar_FrameRounding, 0)
        with dpg.theme() as self._error_theme:
            with dpg.theme_component(dpg.mvText):
                dpg.add_theme_color(dpg.mvThemeCol_Text, RED)

    def _show_error(self, message: str, under: str) -> None:
        """``message`` in red under the forward or backward buffer ("" clears it)."""
        self.error_text = message
        for which, item in (("forward", self.forward_error), ("backward", self.backward_error)):
            dpg.set_value(item, message if which == under else "")
            dpg.configure_item(item, show=bool(message) and which == under)

    def show_record(self) -> None:
        """Mark the line the block's validation record names, and write its message."""
        if self.block_id is None:
            return
        rec = self.state.record(self.block_id)
        self.marked = None
        message = ""
        if rec is not None and rec.get("status") == "error":
            text = _LINE_OF_CODE.sub("", str(rec.get("message") or rec.get("error_type") or "error"))
            line = int(rec.get("code_line") or 0)
            if line:
                self.marked = self._row_of(line)
                message = f"line {line}: {text}"
            else:
                message = text
        elif rec is not None and rec.get("gradcheck"):
            self.note_text(f"gradient check {rec['gradcheck']}")
        self._show_error(message, self.marked[0] if self.marked else "forward")
        self._draw_gutters()

    def _row_of(self, line: int) -> tuple[str, int]:
        """Which buffer and row show line ``line`` of the code as applied."""
        forward, backward = str(self._shown.get("forward", "")), str(self._shown.get("backward", ""))
        start = backward_start(forward, backward)
        return ("backward", line - start + 1) if backward.strip() and line >= start else ("forward", line)

    # -- the gutters ---------------------------------------------------------------------------
    def _typed(self) -> None:
        """A buffer changed: resize both to their text and renumber the gutters."""
        self._draw_gutters()

    def _line_height(self) -> float:
        return 15.0 * dpg.get_global_font_scale()  # the fonts are loaded at 15 px (theme.load_fonts)

    def _draw_gutters(self) -> None:
        forward, backward = str(dpg.get_value(self.forward) or ""), str(dpg.get_value(self.backward) or "")
        first = backward_start(forward, backward)
        for which, text, gutter, box, start in (("forward", forward, self.forward_gutter, self.forward, 1),
                                                ("backward", backward, self.backward_gutter, self.backward, first)):
            rows = numbered_lines(text)
            lh = self._line_height()
            # as tall as the text (plus a line and room for a horizontal scroll bar): it never
            # scrolls by itself, so the gutter's rows stay level with its lines
            dpg.configure_item(box, height=int((max(rows, MIN_ROWS) + 2) * lh + 6 + 14))
            dpg.delete_item(gutter, children_only=True)
            dpg.add_spacer(height=3, parent=gutter)  # the input's frame padding above its first line
            if which == "backward" and not text.strip():
                continue
            for row in range(1, rows + 1):
                label = f"{start + row - 1:>3}"
                if self.marked == (which, row):
                    dpg.bind_item_theme(dpg.add_button(label=label, width=34, height=int(lh), parent=gutter),
                                        self._mark_theme)
                else:
                    dpg.add_text(label, color=(120, 120, 130), parent=gutter)

    def marked_rect(self) -> dict[str, int] | None:
        """Where the red row was drawn in the last frame (tests read its pixels)."""
        if self.marked is None:
            return None
        gutter = self.forward_gutter if self.marked[0] == "forward" else self.backward_gutter
        for child in dpg.get_item_children(gutter, 1) or []:
            if dpg.get_item_type(child) == "mvAppItemType::mvButton":
                (x, y), (w, h) = dpg.get_item_rect_min(child), dpg.get_item_rect_size(child)
                return {"x": int(x), "y": int(y), "w": int(w), "h": int(h)}
        return None
