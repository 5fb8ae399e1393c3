"""Add Data… on an Input block, and the Input's data preview in the Debug tab.

The GUI never reads the data itself (the engine decodes images and tables): Add Data… sends
``InspectData`` with the params the block *would* have, and only when the engine's ``DataInfo``
says the data loads are the params changed, in one undoable edit. A file that does not load
leaves the block as it was and the dialog names the file, line and column. The same answer
(rows, sample shape, classes with counts, a few samples as images) is what the preview shows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg
import numpy as np

from dpg_blocks.core import Compound, SetParam
from dpg_blocks.ui.state.editor_state import EditorState

INPUT_TYPE = "builtin.Input"
DIALOG_W = 600
CELL = 56  # a thumbnail's cell in the preview strip, in pixels
GAP = 6
SLOTS = 8  # thumbnails in the strip (the engine sends at most this many)
STRIP_W, STRIP_H = SLOTS * (CELL + GAP) - GAP, CELL
LABEL_H = 18  # the class names under the thumbnails
DATA_W = STRIP_W + 16  # the preview's column in the Debug tab
# What decides an Input's data (a change of any re-reads it); batch size or split do not.
DATA_PARAMS = ("source", "path", "label_column", "image_size", "color", "reshape")
FORMATS = ("CSV: a header row, a 'label' column and feature columns, one sample per row.\n"
           "NPZ: arrays x (the samples) and y (their labels).\n"
           "Image folder: one sub-folder per class, holding PNG or JPEG images.")


def source_for(path: str) -> str:
    """The Input source a chosen path means: a folder is images, ``.npz`` npz, anything else csv."""
    p = Path(path).expanduser()
    if p.is_dir():
        return "images"
    return "npz" if p.suffix.lower() == ".npz" else "csv"


def data_key(params: dict[str, Any], project_dir: str) -> str:
    """What an Input's data depends on, as text (a preview is shown only for the data it shows)."""
    return json.dumps([project_dir, *(params.get(k) for k in DATA_PARAMS)], default=str)


def strip_pixels(thumbnails: list[np.ndarray]) -> np.ndarray:
    """The preview strip as RGBA floats (STRIP_H × STRIP_W × 4): each thumbnail scaled up
    (nearest pixel, aspect kept) into its cell, left to right; empty cells are transparent."""
    return grid_pixels(thumbnails, SLOTS, SLOTS, CELL, GAP, 0)


def grid_pixels(thumbnails: list[np.ndarray], slots: int, columns: int, cell: int, gap: int,
                row_gap: int) -> np.ndarray:
    """Thumbnails in a grid of ``columns`` (RGBA floats, rows of ``cell`` + ``row_gap`` px):
    each scaled up (nearest pixel, aspect kept) into its cell; empty cells are transparent."""
    rows_n = -(-slots // columns)  # the texture's size is fixed: every slot has its cell
    out = np.zeros((rows_n * (cell + row_gap) - row_gap, columns * (cell + gap) - gap, 4), dtype=np.float32)
    for i, t in enumerate(thumbnails[:slots]):
        img = np.asarray(t, dtype=np.float32) / 255.0
        rgb = np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img[..., :3]
        h, w = rgb.shape[:2]
        scale = min(cell / h, cell / w)
        dh, dw = max(1, int(h * scale)), max(1, int(w * scale))
        rows = np.minimum((np.arange(dh) / scale).astype(int), h - 1)
        cols = np.minimum((np.arange(dw) / scale).astype(int), w - 1)
        x0 = (i % columns) * (cell + gap) + (cell - dw) // 2
        y0 = (i // columns) * (cell + row_gap) + (cell - dh) // 2
        out[y0:y0 + dh, x0:x0 + dw, :3] = rgb[rows][:, cols]
        out[y0:y0 + dh, x0:x0 + dw, 3] = 1.0
    return out


def summary_text(info: Any) -> str:
    """Rows, sample shape and classes with counts, as the preview writes them."""
    what = "images" if info.source == "images" else "rows"
    name = "the example digits" if info.source == "digits" or not info.path else Path(info.path).name
    shape = "×".join(str(d) for d in info.sample_shape) or "1"
    lines = [f"{name}: {info.rows} {what}, each {shape}"]
    if info.label_kind == "classes":
        pairs = ", ".join(f"{c}: {n}" for c, n in zip(info.classes, info.counts, strict=True))
        lines.append(f"{len(info.classes)} classes ({pairs})")
    elif info.label_kind == "values":
        lines.append("labels are values to regress (not whole numbers)")
    else:
        lines.append("no labels")
    return "\n".join(lines)


class DataControls:
    """The Add Data… dialog, its ``InspectData`` requests, and the preview in the Debug tab."""

    def __init__(self, state: EditorState, client: Callable[[], Any], preview_parent: int | str) -> None:
        self.state = state
        self.client = client  # the editor's engine client (it starts after the panes)
        self.window: int | str | None = None
        self.block_id: str | None = None  # the Input the dialog adds data to
        self._dialogs: dict[str, int | str] = {}
        self._pending: dict[int, tuple[str, dict[str, Any]]] = {}  # request -> (block, params it would set)
        self._asked: dict[str, str] = {}  # block -> data key of the preview asked for
        self.infos: dict[str, tuple[str, Any]] = {}  # block -> (data key, DataInfo) of its data
        with dpg.texture_registry():
            self.texture = dpg.add_dynamic_texture(STRIP_W, STRIP_H, [0.0] * (STRIP_W * STRIP_H * 4))
        with dpg.group(parent=preview_parent, show=False) as self.preview:
            with dpg.group(horizontal=True):
                dpg.add_text("Data", color=(170, 200, 255))
                self.add_button = dpg.add_button(label="Add Data…", small=True, callback=lambda: self.show())
            self.summary = dpg.add_text("", wrap=STRIP_W)
            with dpg.drawlist(width=STRIP_W, height=STRIP_H + LABEL_H) as self.strip:
                self.image = dpg.draw_image(self.texture, (0, 0), (STRIP_W, STRIP_H))
                with dpg.draw_layer() as self.label_layer:
                    pass
            self.labels: list[str] = []
            self.note = dpg.add_text("", wrap=STRIP_W, color=(230, 200, 120))

    # -- the dialog ------------------------------------------------------------------------------
    def _build(self) -> None:
        with dpg.window(label="Add Data", modal=True, show=False, no_collapse=True, width=DIALOG_W,
                        autosize=True, no_saved_settings=True) as self.window:
            self.title = dpg.add_text("")
            dpg.add_text(FORMATS, color=(170, 170, 180))
            with dpg.group(horizontal=True):
                self.path_input = dpg.add_input_text(width=DIALOG_W - 150, hint="a .csv or .npz file, or an image folder; Enter loads it")
                self.load_button = dpg.add_button(label="Load", width=110, callback=lambda: self.load())
            with dpg.group(horizontal=True):
                dpg.add_button(label="Choose a file (CSV, NPZ)…", callback=lambda: self._browse("file"))
                dpg.add_button(label="Choose an image folder…", callback=lambda: self._browse("folder"))
                self.digits_button = dpg.add_button(label="Use the example digits", callback=lambda: self.use_digits())
            with dpg.group(horizontal=True):
                dpg.add_text("images: size", color=(170, 170, 180))
                self.size_input = dpg.add_input_text(width=90, default_value="28, 28")
                dpg.add_text("color", color=(170, 170, 180))
                self.color_combo = dpg.add_combo(["grayscale", "rgb"], default_value="grayscale", width=110)
            self.error_text = dpg.add_text("", wrap=DIALOG_W - 30, color=(255, 110, 110))
            self.busy_text = dpg.add_text("", color=(170, 170, 180))
            dpg.add_button(label="Close", width=110, callback=lambda: self.hide())
        for kind in ("file", "folder"):
            with dpg.file_dialog(label="Data file" if kind == "file" else "Image folder (one sub-folder per class)",
                                 show=False, modal=True, width=720, height=440, directory_selector=kind == "folder",
                                 callback=lambda s, a: self._picked(a.get("file_path_name") or "")) as dialog:
                if kind == "file":
                    dpg.add_file_extension("Data (*.csv *.npz){.csv,.npz}", color=(120, 200, 255))
                    dpg.add_file_extension(".*")
            self._dialogs[kind] = dialog

    def show(self, block_id: str | None = None) -> bool:
        """Add Data… on ``block_id`` (default: the selected block), which must be an Input."""
        if block_id is None:
            block_id = self.state.selected[-1] if self.state.selected else None
        b = self.state.block(block_id) if block_id else None
        if b is None or b.type != INPUT_TYPE:
            self.state.say("Add Data…: select an Input block first")
            return False
        if self.window is None:
            self._build()
        assert self.window is not None
        self.block_id = b.id
        dpg.set_value(self.title, f"Data for the Input {b.name!r}")
        dpg.set_value(self.path_input, str(b.params.get("path") or ""))
        size = b.params.get("image_size") or [28, 28]
        dpg.set_value(self.size_input, ", ".join(str(d) for d in size))
        dpg.set_value(self.color_combo, str(b.params.get("color") or "grayscale"))
        dpg.set_value(self.error_text, "")
        dpg.set_value(self.busy_text, "")
        vw = dpg.get_viewport_client_width() if dpg.is_viewport_ok() else 1600
        dpg.configure_item(self.window, show=True, pos=[max(0, (vw - DIALOG_W) // 2), 120])
        dpg.focus_item(self.path_input)  # type or paste the path at once (Enter loads it)
        return True

    def typing_path(self) -> bool:
        """Whether Enter now means Load: the (modal) dialog is open and no file dialog over it.

        Not "the path field has focus": Enter ends the field's editing, so by the time the key
        callback runs the field may already have let go of the focus."""
        return (self.window is not None and dpg.is_item_shown(self.window)
                and not any(dpg.is_item_shown(d) for d in self._dialogs.values()))

    def hide(self) -> None:
        """Close the dialog (a load already sent still answers in the status line)."""
        if self.window is not None:
            dpg.configure_item(self.window, show=False)

    @property
    def busy(self) -> bool:
        """Whether an Add Data… read waits for the engine's answer."""
        return bool(self._pending)

    @property
    def error(self) -> str:
        """The dialog's error text (what a test reads)."""
        return str(dpg.get_value(self.error_text)) if self.window is not None else ""

    def _browse(self, kind: str) -> None:
        dialog = self._dialogs[kind]
        dpg.configure_item(dialog, default_path=self.state.project_dir)
        dpg.show_item(dialog)

    def _picked(self, path: str) -> None:
        if path:
            dpg.set_value(self.path_input, path)
            self.load(path)

    def _image_settings(self) -> tuple[list[int], str]:
        text = str(dpg.get_value(self.size_input) or "").replace("x", ",").replace("×", ",")
        try:
            size = [int(v) for v in text.split(",") if v.strip()]
        except ValueError:
            size = []
        if len(size) == 1:
            size = size * 2
        if len(size) != 2 or min(size) < 1:
            raise ValueError(f"image size is height, width, e.g. 28, 28; got {text.strip()!r}")
        return size, str(dpg.get_value(self.color_combo) or "grayscale")

    def load(self, path: str | None = None) -> int | None:
        """Ask the engine to read ``path`` (default: the dialog's field) for the dialog's Input."""
        if self.window is None or self.block_id is None:
            return None
        text = (path if path is not None else str(dpg.get_value(self.path_input))).strip()
        dpg.set_value(self.path_input, text)  # the dialog shows which file it read (and an error is about)
        if not text:
            self._fail("choose a file or an image folder, or use the example digits")
            return None
        try:
            size, color = self._image_settings()
        except ValueError as e:
            self._fail(str(e))
            return None
        stored = self.state.data_path(text)
        return self._inspect({"source": source_for(self._absolute(text)), "path": stored,
                              "image_size": size, "color": color})

    def use_digits(self) -> int | None:
        """The embedded handwritten digits (1797 samples of 8×8), one click away."""
        return self._inspect({"source": "digits"})

    def _absolute(self, text: str) -> str:
        p = Path(text).expanduser()
        return str(p if p.is_absolute() else Path(self.state.project_dir) / p)

    def _inspect(self, changes: dict[str, Any]) -> int | None:
        b = self.state.block(self.block_id or "")
        client = self.client()
        if b is None:
            return None
        if client is None:
            self._fail("the engine is not running; cannot read data")
            return None
        rid = self._send(b.id, b.name, {**b.params, **changes})
        self._pending[rid] = (b.id, changes)
        dpg.set_value(self.error_text, "")
        dpg.set_value(self.busy_text, "reading the data…")
        self.state.say(f"{b.name}: reading {changes.get('path') or 'the example digits'}…")
        return rid

    def _send(self, block_id: str, name: str, params: dict[str, Any]) -> int:
        from dpg_blocks import protocol as m

        client = self.client()
        rid = client.request_id()
        client.send(m.InspectData(request_id=rid, block_id=block_id, name=name, params=params,
                                  project_dir=self.state.project_dir))
        return rid

    def _fail(self, error: str) -> None:
        """Show why in the dialog (shown, if it was not) and in the status line."""
        if self.window is not None:
            dpg.set_value(self.error_text, error)
            dpg.set_value(self.busy_text, "the Input keeps its previous data")
            if not dpg.is_item_shown(self.window):
                dpg.configure_item(self.window, show=True)
        self.state.say(f"data not loaded: {' '.join(error.split())}")

    # -- answers ---------------------------------------------------------------------------------
    def on_info(self, ev: Any) -> None:
        """The engine's DataInfo: apply a pending Add Data… (or say why not), keep the preview."""
        pending = self._pending.pop(ev.request_id, None)
        b = self.state.block(ev.block_id)
        if b is None:
            return
        if pending is None:  # a preview asked for on selection
            if ev.ok:
                self.infos[b.id] = (self._asked.get(b.id, ""), ev)
            self.update()
            return
        _, changes = pending
        if not ev.ok:
            self._fail(ev.error)
            return
        if not ev.reshape_fits:
            changes = {**changes, "reshape": []}
        edits = [SetParam(b.id, k, v) for k, v in changes.items() if b.params.get(k) != v]
        if edits and not self.state.do(Compound(edits, label=f"add data to {b.name}")):
            return
        key = data_key(b.params, self.state.project_dir)
        self.infos[b.id] = (key, ev)
        self._asked[b.id] = key
        self.hide()
        self.state.select([b.id])
        what = "images" if ev.source == "images" else "rows"
        self.state.say(f"{b.name}: {ev.rows} {what}, {len(ev.classes)} classes" + (f"; {ev.note}" if ev.note else ""))
        self.update()

    def engine_ready(self) -> None:
        """A (new) engine sent Ready: requests the old one never answered are asked again."""
        self._asked = {bid: key for bid, key in self._asked.items() if self.infos.get(bid, ("",))[0] == key}
        if self._pending:
            self._pending.clear()
            self._fail("the engine restarted before it read the data; press Load again")
        self.update()

    # -- the preview -----------------------------------------------------------------------------
    def update(self) -> None:
        """Show the selected Input's data (asking the engine for it once per data setting)."""
        sel = self.state.selected
        b = self.state.block(sel[-1]) if sel else None
        if b is None or b.type != INPUT_TYPE or b.params.get("source", "digits") == "noise":
            dpg.configure_item(self.preview, show=False)
            return
        dpg.configure_item(self.preview, show=True)
        key = data_key(b.params, self.state.project_dir)
        known = self.infos.get(b.id)
        if known is not None and known[0] == key:
            self._draw(known[1])
            return
        dpg.set_value(self.summary, "reading the data…")
        self._labels([])
        dpg.set_value(self.note, "")
        dpg.set_value(self.texture, [0.0] * (STRIP_W * STRIP_H * 4))
        client = self.client()
        if client is not None and self._asked.get(b.id) != key and client.state != "stopped":
            self._asked[b.id] = key
            self._send(b.id, b.name, dict(b.params))

    def _draw(self, info: Any) -> None:
        from dpg_blocks.protocol import wire_to_array

        dpg.set_value(self.summary, summary_text(info))
        thumbs = [wire_to_array(t) for t in info.thumbnails]
        dpg.set_value(self.texture, strip_pixels(thumbs).ravel().tolist())
        self._labels(list(info.thumb_labels))
        dpg.set_value(self.note, info.note)

    def _labels(self, labels: list[str]) -> None:
        """Each thumbnail's class under it."""
        self.labels = labels
        dpg.delete_item(self.label_layer, children_only=True)
        for i, label in enumerate(labels[:SLOTS]):
            text = label[:9]
            x = i * (CELL + GAP) + max(0, (CELL - 7 * len(text)) // 2)  # centred under its thumbnail (≈7 px a letter)
            dpg.draw_text((x, STRIP_H + 2), text, size=13, color=(190, 190, 200), parent=self.label_layer)

    def ready(self) -> bool:
        """Whether the preview shows what it should (nothing, or the selected Input's data)."""
        if not dpg.is_item_shown(self.preview):
            return True
        b = self.state.block(self.state.selected[-1])
        known = self.infos.get(b.id) if b is not None else None
        return known is not None and b is not None and known[0] == data_key(b.params, self.state.project_dir)

    def text(self) -> str:
        """What the preview shows as text (what a test reads)."""
        if not dpg.is_item_shown(self.preview):
            return ""
        return "\n".join([str(dpg.get_value(self.summary) or ""), "  ".join(self.labels),
                          str(dpg.get_value(self.note) or "")])
