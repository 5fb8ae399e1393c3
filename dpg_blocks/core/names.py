"""What may be a name: one check for the project reader, the edits and the editor's fields.

Names (of blocks, the project, orders) are shown on the canvas, in paths (``Backbone › fc3``)
and in generated code. A name that hides a line break, a control character or an invisible
character would show as something it is not, so such names are refused wherever a name enters
the document. Names that look the same (equal after NFKC normalisation, ``FC4`` and ``FC4`` +
a zero-width space once that is refused, ``ﬁ`` and ``fi``) count as the same name among
siblings.
"""

from __future__ import annotations

import unicodedata

__all__ = ["MAX_NAME_LENGTH", "name_problem", "name_key", "describe_char"]

MAX_NAME_LENGTH = 200

# Characters that end a line somewhere (Python's str.splitlines, editors, terminals).
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
# Categories that draw nothing or something other than themselves: controls, format
# characters (zero-width space, ZWJ/ZWNJ, BOM, bidi overrides), separators, surrogates,
# private use and unassigned code points.
_REFUSED = {
    "Cc": "a control character",
    "Cf": "an invisible character",
    "Zl": "a line break",
    "Zp": "a line break",
    "Cs": "a lone surrogate",
    "Co": "a private-use character",
    "Cn": "an unassigned character",
}


def describe_char(ch: str) -> str:
    """``U+200B ZERO WIDTH SPACE`` (the code point and, where Unicode has one, its name)."""
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" {name}" if name else "")


def name_problem(name: object, what: str = "name") -> str | None:
    """Why ``name`` cannot be a ``what`` (``"block name contains a line break (U+000A)"``), or None."""
    if not isinstance(name, str):
        return f"{what} must be a string"
    if not name.strip():
        return f"{what} is empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"{what} is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}"
    for ch in name:
        kind = "a line break" if ch in _LINE_BREAKS else _REFUSED.get(unicodedata.category(ch))
        if kind is not None:
            return f"{what} contains {kind} ({describe_char(ch)}); names must be visible text on one line"
    return None


def name_key(name: str) -> str:
    """The form two names are compared in: names with equal keys look the same."""
    return unicodedata.normalize("NFKC", name.strip())
