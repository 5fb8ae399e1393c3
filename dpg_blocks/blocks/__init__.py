"""The block-declaration API: ``@block``, ``In``, ``Out``, ``Param`` and the plain-data specs.

Importing this package never imports torch; ``build()`` and ``load()`` run only in the engine.
"""

from .context import BuildContext
from .declare import In, Out, Param, block, spec_of
from .spec import BlockDeclarationError, BlockSpec, ParamError, ParamSpec, PortSpec

__all__ = [
    "BuildContext",
    "In",
    "Out",
    "Param",
    "block",
    "spec_of",
    "BlockDeclarationError",
    "BlockSpec",
    "ParamError",
    "ParamSpec",
    "PortSpec",
]
