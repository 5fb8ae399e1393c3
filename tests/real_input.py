"""Real input for the editor under Xvfb: xdotool clicks, drags and keys, aimed and checked through
the editor's state dump (``DPG_BLOCKS_STATE_DUMP``, ui/state/dump.py).

A test runs :func:`run_script` with the body of a script; the script (a fresh Python under
``xvfb-run``) does ``from real_input import Driver`` and drives one editor with it. Every wait
polls the dump against a generous deadline instead of sleeping a fixed time, and every click is
retried when it landed before ImGui/imnodes saw the mouse hover (their widgets need a frame of
hover before a click counts), so the scripts hold on a loaded machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent
SCREEN = (1600, 1000)
Rect = list[int]  # x, y, w, h as the dump writes it
State = dict[str, Any]


def xdo(*args: str) -> str:
    """Run xdotool; its stdout."""
    return subprocess.run(["xdotool", *args], capture_output=True, text=True).stdout.strip()


def find_window(name: str = "dpg-blocks", seconds: float = 60.0) -> str:
    """The X window id of the editor once it is mapped."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        wid = xdo("search", "--name", name).split("\n")[0]
        if wid:
            return wid
        time.sleep(0.3)
    raise SystemExit(f"no window called {name!r} after {seconds:.0f} s")


def run_script(body: str, tmp_path: Path, *args: str, timeout: float = 240.0) -> subprocess.CompletedProcess[str]:
    """Run ``body`` under Xvfb (default screen) with this folder importable, the state dump at
    ``tmp_path/state.json`` (its path is ``sys.argv[1]``, then ``args``) and a fresh user folder."""
    dump = tmp_path / "state.json"
    env = {**os.environ, "DPG_BLOCKS_USER_DIR": str(tmp_path / "user"), "DPG_BLOCKS_STATE_DUMP": str(dump),
           "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    cmd = ["xvfb-run", "-a", "-s", f"-screen 0 {SCREEN[0]}x{SCREEN[1]}x24", sys.executable, "-c", body,
           str(dump), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=tmp_path, env=env)


def _touch(a: tuple[float, ...] | list[float], b: tuple[float, ...]) -> bool:
    """Whether two (x0, y0, x1, y1) boxes overlap."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _params(s: State, bid: str) -> dict[str, Any]:
    """A block's params, at the top of the graph or inside a SuperBlock."""
    top = next((b for b in s["blocks"] if b["id"] == bid), None)
    return (top or s["inner"][bid])["params"]


def middle(rect: Rect) -> tuple[float, float]:
    return rect[0] + rect[2] / 2, rect[1] + rect[3] / 2


class Driver:
    """One editor launched with ``editor_args``, driven by mouse and keyboard."""

    def __init__(self, dump_path: str, *editor_args: str) -> None:
        self.dump_path = dump_path
        self.editor = subprocess.Popen([sys.executable, "-m", "dpg_blocks", *editor_args])
        self.wid = find_window()

    # -- the editor's state -------------------------------------------------------------------
    def state(self) -> State:
        try:
            return json.loads(Path(self.dump_path).read_text())
        except (OSError, ValueError):
            return {}

    def poll(self, pred: Callable[[State], Any], seconds: float = 30.0, what: str = "") -> State:
        """The first dump for which ``pred`` holds; SystemExit naming ``what`` after ``seconds``."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            s = self.state()
            if s and pred(s):
                return s
            time.sleep(0.2)
        s = self.state()
        raise SystemExit(f"timed out waiting for {what or pred.__doc__ or pred}; status {s.get('status')!r}, "
                         f"blocks {[b['name'] for b in s.get('blocks', [])]}")

    def block(self, bid: str) -> dict[str, Any]:
        return next(b for b in self.state()["blocks"] if b["id"] == bid)

    def param(self, bid: str, name: str) -> Any:
        return self.block(bid)["params"][name]

    # -- the mouse and the keyboard -----------------------------------------------------------
    def at(self, x: float, y: float) -> None:
        """Move the mouse there and give the editor a frame or two to see the hover."""
        xdo("mousemove", "--window", self.wid, str(int(x)), str(int(y)))
        time.sleep(0.2)

    def key(self, *keys: str) -> None:
        xdo("key", "--window", self.wid, *keys)

    def type(self, text: str) -> None:
        """Type ``text``; each newline is a Return key press, as a person's Enter. (xdotool
        types "\n" as the Linefeed keysym, which GLFW does not map: a multiline field got no
        new line, while a real Enter gives one.)"""
        for i, line in enumerate(text.split("\n")):
            if i:
                self.key("Return")
            if line:
                xdo("type", "--delay", "40", line)

    def click(self, rect: Rect, done: Callable[[State], Any] | None = None, tries: int = 4,
              button: str = "1", what: str = "") -> State:
        """Click the middle of ``rect`` until ``done(state)`` holds."""
        for _ in range(tries):
            self.at(*middle(rect))
            xdo("click", button)
            if done is None:
                return self.state()
            try:
                return self.poll(done, 5, what)
            except SystemExit:
                continue
        raise SystemExit(f"click on {rect} did nothing ({what or done})")

    def click_point(self, x: float, y: float, done: Callable[[State], Any], what: str = "", button: str = "1") -> State:
        return self.click([int(x) - 1, int(y) - 1, 2, 2], done, what=what, button=button)

    # -- the editor's own gestures ------------------------------------------------------------
    def wait_ready(self) -> State:
        return self.poll(lambda s: "ready" in s["engine"] and s["buttons"].get("builtin.Input", [0, 0, 0])[2] > 0,
                         90, "the engine and the Blocks menu")

    def add(self, type_id: str, search: str | None = None) -> str:
        """Add a block with the "+" of its Blocks-menu entry (searched for when folded away)."""
        s = self.state()
        if s["buttons"].get(type_id, [0, 0, 0, 0])[2] == 0:
            for attempt in range(4):
                # a click before its hover frame leaves the field unfocused, and the keys would
                # go to the canvas' shortcuts
                self.click(s["search"], done=lambda s: s["typing"], what="the search field focused")
                self.key("ctrl+a")
                self.type(search or type_id.split(".")[-1])
                try:
                    self.poll(lambda s: s["buttons"].get(type_id, [0, 0, 0, 0])[2] > 0, 10, f"{type_id} listed")
                    break
                except SystemExit:
                    if attempt == 3:
                        raise
            time.sleep(1.0)  # rectangles of the previous (unfiltered) list can linger a frame or two
            s = self.state()
        n = len(s["blocks"])
        s = self.click(s["buttons"][type_id], done=lambda s: len(s["blocks"]) == n + 1, what=f"adding {type_id}")
        bid = s["blocks"][-1]["id"]
        self.poll(lambda s: s["validated"] and s["records"].get(bid), 60, f"{bid} validated")
        self.settled(bid)
        return bid

    def settled(self, bid: str) -> State:
        """The dump once ``bid``'s node is drawn at the same place twice running (a new node is
        drawn a frame after it is added, and the first one of a graph is framed after that)."""
        last: dict[float, Any] = {}  # by dump: the dump is rewritten slower than it is polled

        def still(s: State) -> bool:
            n = s["nodes"].get(bid)
            last[s.get("time", 0.0)] = [n["x"], n["y"], n["w"], n["h"]] if n and n["w"] > 0 else None
            rects = [last[t] for t in sorted(last)[-3:]]
            return len(rects) == 3 and rects[0] is not None and rects == [rects[0]] * 3
        return self.poll(still, 15, f"{bid} drawn in place")

    def sweep(self, start: tuple[float, float], end: tuple[float, float],
              steps: tuple[float, ...] = (0.3, 0.7, 1.0)) -> None:
        """Press the left button at ``start``, move through ``steps`` of the way, release at ``end``."""
        (x0, y0), (x1, y1) = start, end
        self.at(x0, y0)
        xdo("mousedown", "1")
        for f in steps:
            self.at(x0 + f * (x1 - x0), y0 + f * (y1 - y0))
        xdo("mouseup", "1")

    def box_select(self, ids: list[str]) -> State:
        """Select exactly ``ids`` by sweeping a box over them, as a person would: imnodes selects
        every node the box touches, so the box keeps off the others, and the press starts on
        empty canvas (a press on a node drags it, one on the pane splitter resizes the panes)."""
        for _ in range(4):
            s = self.state()
            c = s["widgets"]["canvas"]
            rect = {k: (n["x"], n["y"], n["x"] + n["w"], n["y"] + n["h"]) for k, n in s["nodes"].items()}
            mine = [rect[b] for b in ids]
            box = [max(min(r[0] for r in mine) - 20, c["x"] + 4), max(min(r[1] for r in mine) - 12, c["y"] + 4),
                   min(max(r[2] for r in mine) + 20, c["x"] + c["w"] - 4),
                   min(max(r[3] for r in mine) + 12, c["y"] + c["h"] - 4)]
            for k, o in rect.items():
                if k in ids or not _touch(box, o):
                    continue
                # move one side of the box off ``o``, if every target still touches the box then
                lo = [min(r[0] for r in mine), min(r[1] for r in mine)]  # the targets' far edges
                hi = [max(r[2] for r in mine), max(r[3] for r in mine)]
                for side, edge in ((2, o[0] - 3), (0, o[2] + 3), (3, o[1] - 3), (1, o[3] + 3)):
                    keeps_all = all(r[side - 2] < edge for r in mine) if side >= 2 else all(r[side + 2] > edge for r in mine)
                    if keeps_all and ((side >= 2 and lo[side - 2] < edge < box[side]) or
                                      (side < 2 and box[side] < edge < hi[side])):
                        box[side] = edge
                        break
            corners = [(box[0], box[3], box[2], box[1]), (box[2], box[3], box[0], box[1]),
                       (box[0], box[1], box[2], box[3]), (box[2], box[1], box[0], box[3])]
            start = next((cn for cn in corners
                          if not any(r[0] <= cn[0] <= r[2] and r[1] <= cn[1] <= r[3] for r in rect.values())),
                         corners[0])
            self.sweep(start[:2], start[2:], (0.3, 0.6, 1.0))
            try:
                return self.poll(lambda s: sorted(s["selected"]) == sorted(ids), 5, "the box selection")
            except SystemExit:
                continue
        raise SystemExit(f"box select of {ids} failed; selected {self.state().get('selected')}")

    def drag(self, src: str, sport: str, dst: str, dport: str) -> State:
        """Wire ``src.sport -> dst.dport`` by dragging from the output pin to the input pin."""
        for _ in range(4):
            s = self.state()
            a, b = s["pins"][src]["out:" + sport], s["pins"][dst]["in:" + dport]
            if a[2] <= 0 or b[2] <= 0:  # a pin out of sight (the view moved to show a new block):
                c = s["widgets"]["canvas"]  # Home brings the whole graph in, as a user would press
                self.at(c["x"] + c["w"] - 40, c["y"] + 40)
                since = s.get("time", 0)
                self.key("Home")
                self.poll(lambda s, since=since: s.get("time", 0) > since + 0.6, 10, "a fresh dump after Home")
                continue
            na, nb = s["nodes"][src], s["nodes"][dst]
            x0, y0 = na["x"] + na["w"], a[1] + a[3] / 2  # the pins: on the nodes' edges, level with the labels
            x1, y1 = nb["x"], b[1] + b[3] / 2
            n = len(s["links"])
            self.sweep((x0, y0), (x1, y1))
            try:
                return self.poll(lambda s, n=n: len(s["links"]) == n + 1, 5, "the link")
            except SystemExit:
                continue
        raise SystemExit(f"could not wire {src}.{sport} -> {dst}.{dport}")

    def open_row(self, bid: str, field: str) -> None:
        """Unfold the block's row in the Network pane until ``field`` is shown."""
        if self.state()["fields"].get(field, [0, 0, 0, 0])[2] == 0:
            self.scroll_into_view(lambda s: s["tree"][bid], f"{bid}'s row")
            row = self.state()["tree"][bid]
            # open, not necessarily shown: a row at the pane's bottom unfolds below its edge
            self.click([row[0], row[1], 30, row[3]], done=lambda s: s["tree_open"].get(bid), what=f"{bid}'s row opened")
            time.sleep(0.6)

    def fold_row(self, bid: str, field: str) -> None:
        """Fold the block's row in the Network pane again (``field`` hidden): the rows below move up."""
        row = self.state()["tree"][bid]
        self.click([row[0], row[1], 30, row[3]], done=lambda s: s["fields"].get(field, [0, 0, 0, 0])[2] == 0,
                   what=f"{bid}'s row folded")

    def scroll_into_view(self, rect_of: Callable[[State], Rect], what: str) -> None:
        """Scroll the Network pane with the mouse wheel until ``rect_of(state)`` is inside it."""
        scrolled = 0.0
        for _ in range(30):
            # a dump written after the last wheel click, else the rectangle is where it was
            s = self.poll(lambda s, since=scrolled: s.get("time", 0) > since + 0.1, 10, "a fresh dump")
            r, pane = rect_of(s), s["network_pane"]
            if r[2] > 0 and pane[1] <= r[1] and r[1] + r[3] <= pane[1] + pane[3]:
                return
            self.at(pane[0] + pane[2] / 2, pane[1] + pane[3] / 2)
            xdo("click", "5" if r[2] == 0 or r[1] > pane[1] else "4")  # wheel down / up (scrolled out: below)
            scrolled = time.time()
        raise SystemExit(f"{what} never scrolled into the Network pane")

    def type_into(self, field: str, text: str, leave: Callable[[], Any] | None = None,
                  kept: Callable[[Any], bool] | None = None) -> None:
        """Type ``text`` into a Network-pane field (``block.param``) and leave it (default Tab)."""
        bid, name = field.split(".", 1)
        self.open_row(bid, field)
        self.scroll_into_view(lambda s: s["fields"][field], field)
        check = kept or (lambda v: str(v) == text)
        for _ in range(4):
            self.click(self.state()["fields"][field], done=lambda s: s["typing"], what=f"{field} focused")
            self.key("ctrl+a")
            self.type(text)
            (leave or (lambda: self.key("Tab")))()
            try:
                self.poll(lambda s: check(_params(s, bid)[name]), 6, f"{field} = {text!r}")
                return
            except SystemExit:
                continue
        raise SystemExit(f"{field} never took {text!r}; field at {self.state()['fields'].get(field)}")

    def rect(self, widget: str) -> Rect:
        """A named widget of the dump's ``widgets`` (tabs, Train, epochs…) as [x, y, w, h]."""
        r = self.state()["widgets"][widget]
        return [r["x"], r["y"], r["w"], r["h"]]

    def title(self, bid: str) -> Rect:
        """A node's title bar (a click there selects it, a right-click opens its menu)."""
        n = self.state()["nodes"][bid]
        return [int(n["x"] + 10), int(n["y"] + 4), int(min(n["w"] - 20, 60)), 14]

    def menu_entry(self, bid: str, label: str, done: Callable[[State], Any]) -> State:
        """Right-click ``bid``'s title bar and click the menu's ``label`` until ``done`` holds.

        A click that lands before the entry's hover frame closes the menu (a click outside it):
        then the menu is opened again."""
        for _ in range(4):
            self.click(self.title(bid), button="3", done=lambda s: label in s["context"], what=f"{bid}'s menu")
            self.at(*middle(self.state()["context"][label]))
            time.sleep(0.4)
            xdo("click", "1")
            try:
                return self.poll(done, 8, label)
            except SystemExit:
                continue
        raise SystemExit(f"{label} on {bid} did nothing")

    def save(self, done: Callable[[State], Any] | None = None) -> State:
        """Ctrl+S, pressed again (up to four times) until ``done`` holds (default: the status
        line says "saved" after the first press); a key landing before the canvas has the
        keyboard does nothing. The state at the end, saved or not: the caller checks."""
        t = time.time()
        if done is None:
            def done(s: State) -> bool:
                return s["status"].startswith("saved") and s["time"] > t
        for _ in range(4):
            self.key("ctrl+s")
            try:
                return self.poll(done, 5, "saved")
            except SystemExit:
                continue
        return self.state()

    def close(self) -> None:
        self.editor.terminate()
        self.editor.wait(30)
