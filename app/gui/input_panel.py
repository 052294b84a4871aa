"""Left-hand panel: the input picture, prompts, target size, mode and its settings, seed, Start/Stop."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from engine.core.medium import PIXEL, Medium

MODE_FAST, MODE_SDPIXL = "fast", "sdpixl"
UNITS = ("cells", "boards", "cm")
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff);;All files (*)"


@dataclass
class JobSettings:
    """Everything the input panel says about the next run (plain values, no Qt)."""

    mode: str
    width: int
    height: int
    prompt: str = ""
    negative_prompt: str = ""
    seed: int = 0
    fast: dict = field(default_factory=dict)
    sdpixl: dict = field(default_factory=dict)


class ImageDropLabel(QLabel):
    """Thumbnail that accepts a dropped image file; emits ``fileDropped(str)``."""

    fileDropped = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(200, 110)
        self.setMaximumHeight(150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setFrameShape(QLabel.Shape.StyledPanel)
        self.setText("Drop a picture here\nor click Open…")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt API
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.fileDropped.emit(urls[0].toLocalFile())
            event.acceptProposedAction()


class InputPanel(QWidget):
    """Inputs for a run. Signals: ``openRequested()``, ``fileDropped(str)``, ``startRequested()``,
    ``stopRequested()``, ``clearImageRequested()``, ``previewSettingsChanged()`` (the user changed the size or
    the fit: time for a new preview)."""

    openRequested = Signal()
    fileDropped = Signal(str)
    startRequested = Signal()
    stopRequested = Signal()
    clearImageRequested = Signal()
    previewSettingsChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.medium: Medium = PIXEL
        self.image_size: tuple[int, int] | None = None  # source picture in pixels
        self._cells = (48, 48)
        self._updating = False

        # --- picture
        self.thumb = ImageDropLabel()
        self.open_button = QPushButton("Open picture…")
        self.clear_button = QPushButton("Clear")
        self.image_info = QLabel("No picture (SD-πXL can start from the prompt alone)")
        self.image_info.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.open_button, 1)
        row.addWidget(self.clear_button)
        pic_box = QGroupBox("Picture")
        pic = QVBoxLayout(pic_box)
        pic.addWidget(self.thumb)
        pic.addLayout(row)
        pic.addWidget(self.image_info)

        # --- prompt
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("Prompt, e.g. “a red fox, pixel art”")
        self.prompt.setMaximumHeight(52)
        self.negative = QLineEdit()
        self.negative.setPlaceholderText("Negative prompt")
        prompt_box = QGroupBox("Prompt")
        pl = QVBoxLayout(prompt_box)
        pl.addWidget(self.prompt)
        pl.addWidget(self.negative)

        # --- size
        self.width_spin = QDoubleSpinBox()
        self.height_spin = QDoubleSpinBox()
        for s in (self.width_spin, self.height_spin):
            s.setKeyboardTracking(False)
        self.unit = QComboBox()
        self.unit.addItems(UNITS)
        self.keep_aspect = QCheckBox("Keep picture aspect")
        self.keep_aspect.setChecked(True)
        self.size_info = QLabel()
        self.size_info.setWordWrap(True)
        size_row = QHBoxLayout()
        size_row.addWidget(self.width_spin)
        size_row.addWidget(QLabel("×"))
        size_row.addWidget(self.height_spin)
        size_row.addWidget(self.unit)
        size_box = QGroupBox("Size")
        sl = QVBoxLayout(size_box)
        sl.addLayout(size_row)
        sl.addWidget(self.keep_aspect)
        sl.addWidget(self.size_info)

        # --- mode
        self.mode = QComboBox()
        self.mode.addItem("Fast converter", MODE_FAST)
        self.mode.addItem("SD-πXL (diffusion)", MODE_SDPIXL)
        self.stack = QStackedWidget()
        self.stack.addWidget(self._fast_page())
        self.stack.addWidget(self._sdpixl_page())
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed_button = QPushButton("Random")
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.seed_button)
        mode_box = QGroupBox("Method")
        ml = QFormLayout(mode_box)
        ml.addRow("Mode", self.mode)
        ml.addRow(self.stack)
        ml.addRow("Seed", seed_row)

        # --- start/stop
        self.start_button = QPushButton("Start")
        self.start_button.setMinimumHeight(32)
        self.start_button.setObjectName("startButton")
        self.start_button.setDefault(True)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setMinimumHeight(32)
        self.stop_button.setObjectName("stopButton")
        self.stop_button.setEnabled(False)
        run_row = QHBoxLayout()
        run_row.setContentsMargins(6, 0, 6, 0)
        run_row.addWidget(self.start_button)
        run_row.addWidget(self.stop_button)

        content = QWidget()
        inner = QVBoxLayout(content)
        inner.setContentsMargins(4, 4, 4, 4)
        for w in (pic_box, prompt_box, size_box, mode_box):
            inner.addWidget(w)
        inner.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(content)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 4)
        layout.addWidget(scroll, 1)
        layout.addLayout(run_row)

        self.open_button.clicked.connect(self.openRequested)
        self.clear_button.clicked.connect(self.clearImageRequested)
        self.thumb.fileDropped.connect(self.fileDropped)
        self.start_button.clicked.connect(self.startRequested)
        self.stop_button.clicked.connect(self.stopRequested)
        self.seed_button.clicked.connect(lambda: self.seed.setValue(random.randrange(2**31 - 1)))
        self.mode.currentIndexChanged.connect(self.stack.setCurrentIndex)
        self.fit.currentIndexChanged.connect(lambda _i: self.previewSettingsChanged.emit())
        self.unit.currentIndexChanged.connect(self._show_size)
        self.width_spin.valueChanged.connect(lambda _v: self._size_edited("w"))
        self.height_spin.valueChanged.connect(lambda _v: self._size_edited("h"))
        self._show_size()

    def _fast_page(self) -> QWidget:
        page = QWidget()
        f = QFormLayout(page)
        f.setContentsMargins(0, 0, 0, 0)
        self.fit = QComboBox()
        self.fit.addItems(["crop", "pad", "stretch"])
        self.resample = QComboBox()
        self.resample.addItems(["area", "dominant"])
        self.dither = QComboBox()
        self.dither.addItems(["none", "floyd-steinberg", "atkinson", "bayer"])
        self.dither_strength = QDoubleSpinBox()
        self.dither_strength.setRange(0.0, 1.0)
        self.dither_strength.setSingleStep(0.1)
        self.dither_strength.setValue(1.0)
        self.cleanup = QDoubleSpinBox()
        self.cleanup.setRange(0.0, 1.0)
        self.cleanup.setSingleStep(0.1)
        self.cleanup.setToolTip("Remove isolated single cells (confetti): 0 = off, 1 = strongest")
        self.remove_background = QCheckBox("Remove background")
        f.addRow("Fit", self.fit)
        f.addRow("Resample", self.resample)
        f.addRow("Dither", self.dither)
        f.addRow("Strength", self.dither_strength)
        f.addRow("Cleanup", self.cleanup)
        f.addRow(self.remove_background)
        return page

    def _sdpixl_page(self) -> QWidget:
        page = QWidget()
        f = QFormLayout(page)
        f.setContentsMargins(0, 0, 0, 0)
        self.preset = QComboBox()
        self.steps = QSpinBox()
        self.steps.setRange(1, 100000)
        self.steps.setValue(500)
        self.model = QLineEdit()
        self.model.setPlaceholderText("model folder or hub id (see Preferences)")
        f.addRow("Preset", self.preset)
        f.addRow("Steps", self.steps)
        f.addRow("Model", self.model)
        return page

    def set_presets(self, names: list[str]) -> None:
        self.preset.clear()
        self.preset.addItems(names)

    # ------------------------------------------------------------ picture
    def set_image(self, image: QImage | None, description: str = "") -> None:
        """Show a thumbnail (None clears) and remember its size for the aspect ratio."""
        if image is None or image.isNull():
            self.image_size = None
            self.thumb.setPixmap(QPixmap())
            self.thumb.setText("Drop a picture here\nor click Open…")
            self.image_info.setText("No picture (SD-πXL can start from the prompt alone)")
        else:
            self.image_size = (image.width(), image.height())
            pm = QPixmap.fromImage(image).scaled(260, 140, Qt.AspectRatioMode.KeepAspectRatio,
                                                 Qt.TransformationMode.SmoothTransformation)
            self.thumb.setPixmap(pm)
            self.image_info.setText(description or f"{image.width()} × {image.height()} px")
            if self.keep_aspect.isChecked():
                self._size_edited("w")

    # ------------------------------------------------------------ size
    def set_medium(self, medium: Medium) -> None:
        self.medium = medium
        self._show_size()

    def cells(self) -> tuple[int, int]:
        """Target pattern size in cells (width, height)."""
        return self._cells

    def set_cells(self, width: int, height: int) -> None:
        """Show this size (e.g. an opened pattern's) without emitting ``sizeChanged``."""
        self._cells = (max(1, min(1024, int(width))), max(1, min(1024, int(height))))
        self._show_size()

    def _unit_factor(self) -> tuple[float, float]:
        try:
            return self.medium.cells_per_unit(self.unit.currentText())
        except ValueError:  # boards for a medium without boards: count in cells
            return 1.0, 1.0

    def _show_size(self, *_args) -> None:
        fx, fy = self._unit_factor()
        unit = self.unit.currentText()
        decimals = 0 if unit == "cells" else 2
        self._updating = True
        for spin, cells, f in ((self.width_spin, self._cells[0], fx), (self.height_spin, self._cells[1], fy)):
            spin.setDecimals(decimals)
            spin.setRange(1.0 / f if unit != "cells" else 1, 1024 / f)
            spin.setSingleStep(1 if unit == "cells" else 0.5)
            spin.setValue(cells / f)
        self._updating = False
        w, h = self._cells
        mm_w, mm_h = self.medium.size_mm(w, h)
        board, boards = self.medium.default_board, self.medium.boards_needed(w, h)
        text = f"{w} × {h} cells = {mm_w / 10:.1f} × {mm_h / 10:.1f} cm"
        if board and boards:
            text += f" = {boards[0]} × {boards[1]} boards of {board.width}×{board.height}"
        self.size_info.setText(text)

    def _size_edited(self, which: str) -> None:
        if self._updating:
            return
        fx, fy = self._unit_factor()
        w = max(1, round(self.width_spin.value() * fx))
        h = max(1, round(self.height_spin.value() * fy))
        if self.keep_aspect.isChecked() and self.image_size:
            iw, ih = self.image_size
            if which == "w":
                h = max(1, round(w * ih / iw))
            else:
                w = max(1, round(h * iw / ih))
        changed = (min(1024, w), min(1024, h)) != self._cells
        self._cells = (min(1024, w), min(1024, h))
        self._show_size()
        if changed:
            self.previewSettingsChanged.emit()

    # ------------------------------------------------------------ run state
    def set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        for w in (self.mode, self.stack, self.width_spin, self.height_spin, self.unit, self.open_button):
            w.setEnabled(not running)

    def current_mode(self) -> str:
        return self.mode.currentData()

    def set_mode(self, mode: str) -> None:
        self.mode.setCurrentIndex(self.mode.findData(mode))

    def job_settings(self) -> JobSettings:
        """The values of every control."""
        w, h = self._cells
        return JobSettings(
            mode=self.current_mode(),
            width=w,
            height=h,
            prompt=self.prompt.toPlainText().strip(),
            negative_prompt=self.negative.text().strip(),
            seed=self.seed.value(),
            fast={
                "fit": self.fit.currentText(),
                "resample": self.resample.currentText(),
                "dither": self.dither.currentText(),
                "dither_strength": self.dither_strength.value(),
                "cleanup": self.cleanup.value(),
                "remove_background": self.remove_background.isChecked(),
            },
            sdpixl={
                "preset": self.preset.currentText(),
                "steps": self.steps.value(),
                "model": self.model.text().strip(),
            },
        )


def describe_image_file(path: str | Path, width: int, height: int) -> str:
    """Short caption under the thumbnail."""
    return f"{Path(path).name}: {width} × {height} px"
