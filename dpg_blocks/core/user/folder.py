"""The user's own folder: the block library, the trust records and the user plugin folder.

It is ``platformdirs.user_data_dir("dpg-blocks")`` unless the ``DPG_BLOCKS_USER_DIR``
environment variable names another folder (tests point it at a temporary folder so they never
touch the real one). platformdirs is imported only when the folder is first needed, so the
core still imports nothing outside the standard library.
"""

from __future__ import annotations

import os
from pathlib import Path

USER_DIR_ENV = "DPG_BLOCKS_USER_DIR"
APP_NAME = "dpg-blocks"


def user_dir() -> Path:
    """The dpg-blocks folder of this user (not created here)."""
    override = os.environ.get(USER_DIR_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME))


def library_dir() -> Path:
    """Where saved blocks and SuperBlocks live (one ``.dpgblock`` file each)."""
    return user_dir() / "library"


def trust_file() -> Path:
    """The file that records which projects' code this user trusts."""
    return user_dir() / "trust.json"


def plugins_dir() -> Path:
    """The user plugin folder."""
    return user_dir() / "plugins"
