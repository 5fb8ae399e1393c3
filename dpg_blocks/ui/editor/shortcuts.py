"""The editor's keyboard shortcuts: one table serves the key handler and Help › Shortcuts.

Modifiers are tracked from the key events themselves, in the order Dear PyGui queued them,
instead of asking ``is_key_down`` when the callback finally runs: by then a quick Ctrl+Z
(xdotool, a fast typist) may have released Ctrl already, and the Z alone did nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import dearpygui.dearpygui as dpg

__all__ = ["Shortcut", "SHORTCUTS", "MOUSE_HELP", "Keyboard"]


@dataclass(frozen=True)
class Shortcut:
    """A key (with or without Ctrl) and the editor action it runs."""

    keys: str  # as shown to the user: "Ctrl+S"
    action: str  # the Editor method's name
    help: str
    while_typing: bool = False  # also when a text field has the keyboard (Ctrl+S saves anyway)

    @property
    def ctrl(self) -> bool:
        return self.keys.startswith("Ctrl+")

    @property
    def key(self) -> int:
        name = self.keys.removeprefix("Ctrl+")
        if name in KEY_CODES:
            return KEY_CODES[name]
        return getattr(dpg, KEY_NAMES.get(name, f"mvKey_{name}"))

    @property
    def keypad_key(self) -> int | None:
        """The numeric keypad's key that does the same (Ctrl+keypad + zooms in too)."""
        name = KEYPAD_NAMES.get(self.keys.removeprefix("Ctrl+"))
        return getattr(dpg, name) if name else None


KEY_NAMES = {"Del": "mvKey_Delete", "Backspace": "mvKey_Back", "Esc": "mvKey_Escape", "Enter": "mvKey_Return",
             "-": "mvKey_Minus"}
# Dear PyGui 2.3 has no mvKey_Equal, and its mvKey_Plus is GLFW's code for the = key (61),
# which it never sends: ImGui reports the = key (+ is Shift+=) as ImGuiKey_Equal, 602, so
# Ctrl+= did nothing. (Checked under Xvfb: xdotool's "equal" arrives as 602, "minus" as 598.)
KEY_CODES = {"=": 602}
KEYPAD_NAMES = {"=": "mvKey_Add", "-": "mvKey_Subtract"}

SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("Ctrl+N", "shortcut_new", "New project", while_typing=True),
    Shortcut("Ctrl+O", "shortcut_open", "Open a project…", while_typing=True),
    Shortcut("Ctrl+S", "shortcut_save", "Save", while_typing=True),
    Shortcut("Ctrl+Q", "shortcut_quit", "Quit (asks about unsaved changes)", while_typing=True),
    Shortcut("Ctrl+Z", "shortcut_undo", "Undo"),
    Shortcut("Ctrl+Y", "shortcut_redo", "Redo"),
    Shortcut("Ctrl+C", "copy", "Copy the selected blocks"),
    Shortcut("Ctrl+X", "cut", "Cut the selected blocks"),
    Shortcut("Ctrl+V", "paste", "Paste (at the mouse when it is over the canvas)"),
    Shortcut("Ctrl+D", "duplicate", "Duplicate the selected blocks"),
    Shortcut("Ctrl+A", "select_all", "Select every block on the canvas"),
    Shortcut("Del", "delete_selected", "Delete the selected blocks and links"),
    Shortcut("F2", "rename_dialog", "Rename the selected block"),
    Shortcut("Ctrl+G", "go_to_dialog", "Go to a block by name or path (Backbone/FC3)"),
    Shortcut("Ctrl+L", "shortcut_layout", "Lay the graph out in columns"),
    Shortcut("Home", "shortcut_frame", "Frame the whole graph (zooms out, down to 25 %, when it does not fit at 100 %)"),
    Shortcut("Ctrl+=", "zoom_in", "Zoom in (Ctrl+wheel up zooms about the mouse)"),
    Shortcut("Ctrl+-", "zoom_out", "Zoom out (Ctrl+wheel down zooms about the mouse)"),
    Shortcut("Ctrl+0", "zoom_reset", "Zoom to 100 %"),
    Shortcut("Ctrl+Home", "zoom_to_fit", "Zoom (25–200 %) so the whole graph fills the canvas"),
    Shortcut("Backspace", "shortcut_leave", "Leave the open SuperBlock (up one level)"),
    Shortcut("Ctrl+Enter", "apply_code", "Apply the code window's code to its Custom block", while_typing=True),
    Shortcut("Esc", "close_popups", "Close the menu or dialog that is open", while_typing=True),
    Shortcut("F1", "show_shortcuts", "This list", while_typing=True),
)

MOUSE_HELP: tuple[tuple[str, str], ...] = (
    ("Middle-drag", "Pan the canvas"),
    ("Ctrl+wheel", "Zoom about the mouse, 25–200 % (the project is not changed)"),
    ("Click or drag the overview", "Move the view there: the canvas' corner shows every block, failing ones "
     "red, and the part in view (View › Overview hides it)"),
    ("Drag a pin to a pin", "Link an output to an input (a refused link says why in the status line)"),
    ("Ctrl+click a link", "Remove it"),
    ("Left-drag on empty canvas", "Box-select blocks"),
    ("Right-click a block", "Rename, merge, expand, open, save to library, copy, delete"),
    ("Double-click a SuperBlock", "Open it on the canvas (Backspace or the breadcrumb goes back)"),
    ("Double-click a Custom block", "Open its code window (forward, backward, ports; Ctrl+Enter applies)"),
    ("\"+\" in the Blocks menu", "Add a block"),
    ("Drop a file on the window", "From the file manager (Linux, macOS): a .dpgb opens, a .dpgblock is inserted "
     "where dropped, a plugin folder or .py asks to install, a .py with nn.Modules opens Import, a CSV, NPZ "
     "or image-class folder becomes an Input's data (dropped on it) or a new Input (on empty canvas)"),
)

CTRL_KEYS = ("mvKey_LControl", "mvKey_RControl")


class Keyboard:
    """Dispatches key presses to ``actions`` by :data:`SHORTCUTS`, tracking Ctrl in event order."""

    def __init__(self, actions: object, typing: Callable[[], bool]) -> None:
        self.actions = actions
        self.typing = typing
        self.ctrl_keys = {getattr(dpg, k) for k in CTRL_KEYS if hasattr(dpg, k)}
        self.ctrl_down = False
        self.table = {(s.ctrl, s.key): s for s in SHORTCUTS}
        self.table.update({(s.ctrl, k): s for s in SHORTCUTS if (k := s.keypad_key) is not None})
        self.letters = {getattr(dpg, f"mvKey_{c}") for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}

    def on_press(self, key: int) -> bool:
        """A key went down; returns whether it ran a shortcut."""
        if key in self.ctrl_keys:
            self.ctrl_down = True
            return False
        held = any(dpg.is_key_down(k) for k in self.ctrl_keys)
        ctrl = self.ctrl_down or held
        shortcut = self.table.get((ctrl, key))
        if shortcut is None:
            return False
        typing = self.typing()
        if typing and (not shortcut.while_typing or (shortcut.ctrl and not held and key in self.letters)):
            # In a text field a letter is text unless Ctrl is really down now: the tracked Ctrl
            # can be stale there (its release queued behind the letter), and "Ctrl+A, Cross"
            # typed in the Blocks search saved the project at the "s". (Ctrl+Enter types no
            # text: a quick one still applies the code window's code.)
            return False
        getattr(self.actions, shortcut.action)()
        return True

    def on_release(self, key: int) -> None:
        """A key went up."""
        if key in self.ctrl_keys:
            self.ctrl_down = False
