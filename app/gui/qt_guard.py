"""Guard against a reference-count bug in some PySide6 builds on Python 3.11.

PySide6 6.12.0 (shiboken6 6.12.0) returns ``None`` from every void method (``QPainter.drawLine``,
``QPen.setWidth``...) without taking a reference, which is harmless on Python 3.12+ where ``None`` is immortal
(PEP 683), but on 3.11 each call lowers ``None``'s reference count by one. The count starts at a few tens of
thousands, so after enough painting (a zoomed-in grid draws hundreds of lines per frame) it reaches zero and the
interpreter aborts with "Fatal Python error: none_dealloc". :func:`protect_none` measures whether the installed
binding has the bug and, only then, gives ``None`` a reference count so large that it can never run out - what
Python 3.12 does for every immortal object.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

_RESERVE = 1 << 60  # references added to None: more void calls than any session can make
_protected = False


def binding_drops_none(calls: int = 200) -> bool:
    """True when a void PySide6 call lowers ``None``'s reference count (the binding bug)."""
    from PySide6.QtCore import QPointF

    point = QPointF()
    before = sys.getrefcount(None)
    for _ in range(calls):
        point.setX(1.0)
    return before - sys.getrefcount(None) >= calls // 2


def protect_none() -> bool:
    """Make ``None`` effectively immortal when the binding has the bug (CPython < 3.12, release build).

    Returns True when the protection is (already) in place.
    """
    global _protected
    if _protected:
        return True
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython" or hasattr(sys, "gettotalrefcount"):
        return False  # immortal None, another interpreter, or a debug build with another object layout
    if not binding_drops_none():
        return False
    before = sys.getrefcount(None)
    refcnt = ctypes.c_ssize_t.from_address(id(None))  # ob_refcnt is the first field of every object
    refcnt.value += _RESERVE
    if sys.getrefcount(None) - before != _RESERVE:  # not the layout we expected: undo, change nothing
        refcnt.value -= _RESERVE
        return False
    log.info("PySide6 void calls drop references to None; None protected")
    _protected = True
    return True
