"""Events, engine -> GUI. Only TapFrame is lossy; everything else must arrive, in order."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import field
from typing import Any, ClassVar, Literal

from .arrays import WireArray
from .commands import Direction, Split
from .messages import Event, message

MAX_HEATMAP_SIDE = 256
HEATMAP_DTYPES = ("uint8", "float16")
MAX_HIST_BINS = 1024
MAX_THUMBNAILS = 16
MAX_THUMBNAIL_SIDE = 64

LogLevel = Literal["debug", "info", "warning", "error"]
State = Literal["running", "paused", "stopped", "finished", "failed"]


def check_thumbnails(thumbnails: list[WireArray]) -> None:
    """Each thumbnail is a small uint8 image: H×W or H×W×3, at most MAX_THUMBNAIL_SIDE a side."""
    for t in thumbnails:
        if t.dtype != "uint8" or len(t.shape) not in (2, 3) or (len(t.shape) == 3 and t.shape[2] != 3):
            raise ValueError(f"a thumbnail is uint8 H×W or H×W×3, got {t.dtype} {t.shape}")
        if max(t.shape[:2]) > MAX_THUMBNAIL_SIDE:
            raise ValueError(f"a thumbnail is at most {MAX_THUMBNAIL_SIDE} a side, got {t.shape}")


@message
class Ready(Event):
    """The engine is up (or reloaded its plugins): the block catalog and the plugin failures.

    ``catalog`` holds ``BlockSpec.to_dict()`` items, ``failures`` ``PluginFailure.to_dict()``
    (pack, path, error, traceback, key, and ``quarantined``: skipped because it exited, crashed
    or hung at import before). Also the answer to Catalog and ReloadPlugins.
    """

    catalog: list[dict[str, Any]]
    failures: list[dict[str, Any]]
    pid: int


@message
class ValidationResult(Event):
    """One ``BlockRecord.to_dict()`` per block; ``ok`` when no block is in error.

    ``base`` > 0: ``records`` holds only the blocks whose records changed since the answer to
    request ``base`` (the editor's ``Validate.known``); every other block's record is as it was.
    ``resend``: the engine did not hold the document a ``Validate.edits`` applied to (it was
    restarted): the editor sends it whole (records is then empty).
    """

    request_id: int
    records: list[dict[str, Any]]
    ok: bool
    error: str = ""  # set when the project itself could not be read (records is then empty)
    base: int = 0
    resend: bool = False


@message
class EpochMetrics(Event):
    """The metrics of a finished epoch (``Trainer.finish_epoch``); never dropped."""

    request_id: int
    epoch: int
    metrics: dict[str, Any]


@message
class EvaluationResult(Event):
    """The answer to Evaluate: the metrics of ``Trainer.evaluate(split)``."""

    request_id: int
    split: Split
    metrics: dict[str, Any]


@message
class ExportResult(Event):
    """The answer to Export: the file written (``path``, absolute) or, when not ``ok``, why not."""

    request_id: int
    ok: bool
    path: str = ""
    error: str = ""


@message
class ImportResult(Event):
    """The answer to ImportModule: the project written (``path``, absolute) or, when not ``ok``, why not.

    ``summary`` says what was written (blocks, parameters, the weights file, Custom blocks).
    """

    request_id: int
    ok: bool
    path: str = ""
    summary: str = ""
    error: str = ""


@message
class DataInfo(Event):
    """The answer to InspectData: what the Input's data holds, or (not ``ok``) why it cannot be read.

    ``error`` names the file and, for a table, the line and column. ``classes``/``counts``: the
    class names (numbers for a table) and their sample counts; ``label_kind`` is "classes",
    "values" (regression targets) or "none". ``thumbnails``: a few samples as uint8 images
    (H×W grayscale or H×W×3 RGB, at most MAX_THUMBNAIL_SIDE a side), ``thumb_labels`` their classes.
    ``note`` says what the editor should know (e.g. the reshape does not fit the new data).
    """

    request_id: int
    block_id: str
    ok: bool
    error: str = ""
    source: str = ""
    path: str = ""
    rows: int = 0
    sample_shape: list[int] = field(default_factory=list)
    label_kind: str = "none"
    classes: list[str] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    thumbnails: list[WireArray] = field(default_factory=list)
    thumb_labels: list[str] = field(default_factory=list)
    reshape_fits: bool = True
    note: str = ""

    def _validate(self) -> None:
        if self.label_kind not in ("classes", "values", "none"):
            raise ValueError(f"label_kind must be classes, values or none, got {self.label_kind!r}")
        if len(self.classes) != len(self.counts):
            raise ValueError(f"{len(self.classes)} classes but {len(self.counts)} counts")
        if len(self.thumbnails) > MAX_THUMBNAILS or len(self.thumb_labels) != len(self.thumbnails):
            raise ValueError(f"at most {MAX_THUMBNAILS} thumbnails, each with a label")
        check_thumbnails(self.thumbnails)


@message
class MisclassifiedSamples(Event):
    """Test samples the classifier got wrong after an epoch: the Evaluation tab's gallery.

    ``thumbnails`` are uint8 images (H×W or H×W×3, at most MAX_THUMBNAIL_SIDE a side), each
    with its ``true`` and ``pred`` class name and ``indices`` (its position in the test split).
    Sent after the epoch's EpochMetrics, only when the classifier's input is image-like.
    """

    request_id: int
    epoch: int
    thumbnails: list[WireArray] = field(default_factory=list)
    true: list[str] = field(default_factory=list)
    pred: list[str] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)

    def _validate(self) -> None:
        n = len(self.thumbnails)
        if n > MAX_THUMBNAILS or not len(self.true) == len(self.pred) == len(self.indices) == n:
            raise ValueError(f"at most {MAX_THUMBNAILS} thumbnails, each with a true and a predicted class and an index")
        check_thumbnails(self.thumbnails)


MAX_SCATTER_POINTS = 2000


@message
class RegressionSamples(Event):
    """(predicted, true) value pairs of the first regression head on the test split: the
    Evaluation tab's scatter plot. ``pred`` and ``true`` are 1-D float32 arrays of the same
    length (at most MAX_SCATTER_POINTS, evenly spaced over the split); ``head`` is the loss
    block's name. Sent after the epoch's EpochMetrics (and after an Evaluate answer), whose
    ``test_r2``/``test_mse``/``test_mae`` cover every value, not only these.
    """

    request_id: int
    epoch: int
    head: str
    pred: WireArray
    true: WireArray

    def _validate(self) -> None:
        for name, arr in (("pred", self.pred), ("true", self.true)):
            if len(arr.shape) != 1 or arr.shape[0] > MAX_SCATTER_POINTS or arr.dtype != "float32":
                raise ValueError(f"{name}: at most {MAX_SCATTER_POINTS} float32 values in one row")
        if self.pred.shape != self.true.shape:
            raise ValueError(f"pred has {self.pred.shape[0]} values but true has {self.true.shape[0]}")


@message
class StepMetrics(Event):
    """Losses of one training step (by name, e.g. ``order_1``) and where the run stands.

    ``step`` is batch i of ``steps`` in epoch ``epoch`` of ``epochs`` (1-based); ``samples_per_s``
    is measured over the last few seconds of steps (0 until there is a measurement);
    ``eta_epoch_s``/``eta_run_s`` are the seconds left in this epoch and in the run (-1: unknown).
    """

    request_id: int
    step: int
    epoch: int
    losses: dict[str, float]
    steps: int = 0
    epochs: int = 0
    samples_per_s: float = 0.0
    eta_epoch_s: float = -1.0
    eta_run_s: float = -1.0

    def _validate(self) -> None:
        if min(self.step, self.epoch, self.steps, self.epochs) < 0:
            raise ValueError("step, epoch, steps and epochs must not be negative")


@message
class TrainingPlan(Event):
    """Sent once when a run starts: the blocks live in each order (``live["1"]``: block ids,
    SuperBlocks holding a live block included), so the editor can dim the idle ones."""

    request_id: int
    live: dict[str, list[str]]


@message
class TrainingError(Event):
    """A block raised during training, a Step or an evaluation; the run is paused.

    ``records`` are ``BlockRecord.to_dict()`` items: the failing block's (status "error", the
    message, its input shapes at the failing call, the traceback into the user's code) and one
    per SuperBlock holding it (``failing_path`` names the block). ``phase`` is "train", "step"
    or "evaluate"; ``epoch`` and ``step`` (1-based) say where.
    """

    request_id: int
    phase: str
    epoch: int
    step: int
    records: list[dict[str, Any]]


@message
class TapFrame(Event):
    """A summary of one watched tensor at one step: heatmap, statistics and histogram.

    ``heatmap`` is 2-D, at most MAX_HEATMAP_SIDE a side; uint8 maps ``heatmap_min`` to 0 and
    ``heatmap_max`` to 255 (float16 holds the values). ``min``/``max``/``mean``/``std`` are over
    the finite values of the whole tensor (NaN when there are none). ``hist_counts[i]`` counts
    the finite values in ``[hist_edges[i], hist_edges[i+1])`` (the last bin is closed) among
    ``hist_sample`` values (fewer than ``numel`` when the histogram was computed on a sample).
    """

    lossy: ClassVar[bool] = True

    block_id: str
    port: str
    direction: Direction
    step: int
    shape: tuple[int, ...]
    dtype: str  # the tensor's dtype, e.g. "float32" (any torch dtype name)
    numel: int
    heatmap: WireArray
    heatmap_min: float
    heatmap_max: float
    min: float
    max: float
    mean: float
    std: float
    hist_counts: list[int]
    hist_edges: list[float]
    hist_sample: int
    nan_count: int
    inf_count: int

    def _validate(self) -> None:
        hm = self.heatmap
        if hm.dtype not in HEATMAP_DTYPES:
            raise ValueError(f"heatmap dtype must be one of {HEATMAP_DTYPES}, got {hm.dtype!r}")
        if len(hm.shape) != 2 or max(hm.shape) > MAX_HEATMAP_SIDE:
            raise ValueError(f"heatmap must be 2-D and at most {MAX_HEATMAP_SIDE} a side, got {hm.shape}")
        if len(self.hist_counts) > MAX_HIST_BINS:
            raise ValueError(f"{len(self.hist_counts)} histogram bins, at most {MAX_HIST_BINS} allowed")
        if len(self.hist_edges) != (len(self.hist_counts) + 1 if self.hist_counts else 0):
            raise ValueError(
                f"{len(self.hist_edges)} histogram edges for {len(self.hist_counts)} bins (need bins + 1)"
            )
        if min(self.numel, self.nan_count, self.inf_count, self.hist_sample, *self.hist_counts) < 0:
            raise ValueError("counts must not be negative")

    def coalesce_key(self) -> Hashable:
        """Frames of the same tap replace each other: only the latest matters."""
        return ("TapFrame", self.block_id, self.port, self.direction)


@message
class Log(Event):
    """A log line from the engine."""

    level: LogLevel
    text: str


@message
class Error(Event):
    """Something failed in the engine; ``where`` names the place (command, block path, plugin)."""

    where: str
    error_type: str
    message: str
    traceback: str = ""
    request_id: int | None = None  # the command it answers, when there is one


@message
class Progress(Event):
    """``done`` of ``total`` units of ``phase`` (``total`` None: unknown).

    ``block_id``/``detail`` name the block being worked on (validation reports each block before
    running it, so a block that hangs or crashes the engine can be named).
    """

    request_id: int
    phase: str
    done: int
    total: int | None
    block_id: str = ""
    detail: str = ""


@message
class RunStarted(Event):
    """The run folder a Train writes (``run_id`` is its folder name); ``resumed`` when it continues one."""

    request_id: int
    run_id: str
    path: str
    resumed: bool = False


@message
class TrainingState(Event):
    """Training changed state; ``reason`` says why (empty when obvious)."""

    state: State
    reason: str = ""
    request_id: int | None = None


@message
class NonFinite(Event):
    """The first block, in execution order, whose output went NaN/Inf; training is paused.

    ``path`` is the block's path through its SuperBlocks (``["Backbone", "fc3"]``); ``what``
    says what was found (``"nan"``, ``"inf"``, ``"loss nan"``...).
    """

    request_id: int
    block_id: str
    path: list[str]
    port: str
    step: int
    what: str


@message
class TrainingStuck(Event):
    """A training step has been running for ``seconds`` (the engine's watchdog, every second).

    ``block_id``/``path`` name the block whose call in the generated forward is running (empty
    when the step is stuck elsewhere: ``where`` then names the function and line).
    """

    request_id: int
    block_id: str
    path: list[str]
    seconds: float
    where: str = ""


@message
class Pong(Event):
    """The answer to Ping."""

    seq: int


@message
class Exit(Event):
    """The engine is about to exit with ``code``."""

    code: int
    reason: str = ""
