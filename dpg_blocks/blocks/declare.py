"""Declaring blocks: ``In``, ``Out``, ``Param`` class attributes and the ``@block`` decorator.

A block is a plain class::

    @block("nn.Conv2d", category="Layers/Convolution", version=1)
    class Conv2d:
        '''2-D convolution over N×C×H×W.'''
        x = In("tensor")
        y = Out("tensor")
        out_channels = Param(int, default=16, min=1)

        def build(self, ctx):                   # runs in the engine only
            from torch import nn
            return nn.Conv2d(ctx.in_shape("x")[1], self.out_channels, 3)

The decorator checks the declaration when the class is created (errors name the class and the
member) and attaches a :class:`~dpg_blocks.blocks.spec.BlockSpec` as ``cls.__block_spec__``.
Nothing here imports torch.
"""

from __future__ import annotations

import contextvars
import inspect
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from .spec import METRICS, PARAM_TYPES, ROLES, BlockDeclarationError, BlockSpec, ParamSpec, PortSpec

T = TypeVar("T", bound=type)

_PY_TYPES: dict[Any, str] = {int: "int", float: "float", bool: "bool", str: "str"}


@dataclass
class DeclarationFailure:
    """One block class whose declaration was refused while its pack was imported."""

    cls: type
    block_id: str
    error: str  # names the class and the member


# Set while the registry imports a pack: a bad declaration is recorded here (that block fails,
# the rest of its pack loads) instead of raising out of the pack's import.
_COLLECTING: contextvars.ContextVar[list[DeclarationFailure] | None] = contextvars.ContextVar(
    "dpg_blocks_declaration_failures", default=None
)


@contextmanager
def collect_declaration_errors() -> Iterator[list[DeclarationFailure]]:
    """Inside: ``@block`` records a refused declaration in the yielded list and leaves the class
    undecorated, rather than raising :class:`BlockDeclarationError`."""
    failures: list[DeclarationFailure] = []
    token = _COLLECTING.set(failures)
    try:
        yield failures
    finally:
        _COLLECTING.reset(token)


class In:
    """An input port. ``variadic`` names the int parameter that repeats it (``x1``…``xN``);
    ``named_by`` names a "names" parameter listing the ports (a Custom block's inputs)."""

    def __init__(
        self,
        kind: str = "tensor",
        *,
        optional: bool = False,
        doc: str = "",
        variadic: str | None = None,
        named_by: str | None = None,
    ) -> None:
        self.kind, self.optional, self.doc, self.variadic = kind, optional, doc, variadic
        self.named_by = named_by
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name


class Out:
    """An output port. ``variadic`` names the int parameter that repeats it; ``named_by`` a
    "names" parameter listing the ports."""

    def __init__(
        self, kind: str = "tensor", *, doc: str = "", variadic: str | None = None, named_by: str | None = None
    ) -> None:
        self.kind, self.doc, self.variadic, self.named_by = kind, doc, variadic, named_by
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name


class Param:
    """A parameter: a type (int, float, bool, str or one of "path", "shape", "ints", "code",
    "choice", "names", "values"), a default and optional bounds or choices. On an instance built in the engine the
    attribute holds the value."""

    def __init__(
        self,
        type: Any,
        default: Any = None,
        *,
        min: float | None = None,
        max: float | None = None,
        choices: Sequence[str] | None = None,
        doc: str = "",
        label: str = "",
    ) -> None:
        self.type = type
        self.default = default
        self.min, self.max = min, max
        self.choices = list(choices) if choices is not None else None
        self.doc, self.label = doc, label
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def to_spec(self, cls_name: str) -> ParamSpec:
        where = f"{cls_name}.{self.name}"
        type_name = _PY_TYPES.get(self.type, self.type)
        if self.choices is not None and type_name == "str":
            type_name = "choice"
        if type_name not in PARAM_TYPES:
            raise BlockDeclarationError(
                f"{where}: unknown parameter type {self.type!r}; use one of {', '.join(PARAM_TYPES)}"
            )
        spec = ParamSpec(
            name=self.name,
            type=type_name,
            default=self.default,
            min=self.min,
            max=self.max,
            choices=self.choices,
            doc=self.doc,
            label=self.label or self.name.replace("_", " "),
        )
        try:
            spec.default = spec.coerce(self.default)
        except ValueError as e:
            raise BlockDeclarationError(f"{where}: default {self.default!r} is invalid: {e}") from None
        return spec


def block(
    id: str,
    *,
    category: str,
    name: str | None = None,
    version: int = 1,
    legacy_ids: Sequence[str] = (),
    role: str | None = None,
    metric: str | None = None,
    accepts_null: bool = False,
    takes_signal: bool = False,
    shown_param: str | None = None,
) -> Callable[[T], T]:
    """Class decorator declaring a block type with a stable ``id`` (see module docstring).

    ``metric`` (a loss only): how training scores the loss's prediction (its first input) against
    its ``target`` input — ``"classification"`` (argmax accuracy vs integer labels), ``"binary"``
    (logit > 0 vs a 0/1 target), ``"regression"`` (R², MSE and MAE of the values, and the
    Evaluation tab's scatter) or None (only the loss).

    ``takes_signal``: the built module is called as ``module(order, target, *inputs)`` — the
    current order and the ground truth reaching the block (None when not exactly one labelled
    input reaches it); ``module.training`` is the train/test flag.

    ``shown_param``: a parameter whose value the node shows after the type's name (the class an
    Opaque Module block runs).
    """

    def decorate(cls: T) -> T:
        try:
            return _declare(cls)
        except BlockDeclarationError as e:
            failures = _COLLECTING.get()
            if failures is None:
                raise
            failures.append(DeclarationFailure(cls, id if isinstance(id, str) else repr(id), str(e)))
            return cls

    def _declare(cls: T) -> T:
        cname = cls.__name__
        if not isinstance(id, str) or not id or any(c.isspace() for c in id):
            raise BlockDeclarationError(f"{cname}: block id must be a non-empty string without spaces")
        if not isinstance(version, int) or version < 1:
            raise BlockDeclarationError(f"{cname}: version must be an integer >= 1")
        if role not in ROLES:
            raise BlockDeclarationError(f"{cname}: role must be one of {ROLES}, got {role!r}")
        if metric not in METRICS:
            raise BlockDeclarationError(f"{cname}.metric: unknown metric {metric!r}; use one of {METRICS}")
        if metric is not None and role != "loss":
            raise BlockDeclarationError(f"{cname}.metric: only a loss is scored; declare role='loss'")
        if not category or category.startswith("/") or category.endswith("/"):
            raise BlockDeclarationError(f"{cname}: category must be a path like 'Layers/Linear'")
        inputs: list[PortSpec] = []
        outputs: list[PortSpec] = []
        params: list[ParamSpec] = []
        seen: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            for attr, member in vars(klass).items():
                if isinstance(member, In | Out | Param) and attr in seen:
                    # a subclass redeclaring a member replaces it
                    inputs = [p for p in inputs if p.name != attr]
                    outputs = [p for p in outputs if p.name != attr]
                    params = [p for p in params if p.name != attr]
                if isinstance(member, In):
                    inputs.append(
                        PortSpec(attr, member.kind, member.optional, member.doc, member.variadic, member.named_by)
                    )
                elif isinstance(member, Out):
                    outputs.append(PortSpec(attr, member.kind, False, member.doc, member.variadic, member.named_by))
                elif isinstance(member, Param):
                    params.append(member.to_spec(cname))
                else:
                    continue
                seen[attr] = type(member).__name__
        param_names = {p.name: p for p in params}
        for port in inputs + outputs:
            if port.variadic is not None:
                counter = param_names.get(port.variadic)
                if counter is None or counter.type != "int":
                    raise BlockDeclarationError(
                        f"{cname}.{port.name}: variadic={port.variadic!r} must name an int Param of {cname}"
                    )
            if port.named_by is not None:
                names = param_names.get(port.named_by)
                if names is None or names.type != "names":
                    raise BlockDeclarationError(
                        f"{cname}.{port.name}: named_by={port.named_by!r} must name a \"names\" Param of {cname}"
                    )
                if port.variadic is not None:
                    raise BlockDeclarationError(f"{cname}.{port.name}: a port is variadic or named_by, not both")
        if shown_param is not None and shown_param not in param_names:
            raise BlockDeclarationError(f"{cname}: shown_param={shown_param!r} must name a Param of {cname}")
        in_names = [p.name for p in inputs]
        if metric is not None and (not in_names or in_names[0] == "target" or "target" not in in_names):
            # codegen scores (first input, "target"): the prediction comes first
            raise BlockDeclarationError(
                f"{cname}.metric: a scored loss declares its prediction as its first In and an In "
                "named 'target'"
            )
        if role == "input":
            _require_method(cls, "load", cname)
        else:
            _require_method(cls, "build", cname)
        if not outputs and role not in ("loss", "output"):
            raise BlockDeclarationError(f"{cname}: declare at least one Out port")
        spec = BlockSpec(
            id=id,
            name=name or cname,
            category=category,
            version=version,
            legacy_ids=list(legacy_ids),
            doc=inspect.cleandoc(cls.__doc__ or ""),
            inputs=inputs,
            outputs=outputs,
            params=params,
            role=role,
            metric=metric,
            accepts_null=accepts_null,
            takes_signal=takes_signal,
            shown_param=shown_param,
            cls=cls,
        )
        cls.__block_spec__ = spec  # type: ignore[attr-defined]
        return cls

    return decorate


def _require_method(cls: type, method: str, cname: str) -> None:
    fn = getattr(cls, method, None)
    if not callable(fn):
        raise BlockDeclarationError(f"{cname}: missing method {method}(self, ctx)")
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return
    if len(params) != 2:
        raise BlockDeclarationError(f"{cname}.{method}: signature must be {method}(self, ctx)")


def spec_of(cls: type) -> BlockSpec:
    """The spec attached by ``@block`` (raises if the class was not decorated)."""
    spec = getattr(cls, "__block_spec__", None)
    if not isinstance(spec, BlockSpec) or spec.cls is not cls:
        raise BlockDeclarationError(f"{getattr(cls, '__name__', cls)!r} is not declared with @block")
    return spec
