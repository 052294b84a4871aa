"""The "model is missing" dialog: what happened in plain words, the download command to copy, and Browse… for a
model that is already on this computer (a diffusers folder or a .safetensors file), checked before it is taken."""

from __future__ import annotations

import logging

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

log = logging.getLogger(__name__)

WEIGHTS_FILTER = "Model weights (*.safetensors *.ckpt);;All files (*)"


def check_model_path(path: str) -> str:
    """The path as the engine will read it, or ValueError with a one-line reason (via ``resolve_source``)."""
    from engine.sdpixl.guidance.loading import ModelLoadError, resolve_source

    try:
        source = resolve_source(path)
    except ModelLoadError as exc:
        raise ValueError(str(exc)) from None
    if source.kind not in ("folder", "file"):
        raise ValueError(f"{path} is not a folder or file on this computer")
    return source.location


class ModelSourceDialog(QDialog):
    """Shows ``message`` (the error in plain words) and ``command``; ``chosen`` is the local model picked with
    Browse… (validated), or None. ``browsable``: offer Browse… (only for the main diffusion model)."""

    def __init__(self, parent: QWidget | None, message: str, command: str = "", browsable: bool = True) -> None:
        super().__init__(parent)
        self.setWindowTitle("The run failed")
        self.setObjectName("modelSourceDialog")
        self.chosen: str | None = None
        text = QLabel(message)
        text.setWordWrap(True)
        text.setObjectName("modelMessage")
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        self.command = QLineEdit(command)
        self.command.setReadOnly(True)
        self.command.setObjectName("downloadCommand")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the download command")
        if command:
            row = QHBoxLayout()
            row.addWidget(QLabel("Download once online:"))
            row.addWidget(self.command, 1)
            row.addWidget(self.copy_button)
            layout.addLayout(row)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setObjectName("modelStatus")
        layout.addWidget(self.status)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.browse_button = buttons.addButton("Browse…", QDialogButtonBox.ButtonRole.ActionRole)
        self.browse_button.setToolTip("Use a model already on this computer: a diffusers folder or a "
                                      ".safetensors file")
        menu = QMenu(self.browse_button)
        self.act_folder = menu.addAction("Diffusers model folder…", self.browse_folder)
        self.act_file = menu.addAction("Weights file (.safetensors)…", self.browse_file)
        self.browse_button.setMenu(menu)
        self.browse_button.setVisible(browsable)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.copy_button.clicked.connect(self.copy_command)
        self.resize(560, self.sizeHint().height())

    def copy_command(self) -> None:
        QGuiApplication.clipboard().setText(self.command.text())
        self.status.setText("Copied.")

    def browse_folder(self) -> bool:
        path = QFileDialog.getExistingDirectory(self, "Diffusers model folder")
        return self.choose(path) if path else False

    def browse_file(self) -> bool:
        path, _ = QFileDialog.getOpenFileName(self, "Model weights file", "", WEIGHTS_FILTER)
        return self.choose(path) if path else False

    def choose(self, path: str) -> bool:
        """Take ``path`` if the engine can read it as a model (then the dialog closes accepted); else say why."""
        try:
            self.chosen = check_model_path(path)
        except ValueError as exc:
            self.status.setText(f"Cannot use it: {exc}")
            return False
        log.info("local model chosen: %s", self.chosen)
        self.accept()
        return True
