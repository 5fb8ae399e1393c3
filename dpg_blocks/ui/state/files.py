"""The open project's file: new, open, save (data paths rebased to the new folder), recover.

Mixed into :class:`~dpg_blocks.ui.state.editor_state.EditorState` (it uses the state's ``project``, ``path``,
``history``, ``catalog``, ``_set_project``, ``_record_trust``, ``say`` and ``emit``). A data path
is stored relative to the project file, so saving to another folder rewrites every such path,
in the undo history too; that is why the path rules live beside the file operations.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dpg_blocks.core import (
    History,
    Project,
    ProjectFileError,
    SetParam,
    load_project,
    save_project,
)
from dpg_blocks.core.graph import Block
from dpg_blocks.core.pack_versions import packs_used, version_warnings


class ProjectFilesMixin:
    """EditorState's file operations and the data paths they keep meaning the same file."""

    def new(self) -> None:
        self._set_project(Project(), None)
        self.trust_checked = True  # an empty project holds no code from elsewhere
        self.say("new project: add blocks from the Blocks menu (right)")
        self.emit("document")
        self.emit("file")
        self.emit("training")

    def open(self, path: str) -> None:
        """Load ``path``; :class:`ProjectFileError` leaves the open project as it was."""
        project = load_project(path)
        self._set_project(project, path)
        self.fit_on_open = True  # the canvas lays it out once drawn if it does not fit
        self.say("; ".join([f"opened {path}", *self.clash_notes()]))
        self.check_pack_versions()
        self.emit("document")
        self.emit("file")
        self.emit("training")

    def check_pack_versions(self) -> None:
        """Once per opened project, when the catalog is known: say which packs' installed versions
        differ from those it was saved with (``pack_warnings``; the app shows them in a dialog)."""
        if self.packs_checked or not self.catalog:
            return
        self.packs_checked = True
        installed = {s.pack: s.pack_version for s in self.catalog.unique_specs()}
        self.pack_warnings = version_warnings(self.project.packs, installed)
        if self.pack_warnings:
            self.say("; ".join(self.pack_warnings))
            self.emit("packs")

    def clash_notes(self) -> list[str]:
        """For each block type this project uses that a pack tried to take: which pack (refused)."""
        used = {b.type for b in self.project.graph.walk() if b.graph is None}
        notes = []
        for f in self.plugin_failures:
            if f.get("kind") == "clash" and f.get("block") in used:
                spec = self.catalog.spec(str(f["block"]))
                owner = spec.pack if spec is not None else "?"
                notes.append(f"pack {f.get('pack')} tried to take {f['block']}, which this project uses "
                             f"(refused: pack {owner}'s is used)")
        return notes

    def _pack_of(self, type_id: str) -> tuple[str, str] | None:
        spec = self.catalog.spec(type_id)
        return (spec.pack, spec.pack_version) if spec is not None and spec.pack else None

    def save(self, path: str | None = None) -> str:
        """Save atomically to ``path`` (default: where it came from); returns the path.

        Saving somewhere else first rebases the data paths (:meth:`rebase_paths`), so every
        Input still reads the same file from the new folder.
        """
        target = path or self.path
        if not target:
            raise ProjectFileError("the project has no file yet; use Save As")
        new_dir = str(Path(target).resolve().parent)
        moved = self.rebase_paths(self.project_dir, new_dir) if new_dir != self.project_dir or not self.path else []
        if self.catalog:  # without a catalog the versions it was opened with stay recorded
            self.project.packs = packs_used(self.project, self._pack_of, self.project.packs)
        try:
            save_project(self.project, target)
        except BaseException:
            if moved:
                self.rebase_paths(new_dir, self.project_dir)  # not saved: the paths mean what they meant
            raise
        self.path = str(Path(target).resolve())
        self.history.mark_saved()
        self.recovered = False
        self._record_trust()
        self.say(f"saved {target}" + (f"; data paths now relative to it: {', '.join(moved)}" if moved else ""))
        self.emit("file")
        if moved:
            self.emit("document")  # re-validate: the engine resolves them against the new folder
        return self.path

    def path_params(self, b: Block) -> list[str]:
        """The names of ``b``'s params that hold file paths (type "path" in its spec)."""
        spec = self.catalog.spec(b.type)
        if spec is not None:
            return [p.name for p in spec.params if p.type == "path"]
        return ["path"] if b.type == "builtin.Input" else []

    def data_path(self, path: str) -> str:
        """How a data path chosen now is stored: relative to the project file's folder when the
        project has a file (the project and its data move together), absolute while untitled."""
        p = Path(path).expanduser()
        absolute = p if p.is_absolute() else Path(self.project_dir) / p
        absolute = Path(os.path.normpath(absolute))
        return _relative(absolute, Path(self.project_dir)) if self.path else str(absolute)

    def rebase_paths(self, old_dir: str, new_dir: str) -> list[str]:
        """Rewrite every relative or (untitled) absolute data path so it names the same file from
        ``new_dir``; also in the undo history, so undoing an edit never brings back a path meant
        for the old folder. Returns the blocks' ``name.param`` that changed."""

        def rebase(value: Any) -> Any:
            if not isinstance(value, str) or not value.strip():
                return value
            p = Path(value).expanduser()
            if p.is_absolute() and self.path:
                return value  # the user typed an absolute path into a saved project: keep it
            absolute = Path(os.path.normpath(p if p.is_absolute() else Path(old_dir) / p))
            return _relative(absolute, Path(new_dir))

        changed = []
        for b in self.project.graph.walk():
            for name in self.path_params(b):
                old = b.params.get(name)
                new = rebase(old)
                if new != old:
                    b.params[name] = new
                    changed.append(f"{b.name}.{name}")
        weights = rebase(self.project.training.weights)  # the checkpoint a new run starts from
        if weights != self.project.training.weights:
            self.project.training.weights = weights
            changed.append("training.weights")
        names = {b.id: set(self.path_params(b)) for b in self.project.graph.walk()}
        for edit in _flat_edits(self.history):
            if isinstance(edit, SetParam) and edit.name in names.get(edit.block_id, ()):
                edit.value = rebase(edit.value)
                if isinstance(getattr(edit, "_old", None), str):
                    edit._old = rebase(edit._old)
        return changed

    def recover(self, project: Project, path: str | None) -> None:
        """Show ``project`` (read from a recovery file) as unsaved changes to the file ``path``."""
        self._set_project(project, path)
        self.recovered = True
        self.say(f"recovered the unsaved changes{f' to {path}' if path else ''}; save to keep them")
        self.emit("document")
        self.emit("file")


def _relative(path: Path, folder: Path) -> str:
    """``path`` relative to ``folder`` (``../data/x.csv``), or absolute where no relative path exists."""
    try:
        return Path(os.path.relpath(path, folder)).as_posix()
    except ValueError:  # another drive (Windows)
        return str(path)


def _flat_edits(history: History) -> list[Any]:
    """Every edit on the undo and redo stacks, those inside compound edits too."""
    out: list[Any] = []
    stack = [*history._undo, *history._redo]
    while stack:
        edit = stack.pop()
        out.append(edit)
        stack.extend(getattr(edit, "edits", []))
    return out
