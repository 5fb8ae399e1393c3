"""The engine's one-shot requests: evaluation, export, import and data inspection.

:class:`OneShotRequests` is a mixin of :class:`~dpg_blocks.engine.process.server.Engine`. Each
request here is answered by one result event (``EvaluationResult``, ``ExportResult``,
``ImportResult``, ``DataInfo``) and leaves no state behind in the engine; the loop, the command
dispatch, validation and the training session stay in ``server.py``. Kept apart because they are
the engine's jobs that are neither its loop nor its validation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dpg_blocks import protocol as m
from dpg_blocks.core.project_file import ProjectFileError, project_from_dict


class OneShotRequests:
    """Engine's Evaluate, Export, ImportModule and InspectData handlers."""

    # What this mixin uses of the Engine it is part of.
    registry: Any
    session: Any
    emit: Callable[[Any], None]
    trusted: Callable[[Any], bool]
    _project: Callable[[dict[str, Any], int], Any]

    def evaluate(self, cmd: Any) -> None:
        """Evaluate the session's model; a block failing in it becomes its record (TrainingError)
        and pauses a running session, as in training."""
        from ..training.errors import failure_records

        s = self.session
        try:
            metrics = s.trainer.evaluate(cmd.split)
        except Exception as e:
            records = failure_records(s.trainer, e)
            if not records:
                raise
            self.emit(m.TrainingError(request_id=s.request_id, phase="evaluate", epoch=s.trainer.epoch,
                                      step=0, records=[r.to_dict() for r in records]))
            if s.running:
                from dpg_blocks.protocol.block_error import headline, where_text

                s.set_state("paused", headline(records[0].to_dict(), where_text("evaluate", s.trainer.epoch, 0)))
            return
        self.emit(m.EvaluationResult(request_id=cmd.request_id, split=cmd.split, metrics=metrics))
        self._send_evaluation_extras(s.trainer, cmd.request_id, metrics)

    def _send_evaluation_extras(self, trainer: Any, request_id: int, metrics: dict[str, Any]) -> None:
        from ..training.session import evaluation_events

        for event in evaluation_events(trainer, request_id, trainer.epoch, metrics):
            self.emit(event)

    def evaluate_checkpoint(self, cmd: Any) -> None:
        """A kept run's checkpoint on ``split``: its project compiled afresh, its weights loaded."""
        from ..compiling.compiler import CompileError
        from ..training.trainer import Trainer

        where = f"evaluate {cmd.checkpoint}"
        project = self._project(cmd.project, cmd.request_id)
        if project is None:
            return
        try:
            trainer = Trainer(project, self.registry, cmd.project_dir, trusted=self.trusted(project))
            trainer.load_weights(cmd.checkpoint)
            metrics = trainer.evaluate(cmd.split)
        except Exception as e:  # noqa: BLE001 - a user's file: torch.load raises many kinds (UnpicklingError…)
            text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            if isinstance(e, CompileError):
                text = f"the run's project does not validate now: {text}"
            self.emit(m.Error(where=where, error_type=type(e).__name__, message=f"{cmd.checkpoint}: {text}",
                              request_id=cmd.request_id))
            return
        metrics["checkpoint"] = cmd.checkpoint
        self.emit(m.EvaluationResult(request_id=cmd.request_id, split=cmd.split, metrics=metrics))
        self._send_evaluation_extras(trainer, cmd.request_id, metrics)

    def export(self, cmd: Any) -> None:
        """Write the standalone PyTorch script; ExportResult says where, or why not."""
        from dpg_blocks.core.user.trust import project_code

        from ..compiling.compiler import CompileError
        from ..interop.export import ExportError, write_export

        def fail(error: str) -> None:
            self.emit(m.ExportResult(request_id=cmd.request_id, ok=False, error=error))

        try:
            project = project_from_dict(cmd.project)
        except ProjectFileError as e:
            fail(f"cannot read the project: {e}")
            return
        if not self.trusted(project):  # the script would carry code this user has not trusted
            blocks = ", ".join(sorted({i.block_name for i in project_code(project, self.registry.code_params)}))
            fail(f"not exported: the custom code in {blocks} is not trusted on this computer; trust it "
                 "(File › Review custom code…) and export again")
            return
        try:
            if cmd.format == "onnx":
                from ..interop.export_onnx import export_onnx

                path, _ = export_onnx(project, self.registry, cmd.project_dir, cmd.path, trusted=True)
            else:
                path = write_export(project, self.registry, cmd.project_dir, cmd.path, trusted=True)
        except CompileError as e:
            fail(str(e))
        except (ExportError, ValueError, OSError) as e:
            fail(f"{type(e).__name__}: {e}" if isinstance(e, OSError) else str(e))
        else:
            self.emit(m.ExportResult(request_id=cmd.request_id, ok=True, path=str(path)))

    def import_module(self, cmd: Any) -> None:
        """Import an nn.Module as the CLI's ``import`` does; ImportResult says where, or why not."""
        from ..interop.import_fx import FxImportError, import_to_project

        try:
            report = import_to_project(f"{cmd.path}:{cmd.class_name}", [tuple(s) for s in cmd.input_shapes],
                                       cmd.out_path, self.registry, args_json=cmd.args_json, flat=cmd.flat,
                                       input_dtypes=list(cmd.input_dtypes))
        except FxImportError as e:
            self.emit(m.ImportResult(request_id=cmd.request_id, ok=False, error=str(e)))
        else:
            self.emit(m.ImportResult(request_id=cmd.request_id, ok=True, path=str(report.project_path),
                                     summary=report.summary()))

    def inspect_data(self, cmd: Any) -> None:
        """Read an Input's data as validation would; DataInfo has the summary or the reader's error."""
        from dpg_blocks.protocol import array_to_wire

        from ..data.data_info import inspect_input

        info = inspect_input(cmd.block_id, cmd.name, cmd.params, cmd.project_dir)
        info["thumbnails"] = [array_to_wire(t) for t in info.get("thumbnails", [])]
        self.emit(m.DataInfo(request_id=cmd.request_id, **info))
