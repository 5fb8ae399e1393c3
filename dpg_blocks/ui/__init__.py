"""The Dear PyGui editor. Imports core, protocol and blocks; never torch (DESIGN.md §2).

``run_editor`` lives in :mod:`dpg_blocks.ui.editor.app`; importing this package costs nothing.
"""
