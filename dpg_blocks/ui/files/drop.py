"""Files and folders dropped on the editor window from the desktop (Linux and macOS).

Dear PyGui has no drop API, but on Linux and macOS it runs on GLFW and ``_dearpygui.so``
exports GLFW's C functions, so :func:`install_drop_hook` sets ``glfwSetDropCallback`` on the
viewport's window through ctypes (DESIGN §7). GLFW calls back during
``render_dearpygui_frame()`` on the main thread; the callback only queues the paths with the
cursor position, and the editor drains the queue once per frame (``Editor.frame``), because
Dear PyGui must not be called from inside a GLFW callback. On Windows (Win32/DirectX, no GLFW)
or when the symbols or the window are not found, nothing is installed, that is logged once,
and the menus stay the way in.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from dataclasses import dataclass

log = logging.getLogger(__name__)

DropCallback = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_char_p))


@dataclass(frozen=True)
class Drop:
    """Paths dropped together, and where: window pixels, as ``dpg.get_mouse_pos(local=False)``."""

    paths: tuple[str, ...]
    pos: tuple[float, float]


class DropHook:
    """The installed GLFW drop callback and the drops it queued since the last :meth:`drain`."""

    def __init__(self, glfw: ctypes.CDLL, window: int) -> None:
        self.queue: list[Drop] = []
        self._glfw, self._window = glfw, window
        # GLFW keeps only the function pointer: this reference keeps the thunk alive.
        self._callback = DropCallback(self._on_drop)
        glfw.glfwSetDropCallback(ctypes.c_void_p(window), self._callback)

    def _on_drop(self, window: int, count: int, paths: ctypes.Array) -> None:
        # GLFW's thread and frame: queue only (an exception here would be lost inside C).
        try:
            names = tuple(paths[i].decode("utf-8", "surrogateescape") for i in range(count))
            x, y = ctypes.c_double(0.0), ctypes.c_double(0.0)
            self._glfw.glfwGetCursorPos(ctypes.c_void_p(window), ctypes.byref(x), ctypes.byref(y))
            self.queue.append(Drop(names, (x.value, y.value)))
        except Exception:  # noqa: BLE001 - never let a drop take the render loop down
            log.exception("a drop could not be read")

    def drain(self) -> list[Drop]:
        """The drops queued since the last call (oldest first)."""
        out, self.queue = self.queue, []
        return out


def install_drop_hook() -> DropHook | None:
    """Install the drop callback on the current GLFW window (after ``show_viewport()`` and one
    rendered frame); None, logged, where that is not possible."""
    if sys.platform.startswith("win"):
        log.info("files dropped on the window are not supported on Windows; use File › Open, "
                 "File › Import and Plugins › Add plugin folder…")
        return None
    try:
        import dearpygui._dearpygui as native

        glfw = ctypes.CDLL(native.__file__)
        glfw.glfwGetCurrentContext.restype = ctypes.c_void_p
        glfw.glfwSetDropCallback.argtypes = [ctypes.c_void_p, DropCallback]
        glfw.glfwSetDropCallback.restype = ctypes.c_void_p
        glfw.glfwGetCursorPos.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_double),
                                          ctypes.POINTER(ctypes.c_double)]
        glfw.glfwGetCursorPos.restype = None
        window = glfw.glfwGetCurrentContext()
    except (OSError, AttributeError, ImportError) as e:
        log.info("files dropped on the window are off: Dear PyGui's GLFW functions are not found (%s)", e)
        return None
    if not window:
        log.info("files dropped on the window are off: no GLFW window is current")
        return None
    return DropHook(glfw, int(window))
