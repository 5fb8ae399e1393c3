"""Optimization tab › "Run on N processes": torchrun from the editor, its command, its metrics.

The run itself (the child process, /proc, Stop) is :class:`~dpg_blocks.ui.training.process_run.ProcessRun`;
this module is its widgets and its bridge to the Results plots: every epoch rank 0 writes to
the run folder becomes a row of ``state.training.epochs``, the list the in-editor Train fills, so
the same plots, status text and Runs list show it. No torch here: the GUI only reads files.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg

from dpg_blocks.ui.files.project_controls import ProjectControls
from dpg_blocks.ui.state.editor_state import EditorState, TrainingRun
from dpg_blocks.ui.training.process_run import (
    MAX_PROCESSES,
    MIN_PROCESSES,
    ProcessRun,
    command_text,
    torchrun_command,
)

MUTED = (160, 160, 170)
WIDTH = 382  # the Optimization pane's settings column, less its padding
COMMAND = (150, 200, 255)
OUTPUT_H = 140


class ProcessControls:
    """The processes field, "Run on N processes", the command line and its Copy button."""

    def __init__(self, state: EditorState, parent: int | str, controls: ProjectControls,
                 weights: Callable[[bool], str], on_epoch: Callable[[], None] = lambda: None) -> None:
        """``weights(take)``: the Runs tab's Load weights checkpoint ("" for none); ``take``
        uses it up, as a Train does. ``on_epoch``: after each epoch and at the end (the Runs list)."""
        self.state = state
        self.controls = controls
        self.weights = weights
        self.on_epoch = on_epoch
        self.run: ProcessRun | None = None
        self.training: TrainingRun | None = None  # what this run fills (state.training while it is shown)
        self.launched: list[str] = []  # the argv of the last run started
        self._runs = 0
        self._output_at = -1  # stderr lines shown in the output box
        self._weights_shown = ""  # the Load weights checkpoint the command shows
        # Beside Train, above the scrolling settings: in view however far the orders scroll.
        with dpg.group(parent=parent):
            with dpg.group(horizontal=True):
                self.processes = dpg.add_input_int(label="", default_value=MIN_PROCESSES, width=80,
                                                   min_value=MIN_PROCESSES, max_value=MAX_PROCESSES,
                                                   min_clamped=True, max_clamped=True,
                                                   callback=lambda: self.refresh())
                self.run_btn = dpg.add_button(label=self._label(), callback=lambda: self.launch())
                self.copy_btn = dpg.add_button(label="Copy", callback=lambda: self.copy())
                # not a collapsing header: it is as wide as the pane and pushed the plots aside
                self.output_btn = dpg.add_button(label="Output", callback=lambda: self.show_output())
                self.note = dpg.add_text("", color=MUTED)
            with dpg.tooltip(self.run_btn):
                dpg.add_text("Train the saved project with PyTorch's DistributedDataParallel on this many processes "
                             "(torchrun, one rank a process: gloo on the CPU, one GPU a rank on CUDA). Rank 0's "
                             "epochs fill the plots; Stop ends every process. The command below does the same "
                             "on a cluster node.", wrap=360)
            with dpg.tooltip(self.copy_btn):
                dpg.add_text("Copy the command to the clipboard, to paste on a cluster node.")
            # the command, wrapped to the column (a text field would cut it at the column's edge)
            self.command = dpg.add_text("", wrap=WIDTH, color=COMMAND)
            # torchrun's and the ranks' stderr, as it comes: a failure's whole story, never swallowed
            self.output = dpg.add_input_text(default_value="", multiline=True, readonly=True, width=WIDTH,
                                             height=OUTPUT_H, tab_input=False, show=False)
        state.subscribe(self._on_state)
        self.refresh()

    # -- the command -------------------------------------------------------------------------
    @property
    def count(self) -> int:
        """The processes asked for, kept within MIN_PROCESSES..MAX_PROCESSES."""
        return max(MIN_PROCESSES, min(MAX_PROCESSES, int(dpg.get_value(self.processes) or MIN_PROCESSES)))

    def _label(self, n: int = MIN_PROCESSES) -> str:
        return f"Run on {n} processes"

    def argv(self, take_weights: bool = False) -> list[str] | None:
        """The torchrun command for the saved project (None while it has no file)."""
        if not self.state.path:
            return None
        return torchrun_command(self.state.path, self.count, epochs=self.state.project.training.epochs,
                                weights=self.weights(take_weights))

    def refresh(self) -> None:
        """Show the command for the project as it is (a new N, epochs, file or Load weights)."""
        n = self.count
        if dpg.get_value(self.processes) != n:
            dpg.set_value(self.processes, n)
        dpg.configure_item(self.run_btn, label=self._label(n))
        argv = self.argv()
        self._weights_shown = self.weights(False)
        dpg.set_value(self.command, command_text(argv) if argv else "(save the project to a file first: the "
                      "processes train the saved file)")
        dpg.configure_item(self.copy_btn, enabled=argv is not None)
        if argv and self.state.dirty:
            dpg.set_value(self.note, "trains the file as last saved")
        else:
            dpg.set_value(self.note, "")

    def show_output(self, show: bool | None = None) -> None:
        """Output: show (or hide) torchrun's and the ranks' stderr."""
        show = not dpg.is_item_shown(self.output) if show is None else show
        dpg.configure_item(self.output, show=show)
        dpg.configure_item(self.output_btn, label="Hide output" if show else "Output")

    def text(self) -> str:
        """The command as shown."""
        return str(dpg.get_value(self.command))

    def copy(self) -> None:
        """Copy: the command on the system clipboard, ready to paste on a cluster node."""
        argv = self.argv()
        if argv is None:
            self.state.say("save the project first: the command trains its file")
            return
        dpg.set_clipboard_text(command_text(argv))
        self.state.say("copied the torchrun command to the clipboard")

    def _on_state(self, topic: str) -> None:
        if topic in ("document", "file"):
            self.refresh()

    # -- running -----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.run is not None and self.run.running

    def launch(self) -> None:
        """"Run on N processes": the project is saved first (asked when it has changes)."""
        st = self.state
        if self.running:
            st.say(f"already training on {self.run.processes if self.run else 0} processes: Stop it first")
            return
        if st.training.state in ("starting", "running", "paused"):
            st.say("a run is training in the editor: Stop it before running on several processes")
            return
        n = self.count
        self.controls.save_first(self._start, f"training on {n} processes (they train the saved file)")

    def _start(self) -> None:
        st = self.state
        argv = self.argv(take_weights=True)
        if argv is None:  # the Save As dialog was cancelled
            return
        epochs = st.project.training.epochs
        if self.run is not None:
            self.run.close()  # the last run's log files
        run = ProcessRun(argv, self.count, epochs, cwd=Path(st.path or ".").parent)
        try:
            run.start()
        except OSError as e:
            st.say(f"cannot start torchrun: {e}")
            return
        self.run, self.launched = run, argv
        dpg.set_value(self.command, command_text(argv))  # exactly what was started
        self._runs += 1
        # a request id no engine run has (they count up from 1), so the plots redraw for it
        self.training = TrainingRun(request_id=-self._runs, state="running", processes=run.processes,
                                    progress={"epoch": 1, "epochs": epochs})
        st.training = self.training
        st.emit("training")
        st.say(f"training on {run.processes} processes (torchrun, pid {run.pid})…")

    def intercept(self, what: str) -> bool:
        """The Train/Pause/Step/Stop buttons while the processes train: Stop ends them all; the
        others cannot act on a torchrun group and say so. Whether it was handled here."""
        if not self.running or self.run is None:
            return False
        if what == "stop":
            self.stop()
        elif what == "train":
            self.state.say(f"already training on {self.run.processes} processes: Stop it first")
        else:
            self.state.say(f"a run on {self.run.processes} processes cannot {what}: Stop ends it")
        return True

    def stop(self) -> None:
        """Stop: SIGTERM to torchrun and every rank, SIGKILL after a grace period."""
        if self.run is not None and self.run.running:
            self.run.stop()
            self.state.say(f"stopping the {self.run.processes} processes…")

    def tick(self) -> None:
        """Per frame: the epochs rank 0 wrote since the last frame, and the group's end."""
        if self.weights(False) != self._weights_shown and not self.running:
            self.refresh()  # Load weights in the Runs tab: the command gains (or loses) --weights
        run, training = self.run, self.training
        if run is None or training is None or run.outcome is not None:
            return
        rows = run.poll()
        shown = self.state.training is training
        if run.lines_read != self._output_at:
            self._output_at = run.lines_read
            dpg.set_value(self.output, "\n".join(run.stderr_lines))
        for row in rows:
            training.epochs.append(dict(row))
            done = len(training.epochs)
            training.progress = {"epoch": min(done + 1, run.epochs), "epochs": run.epochs}
            acc = row.get("test_accuracy")
            self.state.say(f"training on {run.processes} processes · epoch {row.get('epoch', done)}/{run.epochs} done"
                           + (f" · test accuracy {acc:.3f}" if isinstance(acc, float) else ""))
        if run.outcome is not None:
            self._ended(run, training)
        if rows or run.outcome is not None:
            if shown:
                self.state.emit("training")
            self.on_epoch()

    def _ended(self, run: ProcessRun, training: TrainingRun) -> None:
        out = run.outcome
        assert out is not None
        n = run.processes
        if out.stopped:
            training.state, training.reason = "stopped", f"stopped after epoch {len(training.epochs)}"
            self.state.say(f"stopped the run on {n} processes after epoch {len(training.epochs)} ({out.text})")
        elif out.code == 0:
            training.state, training.reason = "finished", ""
            self.state.say(f"the run on {n} processes finished: {len(training.epochs)} epoch(s), exit code 0")
        else:
            training.state, training.reason = "failed", out.text
            self.show_output(True)  # torchrun's whole report is there
            first = out.error_lines[0] if out.error_lines else ""
            self.state.say(f"the run on {n} processes failed ({out.text.splitlines()[0]})" if not first else
                           f"the run on {n} processes failed, exit code {out.code}: {first}")

    def close(self) -> None:
        """The editor quits: no process of the group outlives it."""
        if self.run is not None:
            self.run.close()

    def describe(self) -> dict[str, Any]:
        """For tests and the state dump: the run's argv, pid, processes seen and outcome."""
        run = self.run
        return {"argv": list(self.launched), "pid": run.pid if run else 0, "seen": sorted(run.seen) if run else [],
                "outcome": None if run is None or run.outcome is None else run.outcome.text}
