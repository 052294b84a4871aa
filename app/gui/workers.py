"""Run engine jobs (converter, SD-piXL) off the GUI thread: a worker QObject moved to a QThread."""

from __future__ import annotations

import gc
import logging
import sys
import time
from typing import Any, Callable

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from engine.core.progress import Cancelled, CancelToken, Progress

log = logging.getLogger(__name__)

Job = Callable[[Callable[[Progress], None], CancelToken], Any]
MAX_UPDATES_PER_SECOND = 15.0
_orphans: list = []  # threads given up on by cancel_and_wait, kept referenced until they end


def describe_error(exc: BaseException) -> str:
    """A one-paragraph message for the user: what went wrong and what to try, in the app's words (no
    command-line flags: ``app.gui.wording.plain_words``)."""
    from app.gui.wording import plain_words

    return plain_words(_describe_error(exc))


def _describe_error(exc: BaseException) -> str:
    name = type(exc).__name__
    text = str(exc).strip()
    if isinstance(exc, MemoryError) or "out of memory" in text.lower() or name == "OutOfMemoryError":
        return ("Out of memory: the job needs more memory than is free. Try a smaller pattern size, fewer "
                "steps, or run on the CPU (Preferences).\n\nDetails: " + (text or name))
    if is_model_error(exc):
        plain = getattr(exc, "plain", "")  # ModelOfflineError: the same advice in plain words
        command = getattr(exc, "command", "")
        if plain:
            extra = f"\n\nOnce online, download it with:\n{command}" if command and command not in plain else ""
            return plain + extra
        return "The diffusion model could not be loaded. " + text + "\n\nCheck the model source in Preferences."
    from app.cli import is_user_error  # imported here: app.cli loads every command module

    if is_user_error(exc):  # the CLI's list of errors whose message is meant for the user
        return text or name
    return f"{name}: {text}" if text else name


def is_model_error(exc: BaseException | None) -> bool:
    """True for engine.sdpixl's ModelLoadError and its subclasses (ModelOfflineError), without importing torch."""
    return exc is not None and any(c.__name__ == "ModelLoadError" for c in type(exc).__mro__)


class EngineWorker(QObject):
    """Runs one job in its thread; emits throttled ``progress``, then ``finished``, ``cancelled`` or ``failed``
    (``errorRaised(exception)`` just before ``failed``, for callers that present some errors their own way)."""

    progress = Signal(object)
    finished = Signal(object)
    cancelled = Signal(object)
    failed = Signal(str)
    errorRaised = Signal(object)

    def __init__(self, job: Job, max_rate: float = MAX_UPDATES_PER_SECOND) -> None:
        super().__init__()
        self.job = job
        self.token = CancelToken()
        self.min_interval = 1.0 / max_rate if max_rate > 0 else 0.0
        self._last_emit = 0.0

    def _report(self, report: Progress) -> None:
        now = time.monotonic()
        final = report.pattern is not None or (report.total > 0 and report.step >= report.total)
        if not final and now - self._last_emit < self.min_interval:
            return  # drop: the GUI gets at most ~15 updates per second
        self._last_emit = now
        self.progress.emit(report)

    @Slot()
    def run(self) -> None:
        try:
            result = self.job(self._report, self.token)
        except Cancelled:
            self.cancelled.emit(None)
        except BaseException as exc:  # every failure reaches the GUI as a message
            log.warning("job failed", exc_info=True)
            self.errorRaised.emit(exc)
            self.failed.emit(describe_error(exc))
        else:
            if self.token.cancelled:
                self.cancelled.emit(result)  # engines that return the current pattern on cancel
            else:
                self.finished.emit(result)


class JobRunner(QObject):
    """Starts jobs in a fresh QThread, forwards the worker's signals, cancels and waits on request.

    Signals: ``progress(object)``, ``finished(object)``, ``cancelled(object)`` (partial result or None),
    ``failed(str)``, and ``stopped()`` once the thread has ended whatever the outcome. ``last_error`` is the
    exception of the last failed job (set before ``failed`` arrives), None after a job that did not fail.
    """

    progress = Signal(object)
    finished = Signal(object)
    cancelled = Signal(object)
    failed = Signal(str)
    stopped = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: EngineWorker | None = None
        self.last_error: BaseException | None = None

    def _on_error(self, exc: object) -> None:
        self.last_error = exc if isinstance(exc, BaseException) else None

    def is_running(self) -> bool:
        return self._thread is not None

    def start(self, job: Job) -> None:
        """Run ``job(progress, cancel)`` in a new thread; raises RuntimeError if one is already running."""
        if self._thread is not None:
            raise RuntimeError("a job is already running; stop it first")
        thread = QThread()
        worker = EngineWorker(job)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        self.last_error = None
        worker.errorRaised.connect(self._on_error)  # queued, so it arrives before ``failed``
        for source, target in ((worker.progress, self.progress), (worker.finished, self.finished),
                               (worker.cancelled, self.cancelled), (worker.failed, self.failed)):
            source.connect(target)  # queued into the GUI thread: the runner lives there
        for sig in (worker.finished, worker.cancelled, worker.failed):
            # direct: the thread must be able to end while the GUI thread is blocked in wait()
            sig.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        thread.finished.connect(self._on_thread_finished)
        self._thread, self._worker = thread, worker
        thread.start()

    def cancel(self) -> None:
        """Ask the running job to stop at its next step."""
        if self._worker is not None:
            self._worker.token.cancel()

    def wait(self, timeout_ms: int = 10000) -> bool:
        """Block until the thread ends (used on close); returns False on timeout.

        Polls with time.sleep, which releases the GIL: QThread.wait() would keep it and starve the worker.
        """
        thread = self._thread
        if thread is None:
            return True
        deadline = time.monotonic() + timeout_ms / 1000.0
        while not thread.isFinished():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        thread.wait()
        return True

    def cancel_and_wait(self, timeout_ms: int = 10000) -> bool:
        self.cancel()
        ok = self.wait(timeout_ms)
        self._cleanup()
        return ok

    def _on_thread_finished(self) -> None:
        self._cleanup()
        self.stopped.emit()

    def _cleanup(self) -> None:
        thread, worker = self._thread, self._worker
        if thread is not None and not thread.isFinished():
            # still running (a job that ignores cancel): keep the objects alive rather than destroy a live thread
            _orphans.append((thread, worker))
            thread.finished.connect(lambda: _orphans.remove((thread, worker)) if (thread, worker) in _orphans else None)
            self._thread = self._worker = None
            return
        self._thread = self._worker = None
        if worker is not None:
            worker.deleteLater()
        if thread is not None:
            thread.wait()
            thread.deleteLater()


def prefer_gui_thread(interval_s: float = 0.001) -> None:
    """Make Python hand the GIL over more often (default 5 ms) so the GUI thread waits less behind a worker."""
    sys.setswitchinterval(interval_s)


def freeze_startup_objects() -> None:
    """Move everything allocated so far (Qt, numpy, torch modules...) out of the cyclic GC's reach.

    A full collection triggered by a worker's allocations otherwise walks every object in the process
    while holding the GIL, freezing the GUI for tens to hundreds of milliseconds. Call once after start-up.
    """
    gc.collect()
    gc.freeze()
