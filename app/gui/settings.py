"""Persistent user settings (QSettings) and the app's data folder."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

ORGANIZATION = "piXL"
APPLICATION = "piXL Studio"
MAX_RECENT = 8


def settings() -> QSettings:
    """The app's QSettings (INI format, so tests can redirect it with XDG_CONFIG_HOME / QSettings.setPath)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def data_dir() -> Path:
    """Folder for autosaves and logs: $PIXL_DATA_DIR first, else Qt's AppDataLocation. Created on demand."""
    env = os.environ.get("PIXL_DATA_DIR")
    if env:
        folder = Path(env)
    else:
        loc = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
        folder = Path(loc) if loc else Path.home() / ".pixl-studio"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _as_list(value) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def owned_codes(palette_key: str) -> list[str] | None:
    """Colour codes the user ticked as owned for this palette; None when never set (= all owned)."""
    s = settings()
    key = f"owned/{palette_key}"
    if not s.contains(key):
        return None
    return _as_list(s.value(key))


def set_owned_codes(palette_key: str, codes: list[str] | None) -> None:
    """Remember the owned colours for a palette (None forgets the choice = all owned)."""
    s = settings()
    key = f"owned/{palette_key}"
    if codes is None:
        s.remove(key)
    else:
        # store a marker-safe list: an empty list must stay distinguishable from "never set"
        s.setValue(key, list(codes) if codes else "")
    s.sync()


def recent_files() -> list[str]:
    """Recently opened or saved project files, newest first."""
    return _as_list(settings().value("recentFiles"))


def add_recent_file(path: str | Path) -> list[str]:
    """Put ``path`` at the top of the recent list and return the new list."""
    p = str(Path(path).resolve())
    files = [f for f in recent_files() if f != p]
    files.insert(0, p)
    files = files[:MAX_RECENT]
    s = settings()
    s.setValue("recentFiles", files)
    s.sync()
    return files


def value(key: str, default=None, type_=None):
    """Read one setting with an optional type conversion (QSettings INI stores strings)."""
    v = settings().value(key, default)
    if type_ is None or v is None:
        return v
    if type_ is bool:
        return v if isinstance(v, bool) else str(v).lower() in ("1", "true", "yes")
    try:
        return type_(v)
    except (TypeError, ValueError):
        return default


def set_value(key: str, v) -> None:
    """Write one setting."""
    s = settings()
    s.setValue(key, v)
    s.sync()


def string_list(key: str) -> list[str]:
    """A setting holding a list of strings (INI files store one-element lists as plain strings)."""
    return _as_list(settings().value(key))


def included_finishes(palette_key: str) -> list[str]:
    """Speciality finishes (pearl, neon...) the user included for this palette; [] = solid colours only."""
    return _as_list(settings().value(f"finishes/{palette_key}"))


def set_included_finishes(palette_key: str, finishes: list[str]) -> None:
    """Remember the included speciality finishes of a palette ([] forgets them)."""
    s = settings()
    if finishes:
        s.setValue(f"finishes/{palette_key}", list(finishes))
    else:
        s.remove(f"finishes/{palette_key}")
    s.sync()


def stash_text(palette_key: str) -> str:
    """The "In stock" counts of a palette as ``code,count`` CSV text ('' when none are tracked)."""
    v = settings().value(f"stash/{palette_key}", "")
    return v if isinstance(v, str) else "\n".join(_as_list(v))


def set_stash_text(palette_key: str, text: str) -> None:
    """Remember the "In stock" counts of a palette (CSV text from engine.convert.stash.format_stash; '' forgets)."""
    s = settings()
    if text:
        s.setValue(f"stash/{palette_key}", text)
    else:
        s.remove(f"stash/{palette_key}")
    s.sync()
