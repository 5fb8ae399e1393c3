"""The engine process: owns torch, the plugins and every run of user code.

``engine_main`` runs in a ``spawn``-ed child (see :mod:`dpg_blocks.client`). It answers commands
from the command queue, sends reliable events on the event queue and tap frames on a small
bounded queue, coalescing them (latest wins per tap) when that queue is full, so a slow reader
never blocks training. Nothing the user's model or a plugin raises ends this loop: it becomes
an event. The requests answered once, with no state kept (evaluate, export, import, data
inspection), are in ``one_shot_requests.py``.
"""

from __future__ import annotations

import os
import queue
import time
import traceback
from typing import Any

from dpg_blocks import protocol as m
from dpg_blocks.core.project_file import ProjectFileError, project_from_dict
from dpg_blocks.core.startup_trace import mark as trace
from dpg_blocks.core.user.plugin_quarantine import PLUGIN_MARK
from dpg_blocks.protocol import ProtocolError, decode, encode

from ..compiling.records import PATH_SEP
from .editor_document import EditorDocument
from .lifetime import watch_parent
from .one_shot_requests import OneShotRequests

IDLE_WAIT_S = 0.25  # how long the idle loop blocks on the command queue
TRAIN_SLICE_S = 0.05  # training runs in slices this long between command checks
PROGRESS_INTERVAL_S = 0.1  # validation progress events at most this often
STUCK_AFTER_S = 5.0  # a training slice running this long is reported stuck (options["stuck_after_s"])
# Test-only: seconds the engine sleeps before it starts (before torch is imported), to make a
# slow machine; tests/test_engine_deadlines.py sets it. Unset in normal use.
START_DELAY_ENV = "DPG_BLOCKS_TEST_ENGINE_START_DELAY_S"


def engine_main(cmd_q: Any, evt_q: Any, tap_q: Any, beacon: Any, options: dict[str, Any]) -> None:
    """Entry point of the engine process."""
    watch_parent()
    delay = os.environ.get(START_DELAY_ENV)
    if delay:
        time.sleep(float(delay))
    Engine(cmd_q, evt_q, tap_q, beacon, options).run()


class Engine(OneShotRequests):
    """The loop, the command dispatch, validation and the training session; the one-shot
    requests (evaluate, export, import, data inspection) are :class:`OneShotRequests`."""

    def __init__(self, cmd_q: Any, evt_q: Any, tap_q: Any, beacon: Any, options: dict[str, Any]) -> None:
        self.cmd_q, self.evt_q, self.tap_q = cmd_q, evt_q, tap_q
        self.beacon = beacon
        self.options = options
        self.registry: Any = None
        self.session: Any = None
        self.taps: tuple[list[dict[str, Any]], float] = ([], 0.0)
        self.pending_taps: dict[tuple[str, str, str], Any] = {}
        self.sources: Any = None  # SourceCache, created with the engine's first validation
        self.layers: Any = None  # ModuleCache: the last validation's built layers (incremental validation)
        self.steps: Any = None  # StepCache: what each block computed then (not run again if unchanged)
        self.document = EditorDocument()  # what the editor validates, kept up to date by its edits
        # (request answered, Validator) of the last validation: a params-only edit revalidates it
        self.last_validation: tuple[int, Any] | None = None
        self.quit = False
        self.slice: tuple[float, Any] | None = None  # (start, session) of the running training slice
        self.stuck_marked = False  # the watchdog wrote a stuck block to the beacon
        self.loading: tuple[float, int, str, str] | None = None  # (start, request, block, path) of a data load

    # -- sending -----------------------------------------------------------------------------
    def emit(self, msg: Any) -> None:
        self.evt_q.put(encode(msg))

    def emit_tap(self, frame: Any) -> None:
        self.pending_taps[(frame.block_id, frame.port, frame.direction)] = frame
        self.flush_taps()

    def flush_taps(self) -> None:
        while self.pending_taps:
            key = next(iter(self.pending_taps))
            try:
                self.tap_q.put_nowait(encode(self.pending_taps[key]))
            except queue.Full:
                return  # the reader is behind: keep the newest frame per tap, send later
            del self.pending_taps[key]

    def mark(self, block_id: str, path: str) -> None:
        """Write the block about to run where the client can read it even if we crash."""
        if self.beacon is not None:
            data = f"{block_id}\t{path}".encode()[: len(self.beacon) - 1]
            self.beacon.raw = data + b"\0" * (len(self.beacon) - len(data))

    def mark_stuck(self, block_id: str, path: str) -> None:
        """The watchdog's beacon write: the block a stuck training step is running."""
        self.stuck_marked = True
        self.mark(block_id, path)

    def error(self, where: str, exc: BaseException) -> None:
        self.emit(
            m.Error(
                where=where,
                error_type=type(exc).__name__,
                message=str(exc) or type(exc).__name__,
                traceback="".join(traceback.format_exception(exc)),
            )
        )

    # -- loop --------------------------------------------------------------------------------
    def run(self) -> None:
        trace("engine_imported")
        import torch

        trace("torch_imported")
        threads = self.options.get("threads")
        if threads:
            torch.set_num_threads(int(threads))
        self.load_plugins()
        from .watchdog import Watchdog

        Watchdog(lambda: self.slice, self.emit, self.mark_stuck,
                 float(self.options.get("stuck_after_s") or STUCK_AFTER_S), lambda: self.loading).start()
        while not self.quit:
            training = self.session is not None and self.session.running
            self.handle_commands(block=not training)
            if self.session is not None and self.session.running:
                self.slice = (time.monotonic(), self.session)  # all the watchdog needs to know
                try:
                    self.session.advance(TRAIN_SLICE_S)
                except Exception as e:  # the user's model failed mid-training
                    self.error("training", e)
                    self.session.set_state("failed", f"{type(e).__name__}: {e}")
                finally:
                    self.slice = None
                if self.stuck_marked:  # the step was slow, not dead: the beacon names nothing now
                    self.stuck_marked = False
                    self.mark("", "")
            self.flush_taps()
        if self.session is not None:  # a run cut short by the editor quitting is "stopped", not "running"
            self.session.close()
        self.emit(m.Exit(code=0, reason="shutdown"))

    def load_plugins(self) -> None:
        """Discover the packs, each plugin named in the beacon while it imports (``plugin:PACK``
        and its quarantine key): if one kills or hangs us, the client knows which to quarantine."""
        from ..packs.registry import discover

        def on_import(cand: Any) -> None:
            self.mark(*((f"{PLUGIN_MARK}{cand.pack}", cand.key) if cand is not None else ("", "")))

        self.registry = discover(self.options.get("plugin_dirs") or [], on_import=on_import)
        trace("plugins_discovered")
        self.send_ready()

    def send_ready(self) -> None:
        """The catalog and the plugin failures (answers start-up, Catalog and ReloadPlugins)."""
        self.emit(
            m.Ready(
                catalog=self.registry.catalog(),
                failures=[f.to_dict() for f in self.registry.failures],
                pid=os.getpid(),
            )
        )

    def handle_commands(self, block: bool) -> None:
        """Read every queued command; of several Validate requests only the newest runs."""
        commands: list[Any] = []
        try:
            commands.append(self.cmd_q.get(timeout=IDLE_WAIT_S) if block else self.cmd_q.get_nowait())
            while True:
                commands.append(self.cmd_q.get_nowait())
        except queue.Empty:
            pass
        messages = []
        for data in commands:
            try:
                messages.append(decode(data))
            except ProtocolError as e:
                self.error("protocol", e)
        newest_validate = max((i for i, c in enumerate(messages) if isinstance(c, m.Validate)), default=-1)
        for i, cmd in enumerate(messages):
            if isinstance(cmd, m.Validate) and i != newest_validate:
                self.document.take(cmd)  # a newer edit supersedes it (it is relative to this one)
                continue  # stale results are never computed
            try:
                self.handle(cmd)
            except Exception as e:
                self.error(type(cmd).__name__, e)

    def handle(self, cmd: Any) -> None:
        if isinstance(cmd, m.Ping):
            self.emit(m.Pong(seq=cmd.seq))
        elif isinstance(cmd, m.Validate):
            self.validate(cmd)
        elif isinstance(cmd, m.Train):
            self.train(cmd)
        elif isinstance(cmd, m.SetTaps):
            self.taps = (list(cmd.taps), cmd.rate_hz)
            if self.session is not None:
                self.session.taps.configure(*self.taps)
        elif isinstance(cmd, m.Pause | m.Resume | m.Stop | m.Step):
            self.control(cmd)
        elif isinstance(cmd, m.Evaluate) and cmd.checkpoint:
            self.evaluate_checkpoint(cmd)
        elif isinstance(cmd, m.Evaluate):
            if self.session is None:
                raise RuntimeError("nothing to evaluate: no model has been trained in this engine")
            self.evaluate(cmd)
        elif isinstance(cmd, m.Export):
            self.export(cmd)
        elif isinstance(cmd, m.ImportModule):
            self.import_module(cmd)
        elif isinstance(cmd, m.InspectData):
            self.inspect_data(cmd)
        elif isinstance(cmd, m.Catalog):
            self.send_ready()
        elif isinstance(cmd, m.ReloadPlugins):
            self.sources = None  # sources may come from a plugin's reloaded code
            self.layers = None  # and layers
            self.steps = None  # and what they computed
            self.last_validation = None
            self.document.forget_validation()
            self.load_plugins()
        elif isinstance(cmd, m.Shutdown):
            self.quit = True

    def _project(self, data: dict[str, Any], request_id: int) -> Any:
        try:
            return project_from_dict(data)
        except ProjectFileError as e:
            self.emit(m.ValidationResult(request_id=request_id, records=[], ok=False, error=str(e)))
            return None

    def trusted(self, project: Any) -> bool:
        """Whether this user trusts the project's custom code (the editor records trust in the
        same user folder; the engine, which runs the code, is the one that checks)."""
        from dpg_blocks.core.user.trust import TrustStore, code_digest, project_code

        return TrustStore().is_trusted(code_digest(project_code(project, self.registry.code_params)))

    def validate(self, cmd: Any) -> None:
        from ..compiling.compiler import Validator
        from ..compiling.module_cache import ModuleCache, StepCache
        from ..compiling.source_cache import SourceCache

        trace("validate_received")
        if not self.document.take(cmd):  # edits to a document this engine never had
            self.last_validation = None
            self.emit(m.ValidationResult(request_id=cmd.request_id, records=[], ok=False, resend=True))
            return
        if self.sources is None:
            self.sources = SourceCache()
        if self.layers is None:
            self.layers, self.steps = ModuleCache(), StepCache()
        answered = self.last_validation[0] if self.last_validation is not None else 0
        doc, changes = self.document, self.document.changes
        v, done, base = self._revalidator(), None, 0
        self.last_validation = None  # until this one is answered
        doc.forget_validation()  # (and if it fails, the next starts from scratch)
        try:
            if v is not None and changes is not None:
                v.on_block = self.block_progress(cmd.request_id, "validate", len(v.flat.nodes))
                done = v.revalidate(changes)
                base = answered if done is not None and cmd.known == answered else 0
            if done is None:  # validate the document from scratch (the layers and steps kept still help)
                project = self._project(doc.doc or {}, cmd.request_id)
                if project is None:
                    return
                v = Validator(project, self.registry, doc.folder, trusted=self.trusted(project),
                              source_cache=self.sources, module_cache=self.layers, step_cache=self.steps)
                v.on_block = self.block_progress(cmd.request_id, "validate", len(v.flat.nodes))
                done = v.run()
            # only what changed when the editor holds the answer this revalidation started from
            records = [r.to_dict() for r in (v.changed_records() if base else done)]
            self.last_validation = (cmd.request_id, v)
            doc.validated()
        finally:
            self.loading = None
            self.mark("", "")
        trace("validation_done")
        # unchecked: the records are BlockRecord.to_dict()'s, right by construction, and checking
        # a thousand of them here cost more than revalidating after an edit; the editor's decode
        # still checks every field
        self.emit(m.ValidationResult.unchecked(request_id=cmd.request_id, records=records, ok=v.ok, error="",
                                               base=base))

    def _revalidator(self) -> Any:
        """The last validation's Validator with the params changed since set on its blocks,
        when only params changed (``EditorDocument.changes``) and trust is as it was; else
        None (validate from scratch)."""
        changes = self.document.changes
        if self.last_validation is None or changes is None:
            return None
        v = self.last_validation[1]
        if any(bid not in v.flat.nodes for bid in changes):
            return None
        for bid, params in changes.items():
            v.flat.nodes[bid].block.params = dict(params)
        if self.trusted(v.project) != v.trusted:  # code changed or trust given: its own rules
            return None
        return v

    def block_progress(self, request_id: int, phase: str, total: int | None) -> Any:
        """The validator's ``on_block``: the beacon, Progress a few times a second, data loads."""
        done = [0]
        last = [0.0]

        def on_block(node: Any) -> None:
            path = PATH_SEP.join(node.path)
            self.mark(node.id, path)  # always: it names a block that crashes us
            # an Input loads its data next: the watchdog sends progress while that load works
            self.loading = (time.monotonic(), request_id, node.id, path) if node.role == "input" else None
            done[0] += 1
            now = time.monotonic()
            if now - last[0] >= PROGRESS_INTERVAL_S:  # a few per second keep the client informed;
                last[0] = now  # one per block would flood the GUI's queue on big graphs
                self.emit(m.Progress(request_id=request_id, phase=phase, done=done[0], total=total,
                                     block_id=node.id, detail=path))

        return on_block

    def train(self, cmd: Any) -> None:
        from ..compiling.compiler import CompileError
        from ..training.session import RunRequest, TrainingSession

        if self.session is not None:
            self.session.close()
            self.session = None
        project = self._project(cmd.project, cmd.request_id)
        if project is None:
            return
        try:
            self.session = TrainingSession(
                self.emit, self.emit_tap, project, self.registry, cmd.project_dir, cmd.request_id,
                epochs=cmd.epochs, device=cmd.device, trusted=self.trusted(project),
                on_block=self.block_progress(cmd.request_id, "compile", None),
                run=RunRequest(cmd.project_path, cmd.run_name, cmd.resume, cmd.init_from),
            )
        except CompileError as e:
            records = [r.to_dict() for r in e.records]
            self.emit(m.ValidationResult(request_id=cmd.request_id, records=records, ok=False, error=str(e)))
            self.emit(m.TrainingState(state="failed", reason="the project does not validate", request_id=cmd.request_id))
            return
        except ValueError as e:
            self.emit(m.TrainingState(state="failed", reason=str(e), request_id=cmd.request_id))
            return
        finally:
            self.loading = None
            self.mark("", "")
        self.session.taps.configure(*self.taps)
        self.emit(self.session.plan())
        self.session.set_state("running")

    def control(self, cmd: Any) -> None:
        s = self.session
        if s is not None and s.state == "stopped" and isinstance(cmd, m.Step):
            s.set_state("paused")  # a stopped run still holds its model: Step goes on from there
        if s is None or s.state in ("stopped", "finished", "failed"):
            return
        if isinstance(cmd, m.Pause):
            s.pause()
        elif isinstance(cmd, m.Resume):
            s.set_state("running")
        elif isinstance(cmd, m.Stop):
            s.set_state("stopped")
        elif isinstance(cmd, m.Step):
            if s.state == "paused":
                s.step(report=True)
