"""Escape closes an open menu-bar menu.

Dear ImGui closes a menu on Escape only with keyboard navigation on and only while the menu
window has the focus (ocornut/imgui#6428), and Dear PyGui has no call that closes one. A menu
that is not submitted for a frame is closed by ImGui, so Escape hides each open menu for a
couple of frames and shows it again (checked by real input: tests/test_ui_menus.py).
"""

from __future__ import annotations

import dearpygui.dearpygui as dpg

HIDDEN_FRAMES = 2  # one is not always enough: the hide can land after that frame's submission


class MenuCloser:
    """Close the menu bar's open menus on request (:meth:`close`), restore them in :meth:`tick`."""

    def __init__(self, menu_bar: int | str) -> None:
        self.menu_bar = menu_bar
        self._hidden: list[int | str] = []
        self._frames = 0

    def menus(self) -> list[int | str]:
        """The menu bar's top-level menus (File, Edit, …)."""
        return [m for m in dpg.get_item_children(self.menu_bar, 1) or []
                if dpg.get_item_type(m) == "mvAppItemType::mvMenu"]

    def open_menus(self) -> list[int | str]:
        """Menus drawn open in the last frame (an open menu reports its popup's size)."""
        return [m for m in self.menus() if dpg.get_item_state(m).get("rect_size", (0, 0))[0] > 0]

    def close(self) -> bool:
        """Close every open menu; whether one was open."""
        shown = self.open_menus()
        for m in shown:
            dpg.configure_item(m, show=False)
        self._hidden.extend(shown)
        if shown:
            self._frames = HIDDEN_FRAMES
        return bool(shown)

    def tick(self) -> None:
        """Per frame: show the hidden menus again once ImGui has dropped their popups."""
        if not self._hidden:
            return
        self._frames -= 1
        if self._frames <= 0:
            for m in self._hidden:
                if dpg.does_item_exist(m):
                    dpg.configure_item(m, show=True)
            self._hidden = []
