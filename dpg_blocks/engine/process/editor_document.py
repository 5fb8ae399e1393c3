"""The engine's copy of the project document the editor validates, kept up to date by edits.

While a user designs, most Validate requests follow one typed parameter. The editor then sends
only the blocks whose params changed (``Validate.edits``, found with ``core.doc_diff``) instead of
the whole document, which at a thousand blocks cost more to encode, decode and check than
revalidating the edit. This copy applies every request in the order sent, also those a newer one
supersedes (they are never validated, but the next edit is relative to them), and remembers which
params changed since the last validation: the server then revalidates those blocks only.
"""

from __future__ import annotations

from typing import Any

from dpg_blocks.core.doc_diff import block_dicts, param_changes


class EditorDocument:
    """The latest document the editor sent, and what changed in it since the last validation."""

    def __init__(self) -> None:
        self.doc: dict[str, Any] | None = None
        self.folder = ""
        self.request = 0  # the Validate request whose document ``doc`` now is
        # block id -> params changed since the last validation; None: more than params changed
        # (a link, a block, a name…) or nothing was validated yet: validate from scratch
        self.changes: dict[str, dict[str, Any]] | None = None
        self._blocks: dict[str, dict[str, Any]] | None = None  # id -> block dict in ``doc``

    def take(self, cmd: Any) -> bool:
        """Bring the document to ``cmd``'s (a Validate). False when ``cmd.edits`` apply to a
        document this engine does not hold (it was restarted since, or an earlier request was
        lost): the document is then dropped, and the editor must send it whole."""
        if cmd.edits is None:
            if self.doc is not None and self.changes is not None and cmd.project_dir == self.folder:
                more = param_changes(self.doc, cmd.project)
                self.changes = None if more is None else {**self.changes, **more}
            else:
                self.changes = None
            self.doc, self.folder, self._blocks = cmd.project, cmd.project_dir, None
            self.request = cmd.request_id
            return True
        if self.doc is None or cmd.base != self.request or cmd.project_dir != self.folder:
            self.drop()
            return False
        if self._blocks is None:
            self._blocks = block_dicts(self.doc)
        if any(bid not in self._blocks for bid in cmd.edits):
            self.drop()
            return False
        for bid, params in cmd.edits.items():
            self._blocks[bid]["params"] = params  # a new dict: a decoded project keeps the old one
        if self.changes is not None:
            self.changes.update(cmd.edits)
        self.request = cmd.request_id
        return True

    def validated(self) -> None:
        """The document as it is now has been validated: later edits are relative to it."""
        self.changes = {}

    def forget_validation(self) -> None:
        """The next validation starts from scratch (plugins reloaded, a validation failed)."""
        self.changes = None

    def drop(self) -> None:
        self.doc, self._blocks, self.changes, self.request = None, None, None, 0
