"""The scripting path docs/plugins.md gives (``validate_project``); the code is in :mod:`.compiling.compiler`.

Kept because pack authors' scripts import it by this name (an external contract).
"""

from .compiling.compiler import CompileError, validate_project

__all__ = ["CompileError", "validate_project"]
