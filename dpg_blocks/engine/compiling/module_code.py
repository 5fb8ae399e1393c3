"""An ``nn.Module`` class written in a block (the Opaque Module block): compiled, constructed, run.

The block's ``code`` defines the class (with the helpers and imports it needs) and
``arguments`` holds its constructor's arguments as Python literals (``16, hidden=32``). The
built module *is* an instance of that class, so its parameters are the block's own: the
optimizer sees them, ``state_dict`` keys are the class's own names under the block's, and a
checkpoint of the original module's layer loads into it. Like a Custom block's code it runs only
in a trusted project: compiling it runs its top level.

The class keeps what it was built from (:class:`ModuleCode`, an attribute of the class compiled
for this block), so the export writes the same code and the same call.
"""

from __future__ import annotations

import ast
import keyword
from dataclasses import dataclass
from typing import Any

from torch import nn

from .source_text import lit
from .usercode import UserCodeError, compile_user_code

__all__ = ["ModuleCode", "build_module", "call_arguments", "module_code_of", "parse_arguments"]

# The attribute of a compiled class holding its ModuleCode: a name no user class has.
CODE_ATTRIBUTE = "__dpg_blocks_module_code__"


@dataclass(frozen=True)
class ModuleCode:
    """What an Opaque Module block's module was built from."""

    source: str
    class_name: str
    arguments: str  # the constructor's arguments as written: "16, hidden=32"


def parse_arguments(text: str) -> tuple[list[Any], dict[str, Any]]:
    """``"16, hidden=(3, 3)"`` -> ``([16], {"hidden": (3, 3)})``: literals only (nothing runs)."""
    if not text.strip():
        return [], {}
    try:
        call = ast.parse(f"f({text})", mode="eval").body
    except SyntaxError as e:
        raise UserCodeError(f"arguments {text!r} are not Python call arguments ({e.msg})") from None
    assert isinstance(call, ast.Call)
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        raise UserCodeError(f"arguments {text!r}: write each argument out (no * or **)")
    try:
        args = [ast.literal_eval(a) for a in call.args]
        kwargs = {str(k.arg): ast.literal_eval(k.value) for k in call.keywords if k.arg is not None}
    except ValueError:
        raise UserCodeError(f"arguments {text!r}: each must be a literal (a number, text, True/False, None, or a "
                            "list/tuple/dict of them)") from None
    return args, kwargs


def call_arguments(args: list[Any], kwargs: dict[str, Any]) -> str:
    """``[16], {"hidden": 32}`` -> ``"16, hidden=32"`` (the inverse of :func:`parse_arguments`)."""
    return ", ".join([*(lit(a) for a in args), *(f"{k}={lit(v)}" for k, v in kwargs.items())])


def build_module(source: str, filename: str, class_name: str, arguments: str) -> nn.Module:
    """Compile ``source`` (its top level runs) and construct ``class_name(arguments)``."""
    if not class_name.isidentifier() or keyword.iskeyword(class_name):
        raise UserCodeError(f"class_name {class_name!r} is not a Python class name")
    namespace = compile_user_code(source, filename)
    cls = namespace.get(class_name)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        defined = sorted(k for k, v in namespace.items() if isinstance(v, type) and issubclass(v, nn.Module))
        raise UserCodeError(f"the code defines no nn.Module class {class_name!r} "
                            f"(it defines {', '.join(defined) or 'none'})")
    args, kwargs = parse_arguments(arguments)
    # compiled for this block alone: the class may carry what it was built from
    setattr(cls, CODE_ATTRIBUTE, ModuleCode(source, class_name, arguments))
    return cls(*args, **kwargs)


def module_code_of(module: nn.Module) -> ModuleCode | None:
    """What ``module`` was built from, when an Opaque Module block built it."""
    code = type(module).__dict__.get(CODE_ATTRIBUTE)
    return code if isinstance(code, ModuleCode) else None
