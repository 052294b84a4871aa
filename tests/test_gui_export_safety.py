"""Export dialog safety (issue 16 wiring): outputs that would overwrite the open project, clash with each other or
exceed a budget are refused inside the dialog before anything is written; embroidery warnings stand out."""

from __future__ import annotations

import os

import numpy as np


def _open_project(window, small_pattern, tmp_path):
    project = tmp_path / "design.pixl"
    small_pattern.save(project)
    assert window.open_project(project)
    return project


def test_export_onto_the_open_project_is_refused_and_the_project_kept(window, small_pattern, tmp_path, monkeypatch):
    project = _open_project(window, small_pattern, tmp_path)
    before = project.read_bytes()
    link = tmp_path / "design.png"  # the PNG name resolves to the project itself
    os.symlink(project, link)
    dlg = window.make_export_dialog()
    dlg.select_format("png")
    dlg.folder.setText(str(tmp_path))
    dlg.name.setText("design")
    assert dlg.paths() == {"png": link}
    exported = []
    monkeypatch.setattr(window, "export_to", lambda *a, **k: exported.append(a))
    dlg.accept()
    assert dlg.result() != dlg.DialogCode.Accepted and not exported  # the dialog stays open
    assert dlg.errors_label.isVisibleTo(dlg)
    assert "is the input file" in dlg.errors_label.text() and "design.pixl" in dlg.errors_label.text()
    assert project.read_bytes() == before
    # the same refusal when the export is started without the dialog, and the project still loads
    monkeypatch.undo()
    monkeypatch.setattr(window, "show_error", lambda t, m: window.dialogs.errors.append((t, m)))
    assert window.export_to("png", link) == []
    assert window.dialogs.errors[-1][0] == "Export failed" and "input file" in window.dialogs.errors[-1][1]
    assert project.read_bytes() == before
    from engine.core.pattern import Pattern

    np.testing.assert_array_equal(Pattern.load(project).index, small_pattern.index)


def test_budget_errors_are_shown_and_nothing_is_written(window, small_pattern, tmp_path, monkeypatch):
    from app.gui import export_dialog

    asked = []
    monkeypatch.setattr(export_dialog, "ask", lambda parent, title, text, yes: asked.append(text) or True)
    _open_project(window, small_pattern, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "big.png").write_bytes(b"previous export")
    dlg = window.make_export_dialog()
    dlg.select_format("png")
    dlg.folder.setText(str(out))
    dlg.name.setText("big")
    dlg.option_widgets["scale"].set_value(5000)  # 12 x 10 cells at 5000 px a cell: over the pixel budget
    dlg.accept()
    assert dlg.result() != dlg.DialogCode.Accepted
    text = dlg.errors_label.text()
    assert text.startswith("Cannot export:") and "png:" in text and "scale 5000" in text
    assert sorted(p.name for p in out.iterdir()) == ["big.png"]
    assert (out / "big.png").read_bytes() == b"previous export"
    assert not asked  # refused before the question about replacing big.png
    # fixed: the dialog asks before replacing the previous export, accepts, and the error line goes away
    dlg.option_widgets["scale"].set_value(2)
    dlg.accept()
    assert dlg.result() == dlg.DialogCode.Accepted and not dlg.errors_label.isVisibleTo(dlg)
    assert len(asked) == 1 and "big.png" in asked[0]


def test_missing_folder_is_refused_in_the_dialog(window, small_pattern, tmp_path):
    _open_project(window, small_pattern, tmp_path)
    dlg = window.make_export_dialog()
    dlg.select_format("png")
    dlg.folder.setText(str(tmp_path / "no-such-folder"))
    dlg.accept()
    assert dlg.result() != dlg.DialogCode.Accepted and "no-such-folder" in dlg.errors_label.text()


def test_embroidery_warnings_stand_out_in_the_summary(window, tmp_path, qtbot):
    from app.gui.export_dialog import ExportSummaryDialog
    from engine.core.palette_io import load_palette
    from engine.core.pattern import Pattern

    rng = np.random.default_rng(1)
    pattern = Pattern(rng.choice([0, 3, 7, 12, 20, 31], size=(24, 30)), load_palette("dmc"))  # confetti
    window.doc.reset(pattern)
    result = window.export_to("dst", tmp_path / "confetti.dst", summary=True)
    assert result is not None and result.files, window.dialogs.errors
    assert result.warnings, result.report
    assert not any("warning" in line for line in result.report)  # warnings are their own list
    box = ExportSummaryDialog(None, result)
    qtbot.addWidget(box)
    assert box.warnings_label.isVisibleTo(box)
    assert box.warnings_label.text().splitlines() == [f"⚠ {w}" for w in result.warnings]
    plain = ExportSummaryDialog(None, type(result)(result.files, ["3 colours"]))
    qtbot.addWidget(plain)
    assert not plain.warnings_label.isVisibleTo(plain)
