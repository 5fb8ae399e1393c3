"""Typed fields that keep what was typed: committed when the field loses focus, not only on Enter.

Dear PyGui offers two behaviours and neither is what a user expects: ``on_enter=True`` drops
the typed text on Tab or a click elsewhere (the value is applied only when Enter returns
true), and ``on_enter=False`` calls the callback on every keystroke (an undo step and a
re-validation per character). So a typed field has no Dear PyGui callback at all; one shared
item handler, *deactivated after edit* (ImGui's ``IsItemDeactivatedAfterEdit``: Enter, Tab,
a click elsewhere — not Escape, which reverts), hands the final value to the field's commit
function once. While the user types, refreshing from the document leaves the field alone
(:func:`show`), so a validation arriving mid-word cannot overwrite it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dearpygui.dearpygui as dpg

__all__ = ["add_typed", "commit", "is_typed", "show"]

Commit = Callable[[int, Any, Any], Any]  # (sender, value, user_data), as a Dear PyGui callback
HANDLERS = "dpg_blocks.typed_field_handlers"  # an alias: one registry per Dear PyGui context
_commits: dict[int, tuple[Commit, Any]] = {}


def add_typed(add: Callable[..., int | str], callback: Commit, user_data: Any = None, **kw: Any) -> int:
    """``add(**kw)`` (``dpg.add_input_text``, ``add_input_int``…) as a field committed on leave."""
    kw.pop("on_enter", None)
    item = int(add(on_enter=False, **kw))
    if len(_commits) > 2000:  # fields of rebuilt panes: forget the deleted ones now and then
        for stale in [i for i in _commits if not dpg.does_item_exist(i)]:
            del _commits[stale]
    _commits[item] = (callback, user_data)
    dpg.bind_item_handler_registry(item, _handlers())
    return item


def is_typed(item: int | str) -> bool:
    """Whether ``item`` was made by :func:`add_typed`."""
    return isinstance(item, int) and item in _commits


def commit(item: int) -> None:
    """Hand the field's current value to its commit function (what leaving the field does)."""
    entry = _commits.get(item)
    if entry is None or not dpg.does_item_exist(item):
        _commits.pop(item, None)
        return
    callback, user_data = entry
    callback(item, dpg.get_value(item), user_data)


def show(item: int | str, value: Any) -> None:
    """Set a field from the document, unless the user is typing in it right now."""
    if dpg.get_value(item) == value:
        return
    if is_typed(item) and dpg.is_item_active(item):
        return
    dpg.set_value(item, value)


def _handlers() -> int | str:
    if not dpg.does_alias_exist(HANDLERS):
        for stale in [i for i in _commits if not dpg.does_item_exist(i)]:
            del _commits[stale]  # a previous context's fields
        with dpg.item_handler_registry(tag=HANDLERS):
            dpg.add_item_deactivated_after_edit_handler(callback=lambda s, item: commit(item))
    return HANDLERS
