"""The user's editor preferences: recent files and font size, one JSON file in the user folder.

``<user folder>/prefs.json``: ``{"format": 1, "recent": [paths, newest first], "font_scale": 1.0}``.
No Dear PyGui here, so tests read and write it directly. A file that cannot be read is never
fatal: :attr:`Preferences.problem` says why (the editor shows it in the status bar), the
defaults are used, and the bad file is kept beside the new one as ``prefs.json.bad``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dpg_blocks.core.atomic_file import write_text_atomic
from dpg_blocks.core.user.folder import user_dir

PREFS_FORMAT = 1
MAX_RECENT = 10
DEFAULT_FONT_SCALE = 1.0
FONT_SCALES = (0.9, 1.0, 1.15, 1.3, 1.5)
MIN_FONT_SCALE, MAX_FONT_SCALE = 0.5, 3.0


def prefs_file() -> Path:
    """Where the preferences live."""
    return user_dir() / "prefs.json"


def _key(path: str) -> str:
    """One spelling per file: ``a/../b.dpgb`` and a symlink to it count as the same entry."""
    try:
        return str(Path(path).expanduser().resolve())
    except (OSError, RuntimeError):
        return str(Path(path).expanduser().absolute())


class Preferences:
    """Recent files (newest first, at most :data:`MAX_RECENT`) and the font scale."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else prefs_file()
        self.recent: list[str] = []
        self.font_scale = DEFAULT_FONT_SCALE
        self.problem = ""  # why the file could not be read or written ("" when all is well)

    # -- the file ----------------------------------------------------------------------------
    @classmethod
    def load(cls, path: Path | None = None) -> Preferences:
        """Read the preferences; an unreadable file gives the defaults and sets :attr:`problem`."""
        prefs = cls(path)
        try:
            raw = prefs.path.read_bytes()
        except FileNotFoundError:
            return prefs
        except OSError as e:
            prefs.problem = f"cannot read the preferences ({prefs.path}: {e}); using the defaults"
            return prefs
        try:
            data = json.loads(raw.decode("utf-8"))  # UnicodeDecodeError is a ValueError too
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            prefs._read(data)
        except ValueError as e:
            prefs.recent, prefs.font_scale = [], DEFAULT_FONT_SCALE
            prefs.problem = f"the preferences file {prefs.path} was unreadable ({e}); it was replaced by the defaults"
            try:  # keep the bad file for whoever wants to look at it, then write good defaults
                prefs.path.replace(prefs.path.with_name(prefs.path.name + ".bad"))
            except OSError:
                pass
            prefs.save()
        return prefs

    def _read(self, data: dict[str, Any]) -> None:
        recent = data.get("recent", [])
        if not isinstance(recent, list):
            raise ValueError('"recent" is not a list')
        seen: set[str] = set()
        for p in recent:
            if isinstance(p, str) and p and _key(p) not in seen:
                seen.add(_key(p))
                self.recent.append(_key(p))
        del self.recent[MAX_RECENT:]
        scale = data.get("font_scale", DEFAULT_FONT_SCALE)
        if isinstance(scale, int | float) and not isinstance(scale, bool) and MIN_FONT_SCALE <= scale <= MAX_FONT_SCALE:
            self.font_scale = float(scale)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"format": PREFS_FORMAT, "recent": list(self.recent), "font_scale": self.font_scale}

    def save(self) -> bool:
        """Write atomically; a failure sets :attr:`problem` and returns False (never raises)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.path, json.dumps(self.to_dict(), indent=1, ensure_ascii=False))
        except OSError as e:
            self.problem = f"cannot save the preferences ({self.path}: {e})"
            return False
        return True

    # -- recent files ------------------------------------------------------------------------
    def add_recent(self, path: str) -> None:
        """Put ``path`` first (once), drop the oldest beyond :data:`MAX_RECENT`, and save."""
        key = _key(path)
        self.recent = [key] + [p for p in self.recent if p != key]
        del self.recent[MAX_RECENT:]
        self.save()

    def remove_recent(self, path: str) -> None:
        """Forget ``path`` (e.g. it could not be opened) and save."""
        key = _key(path)
        if key in self.recent:
            self.recent.remove(key)
            self.save()

    def clear_recent(self) -> None:
        """Forget every recent file and save."""
        self.recent = []
        self.save()

    def recent_files(self) -> list[str]:
        """The recent files that still exist, newest first (missing ones are forgotten)."""
        kept = [p for p in self.recent if Path(p).is_file()]
        if kept != self.recent:
            self.recent = kept
            self.save()
        return list(kept)

    # -- font --------------------------------------------------------------------------------
    def set_font_scale(self, scale: float) -> None:
        """Remember the font scale (clamped to a sane range) and save."""
        self.font_scale = min(MAX_FONT_SCALE, max(MIN_FONT_SCALE, float(scale)))
        self.save()
