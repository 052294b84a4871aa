"""A palette switch with a pattern on screen: every number shown belongs to what is shown, or is blank with a
reason (issue: a LEGO pattern, then Brother PEC threads in the list)."""

from __future__ import annotations

import numpy as np


def _lego_pattern(tmp_path, window):
    from engine.core.palette_io import load_palette
    from engine.core.pattern import Pattern

    lego = load_palette("lego")
    rng = np.random.default_rng(3)
    index = rng.choice(np.arange(16), size=(48, 48))
    path = tmp_path / "lego.pixl"
    Pattern(index, lego).save(path)
    assert window.open_project(path)
    return window.doc.pattern


def test_switch_to_threads_blanks_counts_units_and_pen_and_says_what_start_does(window, qtbot, tmp_path,
                                                                                sample_image_path):
    pattern = _lego_pattern(tmp_path, window)
    panel, ip = window.palette_panel, window.input_panel
    assert panel.palette().key == "lego"
    assert sum(int(it.text(2)) for it in panel._items if it.text(2)) == 2304
    ip.unit.setCurrentText("boards")
    assert ip.unit.currentText() == "boards"
    window.load_image_file(sample_image_path)
    window.canvas.set_pattern(window.doc.pattern)  # the pattern, not the picture's preview, is on screen
    window.update_notice()

    assert panel.select_palette("brother_pec")
    # Used column: nothing matched by code across palettes; the summary says why it is blank
    assert [it.text(2) for it in panel._items if it.text(2)] == []
    summary = panel.summary.text()
    assert "pattern uses" not in summary
    assert "Used is blank" in summary and pattern.palette.name in summary and "2304 cells" in summary
    # sizes: threads have no boards, so the size is in cells, not "48.00 × 48.00 boards"
    units = [ip.unit.itemText(i) for i in range(ip.unit.count())]
    assert "boards" not in units and ip.unit.currentText() == "cells"
    assert "boards" not in ip.size_info.text()
    # the pen says whose colour it is, and a row of the thread list does not become a LEGO colour by its code
    assert pattern.palette.name in window.swatch_label.text()
    pen = window.edit.primary
    panel.select_color(1)
    assert window.edit.primary == pen
    # the canvas says the pattern is LEGO and that Start converts to the threads
    notice = window.canvas.notice
    assert notice.isVisible()
    assert "Brother PEC" in notice.text() and "Start converts" in notice.text() and "LEGO" in notice.text()

    # back to LEGO: the counts return and the notice goes
    assert panel.select_palette("lego")
    assert sum(int(it.text(2)) for it in panel._items if it.text(2)) == 2304
    assert "pattern uses 16 colours, 2304 cells" in panel.summary.text()
    assert not notice.isVisible()
    assert pattern.palette.name not in window.swatch_label.text()
