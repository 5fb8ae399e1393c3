"""Text fitted to the room a widget has (ellipsised, never wrapped)."""

from __future__ import annotations


def short(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, the last one an ellipsis when anything was cut."""
    return text if len(text) <= width else text[: width - 1] + "…"
