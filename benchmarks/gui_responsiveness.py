"""How responsive the GUI stays while engine jobs run in the worker thread.

A QTimer fires every few milliseconds on the GUI thread; we record how late each tick arrives while
(1) nothing runs (baseline), (2) a long fast-converter job runs (large size, Floyd-Steinberg, cleanup),
(3) a tiny SD-piXL optimisation runs on the CPU (when diffusers is installed). Phase (2) runs twice:
with the converter in the worker thread (baseline) and in a child process (what the app does). Live previews go to the
canvas as in real use. Prints worst and p99 tick delay in ms per phase (goal: worst < 50 ms).

Then (issue 13) frame times on a large pattern: 290x290 cells (100 midi boards) of random Perler colours (the
worst case for caching), zoom in/out around the cursor, pan with the middle button and a pencil stroke, each step
sent as real mouse/wheel events; a zoom step repaints the whole canvas synchronously (``repaint``), a pan or pencil
step is timed until Qt has painted what it scheduled (``processEvents``: the scrolled-in strips, the dirty cells).
Goal: < 16 ms per frame. ``--frames-only`` runs just this part.

    QT_QPA_PLATFORM=offscreen python benchmarks/gui_responsiveness.py [--seconds 4] [--interval 5] [--frames-only]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


class TickProbe:
    """Counts how late a fast periodic QTimer fires: lateness = gap between ticks - interval."""

    def __init__(self, interval_ms: int) -> None:
        self.interval = interval_ms
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.clock = QElapsedTimer()
        self.delays: list[float] = []
        self.times: list[float] = []
        self._last: float | None = None

    def now(self) -> float:
        return self.clock.nsecsElapsed() / 1e6

    def _tick(self) -> None:
        now = self.now()
        if self._last is not None:
            self.delays.append(max(0.0, now - self._last - self.interval))
            self.times.append(now)
        self._last = now

    def start(self) -> None:
        self.delays, self.times, self._last = [], [], None
        self.clock.start()
        self.timer.start()

    def stop(self) -> list[float]:
        self.timer.stop()
        return self.delays


def spin(seconds: float, until=None) -> None:
    """Run the Qt event loop for ``seconds`` (or until ``until()`` is true), sleeping between events."""
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    poll = QTimer()
    if until is not None:
        poll.timeout.connect(lambda: until() and loop.quit())
        poll.start(20)
    loop.exec()
    poll.stop()


def report(name: str, delays: list[float], extra: str = "") -> dict:
    arr = np.asarray(delays) if delays else np.zeros(1)
    worst, p99 = float(arr.max()), float(np.percentile(arr, 99))
    print(f"{name:<56} ticks {len(delays):5d}  worst {worst:7.1f} ms  p99 {p99:6.1f} ms  {extra}")
    return {"worst": worst, "p99": p99}


def run_phase(window, probe: TickProbe, start_job, seconds: float) -> tuple[list[float], list[float], str]:
    """Start a job (again whenever it ends, until ``seconds`` pass) and measure ticks meanwhile.

    Returns all tick delays, the delays after the first progress report (the steady state, without
    one-off start-up work such as loading a model), and a summary line.
    """
    first_report: list[float] = []

    def on_progress(_report) -> None:
        first_report.append(probe.now())

    window.runner.progress.connect(on_progress)
    runs = 0
    probe.start()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        if not window.runner.is_running():
            if not start_job():
                break
            runs += 1
        spin(0.05)
    window.stop_run()
    t0 = time.perf_counter()
    spin(30, until=lambda: not window.runner.is_running())
    stop_ms = (time.perf_counter() - t0) * 1000
    delays = probe.stop()
    window.runner.progress.disconnect(on_progress)
    steady = [d for d, t in zip(delays, probe.times) if first_report and t > first_report[0]]
    return delays, steady, f"runs {runs}, progress reports {len(first_report)}, Stop took {stop_ms:.0f} ms"


def _mouse(widget, kind, pos, button, buttons) -> None:
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent

    types = {"press": QEvent.Type.MouseButtonPress, "move": QEvent.Type.MouseMove,
             "release": QEvent.Type.MouseButtonRelease}
    p = QPointF(pos)
    ev = QMouseEvent(types[kind], p, widget.mapToGlobal(p), button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, ev)


def _wheel(widget, pos, steps: int) -> None:
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent

    p = QPointF(pos)
    ev = QWheelEvent(p, widget.mapToGlobal(p), QPoint(), QPoint(0, 120 * steps), Qt.MouseButton.NoButton,
                     Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, ev)


def frame_times(window, cells: int = 290, frames: int = 80) -> dict[str, list[float]]:
    """ms per frame (event handling + synchronous repaint) for zoom, pan and pencil on a cells x cells pattern."""
    from PySide6.QtCore import QPointF, Qt

    from engine.core.palette_io import load_palette
    from engine.core.pattern import Pattern

    pal = load_palette("perler")
    rng = np.random.default_rng(0)
    window.doc.reset(Pattern(rng.integers(0, len(pal), size=(cells, cells)), pal))
    c = window.canvas
    spin(0.2)
    c.repaint()
    out: dict[str, list[float]] = {"zoom": [], "pan": [], "pencil": []}
    centre = QPointF(c.width() / 2, c.height() / 2)

    def timed(name, fn, full: bool = True) -> None:
        t0 = time.perf_counter()
        fn()
        if full:
            c.repaint()  # zoom and pan change every pixel
        else:
            QApplication.processEvents()  # what the app paints after an edit: the pending (dirty) update
        out[name].append((time.perf_counter() - t0) * 1000)

    c.fit()
    for i in range(frames):  # in and out between fit and about 20 px per cell
        timed("zoom", lambda i=i: _wheel(c, centre, 1 if (i // 10) % 2 == 0 else -1))
    c.set_scale(12.0, centre)  # grid visible
    c.repaint()
    M, L, NB = Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    _mouse(c, "press", centre, M, M)
    for i in range(frames):
        pos = centre + QPointF(3 * ((i % 40) - 20), 2 * ((i % 30) - 15))
        timed("pan", lambda pos=pos: _mouse(c, "move", pos, NB, M), full=False)
    _mouse(c, "release", centre, M, NB)
    window.set_tool("pencil")
    window.edit.set_color(3)
    start = c.cell_center(cells // 2, cells // 2 - frames // 2)
    _mouse(c, "press", start, L, L)
    for i in range(frames):
        pos = start + QPointF(i * c.scale, (i % 3) * c.scale)
        timed("pencil", lambda pos=pos: _mouse(c, "move", pos, NB, L), full=False)
    _mouse(c, "release", start, L, NB)
    painted = int((window.doc.pattern.index[cells // 2: cells // 2 + 3, cells // 2 - frames // 2:] == 3).sum())
    assert painted >= frames * 0.9, f"the pencil stroke painted only {painted} cells"
    assert np.array_equal(c.grab_pixels()[..., :3], window.doc.pattern.to_rgb()), "canvas and pattern differ"
    window.doc.undo_stack.setClean()
    blank = type(c)()  # the floor on this machine: an empty canvas of the same size, repainted
    blank.resize(c.size())
    blank.show()
    spin(0.1)
    out["blank canvas (floor)"] = []
    for _ in range(20):
        t0 = time.perf_counter()
        blank.repaint()
        out["blank canvas (floor)"].append((time.perf_counter() - t0) * 1000)
    blank.close()
    return out


def report_frames(times: dict[str, list[float]], cells: int) -> None:
    print(f"frame time on a {cells}x{cells} pattern (event + synchronous repaint), goal < 16 ms:")
    for name, ts in times.items():
        arr = np.asarray(ts)
        verdict = "OK" if np.percentile(arr, 95) < 16 else "over the 16 ms goal"
        print(f"  {name:<20} median {np.median(arr):6.2f} ms  p95 {np.percentile(arr, 95):6.2f} ms  "
              f"worst {arr.max():6.2f} ms  ({len(arr)} frames, {verdict} at p95)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=6.0, help="measuring time per phase")
    ap.add_argument("--interval", type=int, default=5, help="probe timer interval in ms")
    ap.add_argument("--size", type=int, default=200, help="converter pattern width in cells")
    ap.add_argument("--no-sdpixl", action="store_true", help="skip the tiny SD-piXL phase")
    ap.add_argument("--frames-only", action="store_true", help="only the large-pattern frame times")
    ap.add_argument("--frame-cells", type=int, default=290, help="pattern side for the frame times")
    ap.add_argument("--default-switch-interval", action="store_true",
                    help="keep Python's 5 ms GIL switch interval (run_gui lowers it to 1 ms)")
    ap.add_argument("--no-gc-freeze", action="store_true",
                    help="do not freeze start-up objects out of the cyclic GC (run_gui does)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="pixl-bench-"))
    os.environ["PIXL_DATA_DIR"] = str(tmp / "data")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "settings"))
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from app.gui.main_window import MainWindow
    from app.gui.workers import freeze_startup_objects, prefer_gui_thread

    if not args.default_switch_interval:
        prefer_gui_thread()  # as run_gui does

    w = MainWindow()
    if not args.no_gc_freeze:
        freeze_startup_objects()  # as run_gui does
    w.show_error = lambda title, msg: print(f"  error dialog: {title}: {msg}")
    w.ask_save_changes = lambda: __import__("PySide6.QtWidgets").QtWidgets.QMessageBox.StandardButton.Discard
    w.resize(1400, 860)
    w.show()
    spin(0.3)
    if args.frames_only:
        report_frames(frame_times(w, args.frame_cells), args.frame_cells)
        w.close()
        return 0
    probe = TickProbe(args.interval)
    print(f"GUI event-loop delay, timer every {args.interval} ms, {args.seconds:.0f} s per phase, "
          f"{os.cpu_count()} CPUs, platform {app.platformName()}, GIL switch {sys.getswitchinterval() * 1000:g} ms")

    probe.start()
    spin(args.seconds)
    base = report("idle (baseline)", probe.stop())

    w.load_image_file(ROOT / "resources" / "samples" / "chelsea.jpg")
    w.palette_panel.select_palette("perler")
    panel = w.input_panel
    panel.keep_aspect.setChecked(True)
    panel.width_spin.setValue(args.size)
    panel.cleanup.setValue(50)  # percent
    panel.set_mode("fast")
    results = {}
    import app.gui.run_controller as run_controller

    for in_process in (False, True):
        run_controller.CONVERT_IN_PROCESS = in_process
        where = "process" if in_process else "thread"
        for dither in ("none", "floyd-steinberg"):
            panel.dither.set_value(dither)
            delays, _steady, extra = run_phase(w, probe, w.start_run, args.seconds)
            name = f"converter in {where}, dither={dither}"
            results[name] = report(f"{name} ({panel.cells()[0]}x{panel.cells()[1]})", delays, extra)

    if not args.no_sdpixl:
        try:
            from tests.tiny_models import make_tiny_sd15

            model = make_tiny_sd15(tmp / "tiny-sd15")
        except Exception as exc:  # diffusers missing or broken: skip this phase
            print(f"tiny SD-piXL phase skipped: {exc}")
        else:
            w.prefs.device = "cpu"
            panel.set_mode("sdpixl")
            panel.keep_aspect.setChecked(False)
            panel.width_spin.setValue(16)
            panel.height_spin.setValue(16)
            panel.prompt.setPlainText("a cat")
            panel.steps.setValue(100000)
            panel.model.setText(str(model))
            delays, steady, extra = run_phase(w, probe, w.start_run, args.seconds)
            report("tiny SD-piXL 16x16, whole run", delays, extra)
            results["sd-pixl steps"] = report("tiny SD-piXL, after model load", steady)

    print()
    report_frames(frame_times(w, args.frame_cells), args.frame_cells)
    print()
    for name, r in results.items():
        if r:
            ratio = r["p99"] / max(base["p99"], 0.1)
            verdict = "OK" if r["worst"] < 50 else "over the 50 ms goal"
            print(f"{name:<42} worst {r['worst']:6.1f} ms ({verdict}); p99 {r['p99']:5.1f} ms = {ratio:.1f}x idle p99")
    w.doc.undo_stack.setClean()
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
