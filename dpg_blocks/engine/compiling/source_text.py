"""User strings in generated Python: the only ways a name, path or title enters source.

The engine ``exec``s the source ``codegen`` writes and export writes a script users run, so a
user string spliced in as it is would be code (a newline in a block name ends a ``#`` comment;
``\"\"\"`` in a project name ends a docstring). Every user string goes through one of these:

* :func:`lit` — a Python literal (``repr`` underneath: never a raw line break or quote);
* :func:`comment` / :func:`doc` — the body of such a literal, for a ``#`` comment or a docstring;
* :func:`identifier` — a Python identifier that reads back as itself (``[A-Za-z0-9_]`` where
  the name's letters would not), never a keyword.

``tests/test_generated_names.py`` checks with ``ast`` that no name reaches code otherwise.
"""

from __future__ import annotations

import builtins
import keyword
import re
import unicodedata
from typing import Any

__all__ = ["lit", "py_str", "comment", "doc", "identifier", "KEYWORDS", "RESERVED"]

# Names an identifier derived from a user's name must not take: they would hide a builtin or a
# keyword-like constant the generated code relies on.
KEYWORDS = frozenset(keyword.kwlist)
RESERVED = KEYWORDS | frozenset(keyword.softkwlist) | frozenset(dir(builtins))


def py_str(text: str) -> str:
    """``text`` as a Python string literal, in double quotes unless it holds one."""
    r = repr(text)
    if r[0] == "'" and '"' not in text:
        # repr chose single quotes only because the text has no quote at all: swap them
        return f'"{r[1:-1]}"'
    return r


def lit(value: Any) -> str:
    """``value`` (str, number, bool, None, list, tuple, dict of those) as Python source."""
    if isinstance(value, str):
        return py_str(value)
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int | float):
        text = repr(value)
        # inf/nan have no literal; a project never holds them, but never write a bare name
        return text if text not in ("inf", "-inf", "nan") else f"float({text!r})"
    if isinstance(value, list):
        return f"[{', '.join(lit(v) for v in value)}]"
    if isinstance(value, tuple):
        return f"({lit(value[0])},)" if len(value) == 1 else f"({', '.join(lit(v) for v in value)})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{lit(k)}: {lit(v)}" for k, v in value.items()) + "}"
    return repr(value)  # a layer's own export_args() value (a dtype…): its repr is its source


def comment(text: str) -> str:
    """``text`` for a ``#`` comment: printable, on one line (escapes as in a literal)."""
    return repr(text)[1:-1]


def doc(text: str) -> str:
    """``text`` for the inside of a (non-raw) triple-quoted docstring: it cannot end it."""
    return comment(text).replace('"', '\\"')


def identifier(name: str, empty: str = "block", prefix: str = "b", reserved: frozenset[str] = KEYWORDS) -> str:
    """A Python identifier made from ``name``, each non-word character turned into ``_``.

    Non-ASCII letters are kept where Python reads the identifier back unchanged (it NFKC-folds
    identifiers, so ``ﬁ`` would become ``fi``); otherwise only ASCII is kept. An empty result
    is ``empty``; one starting with a digit gets ``prefix_`` in front; a name in ``reserved``
    (keywords: ``self.if`` is not Python) gets ``_`` after.
    """
    base = re.sub(r"\W", "_", name).strip("_")
    if base and (not base.isidentifier() or unicodedata.normalize("NFKC", base) != base):
        base = re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_")
    if not base:
        base = empty
    elif base[0].isdigit():
        base = f"{prefix}_{base}"
    if base in reserved:
        base += "_"
    return base
