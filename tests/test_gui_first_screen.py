"""What the first screen and the first run tell a new user: why a colour is left out, a pen the user owns after
Start, a quick start and the shortcuts in Help, the bundled samples in the open dialog, the crop frame."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_summary_says_which_colours_are_left_out_by_default(window):
    panel = window.palette_panel
    assert panel.select_palette("perler")
    text = panel.summary.text()
    assert "102 of 103 colours owned" in text
    assert "1 neon colour left out by default" in text and "Finishes" in text
    panel.set_finish_included("neon", True)
    assert "103 of 103 colours owned" in panel.summary.text() and "left out" not in panel.summary.text()


def test_after_start_the_pen_is_a_colour_the_user_owns(window, qtbot, sample_image_path):
    panel = window.palette_panel
    assert panel.select_palette("perler")
    pal = panel.palette()
    owned = [c.code for c in pal.colors[20:40]]
    assert pal[0].code not in owned
    panel.set_owned(owned)
    assert window.load_image_file(sample_image_path)
    window.input_panel.set_mode("fast")
    with qtbot.waitSignal(window.runEnded, timeout=60000) as blocker:
        assert window.start_run()
    assert blocker.args == ["finished"], window.dialogs.errors
    p = window.doc.pattern
    pen = p.palette[window.edit.primary]
    assert pen.code in owned
    assert window.edit.primary in p.used_indices()
    assert pen.code in window.swatch_label.text()


def test_help_has_a_quick_start_and_the_shortcuts(window):
    from app.gui.help_dialogs import quick_start_html, shortcut_rows, shortcuts_html

    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    texts = [a.text() for a in help_menu.actions() if not a.isSeparator()]
    assert texts[:2] == ["&Quick start", "&Keyboard shortcuts"]
    rows = dict((t, k) for k, t in shortcut_rows(window.menu_actions()))
    assert rows["Start"] == "F5" and rows["Export"] == "Ctrl+E" and rows["Pencil"] == "B"
    table = shortcuts_html(shortcut_rows(window.menu_actions()))
    assert "Ctrl+E" in table and "Open picture" in table and "Mouse wheel" in table
    quick = quick_start_html(window.help_keys())
    assert "Press Start</b> (F5)" in quick and "Ctrl+I" in quick and "{" not in quick


def test_open_picture_offers_the_bundled_samples(window, tmp_path, sample_image_path):
    from app.gui.main_window import SAMPLES_DIR

    dlg = window.make_image_dialog()
    assert Path(dlg.directory().absolutePath()) == SAMPLES_DIR == ROOT / "resources" / "samples"
    assert any(Path(u.toLocalFile()) == SAMPLES_DIR for u in dlg.sidebarUrls())
    # once a picture from elsewhere was opened, the dialog starts there; the samples stay in the side bar
    other = tmp_path / "mine.jpg"
    other.write_bytes(sample_image_path.read_bytes())
    assert window.load_image_file(other)
    dlg = window.make_image_dialog()
    assert Path(dlg.directory().absolutePath()) == tmp_path
    assert any(Path(u.toLocalFile()) == SAMPLES_DIR for u in dlg.sidebarUrls())


def test_the_crop_to_the_patterns_shape_is_shown(window, sample_image_path):
    import numpy as np

    from engine.convert.pipeline import CROP_NOTE_SHARE, fit_notes
    from engine.core.image_io import fit_layout
    from tests.gui_support import type_size

    ip = window.input_panel
    assert window.load_image_file(sample_image_path)
    iw, ih = window.source_image.size
    assert iw > ih  # a landscape photo
    plain = ip._thumb_pm.toImage()
    type_size(ip, 48, 48)
    assert ip.fit.value() == "crop"
    assert ip.crop_box == fit_layout(iw, ih, 48, 48, "crop").crop_box
    # the converter's own note (one rule for the panel and the conversion), in the app's words
    layout = fit_layout(iw, ih, 48, 48, "crop")
    x0, y0, x1, y1 = layout.crop_box
    assert (x1 - x0) * (y1 - y0) < CROP_NOTE_SHARE * iw * ih
    [note] = fit_notes(iw, ih, layout, 48, 48, "crop")
    text = ip.crop_info.text()
    assert ip.crop_info.isVisibleTo(ip) and "left and right edges" in text and "left and right edges" in note
    assert f"{x0}-{x1}" in text and "Fit: Pad (whole picture)" in text and "set fit to" not in text
    framed = ip.thumb.pixmap().toImage()
    # the left edge (left out) is darkened, the middle (used) is not
    edge, mid = (1, plain.height() // 2), (plain.width() // 2, plain.height() // 2)
    assert framed.pixelColor(*edge).lightness() < plain.pixelColor(*edge).lightness() - 20
    assert framed.pixelColor(*mid) == plain.pixelColor(*mid)
    # pad keeps the whole picture: no frame; the converter's note says which cells stay empty
    ip.fit.set_value("pad")
    assert ip.crop_box is None and ip.crop_info.text().startswith("Padded to the pattern's shape")
    assert np.array_equal(np.asarray(ip.thumb.pixmap().toImage().pixelColor(*edge).getRgb()),
                          np.asarray(plain.pixelColor(*edge).getRgb()))


def test_after_start_the_crop_note_shows_once(window, qtbot, sample_image_path):
    """The conversion's own fit note is the one the panel's crop line already shows: the summary after Start
    does not repeat it (it keeps the intent line), and the pattern still records it for the command line."""
    from tests.gui_support import type_size

    ip = window.input_panel
    assert window.load_image_file(sample_image_path)
    type_size(ip, 48, 48)
    ip.set_mode("fast")
    with qtbot.waitSignal(window.runEnded, timeout=60000) as blocker:
        assert window.start_run()
    assert blocker.args == ["finished"], window.dialogs.errors
    assert len(window.doc.pattern.metadata["notes"]) == 1  # the converter made its crop note
    panel_text = "\n".join(w.text() for w in (ip.crop_info, ip.intent_info) if w.isVisibleTo(ip))
    assert panel_text.count("left and right edges") == 1, panel_text
    assert ip.intent_info.isVisibleTo(ip) and "Intent: " in ip.intent_info.text()


def test_the_preview_says_it_is_a_quick_approximation(window, qtbot, sample_image_path):
    assert window.load_image_file(sample_image_path)
    qtbot.waitUntil(lambda: window.canvas.showing_preview, timeout=10000)
    notice = window.canvas.notice
    assert notice.isVisible() and notice.text().startswith("Quick preview")
    assert "Start makes the real pattern" in notice.text()
    window.input_panel.set_mode("fast")
    with qtbot.waitSignal(window.runEnded, timeout=60000):
        assert window.start_run()
    qtbot.waitUntil(lambda: not window.runner.is_running(), timeout=5000)
    assert not window.canvas.showing_preview and not notice.isVisible()


def test_a_crop_the_converter_calls_rounding_is_not_framed(window, sample_image_path):
    """Below the converter's threshold (CROP_NOTE_SHARE) neither the panel nor the conversion says a word."""
    from engine.convert.pipeline import CROP_NOTE_SHARE, fit_notes
    from engine.core.image_io import fit_layout
    from tests.gui_support import type_size

    ip = window.input_panel
    assert window.load_image_file(sample_image_path)
    iw, ih = window.source_image.size

    def kept(w: int, h: int) -> int:
        x0, y0, x1, y1 = fit_layout(iw, ih, w, h, "crop").crop_box
        return (x1 - x0) * (y1 - y0)

    # a size whose shape differs from the picture's by rounding only: a sliver is cut
    w, h = next((w, h) for w in range(100, 1000) for h in [round(w * ih / iw) + 1]
                if CROP_NOTE_SHARE * iw * ih <= kept(w, h) < iw * ih)
    type_size(ip, w, h)
    layout = fit_layout(iw, ih, w, h, "crop")
    assert fit_notes(iw, ih, layout, w, h, "crop") == []
    assert ip.crop_box is None and not ip.crop_info.isVisibleTo(ip)
