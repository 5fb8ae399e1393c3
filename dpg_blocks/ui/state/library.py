"""The block library in the user folder: list it, save a block to it, insert a copy from it.

Mixed into :class:`~dpg_blocks.ui.state.editor_state.EditorState` (it uses the state's ``project``,
``scope_id``, ``block``, ``next_position``, ``_do_own``, ``select``, ``say`` and ``emit``). The
library is stdlib only (``core/user/library.py``), so it works while the engine is not there.
"""

from __future__ import annotations

from pathlib import Path

from dpg_blocks.core.user.library import (
    LibraryEntry,
    LibraryError,
    file_name,
    insert_copy,
    library_dir,
    list_library,
    load_from_library,
    save_to_library,
)


class LibraryMixin:
    """EditorState's block library operations."""

    def library(self) -> tuple[list[LibraryEntry], list[LibraryError]]:
        """The saved blocks and the library files that cannot be read."""
        return list_library()

    def library_file(self, block_id: str) -> Path | None:
        """Where ``block_id`` would be saved in the library (None: no such block)."""
        b = self.block(block_id)
        return library_dir() / file_name(b.name) if b is not None else None

    def save_to_library(self, block_id: str, overwrite: bool = False) -> Path | None:
        """Save a block or SuperBlock (with its insides) to the library under its name."""
        b = self.block(block_id)
        if b is None:
            self.say("select a block to save to the library")
            return None
        try:
            path = save_to_library(self.project, block_id, overwrite=overwrite)
        except (LibraryError, OSError) as e:
            self.say(f"save to library: {e}")
            return None
        self.say(f"saved {b.name!r} to the library ({path})")
        self.emit("library")
        return path

    def insert_from_library(self, name: str, pos: tuple[float, float] | None = None) -> str | None:
        """Insert a fresh-id copy of library block ``name`` (or its file) into the graph on the
        canvas at ``pos`` (default :meth:`next_position`), as one undoable AddBlock; returns its
        id (selected)."""
        try:
            saved = load_from_library(name)
        except LibraryError as e:
            self.say(f"insert from library: {e}")
            return None
        edit = insert_copy(self.project, saved, self.scope_id, pos=pos or self.next_position())
        edit.label = f"insert {edit.block.name} from the library"
        if not self._do_own(edit, set()):
            return None
        self.select([edit.block.id])
        return edit.block.id
