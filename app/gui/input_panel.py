"""Left-hand panel: the input picture, prompts, target size, mode and its settings, seed, Start/Stop."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent, QImage, QPainter, QPainterPath, QPen, QPixmap
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
BUDGET_AUTO, BUDGET_MAX, BUDGET_ALL = "auto", "max", "all"  # colour budget choices (ConvertConfig fields)
CLEANUP_BY_INTENT = -0.1  # cleanup spin value meaning "as the intent says" (ConvertConfig.cleanup None)
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
    auto_size: bool = False  # fast converter: one cell per detected pixel-art cell (ConvertConfig AUTO_SIZE)
    fast: dict = field(default_factory=dict)
    sdpixl: dict = field(default_factory=dict)


class ChoiceBox(QComboBox):
    """A dropdown of named choices: each item shows a plain name (and a tooltip) and carries the engine's value."""

    def add_choices(self, choices: list[tuple[str, str, str]]) -> None:
        """``(value, name, tooltip)`` per item."""
        for value, name, tip in choices:
            self.addItem(name, value)
            self.setItemData(self.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)

    def value(self) -> str:
        """The engine value of the current choice."""
        return self.currentData()

    def set_value(self, value: str) -> None:
        """Choose the item whose engine value is ``value`` (ValueError if there is none)."""
        i = self.findData(value)
        if i < 0:
            raise ValueError(f"no choice {value!r}")
        self.setCurrentIndex(i)


# Fast converter choices: (ConvertConfig value, what the app calls it, what it does)
FIT_CHOICES = [("crop", "Crop to fill", "Fill every cell; the picture's sides (or top and bottom) are cut off"),
               ("pad", "Pad (whole picture)", "Keep the whole picture; cells it does not cover stay empty"),
               ("stretch", "Stretch", "Fill every cell by stretching the picture (shapes get wider or taller)")]
RESAMPLE_CHOICES = [("area", "Average colour", "Each cell takes the average colour of its part of the picture"),
                    ("dominant", "Most common colour", "Each cell takes the most common colour of its part "
                                                       "(crisp for pixel art and logos)")]
DITHER_CHOICES = [("none", "None", "Flat areas of colour"),
                  ("floyd-steinberg", "Smooth (Floyd–Steinberg)", "Mixes neighbouring colours for smooth shading"),
                  ("atkinson", "Crisp (Atkinson)", "Lighter mixing that keeps more contrast"),
                  ("bayer", "Regular pattern (Bayer)", "An even, regular mix of colours")]
# What the app calls the engine's intents (engine.convert.intent.INTENTS) and guidance paths
# (engine.sdpixl.planner.MODES): engine value -> (name, what it does). The engine supplies the list; a value not
# named here is shown as it comes.
INTENT_WORDS = {
    "auto": ("Let the app decide", "The app looks at the picture and picks photo, flat art or pixel art"),
    "photo": ("Photo", "Smooth shading: more colours, some cleanup of stray cells"),
    "flat": ("Flat art (logos, cartoons)", "Areas of flat colour with crisp edges"),
    "pixel-art": ("Pixel art", "A sprite with its own pixel grid: one colour per pixel-art cell"),
}
GUIDANCE_WORDS = {
    "auto": ("Automatic", "The app picks from the pattern's size and the models on this computer"),
    "latent": ("Whole picture (latent)", "SDXL shapes the whole design at once"),
    "pixel": ("Small designs (pixel)", "DeepFloyd IF works on the cells directly (designs up to 64 cells a side)"),
    "patch": ("Large designs, piece by piece (patch)", "SDXL shapes a large design in overlapping crops "
                                                       "(slow: see the estimate)"),
}


def named_choices(values, words: dict[str, tuple[str, str]]) -> list[tuple[str, str, str]]:
    """``(value, name, tooltip)`` for each engine value, named from ``words``."""
    return [(v, *words.get(v, (v, ""))) for v in values]


def guidance_label(mode: str) -> str:
    """The app's name of a guidance path ("latent" -> "Whole picture (latent)")."""
    return GUIDANCE_WORDS.get(mode, (mode, ""))[0]


PERCENT = 100.0  # dither strength and cleanup are shown in percent; the engine takes 0..1


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
    ``stopRequested()``, ``clearImageRequested()``, ``previewSettingsChanged()`` (the user changed the size,
    the fit or the colour budget: time for a new preview), ``autoSizeToggled(bool)`` ("Auto (pixel grid)" size),
    ``planSettingsChanged()`` (size, steps, preset, guidance or ControlNets changed: time for a new SD-πXL
    estimate)."""

    openRequested = Signal()
    fileDropped = Signal(str)
    startRequested = Signal()
    stopRequested = Signal()
    clearImageRequested = Signal()
    previewSettingsChanged = Signal()
    budgetChanged = Signal(object)  # "at most" K (int) or None
    imageChanged = Signal()
    autoSizeToggled = Signal(bool)
    planSettingsChanged = Signal()

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
        self.crop_info = QLabel()  # what the crop to the pattern's shape leaves out
        self.crop_info.setObjectName("cropInfo")
        self.crop_info.setWordWrap(True)
        self.crop_info.hide()
        self._thumb_pm: QPixmap | None = None
        self.crop_box: tuple[int, int, int, int] | None = None  # the part of the picture the pattern uses
        row = QHBoxLayout()
        row.addWidget(self.open_button, 1)
        row.addWidget(self.clear_button)
        pic_box = QGroupBox("Picture")
        pic = QVBoxLayout(pic_box)
        pic.addWidget(self.thumb)
        pic.addLayout(row)
        pic.addWidget(self.image_info)
        pic.addWidget(self.crop_info)

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
        self.unit.addItems(available_units(self.medium))
        self.keep_aspect = QCheckBox("Keep picture aspect")
        self.keep_aspect.setChecked(True)
        self.auto_size = QCheckBox("Auto (pixel grid)")
        self.auto_size.setObjectName("autoSize")
        self.auto_size.setToolTip("Pixel-art pictures: detect the picture's own pixel grid and make one cell per "
                                  "pixel-art cell (fast converter)")
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
        aspect_row = QHBoxLayout()
        aspect_row.addWidget(self.keep_aspect)
        aspect_row.addWidget(self.auto_size)
        sl.addLayout(aspect_row)
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
        self.fit.currentIndexChanged.connect(lambda _i: self._show_crop())
        self.unit.currentIndexChanged.connect(self._show_size)
        self.width_spin.valueChanged.connect(lambda _v: self._size_edited("w"))
        self.height_spin.valueChanged.connect(lambda _v: self._size_edited("h"))
        self.auto_size.toggled.connect(self._on_auto_size_toggled)
        self.mode.currentIndexChanged.connect(lambda _i: self.planSettingsChanged.emit())
        self._show_size()

    def _fast_page(self) -> QWidget:
        page = QWidget()
        f = QFormLayout(page)
        f.setContentsMargins(0, 0, 0, 0)
        self.fit = ChoiceBox()
        self.fit.add_choices(FIT_CHOICES)
        self.resample = ChoiceBox()
        self.resample.add_choices(RESAMPLE_CHOICES)
        self.dither = ChoiceBox()
        self.dither.add_choices(DITHER_CHOICES)
        self.dither_strength = QDoubleSpinBox()
        self.dither_strength.setDecimals(0)
        self.dither_strength.setRange(0.0, PERCENT)
        self.dither_strength.setSingleStep(10.0)
        self.dither_strength.setSuffix(" %")
        self.dither_strength.setValue(PERCENT)
        self.dither_strength.setToolTip("How strongly colours are mixed when dithering (100 % = full)")
        self.cleanup = QDoubleSpinBox()
        self.cleanup.setDecimals(0)
        self.cleanup.setRange(CLEANUP_BY_INTENT * PERCENT, PERCENT)
        self.cleanup.setSingleStep(10.0)
        self.cleanup.setSuffix(" %")
        self.cleanup.setSpecialValueText("by intent")
        self.cleanup.setValue(CLEANUP_BY_INTENT * PERCENT)
        self.cleanup.setToolTip("Remove isolated single cells (confetti): 0 % = off, 100 % = strongest; "
                                "\"by intent\" = what the picture's intent uses (photos get some cleanup)")
        self.remove_background = QCheckBox("Remove background")
        # intent: the choices come from the engine once it has loaded (fill_engine_choices); "auto" until then
        self.intent = ChoiceBox()
        self.intent.setObjectName("intent")
        self.intent.add_choices(named_choices(["auto"], INTENT_WORDS))
        self.intent.setToolTip("What kind of picture this is: a photo (smooth shading), flat art (cartoons, "
                               "logos), pixel art (a sprite with its own pixel grid), or let the app decide")
        # colour budget
        self.budget = QComboBox()
        self.budget.setObjectName("colourBudget")
        self.budget.addItem("Automatic", BUDGET_AUTO)
        self.budget.addItem("At most", BUDGET_MAX)
        self.budget.addItem("All colours", BUDGET_ALL)
        self.budget.setToolTip("Automatic: as many colours as visibly help; At most: exactly the best K; "
                               "All colours: every owned colour may be used")
        self.budget_k = QSpinBox()
        self.budget_k.setObjectName("colourBudgetK")
        self.budget_k.setRange(1, 512)
        self.budget_k.setValue(32)
        self.budget_k.setSuffix(" colours")
        self.budget_k.setEnabled(False)
        self.min_count = QSpinBox()
        self.min_count.setObjectName("minCount")
        self.min_count.setRange(0, 100000)
        self.min_count.setSpecialValueText("automatic")
        self.min_count.setSuffix(" cells")
        self.min_count.setToolTip("No colour is used on fewer cells than this (rare colours are merged into "
                                  "their best neighbour); automatic grows with the pattern size, 1 with All colours")
        budget_row = QHBoxLayout()
        budget_row.addWidget(self.budget, 1)
        budget_row.addWidget(self.budget_k, 1)
        self.intent_info = QLabel()
        self.intent_info.setObjectName("intentInfo")
        self.intent_info.setWordWrap(True)
        self.intent_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.intent_info.hide()
        f.addRow("Intent", self.intent)
        f.addRow("Colours", budget_row)
        f.addRow("Min per colour", self.min_count)
        f.addRow("Fit", self.fit)
        f.addRow("Resample", self.resample)
        f.addRow("Dither", self.dither)
        f.addRow("Strength", self.dither_strength)
        f.addRow("Cleanup", self.cleanup)
        f.addRow(self.remove_background)
        f.addRow(self.intent_info)
        self.budget.currentIndexChanged.connect(self._on_budget_changed)
        self.budget_k.valueChanged.connect(lambda _v: self._budget_edited())
        return page

    # ------------------------------------------------------------ fast converter: intent and colour budget
    def fill_engine_choices(self, intents: tuple[str, ...] | list[str], default_max_colors: int) -> None:
        """Fill the intent list and the "at most" default from the engine (called once it has loaded)."""
        current = self.intent.value()
        self.intent.blockSignals(True)
        self.intent.clear()
        self.intent.add_choices(named_choices(intents, INTENT_WORDS))
        self.intent.set_value(current if current in intents else "auto")
        self.intent.blockSignals(False)
        if self.budget.currentData() != BUDGET_MAX and not self._budget_k_touched:
            self.budget_k.blockSignals(True)
            self.budget_k.setValue(int(default_max_colors))
            self.budget_k.blockSignals(False)

    _budget_k_touched = False

    def _on_budget_changed(self, *_args) -> None:
        self.budget_k.setEnabled(self.budget.currentData() == BUDGET_MAX)
        self._budget_edited()

    def _budget_edited(self) -> None:
        self._budget_k_touched = self._budget_k_touched or self.budget.currentData() == BUDGET_MAX
        self.budgetChanged.emit(self.max_colors())
        self.previewSettingsChanged.emit()

    def max_colors(self) -> int | None:
        """K for "At most K colours", else None."""
        return self.budget_k.value() if self.budget.currentData() == BUDGET_MAX else None

    def set_max_colors(self, k: int | None) -> None:
        """Show "At most k" (k > 0) or, for None/0, go back to Automatic if "At most" was chosen (no signal)."""
        self.budget.blockSignals(True)
        self.budget_k.blockSignals(True)
        if k:
            self.budget.setCurrentIndex(self.budget.findData(BUDGET_MAX))
            self.budget_k.setValue(int(k))
            self._budget_k_touched = True
        elif self.budget.currentData() == BUDGET_MAX:
            self.budget.setCurrentIndex(self.budget.findData(BUDGET_AUTO))
        self.budget_k.setEnabled(self.budget.currentData() == BUDGET_MAX)
        self.budget.blockSignals(False)
        self.budget_k.blockSignals(False)

    def show_conversion_summary(self, lines: list[str]) -> None:
        """After a conversion: which intent was used and why, and the colour merges (engine summary lines)."""
        self.intent_info.setText("\n".join(lines))
        self.intent_info.setToolTip("\n".join(lines))
        self.intent_info.setVisible(bool(lines))

    def _sdpixl_page(self) -> QWidget:
        page = QWidget()
        f = QFormLayout(page)
        f.setContentsMargins(0, 0, 0, 0)
        self.preset = QComboBox()
        self.steps = QSpinBox()
        self.steps.setRange(1, 100000)
        self.steps.setValue(500)
        self.model = QLineEdit()
        self.model.setPlaceholderText("empty: the built-in emoji model; or a model folder or hub id")
        # guidance path: the planner's modes fill the list when SD-πXL loads (fill_guidance_modes)
        self.guidance = ChoiceBox()
        self.guidance.setObjectName("guidanceMode")
        self.guidance.add_choices(named_choices(["auto"], GUIDANCE_WORDS))
        self.guidance.setToolTip("How the diffusion model guides the design: automatic (the app picks), the whole "
                                 "picture at once, small designs cell by cell, or large designs piece by piece")
        self.control_canny = QCheckBox("Edges")
        self.control_depth = QCheckBox("Depth")
        for box, kind in ((self.control_canny, "canny"), (self.control_depth, "depth")):
            box.setObjectName(f"controlnet_{kind}")
            box.setToolTip(f"Follow the picture's {'edges' if kind == 'canny' else 'depth'} with a {kind} "
                           "ControlNet (needs a picture)")
        control_row = QHBoxLayout()
        control_row.addWidget(self.control_canny)
        control_row.addWidget(self.control_depth)
        control_row.addStretch(1)
        self.plan_label = QLabel("Estimate: choose SD-πXL to see the time and memory the run needs")
        self.plan_label.setObjectName("planEstimate")
        self.plan_label.setWordWrap(True)
        self.plan_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        f.addRow("Preset", self.preset)
        f.addRow("Steps", self.steps)
        f.addRow("Model", self.model)
        f.addRow("Guidance", self.guidance)
        f.addRow("ControlNets", control_row)
        f.addRow(self.plan_label)
        for sig in (self.preset.currentIndexChanged, self.steps.valueChanged, self.guidance.currentIndexChanged,
                    self.control_canny.toggled, self.control_depth.toggled):
            sig.connect(lambda *_a: self.planSettingsChanged.emit())
        self.model.editingFinished.connect(self.planSettingsChanged)
        return page

    def fill_guidance_modes(self, modes: tuple[str, ...] | list[str]) -> None:
        """The planner's guidance modes (engine.sdpixl.planner.MODES), once SD-πXL has loaded."""
        current = self.guidance.value()
        self.guidance.blockSignals(True)
        self.guidance.clear()
        self.guidance.add_choices(named_choices(modes, GUIDANCE_WORDS))
        self.guidance.set_value(current if current in modes else "auto")
        self.guidance.blockSignals(False)

    def controlnet_kinds(self) -> list[str]:
        """The ControlNets ticked (kinds as the engine names them)."""
        return [k for box, k in ((self.control_canny, "canny"), (self.control_depth, "depth")) if box.isChecked()]

    def show_plan(self, text: str, tooltip: str = "") -> None:
        """Show the planner's estimate (or why there is none)."""
        self.plan_label.setText(text)
        self.plan_label.setToolTip(tooltip or text)

    def set_presets(self, names: list[str]) -> None:
        self.preset.clear()
        self.preset.addItems(names)

    # ------------------------------------------------------------ picture
    def set_image(self, image: QImage | None, description: str = "") -> None:
        """Show a thumbnail (None clears) and remember its size for the aspect ratio."""
        if image is None or image.isNull():
            self.image_size = None
            self._thumb_pm = None
            self.thumb.setPixmap(QPixmap())
            self.thumb.setText("Drop a picture here\nor click Open…")
            self.image_info.setText("No picture (SD-πXL can start from the prompt alone)")
        else:
            self.image_size = (image.width(), image.height())
            pm = QPixmap.fromImage(image).scaled(260, 140, Qt.AspectRatioMode.KeepAspectRatio,
                                                 Qt.TransformationMode.SmoothTransformation)
            self._thumb_pm = pm
            self.thumb.setPixmap(pm)
            self.image_info.setText(description or f"{image.width()} × {image.height()} px")
            if self.keep_aspect.isChecked():
                self._size_edited("w")
        self._show_crop()
        self.imageChanged.emit()

    # ------------------------------------------------------------ crop frame
    def _show_crop(self) -> None:
        """With Fit "crop" and a pattern of another shape than the picture: a frame on the thumbnail around the
        part used and the converter's own note on what is left out (``engine.convert.pipeline.fit_notes``, the
        same words and threshold the conversion reports after Start); Fit "pad" says what stays empty."""
        box, text = None, ""
        if self.image_size is not None and self._thumb_pm is not None:
            from app.gui.wording import plain_words
            from engine.convert.pipeline import fit_notes
            from engine.core.image_io import fit_layout

            iw, ih = self.image_size
            w, h = self._cells
            fit = self.fit.value() or "crop"
            layout = fit_layout(iw, ih, w, h, fit)
            notes = fit_notes(iw, ih, layout, w, h, fit)
            if notes and fit == "crop":
                box = layout.crop_box  # the converter said it is worth a word: frame it too
            text = "\n".join(plain_words(n[0].upper() + n[1:]) for n in notes)
        self.crop_box = box
        self.crop_info.setText(text)
        self.crop_info.setVisible(bool(text))
        if self._thumb_pm is not None:
            self.thumb.setPixmap(self._thumb_pm if box is None else self._framed(box))

    def _framed(self, box: tuple[int, int, int, int]) -> QPixmap:
        pm = QPixmap(self._thumb_pm)
        iw, ih = self.image_size
        sx, sy = pm.width() / iw, pm.height() / ih
        inner = QRectF(box[0] * sx, box[1] * sy, (box[2] - box[0]) * sx, (box[3] - box[1]) * sy)
        p = QPainter(pm)
        outside = QPainterPath()
        outside.addRect(QRectF(pm.rect()))
        cut = QPainterPath()
        cut.addRect(inner)
        p.fillPath(outside.subtracted(cut), QColor(0, 0, 0, 140))
        p.setPen(QPen(QColor(255, 210, 0), 2))
        p.drawRect(inner.adjusted(1, 1, -1, -1))
        p.end()
        return pm

    # ------------------------------------------------------------ size
    def set_medium(self, medium: Medium) -> None:
        """The medium of the next run: its units (no "boards" for threads or pixel art) and its sizes."""
        self.medium = medium
        units = available_units(medium)
        if [self.unit.itemText(i) for i in range(self.unit.count())] != units:
            current = self.unit.currentText()
            self.unit.blockSignals(True)
            self.unit.clear()
            self.unit.addItems(units)
            self.unit.setCurrentText(current if current in units else "cells")
            self.unit.blockSignals(False)
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
        if self._grid_text and self.auto_size.isChecked():
            text = self._grid_text + "\n" + text
        self.size_info.setText(text)
        self._show_crop()

    # ------------------------------------------------------------ size "Auto (pixel grid)"
    def is_auto_size(self) -> bool:
        return self.auto_size.isChecked()

    def _on_auto_size_toggled(self, on: bool) -> None:
        if not on:
            self._grid_text = ""
        for w in (self.width_spin, self.height_spin, self.unit, self.keep_aspect):
            w.setEnabled(not on)
        self._show_size()
        self.autoSizeToggled.emit(on)

    def set_detected_grid(self, cols: int, rows: int, text: str) -> None:
        """Auto size found a pixel grid: show its size in the size box and say so."""
        self._grid_text = text
        changed = (cols, rows) != self._cells
        self.set_cells(cols, rows)
        if changed:
            self.previewSettingsChanged.emit()
            self.planSettingsChanged.emit()

    def auto_size_failed(self, message: str) -> None:
        """Auto size is not possible (not pixel art, no picture): untick it and say why."""
        self.auto_size.blockSignals(True)
        self.auto_size.setChecked(False)
        self.auto_size.blockSignals(False)
        self._grid_text = ""
        for w in (self.width_spin, self.height_spin, self.unit, self.keep_aspect):
            w.setEnabled(True)
        self._show_size()
        self.size_info.setText(self.size_info.text() + "\n" + message)

    _grid_text = ""

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
            self.planSettingsChanged.emit()

    # ------------------------------------------------------------ run state
    def set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        for w in (self.mode, self.stack, self.open_button, self.auto_size):
            w.setEnabled(not running)
        for w in (self.width_spin, self.height_spin, self.unit):
            w.setEnabled(not running and not self.auto_size.isChecked())

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
            auto_size=self.auto_size.isChecked(),
            fast={  # ConvertConfig fields; None = the engine's (and the CLI's) default
                "fit": self.fit.value(),
                "resample": self.resample.value(),
                "dither": self.dither.value(),
                "dither_strength": self.dither_strength.value() / PERCENT,
                "cleanup": None if self.cleanup.value() < 0 else self.cleanup.value() / PERCENT,
                "remove_background": self.remove_background.isChecked(),
                "intent": self.intent.value() or "auto",
                "max_colors": self.max_colors(),
                "all_colors": self.budget.currentData() == BUDGET_ALL,
                "min_count": self.min_count.value() or None,
            },
            sdpixl={
                "preset": self.preset.currentText(),
                "steps": self.steps.value(),
                "model": self.model.text().strip(),
                "guidance_mode": self.guidance.value() or "auto",
                "controlnets": self.controlnet_kinds(),
            },
        )


def available_units(medium: Medium) -> list[str]:
    """The size units that mean something for ``medium``: boards only where it has a default board."""
    return [u for u in UNITS if u != "boards" or medium.default_board is not None]


def describe_image_file(path: str | Path, width: int, height: int) -> str:
    """Short caption under the thumbnail."""
    return f"{Path(path).name}: {width} × {height} px"
