"""Keep the editor's window on the screen it opens on.

Dear PyGui places a new viewport at (100, 100) with the size asked for, and without a window
manager (a kiosk, Xvfb, some tiling setups) nothing moves it: a 1600×1000 window on a
1600×1000 screen then hangs off the right and bottom edges, menus and panes cut off. Dear
PyGui has no monitor API, but on Linux and macOS it runs on GLFW and ``_dearpygui.so`` exports
GLFW's C functions (DESIGN.md §7), so the monitor's work area is one ctypes call away. Where
they are missing (Windows builds use Win32) the window stays where Dear PyGui put it.
"""

from __future__ import annotations

import ctypes

import dearpygui.dearpygui as dpg

__all__ = ["work_area", "fit_viewport"]


def work_area() -> tuple[int, int, int, int] | None:
    """The primary monitor's work area (x, y, width, height), or None when it cannot be read."""
    try:
        import dearpygui._dearpygui as native

        lib = ctypes.CDLL(native.__file__)
        lib.glfwGetPrimaryMonitor.restype = ctypes.c_void_p
        monitor = lib.glfwGetPrimaryMonitor()
        if not monitor:
            return None
        x, y, w, h = (ctypes.c_int() for _ in range(4))
        lib.glfwGetMonitorWorkarea.argtypes = [ctypes.c_void_p, *[ctypes.POINTER(ctypes.c_int)] * 4]
        lib.glfwGetMonitorWorkarea(monitor, ctypes.byref(x), ctypes.byref(y), ctypes.byref(w), ctypes.byref(h))
    except (OSError, AttributeError):
        return None
    return (x.value, y.value, w.value, h.value) if w.value > 0 and h.value > 0 else None


def fit_viewport(area: tuple[int, int, int, int] | None = None) -> bool:
    """Shrink and move the viewport so all of it is on the screen; returns whether it moved."""
    area = area or work_area()
    if area is None:
        return False
    ax, ay, aw, ah = area
    width, height = dpg.get_viewport_width(), dpg.get_viewport_height()
    x, y = dpg.get_viewport_pos()
    new_w, new_h = min(width, aw), min(height, ah)
    new_x = min(max(int(x), ax), ax + aw - new_w)
    new_y = min(max(int(y), ay), ay + ah - new_h)
    if (new_w, new_h, new_x, new_y) == (width, height, int(x), int(y)):
        return False
    dpg.set_viewport_width(new_w)
    dpg.set_viewport_height(new_h)
    dpg.set_viewport_pos([new_x, new_y])
    return True
