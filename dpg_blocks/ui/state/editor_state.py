"""The editor's session state, independent of Dear PyGui.

:class:`EditorState` holds the open project, its :class:`~dpg_blocks.core.History`, the file it
came from, the catalog, the latest validation records and the engine's life. Every change to
the document goes through an edit command; widgets subscribe with :meth:`subscribe` and redraw
from this state, so logic tests drive it without a viewport.

The editor's actions on it are grouped by idea into mixins, each in its own module:
``files`` (new, open, save, recover), ``trust`` (custom code's trust),
``blocks`` (block edits on the canvas), ``orders`` (orders and training settings),
``library`` (the block library) and ``engine`` (validation, the training run, the
engine's life). This module keeps the state itself: the project and its history, the
listeners, the graph on the canvas, undo/redo and the status line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dpg_blocks.core import (
    Edit,
    GraphError,
    History,
    Project,
    project_to_dict,
)
from dpg_blocks.core.graph import Block, Graph
from dpg_blocks.ui.panes.catalog import Catalog
from dpg_blocks.ui.state.blocks import COLUMN_STEP, DEFAULT_POS, BlockEditsMixin
from dpg_blocks.ui.state.engine import UNTRUSTED_HINT, EngineMixin, TrainingRun, Validation
from dpg_blocks.ui.state.files import ProjectFilesMixin
from dpg_blocks.ui.state.library import LibraryMixin
from dpg_blocks.ui.state.orders import MAX_ORDER_INDEX, OrdersMixin
from dpg_blocks.ui.state.trust import TrustMixin

__all__ = [
    "COLUMN_STEP",
    "DEFAULT_POS",
    "MAX_ORDER_INDEX",
    "UNTRUSTED_HINT",
    "EditorState",
    "Listener",
    "TrainingRun",
    "Validation",
]

Listener = Callable[[str], None]


class EditorState(ProjectFilesMixin, TrustMixin, BlockEditsMixin, OrdersMixin, LibraryMixin, EngineMixin):
    """One open project and everything the panes show about it."""

    def __init__(self, project: Project | None = None, path: str | None = None) -> None:
        self.catalog = Catalog()
        self.engine_state = "stopped"
        self.engine_reason = ""
        self.engine_failures: list[str] = []  # why the engine died, oldest first
        self.engine_activity = ""  # the client's "validating… (3 s)" while something is under way
        self.stuck_block = ""  # the block a stuck training step is running (outlined red)
        self.status = ""  # the status bar's message (refused links, errors)
        self.selected: list[str] = []
        self.scope: list[str] = []  # SuperBlock ids from the root down to the graph on the canvas
        self.clipboard = ""  # the last copy, for when the system clipboard is unavailable
        self.validation = Validation()
        self.training = TrainingRun()
        self.stop_requested = False
        # The canvas finds a free spot in view for a new block (anchor block id -> position);
        # without a drawn canvas (tests, the first frame) blocks go right of their neighbour.
        # the canvas' free spot: (selected block, the new block's title) -> where it goes
        self.place: Callable[[str | None, str], tuple[float, float] | None] | None = None
        self.plugin_failures: list[dict[str, Any]] = []  # Ready.failures: pack, path, error, traceback
        self._listeners: list[Listener] = []
        self._set_project(project or Project(), path)

    # -- listeners -------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        """``listener(topic)`` after a change; topics: document, selection, validation,
        catalog, engine, status, training, file, scope (the canvas opened another graph),
        plugins (plugin failures), trust (the user trusted the project's code), packs (installed pack
        versions differ from those the project was saved with)."""
        self._listeners.append(listener)

    def emit(self, topic: str) -> None:
        for fn in list(self._listeners):
            fn(topic)

    # -- the document ----------------------------------------------------------------------
    def _set_project(self, project: Project, path: str | None) -> None:
        self.project = project
        self.path = str(Path(path).resolve()) if path else None
        self.history = History(project)
        self.history.mark_saved()
        self.history.subscribe(lambda _action, _edit: self._changed())
        self.selected = []
        self.scope = []
        self.validation = Validation(sent=self.validation.sent, received=self.validation.sent)
        if self.training.state in ("starting", "running", "paused"):
            self.stop_requested = True  # the editor stops the old project's run (ui/editor/app.py)
        self.training = TrainingRun()  # the plots and the status belong to the project they trained
        self.recovered = False  # loaded from a recovery file: unsaved until the next save
        self.fit_on_open = False  # set by open(): the canvas lays an oversized file out once drawn
        self.trust_checked = False  # whether this project's code was checked against the trust records
        self.code_declined = False  # it holds code this user has not trusted (yet)
        self.pack_warnings: list[str] = []  # installed pack versions that differ from the saved ones
        self.packs_checked = not project.packs  # compared once, when the catalog is known

    def _changed(self) -> None:
        self._trim_scope()
        self.emit("document")
        self.emit("file")

    # -- the graph on the canvas -----------------------------------------------------------
    @property
    def scope_id(self) -> str | None:
        """The SuperBlock whose inside the canvas shows (None: the root graph)."""
        return self.scope[-1] if self.scope else None

    @property
    def graph(self) -> Graph:
        """The graph the canvas shows and new blocks go into."""
        return self.project.graph_of(self.scope_id)

    def _trim_scope(self) -> None:
        # An undo can remove the SuperBlock being looked at: fall back to its nearest ancestor.
        for i, sb in enumerate(self.scope):
            b = self.block(sb)
            if b is None or b.graph is None or (i and self.project.parent_of(sb) != self.scope[i - 1]):
                del self.scope[i:]
                self.selected = [x for x in self.selected if self.block(x) is not None]
                self.emit("scope")
                return

    def enter(self, sb_id: str) -> bool:
        """Show the inside of SuperBlock ``sb_id`` on the canvas."""
        b = self.block(sb_id)
        if b is None or b.graph is None:
            self.say("only a SuperBlock can be opened")
            return False
        self.set_scope([*self.supers_above(sb_id), sb_id])
        return True

    def supers_above(self, block_id: str) -> list[str]:
        """The SuperBlock ids from the root down to the graph holding ``block_id``."""
        chain: list[str] = []
        parent = self.project.parent_of(block_id)
        while parent is not None:
            chain.append(parent)
            parent = self.project.parent_of(parent)
        return chain[::-1]

    def set_scope(self, scope: list[str]) -> None:
        if scope != self.scope:
            self.scope = list(scope)
            self.selected = []
            self.emit("scope")
            self.emit("selection")

    def leave(self) -> bool:
        """Go up one level (to the graph holding the open SuperBlock)."""
        if not self.scope:
            return False
        left = self.scope[-1]
        self.set_scope(self.scope[:-1])
        self.select([left])
        return True

    def go_to(self, block_id: str) -> bool:
        """Open the graph holding ``block_id`` and select it."""
        if self.block(block_id) is None:
            self.say(f"no block {block_id!r}")
            return False
        self.set_scope(self.supers_above(block_id))
        self.select([block_id])
        return True

    @property
    def project_dir(self) -> str:
        return str(Path(self.path).parent) if self.path else os.getcwd()

    @property
    def title(self) -> str:
        name = Path(self.path).name if self.path else "untitled"
        return f"{name}{' *' if self.dirty else ''} — dpg-blocks"

    @property
    def dirty(self) -> bool:
        """Unsaved changes: edits since the last save, or a recovered project not saved yet."""
        return self.history.dirty or self.recovered

    def project_dict(self) -> dict[str, Any]:
        return project_to_dict(self.project)

    def do(self, edit: Edit) -> bool:
        """Run ``edit``; a refused edit leaves everything unchanged and says why."""
        try:
            self.history.do(edit)
        except (GraphError, ValueError) as e:
            self.say(self.named(f"{edit.label}: {e}"))
            return False
        return True

    def undo(self) -> None:
        edit = self.history.undo()
        self.say(self.named(f"undid {edit.label}") if edit else "nothing to undo")

    def redo(self) -> None:
        edit = self.history.redo()
        self.say(self.named(f"redid {edit.label}") if edit else "nothing to redo")

    def named(self, text: str) -> str:
        """``text`` with block ids (``b9.y -> b8.x``, ``'b9'``) written as the blocks' names.

        Edits and graph errors speak in ids (the core has no names at hand where it refuses);
        the user knows the blocks by name."""
        names = {b.id: " › ".join(self.project.path_of(b.id)) for b in self.project.graph.walk()}
        return _BLOCK_ID.sub(lambda m: names.get(m.group(1), m.group(0)), text)

    def say(self, message: str) -> None:
        self.status = message
        self.emit("status")

    # -- blocks ----------------------------------------------------------------------------
    def block(self, block_id: str) -> Block | None:
        try:
            return self.project.block(block_id)
        except GraphError:
            return None

    # -- selection -------------------------------------------------------------------------
    def select(self, block_ids: list[str]) -> None:
        if block_ids != self.selected:
            self.selected = list(block_ids)
            self.emit("selection")


_BLOCK_ID = re.compile(r"'?\b(b\d+)\b'?")
