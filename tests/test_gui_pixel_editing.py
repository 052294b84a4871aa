"""Pixel-editor editing: pen/secondary swatch, swap, right button, eyedropper, palette context menu, live colour
count, shortcuts, hover refreshed after undo, size box synced from an opened pattern."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

from app.gui.document import EMPTY


def _open(window, pattern, tmp_path, name="p.pixl"):
    pattern.save(tmp_path / name)
    assert window.open_project(tmp_path / name)
    return window.doc.pattern


def _press(qtbot, canvas, y, x, button=Qt.MouseButton.LeftButton):
    qtbot.mouseClick(canvas, button, pos=canvas.cell_center(y, x).toPoint())


def test_swatch_shows_pen_and_secondary_and_x_swaps(window, small_pattern, tmp_path, qtbot):
    p = _open(window, small_pattern, tmp_path)
    pal = window.palette_panel.palette()
    red = pal.index_of(small_pattern.palette[9].code)
    window.palette_panel.select_color(red)
    assert window.edit.primary == red and window.edit.secondary == EMPTY
    assert window.swatch.primary == p.palette[red].rgb and window.swatch.secondary is None
    assert p.palette[red].name in window.swatch_label.text()
    # right button with the pencil erases while the secondary colour is empty
    window.set_tool("pencil")
    _press(qtbot, window.canvas, 2, 2, Qt.MouseButton.RightButton)
    assert window.doc.pattern.get_cell(2, 2) is None
    # eyedropper: left click -> pen colour, right click -> secondary colour
    window.set_tool("eyedropper")
    _press(qtbot, window.canvas, 4, 4, Qt.MouseButton.RightButton)
    picked = p.get_cell(4, 4)
    assert window.edit.secondary == picked and window.swatch.secondary == p.palette[picked].rgb
    _press(qtbot, window.canvas, 5, 5)
    assert window.edit.primary == p.get_cell(5, 5)
    # the pencil's right button draws the secondary colour
    window.set_tool("pencil")
    _press(qtbot, window.canvas, 7, 1, Qt.MouseButton.RightButton)
    assert window.doc.pattern.get_cell(7, 1) == picked
    # X swaps the two colours (swatch follows)
    before = (window.edit.primary, window.edit.secondary)
    window.canvas.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_X)
    assert (window.edit.primary, window.edit.secondary) == before[::-1]
    assert window.swatch.primary == p.palette[before[1]].rgb
    # clicking the swatch swaps back
    qtbot.mouseClick(window.swatch, Qt.MouseButton.LeftButton)
    assert (window.edit.primary, window.edit.secondary) == before


def test_palette_context_menu_replaces_and_count_updates_live(window, small_pattern, tmp_path):
    p = _open(window, small_pattern, tmp_path)
    pal = window.palette_panel.palette()
    old, pen = pal.index_of(small_pattern.palette[5].code), pal.index_of(small_pattern.palette[20].code)
    assert window.count_label.text() == f"4 colours · {p.filled_cells} cells"
    window.edit.set_color(pen)
    menu = window.palette_panel.context_actions(old)
    texts = [a.text() for a in menu.actions()]
    assert "Replace with the pen colour" in texts and "Replace with…" in texts
    n_old = int(((p.index == old) & ~p.empty_mask).sum())
    n_pen = int(((p.index == pen) & ~p.empty_mask).sum())
    next(a for a in menu.actions() if a.text() == "Replace with the pen colour").trigger()
    q = window.doc.pattern
    assert not ((q.index == old) & ~q.empty_mask).any()
    assert int(((q.index == pen) & ~q.empty_mask).sum()) == n_old + n_pen
    assert window.count_label.text() == f"3 colours · {q.filled_cells} cells"
    counts = {window.palette_panel._items[i].text(0): window.palette_panel._items[i].text(2)
              for i in (old, pen)}
    assert counts == {pal[old].code: "", pal[pen].code: str(n_old + n_pen)}
    window.doc.undo_stack.undo()
    assert window.count_label.text() == f"4 colours · {p.filled_cells} cells"
    # "Highlight in the pattern" from the menu makes it the pen colour and turns the highlight on
    next(a for a in window.palette_panel.context_actions(old).actions()
         if a.text() == "Highlight in the pattern").trigger()
    assert window.act_highlight.isChecked() and window.edit.primary == old
    assert window.canvas.highlight == old


def test_tool_shortcuts_are_in_menus_and_tooltips(window):
    expected = {"pencil": "B", "fill": "G", "eyedropper": "I", "eraser": "E", "replace": "R", "pan": "H"}
    for name, key in expected.items():
        act = window.tool_actions[name]
        assert act.shortcut() == QKeySequence(key)
        assert f"({key})" in act.toolTip()
    assert window.act_swap.shortcut() == QKeySequence("X")
    assert window.act_highlight.isCheckable() and "Ctrl+H" in window.act_highlight.toolTip()


def test_hover_text_is_refreshed_after_undo(window, small_pattern, tmp_path, qtbot):
    p = _open(window, small_pattern, tmp_path)
    canvas = window.canvas
    qtbot.mouseMove(canvas, canvas.cell_center(3, 3).toPoint())
    assert p.palette[p.get_cell(3, 3)].code in window.hover_label.text()
    window.set_tool("eraser")
    _press(qtbot, canvas, 3, 3)
    assert window.hover_label.text().endswith("empty")
    window.doc.undo_stack.undo()
    assert p.palette[window.doc.pattern.get_cell(3, 3)].code in window.hover_label.text()


def test_size_box_follows_an_opened_pattern(window, perler, tmp_path):
    from engine.core.pattern import Pattern

    pattern = Pattern(np.zeros((39, 58), dtype=np.int32), perler)
    _open(window, pattern, tmp_path, "wide.pixl")
    panel = window.input_panel
    assert panel.cells() == (58, 39)
    panel.unit.setCurrentText("cells")
    assert (panel.width_spin.value(), panel.height_spin.value()) == (58, 39)
    assert panel.size_info.text().startswith("58 × 39 cells")


def test_dock_toggles_in_view_menu_work(window, qtbot):
    view = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    toggles = [a for a in view.actions() if a.text() in ("Input", "Palette")]
    assert len(toggles) == 2
    for act in toggles:
        assert act.isEnabled()
        act.trigger()
    assert not window.input_dock.isVisible() and not window.palette_dock.isVisible()
    for act in toggles:
        act.trigger()
    assert window.input_dock.isVisible() and window.palette_dock.isVisible()


def test_progress_speaks_maker_words(window):
    from engine.core.progress import Progress

    window.runs.set_running(True)
    window.runs.on_progress(Progress(12, 500, "step 12/500", {"sds": 0.41, "fft": 0.0213, "total": 0.84}, 3.0, 90.0))
    text = window.run_label.text()
    assert "shape 0.41" in text and "smoothness 0.0213" in text and "1 min 30 s left" in text
    assert "sds" not in text and "fft" not in text
    assert "prompt" in window.run_label.toolTip()
    window.runs.set_running(False)


def test_progress_names_the_entropy_in_plain_words(window):
    """SD-πXL's convergence signal (the logits' entropy) reads "undecided cells NN %", explained in the tooltip;
    the last step's diagnostics (timestep, gradient norm) stay in the CLI's log."""
    from engine.core.progress import Progress

    window.runs.set_running(True)
    losses = {"sds": 0.41, "fft": 0.02, "total": 0.84, "entropy": 0.534, "t": 0.62, "grad_norm": 3.1}
    window.runs.on_progress(Progress(40, 500, "step 40/500", losses, 3.0, 90.0))
    text, tip = window.run_label.text(), window.run_label.toolTip()
    assert "undecided cells 53 %" in text and "shape 0.41" in text
    assert "entropy" not in text and "grad" not in text and " t 0.62" not in text
    assert "undecided cells:" in tip and "converged" in tip
    window.runs.set_running(False)


def test_full_colour_names_are_in_tooltips(window):
    panel = window.palette_panel
    assert panel.select_palette("perler")
    pal = panel.palette()
    longest = max(range(len(pal)), key=lambda i: len(pal[i].name))
    item = panel._items[longest]
    for col in range(3):
        assert pal[longest].name in item.toolTip(col) and pal[longest].code in item.toolTip(col)
    # and visible: the name column is wide enough for the longest Perler name ("Toasted Marshmallow")
    width = panel.tree.fontMetrics().horizontalAdvance(pal[longest].name)
    assert panel.tree.columnWidth(panel.COL_NAME) >= width
    i = panel.combo.findData("perler")
    assert "colours" in panel.combo.itemData(i, Qt.ItemDataRole.ToolTipRole)
