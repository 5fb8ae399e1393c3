"""Messages to bytes and back: msgpack, in a versioned envelope ``{"v", "t", "d"}``.

``v`` is PROTOCOL_VERSION, ``t`` the message type's name and ``d`` its fields by name (nested
records are maps of their fields too). Decoding trusts nothing: every failure, whatever the
bytes, is a :class:`ProtocolError` that says what is wrong.
"""

from __future__ import annotations

from typing import Any

import msgpack

from .errors import ProtocolError
from .messages import MESSAGE_TYPES, Message
from .schema import Record

PROTOCOL_VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
_ENVELOPE_KEYS = frozenset({"v", "t", "d"})


def _record_fields(obj: Any) -> Any:
    if isinstance(obj, Record):
        return obj.to_wire()
    raise TypeError(f"cannot encode {type(obj).__qualname__}")


def encode(msg: Message) -> bytes:
    """``msg`` as msgpack bytes; ProtocolError if it is not a registered message or too big."""
    name = type(msg).__name__
    if not isinstance(msg, Message) or MESSAGE_TYPES.get(name) is not type(msg):
        raise ProtocolError(f"{type(msg).__qualname__} is not a registered message type")
    envelope = {"v": PROTOCOL_VERSION, "t": name, "d": msg.to_wire()}
    try:
        data = msgpack.packb(envelope, use_bin_type=True, default=_record_fields)
    except (TypeError, ValueError, OverflowError) as err:  # unpackable value, too deep, int too big
        raise ProtocolError(f"cannot encode: {err}", name) from None
    if len(data) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"encoded message is {len(data)} bytes, over the {MAX_MESSAGE_BYTES}-byte limit", name)
    return data


def decode(data: bytes | bytearray | memoryview) -> Message:
    """The message ``data`` holds; ProtocolError for anything malformed, unknown or too big."""
    if isinstance(data, memoryview):
        size = data.nbytes
    elif isinstance(data, bytes | bytearray):
        size = len(data)
    else:
        raise ProtocolError(f"expected bytes, got {type(data).__qualname__}")
    if size > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message is {size} bytes, over the {MAX_MESSAGE_BYTES}-byte limit")
    try:
        envelope = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
            max_str_len=MAX_MESSAGE_BYTES,
            max_bin_len=MAX_MESSAGE_BYTES,
            max_array_len=MAX_MESSAGE_BYTES,
            max_map_len=MAX_MESSAGE_BYTES // 2,
            max_ext_len=0,  # no extension types, timestamps included
        )
    except Exception as err:  # msgpack raises several types for bad bytes; all mean the same here
        raise ProtocolError(f"malformed msgpack: {type(err).__name__}: {err}") from None
    return _open(envelope)


def _open(envelope: Any) -> Message:
    if type(envelope) is not dict:
        raise ProtocolError(f"expected an envelope map {{v, t, d}}, got {type(envelope).__name__}")
    if envelope.keys() != _ENVELOPE_KEYS:
        got = ", ".join(sorted(repr(k) for k in envelope))
        raise ProtocolError(f"envelope must have exactly the keys 'd', 't', 'v'; got {got}")
    version, name, fields = envelope["v"], envelope["t"], envelope["d"]
    if type(version) is not int:
        raise ProtocolError(f"protocol version must be an int, got {type(version).__name__}")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(f"unsupported protocol version {version} (this side speaks {PROTOCOL_VERSION})")
    if type(name) is not str:
        raise ProtocolError(f"message type must be a str, got {type(name).__name__}")
    cls = MESSAGE_TYPES.get(name)
    if cls is None:
        raise ProtocolError(f"unknown message type {name[:60]!r}")
    if type(fields) is not dict:
        raise ProtocolError(f"fields must be a map, got {type(fields).__name__}", name)
    return cls.__schema__.load(fields)
