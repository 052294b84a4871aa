"""Last-resort error handling: an uncaught exception shows a dialog and is logged; the app keeps running."""

from __future__ import annotations

import logging
import sys
import traceback
from typing import Callable

log = logging.getLogger("pixl.gui")

_previous_hook = None


def install_excepthook(show: Callable[[str, str], None]) -> None:
    """Route uncaught exceptions to ``show(title, message)`` (and the log) instead of killing the app."""
    global _previous_hook
    if _previous_hook is None:
        _previous_hook = sys.excepthook

    def hook(exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            (_previous_hook or sys.__excepthook__)(exc_type, exc, tb)
            return
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("unexpected error\n%s", details)
        try:
            show("Unexpected error", f"{exc_type.__name__}: {exc}\n\nThe error was logged; your work is kept.")
        except Exception:  # the handler itself must never raise
            log.exception("could not show the error dialog")

    sys.excepthook = hook


def uninstall_excepthook() -> None:
    """Restore the hook that was there before ``install_excepthook``."""
    global _previous_hook
    if _previous_hook is not None:
        sys.excepthook = _previous_hook
        _previous_hook = None
