"""Plain words in the app: no command-line ``--flags`` in any text, tooltip or status message of the main window
and its dialogs (the CLI keeps its flags); engine messages are reworded on their way to the screen."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QComboBox,
    QDockWidget,
    QGroupBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QTextBrowser,
    QTreeWidget,
    QWidget,
)

ROOT = Path(__file__).resolve().parents[1]
FLAG = re.compile(r"(?<![\w-])--[a-z]")


def _tree_texts(tree: QTreeWidget) -> list[str]:
    out = []
    head = tree.headerItem()
    for col in range(tree.columnCount()):
        out += [head.text(col), head.toolTip(col)]
    for r in range(tree.topLevelItemCount()):
        item = tree.topLevelItem(r)
        for col in range(tree.columnCount()):
            out += [item.text(col), item.toolTip(col)]
    return out


def visible_strings(root: QWidget) -> list[str]:
    """Every text a user can see or hover in ``root`` and its children (actions, items and tooltips too)."""
    out: list[str] = []
    for w in [root, *root.findChildren(QWidget)]:
        out += [w.toolTip(), w.statusTip(), w.whatsThis(), w.windowTitle()]
        if isinstance(w, (QLabel, QAbstractButton)):
            out.append(w.text())
        if isinstance(w, QTextBrowser):
            out.append(w.toPlainText())
        if isinstance(w, (QLineEdit, QPlainTextEdit)):
            out.append(w.placeholderText())
        if isinstance(w, QComboBox):
            for i in range(w.count()):
                out += [w.itemText(i), str(w.itemData(i, Qt.ItemDataRole.ToolTipRole) or "")]
        if isinstance(w, QAbstractSpinBox):
            out += [w.specialValueText(), getattr(w, "suffix", lambda: "")(), getattr(w, "prefix", lambda: "")()]
        if isinstance(w, QTreeWidget):
            out += _tree_texts(w)
        if isinstance(w, QListWidget):
            for i in range(w.count()):
                out += [w.item(i).text(), w.item(i).toolTip()]
        if isinstance(w, (QGroupBox, QDockWidget)):
            out.append(w.title() if isinstance(w, QGroupBox) else w.windowTitle())
        if isinstance(w, QMenu):
            out.append(w.title())
        if isinstance(w, QMessageBox):
            out += [w.text(), w.informativeText()]
        for a in w.actions():
            out += [a.text(), a.toolTip(), a.statusTip()]
    return [s for s in out if s]


def _flags(strings: list[str]) -> list[str]:
    return [s for s in strings if FLAG.search(s)]


def test_no_flags_anywhere_in_the_window_and_its_dialogs(window, qtbot, sample_image_path):
    from app.gui.help_dialogs import HelpDialog, quick_start_html, shortcut_rows, shortcuts_html
    from app.gui.model_dialog import ModelSourceDialog
    from app.gui.palette_panel import ReplaceColorDialog
    from app.gui.preferences import PreferencesDialog

    seen = visible_strings(window)
    # a conversion: the intent and merge summary, the counts, the shopping list
    assert window.load_image_file(sample_image_path)
    window.input_panel.set_mode("fast")
    with qtbot.waitSignal(window.runEnded, timeout=60000) as blocker:
        assert window.start_run()
    assert blocker.args == ["finished"]
    seen += visible_strings(window) + [window.statusBar().currentMessage()]
    # errors with engine words: a LEGO set on a bead palette, a run without a prompt
    window.palette_panel.use_set("31203")
    window.input_panel.set_mode("sdpixl")
    window.input_panel.prompt.setPlainText("")
    assert not window.start_run()
    assert len(window.dialogs.errors) >= 2, window.dialogs.errors
    seen += [m for pair in window.dialogs.errors for m in pair]
    window.input_panel.set_mode("fast")
    dialogs = [PreferencesDialog(window, window.prefs),
               ModelSourceDialog(window, "The model is not on this computer.", "hf download some/model"),
               HelpDialog(window, "Quick start", quick_start_html(window.help_keys())),
               HelpDialog(window, "Keyboard shortcuts", shortcuts_html(shortcut_rows(window.menu_actions()))),
               ReplaceColorDialog(window, window.palette_panel.palette(), 0)]
    for dlg in dialogs:
        qtbot.addWidget(dlg)
        seen += visible_strings(dlg)
    assert len(seen) > 300
    assert _flags(seen) == []


def test_no_flags_in_the_export_dialog_for_each_medium(window, qtbot, tmp_path):
    """The export dialog of a bead, a brick and a thread pattern: formats, every option's label, choices, units and
    tooltips (all formats ticked, so every option row shows), and the file list."""
    from app.gui.export_dialog import ExportDialog

    seen: list[str] = []
    for medium in ("bead", "brick", "thread"):
        dlg = ExportDialog(window, tmp_path, "fox", medium)
        qtbot.addWidget(dlg)
        dlg.set_formats(dlg.all_formats())
        assert dlg.shown_options(), medium
        strings = visible_strings(dlg)
        assert len(strings) > 100, (medium, len(strings))
        seen += strings
    assert _flags(seen) == []
    # no command-line placeholders (WIDTHxHEIGHT) and no format ids ("bead-pdf — ...") either
    assert [s for s in seen if re.search(r"\b[A-Z]{3,}x[A-Z]{3,}\b", s)] == []
    assert [s for s in seen if re.match(r"[a-z0-9]+-[a-z]+ — ", s)] == []
    assert "Printable bead chart (vector PDF): overview, one page per pegboard, legend; true size on request" in seen


def test_engine_messages_lose_their_flags_on_the_way_to_the_screen():
    from app.gui.wording import plain_words
    from app.gui.workers import describe_error
    from engine.sdpixl.optimize import OptimizeError

    text = describe_error(OptimizeError("an empty prompt gives the model nothing to aim for: pass --prompt"))
    assert text.endswith("type a prompt in the Prompt box")
    assert plain_words("2 tiny areas; use --merge-tiny to give them a neighbour's colour") == \
        "2 tiny areas; use “Merge tiny areas” to give them a neighbour's colour"
    # every message literal of the engine and the exporters that names a flag comes out without one
    literals = []
    for path in [*ROOT.joinpath("engine").rglob("*.py"), *ROOT.joinpath("exporters").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and FLAG.search(node.value):
                literals.append(node.value)
    assert len(literals) > 20
    assert [s for s in literals if FLAG.search(plain_words(s))] == []


def test_converter_choices_are_named_and_numbers_have_units(window):
    ip = window.input_panel
    for box, values in ((ip.fit, ["crop", "pad", "stretch"]), (ip.resample, ["area", "dominant"]),
                        (ip.dither, ["none", "floyd-steinberg", "atkinson", "bayer"])):
        assert [box.itemData(i) for i in range(box.count())] == values
        names = [box.itemText(i) for i in range(box.count())]
        assert all(n[0].isupper() for n in names) and "floyd-steinberg" not in names
        assert all(box.itemData(i, Qt.ItemDataRole.ToolTipRole) for i in range(box.count()))
    ip.fit.set_value("pad")
    ip.dither.set_value("atkinson")
    assert ip.dither_strength.suffix() == " %" and ip.cleanup.suffix() == " %"
    ip.dither_strength.setValue(50)
    ip.cleanup.setValue(30)
    fast = ip.job_settings().fast
    assert (fast["fit"], fast["dither"], fast["dither_strength"], fast["cleanup"]) == ("pad", "atkinson", 0.5, 0.3)
    ip.cleanup.setValue(ip.cleanup.minimum())
    assert ip.cleanup.text() == "by intent" and ip.job_settings().fast["cleanup"] is None
