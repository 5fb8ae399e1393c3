"""Fuzzing the decoder: whatever the bytes, ``decode`` returns a message that re-encodes to the
same bytes, or raises ProtocolError. Any other exception is a bug in dpg_blocks.protocol."""

from __future__ import annotations

import copy
from typing import Any

import msgpack
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_protocol import EXAMPLES

from dpg_blocks.protocol import MESSAGE_TYPES, Message, ProtocolError, decode, encode

FUZZ = settings(
    max_examples=500, derandomize=True, database=None, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

ENCODED = [encode(m) for m in EXAMPLES]
ENVELOPES = [msgpack.unpackb(b, raw=False) for b in ENCODED]
FIELD_NAMES = sorted({name for cls in MESSAGE_TYPES.values() for name, _ in cls.__schema__.fields}
                     | {"dtype", "shape", "data", "block_id", "port", "direction"})
WORDS = st.sampled_from([*MESSAGE_TYPES, *FIELD_NAMES, "v", "t", "d", "in", "out", "uint8", "float16",
                         "running", "test", "info"])
KEYS = WORDS | st.text(max_size=5) | st.binary(max_size=3) | st.integers(-3, 3)
INTS = st.integers(-(2**63), 2**64 - 1) | st.integers(-3, 300) | st.sampled_from([0, 1, 256, 257, 2**31])
SCALARS = st.none() | st.booleans() | INTS | st.floats() | WORDS | st.text(max_size=8) | st.binary(max_size=40)
PLAIN = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)
# A value of the same type as the one it replaces, so that the message gets past the type checks
# and into the invariants (byte counts against shapes, heatmap sizes, histogram lengths).
LIKE = {bool: st.booleans(), int: INTS, float: st.floats(), str: WORDS | st.text(max_size=8),
        bytes: st.binary(max_size=64)}


def decodes_or_refuses(data: bytes) -> Message | None:
    """The fuzzing oracle: a message that round-trips, or ProtocolError; nothing else."""
    try:
        msg = decode(data)
    except ProtocolError as err:
        assert str(err)
        event("refused")
        return None
    assert isinstance(msg, Message)
    again = encode(msg)
    assert encode(decode(again)) == again
    event(f"decoded {type(msg).__name__}")
    return msg


def slots(node: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) in a decoded msgpack tree, to pick one to break."""
    found: list[tuple[Any, Any]] = []
    stack = [node]
    while stack:
        item = stack.pop()
        pairs = item.items() if isinstance(item, dict) else enumerate(item) if isinstance(item, list) else ()
        for key, value in pairs:
            found.append((item, key))
            stack.append(value)
    return found


@st.composite
def mutated_envelopes(draw: st.DrawFn) -> Any:
    """A valid message's envelope with a few values replaced, fields dropped or added."""
    env = copy.deepcopy(draw(st.sampled_from(ENVELOPES)))
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["replace", "like", "like", "like", "drop", "add", "retype"]))
        places = slots(env)
        container, key = draw(st.sampled_from(places))
        if action == "replace":
            container[key] = draw(PLAIN)
        elif action == "like":
            old = container[key]
            if type(old) in LIKE:
                container[key] = draw(LIKE[type(old)])
            elif isinstance(old, list):
                container[key] = draw(st.lists(st.sampled_from(old), max_size=len(old) + 2)) if old else []
        elif action == "drop" and isinstance(container, dict):
            del container[key]
        elif action == "add" and isinstance(container, dict):
            container[draw(KEYS)] = draw(PLAIN)
        elif action == "retype":
            env["t"] = draw(st.sampled_from(list(MESSAGE_TYPES)))
    return env


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    decodes_or_refuses(data)


@FUZZ
@given(PLAIN)
def test_random_msgpack_structures(obj: Any) -> None:
    decodes_or_refuses(msgpack.packb(obj, use_bin_type=True))


@FUZZ
@given(st.fixed_dictionaries({"v": st.just(1) | INTS | PLAIN, "t": st.sampled_from(list(MESSAGE_TYPES)) | WORDS,
                              "d": st.dictionaries(st.sampled_from(FIELD_NAMES) | KEYS, PLAIN, max_size=8)}))
def test_random_envelopes(env: dict[str, Any]) -> None:
    decodes_or_refuses(msgpack.packb(env, use_bin_type=True))


@FUZZ
@given(mutated_envelopes())
def test_mutated_messages(env: Any) -> None:
    decodes_or_refuses(msgpack.packb(env, use_bin_type=True))


@FUZZ
@given(st.sampled_from(ENCODED), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1,
                                          max_size=4), st.integers(0, 10**6))
def test_corrupted_bytes(data: bytes, flips: list[tuple[int, int]], cut: int) -> None:
    broken = bytearray(data)
    for at, value in flips:
        broken[at % len(broken)] = value
    decodes_or_refuses(bytes(broken))
    decodes_or_refuses(bytes(broken[: cut % (len(broken) + 1)]))
