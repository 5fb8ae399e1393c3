"""dpg-blocks' shipped files: the example projects (``examples/``) and the embedded data (``data/``).

A package only so that the wheel carries it as ``dpg_blocks.assets`` (pyproject.toml maps the
name to this top-level folder); code finds it through :mod:`dpg_blocks.core.assets`.
"""
