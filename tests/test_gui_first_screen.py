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
