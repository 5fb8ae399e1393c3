"""Block specs: the plain-data description of a block type (no torch).

A :class:`BlockSpec` travels to the GUI as a dict (``to_dict``/``from_dict``); the class it was
declared on (``cls``) stays in the engine, where ``build()``/``load()`` run.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

from dpg_blocks.core.graph import PORT_NAME, Block, Port
from dpg_blocks.core.project_file import INT64_MAX, INT64_MIN

# "names": a list of identifiers (e.g. the ports of a Custom block); "values": a JSON object of
# named numbers, booleans or strings (a Custom block's own settings, an order -> value table).
PARAM_TYPES = ("int", "float", "bool", "str", "choice", "path", "shape", "ints", "code", "names", "values")
ROLES = (None, "input", "loss", "output")
# How training scores a loss's prediction against its target (``engine/training/trainer._score``):
# "classification": argmax over (N, classes) vs integer labels; "binary": logit > 0 vs a 0/1
# target; "regression": no accuracy, but R², MSE and MAE of prediction vs target on val/test
# (``engine/training/evaluation.Regression``) and the editor's scatter plot; None: only the loss.
METRICS = (None, "classification", "binary", "regression")
# Bounds every int/shape/ints param has on top of its declared min/max: a value torch can hold
# (int64), and shapes a machine can allocate, so an absurd value in a file is a message here
# rather than an OverflowError or a MemoryError inside a block's build().
MAX_SHAPE_ELEMENTS = 2**28  # elements in one sample (1 GiB of float32)
MAX_VARIADIC = 256  # ports a variadic declaration expands to when its count has no max


class BlockDeclarationError(TypeError):
    """A block class declared wrongly; the message names the class and the member."""


class ParamError(ValueError):
    """A parameter value that does not fit its declaration."""


@dataclass
class PortSpec:
    """A declared port. A variadic port expands to ``name1``…``nameN`` (N from a param); a port
    ``named_by`` a "names" param expands to one port per listed name (a Custom block's ports)."""

    name: str
    kind: str = "tensor"
    optional: bool = False
    doc: str = ""
    variadic: str | None = None
    named_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "optional": self.optional,
            "doc": self.doc,
            "variadic": self.variadic,
            "named_by": self.named_by,
        }


@dataclass
class ParamSpec:
    """A declared parameter with its type, default and bounds."""

    name: str
    type: str
    default: Any = None
    min: float | None = None
    max: float | None = None
    choices: list[str] | None = None
    doc: str = ""
    label: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def coerce(self, value: Any) -> Any:
        """``value`` converted to this parameter's type, or :class:`ValueError` saying why."""
        t = self.type
        if value is None:
            if t in ("path", "code", "str"):
                return ""
            if t in ("shape", "ints", "names"):
                return []
            if t == "values":
                return {}
            raise ValueError("a value is required")
        if t == "names":
            return _names(value)
        if t == "values":
            return _values(value)
        if t == "bool":
            if isinstance(value, bool):
                return value
            raise ValueError(f"expected true or false, got {_show(value)}")
        if t == "int":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"expected an integer, got {_show(value)}")
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(f"expected an integer, got {_show(value)}")
            value = _int64(int(value))
        elif t == "float":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"expected a number, got {_show(value)}")
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"expected a finite number, got {_show(value)}")
        elif t in ("str", "path", "code", "choice"):
            if not isinstance(value, str):
                raise ValueError(f"expected text, got {_show(value)}")
            if t == "choice" and self.choices is not None and value not in self.choices:
                raise ValueError(f"{_show(value)} is not one of {', '.join(map(repr, self.choices))}")
        elif t in ("shape", "ints"):
            value = [_int64(v) for v in _int_list(value)]
            if t == "shape":
                _check_shape(value)
        if t in ("int", "float"):
            if self.min is not None and value < self.min:
                raise ValueError(f"must be >= {self.min}, got {value}")
            if self.max is not None and value > self.max:
                raise ValueError(f"must be <= {self.max}, got {value}")
        elif t == "ints":
            for v in value:
                if self.min is not None and v < self.min:
                    raise ValueError(f"every item must be >= {self.min}, got {v}")
                if self.max is not None and v > self.max:
                    raise ValueError(f"every item must be <= {self.max}, got {v}")
        return value


def _show(value: Any) -> str:
    """``value`` for a message, cut short (a file may hold a huge number or list)."""
    try:
        text = repr(value) if not isinstance(value, int) or value.bit_length() < 200 else f"a {len(str(value))}-digit number"
    except (RecursionError, ValueError):
        text = f"a {type(value).__name__}"
    return text if len(text) <= 60 else text[:57] + "..."


def _int64(value: int) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"{_show(value)} is out of range (integers must fit in 64 bits)")
    return value


def _check_shape(dims: list[int]) -> None:
    if any(v < 1 and v != -1 for v in dims):
        raise ValueError(f"shape dimensions must be >= 1 (or -1), got {_show(dims)}")
    if dims.count(-1) > 1:
        raise ValueError(f"only one shape dimension can be -1, got {_show(dims)}")
    size = math.prod(v for v in dims if v > 0)
    if size > MAX_SHAPE_ELEMENTS:
        raise ValueError(f"a shape of {size} elements is too large (the limit is {MAX_SHAPE_ELEMENTS})")


def _int_list(value: Any) -> list[int]:
    if isinstance(value, str):
        parts = [p for p in value.replace("x", ",").replace("×", ",").replace(" ", ",").split(",") if p]
        try:
            return [int(p) for p in parts]
        except ValueError:
            raise ValueError(f"expected integers separated by commas, got {_show(value)}") from None
    if isinstance(value, list | tuple):
        out = []
        for v in value:
            if isinstance(v, bool) or not isinstance(v, int):
                raise ValueError(f"expected a list of integers, got {_show(value)}")
            out.append(v)
        return out
    raise ValueError(f"expected a list of integers, got {_show(value)}")


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [p for p in value.replace(" ", ",").split(",") if p]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected names separated by commas, got {_show(value)}")
    for v in value:
        if not PORT_NAME.fullmatch(v):
            raise ValueError(f"{_show(v)} is not a valid name (letters, digits and _, not starting with a digit)")
    if len(set(value)) != len(value):
        raise ValueError(f"names must be different, got {list(value)}")
    return list(value)


def _values(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"expected named values, got {_show(value)}")
    out: dict[str, Any] = {}
    for k, v in value.items():
        if not isinstance(k, str) or not k:
            raise ValueError(f"value names must be non-empty text, got {k!r}")
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"{k}: expected a finite number, got {_show(v)}")
        if not isinstance(v, bool | int | float | str):
            raise ValueError(f"{k}: expected a number, true/false or text, got {_show(v)}")
        out[k] = v
    return out


@dataclass
class BlockSpec:
    """Everything the editor and the engine need to know about a block type."""

    id: str
    name: str
    category: str
    version: int = 1
    legacy_ids: list[str] = field(default_factory=list)
    doc: str = ""
    inputs: list[PortSpec] = field(default_factory=list)
    outputs: list[PortSpec] = field(default_factory=list)
    params: list[ParamSpec] = field(default_factory=list)
    role: str | None = None
    metric: str | None = None  # one of METRICS: the accuracy a loss's prediction is scored by
    accepts_null: bool = False
    # The built module is called as ``module(order, target, *inputs)``: the rest of the paper's
    # signal (the current order and the ground truth); ``module.training`` is the train flag.
    takes_signal: bool = False
    # the parameter whose value a node shows after the type's name ("Opaque Module · Gate")
    shown_param: str | None = None
    pack: str = ""
    pack_version: str = ""  # the pack's version when it registered ("" when it declares none)
    cls: Any = None  # the declared class; engine side only, never serialised
    # ``params`` by name: looked up for every param of every block on each validation.
    _param_by_name: dict[str, ParamSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._param_by_name = {p.name: p for p in self.params}

    # -- plain data ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "category": self.category,
            "version": self.version,
            "legacy_ids": list(self.legacy_ids),
            "doc": self.doc,
            "inputs": [p.to_dict() for p in self.inputs],
            "outputs": [p.to_dict() for p in self.outputs],
            "params": [p.to_dict() for p in self.params],
            "role": self.role,
            "metric": self.metric,
            "accepts_null": self.accepts_null,
            "takes_signal": self.takes_signal,
            "shown_param": self.shown_param,
            "pack": self.pack,
            "pack_version": self.pack_version,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BlockSpec:
        return cls(
            id=d["id"],
            name=d["name"],
            category=d["category"],
            version=d.get("version", 1),
            legacy_ids=list(d.get("legacy_ids", [])),
            doc=d.get("doc", ""),
            inputs=[PortSpec(**p) for p in d.get("inputs", [])],
            outputs=[PortSpec(**p) for p in d.get("outputs", [])],
            params=[ParamSpec(**p) for p in d.get("params", [])],
            role=d.get("role"),
            metric=d.get("metric"),
            accepts_null=d.get("accepts_null", False),
            takes_signal=d.get("takes_signal", False),
            shown_param=d.get("shown_param"),
            pack=d.get("pack", ""),
            pack_version=d.get("pack_version", ""),
        )

    # -- parameters and ports --------------------------------------------------------------
    def param(self, name: str) -> ParamSpec | None:
        return self._param_by_name.get(name)

    def code_params(self) -> list[str]:
        """Names of the parameters that hold source code (run only in trusted projects)."""
        return [p.name for p in self.params if p.type == "code"]

    def default_params(self) -> dict[str, Any]:
        # copies: a list or dict default must never be shared between blocks
        return {p.name: copy.deepcopy(p.default) for p in self.params}

    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Defaults filled in and every value coerced; :class:`ParamError` names the param."""
        out = self.default_params()
        for key, value in params.items():
            p = self.param(key)
            if p is None:
                raise ParamError(f"{self.name} has no parameter {key!r}")
            try:
                out[key] = p.coerce(value)
            except ValueError as e:
                raise ParamError(f"parameter {p.label or key!r}: {e}") from None
        return out

    def ports_for(self, params: dict[str, Any]) -> tuple[list[Port], list[Port]]:
        """The concrete ports of a block with these params (variadic ports expanded)."""
        values = {**self.default_params(), **params}

        def expand(specs: list[PortSpec]) -> list[Port]:
            ports: list[Port] = []
            for s in specs:
                if s.named_by is not None:
                    names = values.get(s.named_by)
                    if isinstance(names, list):
                        ports.extend(Port(n, s.kind, s.optional) for n in names if isinstance(n, str))
                elif s.variadic is None:
                    ports.append(Port(s.name, s.kind, s.optional))
                else:
                    try:
                        n = max(0, int(values.get(s.variadic) or 0))
                    except (TypeError, ValueError, OverflowError):
                        n = 0
                    # params other than the one being set are not checked here: never expand
                    # a hand-edited 10**9 past what the count's declaration allows
                    bound = self.param(s.variadic)
                    n = min(n, int(bound.max) if bound is not None and bound.max is not None else MAX_VARIADIC)
                    ports.extend(Port(f"{s.name}{i}", s.kind, s.optional) for i in range(1, n + 1))
            return ports

        return expand(self.inputs), expand(self.outputs)

    def new_block(self, block_id: str, name: str, pos: tuple[float, float] = (0.0, 0.0), **params: Any) -> Block:
        """A document block of this type with default params overridden by ``params``."""
        values = self.check_params(params)
        inputs, outputs = self.ports_for(values)
        return Block(block_id, self.id, name, values, inputs, outputs, pos, self.version)

    def instantiate(self, params: dict[str, Any]) -> Any:
        """An instance of the declared class with params set as attributes (engine side)."""
        return self.instantiate_checked(self.check_params(params))

    def instantiate_checked(self, params: dict[str, Any]) -> Any:
        """Like :meth:`instantiate` for params that already went through :meth:`check_params`
        (the engine's plan checks each block's params once per validation)."""
        if self.cls is None:
            raise RuntimeError(f"block {self.id!r} has no class here (catalog data only)")
        obj = self.cls.__new__(self.cls)
        obj.__dict__.update(copy.deepcopy(params))  # build() may change its own values, never the plan's
        return obj
