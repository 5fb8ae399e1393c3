"""A tiny XDND drag source (python-xlib), for dropping files on a window under Xvfb as a file
manager would: enter, position, wait for the target's status, drop, answer its selection
request with ``text/uri-list``, wait for finished. xdotool cannot do XDND."""

from __future__ import annotations

import time
from pathlib import Path

from Xlib import X, display
from Xlib.protocol import event

XDND_VERSION = 5


class DropFailed(RuntimeError):
    """The target did not take the drop (the message says at which step)."""


def drop_files(window_id: int, paths: list[Path], x: int, y: int, timeout_s: float = 10.0) -> None:
    """Drop ``paths`` on window ``window_id`` at (``x``, ``y``) in the window's pixels."""
    d = display.Display()
    try:
        _drop(d, window_id, paths, x, y, timeout_s)
    finally:
        d.close()


def _drop(d: display.Display, window_id: int, paths: list[Path], x: int, y: int, timeout_s: float) -> None:
    atom = d.intern_atom
    root = d.screen().root
    target = d.create_resource_object("window", window_id)
    if target.get_full_property(atom("XdndAware"), X.AnyPropertyType) is None:
        raise DropFailed(f"window {window_id:#x} is not XdndAware")
    source = root.create_window(0, 0, 1, 1, 0, X.CopyFromParent)
    uri_list = atom("text/uri-list")
    source.set_selection_owner(atom("XdndSelection"), X.CurrentTime)
    at = root.translate_coords(target, x, y)  # XDND positions are root coordinates

    def send(kind: str, data: list[int]) -> None:
        msg = event.ClientMessage(window=target, client_type=atom(kind), data=(32, data + [0] * (5 - len(data))))
        target.send_event(msg, event_mask=0)
        d.flush()

    def wait(what: str, pred) -> event.AnyEvent:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            while d.pending_events():
                ev = d.next_event()
                if ev.type == X.SelectionRequest:
                    _answer(d, ev, paths)
                elif pred(ev):
                    return ev
            time.sleep(0.02)
        raise DropFailed(f"no {what} from window {window_id:#x} within {timeout_s} s")

    def client_message(kind: str):
        return lambda ev: ev.type == X.ClientMessage and ev.client_type == atom(kind)

    send("XdndEnter", [source.id, XDND_VERSION << 24, uri_list])
    send("XdndPosition", [source.id, 0, (at.x << 16) | at.y, X.CurrentTime, atom("XdndActionCopy")])
    status = wait("XdndStatus", client_message("XdndStatus"))
    if not status.data[1][1] & 1:
        raise DropFailed(f"window {window_id:#x} refused the drop")
    send("XdndDrop", [source.id, 0, X.CurrentTime])
    wait("XdndFinished", client_message("XdndFinished"))
    source.destroy()
    d.flush()


def _answer(d: display.Display, request: event.AnyEvent, paths: list[Path]) -> None:
    """The target asks for the dragged data: the paths as a ``text/uri-list``."""
    data = "".join(Path(p).resolve().as_uri() + "\r\n" for p in paths).encode()
    request.requestor.change_property(request.property, request.target, 8, data)
    notify = event.SelectionNotify(time=request.time, requestor=request.requestor, selection=request.selection,
                                   target=request.target, property=request.property)
    request.requestor.send_event(notify)
    d.flush()
