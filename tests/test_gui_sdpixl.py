"""SD-πXL mode in the real window with a tiny random diffusion model on the CPU: previews, Stop, errors."""

from __future__ import annotations

import numpy as np
import pytest

from tests.gui_support import make_window, type_size

pytest.importorskip("diffusers")


@pytest.fixture(scope="module")
def tiny_sd15(tiny_root):
    from tests.tiny_models import build_cached

    return build_cached("sd15", tiny_root)


def _setup(window, model: str, steps: int, prompt: str = "a red apple", picture=None):
    panel = window.input_panel
    window.palette_panel.select_palette("perler")
    window.palette_panel.set_owned(window.palette_panel.palette().codes[:12])
    if picture is not None:
        assert window.load_image_file(picture)
    panel.set_mode("sdpixl")
    type_size(panel, 16, 16)
    panel.prompt.setPlainText(prompt)
    panel.steps.setValue(steps)
    panel.model.setText(model)
    panel.seed.setValue(7)
    window.prefs.device = "cpu"


def test_previews_arrive_and_stop_ends_the_run(window, qtbot, tiny_sd15, sample_image_path):
    _setup(window, str(tiny_sd15), steps=5000, picture=sample_image_path)
    previews = []
    window.runner.progress.connect(lambda r: previews.append(r) if r.preview is not None else None)
    assert window.start_run(), window.dialogs.errors
    assert window.device_label.text() == "Device: cpu"
    qtbot.waitUntil(lambda: len(previews) >= 3, timeout=60000)
    # previews are cell images the canvas shows live
    assert previews[-1].preview.shape == (16, 16, 3)
    assert window.canvas.cells_size == (16, 16)
    assert previews[-1].step < 5000 and window.progress_bar.maximum() == 5000
    with qtbot.waitSignal(window.runEnded, timeout=10000) as blocker:
        window.stop_run()
    assert blocker.args == ["cancelled"]
    qtbot.waitUntil(lambda: not window.runner.is_running(), timeout=5000)
    # the current state of the optimisation becomes the (undoable) pattern, in the chosen palette
    p = window.doc.pattern
    assert p is not None and p.shape == (16, 16)
    owned = set(window.palette_panel.palette().codes[:12])
    assert {p.palette[i].code for i in p.used_indices()} <= owned
    assert window.input_panel.start_button.isEnabled()
    assert not window.dialogs.errors


def test_short_run_finishes_with_pattern(window, qtbot, tiny_sd15):
    _setup(window, str(tiny_sd15), steps=4)
    with qtbot.waitSignal(window.runEnded, timeout=60000) as blocker:
        assert window.start_run(), window.dialogs.errors
    assert blocker.args == ["finished"], window.dialogs.errors
    p = window.doc.pattern
    assert p.shape == (16, 16) and p.filled_cells == 256
    np.testing.assert_array_equal(window.canvas.grab_pixels()[..., :3], p.to_rgb())
    window.doc.undo_stack.undo()
    assert window.doc.pattern is None


def test_missing_model_shows_error_and_keeps_pattern(window, qtbot, small_pattern, tmp_path):
    small_pattern.save(tmp_path / "p.pixl")
    window.open_project(tmp_path / "p.pixl")
    before = window.doc.pattern.index.copy()
    _setup(window, str(tmp_path / "no-such-model"), steps=3)
    with qtbot.waitSignal(window.runEnded, timeout=30000) as blocker:
        assert window.start_run()
    assert blocker.args == ["failed"]
    title, message = window.dialogs.errors[-1]
    assert title == "The run failed" and "no-such-model" in message
    np.testing.assert_array_equal(window.doc.pattern.index, before)
    np.testing.assert_array_equal(window.canvas.grab_pixels()[..., :3][~window.doc.pattern.empty_mask],
                                  window.doc.pattern.to_rgb()[~window.doc.pattern.empty_mask])


def test_closing_during_a_run_cancels_and_waits(qtbot, monkeypatch, tiny_sd15):
    w, dialogs = make_window(qtbot, monkeypatch)
    _setup(w, str(tiny_sd15), steps=5000)
    previews = []
    w.runner.progress.connect(previews.append)
    assert w.start_run()
    qtbot.waitUntil(lambda: len(previews) >= 1, timeout=60000)
    thread = w.runner._thread
    assert thread is not None and thread.isRunning()
    assert w.close()
    assert not w.runner.is_running() and not dialogs.errors


def test_at_most_k_colours_limits_the_sdpixl_palette(window, qtbot, tiny_sd15, sample_image_path):
    _setup(window, str(tiny_sd15), steps=3, picture=sample_image_path)
    window.palette_panel.max_colors.setValue(3)
    with qtbot.waitSignal(window.runEnded, timeout=60000) as blocker:
        assert window.start_run()
    assert blocker.args == ["finished"], window.dialogs.errors
    used = window.doc.pattern.used_indices()
    assert 1 <= len(used) <= 3
    owned = set(window.palette_panel.palette().codes[:12])
    assert {window.doc.pattern.palette[i].code for i in used} <= owned


def test_a_second_start_reuses_the_loaded_model(window, qtbot, tiny_sd15, monkeypatch):
    import engine.sdpixl.guidance.cache as cache_mod

    monkeypatch.setattr(cache_mod, "_SHARED", None)  # this test's own process-wide cache
    loads = []
    real = cache_mod.load_pipeline
    monkeypatch.setattr(cache_mod, "load_pipeline", lambda *a, **k: loads.append(a) or real(*a, **k))
    _setup(window, str(tiny_sd15), steps=3)
    patterns = []
    for prompt in ("a red apple", "a blue boat"):
        window.input_panel.prompt.setPlainText(prompt)
        with qtbot.waitSignal(window.runEnded, timeout=60000) as blocker:
            assert window.start_run(), window.dialogs.errors
        assert blocker.args == ["finished"], window.dialogs.errors
        qtbot.waitUntil(lambda: not window.runner.is_running(), timeout=5000)
        patterns.append(window.doc.pattern)
    assert len(loads) == 1 and cache_mod.shared_cache().loads == 1  # the second Start loaded nothing
    assert all(p.shape == (16, 16) for p in patterns) and patterns[0] is not patterns[1]


def test_no_model_named_runs_the_built_in_model(window, qtbot):
    """With the Model box empty (the default) Start runs SD-πXL against the built-in emoji model on the CPU,
    without the long-run question, and the result is a pattern of owned colours with empty cells allowed."""
    from engine.sdpixl.builtin import builtin_installed

    if not builtin_installed():
        pytest.skip("the built-in model's weights are not installed")
    _setup(window, "", steps=20)
    window.prefs.model_source = ""
    with qtbot.waitSignal(window.runEnded, timeout=120000) as blocker:
        assert window.start_run(), window.dialogs.errors
    assert blocker.args == ["finished"], window.dialogs.errors
    p = window.doc.pattern
    assert p.metadata["method"] == "builtin-sd-pixl" and "emoji32" in p.metadata["model"]
    assert p.shape == (16, 16) and 0 < p.filled_cells <= 256
    owned = set(window.palette_panel.palette().codes[:12])
    assert {p.palette[i].code for i in p.used_indices()} <= owned
    assert not window.dialogs.errors
