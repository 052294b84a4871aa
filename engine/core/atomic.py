"""Atomic file writes: write to a temp file beside the target, fsync, then rename over it.

A good citizen: the new file gets an existing file's mode (or the umask-derived default, like ``open``), a
symlink is written through to its target (the link stays a link), the file and the folder are fsynced, a full
disk is reported as such, and ``.part`` files left by a killed save are removed on the next save.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

log = logging.getLogger(__name__)

_PART_SUFFIX = ".part"
_STALE_SECONDS = 600  # a .part file without a live owner older than this is debris from a killed save
_umask_lock = threading.Lock()


class OutputPathError(OSError):
    """The output path cannot be written; the message names the path and what to do."""


def check_writable_dir(path: str | Path) -> Path:
    """Raise OutputPathError unless the folder of ``path`` exists and is writable."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputPathError(f"cannot write {path}: folder {folder} does not exist; create it or choose another")
    if not os.access(folder, os.W_OK):
        raise OutputPathError(f"cannot write {path}: folder {folder} is not writable; choose another folder")
    if path.is_dir():
        raise OutputPathError(f"cannot write {path}: it is a folder; give a file name")
    if path.exists() and not path.is_file():
        raise OutputPathError(f"cannot write {path}: it is not a regular file (a pipe or device); give a file name")
    return path


def resolve_target(path: str | Path) -> Path:
    """The file a write to ``path`` should replace: the final target when ``path`` is a symlink."""
    path = Path(path)
    if path.is_symlink():
        return Path(os.path.realpath(path))
    return path


def _current_umask() -> int:
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _target_mode(path: Path) -> int:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~_current_umask()


def _fsync_path(path: Path, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        if directory:  # some systems cannot open folders; the rename is still atomic
            return
        raise
    try:
        os.fsync(fd)
    except OSError as exc:
        if not directory or exc.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but not ours
        return True
    return True


def clean_stale_parts(path: str | Path) -> int:
    """Remove ``.part`` files left beside ``path`` by a killed save; returns how many were removed."""
    path = Path(path)
    removed = 0
    prefix = f".{path.name}."
    try:
        entries = list(os.scandir(path.parent if str(path.parent) else "."))
    except OSError:
        return 0
    now = time.time()
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(_PART_SUFFIX)):
            continue
        middle = name[len(prefix):-len(_PART_SUFFIX)]
        pid_text = middle.split(".", 1)[0]
        try:
            if pid_text.isdigit():
                stale = not _pid_alive(int(pid_text))
            else:
                stale = now - entry.stat(follow_symlinks=False).st_mtime > _STALE_SECONDS
            if stale and entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed += 1
        except OSError:
            continue
    if removed:
        log.info("removed %d stale temporary file(s) beside %s", removed, path)
    return removed


def describe_os_error(exc: OSError, path: str | Path) -> str:
    """One line for an OS error while writing ``path`` (disk full, read-only, permission...)."""
    code = exc.errno
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return f"disk full: cannot write {path}; free some space or choose another disk (the previous file is intact)"
    if code == errno.EROFS:
        return f"cannot write {path}: the disk is read-only; choose another folder"
    if code in (errno.EACCES, errno.EPERM):
        return f"cannot write {path}: permission denied; choose another folder or file name"
    return f"cannot write {path}: {exc.strerror or exc}"


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the target folder; on success it replaces ``path``.

    On any exception the temporary file is removed and ``path`` is left untouched. OS errors (disk full,
    permission) become OutputPathError naming ``path``.
    """
    shown = Path(path)
    path = check_writable_dir(resolve_target(path))
    clean_stale_parts(path)
    mode = _target_mode(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=_PART_SUFFIX, dir=str(path.parent))
        os.close(fd)
    except OSError as exc:
        raise OutputPathError(describe_os_error(exc, shown)) from None
    try:
        yield Path(tmp)
        os.chmod(tmp, mode)
        _fsync_path(Path(tmp))
        os.replace(tmp, path)
        _fsync_path(path.parent if str(path.parent) else Path("."), directory=True)
    except OutputPathError:
        raise
    except OSError as exc:
        if exc.errno is None:
            raise
        err = OutputPathError(describe_os_error(exc, shown))
        err.errno = exc.errno
        raise err from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write bytes atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write UTF-8 text atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))
