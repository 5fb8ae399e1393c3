"""The editor's side of the engine: start it, pump its events into the state, send it commands.

:class:`EngineLink` is a mixin of :class:`~dpg_blocks.ui.editor.app.Editor`: it holds what the editor
says to the engine process and how it takes the answers, apart from the panes that show them.
Everything here reaches the engine through the client (numpy, msgpack), imported on first use,
so building the editor still imports neither the client nor torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dpg_blocks.core.startup_trace import mark as trace

if TYPE_CHECKING:
    from dpg_blocks.ui.state.editor_state import EditorState

POLL_BUDGET_MS = 4.0


class EngineLink:
    """Engine start, the per-frame pump, event handling, and the commands the panes send
    (Train/Pause/Stop/Step, Evaluate, Reload plugins, taps). The host builds the panes."""

    state: EditorState
    client: Any
    plugin_watch: Any
    extra_plugin_dirs: tuple[str, ...]
    _validate_wanted: bool
    _evaluations: dict[int, str]

    def start_engine(self, **options: Any) -> None:
        """Spawn the engine process (imports the client, never torch)."""
        from dpg_blocks.client.engine_client import EngineClient
        from dpg_blocks.ui.panes.plugin_watch import PluginWatch

        trace("engine_starting")
        self.client = EngineClient(**options)
        self.extra_plugin_dirs = tuple(str(d) for d in options.get("plugin_dirs", ()))
        # Before the engine starts: what it discovers at start-up is the watcher's baseline.
        self.plugin_watch = PluginWatch(self.plugin_dirs, lambda: self.reload_plugins("plugin folders changed"))
        self.client.start()
        self.plugins.update()  # --plugins folders join the watched list

    def request_validation(self) -> None:
        self._validate_wanted = True

    def pump(self, budget_ms: float = POLL_BUDGET_MS) -> None:
        """Handle what the engine sent (within ``budget_ms``) and send what is due."""
        if self.client is None:
            return
        for ev in self.client.poll(budget_ms):
            self.handle(ev)
        if self._validate_wanted and self.client.state != "stopped":
            self._validate_wanted = False
            rid = self.client.validate(self.state.project_dict(), self.state.project_dir)
            trace("validate_sent")
            self.state.validation_sent(rid)
        activity = self.client.activity()  # "validating… (3 s)": the seconds tick while it lasts
        if activity != self.state.engine_activity:
            self.state.engine_activity = activity
            self.state.emit("engine")

    def handle(self, ev: Any) -> None:
        """Apply one engine event to the state."""
        from dpg_blocks import protocol as m
        from dpg_blocks.client.engine_client import ClientError, EngineStatus, stuck_text

        st = self.state
        if isinstance(ev, m.Ready):
            trace("ready_received")
            st.set_catalog(ev.catalog)
            st.set_plugin_failures(ev.failures)
            failures = [f.get("pack") or "?" for f in ev.failures if not f.get("block")]
            refused = [f"{f['block']} ({f.get('pack') or '?'})" for f in ev.failures if f.get("block")]
            said = []
            if failures:
                said.append(f"{len(failures)} plugin(s) failed to load: {', '.join(map(str, failures))}")
            if refused:  # a clashing id or a bad declaration: that block only (Plugins tab in red)
                said.append(f"{len(refused)} block(s) not loaded: {', '.join(refused)}")
            if said:
                st.say("; ".join(said + st.clash_notes() + st.pack_warnings))
        elif isinstance(ev, EngineStatus):
            st.set_engine(ev.state, ev.reason)
            if ev.state in ("crashed", "hung") or (ev.state == "stopped" and ev.reason):
                st.say(ev.reason)
                if st.training.state in ("running", "paused", "starting") and not st.training.processes:
                    st.training.state, st.training.reason = "failed", ev.reason  # (torchrun's run goes on)
                    st.emit("training")
                if st.validation.pending:
                    st.validation.received = st.validation.sent  # that answer will never come
        elif isinstance(ev, m.ValidationResult):
            trace("validation_received")
            st.validation_result(ev.request_id, ev.records, ev.ok, ev.error)
        elif isinstance(ev, m.TrainingState):
            if ev.request_id in (None, st.training.request_id) and not st.training.processes:
                was_active = st.training.active
                st.training.state, st.training.reason = ev.state, ev.reason
                st.emit("training")
                if ev.state in ("finished", "stopped", "failed", "paused"):
                    self.runs.refresh()  # the run's state and final figures
                if was_active != st.training.active:
                    st.emit("validation")  # the canvas marks (or stops marking) the live blocks
        elif isinstance(ev, m.TrainingPlan):
            if ev.request_id == st.training.request_id:
                st.training.live = {k: list(v) for k, v in ev.live.items()}
                st.emit("validation")
        elif isinstance(ev, m.TrainingError):
            if ev.request_id == st.training.request_id:
                from dpg_blocks.protocol.block_error import where_text

                st.training_error(list(ev.records), where_text(ev.phase, ev.epoch, ev.step))
        elif isinstance(ev, m.EpochMetrics):
            if ev.request_id == st.training.request_id:
                st.training.epochs.append(dict(ev.metrics))
                st.emit("training")
                self.runs.refresh()  # its epochs and final figures (one run.json read per run)
        elif isinstance(ev, m.StepMetrics):
            if ev.request_id == st.training.request_id:
                if ev.losses:
                    st.training.last_step_loss = float(sum(ev.losses.values()))
                if ev.steps:
                    st.training.progress = {
                        "epoch": ev.epoch, "epochs": ev.epochs, "step": ev.step, "steps": ev.steps,
                        "samples_per_s": ev.samples_per_s, "eta_epoch_s": ev.eta_epoch_s, "eta_run_s": ev.eta_run_s}
                st.emit("training")  # the progress bar moves within an epoch (at most 10 a second)
        elif isinstance(ev, m.TrainingStuck):
            if ev.request_id == st.training.request_id:
                if ev.block_id != st.stuck_block:
                    st.stuck_block = ev.block_id
                    st.say(stuck_text(ev))  # once; the engine indicator counts the seconds
                    st.emit("validation")  # outline the block
        elif isinstance(ev, m.NonFinite):
            st.say(f"non-finite values ({ev.what}) in {' › '.join(ev.path)}.{ev.port} at step {ev.step}; training paused")
        elif isinstance(ev, m.Error):
            st.say(f"engine error in {ev.where}: {ev.error_type}: {ev.message}")
            if ev.request_id is not None and ev.request_id == st.training.request_id:
                st.training.state, st.training.reason = "failed", f"{ev.error_type}: {ev.message}"
                st.emit("training")
        elif isinstance(ev, m.TapFrame):
            self.visual.on_frame(ev)
        elif isinstance(ev, m.RunStarted):
            if ev.request_id == st.training.request_id:
                self.runs.refresh()
        elif isinstance(ev, m.MisclassifiedSamples):
            if ev.request_id == st.training.request_id or ev.request_id in self._evaluations:
                epoch = 0 if ev.request_id in self._evaluations else ev.epoch  # on demand: not an epoch's
                self.results.evaluation.gallery.show(ev.thumbnails, ev.true, ev.pred, epoch)
        elif isinstance(ev, m.RegressionSamples):
            if ev.request_id == st.training.request_id or ev.request_id in self._evaluations:
                epoch = 0 if ev.request_id in self._evaluations else ev.epoch
                self.results.evaluation.show_scatter(m.wire_to_array(ev.pred).tolist(),
                                                     m.wire_to_array(ev.true).tolist(), ev.head, epoch)
        elif isinstance(ev, m.EvaluationResult):
            self.results.evaluation.on_result(dict(ev.metrics), self._evaluations.get(ev.request_id, ""))
        elif isinstance(ev, m.ExportResult):
            self.exporter.on_result(ev)
        elif isinstance(ev, m.ImportResult):
            self.importer.on_result(ev)
        elif isinstance(ev, m.DataInfo):
            self.data.on_info(ev)
        elif isinstance(ev, ClientError):
            st.say(ev.message)

    def send_taps(self) -> None:
        """Watch the Visualization pane's ports in the engine (it streams them while training)."""
        if self.client is not None:
            self.client.send(self.visual.taps)

    def plugin_dirs(self) -> list[Path]:
        """The plugin folders the engine reads (and the editor watches), ``--plugins`` included."""
        from dpg_blocks.core.user.plugin_folders import plugin_dirs

        return plugin_dirs(self.extra_plugin_dirs)

    def _watch_plugins(self) -> None:
        if self.plugin_watch is not None:
            self.plugin_watch.tick()

    def reload_plugins(self, why: str = "") -> None:
        """Have the engine discover the packs again (Reload plugins, the folder watcher)."""
        from dpg_blocks import protocol as m

        if self.client is None:
            self.state.say("the engine is not running")
            return
        if self.client.state == "stopped" and self.client.start_failures:
            self.client.revive()  # it gave up after failed starts: a new start discovers afresh
        else:
            self.client.send(m.ReloadPlugins())
        self.state.say(f"{why}: reloading plugins…" if why else "reloading plugins…")

    def training_command(self, what: str, resume: str = "") -> None:
        """Train / pause / resume / stop / step through the protocol; ``resume``: a run folder
        that Train continues exactly (the Runs tab's Continue)."""
        from dpg_blocks import protocol as m

        if self.process.intercept(what):  # a run on N processes: Stop ends its whole group
            return
        if self.client is None:
            self.state.say("the engine is not running")
            return
        st = self.state
        if what == "train":
            if st.validation.ok is False:
                st.say("the network has errors (red blocks); training would fail")
            rid = self.client.request_id()
            st.training = type(st.training)(request_id=rid, state="starting")
            if st.stuck_block:  # a new run: the last one's stuck block is history
                st.stuck_block = ""
                st.emit("validation")
            self.visual.update()  # a new run: drop the last run's frames
            self.send_taps()  # before Train, so its first step is already watched
            # project_path: the engine keeps the run beside the saved project (core/runs/folders.py)
            init_from = "" if resume else self.runs.take_init_from()  # the Runs tab's Load weights
            self.client.send(m.Train(project=st.project_dict(), project_dir=st.project_dir, request_id=rid,
                                     project_path=st.path or "", resume=resume, init_from=init_from))
        elif what == "pause":
            self.client.send(m.Pause())
        elif what == "resume":
            self.client.send(m.Resume())
        elif what == "stop":
            self.client.send(m.Stop())
        elif what == "evaluate":
            if not st.training.active:
                st.say("Evaluate runs the model being trained: press Train first (a paused run can be evaluated)")
                return
            rid = self.client.request_id()
            self._evaluations[rid] = ""
            self.client.send(m.Evaluate(split="test", request_id=rid))
        elif what == "step":
            self.client.send(m.Step())  # one batch of every order, then paused again
        st.emit("training")

    def evaluate_run(self, run: Any, checkpoint: Path) -> None:
        """A kept run's checkpoint on the test split, with the project it was trained from."""
        from dpg_blocks import protocol as m
        from dpg_blocks.core.runs.folders import PROJECT_FILE

        if self.client is None:
            self.state.say("the engine is not running")
            return
        try:
            project = json.loads((run.path / PROJECT_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            self.state.say(f"cannot evaluate run {run.name}: its project snapshot cannot be read ({e})")
            return
        rid = self.client.request_id()
        self._evaluations[rid] = f"run {run.name} ({checkpoint.name})"
        self.client.send(m.Evaluate(split="test", request_id=rid, checkpoint=str(checkpoint), project=project,
                                    project_dir=self.state.project_dir))
        self.state.say(f"evaluating run {run.name} ({checkpoint.name}) on the test split…")
        self.show_tab("evaluation")
