"""Canvas painting on large patterns: partial repaints stay exact, and the PySide6 None-refcount guard holds."""

from __future__ import annotations

import sys

import numpy as np
from PySide6.QtCore import QPointF, Qt


def test_void_qt_calls_cannot_exhaust_none(qtbot):
    from PySide6.QtGui import QImage, QPainter, QPen

    import app.gui  # noqa: F401 - installs the guard
    from app.gui.qt_guard import binding_drops_none, protect_none

    buggy = binding_drops_none()
    if buggy:  # the buggy binding (PySide6 6.12.0 on Python 3.11): the guard must be on
        assert protect_none()
        assert sys.getrefcount(None) > 1 << 59
    img = QImage(64, 64, QImage.Format.Format_ARGB32)
    p = QPainter(img)
    pen = QPen()
    before = sys.getrefcount(None)
    for _ in range(100_000):  # more void calls than None had references before the guard
        pen.setWidth(1)
    p.end()
    after = sys.getrefcount(None)
    if buggy:  # each call drops a reference; the guard keeps None astronomically far from zero
        assert before - after >= 90_000 and after > 1 << 58
    else:  # a sound binding drops nothing (a few references may come and go elsewhere)
        assert abs(before - after) < 1_000


def test_pencil_repaints_only_its_cells_and_matches_the_pattern(window, perler, qtbot):
    from engine.core.pattern import Pattern

    rng = np.random.default_rng(1)
    window.doc.reset(Pattern(rng.integers(0, len(perler), size=(120, 150)), perler))
    c = window.canvas
    c.set_scale(10.0, QPointF(c.width() / 2, c.height() / 2))
    c.repaint()  # paint now (synchronously), before the spy counts renders
    rendered = []
    monkey = c._render

    def spy(pattern):
        rendered.append(1)
        return monkey(pattern)

    c._render = spy
    window.set_tool("pencil")
    window.edit.set_color(7)
    start = c.cell_center(60, 70)
    qtbot.mousePress(c, Qt.MouseButton.LeftButton, pos=start.toPoint())
    for i in range(1, 6):
        qtbot.mouseMove(c, (start + QPointF(i * c.scale, 0)).toPoint())
    qtbot.mouseRelease(c, Qt.MouseButton.LeftButton, pos=(start + QPointF(5 * c.scale, 0)).toPoint())
    assert rendered == []  # no full re-render for a stroke
    p = window.doc.pattern
    assert (p.index[60, 70:76] == 7).all()
    np.testing.assert_array_equal(c.grab_pixels()[..., :3], p.to_rgb())
    # counts caught up at the end of the stroke
    assert window.count_label.text().endswith(f"{p.filled_cells} cells")
    code = p.palette[7].code
    row = next(it for it in window.palette_panel._items if it.text(0) == code)
    assert int(row.text(2)) == int((p.index == 7).sum())
    # undo of the stroke: partial again, canvas equals pattern
    window.doc.undo_stack.undo()
    np.testing.assert_array_equal(c.grab_pixels()[..., :3], window.doc.pattern.to_rgb())
    # with the highlight on, partial repaints dim like a full render
    window.act_highlight.setChecked(True)
    c._render = monkey
    window.set_tool("pencil")
    window.edit.set_secondary(2)  # not the highlighted pen colour: these cells must come out dimmed
    window.edit.press(3, 3, alt=True)
    window.edit.release()
    window.edit.press(4, 9, alt=True)
    window.edit.release()
    assert window.doc.pattern.get_cell(3, 3) == 2
    partial = c.grab_pixels()
    c.refresh()
    np.testing.assert_array_equal(partial, c.grab_pixels())
    assert (partial[..., :3] != window.doc.pattern.to_rgb()).any()  # other colours really are dimmed


def test_grid_only_when_zoomed_in(window, perler, qtbot, monkeypatch):
    from app.gui import canvas as canvas_mod
    from engine.core.pattern import Pattern

    window.doc.reset(Pattern(np.zeros((100, 100), dtype=np.int32), perler))
    c = window.canvas
    calls = []
    monkeypatch.setattr(canvas_mod.PatternCanvas, "_paint_grid", lambda self, *a: calls.append(self.scale))
    c.set_scale(canvas_mod.GRID_MIN_SCALE / 2)
    c.repaint()
    assert calls == []
    c.set_scale(canvas_mod.GRID_MIN_SCALE * 1.5)
    c.repaint()
    assert calls and calls[-1] >= canvas_mod.GRID_MIN_SCALE
