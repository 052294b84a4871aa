"""Autosave and crash recovery that cannot be lost.

* One autosave per running window (``autosave/autosave-<pid>-<token>.pixl``), held by an exclusive lock on a
  ``.lock`` file beside it for the window's lifetime. A window only ever deletes its own autosave.
* At start-up, an autosave whose lock nobody holds belongs to a session that crashed or was killed: it is
  offered for restore. Restoring adopts it (it becomes this window's autosave); declining moves it to the
  ``recovered/`` folder, listed in File -> Recover, instead of deleting it.
* Saving serialises the pattern (npz, preview PNG, zip) in a worker thread and writes it atomically, so a big
  design never freezes the window.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

from app.gui.document import PatternDocument
from app.gui.settings import data_dir
from engine.core.pattern import Pattern, PatternError

try:  # POSIX advisory locks; elsewhere the owner's pid (in the file name) tells whether it is alive
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

AUTOSAVE_NAME = "autosave.pixl"  # the single shared autosave of older versions (still recovered)
AUTOSAVE_DIR = "autosave"
RECOVERED_DIR = "recovered"


def autosave_path() -> Path:
    """The legacy shared autosave file (older versions wrote it; it is still offered for recovery)."""
    return data_dir() / AUTOSAVE_NAME


def autosave_dir() -> Path:
    """Folder of the per-window autosaves (created on demand)."""
    folder = data_dir() / AUTOSAVE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def recovered_dir() -> Path:
    """Folder of autosaves the user declined to restore (listed in File -> Recover)."""
    folder = data_dir() / RECOVERED_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _lock_path(path: Path) -> Path:
    return path.with_suffix(".lock")


def _pid_of(path: Path) -> int | None:
    parts = path.stem.split("-")
    return int(parts[1]) if len(parts) >= 3 and parts[1].isdigit() else None


def _is_orphan(path: Path) -> bool:
    """True when no running instance holds the autosave's lock (its owner crashed or was killed)."""
    lock = _lock_path(path)
    if fcntl is None:
        pid = _pid_of(path)
        if pid is None or pid == os.getpid():
            return pid is None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # a live instance holds it
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


class _SaveJob(QRunnable):
    """Serialise and write one autosave off the GUI thread."""

    def __init__(self, saver: "Autosaver", pattern: Pattern, generation: int) -> None:
        super().__init__()
        self.saver, self.pattern, self.generation = saver, pattern, generation
        self.setAutoDelete(True)

    def run(self) -> None:
        saver = self.saver
        error = ""
        try:
            self.pattern.save(saver.path)
        except (OSError, PatternError, ValueError) as exc:
            error = str(exc)
            log.warning("autosave failed: %s", exc)
        with saver._lock:
            saver._in_flight = False
            if not error:
                saver._saved_generation = self.generation
        try:
            saver.finished.emit(str(saver.path), error)
        except RuntimeError:  # the window is gone
            pass


class Autosaver(QObject):
    """Every ``interval_s`` seconds, writes the document to this window's own autosave if it changed."""

    finished = Signal(str, str)  # path, error ("" on success); emitted after each background save

    def __init__(self, doc: PatternDocument, interval_s: int = 60, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self._saved_generation = -1
        self._in_flight = False
        self._lock = threading.Lock()
        self.path = autosave_dir() / f"autosave-{os.getpid()}-{secrets.token_hex(4)}.pixl"
        self._lock_fd: int | None = None
        self._take_lock()
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.save_now)
        self.set_interval(interval_s)
        self.timer.start()

    # ----------------------------------------------------------------- lock
    def _take_lock(self) -> None:
        if fcntl is None:
            return
        try:
            fd = os.open(_lock_path(self.path), os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._lock_fd = fd
        except OSError as exc:
            log.warning("cannot lock the autosave %s: %s", self.path, exc)

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                os.close(self._lock_fd)
            except OSError:
                pass
            self._lock_fd = None

    # ----------------------------------------------------------------- saving
    def set_interval(self, seconds: int) -> None:
        self.timer.setInterval(max(1, int(seconds)) * 1000)

    def save_now(self, block: bool = False) -> Path | None:
        """Start writing the autosave if the project is modified and changed since the last autosave.

        The pattern is copied here (cheap) and serialised in a worker thread; returns the autosave path when
        a save was started (``block=True`` waits for it to be written), None when there was nothing to do.
        """
        with self._lock:
            busy = self._in_flight
        if busy or self.doc.pattern is None or not self.doc.modified \
                or self.doc.generation == self._saved_generation:
            if block:
                self.wait()
            return None
        pattern = self.doc.pattern.copy()
        if self.doc.path is not None:
            pattern.metadata["autosave_of"] = str(self.doc.path)
        with self._lock:
            self._in_flight = True
        self.pool.start(_SaveJob(self, pattern, self.doc.generation))
        if block:
            self.wait()
        return self.path

    def wait(self, timeout_ms: int = 30000) -> bool:
        """Wait for a background save to finish; True when none is left running."""
        return self.pool.waitForDone(timeout_ms)

    def discard(self) -> None:
        """Remove this window's autosave (after a save or a clean exit); never another window's."""
        self.wait()
        self._saved_generation = -1
        try:
            self.path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("cannot remove autosave: %s", exc)

    def stop(self) -> None:
        """Stop the timer and let a running save finish."""
        self.timer.stop()
        self.wait()

    def close(self) -> None:
        """Clean exit: stop, remove this window's autosave, then release its lock."""
        self.stop()
        self.discard()
        self._release_lock()
        try:
            _lock_path(self.path).unlink(missing_ok=True)
        except OSError:
            pass

    def abandon(self) -> None:
        """Behave like a killed process: stop and release the lock, leaving the autosave for recovery."""
        self.stop()
        self._release_lock()

    def adopt(self, orphan: Path) -> None:
        """Make a crashed session's autosave this window's own (after restoring it)."""
        self.wait()
        try:
            os.replace(orphan, self.path)
            _lock_path(orphan).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("cannot adopt autosave %s: %s", orphan, exc)


# --------------------------------------------------------------------------- recovery
def pending_recoveries() -> list[Path]:
    """Autosaves left by sessions that did not exit cleanly (nobody holds their lock), newest first."""
    found = [p for p in autosave_dir().glob("autosave-*.pixl") if _is_orphan(p)]
    legacy = autosave_path()
    if legacy.is_file():
        found.append(legacy)

    def mtime(p: Path) -> float:
        try:
            return p.stat().st_mtime
        except OSError:
            return 0.0

    return sorted(found, key=mtime, reverse=True)


def pending_recovery() -> Path | None:
    """The newest autosave left by a session that did not exit cleanly, if any."""
    found = pending_recoveries()
    return found[0] if found else None


def keep_copy(path: Path) -> Path | None:
    """Move an autosave the user declined into the recovered folder (File -> Recover); returns the new path."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(path.stat().st_mtime if path.exists() else time.time()))
    target = recovered_dir() / f"recovered-{stamp}-{secrets.token_hex(2)}.pixl"
    try:
        os.replace(path, target)
        _lock_path(path).unlink(missing_ok=True)
    except OSError as exc:
        log.warning("cannot keep a copy of %s: %s", path, exc)
        return None
    return target


def recovered_files() -> list[Path]:
    """Autosaves kept when a restore was declined, newest first."""
    return sorted(recovered_dir().glob("*.pixl"), key=lambda p: p.name, reverse=True)


def load_recovery(path: Path) -> tuple[Pattern, Path | None]:
    """Read an autosave; returns the pattern and the project file it belonged to (if any)."""
    pattern = Pattern.load(path)
    original = pattern.metadata.pop("autosave_of", None)
    return pattern, (Path(original) if isinstance(original, str) and original else None)
