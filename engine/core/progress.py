"""Progress reports and cancellation shared by every long-running engine job (Qt-free)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


class Cancelled(Exception):
    """Raised inside a job when its CancelToken was set; the job's partial state is discarded safely."""


class CancelToken:
    """A thread-safe flag a GUI or CLI sets to stop a job between steps."""

    def __init__(self, event: Any = None) -> None:
        """``event`` may be any Event-like object (e.g. a multiprocessing.Event shared with a child process)."""
        self._event = event if event is not None else threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled by the user")


@dataclass
class Progress:
    """One progress report: where the job is, its losses, and optionally a preview image.

    ``preview`` is an H x W x 3 uint8 sRGB array (cells, not screen pixels) or None.
    ``pattern`` is set on the final report (a Pattern), else None.
    """

    step: int
    total: int
    message: str = ""
    losses: dict[str, float] = field(default_factory=dict)
    elapsed: float = 0.0
    eta: float | None = None
    preview: np.ndarray | None = None
    pattern: Any = None

    @property
    def fraction(self) -> float:
        return 0.0 if self.total <= 0 else min(1.0, self.step / self.total)


ProgressCallback = Callable[[Progress], None]
