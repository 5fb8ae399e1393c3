"""The wire between the GUI and the engine: typed, versioned messages encoded with msgpack.

Importable without torch (the GUI uses it): stdlib, msgpack and numpy only.

    data = encode(Validate(project=project_to_dict(p), project_dir=".", request_id=7))
    msg = decode(data)          # a Message, or ProtocolError saying what is wrong
"""

from .arrays import WIRE_DTYPES, WireArray, array_to_wire, wire_to_array
from .codec import MAX_MESSAGE_BYTES, PROTOCOL_VERSION, decode, encode
from .commands import (
    Catalog,
    Evaluate,
    Export,
    ImportModule,
    InspectData,
    Pause,
    Ping,
    ReloadPlugins,
    Resume,
    SetTaps,
    Shutdown,
    Step,
    Stop,
    TapSpec,
    Train,
    Validate,
)
from .errors import ProtocolError
from .events import (
    MAX_HEATMAP_SIDE,
    DataInfo,
    EpochMetrics,
    Error,
    EvaluationResult,
    Exit,
    ExportResult,
    ImportResult,
    Log,
    MisclassifiedSamples,
    NonFinite,
    Pong,
    Progress,
    Ready,
    RegressionSamples,
    RunStarted,
    StepMetrics,
    TapFrame,
    TrainingError,
    TrainingPlan,
    TrainingState,
    TrainingStuck,
    ValidationResult,
)
from .messages import MESSAGE_TYPES, Command, Event, Message, is_lossy
from .schema import Record, record

__all__ = [
    "PROTOCOL_VERSION", "MAX_MESSAGE_BYTES", "MAX_HEATMAP_SIDE", "MESSAGE_TYPES", "WIRE_DTYPES",
    "encode", "decode", "ProtocolError", "is_lossy",
    "Record", "record", "Message", "Command", "Event",
    "WireArray", "array_to_wire", "wire_to_array",
    "Catalog", "Validate", "Train", "Pause", "Resume", "Stop", "Step", "TapSpec", "SetTaps",
    "Evaluate", "Export", "ImportModule", "ReloadPlugins", "Shutdown", "Ping",
    "Ready", "ValidationResult", "EpochMetrics", "EvaluationResult", "StepMetrics", "TapFrame", "Log",
    "Error", "Progress", "TrainingState", "NonFinite", "Pong", "Exit", "ExportResult",
    "ImportResult", "TrainingStuck", "InspectData", "DataInfo", "TrainingPlan", "TrainingError", "RunStarted",
    "MisclassifiedSamples", "RegressionSamples",
]
