"""The export dialog: formats per medium with a default, option widgets generated from the exporters' argparse
options, remembered choices, options reaching the exporter, and the after-export summary."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox

ROOT = Path(__file__).resolve().parents[1]


def _pattern(palette_key: str, seed: int = 0):
    import numpy as np

    from engine.core.palette_io import load_palette
    from engine.core.pattern import Pattern

    pal = load_palette(palette_key)
    rng = np.random.default_rng(seed)
    return Pattern(rng.choice([0, 1, 2, 3], size=(16, 20)), pal)


@pytest.mark.parametrize("key, medium, expected", [
    ("perler", "bead", ["bead-pdf"]),
    ("lego", "brick", ["bricklink-xml", "build-pdf"]),
    ("dmc", "thread", ["pes"]),
])
def test_dialog_defaults_per_medium(qtbot, tmp_path, key, medium, expected):
    from app.gui.export_dialog import ExportDialog
    from exporters.common.options import formats_for_medium

    pattern = _pattern(key)
    assert pattern.medium.kind == medium
    dlg = ExportDialog(None, tmp_path, "fox", medium)
    qtbot.addWidget(dlg)
    assert sorted(dlg.selected_formats()) == expected
    fitting, _other = formats_for_medium(medium)
    assert dlg.all_formats()[: len(fitting)] == fitting  # the medium's formats come first
    # only the options of the ticked formats are shown
    visible = {d for d, ow in dlg.option_widgets.items() if dlg.options_form.isRowVisible(ow.widget)}
    assert visible == set(dlg.option_values())
    if medium == "bead":
        assert {"paper", "true_scale", "bag_size"} <= visible and "piece" not in visible
    if medium == "brick":
        assert {"piece", "section"} <= visible and "paper" not in visible
    if medium == "thread":
        assert {"hoop", "stitch_mode", "no_underlay"} <= visible


def test_widgets_follow_the_argparse_declarations(qtbot, tmp_path):
    from app.gui.export_dialog import ExportDialog
    from exporters.common.options import option_specs

    dlg = ExportDialog(None, tmp_path, "x", "bead")
    qtbot.addWidget(dlg)
    specs = {s.dest: s for s in option_specs()}
    assert set(dlg.option_widgets) == set(specs)
    assert isinstance(dlg.option_widgets["true_scale"].widget, QCheckBox)  # store_true
    assert isinstance(dlg.option_widgets["piece"].widget, QComboBox)  # choices
    combo = dlg.option_widgets["piece"].widget
    assert [combo.itemData(i) for i in range(combo.count())] == list(specs["piece"].choices)
    assert isinstance(dlg.option_widgets["section"].widget, QSpinBox)  # int
    assert isinstance(dlg.option_widgets["row_spacing"].widget, QDoubleSpinBox)  # float
    assert isinstance(dlg.option_widgets["paper"].widget, QLineEdit)  # free text
    assert specs["true_scale"].help_text in dlg.option_widgets["true_scale"].widget.toolTip()  # help as tooltip
    # untouched widgets give the exporter's own defaults
    for dest, ow in dlg.option_widgets.items():
        assert ow.value() == specs[dest].default, dest


def test_choices_are_remembered(qtbot, tmp_path):
    from app.gui.export_dialog import ExportDialog

    out = tmp_path / "out"
    out.mkdir()
    dlg = ExportDialog(None, None, "fox", "brick")
    qtbot.addWidget(dlg)
    assert not Path(dlg.folder.text()).resolve().is_relative_to(ROOT)  # never the install folder
    dlg.set_formats(["parts-csv"])
    dlg.option_widgets["piece"].widget.setCurrentText("tile")
    dlg.option_widgets["section"].widget.setValue(32)
    dlg.folder.setText(str(out))
    dlg.accept()
    again = ExportDialog(None, None, "fox", "brick")
    qtbot.addWidget(again)
    assert again.selected_formats() == ["parts-csv"]
    remembered = again.option_values()
    assert remembered["piece"] == "tile" and remembered["section"] == 32
    untouched = {d: v for d, v in remembered.items() if d not in ("piece", "section")}
    assert untouched == {d: again.option_widgets[d].spec.default for d in untouched}  # the rest stay at defaults
    assert Path(again.folder.text()) == out.resolve()
    beads = ExportDialog(None, None, "fox", "bead")  # formats are remembered per medium
    qtbot.addWidget(beads)
    assert beads.selected_formats() == ["bead-pdf"]
    assert json.loads(QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "piXL",
                                "piXL Studio").value("export/options"))["piece"] == "tile"


def test_install_folder_is_never_proposed(qtbot, tmp_path):
    from app.gui import settings
    from app.gui.export_dialog import ExportDialog

    settings.set_value("export/folder", str(ROOT / "resources" / "samples"))
    dlg = ExportDialog(None, ROOT / "resources", "fox", "bead")
    qtbot.addWidget(dlg)
    assert not Path(dlg.folder.text()).resolve().is_relative_to(ROOT)


def test_dialog_options_reach_the_exporter_and_summary_lists_files(window, tmp_path, monkeypatch):
    from app.gui import export_dialog

    pattern = _pattern("lego", seed=3)
    window.doc.reset(pattern)
    dlg = window.make_export_dialog()
    assert sorted(dlg.selected_formats()) == ["bricklink-xml", "build-pdf"]
    dlg.set_formats(["parts-csv", "bricklink-xml"])
    dlg.option_widgets["piece"].widget.setCurrentText("tile")
    dlg.folder.setText(str(tmp_path))
    dlg.name.setText("mosaic")
    summaries = []
    monkeypatch.setattr(window, "show_export_summary", summaries.append)
    files = window.export_from_dialog(dlg)
    assert sorted(f.name for f in files) == ["mosaic.csv", "mosaic.xml"]
    with open(tmp_path / "mosaic.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert any("3070b" in r for r in rows[1:])  # tiles, as chosen in the widget
    assert "3070b" in (tmp_path / "mosaic.xml").read_text(encoding="utf-8")
    assert not window.dialogs.errors
    (result,) = summaries
    assert result.files == files
    import exporters.bricks.mosaic as mosaic

    if not hasattr(mosaic, "describe_export"):  # without the exporter's own summary: file sizes
        assert any("mosaic.csv:" in line and ("bytes" in line or "KB" in line) for line in result.lines)
    # the summary dialog opens the file and its folder
    opened = []
    monkeypatch.setattr(export_dialog, "open_url", lambda url: opened.append(url.toLocalFile()) or True)
    box = export_dialog.ExportSummaryDialog(None, result)
    assert box.files.count() == 2
    assert box.open_file() and box.show_folder()
    assert opened == [str(files[0]), str(files[0].parent)]
    box.deleteLater()


def test_describe_export_lines_are_shown(window, tmp_path, monkeypatch):
    import exporters.common.basic as basic

    def describe(pattern, fmt, paths, args):
        return [f"{pattern.width}x{pattern.height} {fmt} scale {args.scale}"]

    monkeypatch.setattr(basic, "describe_export", describe, raising=False)
    window.doc.reset(_pattern("perler"))
    result = window.export_to("png", tmp_path / "p.png", summary=True, scale=2)
    assert result.lines == ["20x16 png scale 2"]
    from PIL import Image

    assert Image.open(result.files[0]).size == (40, 32)
