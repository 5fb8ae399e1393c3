"""The two prompts opening a project may raise before anything runs: "Recover unsaved changes?"
and "This project contains custom code".

A crashed editor leaves its unsaved work in the recovery folder (``ui/state/recovery.py``): opening the
same file (or starting untitled) offers it, one at a time. Then a project whose code this user
has not trusted shows that code and asks before the engine may run it (``core/user/trust.py``); the
trust prompt waits while a recovery is offered, since recovering changes what is asked about.
A mixin of :class:`~dpg_blocks.ui.files.project_controls.ProjectControls`, which opens the project
and calls :meth:`OpeningPrompts.offer_recovery` and :meth:`OpeningPrompts.check_trust`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dearpygui.dearpygui as dpg

from dpg_blocks.core import ProjectFileError

if TYPE_CHECKING:
    from dpg_blocks.ui.state.editor_state import EditorState
    from dpg_blocks.ui.state.recovery import Recovery, RecoveryInfo

__all__ = ["CODE_BOX_H", "PROMPT_W", "TRUST_W", "OpeningPrompts"]

PROMPT_W = 560
TRUST_W = 780
CODE_BOX_H = 360  # the trust prompt's code list scrolls beyond this


class OpeningPrompts:
    """The recovery and trust prompts (a mixin of :class:`~dpg_blocks.ui.files.project_controls.ProjectControls`)."""

    # What this mixin uses of the ProjectControls it is part of.
    state: EditorState
    recovery: Recovery | None
    _offers: list[RecoveryInfo]
    _trust_digest: str
    _show: Callable[[int | str, int], None]
    _hide: Callable[[int | str], None]
    show_error: Callable[[str, str], None]

    # -- building ----------------------------------------------------------------------------
    def _build_recover(self) -> None:
        with dpg.window(label="Recover unsaved changes?", modal=True, show=False, no_collapse=True, no_close=True,
                        width=PROMPT_W, autosize=True, no_saved_settings=True) as self.recover_window:
            self.recover_text = dpg.add_text("", wrap=PROMPT_W - 40)
            dpg.add_spacer(height=6)
            with dpg.group(horizontal=True):
                self.recover_button = dpg.add_button(label="Recover", width=110,
                                                     callback=lambda: self.recover_answer("recover"))
                self.recover_discard = dpg.add_button(label="Discard", width=110,
                                                      callback=lambda: self.recover_answer("discard"))

    def _build_trust(self) -> None:
        with dpg.window(label="This project contains custom code", modal=True, show=False, no_collapse=True,
                        no_close=True, width=TRUST_W, autosize=True, no_saved_settings=True) as self.trust_window:
            self.trust_text = dpg.add_text("", wrap=TRUST_W - 40)
            # data files outside the project's folder that opening it reads (~/.ssh/...); hidden when none
            self.trust_data_text = dpg.add_text("", wrap=TRUST_W - 40, color=(250, 150, 60), show=False)
            self.trust_code_box = dpg.add_child_window(width=-1, height=CODE_BOX_H)
            dpg.add_spacer(height=6)
            with dpg.group(horizontal=True):
                self.trust_button = dpg.add_button(label="Trust and run", width=140,
                                                   callback=lambda: self.trust_answer("trust"))
                self.trust_keep = dpg.add_button(label="Keep it disabled", width=140,
                                                 callback=lambda: self.trust_answer("keep"))
        self.trust_code_widgets: list[int | str] = []

    # -- recovery ----------------------------------------------------------------------------
    def offer_recovery(self, path: str | None) -> bool:
        """Offer what a crashed editor left for ``path`` (None: untitled); whether it asks."""
        if self.recovery is None:
            return False
        self._offers = self.recovery.left_behind(path)
        return self._next_offer()

    def _next_offer(self) -> bool:
        if not self._offers:
            return False
        info = self._offers[0]
        where = info.path or "never saved (an untitled project)"
        more = f"\n\n({len(self._offers) - 1} more after this one.)" if len(self._offers) > 1 else ""
        dpg.set_value(
            self.recover_text,
            f"dpg-blocks closed without saving changes to {Path(info.path).name if info.path else 'an untitled project'}.\n\n"
            f"File:  {where}\nChanges from:  {info.when}\n\n"
            f"Recover opens them as unsaved changes to that file; Discard deletes them.{more}",
        )
        self._show(self.recover_window, PROMPT_W)
        return True

    def recover_answer(self, choice: str) -> None:
        """"recover" (load it, dirty, attached to its file) or "discard" (delete it)."""
        self._hide(self.recover_window)
        if not self._offers:
            return
        info = self._offers.pop(0)
        if choice == "discard":
            info.remove()
            self.state.say(f"discarded the unsaved changes from {info.when}")
            if not self._next_offer():
                self.check_trust()
            return
        try:
            project = info.load()
        except (ProjectFileError, OSError) as e:
            self.show_error("Cannot recover the changes", str(e))
            return
        self._offers = []  # one recovered project at a time; the rest are offered next start
        self.state.recover(project, info.path)
        if self.recovery is not None:
            mine = self.recovery.write()  # our own copy first, then the dead editor's may go
            if mine is not None and mine != info.file:
                info.remove()
        self.check_trust()

    # -- trust -------------------------------------------------------------------------------
    def _on_state(self, topic: str) -> None:
        if topic == "catalog" and not dpg.is_item_shown(self.recover_window):
            self.check_trust()  # a project opened before the engine was ready is checked now

    def check_trust(self) -> bool:
        """Ask about the open project's untrusted code (once per project); whether it asks."""
        checked = self.state.trust_checked
        found = self.state.check_trust()
        if found is None:
            outside = self.outside_data() if not checked and self.state.trust_checked else []
            if outside:  # no code to trust, but what it reads is worth knowing
                self.state.say("this project reads data from outside its folder: "
                               + "; ".join(d.describe() for d in outside))
            return False
        self._ask_trust(*found)
        return True

    def review_code(self) -> None:
        """File › Review custom code…: the trust prompt for the code as it is now."""
        if not self.state.catalog:
            self.state.say("the block catalog is not loaded yet (is the engine ready?)")
            return
        found = self.state.untrusted_code()
        if found is None:
            n = len(self.state.code_items())
            self.state.say("this project holds no custom code" if not n else "this project's custom code is trusted")
            return
        self._ask_trust(*found)

    def outside_data(self) -> list[Any]:
        """The open project's data paths that leave its folder (listed in the trust prompt)."""
        from dpg_blocks.core.user.trust import outside_data_paths

        folder = Path(self.state.path).resolve().parent if self.state.path else None
        return outside_data_paths(self.state.project, folder)

    def _ask_trust(self, digest: str, items: list[Any]) -> None:
        self._trust_digest = digest
        where = self.state.path or "this project"
        blocks = sorted({i.block_id for i in items})
        dpg.set_value(
            self.trust_text,
            f"{where} holds Python code in {len(blocks)} block(s). This code has not been trusted on "
            "this computer, so none of it has run. Read it below, and run it only if you trust where "
            "the project came from.",
        )
        outside = self.outside_data()
        dpg.set_value(self.trust_data_text, "It also reads data from outside its folder:\n" + "\n".join(
            f"  {d.describe()}" for d in outside) if outside else "")
        dpg.configure_item(self.trust_data_text, show=bool(outside))
        for item in self.trust_code_widgets:
            if dpg.does_item_exist(item):
                dpg.delete_item(item)
        self.trust_code_widgets = []
        box_h = 16  # the child window's padding
        for i in items:
            try:
                path = " › ".join(self.state.project.path_of(i.block_id))
            except Exception:  # a block that vanished meanwhile still shows by its name
                path = i.block_name
            lines = i.source.count("\n") + 1
            code_h = min(16, max(4, lines + 1)) * 17
            box_h += code_h + 30  # the header line and item spacing
            self.trust_code_widgets.append(dpg.add_text(f"{path}  ({i.block_type}, {i.param})",
                                                        color=(250, 210, 40), parent=self.trust_code_box))
            self.trust_code_widgets.append(dpg.add_input_text(
                default_value=i.source, multiline=True, readonly=True, width=-1, tab_input=True,
                height=code_h, parent=self.trust_code_box,
            ))
        # As tall as the code, up to CODE_BOX_H; more code scrolls inside the box.
        dpg.configure_item(self.trust_code_box, height=min(CODE_BOX_H, box_h))
        self._show(self.trust_window, TRUST_W)

    def trust_answer(self, choice: str) -> None:
        """"trust" (record the trust, validate again) or "keep" (the code stays disabled)."""
        self._hide(self.trust_window)
        digest, self._trust_digest = self._trust_digest, ""
        if choice == "trust" and digest:
            self.state.trust_code(digest)
        else:
            self.state.code_declined = True
            self.state.say("custom code kept disabled: its blocks are not run (File › Review custom code… to trust it)")
