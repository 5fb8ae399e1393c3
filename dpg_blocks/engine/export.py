"""The scripting path docs/plugins.md gives (``write_export``); the code is in :mod:`.interop.export`.

Kept because pack authors' scripts import it by this name (an external contract).
"""

from .interop.export import ExportError, export_project, write_export

__all__ = ["ExportError", "export_project", "write_export"]
