"""Atomic file writes: write to a temp file beside the target, then rename over it."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


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
    return path


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the target folder; on success it replaces ``path``.

    On any exception the temporary file is removed and ``path`` is left untouched.
    """
    path = check_writable_dir(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=str(path.parent))
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write bytes atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write UTF-8 text atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
