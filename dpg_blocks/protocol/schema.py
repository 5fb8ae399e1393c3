"""Typed records checked against their own annotations: one generic checker for every message.

A record is a frozen dataclass (made with :func:`record`). Its field annotations are compiled
once, when the class is created, into checks that run

* on construction (``__post_init__``): a record that exists is well typed, so a bad message
  fails where it is built, not on the other side of the wire;
* on decoding (:meth:`Schema.from_wire`): the plain data msgpack produced is checked and turned
  back into records, without running the checks a second time.

Annotations understood: ``int``, ``float`` (an ``int`` is accepted and stored as ``float``),
``bool``, ``str``, ``bytes``, ``None``, ``X | Y``, ``Literal[...]``, ``list[T]``,
``tuple[T, ...]`` (a list on the wire), ``dict[str, T]``, ``Any`` (plain data: ``None``, bool,
int, float, str, bytes, lists and str-keyed dicts of those) and other records (a map of their
fields on the wire). ``bool`` is never accepted as an ``int`` or a ``float``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from typing import Any, ClassVar, Literal, TypeVar, Union, get_args, get_origin

from .errors import ProtocolError

# Plain data nested deeper than this is refused (msgpack's packer stops at 511 levels; the
# limit also turns a cyclic structure into an error instead of an endless walk).
MAX_NESTING = 500

_LEAVES = (type(None), bool, int, float, str, bytes)
_LEAF_TYPES = frozenset(_LEAVES)  # `type(x) in` a set: one hash, not six comparisons


class _Field(str):
    """A field name in an error path (written ``.name``, where a dict key is ``['name']``)."""


class _Bad(Exception):
    """A check failed; ``keys`` collects the path on the way up, innermost first."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.keys: list[Any] = []


def format_path(root: str, keys_innermost_first: list[Any]) -> str:
    """``root`` followed by ``.field``, ``[index]`` and ``['key']`` steps."""
    parts = [root]
    for key in reversed(keys_innermost_first):
        if isinstance(key, _Field):
            parts.append(f".{key}")
        elif isinstance(key, int):
            parts.append(f"[{key}]")
        else:
            parts.append(f"[{_short(key)}]")
    return "".join(parts)


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _got(value: Any) -> str:
    if isinstance(value, _LEAVES) and not isinstance(value, bytes):
        return f"{type(value).__name__} {_short(value)}"
    if isinstance(value, list | tuple | dict | bytes | bytearray):
        return f"{type(value).__name__} of length {len(value)}"
    return type(value).__qualname__


# A check takes a value and whether it came from the wire (plain msgpack data) or from Python
# code (objects), and returns the value to store, which may be converted (list -> tuple, int ->
# float, a map -> a record).
Check = Callable[[Any, bool], Any]


class _Type:
    """A compiled annotation: its check and how it reads in error messages."""

    def __init__(self, check: Check, describe: str) -> None:
        self.check = check
        self.describe = describe


def _compile(tp: Any, owner: str) -> _Type:
    if tp is Any:
        return _Type(_check_plain, "plain data")
    if tp is None or tp is type(None):
        return _scalar_none()
    origin = get_origin(tp)
    if origin is Literal:
        return _literal(get_args(tp))
    if origin is Union or origin is types.UnionType:
        return _union([_compile(a, owner) for a in get_args(tp)])
    if tp is list or origin is list:
        return _list(_compile((get_args(tp) or (Any,))[0], owner))
    if tp is tuple or origin is tuple:
        args = get_args(tp) or (Any, ...)
        if len(args) != 2 or args[1] is not Ellipsis:
            raise TypeError(f"{owner}: only tuple[T, ...] is supported, not {tp!r}")
        return _tuple(_compile(args[0], owner))
    if tp is dict or origin is dict:
        key, value = get_args(tp) or (str, Any)
        if key is not str:
            raise TypeError(f"{owner}: dict keys must be str, not {key!r}")
        return _dict(_compile(value, owner))
    if tp in (int, float, bool, str, bytes):
        return _scalar(tp)
    if isinstance(tp, type) and issubclass(tp, Record):
        return _record(tp)
    raise TypeError(f"{owner}: unsupported field type {tp!r}")


def _scalar_none() -> _Type:
    def check(value: Any, wire: bool) -> Any:
        if value is None:
            return None
        raise _Bad(f"expected None, got {_got(value)}")

    return _Type(check, "None")


def _scalar(tp: type) -> _Type:
    name = tp.__name__

    def check(value: Any, wire: bool) -> Any:
        if type(value) is tp:
            return value
        if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if tp in (int, str) and isinstance(value, tp) and not isinstance(value, bool):
            return tp(value)  # subclasses (IntEnum, str enums) travel as the plain type
        if tp is bytes and not wire and isinstance(value, bytearray | memoryview):
            return bytes(value)
        raise _Bad(f"expected {name}, got {_got(value)}")

    return _Type(check, name)


def _literal(allowed: tuple[Any, ...]) -> _Type:
    describe = "one of " + ", ".join(repr(a) for a in allowed)

    def check(value: Any, wire: bool) -> Any:
        for a in allowed:
            if type(value) is type(a) and value == a:
                return value
        raise _Bad(f"expected {describe}, got {_got(value)}")

    return _Type(check, describe)


def _union(alternatives: list[_Type]) -> _Type:
    describe = " or ".join(a.describe for a in alternatives)

    def check(value: Any, wire: bool) -> Any:
        deepest: _Bad | None = None
        for alt in alternatives:
            try:
                return alt.check(value, wire)
            except _Bad as bad:
                if bad.keys and (deepest is None or len(bad.keys) > len(deepest.keys)):
                    deepest = bad  # the value matched the shape of this one, inside is wrong
        if deepest is not None:
            raise deepest
        raise _Bad(f"expected {describe}, got {_got(value)}")

    return _Type(check, describe)


def _check_items(item: _Type, value: Any, wire: bool) -> list[Any]:
    """Each element checked by ``item``; a failure's path gets the element's index."""
    out = []
    for i, element in enumerate(value):
        try:
            out.append(item.check(element, wire))
        except _Bad as bad:
            bad.keys.append(i)
            raise
    return out


def _list(item: _Type) -> _Type:
    def check(value: Any, wire: bool) -> Any:
        if not (type(value) is list or (not wire and isinstance(value, list | tuple))):
            raise _Bad(f"expected a list, got {_got(value)}")
        return _check_items(item, value, wire)

    return _Type(check, f"list of {item.describe}")


def _tuple(item: _Type) -> _Type:
    def check(value: Any, wire: bool) -> Any:
        if not isinstance(value, list | tuple):
            raise _Bad(f"expected a list, got {_got(value)}")
        return tuple(_check_items(item, value, wire))

    return _Type(check, f"list of {item.describe}")


def _dict(item: _Type) -> _Type:
    def check(value: Any, wire: bool) -> Any:
        if not isinstance(value, dict):
            raise _Bad(f"expected a map, got {_got(value)}")
        out = {}
        for key, element in value.items():
            if type(key) is not str:
                raise _Bad(f"map keys must be str, got {_got(key)}")
            try:
                out[key] = item.check(element, wire)
            except _Bad as bad:
                bad.keys.append(key)
                raise
        return out

    return _Type(check, f"map of str to {item.describe}")


def _check_plain(value: Any, wire: bool) -> Any:
    """Plain data, walked without recursion so that deep nesting cannot overflow the stack."""
    if isinstance(value, _LEAVES):
        return value
    # (value, parent node, key, depth): the path is rebuilt only when something is wrong.
    stack: list[tuple[Any, Any, Any, int]] = [(value, None, None, 0)]
    leaf = _LEAF_TYPES
    while stack:
        node = stack.pop()
        item, _parent, _key, depth = node
        if type(item) in leaf:
            continue
        if depth >= MAX_NESTING:
            _fail_plain(node, f"nested deeper than {MAX_NESTING} levels")
        # leaves are checked where they are met, not pushed: a project document is mostly leaves
        if type(item) is list or (not wire and isinstance(item, list | tuple)):
            stack.extend([(e, node, i, depth + 1) for i, e in enumerate(item) if type(e) not in leaf])
        elif type(item) is dict or (not wire and isinstance(item, dict)):
            for k, e in item.items():
                if type(k) is not str:
                    _fail_plain(node, f"map keys must be str, got {_got(k)}")
                if type(e) not in leaf:
                    stack.append((e, node, k, depth + 1))
        elif not wire and isinstance(item, _LEAVES):
            continue  # subclasses of the plain types (np.float64, IntEnum) pack as the base
        else:
            _fail_plain(node, f"expected plain data (None, bool, int, float, str, bytes, list, map), "
                              f"got {type(item).__qualname__}")
    return value


def _fail_plain(node: tuple[Any, Any, Any, int], reason: str) -> typing.NoReturn:
    bad = _Bad(reason)
    while node[1] is not None:
        bad.keys.append(node[2])
        node = node[1]
    raise bad


def _record(tp: type[Record]) -> _Type:
    def check(value: Any, wire: bool) -> Any:
        if wire:
            if type(value) is not dict:
                raise _Bad(f"expected a map of {tp.__name__} fields, got {_got(value)}")
            return tp.__schema__.from_wire(value)
        if isinstance(value, tp):
            return value  # checked when it was built
        raise _Bad(f"expected {tp.__name__}, got {_got(value)}")

    return _Type(check, tp.__name__)


class Schema:
    """The compiled field checks of one record class."""

    def __init__(self, cls: type[Record]) -> None:
        self.cls = cls
        hints = typing.get_type_hints(cls)
        self.fields: list[tuple[str, _Type]] = [
            (f.name, _compile(hints[f.name], f"{cls.__name__}.{f.name}")) for f in dataclasses.fields(cls)
        ]
        self.names = frozenset(name for name, _ in self.fields)

    def check_object(self, obj: Record) -> None:
        """Check (and normalise) the fields of a record built in Python; raise ProtocolError."""
        name = ""
        try:
            for name, tp in self.fields:
                value = getattr(obj, name)
                checked = tp.check(value, False)
                if checked is not value:
                    object.__setattr__(obj, name, checked)
        except _Bad as bad:
            bad.keys.append(_Field(name))
            raise ProtocolError(bad.reason, format_path(self.cls.__name__, bad.keys)) from None
        try:
            obj._validate()
        except ValueError as err:
            raise ProtocolError(str(err), self.cls.__name__) from None

    def load(self, data: dict[Any, Any]) -> Any:
        """The record whose fields ``data`` (decoded msgpack) holds; raise ProtocolError."""
        try:
            return self.from_wire(data)
        except _Bad as bad:
            raise ProtocolError(bad.reason, format_path(self.cls.__name__, bad.keys)) from None

    def from_wire(self, data: dict[Any, Any]) -> Any:
        """Like :meth:`load`, raising ``_Bad`` whose keys hold the path (for nested records)."""
        if len(data) != len(self.names) or not self.names.issuperset(data):
            missing = sorted(self.names.difference(data))
            extra = sorted(_short(k) for k in data if k not in self.names)
            parts = []
            if missing:
                parts.append("missing field(s) " + ", ".join(missing))
            if extra:
                more = f" and {len(extra) - 5} more" if len(extra) > 5 else ""
                parts.append("unknown field(s) " + ", ".join(extra[:5]) + more)
            raise _Bad("; ".join(parts))
        obj = object.__new__(self.cls)
        name = ""
        try:
            for name, tp in self.fields:
                object.__setattr__(obj, name, tp.check(data[name], True))
        except _Bad as bad:
            bad.keys.append(_Field(name))
            raise
        try:
            obj._validate()
        except ValueError as err:
            raise _Bad(str(err)) from None
        return obj


class Record:
    """Base of the typed records: fields are checked against their annotations when built."""

    __schema__: ClassVar[Schema]

    def __post_init__(self) -> None:
        type(self).__schema__.check_object(self)

    def _validate(self) -> None:
        """Invariants beyond the field types; raise ValueError with the reason."""

    @classmethod
    def unchecked(cls, **fields: Any) -> Any:
        """Build without the field checks, for hot senders whose values are right by
        construction (tap frames at tens of Hz: the checks cost as much as the summary).
        The receiver's ``decode`` still checks everything, so nothing unchecked is trusted."""
        obj = object.__new__(cls)
        for f in dataclasses.fields(cls):
            if f.name in fields:
                value = fields[f.name]
            elif f.default is not dataclasses.MISSING:
                value = f.default
            elif f.default_factory is not dataclasses.MISSING:
                value = f.default_factory()
            else:
                raise TypeError(f"{cls.__name__}.unchecked: missing field {f.name!r}")
            object.__setattr__(obj, f.name, value)
        return obj

    def to_wire(self) -> dict[str, Any]:
        """The record's fields by name (nested records stay records; the encoder maps them)."""
        return {name: getattr(self, name) for name, _ in self.__schema__.fields}


R = TypeVar("R", bound=type[Record])


def record(cls: R) -> R:
    """Make ``cls`` a frozen dataclass whose fields are checked against their annotations."""
    cls = dataclasses.dataclass(frozen=True)(cls)
    cls.__schema__ = Schema(cls)
    return cls
