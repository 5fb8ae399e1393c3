"""Block edits on the graph on the canvas: add, code, connect, delete, move, copy and paste,
shared weights, layout, rename, params, merge and unmerge.

Mixed into :class:`~dpg_blocks.ui.state.editor_state.EditorState` (it uses the state's ``project``, ``graph``,
``scope_id``, ``selected``, ``catalog``, ``place``, ``do``, ``_do_own``, ``select``, ``block``,
``say`` and ``emit``). Each method turns a gesture into one undoable edit command, or says on the
status line why there is none.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dpg_blocks.core import (
    AddBlock,
    Compound,
    Connect,
    Disconnect,
    Edit,
    Endpoint,
    GraphError,
    Merge,
    Move,
    ProjectFileError,
    RemoveBlock,
    Rename,
    SetParam,
    SetTies,
    Unmerge,
)
from dpg_blocks.core.clipboard import copy_blocks, paste_edit
from dpg_blocks.core.graph import Link
from dpg_blocks.core.layout import PinRows, Size, auto_layout
from dpg_blocks.core.names import name_problem

# Where a new block goes relative to its neighbour on the canvas.
COLUMN_STEP = 220.0
DEFAULT_POS = (40.0, 200.0)


class BlockEditsMixin:
    """EditorState's edits of blocks and links in the graph on the canvas."""

    def next_position(self, title: str = "") -> tuple[float, float]:
        """A free spot in view next to the selection (the canvas knows), else right of the
        selected block, else right of the rightmost block of the canvas."""
        if self.place is not None:
            anchor = self.selected[-1] if self.selected and self.selected[-1] in self.graph.blocks else None
            spot = self.place(anchor, title)
            if spot is not None:
                return spot
        blocks = list(self.graph.blocks.values())
        anchor = self.graph.blocks.get(self.selected[-1]) if self.selected else None
        if anchor is None and blocks:
            anchor = max(blocks, key=lambda b: (b.pos[0], -b.pos[1]))
        if anchor is None:
            return DEFAULT_POS
        x, y = anchor.pos[0] + COLUMN_STEP, anchor.pos[1]
        while any(abs(b.pos[0] - x) < 40 and abs(b.pos[1] - y) < 40 for b in blocks):
            y += 120.0
        return x, y

    def add_block(self, type_id: str, pos: tuple[float, float] | None = None) -> str | None:
        """Add a block of ``type_id`` from the catalog; returns its id (selected) or None."""
        spec = self.catalog.spec(type_id)
        if spec is None:
            self.say(f"unknown block type {type_id!r} (is the engine ready?)")
            return None
        bid = self.project.new_id()
        name = self.project.unique_name(spec.name, self.graph)
        block = spec.new_block(bid, name, pos or self.next_position(name))
        # the pack's default code comes with the installation; the user chose to add it
        own = {str(v) for k, v in block.params.items() if k in spec.code_params()}
        if not self._do_own(AddBlock(block, self.scope_id), own):
            return None
        self.select([bid])
        return bid

    def apply_code(self, block_id: str, params: dict[str, Any]) -> bool:
        """Set a block's code and declarations (``params``: name -> value as typed, coerced by its
        spec) as one undoable edit. Code typed in the editor is this user's own: it is trusted
        as it is applied, unless the project holds code from elsewhere that is not trusted yet."""
        b = self.block(block_id)
        if b is None:
            self.say(f"no block {block_id!r}")
            return False
        spec = self.catalog.spec(b.type)
        if spec is None:
            self.say(f"{b.name}: its block type {b.type!r} is not known (is the engine ready?)")
            return False
        where = " › ".join(self.project.path_of(block_id))
        current = dict(b.params)
        ports = (b.inputs, b.outputs)
        edits: list[Edit] = []
        for name, raw in params.items():
            p = spec.param(name)
            if p is None:
                self.say(f"{where}: {b.type} has no parameter {name!r}")
                return False
            try:
                value = p.coerce(raw)
            except ValueError as e:
                self.say(f"{where}.{p.label or name}: {e}")
                return False
            if current.get(name) == value:
                continue
            current[name] = value
            new_ports = spec.ports_for(current)
            changed = new_ports if tuple(new_ports) != tuple(ports) else None
            ports = new_ports if changed else ports
            edits.append(SetParam(block_id, name, value, ports=changed))
        if not edits:
            self.say(f"{where}: nothing changed")
            return False
        typed = {str(current[n]) for n in spec.code_params() if n in current}
        if not self._do_own(Compound(edits, label=f"edit the code of {where}"), typed):
            return False
        self.say(f"applied the code of {where}; validating")
        return True

    def connect(self, src: tuple[str, str], dst: tuple[str, str]) -> bool:
        """Link output ``src`` to input ``dst`` in the graph on the canvas; refused links say why.

        Inside a SuperBlock its own id stands for the boundary: ``(sb, port)`` as ``src`` is
        one of its inputs, as ``dst`` one of its outputs.
        """
        return self.do(Connect(Endpoint(*src), Endpoint(*dst), self.scope_id))

    def disconnect(self, link: Link) -> bool:
        return self.do(Disconnect(link.src, link.dst, self.scope_id))

    def delete(self, block_ids: Iterable[str] = (), links: Iterable[Link] = ()) -> bool:
        """Remove links, then blocks, as one undo step."""
        edits: list[Edit] = [Disconnect(lk.src, lk.dst, self.scope_id) for lk in links]
        ids = [b for b in block_ids if self.block(b) is not None]
        removed = set(ids)
        edits = [e for e in edits if not ({e.link.src.block, e.link.dst.block} & removed)]  # type: ignore[attr-defined]
        edits += [RemoveBlock(b) for b in ids]
        if not edits:
            return False
        ok = self.do(Compound(edits, label=f"delete {len(ids)} block(s), {len(edits) - len(ids)} link(s)"))
        if ok:
            self.select([b for b in self.selected if b not in removed])
        return ok

    def move(self, positions: dict[str, tuple[float, float]], label: str | None = None) -> bool:
        """Record where blocks were dragged to (one undo step for a multi-block drag)."""
        edits: list[Edit] = []
        for bid, pos in positions.items():
            b = self.block(bid)
            if b is not None and (abs(b.pos[0] - pos[0]) > 0.5 or abs(b.pos[1] - pos[1]) > 0.5):
                edits.append(Move(bid, pos))
        if not edits:
            return False
        if len(edits) == 1 and label is None:
            return self.do(edits[0])
        return self.do(Compound(edits, label=label or f"move {len(edits)} blocks"))

    def copy(self, block_ids: list[str]) -> str:
        """Clipboard text for ``block_ids`` of the graph on the canvas ("" when nothing)."""
        try:
            text = copy_blocks(self.graph, block_ids)
        except GraphError as e:
            self.say(str(e))
            return ""
        self.clipboard = text
        n = sum(1 for b in block_ids if b in self.graph.blocks)
        self.say(f"copied {n} block{'s' if n != 1 else ''}")
        return text

    def paste(self, text: str | None = None, at: tuple[float, float] | None = None, shared: bool = False) -> list[str]:
        """Paste clipboard ``text`` (default: the last copy) into the graph on the canvas;
        ``shared``: each pasted layer shares its original's weights (one tensor, trained once)."""
        text = text if text is not None else self.clipboard
        if not text:
            self.say("nothing to paste: copy blocks first (Ctrl+C)")
            return []
        try:
            edit, ids = paste_edit(self.project, text, self.scope_id, at, shared=shared)
        except (ProjectFileError, GraphError) as e:
            self.say(f"paste: {e}")
            return []
        if not self._do_own(edit, set()):
            return []
        self.select(ids)
        return ids

    def shares_with(self, block_id: str) -> str | None:
        """The name of the block whose weights ``block_id`` shares (all or some), else None."""
        source = next((t.source for t in self.project.ties if t.block == block_id), None)
        if source is None:
            return None
        try:
            return self.project.block(source).name
        except GraphError:
            return None

    def stop_sharing(self, block_ids: list[str]) -> bool:
        """Give ``block_ids`` their own weights again (one undoable edit)."""
        keep = [t for t in self.project.ties if t.block not in block_ids]
        if len(keep) == len(self.project.ties):
            self.say("the selected blocks share no weights")
            return False
        return self.do(SetTies(keep, "stop sharing weights"))

    def auto_layout(self, sizes: dict[str, Size] | None = None, max_width: float | None = None,
                    pins: PinRows | None = None, fit: Size | None = None) -> bool:
        """Lay the graph on the canvas out in columns, as one undoable edit (``pins``: where the
        pins are drawn in each node, so no link is laid behind a block; ``fit``: the canvas'
        size at 100 %, to wrap the columns so the graph shows largest in it)."""
        try:
            positions = auto_layout(self.graph, sizes, max_width, pins=pins, fit=fit)
        except GraphError as e:
            self.say(f"auto-layout: {e}")
            return False
        moved = self.move(positions)
        self.say("laid out the blocks" if moved else "the layout is already tidy")
        return moved

    def lay_out_to_fit(self, sizes: dict[str, Size], max_width: float | None = None, pins: PinRows | None = None,
                       fit: Size | None = None) -> bool:
        """Auto-layout for a project opened with a layout too big for the canvas: one undoable
        edit (Ctrl+Z gives the file's positions back) that leaves a clean project clean. It
        only moves blocks into view, the open of the same file does it again, so it is
        no reason to ask "save changes?" on quit; the next save writes it."""
        was_clean = not self.history.dirty
        try:
            positions = auto_layout(self.graph, sizes, max_width, pins=pins, fit=fit)
        except GraphError as e:
            self.say(f"auto-layout: {e}")
            return False
        if not self.move(positions, label="lay out to fit the canvas"):
            return False
        if was_clean:
            self.history.mark_saved()
            self.emit("file")  # the title: still no "*"
        return True

    def rename(self, block_id: str, name: str) -> bool:
        """Rename a block; a refused name leaves it and says why on the status line."""
        b = self.block(block_id)
        if b is not None and b.name == name:
            return False  # a field committing an unchanged name adds no undo step
        problem = name_problem(name.strip(), "the name")
        if problem is not None:
            # the edit would refuse it too, but its label would show the raw (multi-line) name
            self.say(f"cannot rename: {problem}")
            return False
        return self.do(Rename(block_id, name))

    def set_param(self, block_id: str, name: str, value: Any) -> bool:
        """Set a parameter, coerced by the block's spec; ports follow when the param decides them."""
        b = self.block(block_id)
        if b is None:
            return False
        spec = self.catalog.spec(b.type)
        ports = None
        if spec is not None:
            p = spec.param(name)
            if p is not None:
                try:
                    value = p.coerce(value)
                except ValueError as e:
                    self.say(f"{b.name}.{p.label or name}: {e}")
                    return False
            if b.params.get(name) == value:
                return False
            ins, outs = spec.ports_for({**b.params, name: value})
            if (ins, outs) != (b.inputs, b.outputs):
                ports = (ins, outs)
        elif b.params.get(name) == value:
            return False
        return self.do(SetParam(block_id, name, value, ports=ports))

    def merge(self, block_ids: list[str], name: str = "SuperBlock") -> str | None:
        """Merge sibling blocks into a new SuperBlock; returns its id."""
        if not block_ids:
            self.say("select the blocks to merge first")
            return None
        try:
            graph, _ = self.project.locate(block_ids[0])
        except GraphError as e:
            self.say(str(e))
            return None
        sb_id = self.project.new_id()
        if not self.do(Merge(block_ids, sb_id, self.project.unique_name(name, graph))):
            return None
        self.select([sb_id])
        return sb_id

    def unmerge(self, sb_id: str) -> bool:
        b = self.block(sb_id)
        if b is None or not b.is_super:
            self.say("select a SuperBlock to expand")
            return False
        children = list(b.graph.blocks) if b.graph is not None else []
        ok = self.do(Unmerge(sb_id))
        if ok:
            self.select(children)
        return ok
