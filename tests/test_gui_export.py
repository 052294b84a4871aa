"""The export dialog: formats per medium with a default, option widgets generated from the exporters' option
metadata (through exporters.common.service), remembered choices, options reaching the exporter, and the after-export
summary."""

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
    from exporters.common.service import formats_for_medium

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
        assert {"hoop", "mode", "underlay"} <= visible


def test_widgets_follow_the_option_metadata(qtbot, tmp_path):
    from app.gui.export_dialog import ExportDialog
    from exporters.common import optspec
    from exporters.common.service import legacy_formats, option_specs

    dlg = ExportDialog(None, tmp_path, "x", "bead")
    qtbot.addWidget(dlg)
    specs = {s.name: s for s in option_specs()}
    assert set(dlg.option_widgets) == set(specs)
    widget_for = {optspec.KIND_FLAG: QCheckBox, optspec.KIND_CHOICE: QComboBox, optspec.KIND_INT: QSpinBox,
                  optspec.KIND_FLOAT: QDoubleSpinBox, optspec.KIND_TEXT: QLineEdit, optspec.KIND_PATH: QLineEdit}
    for name, spec in specs.items():
        widget = dlg.option_widgets[name].widget
        assert isinstance(widget, widget_for[spec.kind]), name
        assert spec.help_text in widget.toolTip(), name
        if not set(spec.formats) <= set(legacy_formats()):  # typed exporters: plain words, no flags
            assert "--" not in widget.toolTip() + spec.label, name
        if spec.kind == optspec.KIND_CHOICE:
            assert [widget.itemData(i) for i in range(widget.count())] == list(spec.choices)
            assert [widget.itemText(i) for i in range(widget.count())] == [spec.choice_label(c) for c in spec.choices]
        if spec.unit and spec.kind in (optspec.KIND_INT, optspec.KIND_FLOAT):
            assert widget.suffix() == f" {spec.unit}", name  # numbers carry their unit
    assert isinstance(dlg.option_widgets["true_scale"].widget, QCheckBox)
    assert isinstance(dlg.option_widgets["piece"].widget, QComboBox)
    assert dlg.option_widgets["scale"].widget.suffix() == " px"
    # untouched widgets give the exporter's own defaults
    for name, ow in dlg.option_widgets.items():
        assert ow.value() == specs[name].default, name


def test_choices_are_remembered(qtbot, tmp_path):
    from app.gui.export_dialog import ExportDialog

    out = tmp_path / "out"
    out.mkdir()
    dlg = ExportDialog(None, None, "fox", "brick")
    qtbot.addWidget(dlg)
    assert not Path(dlg.folder.text()).resolve().is_relative_to(ROOT)  # never the install folder
    dlg.set_formats(["parts-csv"])
    dlg.option_widgets["piece"].set_value("tile")
    dlg.option_widgets["section"].set_value(32)
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
    dlg.option_widgets["piece"].set_value("tile")
    dlg.folder.setText(str(tmp_path))
    dlg.name.setText("mosaic")
    summaries = []
    monkeypatch.setattr(window, "show_export_summary", summaries.append)
    files = window.export_from_dialog(dlg)
    assert sorted(f.name for f in files) == ["mosaic-bricklink.xml", "mosaic-parts.csv"]
    with open(tmp_path / "mosaic-parts.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert any("3070b" in r for r in rows[1:])  # tiles, as chosen in the widget
    assert "3070b" in (tmp_path / "mosaic-bricklink.xml").read_text(encoding="utf-8")
    assert not window.dialogs.errors
    (result,) = summaries
    assert result.files == files
    assert result.report[0] == "parts-csv:" and "bricklink-xml:" in result.report  # each format's report
    # the summary dialog opens the file and its folder
    opened = []
    monkeypatch.setattr(export_dialog, "open_url", lambda url: opened.append(url.toLocalFile()) or True)
    box = export_dialog.ExportSummaryDialog(None, result)
    assert box.files.count() == 2
    assert box.open_file() and box.show_folder()
    assert opened == [str(files[0]), str(files[0].parent)]
    box.deleteLater()


def test_export_report_comes_from_the_exporter(window, tmp_path):
    window.doc.reset(_pattern("perler"))
    result = window.export_to("png", tmp_path / "p.png", summary=True, scale=2)
    assert result.report == ["40 x 32 pixels"] and result.warnings == []
    from PIL import Image

    assert Image.open(result.files[0]).size == (40, 32)
