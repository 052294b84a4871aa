"""Run CPU-bound engine jobs in a child process, so their Python loops never starve the GUI thread.

A job in a thread shares the GIL with the GUI; the fast converter's per-cell Python loops (error
diffusion) take and release the GIL so often that the GUI thread can wait hundreds of milliseconds
for it. In a child process the GUI keeps its own interpreter. The child reports Progress through a
queue and watches a shared cancel flag; Stop that the job does not honour within ``kill_after``
seconds terminates the child, so Stop always ends a conversion within about a second.

This module has no Qt: it is called from the worker thread (see ``app.gui.workers``).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import pickle
import queue
import time
from typing import Any, Callable

from engine.core.progress import Cancelled, CancelToken, Progress

log = logging.getLogger(__name__)

_context = None
PRELOAD = ["engine.convert.pipeline"]


def context():
    """The multiprocessing context: a fork server (engine preloaded) where available, else spawn."""
    global _context
    if _context is None:
        method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        _context = mp.get_context(method)
        if method == "forkserver":
            _context.set_forkserver_preload(PRELOAD)
    return _context


def warm_up() -> None:
    """Start the fork server now (it imports the engine in the background) so the first job starts fast."""
    ctx = context()
    if ctx.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        try:
            forkserver.ensure_running()
        except OSError as exc:  # not fatal: the first job will try again
            log.warning("could not start the job server: %s", exc)


def _child_convert(image, palette, config, q, cancel_event) -> None:
    """Child process body: run the converter, sending ('progress'|'result'|'cancelled'|'error', payload)."""
    from engine.convert.pipeline import convert_image

    token = CancelToken(cancel_event)  # the shared flag the parent sets

    def progress(report: Progress) -> None:
        q.put(("progress", report))

    try:
        q.put(("result", convert_image(image, palette, config, progress=progress, cancel=token)))
    except Cancelled:
        q.put(("cancelled", None))
    except BaseException as exc:  # every failure goes back to the parent as an exception object
        try:
            pickle.dumps(exc)
        except Exception:
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        q.put(("error", exc))


def run_in_process(target: Callable, args: tuple, progress: Callable[[Progress], None] | None,
                   cancel: CancelToken | None, kill_after: float = 1.0) -> Any:
    """Run ``target(*args, queue, cancel_event)`` in a child process and relay its messages.

    Returns the child's result; raises ``Cancelled`` when stopped (terminating the child if it does not
    stop within ``kill_after`` seconds) and re-raises the child's exception on failure.
    """
    ctx = context()
    q = ctx.Queue()
    cancel_event = ctx.Event()
    proc = ctx.Process(target=target, args=(*args, q, cancel_event), daemon=True, name="pixl-job")
    proc.start()
    cancel_since: float | None = None
    try:
        while True:
            if cancel is not None and cancel.cancelled and cancel_since is None:
                cancel_event.set()
                cancel_since = time.monotonic()
            if cancel_since is not None and time.monotonic() - cancel_since > kill_after:
                proc.terminate()
                raise Cancelled("stopped by the user")
            try:
                kind, payload = q.get(timeout=0.05)
            except queue.Empty:
                if proc.is_alive():
                    continue
                try:  # the child may have exited right after its last message
                    kind, payload = q.get(timeout=0.5)
                except queue.Empty:
                    raise RuntimeError(f"the job process ended unexpectedly (exit code {proc.exitcode})") from None
            if kind == "progress":
                if progress is not None:
                    progress(payload)
            elif kind == "result":
                return payload
            elif kind == "cancelled":
                raise Cancelled("stopped by the user")
            else:
                raise payload
    finally:
        proc.join(timeout=2.0)
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=2.0)
        q.close()
        q.join_thread()


def convert_in_process(image, palette, config, progress=None, cancel=None):
    """``engine.convert.pipeline.convert_image`` in a child process (same arguments, same result and errors)."""
    return run_in_process(_child_convert, (image, palette, config), progress, cancel)
