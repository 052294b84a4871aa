"""Smaller GUI pieces: worker throttling and outcomes, error messages, export dialog, preferences, autosave."""

from __future__ import annotations

import numpy as np
import pytest

from tests.gui_support import make_window


def _run(qtbot, job):
    from app.gui.workers import JobRunner

    runner = JobRunner()
    seen = {"progress": [], "finished": [], "cancelled": [], "failed": []}
    for name in seen:
        getattr(runner, name).connect(seen[name].append)
    with qtbot.waitSignal(runner.stopped, timeout=10000):
        runner.start(job)
    return runner, seen


def test_worker_throttles_progress_but_delivers_the_last(qtbot):
    from engine.core.progress import Progress

    def job(progress, cancel):
        for i in range(1, 2001):
            progress(Progress(i, 2000, preview=np.zeros((4, 4, 3), np.uint8)))
        return "result"

    runner, seen = _run(qtbot, job)
    steps = [r.step for r in seen["progress"]]
    assert steps[-1] == 2000 and len(steps) < 50  # 2000 reports in a burst -> a handful reach the GUI
    assert seen["finished"] == ["result"] and not seen["failed"]
    assert not runner.is_running()


def test_worker_outcomes_cancel_and_failure(qtbot):
    import threading

    from engine.core.progress import Progress

    started = threading.Event()

    def long_job(progress, cancel):
        started.set()
        for i in range(10**6):
            cancel.raise_if_cancelled()
            progress(Progress(i, 10**6))
            threading.Event().wait(0.001)

    from app.gui.workers import JobRunner

    runner = JobRunner()
    cancelled = []
    runner.cancelled.connect(cancelled.append)
    runner.start(long_job)
    assert started.wait(5)
    with pytest.raises(RuntimeError):
        runner.start(long_job)  # one job at a time
    with qtbot.waitSignal(runner.stopped, timeout=5000):
        runner.cancel()
    assert cancelled == [None]

    def failing(progress, cancel):
        raise MemoryError("CUDA out of memory. Tried to allocate 2 GiB")

    _runner, seen = _run(qtbot, failing)
    assert len(seen["failed"]) == 1 and "Out of memory" in seen["failed"][0]
    assert "smaller" in seen["failed"][0] and not seen["finished"]


def test_describe_error_names_the_problem():
    from app.gui.workers import describe_error
    from engine.core.image_io import ImageLoadError

    assert describe_error(ImageLoadError("cat.png is not a picture")) == "cat.png is not a picture"
    assert describe_error(ValueError("bad")) == "ValueError: bad"
    try:
        from engine.sdpixl.guidance.loading import ModelLoadError
    except ImportError:
        return
    msg = describe_error(ModelLoadError("model folder /x not found"))
    assert "/x not found" in msg and "Preferences" in msg


def test_export_dialog_lists_formats_and_builds_paths(qtbot, tmp_path):
    # The dialog lists every registered format (the pattern's medium first) and names one file per ticked
    # format in the chosen folder; the free-text option box became one widget per exporter option (issue 13).
    from app.gui.export_dialog import ExportDialog, default_options, export_formats, suffix_for
    from exporters.common.errors import ExportError
    from exporters.common.registry import all_formats

    dlg = ExportDialog(None, tmp_path, "cat")
    qtbot.addWidget(dlg)
    listed = dlg.all_formats()
    assert sorted(listed) == sorted(all_formats()) == sorted(export_formats())
    names = {"bead-pdf": "cat-beads.pdf", "parts-csv": "cat-parts.csv", "bricklink-xml": "cat-bricklink.xml",
             "png": "cat.png"}  # issue 20: each default name says what the file is
    for fmt, name in names.items():
        dlg.select_format(fmt)
        assert dlg.paths() == {fmt: tmp_path / name}
    assert suffix_for("bead-pdf") == ".pdf" and suffix_for("counts-csv") == ".csv"
    dlg.select_format("png")
    dlg.option_widgets["scale"].widget.setValue(4)
    assert dlg.options() == {"scale": 4}
    dlg.set_formats(["png", "counts-csv"])
    dlg.option_widgets["bag_size"].widget.setValue(500)
    chosen = dlg.options()
    assert chosen["scale"] == 4 and chosen["bag_size"] == 500
    others = {d: v for d, v in chosen.items() if d not in ("scale", "bag_size")}
    assert others == {d: dlg.option_widgets[d].spec.default for d in others}  # counts-csv's other options at defaults
    assert default_options(["--bag-size", "500"]).bag_size == 500
    with pytest.raises(ExportError):
        default_options(["--no-such-option"])


def test_preferences_are_saved_and_shown(qtbot, monkeypatch):
    from app.gui.preferences import Preferences

    w, _ = make_window(qtbot, monkeypatch)
    w.apply_preferences(Preferences(model_source="/models/sdxl", device="cpu", autosave_seconds=30))
    assert Preferences.load() == Preferences("/models/sdxl", "cpu", 30)
    assert w.device_label.text() == "Device: cpu"
    assert w.autosaver.timer.interval() == 30000
    w.close()


def test_autosave_timer_writes_when_modified(qtbot, monkeypatch, small_pattern, tmp_path):
    w, _ = make_window(qtbot, monkeypatch)
    def autosave_path():  # issue 16: one autosave per window
        return w.autosaver.path

    small_pattern.save(tmp_path / "p.pixl")
    w.open_project(tmp_path / "p.pixl")
    w.autosaver.set_interval(1)
    w.edit.set_color(2)
    w.edit.set_tool("pencil")
    w.edit.press(0, 1)
    w.edit.release()
    qtbot.waitUntil(autosave_path().is_file, timeout=5000)
    from engine.core.pattern import Pattern

    assert Pattern.load(autosave_path()).get_cell(0, 1) == 2
    w.close()  # a clean exit removes the autosave
    assert not autosave_path().exists()


def test_window_geometry_is_restored(qtbot, monkeypatch):
    w, _ = make_window(qtbot, monkeypatch)
    w.palette_dock.hide()
    w.close()
    w2, _ = make_window(qtbot, monkeypatch)
    assert not w2.palette_dock.isVisible() and w2.input_dock.isVisible()
    w2.close()


def _stubborn_child(seconds, q, cancel_event):
    """A job that never looks at its cancel flag (for the terminate path)."""
    import time

    q.put(("progress", None))
    time.sleep(seconds)
    q.put(("result", "too late"))


def test_process_job_result_errors_and_forced_stop(perler, sample_image_path):
    import multiprocessing as mp
    import threading

    from app.gui.process_jobs import convert_in_process, run_in_process
    from engine.convert.pipeline import ConvertConfig, ConvertError
    from engine.core.image_io import load_image
    from engine.core.progress import Cancelled, CancelToken

    image = load_image(sample_image_path)
    reports = []
    pattern = convert_in_process(image, perler, ConvertConfig(width=12, height=8), progress=reports.append)
    assert pattern.shape == (8, 12) and pattern.palette.codes == perler.codes
    assert reports and reports[-1].step == reports[-1].total
    with pytest.raises(ConvertError, match="width"):
        convert_in_process(image, perler, ConvertConfig(width=0, height=8))
    token = CancelToken()
    threading.Timer(0.3, token.cancel).start()
    with pytest.raises(Cancelled):
        run_in_process(_stubborn_child, (60,), None, token, kill_after=0.5)
    assert not [p for p in mp.active_children() if p.name == "pixl-job"]
