"""Helpers shared by the GUI tests: a MainWindow with dialogs routed to lists instead of modal boxes."""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox


@dataclass
class DialogLog:
    """What the window tried to tell or ask the user."""

    errors: list[tuple[str, str]] = field(default_factory=list)
    save_answer: QMessageBox.StandardButton = QMessageBox.StandardButton.Discard
    save_questions: int = 0
    restore_answer: bool = True
    model_answer: str | None = None  # what the missing-model dialog returns (a local model, or None = closed)
    model_questions: list = field(default_factory=list)  # (message, exception) per missing-model dialog
    long_run_answer: str = "start"  # what the very-long-run confirmation returns (app.gui.long_run CHOICE_*)
    long_runs: list = field(default_factory=list)  # the LongRunAdvice of each confirmation asked


def redirect_qsettings(folder) -> None:
    """QSettings caches its folders at first use, so point them at ``folder`` explicitly."""
    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        QSettings.setPath(QSettings.Format.IniFormat, scope, str(folder))
        QSettings.setPath(QSettings.Format.NativeFormat, scope, str(folder))


def make_window(qtbot, monkeypatch, dialogs: DialogLog | None = None):
    """A shown MainWindow whose message boxes are recorded in ``dialogs``."""
    from app.gui.main_window import MainWindow

    dialogs = dialogs or DialogLog()
    w = MainWindow()
    qtbot.addWidget(w)
    monkeypatch.setattr(w, "show_error", lambda title, msg: dialogs.errors.append((title, msg)))

    def ask_save():
        dialogs.save_questions += 1
        return dialogs.save_answer

    monkeypatch.setattr(w, "ask_save_changes", ask_save)
    monkeypatch.setattr(w, "ask_restore", lambda path: dialogs.restore_answer)

    def ask_model(message, exc):  # the missing-model dialog is a "The run failed" message with Browse…
        dialogs.errors.append(("The run failed", message))
        dialogs.model_questions.append((message, exc))
        return dialogs.model_answer

    monkeypatch.setattr(w, "ask_model_source", ask_model)

    def ask_long_run(advice):  # the planner's CPU estimate for any SD-πXL run is hours, tiny test models too
        dialogs.long_runs.append(advice)
        return dialogs.long_run_answer

    monkeypatch.setattr(w, "ask_long_run", ask_long_run)
    w.resize(1400, 860)
    w.show()
    qtbot.waitExposed(w)
    return w, dialogs


def type_size(panel, width: int, height: int) -> None:
    """Enter a size in cells on the input panel as a user would (aspect lock off, unit cells, both spin boxes)."""
    panel.keep_aspect.setChecked(False)
    panel.unit.setCurrentText("cells")
    panel.width_spin.setValue(width)
    panel.height_spin.setValue(height)
