"""What the engine has told the editor: the latest validation, the training run, the engine's life.

Mixed into :class:`~dpg_blocks.ui.state.editor_state.EditorState` (it uses the state's ``validation``,
``training``, ``catalog``, ``say`` and ``emit``): the client's event handlers call these methods,
and the panes read :class:`Validation` and :class:`TrainingRun` back, so none of them touches
the engine's messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dpg_blocks.ui.panes.catalog import Catalog


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
    processes: int = 0  # a torchrun group of this many ranks trains it (ui/training/process_controls.py); 0: the engine

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


class EngineMixin:
    """EditorState's side of the engine's events: validation results, training errors, the
    catalog, plugin failures and the engine's state."""

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


UNTRUSTED_HINT = (
    "not run: this project's custom code is not trusted yet, so none of it ran; "
    "File › Review custom code… shows it and can trust it"
)


def _explain_untrusted(record: dict[str, Any]) -> dict[str, Any]:
    """The engine's message for untrusted code names CLI options; the editor has its own way."""
    if record.get("error_type") == "UntrustedCode":
        return {**record, "message": UNTRUSTED_HINT}
    return record
