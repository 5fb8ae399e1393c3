"""The :class:`History` that runs edits on a project: undo and redo stacks, and the saved mark.

Edits themselves are in :mod:`dpg_blocks.core.edits`; the history knows only the
:class:`~dpg_blocks.core.edits.base.Edit` contract (apply, revert), so every edit undoes the
same way. ``dirty`` compares edit identities with the last save, not document contents.
"""

from __future__ import annotations

from collections.abc import Callable

from dpg_blocks.core.edits.base import Edit
from dpg_blocks.core.project import Project

__all__ = ["History", "Listener"]


Listener = Callable[[str, Edit], None]


class History:
    """Runs edits on a project and keeps the undo and redo stacks."""

    def __init__(self, project: Project, limit: int = 1000) -> None:
        self.project = project
        self.limit = limit
        self._undo: list[Edit] = []
        self._redo: list[Edit] = []
        self._listeners: list[Listener] = []
        self._saved_at: Edit | None = None
        self._saved_depth = 0

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(action, edit)`` after every do/undo/redo."""
        self._listeners.append(listener)

    def _emit(self, action: str, edit: Edit) -> None:
        for fn in list(self._listeners):
            fn(action, edit)

    def do(self, edit: Edit) -> Edit:
        """Apply ``edit``; a :class:`GraphError` leaves the project and stacks unchanged."""
        edit.apply(self.project)
        self._undo.append(edit)
        if len(self._undo) > self.limit:
            dropped = self._undo.pop(0)
            # The saved state is one step nearer the bottom now (or out of reach).
            self._saved_depth = -1 if dropped is self._saved_at else self._saved_depth - 1
        self._redo.clear()
        self._emit("do", edit)
        return edit

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> Edit | None:
        if not self._undo:
            return None
        edit = self._undo.pop()
        edit.revert(self.project)
        self._redo.append(edit)
        self._emit("undo", edit)
        return edit

    def redo(self) -> Edit | None:
        if not self._redo:
            return None
        edit = self._redo.pop()
        edit.apply(self.project)
        self._undo.append(edit)
        self._emit("redo", edit)
        return edit

    def mark_saved(self) -> None:
        self._saved_at = self._undo[-1] if self._undo else None
        self._saved_depth = len(self._undo)

    @property
    def dirty(self) -> bool:
        """Whether the project differs from the last save (by edit identity, not content)."""
        top = self._undo[-1] if self._undo else None
        return not (top is self._saved_at and len(self._undo) == self._saved_depth)
