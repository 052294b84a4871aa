"""Autosave of the open project to the data folder, and crash recovery at start-up."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, QTimer

from app.gui.document import PatternDocument
from app.gui.settings import data_dir
from engine.core.pattern import Pattern, PatternError

log = logging.getLogger(__name__)

AUTOSAVE_NAME = "autosave.pixl"


def autosave_path() -> Path:
    """Where the autosave lives ($PIXL_DATA_DIR or the app data folder)."""
    return data_dir() / AUTOSAVE_NAME


class Autosaver(QObject):
    """Every ``interval_s`` seconds, writes the document to the autosave file if it changed and is unsaved."""

    def __init__(self, doc: PatternDocument, interval_s: int = 60, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self._saved_generation = -1
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.save_now)
        self.set_interval(interval_s)
        self.timer.start()

    def set_interval(self, seconds: int) -> None:
        self.timer.setInterval(max(1, int(seconds)) * 1000)

    def save_now(self) -> Path | None:
        """Write the autosave if the project is modified and changed since the last autosave."""
        if self.doc.pattern is None or not self.doc.modified or self.doc.generation == self._saved_generation:
            return None
        path = autosave_path()
        pattern = self.doc.pattern.copy()
        if self.doc.path is not None:
            pattern.metadata["autosave_of"] = str(self.doc.path)
        try:
            pattern.save(path)
        except (OSError, PatternError) as exc:
            log.warning("autosave failed: %s", exc)
            return None
        self._saved_generation = self.doc.generation
        return path

    def discard(self) -> None:
        """Remove the autosave (after a save or a clean exit)."""
        self._saved_generation = -1
        try:
            autosave_path().unlink(missing_ok=True)
        except OSError as exc:
            log.warning("cannot remove autosave: %s", exc)

    def stop(self) -> None:
        self.timer.stop()


def pending_recovery() -> Path | None:
    """The autosave left by a session that did not exit cleanly, if any."""
    path = autosave_path()
    return path if path.is_file() else None


def load_recovery(path: Path) -> tuple[Pattern, Path | None]:
    """Read an autosave; returns the pattern and the project file it belonged to (if any)."""
    pattern = Pattern.load(path)
    original = pattern.metadata.pop("autosave_of", None)
    return pattern, (Path(original) if original else None)
