"""The editor's windows: four dockable panes, their default arrangement, and the saved layout.

Each pane is a top-level Dear PyGui window over the viewport's dock space, so the user can
drag, resize, tab and dock them; Dear PyGui saves the arrangement to an ``.ini`` file that is
read back at the next start. ImGui keys that file by window id, and Dear PyGui's ids follow
creation order (DESIGN.md §7), so every pane gets a fixed numeric tag far above the ids Dear
PyGui hands out: adding a widget somewhere never scrambles a saved layout.

Until the user moves or resizes a pane, the panes tile the viewport (the paper's Figure 3) and
follow its size; after that the user's arrangement is kept, and View › Reset layout restores
the default.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dearpygui.dearpygui as dpg

from dpg_blocks.core.atomic_file import atomic_path

LAYOUT_FILE = "layout.ini"
MENU_H = 21  # the viewport menu bar
LEFT_W, RIGHT_W, BOTTOM_H = 290, 290, 290
# Fixed ids (see the module docstring); bump LAYOUT_VERSION when the panes change meaning.
LAYOUT_VERSION = 1
TAG_BASE = 4_200_000_000 + 100 * LAYOUT_VERSION


@dataclass(frozen=True)
class Pane:
    key: str
    label: str
    tag: int


PANES = (
    Pane("network", "Network", TAG_BASE + 1),
    Pane("canvas", "Canvas", TAG_BASE + 2),
    Pane("blocks", "Blocks", TAG_BASE + 3),
    Pane("inspector", "Debug · Visualization · Optimization", TAG_BASE + 4),
)
Rect = tuple[int, int, int, int]  # x, y, w, h


def default_rects(width: int, height: int) -> dict[str, Rect]:
    """Where each pane goes in a ``width`` × ``height`` viewport: tree | canvas | blocks over
    the inspector tabs."""
    top_h = max(200, height - MENU_H - BOTTOM_H)
    centre_w = max(300, width - LEFT_W - RIGHT_W)
    return {
        "network": (0, MENU_H, LEFT_W, top_h),
        "canvas": (LEFT_W, MENU_H, centre_w, top_h),
        "blocks": (LEFT_W + centre_w, MENU_H, RIGHT_W, top_h),
        "inspector": (0, MENU_H + top_h, width, max(120, height - MENU_H - top_h)),
    }


def layout_path() -> Path:
    """The saved arrangement, in the user folder."""
    from dpg_blocks.core.user.folder import user_dir

    return user_dir() / LAYOUT_FILE


def configure_docking() -> bool:
    """Turn on docking and load the saved layout if there is one; call before the viewport.

    Returns whether a saved layout was loaded. The ``.ini`` is named only when it exists:
    Dear PyGui misbehaves when asked to load a missing one (DESIGN.md §7).
    """
    path = layout_path()
    if path.is_file():
        dpg.configure_app(docking=True, docking_space=True, init_file=str(path), load_init_file=True)
        return True
    dpg.configure_app(docking=True, docking_space=True)
    return False


class Workspace:
    """The four pane windows; :attr:`windows` maps a pane's key to its window."""

    def __init__(self, size: tuple[int, int], saved: bool = False) -> None:
        self.windows: dict[str, int] = {}
        for pane in PANES:
            self.windows[pane.key] = dpg.add_window(
                label=pane.label, tag=pane.tag, no_close=True, no_collapse=True,
                no_scrollbar=pane.key == "canvas", no_scroll_with_mouse=pane.key == "canvas",
            )
        self.applied: dict[str, Rect] = {}
        self.custom = saved  # a loaded layout is the user's: never overridden by resizing
        if not saved:
            self.apply(*size)

    def apply(self, width: int, height: int) -> None:
        """Tile the viewport with the panes (the default arrangement)."""
        self.applied = default_rects(width, height)
        for key, (x, y, w, h) in self.applied.items():
            dpg.configure_item(self.windows[key], pos=[x, y], width=w, height=h)

    def moved_by_user(self) -> bool:
        """Whether a pane is no longer where :meth:`apply` put it."""
        for key, (x, y, w, h) in self.applied.items():
            win = self.windows[key]
            pos = dpg.get_item_pos(win)
            cfg = dpg.get_item_configuration(win)
            if abs(pos[0] - x) > 2 or abs(pos[1] - y) > 2 or abs(cfg["width"] - w) > 2 or abs(cfg["height"] - h) > 2:
                return True
        return False

    def on_resize(self, width: int, height: int) -> None:
        """Follow the viewport while the arrangement is the default one."""
        if not self.custom and self.applied and self.moved_by_user():
            self.custom = True
        if not self.custom:
            self.apply(width, height)

    def reset(self, width: int, height: int) -> None:
        """View › Reset layout: forget the saved arrangement and tile the viewport again."""
        layout_path().unlink(missing_ok=True)
        self.custom = False
        self.apply(width, height)

    def save(self) -> Path | None:
        """Write the arrangement for the next start (only once the user has arranged it)."""
        if not dpg.is_viewport_ok():
            return None
        if not self.custom and not self.moved_by_user():
            return None
        path = layout_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:  # a kill mid-save keeps the previous arrangement
            dpg.save_init_file(str(tmp))
        return path
