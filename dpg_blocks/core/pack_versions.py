"""Which block-pack versions a project was saved with, and what differs from the installed ones.

A project records ``{"pack": "version"}`` for every pack whose blocks it uses (the built-in pack
is dpg-blocks itself and is left out): a pack upgraded since may build its blocks differently,
and on open the editor and the CLI say so. Standard library only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from dpg_blocks.core.project import Project

__all__ = ["packs_used", "version_warnings"]

BUILTIN = "builtin"


def packs_used(
    project: Project, pack_of: Callable[[str], tuple[str, str] | None], previous: Mapping[str, str] = ()
) -> dict[str, str]:
    """Pack -> version for the blocks of ``project`` (``pack_of(type_id)``: the installed pack and
    version of a block type, None when no installed pack has it). A pack that is not installed
    now keeps the version recorded in ``previous``, so saving without it loses nothing."""
    used: dict[str, str] = {}
    missing: set[str] = set()
    for b in project.graph.walk():
        if b.graph is not None:
            continue  # a SuperBlock: its inner blocks are walked too
        found = pack_of(b.type)
        if found is None:
            missing.add(b.type.partition(".")[0])
        elif found[0] != BUILTIN:
            used[found[0]] = found[1]
    for pack, version in dict(previous).items():
        if pack in missing and pack not in used:
            used[pack] = version
    return dict(sorted(used.items()))


def version_warnings(saved: Mapping[str, str], installed: Mapping[str, str]) -> list[str]:
    """One sentence per pack whose installed version differs from the one the project was saved with."""
    out = []
    for pack, version in sorted(saved.items()):
        now = installed.get(pack)
        if now is None:
            out.append(f"saved with pack {pack} {version or '(no version)'}, which is not installed")
        elif now != version:
            out.append(f"saved with pack {pack} {version or '(no version)'}; installed is {now or '(no version)'}: "
                       "its blocks may build differently")
    return out
