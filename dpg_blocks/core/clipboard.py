"""Copy and paste of blocks: a selection as JSON text, pasted back with fresh ids.

The text is what goes on the system clipboard, so blocks copied in one editor window paste into
another (or into a text file and back). Links between copied blocks travel with them; links to
blocks left behind do not. Pasting is one :class:`~dpg_blocks.core.edits.Compound` edit, so a
single undo removes everything it added. Stdlib only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from dpg_blocks.core.edits import AddBlock, Compound, Connect, SetTies
from dpg_blocks.core.graph import SUPERBLOCK_TYPE, Block, Endpoint, Graph, GraphError, Link
from dpg_blocks.core.project import Project, Tie, free_name
from dpg_blocks.core.project_file import ProjectFileError, block_from_dict, block_to_dict
from dpg_blocks.core.user.library import copy_with_fresh_ids

CLIPBOARD_FORMAT = "dpg-blocks/blocks"
CLIPBOARD_VERSION = 1


def copy_blocks(graph: Graph, block_ids: Iterable[str]) -> str:
    """The clipboard text for ``block_ids`` of ``graph`` and the links among them."""
    ids = [b for b in dict.fromkeys(block_ids) if b in graph.blocks]
    if not ids:
        raise GraphError("nothing to copy: select blocks on the canvas first")
    chosen = set(ids)
    links = [lk for lk in graph.links if lk.src.block in chosen and lk.dst.block in chosen]
    doc = {
        "format": CLIPBOARD_FORMAT,
        "version": CLIPBOARD_VERSION,
        "blocks": [block_to_dict(graph.blocks[b]) for b in ids],
        "links": [[lk.src.block, lk.src.port, lk.dst.block, lk.dst.port] for lk in links],
    }
    return json.dumps(doc)


def read_clipboard(text: str) -> tuple[list[Block], list[Link]]:
    """Blocks and links from clipboard text; anything else raises :class:`ProjectFileError`."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise ProjectFileError(f"the clipboard does not hold dpg-blocks blocks ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != CLIPBOARD_FORMAT:
        raise ProjectFileError("the clipboard does not hold dpg-blocks blocks")
    if doc.get("version") != CLIPBOARD_VERSION:
        raise ProjectFileError(f"clipboard version {doc.get('version')!r} is not supported (expected 1)")
    raw_blocks, raw_links = doc.get("blocks"), doc.get("links")
    if not isinstance(raw_blocks, list) or not raw_blocks or not isinstance(raw_links, list):
        raise ProjectFileError("the clipboard's blocks or links are missing")
    blocks = [block_from_dict(d, f"$.blocks[{i}]") for i, d in enumerate(raw_blocks)]
    links = []
    for i, lk in enumerate(raw_links):
        if not (isinstance(lk, list) and len(lk) == 4 and all(isinstance(x, str) for x in lk)):
            raise ProjectFileError(f"$.links[{i}]: expected [src block, src port, dst block, dst port]")
        links.append(Link(Endpoint(lk[0], lk[1]), Endpoint(lk[2], lk[3])))
    return blocks, links


def paste_edit(
    project: Project,
    text: str,
    parent: str | None = None,
    at: tuple[float, float] | None = None,
    shared: bool = False,
) -> tuple[Compound, list[str]]:
    """The edit that pastes clipboard ``text`` into graph ``parent``, and the new block ids.

    Every id (nested ones too) is fresh and every name is free in the target graph; the
    blocks keep their arrangement, with their top-left corner moved to ``at`` when given.
    ``shared``: every pasted layer whose original is in ``project`` shares all its weights
    with it (a "*" :class:`~dpg_blocks.core.project.Tie`; a copy of a copy shares the first's).
    """
    blocks, links = read_clipboard(text)
    # A throwaway SuperBlock holds the copies so one remap gives fresh ids to blocks and links.
    holder = Block("clipboard", SUPERBLOCK_TYPE, "clipboard", graph=Graph())
    assert holder.graph is not None
    holder.graph.owner = holder
    try:
        holder.graph.extend(blocks, links)
    except GraphError as e:
        raise ProjectFileError(f"the clipboard's blocks do not fit together: {e}") from None
    fresh = copy_with_fresh_ids(holder, project.new_id)
    assert fresh.graph is not None
    target = project.graph_of(parent)
    taken = {b.name for b in target.blocks.values()}
    dx = dy = 0.0
    if at is not None:
        dx = at[0] - min(b.pos[0] for b in fresh.graph.blocks.values())
        dy = at[1] - min(b.pos[1] for b in fresh.graph.blocks.values())
    edits: list[Any] = []
    for b in fresh.graph.blocks.values():
        b.name = free_name(b.name, taken)
        taken.add(b.name)
        b.pos = (b.pos[0] + dx, b.pos[1] + dy)
        edits.append(AddBlock(b, parent))
    edits += [Connect(lk.src, lk.dst, parent) for lk in fresh.graph.links]
    n = len(fresh.graph.blocks)
    label = f"paste {n} block{'s' if n != 1 else ''}"
    if shared:
        edits.append(_shared_ties(project, holder, fresh))
        label += " sharing weights"
    return Compound(edits, label=label), list(fresh.graph.blocks)


def _shared_ties(project: Project, originals: Block, copies: Block) -> SetTies:
    """The project's ties plus one "*" tie from each copied layer to its original's source."""
    existing = {b.id for b in project.graph.walk()}
    first = {t.block: t.source for t in project.ties if t.param == "*"}
    ties = list(project.ties)
    for old, new in zip(originals.walk(), copies.walk(), strict=True):  # same shape, same order
        if old.graph is None and old.id in existing:
            ties.append(Tie(new.id, "*", first.get(old.id, old.id), "*"))
    return SetTies(ties, "share weights")

