"""Commands, GUI -> engine. Each answer is an event (see :mod:`.events`) naming the request_id."""

from __future__ import annotations

import json
import math
from dataclasses import field
from typing import Any, Literal

from .messages import Command, message
from .schema import Record, record

Direction = Literal["in", "out"]
Split = Literal["train", "val", "test"]
MAX_TAP_RATE_HZ = 1000.0

EXPORT_FORMATS = ("py", "onnx")  # Export.format: a standalone script, or an ONNX graph


@message
class Catalog(Command):
    """Send the block catalog again (answered by :class:`~.events.Ready`)."""


@message
class Validate(Command):
    """Validate ``project`` (``core.project_to_dict`` form); answered by ValidationResult.

    ``project_dir`` is the folder of the project file: dataset paths are relative to it.

    After a params-only edit the editor sends only what changed (``core.doc_diff``): ``edits``
    (block id -> its new params, at any depth) to set in the document of the Validate request
    ``base`` (the one sent just before: the engine reads every request in order, also those a
    newer one supersedes), and ``project`` empty. An engine that does not hold that document
    answers ``resend``. ``known``: the request whose result the editor holds, so that the answer
    may carry only the records that changed since (``ValidationResult.base``); 0: none.
    """

    project: dict[str, Any]
    project_dir: str
    request_id: int
    edits: dict[str, dict[str, Any]] | None = None
    base: int = 0
    known: int = 0

    def _validate(self) -> None:
        if self.edits is not None and (self.base <= 0 or self.project):
            raise ValueError("edits apply to the document of an earlier request: base must name it, "
                             "and project must be empty")


@message
class Train(Command):
    """Compile ``project`` and train it for ``epochs`` (None: the project's setting)."""

    project: dict[str, Any]
    project_dir: str
    request_id: int
    epochs: int | None = None
    device: str | None = None  # "cpu", "cuda", "cuda:1"; None: the project's / the best one
    # the run folder (core/runs/folders.py): kept beside project_path ("": an untitled project's folder)
    project_path: str = ""
    run_name: str = ""
    resume: str = ""  # a run folder to continue from its last.pt (exactly); "" starts a new run
    init_from: str = ""  # a checkpoint whose weights start the new run (fresh optimizers)

    def _validate(self) -> None:
        if self.resume and self.init_from:
            raise ValueError("resume and init_from exclude each other: continue a run, or start one from weights")
        if self.epochs is not None and self.epochs < 0:
            raise ValueError(f"epochs must be >= 0, got {self.epochs}")


@message
class Export(Command):
    """Write ``project`` to ``path``; answered by ExportResult.

    ``format`` "py" is one standalone PyTorch script; "onnx" is the default order's inference
    graph (as ``dpg-blocks export --onnx``). ``project_dir`` is the folder of the project file:
    dataset paths are relative to it.
    """

    project: dict[str, Any]
    project_dir: str
    path: str
    request_id: int
    format: str = "py"

    def _validate(self) -> None:
        if not self.path.strip():
            raise ValueError("path must name the file to write")
        if self.format not in EXPORT_FORMATS:
            raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}, got {self.format!r}")


@message
class ImportModule(Command):
    """Import the nn.Module ``class_name`` of the file ``path`` into the project ``out_path``.

    ``input_shapes`` holds one sample shape (no batch) per input of its forward; ``args_json``
    its constructor arguments, a JSON list or object ("": none); ``input_dtypes`` "float32" or
    "int64" (token ids) per input (fewer: float32 for the rest); ``flat``: one level of blocks
    instead of a SuperBlock per submodule. Answered by ImportResult.
    """

    path: str
    class_name: str
    input_shapes: list[list[int]]
    out_path: str
    request_id: int
    args_json: str = ""
    input_dtypes: list[str] = field(default_factory=list)
    flat: bool = False

    def _validate(self) -> None:
        if not self.path.strip():
            raise ValueError("path must name the Python file to import")
        if not self.class_name.isidentifier():
            raise ValueError(f"class_name must be a Python class name, got {self.class_name!r}")
        if not self.input_shapes:
            raise ValueError("input_shapes needs one shape per input of forward")
        for shape in self.input_shapes:
            if not shape or any(d < 1 for d in shape):
                raise ValueError(f"a shape is positive sizes, e.g. [1, 8, 8]; got {shape}")
        if not self.out_path.strip():
            raise ValueError("out_path must name the project file to write")
        bad = [d for d in self.input_dtypes if d not in ("float32", "int64")]
        if bad or len(self.input_dtypes) > len(self.input_shapes):
            raise ValueError(f"input_dtypes are float32 or int64, at most one per input shape; got {self.input_dtypes}")
        if self.args_json.strip():
            try:
                args = json.loads(self.args_json)
            except ValueError as e:
                raise ValueError(f"args_json is not JSON ({e})") from None
            if not isinstance(args, list | dict):
                raise ValueError("args_json must be a JSON list (positional) or object (keywords)")


@message
class Pause(Command):
    """Pause training after the current step."""


@message
class Resume(Command):
    """Resume paused training."""


@message
class Stop(Command):
    """Stop training (the model keeps its weights; TrainingState "stopped" follows)."""


@message
class Step(Command):
    """Run one training step while paused."""


@record
class TapSpec(Record):
    """One watched tensor: a block's input or output port."""

    block_id: str
    port: str
    direction: Direction


@message
class SetTaps(Command):
    """Watch exactly these tensors (empty: none), each sent at most ``rate_hz`` times a second."""

    taps: list[TapSpec]
    rate_hz: float = 10.0

    def _validate(self) -> None:
        if not (math.isfinite(self.rate_hz) and 0 < self.rate_hz <= MAX_TAP_RATE_HZ):
            raise ValueError(f"rate_hz must be in (0, {MAX_TAP_RATE_HZ:g}], got {self.rate_hz}")


@message
class Evaluate(Command):
    """Evaluate the trained model on ``split``; answered by EvaluationResult (and, for an image
    classifier, MisclassifiedSamples). With ``checkpoint`` (a kept run's ``best.pt``/``last.pt``)
    ``project`` is compiled afresh, the checkpoint's weights loaded and that model evaluated,
    whether or not a run is going on; an unreadable or unfitting checkpoint is an Error naming it."""

    split: Split
    request_id: int
    checkpoint: str = ""
    project: dict[str, Any] = field(default_factory=dict)
    project_dir: str = ""

    def _validate(self) -> None:
        if self.checkpoint and not self.project:
            raise ValueError("evaluating a checkpoint needs the project it was trained from")


@message
class ReloadPlugins(Command):
    """Discover the block packs again; answered by Ready with the new catalog."""


@message
class Shutdown(Command):
    """End the engine process cleanly (Exit follows)."""


@message
class Ping(Command):
    """Liveness probe; answered by Pong with the same ``seq``."""

    seq: int


@message
class InspectData(Command):
    """Read the data an Input block would read with ``params`` and summarise it; answered by DataInfo.

    Sent by Add Data… before the block's params change (a file that does not load leaves them
    as they were) and when an Input is selected. ``project_dir`` resolves a relative path.
    """

    request_id: int
    block_id: str
    name: str
    params: dict[str, Any]
    project_dir: str
