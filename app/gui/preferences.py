"""Preferences: diffusion model source, compute device, autosave interval (stored in QSettings)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from app.gui import settings

DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass
class Preferences:
    """The user's choices; ``load()``/``save()`` go through QSettings."""

    model_source: str = ""
    device: str = "auto"
    autosave_seconds: int = 60

    @classmethod
    def load(cls) -> "Preferences":
        return cls(
            model_source=str(settings.value("model/source", "") or ""),
            device=str(settings.value("model/device", "auto") or "auto"),
            autosave_seconds=settings.value("autosave/seconds", 60, int) or 60,
        )

    def save(self) -> None:
        settings.set_value("model/source", self.model_source)
        settings.set_value("model/device", self.device)
        settings.set_value("autosave/seconds", int(self.autosave_seconds))


def resolve_device(device: str) -> str:
    """The device name a run with this preference will use ('auto' -> cuda, mps or cpu), for display and runs."""
    from engine.sdpixl.guidance.loading import ModelLoadError
    from engine.sdpixl.guidance.loading import resolve_device as engine_resolve_device

    try:
        return str(engine_resolve_device(device))
    except (ModelLoadError, RuntimeError):  # e.g. cuda asked for but absent: the run itself reports it clearly
        return device


class PreferencesDialog(QDialog):
    """Edit Preferences; ``result_preferences()`` after accept."""

    def __init__(self, parent: QWidget | None, prefs: Preferences) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.setMinimumWidth(480)
        self.model = QLineEdit(prefs.model_source)
        self.model.setPlaceholderText("diffusers folder or Hugging Face id (empty = engine default)")
        browse = QPushButton("Folder…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.model, 1)
        row.addWidget(browse)
        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.device.setCurrentText(prefs.device if prefs.device in DEVICES else "auto")
        self.autosave = QSpinBox()
        self.autosave.setRange(5, 3600)
        self.autosave.setSuffix(" s")
        self.autosave.setValue(prefs.autosave_seconds)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Model source", row)
        form.addRow("Device", self.device)
        form.addRow("Autosave every", self.autosave)
        form.addRow(buttons)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Model folder", self.model.text())
        if folder:
            self.model.setText(folder)

    def result_preferences(self) -> Preferences:
        return Preferences(self.model.text().strip(), self.device.currentText(), self.autosave.value())
