"""The real window end to end: picture -> fast converter in the worker thread -> edit -> save -> export.

(The README's docs/screenshot.png is made on purpose by benchmarks/readme_screenshot.py, never by a test.)
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from tests.gui_support import type_size


def _convert(window, qtbot, width=40, height=30, **fast):
    panel = window.input_panel
    type_size(panel, width, height)
    panel.set_mode("fast")
    for name, value in fast.items():
        widget = getattr(panel, name)
        widget.set_value(value) if hasattr(widget, "set_value") else widget.setValue(value)
    progress = []
    window.runner.progress.connect(progress.append)
    with qtbot.waitSignal(window.runEnded, timeout=30000) as blocker:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
        assert window.runner.is_running() and not panel.start_button.isEnabled()
    assert blocker.args == ["finished"], window.dialogs.errors
    qtbot.waitUntil(lambda: not window.runner.is_running(), timeout=5000)
    return progress


def test_convert_edit_undo_save_reopen(window, qtbot, tmp_path, sample_image_path):
    assert window.load_image_file(sample_image_path)
    assert window.palette_panel.select_palette("perler")
    progress = _convert(window, qtbot, 72, 48, dither="none", cleanup=30)
    p = window.doc.pattern
    assert p.shape == (48, 72)
    assert progress and progress[-1].total >= 1
    assert window.input_panel.start_button.isEnabled() and not window.input_panel.stop_button.isEnabled()
    # the result uses the chosen brand and the canvas shows it
    assert p.palette.key == "perler" and len(p.used_indices()) > 5
    np.testing.assert_array_equal(window.canvas.grab_pixels()[..., :3], p.to_rgb())
    # a cat photo: the converted colours should resemble the source's mean colour
    src = np.asarray(window.source_image.convert("RGB"), dtype=float).reshape(-1, 3).mean(0)
    assert np.abs(p.to_rgb().reshape(-1, 3).mean(0) - src).max() < 40
    # the per-colour counts in the panel add up to the cells
    counts = sum(int(it.text(2)) for it in window.palette_panel._items if it.text(2))
    assert counts == p.filled_cells
    # the conversion is itself undoable; then edit a cell and undo it
    assert window.doc.modified
    window.set_tool("pencil")
    old = p.get_cell(10, 10)
    new = (old + 1) % len(p.palette)
    window.edit.set_color(new)
    qtbot.mouseClick(window.canvas, Qt.MouseButton.LeftButton, pos=window.canvas.cell_center(10, 10).toPoint())
    assert window.doc.pattern.get_cell(10, 10) == new
    window.act_undo.trigger()
    assert window.doc.pattern.get_cell(10, 10) == old
    # save, then reopen in the same window
    out = tmp_path / "cat.pixl"
    assert window.save_to(out)
    assert not window.isWindowModified() and "cat.pixl" in window.windowTitle()
    window.new_project()
    assert window.doc.pattern is None
    assert window.open_project(out)
    np.testing.assert_array_equal(window.doc.pattern.index, p.index)
    assert window.doc.pattern.metadata.get("source_image") == "chelsea.jpg"
    # the window as the README shows it: the converted pattern filling the canvas (grabbed, never written)
    window.act_show_input.setChecked(False)
    window.canvas.fit()
    window.palette_panel.used_only.setChecked(True)
    shot = window.grab().toImage()
    ptr = shot.convertToFormat(shot.Format.Format_RGB888)
    pixels = np.frombuffer(ptr.constBits(), np.uint8, ptr.sizeInBytes()).reshape(ptr.height(), ptr.bytesPerLine())
    pixels = pixels[:, :ptr.width() * 3].reshape(ptr.height(), ptr.width(), 3)
    assert shot.width() >= 1200 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50


def test_export_bead_pdf_and_png(window, qtbot, tmp_path, sample_image_path):
    import pypdf

    window.load_image_file(sample_image_path)
    window.palette_panel.select_palette("perler")
    _convert(window, qtbot, 32, 24)
    pattern = window.doc.pattern
    files = window.export_to("bead-pdf", tmp_path / "chart.pdf")
    assert files and not window.dialogs.errors
    reader = pypdf.PdfReader(str(files[0]))
    text = "".join(page.extract_text() for page in reader.pages)
    assert len(reader.pages) >= 2
    for _i, colour, _n in pattern.color_counts()[:3]:
        assert colour.code in text
    png = window.export_to("png", tmp_path / "cat.png", scale=3)
    from PIL import Image

    img = Image.open(png[0])
    assert img.size == (32 * 3, 24 * 3)
    np.testing.assert_array_equal(np.asarray(img.convert("RGB"))[1::3, 1::3], pattern.to_rgb())


def test_export_failure_is_reported(window, small_pattern, tmp_path):
    small_pattern.save(tmp_path / "p.pixl")
    window.open_project(tmp_path / "p.pixl")
    assert window.export_to("bead-pdf", tmp_path / "missing-folder" / "chart.pdf") == []
    assert window.dialogs.errors[-1][0] == "Export failed"
    assert "missing-folder" in window.dialogs.errors[-1][1]


def test_stop_cancels_a_conversion_and_keeps_pattern(window, qtbot, small_pattern, tmp_path, sample_image_path):
    small_pattern.save(tmp_path / "p.pixl")
    window.open_project(tmp_path / "p.pixl")
    before = window.doc.pattern.index.copy()
    window.load_image_file(sample_image_path)
    window.input_panel.keep_aspect.setChecked(False)
    window.input_panel.width_spin.setValue(400)
    window.input_panel.height_spin.setValue(300)
    window.input_panel.dither.set_value("floyd-steinberg")
    with qtbot.waitSignal(window.runEnded, timeout=30000) as blocker:
        assert window.start_run()
        window.stop_run()
    assert blocker.args[0] in ("cancelled", "finished")
    if blocker.args[0] == "cancelled":
        np.testing.assert_array_equal(window.doc.pattern.index, before)
    qtbot.waitUntil(lambda: not window.runner.is_running(), timeout=5000)
    assert window.input_panel.start_button.isEnabled()


def test_run_ended_means_start_works_again(window, qtbot, sample_image_path):
    """runEnded comes once the worker thread has ended: whoever reacts to it (a test, a script) can start the next
    run at once; before, Start refused silently while the finished thread wound down."""
    window.load_image_file(sample_image_path)
    type_size(window.input_panel, 24, 16)
    window.input_panel.set_mode("fast")
    at_end = []
    window.runEnded.connect(lambda outcome: at_end.append(
        (outcome, window.runner.is_running(), window.input_panel.start_button.isEnabled())))
    for _ in range(2):
        with qtbot.waitSignal(window.runEnded, timeout=30000):
            assert window.start_run(), window.dialogs.errors
    assert at_end == [("finished", False, True)] * 2


def test_no_picture_or_no_colours_refuses_to_start(window):
    assert not window.start_run()
    assert window.dialogs.errors[-1][0] == "No picture"
    window.palette_panel.set_owned([])
    assert not window.start_run()
    assert window.dialogs.errors[-1][0] == "No colours"


def test_brick_exports_from_a_lego_conversion(window, qtbot, tmp_path, sample_image_path):
    import csv
    import xml.etree.ElementTree as ET

    window.load_image_file(sample_image_path)
    assert window.palette_panel.select_palette("lego")
    _convert(window, qtbot, 24, 16)
    pattern = window.doc.pattern
    assert pattern.medium.kind == "brick"
    xml_file = window.export_to("bricklink-xml", tmp_path / "wanted.xml")[0]
    root = ET.fromstring(xml_file.read_text(encoding="utf-8"))
    items = root.findall("ITEM")
    # bases (issue 11): two 16x16 plates and the layer joining them (issue 19)
    assert [i.findtext("MINQTY") for i in items if i.findtext("ITEMID") == "91405"] == ["3"]
    items = [i for i in items if i.findtext("ITEMID") not in ("91405", "92438")]
    assert items and {i.findtext("ITEMID") for i in items} == {"3024"}
    needed = {}
    for i, n in zip(range(len(pattern.palette)), pattern.counts()):
        if n:
            bl = pattern.palette[i].ids["bricklink"]
            needed[bl] = needed.get(bl, 0) + int(n)
    # 1x1 plates come with 2 % spares, at least 3 per colour
    assert {i.findtext("COLOR"): int(i.findtext("MINQTY")) for i in items} == {
        bl: n + max(3, -(-n * 2 // 100)) for bl, n in needed.items()}
    # CLI-style options reach the exporter: tiles instead of plates
    csv_file = window.export_to("parts-csv", tmp_path / "parts.csv", extra=["--piece", "tile"])[0]
    with open(csv_file, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert any("3070b" in r for r in rows[1:]) and not window.dialogs.errors
    assert window.export_to("parts-csv", tmp_path / "bad.csv", extra=["--piece", "nonsense"]) == []
    assert "piece" in window.dialogs.errors[-1][1].lower()  # the option, in the app's words ("Piece")


def test_export_embroidery_dst(window, qtbot, tmp_path, sample_image_path):
    import pyembroidery

    window.load_image_file(sample_image_path)
    assert window.palette_panel.select_palette("dmc")
    window.palette_panel.max_colors.setValue(6)
    _convert(window, qtbot, 30, 20)
    pattern = window.doc.pattern
    assert len(pattern.used_indices()) <= 6
    files = window.export_to("dst", tmp_path / "cat.dst")
    assert files and not window.dialogs.errors
    emb = pyembroidery.read(str(files[0]))
    assert emb is not None and len(emb.stitches) > pattern.filled_cells
    xs = [s[0] for s in emb.stitches]
    ys = [s[1] for s in emb.stitches]
    # the design spans about the pattern's physical size (units 0.1 mm)
    width_mm = (max(xs) - min(xs)) / 10
    assert 0.5 * pattern.size_mm()[0] < width_mm < 1.5 * pattern.size_mm()[0], (width_mm, pattern.size_mm())
    assert max(ys) > min(ys)
