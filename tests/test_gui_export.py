"""The export dialog: formats per medium with a default, option widgets generated from the exporters' option
metadata (through exporters.common.service), remembered choices, options reaching the exporter, and the after-export
summary."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
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
    from app.gui.wording import plain_words
    from exporters.common import optspec
    from exporters.common.service import option_specs

    dlg = ExportDialog(None, tmp_path, "x", "bead")
    qtbot.addWidget(dlg)
    specs = {s.name: s for s in option_specs()}
    assert set(dlg.option_widgets) == set(specs)
    widget_for = {optspec.KIND_FLAG: QCheckBox, optspec.KIND_CHOICE: QComboBox, optspec.KIND_INT: QSpinBox,
                  optspec.KIND_FLOAT: QDoubleSpinBox, optspec.KIND_TEXT: QLineEdit, optspec.KIND_PATH: QLineEdit}
    for name, spec in specs.items():
        widget = dlg.option_widgets[name].widget
        assert isinstance(widget, widget_for[spec.kind]), name
        assert plain_words(spec.help_text) in widget.toolTip(), name  # the app's words (no WIDTHxHEIGHT)
        assert "--" not in widget.toolTip() + spec.label, name  # plain words, no flags
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


def test_board_paper_and_base_colour_are_dropdowns_of_named_choices(qtbot, tmp_path):
    """A maker picks the pegboard, the paper and the base colour by name from a list: each board with its peg pitch
    (from the board table), the paper with its size, the base colour by its LEGO name - never a bare id like "11"."""
    import re

    from app.gui.export_dialog import ExportDialog
    from engine.core.medium import BOARDS
    from engine.core.palette_io import load_palette

    dlg = ExportDialog(None, tmp_path, "fox", "bead")
    qtbot.addWidget(dlg)
    combos = {name: dlg.option_widgets[name].widget for name in ("board", "paper", "base_color")}
    for name, box in combos.items():
        assert isinstance(box, QComboBox), name
        texts = [box.itemText(i) for i in range(box.count())]
        assert len(texts) >= 3 and len(set(texts)) == len(texts), name
        assert not any(re.fullmatch(r"\s*\d+\s*", t) for t in texts), (name, texts)  # no bare ids

    board = combos["board"]
    keys = [board.itemData(i) for i in range(board.count())]
    assert {k for k in BOARDS if not k.startswith("brick")} <= set(keys)  # every bead board is offered
    for i, key in enumerate(keys):
        if key is None:  # "the palette's own board"
            assert "board" in board.itemText(i)
            continue
        text = board.itemText(i)
        assert text.startswith(key), text
        pitch = re.search(r"\((\d+(?:\.\d+)?) mm, (measured|nominal)\)$", text)
        assert pitch, text  # every board says its pitch
        assert (pitch.group(2) == "measured") == BOARDS[key].measured, text
        if BOARDS[key].pitch_mm:
            assert float(pitch.group(1)) == pytest.approx(BOARDS[key].pitch_mm), text

    paper = combos["paper"]
    assert [paper.itemData(i) for i in range(paper.count())] == ["A4", "Letter", "A3"]
    for i in range(paper.count()):
        assert re.search(r"\d x \d+(\.\d+)? (mm|in)\)", paper.itemText(i)), paper.itemText(i)  # with its size

    color = combos["base_color"]
    lego = {c.ids.get("bricklink"): c.name for c in load_palette("lego")}
    for i in range(color.count()):
        bl = color.itemData(i)
        assert color.itemText(i).startswith(lego[bl]), (bl, color.itemText(i))  # the palette's name first
        assert not color.itemIcon(i).isNull()  # with a swatch
    ow = dlg.option_widgets["base_color"]
    assert color.currentText().startswith("Black") and ow.value() == "11"  # the default, shown by name
    color.setCurrentIndex(color.findText(next(t for t in (color.itemText(i) for i in range(color.count()))
                                              if t.startswith("Light Bluish Gray"))))
    assert ow.value() == "86"  # chosen by name, handed to the exporter as the BrickLink id


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


# ----------------------------------------------------------------------------- issue 19 §1 / issue 20 items 2, 5, 6


def test_every_format_offers_exactly_its_options(qtbot, tmp_path):
    from app.gui.export_dialog import ExportDialog
    from exporters.common.service import formats, option_specs

    dlg = ExportDialog(None, tmp_path, "x", "brick")
    qtbot.addWidget(dlg)
    for fmt in formats():
        dlg.select_format(fmt)
        visible = {n for n, ow in dlg.option_widgets.items() if dlg.options_form.isRowVisible(ow.field)}
        assert visible == {s.name for s in option_specs() if fmt in s.formats}, fmt
        assert set(dlg.option_values()) == visible, fmt
    dlg.select_format("parts-csv")  # spares reach parts lists in the app as on the command line
    assert {"spares", "spares_min"} <= set(dlg.option_values())


def test_format_list_and_options_speak_plain_words(qtbot, tmp_path):
    from app.gui.export_dialog import ExportDialog

    dlg = ExportDialog(None, tmp_path, "x", "bead")
    qtbot.addWidget(dlg)
    texts = [dlg.format_list.item(i).text() + dlg.format_list.item(i).toolTip() for i in range(dlg.format_list.count())]
    assert texts and not [t for t in texts if "--" in t]  # no "(--paper, --board, --true-scale)"
    assert not [ow.widget.toolTip() for ow in dlg.option_widgets.values() if "command line" in ow.widget.toolTip()]


def test_default_names_differ_per_format_and_replacing_asks_first(qtbot, tmp_path, monkeypatch):
    from app.gui import export_dialog

    dlg = export_dialog.ExportDialog(None, tmp_path, "astronaut", "bead")
    qtbot.addWidget(dlg)
    dlg.set_formats(["bead-pdf", "build-pdf", "parts-csv", "counts-csv", "png", "chart-png"])
    names = {fmt: p.name for fmt, p in dlg.paths().items()}
    assert names["bead-pdf"] == "astronaut-beads.pdf" and names["build-pdf"] == "astronaut-build.pdf"
    assert names["parts-csv"] == "astronaut-parts.csv" and len(set(names.values())) == len(names)
    dlg.set_formats(["bead-pdf", "build-pdf"])
    old = tmp_path / "astronaut-beads.pdf"
    old.write_bytes(b"the bead chart printed last week")
    asked = []
    monkeypatch.setattr(export_dialog, "ask", lambda parent, title, text, yes: asked.append((text, yes)) or False)
    dlg.accept()
    assert dlg.result() != dlg.DialogCode.Accepted  # "Cancel": nothing replaced, the dialog stays open
    assert len(asked) == 1 and "astronaut-beads.pdf" in asked[0][0] and "build" not in asked[0][0]
    assert asked[0][1] == "Replace" and old.read_bytes() == b"the bead chart printed last week"
    monkeypatch.setattr(export_dialog, "ask", lambda parent, title, text, yes: asked.append((text, yes)) or True)
    dlg.accept()
    assert dlg.result() == dlg.DialogCode.Accepted and len(asked) == 2
    old.unlink()
    fresh = export_dialog.ExportDialog(None, tmp_path, "astronaut", "bead")  # no file in the way: no question
    qtbot.addWidget(fresh)
    fresh.accept()
    assert fresh.result() == fresh.DialogCode.Accepted and len(asked) == 2


def test_export_warnings_are_listed_once(window, tmp_path, monkeypatch, qtbot):
    from app.gui.export_dialog import ExportSummaryDialog
    from engine.core.palette_io import load_palette
    from engine.core.pattern import Pattern

    rng = np.random.default_rng(1)
    window.doc.reset(Pattern(rng.choice([0, 3, 7, 12, 20, 31], size=(24, 30)), load_palette("dmc")))  # confetti
    dlg = window.make_export_dialog()
    dlg.set_formats(["dst", "stitch-png"])  # the machine file and its preview share their warnings
    dlg.folder.setText(str(tmp_path))
    summaries = []
    monkeypatch.setattr(window, "show_export_summary", summaries.append)
    files = window.export_from_dialog(dlg)
    assert sorted(f.name for f in files) == ["pattern-stitches.png", "pattern.dst"]
    (total,) = summaries
    assert total.warnings and len(total.warnings) == len(set(total.warnings))
    from exporters.common.service import export

    each = export(window.doc.pattern, "stitch-png", tmp_path / "again.png").warnings
    assert set(each) == set(total.warnings)  # both formats warn about the same things: listed once, not twice
    box = ExportSummaryDialog(None, total)
    qtbot.addWidget(box)
    shown = box.warnings_label.text().splitlines()
    assert shown == [f"⚠ {w}" for w in total.warnings] and len(shown) == len(set(shown))
    assert not any("warning" in line.lower() for line in box.text.toPlainText().splitlines())


def test_open_file_without_a_program_says_so_and_offers_the_folder(qtbot, tmp_path, monkeypatch):
    from app.gui import export_dialog
    from exporters.common.result import ExportResult

    f = tmp_path / "fox-beads.pdf"
    f.write_bytes(b"%PDF-1.4")
    opened, asked = [], []
    monkeypatch.setattr(export_dialog, "open_url",
                        lambda url: opened.append(url.toLocalFile()) or url.toLocalFile() == str(tmp_path))
    monkeypatch.setattr(export_dialog, "ask", lambda parent, title, text, yes: asked.append(yes) or True)
    box = export_dialog.ExportSummaryDialog(None, ExportResult([f], ["1 page"]))
    qtbot.addWidget(box)
    assert box.open_file() is False
    assert asked == ["Show in folder"] and opened == [str(f), str(tmp_path)]  # the folder was shown instead
    assert box.message.isVisibleTo(box) and "No program" in box.message.text() and ".pdf" in box.message.text()


def test_first_export_goes_to_documents_or_says_why_not(qtbot, tmp_path, monkeypatch):
    from app.gui import export_dialog

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(export_dialog, "documents_location", lambda: home / "Documents")
    dlg = export_dialog.ExportDialog(None, None, "fox", "bead")
    qtbot.addWidget(dlg)
    assert Path(dlg.folder.text()) == home and dlg.folder_note.isVisibleTo(dlg)
    assert "does not exist" in dlg.folder_note.text() and "home folder" in dlg.folder_note.text()
    assert not (home / "Documents").exists()  # nothing created behind the user's back
    (home / "Documents").mkdir()
    again = export_dialog.ExportDialog(None, None, "fox", "bead")
    qtbot.addWidget(again)
    assert Path(again.folder.text()) == home / "Documents" and not again.folder_note.isVisibleTo(again)


def test_named_choices_with_swatches_and_typed_values(qtbot):
    from dataclasses import dataclass

    from app.gui.export_dialog import OptionWidget
    from exporters.common import optspec

    @dataclass
    class Demo:
        base_color: str = optspec.option("11", flag="--base-color", label="Base colour", formats=("x",),
                                         choices=("11", "86"), choice_labels={"11": "Black", "86": "Light Bluish Gray"},
                                         swatches={"11": "#05131d", "86": "#a0a5a9"}, help="colour of the bases")
        board: str | None = optspec.option(None, flag="--board", label="Pegboard", formats=("x",),
                                           choices=(None, "midi 29x29"), parse=lambda t: t.strip() or None,
                                           choice_labels={None: "the palette's own board",
                                                          "midi 29x29": "midi 29×29 (5 mm)"}, help="board")
        cell: float = optspec.option(2.0, flag="--cell-mm", label="Cell size", unit="mm", formats=("x",),
                                     minimum=0.5, maximum=10, help="cell")

    ows = {s.name: OptionWidget(s) for s in optspec.option_specs(Demo)}
    for ow in ows.values():
        qtbot.addWidget(ow.field)
    color = ows["base_color"].widget
    assert [color.itemText(i) for i in range(color.count())] == ["Black", "Light Bluish Gray"]  # names, not ids
    assert not color.itemIcon(0).isNull() and ows["base_color"].value() == "11"
    ows["base_color"].set_value("86")
    assert color.currentText() == "Light Bluish Gray" and ows["base_color"].value() == "86"
    board = ows["board"].widget
    assert board.isEditable() and board.currentText() == "the palette's own board" and ows["board"].value() is None
    board.setEditText("31x31")  # a custom board typed by the user reaches the exporter as typed
    assert ows["board"].value() == "31x31" and optspec.from_values(Demo, {"board": "31x31"}).board == "31x31"
    cell = ows["cell"].widget
    assert cell.suffix() == " mm" and (cell.minimum(), cell.maximum()) == (0.5, 10.0)


def test_long_choices_do_not_widen_the_options_sideways(qtbot, tmp_path):
    """The thread dialog's long "Thread chart" choice is elided in its closed box: no sideways scroll."""
    from PySide6.QtWidgets import QScrollArea

    from app.gui.export_dialog import ExportDialog

    dlg = ExportDialog(None, tmp_path, "x", "thread")
    qtbot.addWidget(dlg)
    dlg.resize(760, 900)
    dlg.show()
    qtbot.waitExposed(dlg)
    longest = max(len(ow.widget.itemText(i)) for ow in dlg.option_widgets.values()
                  if isinstance(ow.widget, QComboBox) for i in range(ow.widget.count()))
    assert longest > 80  # there is a long choice to elide
    scroll = dlg.findChild(QScrollArea)
    boxes = [ow.widget for ow in dlg.option_widgets.values() if isinstance(ow.widget, QComboBox)]
    assert max(b.sizeHint().width() for b in boxes) < scroll.viewport().width() // 2
    qtbot.waitUntil(lambda: scroll.widget().width() <= scroll.viewport().width())
    assert scroll.horizontalScrollBar().maximum() == 0
