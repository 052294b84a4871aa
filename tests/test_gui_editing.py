"""GUI editing, project files, settings, autosave and error handling, driven through the real MainWindow."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QMessageBox

from tests.gui_support import DialogLog, make_window


def _open_pattern(window, pattern, tmp_path, name="start.pixl"):
    path = tmp_path / name
    pattern.save(path)
    assert window.open_project(path)
    return path


def _click(qtbot, canvas, y, x):
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=canvas.cell_center(y, x).toPoint())


def test_open_project_shows_it_with_counts(window, small_pattern, tmp_path):
    _open_pattern(window, small_pattern, tmp_path)
    p = window.doc.pattern
    assert p.shape == (10, 12)
    # opened projects with a shipped palette key are shown in that palette: same colours cell by cell
    np.testing.assert_array_equal(p.to_rgb(), small_pattern.to_rgb())
    assert window.palette_panel.palette().key == "perler"
    counted = {window.palette_panel._items[i].text(0): int(window.palette_panel._items[i].text(2))
               for i in range(len(window.palette_panel._items)) if window.palette_panel._items[i].text(2)}
    expected = {c.code: n for _i, c, n in small_pattern.color_counts()}
    assert counted == expected
    assert "start.pixl" in window.windowTitle() and not window.isWindowModified()
    # the canvas shows exactly the pattern's colours
    shown = window.canvas.grab_pixels()
    np.testing.assert_array_equal(shown[..., :3][~p.empty_mask], p.to_rgb()[~p.empty_mask])


def test_pencil_stroke_is_one_undo_step(window, small_pattern, tmp_path, qtbot):
    _open_pattern(window, small_pattern, tmp_path)
    doc, canvas = window.doc, window.canvas
    before = doc.pattern.index.copy()
    new_color = window.palette_panel.palette().index_of(small_pattern.palette[30].code)
    window.palette_panel.colorActivated.emit(new_color)
    window.set_tool("pencil")
    cells = [(2, 1), (2, 2), (2, 3), (3, 3)]
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=canvas.cell_center(*cells[0]).toPoint())
    for y, x in cells[1:]:
        qtbot.mouseMove(canvas, canvas.cell_center(y, x).toPoint())
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=canvas.cell_center(*cells[-1]).toPoint())
    for y, x in cells:
        assert doc.pattern.get_cell(y, x) == new_color
    assert doc.undo_stack.count() == 1
    assert window.isWindowModified() and "*" in window.windowTitle().replace("[*]", "*")
    doc.undo_stack.undo()
    np.testing.assert_array_equal(doc.pattern.index, before)
    assert not window.isWindowModified()
    doc.undo_stack.redo()
    assert all(doc.pattern.get_cell(y, x) == new_color for y, x in cells)


def test_fill_eyedropper_replace_and_eraser(window, small_pattern, tmp_path, qtbot):
    _open_pattern(window, small_pattern, tmp_path)
    doc, canvas, pal = window.doc, window.canvas, window.palette_panel.palette()
    p = doc.pattern
    # eyedropper picks the colour under the cursor
    window.set_tool("eyedropper")
    _click(qtbot, canvas, 5, 5)
    assert window.edit.color == p.get_cell(5, 5)
    # flood fill paints exactly the 4-connected region of the clicked colour
    from engine.core.edit import flood_fill_cells

    target = pal.index_of(small_pattern.palette[40].code)
    window.edit.set_color(target)
    region = flood_fill_cells(p.index, p.empty, 4, 4, target)
    window.set_tool("fill")
    _click(qtbot, canvas, 4, 4)
    assert (doc.pattern.index[region] == target).all() and region.sum() >= 1
    # replace colour: every cell of one colour becomes another, one undo step
    old_code = small_pattern.palette[5].code
    old, new = pal.index_of(old_code), pal.index_of(small_pattern.palette[9].code)
    n_old = int(((doc.pattern.index == old) & ~doc.pattern.empty_mask).sum())
    changed = window.replace_color(old, new)
    assert changed == n_old and not ((doc.pattern.index == old) & ~doc.pattern.empty_mask).any()
    doc.undo_stack.undo()
    assert int(((doc.pattern.index == old) & ~doc.pattern.empty_mask).sum()) == n_old
    # eraser empties a cell; undo brings the colour back
    value = doc.pattern.get_cell(6, 6)
    window.set_tool("eraser")
    _click(qtbot, canvas, 6, 6)
    assert doc.pattern.get_cell(6, 6) is None
    doc.undo_stack.undo()
    assert doc.pattern.get_cell(6, 6) == value


def test_highlight_dims_other_colours_and_hover_reports_cell(window, small_pattern, tmp_path, qtbot):
    # Issue 13: choosing a colour in the palette makes it the pen colour and never dims the canvas; the
    # highlight is its own toggle (View > Highlight pen colour) that dims every other colour.
    _open_pattern(window, small_pattern, tmp_path)
    p, pal, canvas = window.doc.pattern, window.palette_panel.palette(), window.canvas
    code = small_pattern.palette[20].code
    window.palette_panel.select_color(pal.index_of(code))
    assert window.edit.color == pal.index_of(code)
    np.testing.assert_array_equal(canvas.grab_pixels()[..., :3][~p.empty_mask], p.to_rgb()[~p.empty_mask])
    window.act_highlight.setChecked(True)
    shown = canvas.grab_pixels()[..., :3]
    mask = (p.index == pal.index_of(code)) & ~p.empty_mask
    np.testing.assert_array_equal(shown[mask], p.to_rgb()[mask])
    others = ~mask & ~p.empty_mask
    assert (shown[others] != p.to_rgb()[others]).any(axis=-1).all()
    window.act_highlight.setChecked(False)
    np.testing.assert_array_equal(canvas.grab_pixels()[..., :3][~p.empty_mask], p.to_rgb()[~p.empty_mask])
    window.palette_panel.clear_highlight()
    qtbot.mouseMove(canvas, canvas.cell_center(3, 7).toPoint())
    c = p.palette[p.get_cell(3, 7)]
    assert "column 8, row 4" in window.hover_label.text() and c.code in window.hover_label.text()


def test_zoom_fit_and_actual_size(window, small_pattern, tmp_path, qtbot):
    _open_pattern(window, small_pattern, tmp_path)
    canvas = window.canvas
    fitted = canvas.scale
    anchor = canvas.cell_center(5, 6)
    canvas.zoom_by(0.5, anchor)
    assert canvas.scale == pytest.approx(fitted * 0.5)
    assert canvas.cell_at(anchor) == (5, 6)  # the point under the cursor stays put
    window.act_actual.trigger()
    assert canvas.scale == pytest.approx(5.0 * canvas.logicalDpiX() / 25.4)
    window.act_fit.trigger()
    assert canvas.scale == pytest.approx(fitted)
    # panning with the middle button moves the view
    before = QPointF(canvas.offset)
    qtbot.mousePress(canvas, Qt.MouseButton.MiddleButton, pos=QPoint(100, 100))
    qtbot.mouseMove(canvas, QPoint(140, 120))
    qtbot.mouseRelease(canvas, Qt.MouseButton.MiddleButton, pos=QPoint(140, 120))
    assert canvas.offset.x() > before.x()


def test_save_and_reopen_round_trip(window, small_pattern, tmp_path, qtbot):
    _open_pattern(window, small_pattern, tmp_path)
    window.set_tool("pencil")
    window.edit.set_color(window.palette_panel.palette().index_of(small_pattern.palette[50].code))
    _click(qtbot, window.canvas, 1, 1)
    assert window.doc.modified
    out = tmp_path / "edited.pixl"
    assert window.save_to(out)
    assert not window.doc.modified and "edited.pixl" in window.windowTitle()
    from engine.core.pattern import Pattern

    again = Pattern.load(out)
    assert again.palette[again.get_cell(1, 1)].code == small_pattern.palette[50].code
    np.testing.assert_array_equal(again.empty_mask, small_pattern.empty_mask)
    assert str(out.resolve()) in __import__("app.gui.settings", fromlist=["x"]).recent_files()


def test_close_with_unsaved_changes_asks(qtbot, monkeypatch, small_pattern, tmp_path):
    dialogs = DialogLog(save_answer=QMessageBox.StandardButton.Cancel)
    w, _ = make_window(qtbot, monkeypatch, dialogs)
    _open_pattern(w, small_pattern, tmp_path)
    w.edit.set_color(1)
    w.set_tool("pencil")
    _click(qtbot, w.canvas, 2, 2)
    assert not w.close() and w.isVisible() and dialogs.save_questions == 1
    dialogs.save_answer = QMessageBox.StandardButton.Save
    assert w.close()
    from engine.core.pattern import Pattern

    assert Pattern.load(tmp_path / "start.pixl").get_cell(2, 2) == 1  # saved before closing


def test_owned_colours_and_palette_choice_persist(qtbot, monkeypatch):
    w, _ = make_window(qtbot, monkeypatch)
    assert w.palette_panel.select_palette("hama")
    pal = w.palette_panel.palette()
    keep = pal.codes[:5]
    w.palette_panel.set_owned(keep)
    assert w.palette_panel.owned_palette().codes == keep
    w.close()
    w2, _ = make_window(qtbot, monkeypatch)
    assert w2.palette_panel.palette().key == "hama"
    assert w2.palette_panel.owned_palette().codes == keep
    assert w2.palette_panel.select_palette("perler")
    # never chosen: the solid colours are owned (speciality finishes only on request, like the engine's default)
    assert w2.palette_panel.owned_palette().codes == w2.palette_panel.palette().with_finishes().codes
    w2.close()


def test_search_filters_colour_list(window):
    window.palette_panel.select_palette("perler")
    window.palette_panel.search.setText("white")
    visible = [it.text(1) for it in window.palette_panel._items if not it.isHidden()]
    assert visible and all("white" in v.lower() for v in visible)


def test_import_palette_file(window, tmp_path):
    hexfile = tmp_path / "mine.hex"
    hexfile.write_text("ff0000\n00ff00\n0000ff\n", encoding="utf-8")
    assert window.import_palette(hexfile)
    assert len(window.palette_panel.palette()) == 3
    bad = tmp_path / "bad.gpl"
    bad.write_text("not a palette", encoding="utf-8")
    assert not window.import_palette(bad)
    assert window.dialogs.errors and window.dialogs.errors[-1][0] == "Cannot import palette"


def test_bad_image_shows_error_and_keeps_pattern(window, small_pattern, tmp_path, sample_image_path):
    _open_pattern(window, small_pattern, tmp_path)
    assert window.load_image_file(sample_image_path)
    before = window.doc.pattern.index.copy()
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    assert not window.load_image_file(bad)
    title, message = window.dialogs.errors[-1]
    assert title == "Cannot open picture" and "broken.png" in message
    np.testing.assert_array_equal(window.doc.pattern.index, before)
    assert window.source_path == sample_image_path  # the previous picture stays too
    assert not window.open_project(bad)
    assert window.dialogs.errors[-1][0] == "Cannot open project"


def test_autosave_and_crash_recovery(qtbot, monkeypatch, small_pattern, tmp_path):
    w, _ = make_window(qtbot, monkeypatch)
    autosave_path = w.autosaver.path  # issue 16: one autosave per window
    path = _open_pattern(w, small_pattern, tmp_path)
    assert w.autosaver.save_now(block=True) is None  # nothing unsaved yet
    w.edit.set_color(3)
    w.set_tool("pencil")
    _click(qtbot, w.canvas, 4, 4)
    saved = w.autosaver.save_now(block=True)  # serialised in a worker thread; block waits for it
    assert saved == autosave_path and saved.is_file()
    assert str(saved).startswith(str(tmp_path.parent)) or "pixl-data" in str(saved)
    # a crash: the window goes away without a clean close (its lock is released); the autosave stays
    w.autosaver.abandon()
    w.hide()
    w2, _ = make_window(qtbot, monkeypatch)
    assert w2.check_recovery()
    assert w2.doc.modified and w2.doc.path == path
    assert w2.doc.pattern.get_cell(4, 4) == w.doc.pattern.get_cell(4, 4)
    assert w2.save()
    assert not autosave_path.exists() and not w2.autosaver.path.exists()  # saving removes the autosave
    w2.close()
    w.doc.undo_stack.setClean()
    w.close()


def test_uncaught_exception_shows_dialog(window):
    try:
        raise RuntimeError("boom in a slot")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())
    assert window.dialogs.errors[-1][0] == "Unexpected error"
    assert "boom in a slot" in window.dialogs.errors[-1][1]


def test_dropped_files_open_by_type(window, small_pattern, tmp_path, sample_image_path):
    project = tmp_path / "dropped.pixl"
    small_pattern.save(project)
    assert window.open_dropped_file(project) and window.doc.path == project
    gpl = tmp_path / "two.gpl"
    gpl.write_text("GIMP Palette\nName: two\n#\n255 0 0 Red\n0 0 255 Blue\n", encoding="utf-8")
    assert window.open_dropped_file(gpl) and len(window.palette_panel.palette()) == 2
    assert window.open_dropped_file(sample_image_path) and window.input_panel.image_size == (451, 300)


def test_typing_a_prompt_does_not_trigger_tool_shortcuts(window, qtbot):
    prompt = window.input_panel.prompt
    prompt.setFocus()
    qtbot.keyClicks(prompt, "fix a pixel")
    assert prompt.toPlainText() == "fix a pixel"
    assert window.edit.tool == "pencil"
    window.canvas.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_G)  # G is flood fill since issue 13 (B pencil, G fill, I, E, X swap)
    assert window.edit.tool == "fill"
