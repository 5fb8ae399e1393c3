"""Submodules torch.fx cannot trace come in as Opaque Module blocks (``import_fx``).

fx cannot trace a forward whose control flow depends on a tensor's value (``if x.sum() > 0``).
When the forward is a *submodule's*, :class:`OpaqueTracer` makes that submodule a leaf (fx's
``is_leaf_module``): it traces the model, and when a submodule's own forward fails it records
that submodule (the innermost one whose forward raised) and traces again, until the trace goes
through. The top-level module's own forward failing is still a refusal (the caller names its
line). Each opaque submodule becomes one block holding its class's source, copied from its file
with the helpers and imports it uses (:class:`~.source_copy.SourceCopier`), and the arguments
its constructor was called with; its weights are copied like any layer's.

The constructor's arguments are known when the import loaded the class itself: ``load_module``
wraps the ``__init__`` of the file's ``nn.Module`` classes with :func:`record_constructor_calls`.
"""

from __future__ import annotations

import dis
import functools
import inspect
import keyword
import sys
import types
import weakref
from pathlib import Path
from typing import Any

from torch import fx, nn

from ..compiling.module_code import call_arguments
from .source_copy import CopyError, SourceCopier

__all__ = ["OpaqueTracer", "opaque_params", "record_constructor_calls", "trace_with_opaque"]

# module -> (args, kwargs) its constructor was called with (outermost class's call only)
_CONSTRUCTED: weakref.WeakKeyDictionary[nn.Module, tuple[tuple[Any, ...], dict[str, Any]]] = \
    weakref.WeakKeyDictionary()


class _Untraceable(Exception):
    """A submodule's own forward failed under tracing: make it a leaf and trace again."""

    def __init__(self, path: str, cause: BaseException) -> None:
        super().__init__(path)
        self.path, self.cause = path, cause


class OpaqueTracer(fx.Tracer):
    """fx's tracer, with the submodules in ``opaque`` (qualified names) kept as leaves, and
    ``assert`` statements on traced values left out (each recorded in ``asserts``).

    An assert checks, it computes nothing: ``assert x.dim() == 4`` is specialised away, as
    ``torch.export`` does with the shapes it was given, and the import runs the original
    module once on the example input, so an assert that does not hold there is still refused.
    An ``if`` on a traced value is control flow and still fails the trace.
    """

    def __init__(self, opaque: set[str]) -> None:
        super().__init__()
        self.opaque = opaque
        self.asserts: list[str] = []  # "file.py line N" of each assert left out

    def to_bool(self, obj: fx.Proxy) -> bool:
        frame = inspect.currentframe()
        caller = frame.f_back.f_back if frame is not None and frame.f_back is not None else None  # past Proxy.__bool__
        if caller is not None and _in_assert(caller):
            where = f"{Path(caller.f_code.co_filename).name} line {caller.f_lineno}"
            if where not in self.asserts:
                self.asserts.append(where)
            return True
        return super().to_bool(obj)

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return module_qualified_name in self.opaque or super().is_leaf_module(m, module_qualified_name)

    def call_module(self, m: nn.Module, forward: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            return super().call_module(m, forward, args, kwargs)
        except _Untraceable:
            raise  # an inner module's: it is the one to keep whole
        except Exception as e:
            raise _Untraceable(self.path_of_module(m), e) from e


def _in_assert(frame: types.FrameType) -> bool:
    """Whether ``frame`` is converting a value to bool for an ``assert``: its jump on the value
    is followed by raising AssertionError (how CPython compiles ``assert``)."""
    instructions = list(dis.get_instructions(frame.f_code))
    at = next((i for i, ins in enumerate(instructions) if ins.offset == frame.f_lasti), None)
    if at is None:
        return False
    ahead = [ins.opname for ins in instructions[at:at + 3]]
    return "LOAD_ASSERTION_ERROR" in ahead and ahead[0].startswith("POP_JUMP") and "IF_TRUE" in ahead[0]


def trace_with_opaque(module: nn.Module) -> tuple[fx.GraphModule, set[str], list[str]]:
    """``module`` traced with every submodule fx cannot trace kept whole; those submodules; and
    the asserts left out of the graph (``file.py line N``).

    An exception from the top-level forward itself propagates as fx raised it.
    """
    opaque: set[str] = set()
    while True:
        tracer = OpaqueTracer(opaque)
        try:
            graph = tracer.trace(module)
        except _Untraceable as e:
            if e.path in opaque:  # cannot happen for a leaf; never loop on it
                raise e.cause from None
            opaque.add(e.path)
            continue
        return fx.GraphModule(tracer.root, graph, type(module).__name__), opaque, tracer.asserts


def record_constructor_calls(module: types.ModuleType) -> None:
    """Wrap the ``__init__`` of each ``nn.Module`` class ``module`` defines to remember its arguments
    (classes it imports, torch's among them, are left alone)."""
    for cls in list(vars(module).values()):
        if isinstance(cls, type) and issubclass(cls, nn.Module) and cls.__module__ == module.__name__ \
                and "__init__" in cls.__dict__:
            cls.__init__ = _recording(cls.__dict__["__init__"])  # type: ignore[misc]


def _recording(init: Any) -> Any:
    @functools.wraps(init)
    def __init__(self: nn.Module, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        # the last to finish is the outermost call: the arguments of the class itself
        _CONSTRUCTED[self] = (args, kwargs)

    return __init__


def _arguments(m: nn.Module, where: str) -> str:
    """The constructor's arguments of ``m`` as literals (``16, hidden=32``); ValueError when unknown."""
    cls = type(m)
    called = _CONSTRUCTED.get(m)
    if called is None:
        try:
            inspect.signature(cls).bind()
        except TypeError:
            raise ValueError(f"{where}: {cls.__name__}'s constructor takes arguments the import did not see it "
                             "called with (import the model from its file: dpg-blocks import FILE.py:ClassName)") from None
        except ValueError:
            pass
        return ""
    args, kwargs = called
    for i, value in enumerate([*args, *kwargs.values()]):
        if not _is_literal(value):
            raise ValueError(f"{where}: {cls.__name__} was constructed with a {type(value).__name__} (argument "
                             f"{i + 1}); an Opaque Module block writes its constructor's arguments as literals")
    bad = [k for k in kwargs if not k.isidentifier() or keyword.iskeyword(k)]
    if bad:
        raise ValueError(f"{where}: {cls.__name__} was constructed with the keyword {bad[0]!r}")
    return call_arguments(list(args), dict(kwargs))


def _is_literal(value: Any) -> bool:
    if isinstance(value, bool | int | str | type(None)):
        return True
    if isinstance(value, float):
        return value == value and abs(value) != float("inf")
    if isinstance(value, list | tuple):
        return all(_is_literal(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_literal(v) for k, v in value.items())
    return False


def class_source(cls: type, where: str) -> str:
    """The source of ``cls`` with the helpers, constants and imports of its file that it uses."""
    home = sys.modules.get(cls.__module__)
    if home is None or cls.__qualname__ != cls.__name__:
        raise ValueError(f"{where}: its class {cls.__qualname__} is not defined at the top of a module, so its "
                         "source cannot be copied")
    copier = SourceCopier()
    copier.followed |= _neighbours(home)
    try:
        if not copier.has(home, cls.__name__):
            raise ValueError(f"{where}: {cls.__name__} is not defined in {getattr(home, '__file__', home.__name__)}")
        copier.add(home, cls.__name__)
    except (OSError, TypeError) as e:
        raise ValueError(f"{where}: the source of {cls.__name__} cannot be read ({e})") from None
    except CopyError as e:
        raise ValueError(f"{where}: {cls.__name__} cannot be copied with what it uses: {e}") from None
    imports = "\n".join(copier.import_lines())
    body = "\n\n\n".join(copier.texts())
    return f"{imports}\n\n\n{body}\n" if imports else f"{body}\n"


def _neighbours(home: types.ModuleType) -> set[str]:
    """Top-level names of the modules imported from ``home``'s own folder (``from layers import
    Helper`` beside the model): copied from, never imported, since the block's code must not
    need that folder on the path."""
    file = getattr(home, "__file__", None)
    if not file:
        return set()
    folder = Path(file).resolve().parent
    found = set()
    for name, module in list(sys.modules.items()):
        where = getattr(module, "__file__", None)
        installed = "site-packages" in Path(where or "").parts  # a model saved among the libraries
        if module is not home and where and not installed and Path(where).resolve().is_relative_to(folder):
            found.add(name.split(".")[0])
    return found


def opaque_params(node: fx.Node, m: nn.Module, returns_tuple: bool, tensors: list[fx.Node]) -> dict[str, Any]:
    """The Opaque Module block's params for the call of opaque submodule ``m`` at ``node``
    (ValueError saying why it cannot be one)."""
    where = f"{type(m).__name__} {node.target}"
    if node.kwargs or len(tensors) != len(node.args) or not all(isinstance(a, fx.Node) for a in node.args):
        raise ValueError(f"{where}: forward is called with arguments that are not tensors; an Opaque Module block "
                         "passes its input tensors only")
    if not tensors:
        raise ValueError(f"{where}: forward reads no tensor")
    try:
        names = [p.name for p in inspect.signature(m.forward).parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][:len(tensors)]
    except (TypeError, ValueError):
        names = []
    if len(names) != len(tensors) or len(set(names)) != len(names):
        names = ["x"] if len(tensors) == 1 else [f"x{i}" for i in range(1, len(tensors) + 1)]
    outputs = ["y"]
    if returns_tuple:
        meta = node.meta.get("tensor_meta")
        if not all(hasattr(t, "shape") for t in meta):  # type: ignore[union-attr]
            raise ValueError(f"{where}: returns a nested tuple; an Opaque Module block's outputs are flat")
        outputs = [f"y{i}" for i in range(1, len(meta) + 1)]  # type: ignore[arg-type]
    return {"inputs": names, "outputs": outputs, "class_name": type(m).__name__,
            "arguments": _arguments(m, where), "code": class_source(type(m), where)}
