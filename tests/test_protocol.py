"""The wire between GUI and engine: every message survives a round trip exactly, and every
malformed message is refused with one error type, ProtocolError, saying what is wrong where."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import msgpack
import numpy as np
import pytest

from dpg_blocks.core import Project, project_to_dict
from dpg_blocks.protocol import (
    MAX_HEATMAP_SIDE,
    MAX_MESSAGE_BYTES,
    MESSAGE_TYPES,
    PROTOCOL_VERSION,
    WIRE_DTYPES,
    Catalog,
    Command,
    DataInfo,
    EpochMetrics,
    Error,
    Evaluate,
    EvaluationResult,
    Event,
    Exit,
    Export,
    ExportResult,
    ImportModule,
    ImportResult,
    InspectData,
    Log,
    Message,
    MisclassifiedSamples,
    NonFinite,
    Pause,
    Ping,
    Pong,
    Progress,
    ProtocolError,
    Ready,
    RegressionSamples,
    ReloadPlugins,
    Resume,
    RunStarted,
    SetTaps,
    Shutdown,
    Step,
    StepMetrics,
    Stop,
    TapFrame,
    TapSpec,
    Train,
    TrainingError,
    TrainingPlan,
    TrainingState,
    TrainingStuck,
    Validate,
    ValidationResult,
    WireArray,
    array_to_wire,
    decode,
    encode,
    is_lossy,
    wire_to_array,
)


def tap_frame(heatmap: np.ndarray | None = None, **changes: Any) -> TapFrame:
    """A plausible frame for block b2's output; ``changes`` override fields."""
    hm = np.arange(12, dtype=np.uint8).reshape(3, 4) if heatmap is None else heatmap
    fields: dict[str, Any] = dict(
        block_id="b2", port="y", direction="out", step=17, shape=(8, 3, 4), dtype="float32", numel=96,
        heatmap=array_to_wire(hm), heatmap_min=-1.5, heatmap_max=2.0,
        min=-3.0, max=4.0, mean=0.25, std=1.1, hist_counts=[1, 5, 2], hist_edges=[-3.0, 0.5, 2.0, 4.0],
        hist_sample=8, nan_count=0, inf_count=0,
    )
    fields.update(changes)
    return TapFrame(**fields)


PROJECT = project_to_dict(Project("demo"))
IMPORT = ImportModule(path="net.py", class_name="Net", input_shapes=[[64]], out_path="Net.dpgb", request_id=1)
RECORD = {"id": "b2", "name": "fc", "status": "error", "path": ["Backbone", "fc"], "inputs": [{"port": "x",
          "shape": [4, 6], "dtype": "float32"}], "traceback": "File ...", "orders": [1]}

EXAMPLES: list[Message] = [
    Catalog(),
    Validate(project=PROJECT, project_dir="/tmp/proj", request_id=1),
    Train(project=PROJECT, project_dir="/tmp/proj", request_id=2),
    Train(project=PROJECT, project_dir=".", request_id=3, epochs=5, device="cuda:1"),
    Train(project=PROJECT, project_dir=".", request_id=4, project_path="/p/net.dpgb", run_name="lr 0.01",
          resume="/p/net.runs/20261202-130000-lr-0-01"),
    Pause(),
    Resume(),
    Stop(),
    Step(),
    SetTaps(taps=[TapSpec("b2", "y", "out"), TapSpec("b3", "x", "in")], rate_hz=20.0),
    SetTaps(taps=[]),
    Evaluate(split="test", request_id=4),
    Export(project=PROJECT, project_dir="/tmp/proj", path="/tmp/out/model.py", request_id=5),
    Export(project=PROJECT, project_dir="/tmp/proj", path="/tmp/out/model.onnx", request_id=6, format="onnx"),
    ImportModule(path="/tmp/net.py", class_name="Net", input_shapes=[[1, 8, 8]], out_path="/tmp/Net.dpgb",
                 request_id=8, args_json='{"width": 4}'),
    ImportModule(path="/tmp/gpt.py", class_name="GPT", input_shapes=[[8], [8]], out_path="/tmp/GPT.dpgb",
                 request_id=9, input_dtypes=["int64"], flat=True),
    InspectData(request_id=10, block_id="b1", name="digits", params={"source": "images", "path": "pets"},
                project_dir="/tmp/proj"),
    ReloadPlugins(),
    Shutdown(),
    Ping(seq=2**40),
    Ready(catalog=[{"id": "builtin.Linear", "params": [{"name": "out_features", "default": 16}]}],
          failures=[{"pack": "bad", "path": "/p", "error": "SyntaxError", "traceback": "..."}], pid=4242),
    ValidationResult(request_id=1, records=[RECORD], ok=False),
    EpochMetrics(request_id=2, epoch=3, metrics={"loss": 0.5, "confusion_matrix": [[3, 1], [0, 4]], "nan": None}),
    EvaluationResult(request_id=4, split="test", metrics={"test_accuracy": 0.93}),
    ExportResult(request_id=5, ok=True, path="/tmp/out/model.py"),
    ExportResult(request_id=6, ok=False, error="the project has errors:\n  FC1: expects a 2-D input"),
    ImportResult(request_id=8, ok=True, path="/tmp/Net.dpgb", summary="wrote /tmp/Net.dpgb (4 blocks, 90 parameters)"),
    ImportResult(request_id=9, ok=False, error="node 'conv' (call_module conv): the built-in Conv2d block cannot"),
    DataInfo(request_id=10, block_id="b1", ok=True, source="images", path="pets", rows=36, sample_shape=[1, 8, 8],
             label_kind="classes", classes=["cat", "dog"], counts=[20, 16],
             thumbnails=[array_to_wire(np.arange(64, dtype=np.uint8).reshape(8, 8)),
                         array_to_wire(np.zeros((4, 5, 3), np.uint8))], thumb_labels=["cat", "dog"]),
    DataInfo(request_id=11, block_id="b1", ok=False, error="pets/dog/3.png: cannot read the image"),
    MisclassifiedSamples(request_id=2, epoch=3, thumbnails=[array_to_wire(np.zeros((8, 8), np.uint8))],
                         true=["3"], pred=["8"], indices=[41]),
    RegressionSamples(request_id=2, epoch=3, head="MSE", pred=array_to_wire(np.arange(5, dtype=np.float32)),
                      true=array_to_wire(np.ones(5, np.float32))),
    StepMetrics(request_id=2, step=120, epoch=3, losses={"order_1": 0.25, "order_2": float("inf")}),
    StepMetrics(request_id=2, step=17, epoch=2, losses={}, steps=56, epochs=10, samples_per_s=850.0,
                eta_epoch_s=9.0, eta_run_s=80.0),
    TrainingPlan(request_id=2, live={"1": ["b1", "b2"], "2": ["b1"]}),
    TrainingError(request_id=2, phase="train", epoch=1, step=3,
                  records=[{"id": "b2", "status": "error", "message": "shape '[4, 64]' is invalid",
                            "inputs": [{"port": "x", "shape": [32, 64], "dtype": "float32"}]}]),
    tap_frame(),
    tap_frame(heatmap=np.zeros((256, 256), np.float16), nan_count=3, inf_count=1, mean=float("nan")),
    Log(level="warning", text="ünïcode ✓ and a\nnewline"),
    Error(where="Backbone › fc3", error_type="RuntimeError", message="shape mismatch", traceback="Traceback..."),
    Error(where="validate", error_type="TimeoutError", message="deadline", request_id=9),
    Progress(request_id=1, phase="validate", done=3, total=10),
    Progress(request_id=1, phase="load data", done=3, total=None),
    TrainingState(state="paused", reason="non-finite output"),
    RunStarted(request_id=3, run_id="20261202-130000-lr-0-01", path="/p/net.runs/20261202-130000-lr-0-01",
               resumed=True),
    NonFinite(request_id=2, block_id="b7", path=["Backbone", "fc3"], port="y", step=55, what="nan"),
    TrainingStuck(request_id=2, block_id="b7", path=["Backbone", "fc3"], seconds=5.5),
    TrainingStuck(request_id=2, block_id="", path=[], seconds=61.0, where="backward (torch/autograd.py:200)"),
    Pong(seq=7),
    Exit(code=-9, reason="killed by SIGKILL"),
]


def envelope(msg: Message) -> dict[str, Any]:
    """The decoded msgpack of ``msg``, to break on purpose."""
    return msgpack.unpackb(encode(msg), raw=False)


def pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def refused(data: Any) -> str:
    with pytest.raises(ProtocolError) as info:
        decode(data)
    return str(info.value)


# -- round trips ----------------------------------------------------------------------------------
def test_every_message_type_has_an_example() -> None:
    assert {type(m).__name__ for m in EXAMPLES} == set(MESSAGE_TYPES)


@pytest.mark.parametrize("msg", EXAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip_is_exact(msg: Message) -> None:
    back = decode(encode(msg))
    assert type(back) is type(msg)
    assert encode(back) == encode(msg)
    if not (isinstance(msg, TapFrame) and msg.mean != msg.mean):  # NaN != NaN: bytes compared above
        assert back == msg


def test_round_trip_of_a_real_project(classifier: Project) -> None:
    msg = Validate(project=project_to_dict(classifier), project_dir="/x", request_id=3)
    assert decode(encode(msg)) == msg


def test_the_envelope_is_version_type_and_fields() -> None:
    env = envelope(Ping(seq=5))
    assert env == {"v": PROTOCOL_VERSION, "t": "Ping", "d": {"seq": 5}}


def test_decoding_accepts_bytearray_and_memoryview() -> None:
    data = encode(Pong(seq=1))
    assert decode(bytearray(data)) == Pong(seq=1)
    assert decode(memoryview(data)) == Pong(seq=1)


def test_commands_and_events_are_told_apart() -> None:
    assert isinstance(Train(project=PROJECT, project_dir=".", request_id=1), Command)
    assert isinstance(tap_frame(), Event)
    assert all(issubclass(cls, Command) != issubclass(cls, Event) for cls in MESSAGE_TYPES.values())


def test_tuples_and_ints_are_normalised_on_construction() -> None:
    frame = tap_frame(shape=[8, 3, 4], mean=1, hist_edges=[-3, 0, 2, 4])
    assert frame.shape == (8, 3, 4) and type(frame.mean) is float
    assert all(type(e) is float for e in frame.hist_edges)
    assert decode(encode(frame)) == frame


# -- delivery classes -----------------------------------------------------------------------------
def test_only_tap_frames_are_lossy() -> None:
    assert [name for name, cls in MESSAGE_TYPES.items() if cls.lossy] == ["TapFrame"]
    assert is_lossy(tap_frame()) and not is_lossy(EpochMetrics(request_id=1, epoch=1, metrics={}))


def test_tap_frames_coalesce_per_tap_latest_wins() -> None:
    a, b = tap_frame(step=1), tap_frame(step=2)
    other_port, other_dir = tap_frame(port="z"), tap_frame(direction="in")
    assert a.coalesce_key() == b.coalesce_key()
    assert len({a.coalesce_key(), other_port.coalesce_key(), other_dir.coalesce_key()}) == 3
    assert all(m.coalesce_key() is None for m in EXAMPLES if not isinstance(m, TapFrame))


# -- arrays ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", sorted(WIRE_DTYPES))
def test_arrays_round_trip_in_every_allowed_dtype(dtype: str) -> None:
    a = (np.arange(24) % 7).astype(dtype).reshape(2, 3, 4)
    w = array_to_wire(a)
    assert (w.dtype, w.shape, w.nbytes) == (dtype, (2, 3, 4), a.nbytes)
    back = wire_to_array(w)
    assert back.dtype == a.dtype and np.array_equal(back, a)


def test_big_endian_and_strided_arrays_travel_as_little_endian_c_order() -> None:
    a = np.arange(12, dtype=">i4").reshape(3, 4).T
    w = array_to_wire(a)
    assert w.data == np.ascontiguousarray(a, dtype="<i4").tobytes()
    assert np.array_equal(wire_to_array(w), a)


def test_empty_and_scalar_arrays() -> None:
    for a in (np.zeros((0, 5), np.float32), np.float64(3.5).reshape(())):
        assert np.array_equal(wire_to_array(array_to_wire(a)), a)


@pytest.mark.parametrize("array", [np.array([1 + 2j]), np.array(["a"]), np.array([object()])],
                         ids=["complex", "str", "object"])
def test_arrays_outside_the_allowlist_are_refused(array: np.ndarray) -> None:
    with pytest.raises(ProtocolError, match="cannot travel"):
        array_to_wire(array)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (("float32", (2, 3), b"\0" * 23), "23 bytes of data, but shape (2, 3) of float32 needs 24"),
        (("object", (1,), b"\0" * 8), "dtype 'object' is not one of"),
        (("uint8", (-1, 2), b""), "negative dimension"),
        (("uint8", (1,) * 33, b"\0"), "33 dimensions"),
        (("uint8", (2**40, 2**40), b""), "needs"),
    ],
)
def test_inconsistent_wire_arrays_cannot_be_built(fields: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ProtocolError, match="WireArray") as info:
        WireArray(*fields)
    assert message in str(info.value)


# -- refusing what is malformed -------------------------------------------------------------------
def test_unknown_version() -> None:
    env = envelope(Ping(seq=1))
    env["v"] = PROTOCOL_VERSION + 1
    assert "unsupported protocol version 2 (this side speaks 1)" in refused(pack(env))
    env["v"] = "1"
    assert "protocol version must be an int" in refused(pack(env))


def test_unknown_type() -> None:
    env = envelope(Ping(seq=1))
    env["t"] = "Format"
    assert "unknown message type 'Format'" in refused(pack(env))
    env["t"] = "Record"  # a base class is no message
    assert "unknown message type" in refused(pack(env))


def test_missing_and_extra_fields_are_named() -> None:
    env = envelope(Train(project=PROJECT, project_dir=".", request_id=1))
    del env["d"]["project_dir"]
    env["d"]["projet"] = {}
    assert refused(pack(env)) == "Train: missing field(s) project_dir; unknown field(s) 'projet'"


def test_a_flood_of_unknown_fields_gives_a_short_error() -> None:
    text = refused(pack({"v": 1, "t": "Ping", "d": {"seq": 1, **{f"f{i:04}": i for i in range(10_000)}}}))
    assert text == "Ping: unknown field(s) 'f0000', 'f0001', 'f0002', 'f0003', 'f0004' and 9995 more"


def test_ill_typed_fields_name_their_path() -> None:
    env = envelope(tap_frame())
    env["d"]["heatmap"]["shape"][1] = "4"
    assert refused(pack(env)) == "TapFrame.heatmap.shape[1]: expected int, got str '4'"
    env = envelope(StepMetrics(request_id=1, step=1, epoch=0, losses={"a": 1.0}))
    env["d"]["losses"]["a"] = [1.0]
    assert refused(pack(env)) == "StepMetrics.losses['a']: expected float, got list of length 1"


@pytest.mark.parametrize(
    ("msg", "field", "value", "expected"),
    [
        (Ping(seq=1), "seq", True, "Ping.seq: expected int, got bool True"),
        (Ping(seq=1), "seq", 1.0, "Ping.seq: expected int, got float 1.0"),
        (Pong(seq=1), "seq", None, "Pong.seq: expected int, got NoneType None"),
        (Log(level="info", text=""), "level", "loud", "Log.level: expected one of 'debug', 'info', 'warning', "
                                                    "'error', got str 'loud'"),
        (Log(level="info", text=""), "text", b"bytes", "Log.text: expected str, got bytes of length 5"),
        (Train(project=PROJECT, project_dir=".", request_id=1), "epochs", "3",
         "Train.epochs: expected int or None, got str '3'"),
        (Validate(project=PROJECT, project_dir=".", request_id=1), "project", [],
         "Validate.project: expected a map, got list of length 0"),
        (SetTaps(taps=[]), "taps", [{"block_id": "b1", "port": "y", "direction": "up"}],
         "SetTaps.taps[0].direction: expected one of 'in', 'out', got str 'up'"),
        (SetTaps(taps=[]), "taps", [{"block_id": "b1", "port": "y"}],
         "SetTaps.taps[0]: missing field(s) direction"),
        (SetTaps(taps=[]), "taps", [7], "SetTaps.taps[0]: expected a map of TapSpec fields, got int 7"),
        (SetTaps(taps=[]), "rate_hz", -1.0, "SetTaps: rate_hz must be in (0, 1000], got -1.0"),
        (Evaluate(split="val", request_id=1), "split", "dev", "Evaluate.split: expected one of 'train', "
                                                             "'val', 'test', got str 'dev'"),
        (Export(project=PROJECT, project_dir=".", path="m.py", request_id=1), "path", " ",
         "Export: path must name the file to write"),
        (Export(project=PROJECT, project_dir=".", path="m.py", request_id=1), "format", "pdf",
         "Export: format must be one of py, onnx, got 'pdf'"),
        (ExportResult(request_id=1, ok=True, path="m.py"), "ok", "yes", "ExportResult.ok: expected bool, got str 'yes'"),
        (IMPORT, "input_shapes", [[1, 0]], "ImportModule: a shape is positive sizes, e.g. [1, 8, 8]; got [1, 0]"),
        (IMPORT, "input_shapes", [], "ImportModule: input_shapes needs one shape per input of forward"),
        (IMPORT, "input_shapes", [["1"]], "ImportModule.input_shapes[0][0]: expected int, got str '1'"),
        (IMPORT, "class_name", "my net", "ImportModule: class_name must be a Python class name, got 'my net'"),
        (IMPORT, "path", "", "ImportModule: path must name the Python file to import"),
        (IMPORT, "out_path", " ", "ImportModule: out_path must name the project file to write"),
        (IMPORT, "args_json", "3", "ImportModule: args_json must be a JSON list (positional) or object (keywords)"),
        (IMPORT, "args_json", "{", "ImportModule: args_json is not JSON (Expecting property name enclosed in double "
                                   "quotes: line 1 column 2 (char 1))"),
        (DataInfo(request_id=1, block_id="b1", ok=True), "label_kind", "maybe",
         "DataInfo: label_kind must be classes, values or none, got 'maybe'"),
        (ImportResult(request_id=1, ok=False), "error", None, "ImportResult.error: expected str, got NoneType None"),
    ],
)
def test_each_bad_field_gives_one_clear_error(msg: Message, field: str, value: Any, expected: str) -> None:
    env = envelope(msg)
    env["d"][field] = value
    assert refused(pack(env)) == expected


def test_plain_data_fields_refuse_non_string_keys_deep_inside() -> None:
    env = envelope(Validate(project=PROJECT, project_dir=".", request_id=1))
    env["d"]["project"]["graph"]["blocks"] = [{"params": {b"raw": 1}}]
    assert refused(pack(env)) == (
        "Validate.project['graph']['blocks'][0]['params']: map keys must be str, got bytes of length 3"
    )


def test_tap_frame_invariants() -> None:
    too_big = array_to_wire(np.zeros((MAX_HEATMAP_SIDE + 1, 2), np.uint8))
    env = envelope(tap_frame())
    env["d"]["heatmap"] = {"dtype": "uint8", "shape": list(too_big.shape), "data": too_big.data}
    assert "heatmap must be 2-D and at most 256 a side, got (257, 2)" in refused(pack(env))
    env = envelope(tap_frame())
    env["d"]["heatmap"]["dtype"], env["d"]["heatmap"]["data"] = "float32", b"\0" * 48
    assert "heatmap dtype must be one of ('uint8', 'float16')" in refused(pack(env))
    env = envelope(tap_frame())
    env["d"]["hist_edges"] = [0.0, 1.0]
    assert refused(pack(env)) == "TapFrame: 2 histogram edges for 3 bins (need bins + 1)"


def test_regression_samples_are_two_equal_rows_of_float32() -> None:
    def event(pred: np.ndarray, true: np.ndarray) -> RegressionSamples:
        return RegressionSamples(request_id=1, epoch=1, head="MSE", pred=array_to_wire(pred), true=array_to_wire(true))

    with pytest.raises(ValueError, match="pred has 3 values but true has 2"):
        event(np.zeros(3, np.float32), np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="at most 2000 float32 values in one row"):
        event(np.zeros(2001, np.float32), np.zeros(2001, np.float32))
    with pytest.raises(ValueError, match="float32"):
        event(np.zeros((2, 2), np.float32), np.zeros((2, 2), np.float32))


def test_envelope_must_be_exactly_v_t_d() -> None:
    env = envelope(Ping(seq=1))
    assert "envelope must have exactly the keys" in refused(pack({**env, "x": 1}))
    assert "envelope must have exactly the keys" in refused(pack({"v": 1, "t": "Ping"}))
    assert "expected an envelope map" in refused(pack([1, "Ping", {"seq": 1}]))
    assert "Ping: fields must be a map, got list" in refused(pack({**env, "d": [1]}))
    assert "message type must be a str" in refused(pack({**env, "t": 3}))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "malformed msgpack"),
        (b"\xc1", "malformed msgpack"),  # a byte msgpack never uses
        (encode(Ping(seq=1))[:-1], "malformed msgpack"),  # truncated
        (encode(Ping(seq=1)) + b"\x00", "malformed msgpack"),  # trailing bytes
        (b"\xdb\xff\xff\xff\xff", "malformed msgpack"),  # a str claiming 4 GiB
        (b"\xdd\x7f\xff\xff\xff", "malformed msgpack"),  # an array claiming 2^31 items
        (pack({"v": 1, "t": b"Ping", "d": {}}), "message type must be a str"),
        (pack({1: 1}), "malformed msgpack"),  # non-string map key
        (b"\x81\xa1v\xd6\xff\x00\x00\x00\x01", "malformed msgpack"),  # timestamp extension
        (b"\x81\xa1v\xd4\x05\x00", "malformed msgpack"),  # other extension
        (b"\x91" * 5000 + b"\xc0", "malformed msgpack"),  # nested too deep
        (b"\x81\xa1t\xa1\xff", "malformed msgpack"),  # invalid UTF-8 in a string
    ],
)
def test_malformed_bytes(data: bytes, expected: str) -> None:
    assert expected in refused(data)


def test_oversized_messages_are_refused_before_unpacking() -> None:
    text = refused(b"\x00" * (MAX_MESSAGE_BYTES + 1))
    assert text == f"message is {MAX_MESSAGE_BYTES + 1} bytes, over the {MAX_MESSAGE_BYTES}-byte limit"


def test_non_bytes_are_refused() -> None:
    assert refused("a string") == "expected bytes, got str"
    assert refused(None) == "expected bytes, got NoneType"


# -- building and encoding ------------------------------------------------------------------------
def test_ill_typed_messages_cannot_be_built() -> None:
    with pytest.raises(ProtocolError, match=r"^Ping\.seq: expected int, got str '1'$"):
        Ping(seq="1")  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match=r"^EpochMetrics\.metrics\['t'\]: expected plain data .* got ndarray$"):
        EpochMetrics(request_id=1, epoch=1, metrics={"t": np.zeros(2)})
    with pytest.raises(ProtocolError, match=r"TapFrame\.heatmap: expected WireArray, got dict"):
        TapFrame(**{**tap_frame().to_wire(), "heatmap": {}})


def test_plain_data_is_checked_without_recursion_and_cycles_are_refused() -> None:
    deep: list[Any] = []
    node = deep
    for _ in range(2000):
        node.append([])
        node = node[0]
    with pytest.raises(ProtocolError, match="nested deeper than 500 levels"):
        EpochMetrics(request_id=1, epoch=1, metrics={"deep": deep})
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(ProtocolError, match="nested deeper"):
        EpochMetrics(request_id=1, epoch=1, metrics={"c": cycle})


def test_encode_refuses_what_cannot_travel() -> None:
    with pytest.raises(ProtocolError, match="not a registered message type"):
        encode(TapSpec("b1", "y", "out"))  # a record, not a message
    with pytest.raises(ProtocolError, match="cannot encode"):
        encode(EpochMetrics(request_id=1, epoch=1, metrics={"big": 2**64}))
    with pytest.raises(ProtocolError, match="cannot encode"):
        encode(Log(level="info", text="lone surrogate \udc80"))
    huge = "x" * (MAX_MESSAGE_BYTES + 1)
    with pytest.raises(ProtocolError, match="over the .*-byte limit"):
        encode(Log(level="info", text=huge))


# -- layering -------------------------------------------------------------------------------------
def test_protocol_imports_without_torch() -> None:
    code = (
        "import sys, dpg_blocks.protocol; "
        "heavy = {'torch', 'dearpygui', 'dpg_blocks.engine', 'dpg_blocks.ui'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
