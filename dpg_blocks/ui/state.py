"""The editor's session state, independent of Dear PyGui.

:class:`EditorState` holds the open project, its :class:`~dpg_blocks.core.History`, the file it
came from, the catalog, the latest validation records and the engine's life. Every change to
the document goes through an edit command; widgets subscribe with :meth:`subscribe` and redraw
from this state, so logic tests drive it without a viewport.
"""

from __future__ import annotations

import os
import re
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
    SetTies,
    SetTraining,
    Unmerge,
    load_project,
    project_to_dict,
    save_project,
)
from dpg_blocks.core.clipboard import copy_blocks, paste_edit
from dpg_blocks.core.graph import Block, Graph, Link
from dpg_blocks.core.layout import PinRows, Size, auto_layout
from dpg_blocks.core.library import (
    LibraryEntry,
    LibraryError,
    file_name,
    insert_copy,
    library_dir,
    list_library,
    load_from_library,
    save_to_library,
)
from dpg_blocks.core.names import name_problem
from dpg_blocks.core.pack_versions import packs_used, version_warnings
from dpg_blocks.core.project import OptimizerSettings, Order

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
    # the last StepMetrics' progress fields (epoch, epochs, step, steps, samples_per_s, eta_*_s)
    progress: dict[str, Any] = field(default_factory=dict)
    live: dict[str, list[str]] = field(default_factory=dict)  # TrainingPlan: order -> live block ids
    processes: int = 0  # a torchrun group of this many ranks trains it (ui/process_controls.py); 0: the engine

    @property
    def active(self) -> bool:
        """A run the engine holds (running or paused): the canvas marks its live blocks."""
        return self.state in ("running", "paused")

    @property
    def live_blocks(self) -> set[str]:
        """Blocks live in some order of the run (each step runs every order in turn)."""
        return {bid for ids in self.live.values() for bid in ids}

    @property
    def fraction(self) -> float:
        """How far the run is, 0..1 (epochs done plus this epoch's share)."""
        p = self.progress
        if self.processes and p.get("epochs"):  # rank 0 reports epochs, not steps
            return min(1.0, len(self.epochs) / p["epochs"])
        if not p.get("epochs") or not p.get("steps"):
            return 0.0
        return min(1.0, ((p["epoch"] - 1) + p["step"] / p["steps"]) / p["epochs"])

    @property
    def progress_line(self) -> str:
        """``epoch 2/10 · batch 17/56 · 850 samples/s · ETA 1:20 (epoch 0:09)``; "" before any step."""
        from dpg_blocks.protocol.progress_text import progress_text

        p = self.progress
        if self.processes and p.get("epochs"):
            return f"training on {self.processes} processes · epoch {p['epoch']}/{p['epochs']}" \
                f" ({len(self.epochs)} done)"
        if not p.get("steps"):
            return ""
        return progress_text(p["epoch"], p["epochs"], p["step"], p["steps"], p["samples_per_s"],
                             p["eta_epoch_s"], p["eta_run_s"])

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
        self.engine_activity = ""  # the client's "validating… (3 s)" while something is under way
        self.stuck_block = ""  # the block a stuck training step is running (outlined red)
        self.status = ""  # the status bar's message (refused links, errors)
        self.selected: list[str] = []
        self.scope: list[str] = []  # SuperBlock ids from the root down to the graph on the canvas
        self.clipboard = ""  # the last copy, for when the system clipboard is unavailable
        self.validation = Validation()
        self.training = TrainingRun()
        self.stop_requested = False
        # The canvas finds a free spot in view for a new block (anchor block id -> position);
        # without a drawn canvas (tests, the first frame) blocks go right of their neighbour.
        # the canvas' free spot: (selected block, the new block's title) -> where it goes
        self.place: Callable[[str | None, str], tuple[float, float] | None] | None = None
        self.plugin_failures: list[dict[str, Any]] = []  # Ready.failures: pack, path, error, traceback
        self._listeners: list[Listener] = []
        self._set_project(project or Project(), path)

    # -- listeners -------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        """``listener(topic)`` after a change; topics: document, selection, validation,
        catalog, engine, status, training, file, scope (the canvas opened another graph),
        plugins (plugin failures), trust (the user trusted the project's code), packs (installed pack
        versions differ from those the project was saved with)."""
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
        self.scope = []
        self.validation = Validation(sent=self.validation.sent, received=self.validation.sent)
        if self.training.state in ("starting", "running", "paused"):
            self.stop_requested = True  # the editor stops the old project's run (app.py)
        self.training = TrainingRun()  # the plots and the status belong to the project they trained
        self.recovered = False  # loaded from a recovery file: unsaved until the next save
        self.fit_on_open = False  # set by open(): the canvas lays an oversized file out once drawn
        self.trust_checked = False  # whether this project's code was checked against the trust records
        self.code_declined = False  # it holds code this user has not trusted (yet)
        self.pack_warnings: list[str] = []  # installed pack versions that differ from the saved ones
        self.packs_checked = not project.packs  # compared once, when the catalog is known

    def _changed(self) -> None:
        self._trim_scope()
        self.emit("document")
        self.emit("file")

    # -- the graph on the canvas -----------------------------------------------------------
    @property
    def scope_id(self) -> str | None:
        """The SuperBlock whose inside the canvas shows (None: the root graph)."""
        return self.scope[-1] if self.scope else None

    @property
    def graph(self) -> Graph:
        """The graph the canvas shows and new blocks go into."""
        return self.project.graph_of(self.scope_id)

    def _trim_scope(self) -> None:
        # An undo can remove the SuperBlock being looked at: fall back to its nearest ancestor.
        for i, sb in enumerate(self.scope):
            b = self.block(sb)
            if b is None or b.graph is None or (i and self.project.parent_of(sb) != self.scope[i - 1]):
                del self.scope[i:]
                self.selected = [x for x in self.selected if self.block(x) is not None]
                self.emit("scope")
                return

    def enter(self, sb_id: str) -> bool:
        """Show the inside of SuperBlock ``sb_id`` on the canvas."""
        b = self.block(sb_id)
        if b is None or b.graph is None:
            self.say("only a SuperBlock can be opened")
            return False
        self.set_scope([*self.supers_above(sb_id), sb_id])
        return True

    def supers_above(self, block_id: str) -> list[str]:
        """The SuperBlock ids from the root down to the graph holding ``block_id``."""
        chain: list[str] = []
        parent = self.project.parent_of(block_id)
        while parent is not None:
            chain.append(parent)
            parent = self.project.parent_of(parent)
        return chain[::-1]

    def set_scope(self, scope: list[str]) -> None:
        if scope != self.scope:
            self.scope = list(scope)
            self.selected = []
            self.emit("scope")
            self.emit("selection")

    def leave(self) -> bool:
        """Go up one level (to the graph holding the open SuperBlock)."""
        if not self.scope:
            return False
        left = self.scope[-1]
        self.set_scope(self.scope[:-1])
        self.select([left])
        return True

    def go_to(self, block_id: str) -> bool:
        """Open the graph holding ``block_id`` and select it."""
        if self.block(block_id) is None:
            self.say(f"no block {block_id!r}")
            return False
        self.set_scope(self.supers_above(block_id))
        self.select([block_id])
        return True

    @property
    def project_dir(self) -> str:
        return str(Path(self.path).parent) if self.path else os.getcwd()

    @property
    def title(self) -> str:
        name = Path(self.path).name if self.path else "untitled"
        return f"{name}{' *' if self.dirty else ''} — dpg-blocks"

    @property
    def dirty(self) -> bool:
        """Unsaved changes: edits since the last save, or a recovered project not saved yet."""
        return self.history.dirty or self.recovered

    def project_dict(self) -> dict[str, Any]:
        return project_to_dict(self.project)

    def do(self, edit: Edit) -> bool:
        """Run ``edit``; a refused edit leaves everything unchanged and says why."""
        try:
            self.history.do(edit)
        except (GraphError, ValueError) as e:
            self.say(self.named(f"{edit.label}: {e}"))
            return False
        return True

    def undo(self) -> None:
        edit = self.history.undo()
        self.say(self.named(f"undid {edit.label}") if edit else "nothing to undo")

    def redo(self) -> None:
        edit = self.history.redo()
        self.say(self.named(f"redid {edit.label}") if edit else "nothing to redo")

    def named(self, text: str) -> str:
        """``text`` with block ids (``b9.y -> b8.x``, ``'b9'``) written as the blocks' names.

        Edits and graph errors speak in ids (the core has no names at hand where it refuses);
        the user knows the blocks by name."""
        names = {b.id: " › ".join(self.project.path_of(b.id)) for b in self.project.graph.walk()}
        return _BLOCK_ID.sub(lambda m: names.get(m.group(1), m.group(0)), text)

    def say(self, message: str) -> None:
        self.status = message
        self.emit("status")

    # -- files -----------------------------------------------------------------------------
    def new(self) -> None:
        self._set_project(Project(), None)
        self.trust_checked = True  # an empty project holds no code from elsewhere
        self.say("new project: add blocks from the Blocks menu (right)")
        self.emit("document")
        self.emit("file")
        self.emit("training")

    def open(self, path: str) -> None:
        """Load ``path``; :class:`ProjectFileError` leaves the open project as it was."""
        project = load_project(path)
        self._set_project(project, path)
        self.fit_on_open = True  # the canvas lays it out once drawn if it does not fit
        self.say("; ".join([f"opened {path}", *self.clash_notes()]))
        self.check_pack_versions()
        self.emit("document")
        self.emit("file")
        self.emit("training")

    def check_pack_versions(self) -> None:
        """Once per opened project, when the catalog is known: say which packs' installed versions
        differ from those it was saved with (``pack_warnings``; the app shows them in a dialog)."""
        if self.packs_checked or not self.catalog:
            return
        self.packs_checked = True
        installed = {s.pack: s.pack_version for s in self.catalog.unique_specs()}
        self.pack_warnings = version_warnings(self.project.packs, installed)
        if self.pack_warnings:
            self.say("; ".join(self.pack_warnings))
            self.emit("packs")

    def clash_notes(self) -> list[str]:
        """For each block type this project uses that a pack tried to take: which pack (refused)."""
        used = {b.type for b in self.project.graph.walk() if b.graph is None}
        notes = []
        for f in self.plugin_failures:
            if f.get("kind") == "clash" and f.get("block") in used:
                spec = self.catalog.spec(str(f["block"]))
                owner = spec.pack if spec is not None else "?"
                notes.append(f"pack {f.get('pack')} tried to take {f['block']}, which this project uses "
                             f"(refused: pack {owner}'s is used)")
        return notes

    def _pack_of(self, type_id: str) -> tuple[str, str] | None:
        spec = self.catalog.spec(type_id)
        return (spec.pack, spec.pack_version) if spec is not None and spec.pack else None

    def save(self, path: str | None = None) -> str:
        """Save atomically to ``path`` (default: where it came from); returns the path.

        Saving somewhere else first rebases the data paths (:meth:`rebase_paths`), so every
        Input still reads the same file from the new folder.
        """
        target = path or self.path
        if not target:
            raise ProjectFileError("the project has no file yet; use Save As")
        new_dir = str(Path(target).resolve().parent)
        moved = self.rebase_paths(self.project_dir, new_dir) if new_dir != self.project_dir or not self.path else []
        if self.catalog:  # without a catalog the versions it was opened with stay recorded
            self.project.packs = packs_used(self.project, self._pack_of, self.project.packs)
        try:
            save_project(self.project, target)
        except BaseException:
            if moved:
                self.rebase_paths(new_dir, self.project_dir)  # not saved: the paths mean what they meant
            raise
        self.path = str(Path(target).resolve())
        self.history.mark_saved()
        self.recovered = False
        self._record_trust()
        self.say(f"saved {target}" + (f"; data paths now relative to it: {', '.join(moved)}" if moved else ""))
        self.emit("file")
        if moved:
            self.emit("document")  # re-validate: the engine resolves them against the new folder
        return self.path

    def path_params(self, b: Block) -> list[str]:
        """The names of ``b``'s params that hold file paths (type "path" in its spec)."""
        spec = self.catalog.spec(b.type)
        if spec is not None:
            return [p.name for p in spec.params if p.type == "path"]
        return ["path"] if b.type == "builtin.Input" else []

    def data_path(self, path: str) -> str:
        """How a data path chosen now is stored: relative to the project file's folder when the
        project has a file (the project and its data move together), absolute while untitled."""
        p = Path(path).expanduser()
        absolute = p if p.is_absolute() else Path(self.project_dir) / p
        absolute = Path(os.path.normpath(absolute))
        return _relative(absolute, Path(self.project_dir)) if self.path else str(absolute)

    def rebase_paths(self, old_dir: str, new_dir: str) -> list[str]:
        """Rewrite every relative or (untitled) absolute data path so it names the same file from
        ``new_dir``; also in the undo history, so undoing an edit never brings back a path meant
        for the old folder. Returns the blocks' ``name.param`` that changed."""

        def rebase(value: Any) -> Any:
            if not isinstance(value, str) or not value.strip():
                return value
            p = Path(value).expanduser()
            if p.is_absolute() and self.path:
                return value  # the user typed an absolute path into a saved project: keep it
            absolute = Path(os.path.normpath(p if p.is_absolute() else Path(old_dir) / p))
            return _relative(absolute, Path(new_dir))

        changed = []
        for b in self.project.graph.walk():
            for name in self.path_params(b):
                old = b.params.get(name)
                new = rebase(old)
                if new != old:
                    b.params[name] = new
                    changed.append(f"{b.name}.{name}")
        weights = rebase(self.project.training.weights)  # the checkpoint a new run starts from
        if weights != self.project.training.weights:
            self.project.training.weights = weights
            changed.append("training.weights")
        names = {b.id: set(self.path_params(b)) for b in self.project.graph.walk()}
        for edit in _flat_edits(self.history):
            if isinstance(edit, SetParam) and edit.name in names.get(edit.block_id, ()):
                edit.value = rebase(edit.value)
                if isinstance(getattr(edit, "_old", None), str):
                    edit._old = rebase(edit._old)
        return changed

    def _record_trust(self) -> None:
        """A project this user saves is theirs: its custom code may run (docs/architecture.md)."""
        if not self.trust_checked:
            self.check_trust()
        if self.code_declined:
            return  # code opened from elsewhere is trusted only through the trust prompt
        code = {s.id: s.code_params() for s in self.catalog.unique_specs() if s.code_params()}
        if not code:
            return
        from dpg_blocks.core.trust import TrustStore, code_digest, project_code

        digest = code_digest(project_code(self.project, lambda t: code.get(t, [])))
        TrustStore().trust(digest, project=self.project.name, file=self.path or "")

    def recover(self, project: Project, path: str | None) -> None:
        """Show ``project`` (read from a recovery file) as unsaved changes to the file ``path``."""
        self._set_project(project, path)
        self.recovered = True
        self.say(f"recovered the unsaved changes{f' to {path}' if path else ''}; save to keep them")
        self.emit("document")
        self.emit("file")

    # -- trust -----------------------------------------------------------------------------
    def code_items(self) -> list[Any]:
        """Every piece of custom code in the project (``core.trust.CodeItem``), by the catalog."""
        from dpg_blocks.core.trust import project_code

        code = {s.id: s.code_params() for s in self.catalog.unique_specs() if s.code_params()}
        return project_code(self.project, lambda t: code.get(t, [])) if code else []

    def untrusted_code(self) -> tuple[str, list[Any]] | None:
        """The code digest and items when the project holds code this user has not trusted."""
        from dpg_blocks.core.trust import TrustStore, code_digest

        items = self.code_items()
        digest = code_digest(items)
        if digest is None or TrustStore().is_trusted(digest):
            return None
        return digest, items

    def check_trust(self) -> tuple[str, list[Any]] | None:
        """Once per opened project, when the catalog is known: its untrusted code, to ask about."""
        if self.trust_checked or not self.catalog:
            return None
        self.trust_checked = True
        found = self.untrusted_code()
        self.code_declined = found is not None  # until the user trusts it, it stays disabled
        return found

    def trust_code(self, digest: str) -> None:
        """The user trusts the code with ``digest``: record it; the engine runs it from now on."""
        from dpg_blocks.core.trust import TrustStore

        TrustStore().trust(digest, project=self.project.name, file=self.path or "")
        self.code_declined = False
        self.say("trusted this project's custom code; validating it")
        self.emit("trust")

    # -- blocks ----------------------------------------------------------------------------
    def block(self, block_id: str) -> Block | None:
        try:
            return self.project.block(block_id)
        except GraphError:
            return None

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

    def _do_own(self, edit: Edit, own_code: set[str]) -> bool:
        """Run ``edit``, made by this user; keep the project's code trusted when it was before.

        The code the edit brings in is the user's own when it is in ``own_code`` (typed in the
        editor, a pack's default) or a copy of code the project already held (Duplicate). Code
        from elsewhere (pasted from another project, a declined file) still needs the prompt.
        """
        from dpg_blocks.core.trust import TrustStore, code_digest

        if not own_code and not self.code_items():
            return self.do(edit)  # no code involved: no trust file to read
        before = self.code_items()
        store = TrustStore()
        trusted = self.trust_checked and not self.code_declined and store.is_trusted(code_digest(before))
        if not self.do(edit):
            return False
        known = own_code | {i.source for i in before}
        after = self.code_items()
        if trusted and all(i.source in known for i in after):
            store.trust(code_digest(after), project=self.project.name, file=self.path or "")
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
                    pins: PinRows | None = None) -> bool:
        """Lay the graph on the canvas out in columns, as one undoable edit (``pins``: where the
        pins are drawn in each node, so no link is laid behind a block)."""
        try:
            positions = auto_layout(self.graph, sizes, max_width, pins=pins)
        except GraphError as e:
            self.say(f"auto-layout: {e}")
            return False
        moved = self.move(positions)
        self.say("laid out the blocks" if moved else "the layout is already tidy")
        return moved

    def lay_out_to_fit(self, sizes: dict[str, Size], max_width: float, pins: PinRows | None = None) -> bool:
        """Auto-layout for a project opened with a layout too big for the canvas: one undoable
        edit (Ctrl+Z gives the file's positions back) that leaves a clean project clean. It
        only moves blocks into view, the open of the same file does it again, so it is
        no reason to ask "save changes?" on quit; the next save writes it."""
        was_clean = not self.history.dirty
        try:
            positions = auto_layout(self.graph, sizes, max_width, pins=pins)
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

    def set_training(self, name: str, value: Any) -> bool:
        if getattr(self.project.training, name, None) == value:
            return False  # a field committing an unchanged value adds no undo step
        return self.do(SetTraining(name, value))

    # -- orders (each its own optimizer, optimised blocks and losses) ------------------------
    def _change_order(self, order_index: int, label: str, change: Callable[[Order], None]) -> bool:
        """Apply ``change`` to a copy of order ``order_index`` as one undoable SetOrders; no
        edit when nothing changed (a widget echoing its value back adds no undo step)."""
        import copy

        orders = copy.deepcopy(self.project.orders)
        order = next((o for o in orders if o.index == order_index), None)
        if order is None:
            self.say(f"there is no order {order_index}")
            return False
        change(order)
        if orders == self.project.orders:
            return False
        edit = SetOrders(orders)
        edit.label = f"order {order_index}: {label}"
        return self.do(edit)

    def set_optimizer(self, order_index: int, **settings: Any) -> bool:
        """Change one order's optimizer settings (type, lr, weight_decay, momentum, scheduler…)."""
        unknown = [k for k in settings if k not in OptimizerSettings.__dataclass_fields__]
        if unknown:
            self.say(f"order {order_index}: no optimizer setting {unknown[0]!r}")
            return False

        def change(order: Order) -> None:
            for k, v in settings.items():
                setattr(order.optimizer, k, v)

        label = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in settings.items())
        return self._change_order(order_index, label, change)

    def set_order(self, order_index: int, **fields: Any) -> bool:
        """Change an order's ``name``, ``optimize`` or ``losses`` (block ids; None: every live one)."""
        unknown = [k for k in fields if k not in ("name", "optimize", "losses")]
        if unknown:
            self.say(f"order {order_index}: no setting {unknown[0]!r}")
            return False

        def change(order: Order) -> None:
            for k, v in fields.items():
                setattr(order, k, list(v) if isinstance(v, list | tuple) else v)

        return self._change_order(order_index, ", ".join(f"set {k}" for k in fields), change)

    def input_names(self, order_index: int) -> list[str]:
        """The input blocks (as paths) that emit in order ``order_index``."""
        return [
            " › ".join(self.project.path_of(b.id))
            for b in self.project.graph.walk()
            if self.role(b) == "input" and order_index in _ints(b.params.get("orders", [1]))
        ]

    def role(self, b: Block) -> str | None:
        """A block's role from its spec; without a catalog the built-in Input is still known."""
        spec = self.catalog.spec(b.type)
        if spec is None:
            return "input" if b.type == "builtin.Input" else None
        return spec.role

    def optimizable_blocks(self) -> list[Block]:
        """Root-level blocks and SuperBlocks an order can optimise (not inputs, losses, outputs)."""
        return [b for b in self.project.graph.blocks.values()
                if b.is_super or self.role(b) not in ("input", "loss", "output")]

    def loss_blocks(self) -> list[Block]:
        """Every loss block of the document, SuperBlocks' insides included."""
        return [b for b in self.project.graph.walk() if self.role(b) == "loss"]

    def add_order(self) -> int | None:
        """Append an order (its optimizer copied from the last one); returns its index."""
        import copy

        index = max((o.index for o in self.project.orders), default=0) + 1
        last = self.project.orders[-1].optimizer if self.project.orders else OptimizerSettings()
        orders = [*copy.deepcopy(self.project.orders), Order(index, f"order {index}", copy.deepcopy(last))]
        edit = SetOrders(orders)
        edit.label = f"add order {index}"
        if not self.do(edit):
            return None
        self.say(f"added order {index}; no input emits in it until an Input lists {index} in its orders")
        return index

    def remove_order(self, order_index: int) -> bool:
        """Remove an order; refused while inputs emit in it, or when it is the only one."""
        users = self.input_names(order_index)
        if users:
            self.say(f"cannot remove order {order_index}: {', '.join(users)} still emit in it; "
                     f"remove {order_index} from their orders first")
            return False
        if len(self.project.orders) <= 1:
            self.say("cannot remove the only order: a project needs at least one")
            return False
        orders = [o for o in self.project.orders if o.index != order_index]
        if len(orders) == len(self.project.orders):
            self.say(f"there is no order {order_index}")
            return False
        edit = SetOrders(orders)
        edit.label = f"remove order {order_index}"
        return self.do(edit)

    # -- the block library (user folder; stdlib only, works without the engine) --------------
    def library(self) -> tuple[list[LibraryEntry], list[LibraryError]]:
        """The saved blocks and the library files that cannot be read."""
        return list_library()

    def library_file(self, block_id: str) -> Path | None:
        """Where ``block_id`` would be saved in the library (None: no such block)."""
        b = self.block(block_id)
        return library_dir() / file_name(b.name) if b is not None else None

    def save_to_library(self, block_id: str, overwrite: bool = False) -> Path | None:
        """Save a block or SuperBlock (with its insides) to the library under its name."""
        b = self.block(block_id)
        if b is None:
            self.say("select a block to save to the library")
            return None
        try:
            path = save_to_library(self.project, block_id, overwrite=overwrite)
        except (LibraryError, OSError) as e:
            self.say(f"save to library: {e}")
            return None
        self.say(f"saved {b.name!r} to the library ({path})")
        self.emit("library")
        return path

    def insert_from_library(self, name: str, pos: tuple[float, float] | None = None) -> str | None:
        """Insert a fresh-id copy of library block ``name`` (or its file) into the graph on the
        canvas at ``pos`` (default :meth:`next_position`), as one undoable AddBlock; returns its
        id (selected)."""
        try:
            saved = load_from_library(name)
        except LibraryError as e:
            self.say(f"insert from library: {e}")
            return None
        edit = insert_copy(self.project, saved, self.scope_id, pos=pos or self.next_position())
        edit.label = f"insert {edit.block.name} from the library"
        if not self._do_own(edit, set()):
            return None
        self.select([edit.block.id])
        return edit.block.id

    # -- selection -------------------------------------------------------------------------
    def select(self, block_ids: list[str]) -> None:
        if block_ids != self.selected:
            self.selected = list(block_ids)
            self.emit("selection")

    # -- validation ------------------------------------------------------------------------
    def record(self, block_id: str) -> dict[str, Any] | None:
        return self.validation.records.get(block_id)

    def training_error(self, records: list[dict[str, Any]], where: str) -> None:
        """A block failed in training (TrainingError): its record replaces its validation record,
        so the canvas outlines it and the Debug pane shows it, as for a validation error."""
        from dpg_blocks.protocol.block_error import headline

        for rec in records:
            old = self.validation.records.get(rec["id"], {})
            if rec.get("failing_path"):  # a SuperBlock: keep its boundary shapes from validation
                rec = {**rec, "inputs": old.get("inputs", []), "outputs": old.get("outputs", [])}
            self.validation.records[rec["id"]] = {**old, **rec}
        self.validation.ok = False
        if records:
            self.say(headline(records[0], where) + "; training paused: fix it and press Train")
        self.emit("validation")

    def validation_sent(self, request_id: int) -> None:
        self.validation.sent = max(self.validation.sent, request_id)
        self.emit("engine")

    def validation_result(self, request_id: int, records: list[dict[str, Any]], ok: bool, error: str = "") -> bool:
        """Show a result unless a newer request is outstanding (stale results never show)."""
        if request_id < self.validation.sent:
            return False
        self.validation.received = request_id
        self.validation.records = {r["id"]: _explain_untrusted(r) for r in records}
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
        self.check_pack_versions()

    def set_plugin_failures(self, failures: list[dict[str, Any]]) -> None:
        """The packs that failed to load, as the engine's Ready event lists them."""
        self.plugin_failures = [dict(f) for f in failures]
        self.emit("plugins")

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
        if state == "training" and self.training.state == "paused":
            state = "paused"  # the engine holds a run, but nothing is computing
        if state in ("training", "paused") and self.training.progress_line:
            return f"engine {state} · {self.training.progress_line}"
        if state in ("crashed", "hung", "restarting", "stopped") and self.engine_reason:
            return f"engine {state}: {self.engine_reason}"
        if self.engine_activity:  # "starting engine… (12 s)", "validating… (3 s)"
            return self.engine_activity
        return f"engine {state}"

_BLOCK_ID = re.compile(r"'?\b(b\d+)\b'?")


def _relative(path: Path, folder: Path) -> str:
    """``path`` relative to ``folder`` (``../data/x.csv``), or absolute where no relative path exists."""
    try:
        return Path(os.path.relpath(path, folder)).as_posix()
    except ValueError:  # another drive (Windows)
        return str(path)


def _flat_edits(history: History) -> list[Any]:
    """Every edit on the undo and redo stacks, those inside compound edits too."""
    out: list[Any] = []
    stack = [*history._undo, *history._redo]
    while stack:
        edit = stack.pop()
        out.append(edit)
        stack.extend(getattr(edit, "edits", []))
    return out


def _ints(value: Any) -> list[int]:
    """An Input's ``orders`` param as ints (a hand-edited file may hold anything: the engine
    names the bad value; here only the usable orders count, as in ``engine/plan.input_orders``)."""
    items = value if isinstance(value, list | tuple) else [value]
    return [v for v in items if type(v) is int and 1 <= v <= MAX_ORDER_INDEX]


MAX_ORDER_INDEX = 1000  # as the Input's ``orders`` param allows


UNTRUSTED_HINT = (
    "not run: this project's custom code is not trusted yet, so none of it ran; "
    "File › Review custom code… shows it and can trust it"
)


def _explain_untrusted(record: dict[str, Any]) -> dict[str, Any]:
    """The engine's message for untrusted code names CLI options; the editor has its own way."""
    if record.get("error_type") == "UntrustedCode":
        return {**record, "message": UNTRUSTED_HINT}
    return record
