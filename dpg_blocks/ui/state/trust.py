"""Whether the open project's custom code may run, and keeping the user's own code trusted.

Mixed into :class:`~dpg_blocks.ui.state.editor_state.EditorState` (it uses the state's ``project``, ``path``,
``catalog``, ``trust_checked``, ``code_declined``, ``do``, ``say`` and ``emit``). The editor
computes the code digest as the engine does (``core.trust`` with the catalog's code params), so it
can ask before the engine refuses, and record the digest of code the user makes as it is made
(docs/architecture.md, "Trust prompt" and "Code the user writes is trusted as it is made").
"""

from __future__ import annotations

from typing import Any

from dpg_blocks.core import Edit


class TrustMixin:
    """EditorState's trust checks: the prompt's question, the user's answer, edits made by the user."""

    def _record_trust(self) -> None:
        """A project this user saves is theirs: its custom code may run (docs/architecture.md)."""
        if not self.trust_checked:
            self.check_trust()
        if self.code_declined:
            return  # code opened from elsewhere is trusted only through the trust prompt
        code = {s.id: s.code_params() for s in self.catalog.unique_specs() if s.code_params()}
        if not code:
            return
        from dpg_blocks.core.user.trust import TrustStore, code_digest, project_code

        digest = code_digest(project_code(self.project, lambda t: code.get(t, [])))
        TrustStore().trust(digest, project=self.project.name, file=self.path or "")

    def code_items(self) -> list[Any]:
        """Every piece of custom code in the project (``core.trust.CodeItem``), by the catalog."""
        from dpg_blocks.core.user.trust import project_code

        code = {s.id: s.code_params() for s in self.catalog.unique_specs() if s.code_params()}
        return project_code(self.project, lambda t: code.get(t, [])) if code else []

    def untrusted_code(self) -> tuple[str, list[Any]] | None:
        """The code digest and items when the project holds code this user has not trusted."""
        from dpg_blocks.core.user.trust import TrustStore, code_digest

        items = self.code_items()
        digest = code_digest(items)
        if digest is None or TrustStore().is_trusted(digest):
            return None
        return digest, items

    def check_trust(self) -> tuple[str, list[Any]] | None:
        """Once per opened project, when the catalog is known: its untrusted code, to ask about."""
        if self.trust_checked or not self.catalog:
            return None
        self.trust_checked = True
        found = self.untrusted_code()
        self.code_declined = found is not None  # until the user trusts it, it stays disabled
        return found

    def trust_code(self, digest: str) -> None:
        """The user trusts the code with ``digest``: record it; the engine runs it from now on."""
        from dpg_blocks.core.user.trust import TrustStore

        TrustStore().trust(digest, project=self.project.name, file=self.path or "")
        self.code_declined = False
        self.say("trusted this project's custom code; validating it")
        self.emit("trust")

    def _do_own(self, edit: Edit, own_code: set[str]) -> bool:
        """Run ``edit``, made by this user; keep the project's code trusted when it was before.

        The code the edit brings in is the user's own when it is in ``own_code`` (typed in the
        editor, a pack's default) or a copy of code the project already held (Duplicate). Code
        from elsewhere (pasted from another project, a declined file) still needs the prompt.
        """
        from dpg_blocks.core.user.trust import TrustStore, code_digest

        if not own_code and not self.code_items():
            return self.do(edit)  # no code involved: no trust file to read
        before = self.code_items()
        store = TrustStore()
        trusted = self.trust_checked and not self.code_declined and store.is_trusted(code_digest(before))
        if not self.do(edit):
            return False
        known = own_code | {i.source for i in before}
        after = self.code_items()
        if trusted and all(i.source in known for i in after):
            store.trust(code_digest(after), project=self.project.name, file=self.path or "")
        return True
