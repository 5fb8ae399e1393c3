"""The scripting path docs/plugins.md gives (``discover``); the code is in :mod:`.packs.registry`.

Kept because pack authors' scripts import it by this name (an external contract).
"""

from .packs.block_registry import Registry
from .packs.registry import discover

__all__ = ["Registry", "discover"]
