"""See before you start: the picture shows in the canvas at the chosen size, in the nearest owned colours, before
Start; size and palette changes refresh it (debounced, computed off the GUI thread); Start converts for real."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QThread

from tests.gui_support import type_size


def _wait_preview(window, qtbot, size):
    qtbot.waitUntil(lambda: window.canvas.showing_preview and window.canvas.cells_size == size
                    and window.previews.busy == 0, timeout=20000)


def test_preview_before_start_follows_size_and_palette(window, qtbot, sample_image_path):
    from app.gui.preview import quick_preview

    panel = window.input_panel
    type_size(panel, 30, 20)
    assert window.load_image_file(sample_image_path)
    _wait_preview(window, qtbot, (30, 20))
    assert window.doc.pattern is None  # only a preview: nothing to save or edit yet
    shown = window.canvas.grab_pixels()
    palette = window.palette_panel.owned_palette()
    expected = quick_preview(window.source_image, palette, 30, 20, "crop")
    np.testing.assert_array_equal(shown, expected)
    colours = {tuple(c) for c in shown[..., :3].reshape(-1, 3)}
    assert colours <= {tuple(c) for c in palette.rgb8}  # every cell is an owned palette colour
    assert len(colours) > 3
    # board lines use the palette's medium (Perler: 29x29 boards) even though there is no pattern
    assert window.canvas._preview_medium is palette.medium
    # a new size: a new preview of that size
    panel.width_spin.setValue(44)
    _wait_preview(window, qtbot, (44, 20))
    # fewer owned colours: the preview uses only those
    codes = palette.codes[:6]
    window.palette_panel.set_owned(codes)
    qtbot.waitUntil(lambda: window.previews.busy == 0 and {tuple(c) for c in window.canvas.grab_pixels()[..., :3]
                    .reshape(-1, 3)} <= {tuple(palette[palette.index_of(c)].rgb) for c in codes}, timeout=20000)
    # Start runs the full conversion and replaces the preview with the pattern
    with qtbot.waitSignal(window.runEnded, timeout=30000):
        assert window.start_run()
    assert window.doc.pattern is not None and not window.canvas.showing_preview
    assert (window.doc.pattern.width, window.doc.pattern.height) == (44, 20)


def test_preview_is_debounced_and_off_the_gui_thread(window, qtbot, sample_image_path, monkeypatch):
    import app.gui.preview as preview

    threads = []
    real = preview.quick_preview

    def spy(*args):
        threads.append(QThread.currentThread())
        return real(*args)

    monkeypatch.setattr(preview, "quick_preview", spy)
    panel = window.input_panel
    panel.keep_aspect.setChecked(False)
    panel.unit.setCurrentText("cells")
    assert window.load_image_file(sample_image_path)
    for w in range(20, 30):  # a burst of changes, as when holding the spin box arrow
        panel.width_spin.setValue(w)
    _wait_preview(window, qtbot, (29, panel.cells()[1]))
    assert 1 <= len(threads) <= 2
    assert all(t is not window.thread() for t in threads)


def test_preview_never_edits_and_click_returns_to_the_pattern(window, qtbot, small_pattern, tmp_path,
                                                              sample_image_path):
    from PySide6.QtCore import Qt

    small_pattern.save(tmp_path / "p.pixl")
    assert window.open_project(tmp_path / "p.pixl")
    before = window.doc.pattern.index.copy()
    assert window.load_image_file(sample_image_path)
    _wait_preview(window, qtbot, window.input_panel.cells())
    canvas = window.canvas
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=canvas.cell_center(1, 1).toPoint())
    assert not canvas.showing_preview and canvas.cells_size == (12, 10)
    np.testing.assert_array_equal(window.doc.pattern.index, before)
    assert window.doc.undo_stack.count() == 0
