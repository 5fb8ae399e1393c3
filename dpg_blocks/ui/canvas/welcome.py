"""The empty canvas's welcome: the shipped examples one click away, and how to start a graph.

A new user who runs a bare ``dpg-blocks`` sees an empty grid; File › Open Example is two menus
deep. While the project's top-level graph is empty this small panel floats in the middle of the
canvas with a button per shipped example (its project name, e.g. "John's digits classifier")
and where blocks come from. It hides as soon as the graph has a block, and never takes the
keyboard focus from the canvas.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg

from dpg_blocks.core.assets import example_projects
from dpg_blocks.ui.state.editor_state import EditorState

MUTED = (160, 160, 170)
# Dropping files works where Dear PyGui runs on GLFW (ui/files/drop.py): not on Windows.
DROP_HINT = "" if sys.platform.startswith("win") else (
    "\nOr drop a project, a dataset or a plugin folder from the file manager on the window.")


def example_title(path: Path) -> str:
    """The example's project name (``mlp_digits`` when its file cannot be read)."""
    try:
        name = json.loads(path.read_text(encoding="utf-8")).get("name")
    except (OSError, ValueError, AttributeError):
        return path.stem
    return name if isinstance(name, str) and name.strip() else path.stem


class Welcome:
    """Floats over ``canvas_box`` (a group: child windows report no rectangle) while the project
    is empty; ``open_example(path)`` opens one."""

    def __init__(self, state: EditorState, canvas_box: int | str, open_example: Callable[[str], None]) -> None:
        self.state = state
        self.canvas_box = canvas_box
        self.examples = example_projects()
        self.buttons: dict[str, int] = {}
        with dpg.window(show=False, no_title_bar=True, no_move=True, no_resize=True, no_collapse=True,
                        no_saved_settings=True, no_focus_on_appearing=True, autosize=True,
                        no_scrollbar=True) as self.window:
            dpg.add_text("An empty project")
            dpg.add_text("Add blocks from the Blocks menu (right) or by right-clicking the canvas;\n"
                         "wire an output pin to an input pin by dragging. Help › Shortcuts (F1)." + DROP_HINT,
                         color=MUTED)
            if self.examples:
                dpg.add_spacer(height=6)
                dpg.add_text("Or start from an example:")
                for path in self.examples:
                    self.buttons[path.stem] = dpg.add_button(
                        label=f"{example_title(path)}  ({path.stem})", width=-1, user_data=str(path),
                        callback=lambda s, a, u: open_example(u))

    @property
    def shown(self) -> bool:
        return bool(dpg.is_item_shown(self.window))

    def wanted(self) -> bool:
        """Only on an empty top level: inside an empty SuperBlock the user knows what to do."""
        st = self.state
        return not st.project.graph.blocks and st.scope_id is None

    def tick(self) -> None:
        """Show or hide it, centred on the canvas (which moves when panes are resized)."""
        want = self.wanted()
        if want != self.shown:
            dpg.configure_item(self.window, show=want)
        if not want:
            return
        (x, y), (w, h) = dpg.get_item_rect_min(self.canvas_box), dpg.get_item_rect_size(self.canvas_box)
        pw, ph = dpg.get_item_rect_size(self.window)
        if w > 0 and h > 0:
            pos = [int(x + max(0, (w - pw) / 2)), int(y + max(0, (h - ph) / 3))]
            if list(dpg.get_item_pos(self.window)) != pos:
                dpg.set_item_pos(self.window, pos)

    def boxes(self) -> dict[str, Any]:
        """Where the panel and its example buttons were drawn (for ``screenshot --boxes``)."""
        def rect(item: int | str) -> dict[str, int]:
            (x, y), (w, h) = dpg.get_item_rect_min(item), dpg.get_item_rect_size(item)
            return {"x": int(x), "y": int(y), "w": int(w), "h": int(h)}

        (x, y), (w, h) = dpg.get_item_pos(self.window), dpg.get_item_rect_size(self.window)  # a window has no rect_min
        panel = {"x": int(x), "y": int(y), "w": int(w), "h": int(h)}
        return {"shown": self.shown, "panel": panel,
                "examples": {stem: {**rect(b), "label": dpg.get_item_label(b)} for stem, b in self.buttons.items()}}
