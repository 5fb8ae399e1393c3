"""The editor's session state, independent of Dear PyGui.

:class:`EditorState` holds the open project, its :class:`~dpg_blocks.core.History`, the file it
came from, the catalog, the latest validation records and the engine's life. Every change to
the document goes through an edit command; widgets subscribe with :meth:`subscribe` and redraw
from this state, so logic tests drive it without a viewport.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dpg_blocks.core import (
    AddBlock,
    Compound,
    Connect,
    Disconnect,
    Edit,
    Endpoint,
    GraphError,
    History,
    Merge,
    Move,
    Project,
    ProjectFileError,
    RemoveBlock,
    Rename,
    SetOrders,
    SetParam,
    SetTraining,
    Unmerge,
    load_project,
    project_to_dict,
    save_project,
)
from dpg_blocks.core.graph import Block, Link

from .catalog import Catalog

# Where a new block goes relative to its neighbour on the canvas.
COLUMN_STEP = 220.0
DEFAULT_POS = (40.0, 200.0)

Listener = Callable[[str], None]


@dataclass
class Validation:
    """The latest validation the editor asked for and the newest answer it accepted."""

    sent: int = 0  # request id of the latest Validate sent
    received: int = 0  # request id of the result shown (0: none yet)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    ok: bool | None = None
    error: str = ""

    @property
    def pending(self) -> bool:
        return self.sent > self.received


@dataclass
class TrainingRun:
    """What the Results pane plots: one row of metrics per finished epoch."""

    request_id: int = 0
    state: str = "idle"  # idle, starting, running, paused, stopped, finished, failed
    reason: str = ""
    epochs: list[dict[str, Any]] = field(default_factory=list)
    last_step_loss: float | None = None

    def series(self, key: str) -> tuple[list[float], list[float]]:
        xs, ys = [], []
        for row in self.epochs:
            v = row.get(key)
            if isinstance(v, int | float):
                xs.append(float(row.get("epoch", len(xs) + 1)))
                ys.append(float(v))
        return xs, ys


class EditorState:
    """One open project and everything the panes show about it."""

    def __init__(self, project: Project | None = None, path: str | None = None) -> None:
        self.catalog = Catalog()
        self.engine_state = "stopped"
        self.engine_reason = ""
        self.engine_failures: list[str] = []  # why the engine died, oldest first
        self.status = ""  # the status bar's message (refused links, errors)
        self.selected: list[str] = []
        self.validation = Validation()
        self.training = TrainingRun()
        self._listeners: list[Listener] = []
        self._set_project(project or Project(), path)

    # -- listeners -------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        """``listener(topic)`` after a change; topics: document, selection, validation,
        catalog, engine, status, training, file."""
        self._listeners.append(listener)

    def emit(self, topic: str) -> None:
        for fn in list(self._listeners):
            fn(topic)

    # -- the document ----------------------------------------------------------------------
    def _set_project(self, project: Project, path: str | None) -> None:
        self.project = project
        self.path = str(Path(path).resolve()) if path else None
        self.history = History(project)
        self.history.mark_saved()
        self.history.subscribe(lambda _action, _edit: self._changed())
        self.selected = []
        self.validation = Validation(sent=self.validation.sent, received=self.validation.sent)

    def _changed(self) -> None:
        self.emit("document")
        self.emit("file")

    @property
    def project_dir(self) -> str:
        return str(Path(self.path).parent) if self.path else os.getcwd()

    @property
    def title(self) -> str:
        name = Path(self.path).name if self.path else "untitled"
        return f"{name}{' *' if self.history.dirty else ''} — dpg-blocks"

    def project_dict(self) -> dict[str, Any]:
        return project_to_dict(self.project)

    def do(self, edit: Edit) -> bool:
        """Run ``edit``; a refused edit leaves everything unchanged and says why."""
        try:
            self.history.do(edit)
        except (GraphError, ValueError) as e:
            self.say(f"{edit.label}: {e}")
            return False
        return True

    def undo(self) -> None:
        edit = self.history.undo()
        self.say(f"undid {edit.label}" if edit else "nothing to undo")

    def redo(self) -> None:
        edit = self.history.redo()
        self.say(f"redid {edit.label}" if edit else "nothing to redo")

    def say(self, message: str) -> None:
        self.status = message
        self.emit("status")

    # -- files -----------------------------------------------------------------------------
    def new(self) -> None:
        self._set_project(Project(), None)
        self.emit("document")
        self.emit("file")

    def open(self, path: str) -> None:
        """Load ``path``; :class:`ProjectFileError` leaves the open project as it was."""
        project = load_project(path)
        self._set_project(project, path)
        self.say(f"opened {path}")
        self.emit("document")
        self.emit("file")

    def save(self, path: str | None = None) -> str:
        """Save atomically to ``path`` (default: where it came from); returns the path."""
        target = path or self.path
        if not target:
            raise ProjectFileError("the project has no file yet; use Save As")
        save_project(self.project, target)
        self.path = str(Path(target).resolve())
        self.history.mark_saved()
        self._record_trust()
        self.say(f"saved {target}")
        self.emit("file")
        return self.path

    def _record_trust(self) -> None:
        """A project this user saves is theirs: its custom code may run (docs/architecture.md)."""
        code = {s.id: s.code_params() for s in self.catalog.unique_specs() if s.code_params()}
        if not code:
            return
        from dpg_blocks.core.trust import TrustStore, code_digest, project_code

        digest = code_digest(project_code(self.project, lambda t: code.get(t, [])))
        TrustStore().trust(digest, project=self.project.name, file=self.path or "")

    # -- blocks ----------------------------------------------------------------------------
    def block(self, block_id: str) -> Block | None:
        try:
            return self.project.block(block_id)
        except GraphError:
            return None

    def next_position(self) -> tuple[float, float]:
        """Right of the selected block, else right of the rightmost block of the canvas."""
        blocks = list(self.project.graph.blocks.values())
        anchor = self.block(self.selected[-1]) if self.selected else None
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
        block = spec.new_block(bid, self.project.unique_name(spec.name), pos or self.next_position())
        if not self.do(AddBlock(block)):
            return None
        self.select([bid])
        return bid

    def connect(self, src: tuple[str, str], dst: tuple[str, str]) -> bool:
        """Link output ``src`` to input ``dst`` (root graph); refused links say why."""
        return self.do(Connect(Endpoint(*src), Endpoint(*dst)))

    def disconnect(self, link: Link) -> bool:
        return self.do(Disconnect(link.src, link.dst))

    def delete(self, block_ids: Iterable[str] = (), links: Iterable[Link] = ()) -> bool:
        """Remove links, then blocks, as one undo step."""
        edits: list[Edit] = [Disconnect(lk.src, lk.dst) for lk in links]
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

    def move(self, positions: dict[str, tuple[float, float]]) -> bool:
        """Record where blocks were dragged to (one undo step for a multi-block drag)."""
        edits: list[Edit] = []
        for bid, pos in positions.items():
            b = self.block(bid)
            if b is not None and (abs(b.pos[0] - pos[0]) > 0.5 or abs(b.pos[1] - pos[1]) > 0.5):
                edits.append(Move(bid, pos))
        if not edits:
            return False
        return self.do(edits[0] if len(edits) == 1 else Compound(edits, label=f"move {len(edits)} blocks"))

    def rename(self, block_id: str, name: str) -> bool:
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

    def set_training(self, name: str, value: Any) -> bool:
        return self.do(SetTraining(name, value))

    def set_optimizer(self, order_index: int, **settings: Any) -> bool:
        """Change one order's optimizer settings (type, lr, ...)."""
        import copy

        orders = copy.deepcopy(self.project.orders)
        order = next((o for o in orders if o.index == order_index), None)
        if order is None:
            return False
        for k, v in settings.items():
            setattr(order.optimizer, k, v)
        return self.do(SetOrders(orders))

    # -- selection -------------------------------------------------------------------------
    def select(self, block_ids: list[str]) -> None:
        if block_ids != self.selected:
            self.selected = list(block_ids)
            self.emit("selection")

    # -- validation ------------------------------------------------------------------------
    def record(self, block_id: str) -> dict[str, Any] | None:
        return self.validation.records.get(block_id)

    def validation_sent(self, request_id: int) -> None:
        self.validation.sent = max(self.validation.sent, request_id)
        self.emit("engine")

    def validation_result(self, request_id: int, records: list[dict[str, Any]], ok: bool, error: str = "") -> bool:
        """Show a result unless a newer request is outstanding (stale results never show)."""
        if request_id < self.validation.sent:
            return False
        self.validation.received = request_id
        self.validation.records = {r["id"]: r for r in records}
        self.validation.ok = ok
        self.validation.error = error
        if error:
            self.say(f"validation: {error}")
        self.emit("validation")
        self.emit("engine")
        return True

    # -- engine ----------------------------------------------------------------------------
    def set_catalog(self, specs: list[dict[str, Any]]) -> None:
        self.catalog = Catalog(specs)
        self.emit("catalog")

    def set_engine(self, state: str, reason: str = "") -> None:
        if state in ("crashed", "hung"):
            self.engine_failures.append(reason)
        elif state == "restarting" and not reason and self.engine_failures:
            reason = self.engine_failures[-1]  # say why it restarts while it does
        self.engine_state, self.engine_reason = state, reason
        self.emit("engine")

    @property
    def engine_text(self) -> str:
        """What the status indicator says: the engine's life, or what it is doing."""
        state = self.engine_state
        if state == "ready" and self.validation.pending:
            state = "validating"
        if state in ("crashed", "hung", "restarting") and self.engine_reason:
            return f"engine {state}: {self.engine_reason}"
        return f"engine {state}"
