"""Give an imported graph its module tree back: one SuperBlock per submodule (``import_fx``).

fx flattens ``forward`` into one graph, but each node remembers the modules it ran inside
(``node.meta["nn_module_stack"]``). Every container module (one whose children ran, such as
ResNet's ``layer3`` or one of its Bottlenecks) becomes a SuperBlock named after it, nested as
the modules nest; a Sequential's numbered child is named by its class ("Bottleneck 0"). Blocks
inside keep their last name part (``conv1``, not ``layer3.0.conv1``; a numbered one its type:
"Conv2d 0"). At the top, a run of
plain layers before the first SuperBlock becomes "stem" and one after the last "head", so a
ResNet reads x → stem → layer1 … layer4 → head → output. Every graph is then laid out.
A group that cannot be merged (a module whose nodes interleave with others') stays flat.
"""

from __future__ import annotations

from collections.abc import Iterator

from dpg_blocks.blocks.builder import ProjectBuilder
from dpg_blocks.core.edits import Merge, Move, Rename
from dpg_blocks.core.graph import Graph, GraphError
from dpg_blocks.core.layout import auto_layout

Scope = tuple[str, ...]  # the container modules a block ran inside, outermost first


def nest_by_module(b: ProjectBuilder, scopes: dict[str, Scope], classes: dict[str, str]) -> None:
    """Merge the blocks of ``b`` into SuperBlocks by ``scopes`` (block id -> container paths;
    ``classes``: container path -> class name), then lay every graph out."""
    children: dict[str, set[str]] = {}
    for scope in scopes.values():
        for depth, path in enumerate(scope):
            children.setdefault(scope[depth - 1] if depth else "", set()).add(path)

    def merge(path: str) -> str | None:
        """Post-order: a container's children first, so sibling names never meet in one graph."""
        members = [merge(child) for child in sorted(children.get(path, ()))]
        members += [bid for bid, scope in scopes.items() if scope and scope[-1] == path]
        ids = [m for m in members if m is not None]
        if not ids:
            return None
        # a container called again (a Siamese tower) is "tower@1" to fx: "tower (2)" here
        return _merge(b, ids, _display_name(path.partition("@")[0], classes.get(path, "")),
                      prefix=path.partition("@")[0] + ".")

    for top in sorted(children.get("", ())):
        merge(top)
    root = b.project.graph
    if any(blk.is_super for blk in root.blocks.values()):
        for upstream, name in ((True, "stem"), (False, "head")):
            group = _ends(root, upstream)  # after the stem's merge: a block is in one of them
            if len(group) >= 2:
                _merge(b, group, name, prefix="")
    for graph in _graphs(root):
        for bid, pos in auto_layout(graph, origin=(40.0, 40.0)).items():
            b.history.do(Move(bid, pos))


def _display_name(path: str, cls: str) -> str:
    last = path.rpartition(".")[2]
    return f"{cls} {last}" if last.isdigit() and cls else last


def _merge(b: ProjectBuilder, ids: list[str], name: str, prefix: str) -> str | None:
    sb_id = b.project.new_id()
    graph, _ = b.project.locate(ids[0])
    taken = {blk.name for bid, blk in graph.blocks.items() if bid not in ids}
    base, n = name, 2
    while name in taken:
        name, n = f"{base} ({n})", n + 1
    try:
        b.history.do(Merge(ids, sb_id, name))
    except GraphError:
        return None  # its nodes interleave with other modules': it stays flat, still correct
    inner = b.project.graph.walk()
    for blk in [x for x in inner if x.id in ids]:
        short = blk.name.removeprefix(prefix) if prefix else blk.name
        if short.isdigit():  # a Sequential's numbered layer: "Conv2d 0" reads better than "0"
            short = f"{blk.type.rpartition('.')[2]} {short}"
        if short and short != blk.name:
            try:
                b.history.do(Rename(blk.id, short))
            except GraphError:
                pass  # two layers that end alike: the long name stays
    return sb_id


def _ends(graph: Graph, upstream: bool) -> list[str]:
    """Plain layers at the top with no SuperBlock before them (``upstream``) or after them."""
    plain = {bid for bid, blk in graph.blocks.items()
             if not blk.is_super and blk.type not in ("builtin.Input", "builtin.Output")}
    nexts: dict[str, set[str]] = {bid: set() for bid in graph.blocks}
    for link in graph.links:
        src, dst = (link.src.block, link.dst.block) if upstream else (link.dst.block, link.src.block)
        nexts[src].add(dst)
    tainted: set[str] = set()  # reached from a SuperBlock (downstream of one, or upstream)
    todo = [bid for bid, blk in graph.blocks.items() if blk.is_super]
    while todo:
        for nxt in nexts[todo.pop()]:
            if nxt not in tainted:
                tainted.add(nxt)
                todo.append(nxt)
    return sorted(plain - tainted, key=lambda bid: graph.blocks[bid].pos)


def _graphs(graph: Graph) -> Iterator[Graph]:
    yield graph
    for blk in graph.blocks.values():
        if blk.graph is not None:
            yield from _graphs(blk.graph)
