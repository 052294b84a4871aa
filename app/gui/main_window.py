"""piXL Studio main window: input panel | pattern canvas | palette panel, menus, toolbar, status bar."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, QEvent, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QWidget,
)

from app.gui import settings, wheel_guard
from app.gui.autosave import Autosaver
from app.gui.canvas import PatternCanvas, array_to_qimage
from app.gui.crash import install_excepthook
from app.gui.document import PatternDocument
from app.gui.input_panel import IMAGE_FILTER, MODE_SDPIXL, InputPanel, describe_image_file
from app.gui.palette_panel import PalettePanel
from app.gui.preferences import Preferences, PreferencesDialog, resolve_device
from app.gui.preview import PreviewRunner
from app.gui.process_jobs import warm_up
from app.gui.project_actions import ProjectActions, last_dir
from app.gui.run_controller import RunController, best_colours_for, build_run_config, format_seconds
from app.gui.swatch import ColorSwatch
from app.gui.tools import SWAP_KEY, TOOL_KEYS, EditController
from app.gui.wording import plain_words
from app.gui.workers import JobRunner, freeze_startup_objects, prefer_gui_thread
from engine.core.palette import PaletteError
from engine.core.pattern import FILE_SUFFIX

__all__ = ["MainWindow", "best_colours_for", "build_run_config", "format_seconds", "run_gui"]

log = logging.getLogger(__name__)

APP_TITLE = "piXL Studio"
ICON_DIR = Path(__file__).resolve().parents[2] / "resources" / "icons"
SAMPLES_DIR = Path(__file__).resolve().parents[2] / "resources" / "samples"
PALETTE_FILTER = "Palettes (*.hex *.gpl *.csv *.json);;All files (*)"
PREVIEW_DELAY_MS = 150  # the preview waits for the size/palette to settle (typing, spinning)
PARTIAL_REPAINT_CELLS = 4096  # edits touching at most this many cells repaint only those
COUNTS_DURING_STROKE_MS = 120  # how often colour counts follow a pencil stroke


def icon(name: str) -> QIcon:
    """One of our SVG icons (empty icon if missing)."""
    path = ICON_DIR / f"{name}.svg"
    return QIcon(str(path)) if path.is_file() else QIcon()


class MainWindow(QMainWindow):
    """The desktop app: builds the widgets, menus and docks and wires them to the run controller
    (``self.runs``), the project actions (``self.project``) and the edit controller (``self.edit``).
    ``runEnded(str)`` fires after a run was handled and its thread has ended: finished, cancelled or failed."""

    runEnded = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowIcon(icon("app"))
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks)
        self.prefs = Preferences.load()
        self.doc = PatternDocument(self)
        self.edit = EditController(self.doc, self)
        self.runner = JobRunner(self)
        self.previews = PreviewRunner(self)
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_DELAY_MS)
        self._counts_timer = QTimer(self)
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(COUNTS_DURING_STROKE_MS)
        self.autosaver = Autosaver(self.doc, self.prefs.autosave_seconds, self)
        self.source_image = None  # PIL RGBA of the input picture
        self.source_path: Path | None = None
        self._hover_cell = (-1, -1)
        self.runs = RunController(self)
        self.runs.runEnded.connect(self.runEnded)
        self.project = ProjectActions(self)

        self.canvas = PatternCanvas()
        self.setCentralWidget(self.canvas)
        self.input_panel = InputPanel()
        self.palette_panel = PalettePanel()
        self.input_panel.setMinimumWidth(300)
        self.input_dock = self._dock("Input", "inputDock", self.input_panel, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.palette_dock = self._dock("Palette", "paletteDock", self.palette_panel,
                                       Qt.DockWidgetArea.RightDockWidgetArea)
        self.palette_panel.setMinimumWidth(340)  # room for long colour names (full names are in tooltips)

        self._build_status_bar()
        self._build_actions()
        self._build_menus_and_toolbars()
        self._connect()
        self._load_presets()
        self._build_shopping_dock()

        self.palette_panel.restore_last()
        self.resize(1400, 860)
        self._restore_window_state()
        self._update_title()
        self.update_device_label()
        install_excepthook(lambda title, message: self.show_error(title, message))

    # ================================================================== construction
    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        # closable, or Qt greys out its View-menu toggle
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.hover_label = QLabel()
        self.hover_label.setMinimumWidth(280)
        self.run_label = QLabel()
        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumWidth(220)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.hide()
        self.device_label = QLabel()
        self.count_label = QLabel()
        self.count_label.setObjectName("colorCount")
        self.count_label.setToolTip("Colours and filled cells in the pattern (updates as you edit)")
        sb.addWidget(self.hover_label, 1)
        sb.addPermanentWidget(self.count_label)
        sb.addPermanentWidget(self.run_label)
        sb.addPermanentWidget(self.progress_bar)
        sb.addPermanentWidget(self.device_label)

    def _action(self, text: str, slot=None, shortcut=None, icon_name: str | None = None,
                checkable: bool = False, tip: str = "") -> QAction:
        act = QAction(text, self)
        if icon_name:
            act.setIcon(icon(icon_name))
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        if tip:
            act.setStatusTip(tip)
            act.setToolTip(tip)
        act.setCheckable(checkable)
        if slot is not None:
            (act.toggled if checkable else act.triggered).connect(slot)
        return act

    def _build_actions(self) -> None:
        K = QKeySequence.StandardKey
        self.act_new = self._action("&New", self.new_project, K.New, "new", tip="Start a new empty project")
        self.act_open = self._action("&Open project…", self.open_project_dialog, K.Open, "open")
        self.act_save = self._action("&Save", self.save, K.Save, "save")
        self.act_save_as = self._action("Save &as…", self.save_as, K.SaveAs)
        self.act_open_image = self._action("Open &picture…", self.open_image_dialog, "Ctrl+I", "input")
        self.act_import_palette = self._action("&Import palette…", self.import_palette_dialog, None, "palette")
        self.act_export = self._action("&Export…", self.export_dialog, "Ctrl+E", "export",
                                       tip="Bead chart PDF, brick parts, embroidery files, PNG")
        self.act_quit = self._action("&Quit", self.close, K.Quit)
        self.act_undo = self.doc.undo_stack.createUndoAction(self, "&Undo")
        self.act_undo.setShortcut(QKeySequence(K.Undo))
        self.act_undo.setIcon(icon("undo"))
        self.act_redo = self.doc.undo_stack.createRedoAction(self, "&Redo")
        self.act_redo.setShortcut(QKeySequence(K.Redo))
        self.act_redo.setIcon(icon("redo"))
        self.act_prefs = self._action("&Preferences…", self.preferences_dialog, K.Preferences, "preferences")
        self.act_about = self._action("&About piXL Studio", self.about)
        self.act_quick_start = self._action("&Quick start", self.show_quick_start, K.HelpContents,
                                            tip="Six steps from a picture to a pattern")
        self.act_shortcuts = self._action("&Keyboard shortcuts", self.show_shortcuts,
                                          tip="Every shortcut of the menus, and the mouse")
        self.act_zoom_in = self._action("Zoom &in", lambda: self.canvas.zoom_by(1.25), K.ZoomIn, "zoom-in")
        self.act_zoom_out = self._action("Zoom &out", lambda: self.canvas.zoom_by(0.8), K.ZoomOut, "zoom-out")
        self.act_fit = self._action("&Fit to window", self.canvas.fit, "Ctrl+0", "zoom-fit")
        self.act_actual = self._action("Actual size (&1:1)", self.canvas.actual_size, "Ctrl+1", "zoom-1to1",
                                       tip="Cells at their physical size on screen")
        self.act_grid = self._action("&Grid", self.canvas.set_grid, "Ctrl+G", "grid", checkable=True)
        self.act_grid.setChecked(True)
        self.act_boards = self._action("&Board lines", self.canvas.set_boards, "Ctrl+B", "boards", checkable=True)
        self.act_boards.setChecked(True)
        self.act_show_input = self._action("Show &input beside", self.canvas.set_show_input, "Ctrl+T", "input",
                                           checkable=True, tip="Show the input picture beside the pattern")
        self.act_show_input.setIcon(icon("input"))
        self.act_start = self._action("&Start", self.start_run, "F5", "start", tip="Run the chosen method")
        self.act_stop = self._action("S&top", self.stop_run, "Esc", "stop", tip="Stop the run")
        self.act_stop.setEnabled(False)
        self.tool_group = QActionGroup(self)
        self.tool_actions: dict[str, QAction] = {}
        tips = {"pencil": "left button: pen colour, right button: secondary colour",
                "eraser": "empties cells", "fill": "fills the touching cells of one colour",
                "eyedropper": "left click: pen colour, right click: secondary colour",
                "replace": "every cell of the clicked colour becomes the pen colour",
                "pan": "drag to move the view (the middle button pans in every tool)"}
        for name in ("pan", "pencil", "eraser", "fill", "eyedropper", "replace"):
            text, key = TOOL_KEYS[name]
            act = self._action(text, None, key, name, checkable=True, tip=f"{text} ({key}): {tips[name]}")
            act.triggered.connect(lambda _c=False, n=name: self.set_tool(n))
            self.tool_group.addAction(act)
            self.tool_actions[name] = act
        self.tool_actions["pencil"].setChecked(True)
        self.act_swap = self._action("S&wap colours", self.edit.swap_colors, SWAP_KEY,
                                     tip=f"Swap pen and secondary colour ({SWAP_KEY})")
        self.act_highlight = self._action("&Highlight pen colour", self._on_highlight_toggled, "Ctrl+H",
                                          "highlight", checkable=True,
                                          tip="Dim every cell that is not the pen colour (Ctrl+H)")

    def _build_menus_and_toolbars(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&File")
        for a in (self.act_new, self.act_open):
            m.addAction(a)
        self.recent_menu = self.project.recent_menu
        m.addMenu(self.recent_menu)
        self.recover_menu = self.project.recover_menu
        m.addMenu(self.recover_menu)
        for a in (self.act_save, self.act_save_as, None, self.act_open_image, self.act_import_palette,
                  self.act_export, None, self.act_quit):
            m.addSeparator() if a is None else m.addAction(a)
        m = mb.addMenu("&Edit")
        for a in (self.act_undo, self.act_redo, None, *self.tool_actions.values(), self.act_swap, None,
                  self.act_prefs):
            m.addSeparator() if a is None else m.addAction(a)
        m = mb.addMenu("&View")
        for a in (self.act_zoom_in, self.act_zoom_out, self.act_fit, self.act_actual, None, self.act_grid,
                  self.act_boards, self.act_show_input, self.act_highlight, None, self.input_dock.toggleViewAction(),
                  self.palette_dock.toggleViewAction()):
            m.addSeparator() if a is None else m.addAction(a)
        m = mb.addMenu("&Run")
        m.addAction(self.act_start)
        m.addAction(self.act_stop)
        m = mb.addMenu("&Help")
        for a in (self.act_quick_start, self.act_shortcuts, None, self.act_about):
            m.addSeparator() if a is None else m.addAction(a)

        tb = self.addToolBar("Main")
        tb.setObjectName("mainToolbar")
        for a in (self.act_new, self.act_open, self.act_save, self.act_export, None, self.act_undo, self.act_redo,
                  None, self.act_start, self.act_stop):
            tb.addSeparator() if a is None else tb.addAction(a)
        tb2 = self.addToolBar("Tools")
        tb2.setObjectName("toolsToolbar")
        for a in self.tool_actions.values():
            tb2.addAction(a)
        self.swatch = ColorSwatch()
        tb2.addWidget(self.swatch)
        self.swatch_label = QLabel()
        self.swatch_label.setObjectName("swatchLabel")
        self.swatch_label.setMinimumWidth(150)
        tb2.addWidget(self.swatch_label)
        tb2.addSeparator()
        for a in (self.act_zoom_in, self.act_zoom_out, self.act_fit, self.act_actual, self.act_grid,
                  self.act_boards, self.act_show_input, self.act_highlight):
            tb2.addAction(a)

    def _connect(self) -> None:
        ip, pp, c = self.input_panel, self.palette_panel, self.canvas
        ip.openRequested.connect(self.open_image_dialog)
        ip.fileDropped.connect(self.load_image_file)
        ip.clearImageRequested.connect(self.clear_image)
        ip.startRequested.connect(self.start_run)
        ip.stopRequested.connect(self.stop_run)
        pp.paletteChanged.connect(self._on_palette_changed)
        pp.highlightRequested.connect(self._on_highlight)
        pp.colorActivated.connect(self._on_color_activated)
        pp.secondaryRequested.connect(self._on_secondary_requested)
        pp.replaceRequested.connect(self.replace_color)
        pp.replaceWithPenRequested.connect(lambda i: self.replace_with_pen(i))
        pp.import_button.clicked.connect(self.import_palette_dialog)
        c.cellPressed.connect(self._on_cell_pressed)
        c.cellAltPressed.connect(self._on_cell_alt_pressed)
        self.swatch.swapRequested.connect(self.edit.swap_colors)
        ip.previewSettingsChanged.connect(self.request_preview)
        pp.ownedChanged.connect(self._on_owned_changed)
        c.previewClicked.connect(self._on_preview_clicked)
        self._preview_timer.timeout.connect(self._start_preview)
        self._counts_timer.timeout.connect(self._flush_counts)
        c.cellReleased.connect(self._flush_counts)
        self.previews.ready.connect(self._show_preview)
        self.edit.colorsChanged.connect(self._on_colors_changed)
        c.cellDragged.connect(self.edit.drag)
        c.cellReleased.connect(self.edit.release)
        c.hoveredCell.connect(self._on_hover)
        self.edit.colorPicked.connect(self._on_color_picked)
        self.doc.patternReplaced.connect(self._on_pattern_replaced)
        self.doc.cellsChanged.connect(self._on_cells_changed)
        self.doc.modifiedChanged.connect(lambda _m: self._update_title())
        self.doc.pathChanged.connect(lambda _p: self._update_title())
        self.edit.panel_palette = self.palette_panel.palette
        self._connect_input_options()

    def _connect_input_options(self) -> None:
        """Converter/SD-πXL options of the input panel wired to the engine (app/gui/input_wiring.py)."""
        from app.gui.input_wiring import InputWiring

        self.input_wiring = InputWiring(self, build_run_config, format_seconds)

    def _load_presets(self) -> None:
        # Nothing heavy here: the window must show first. The converter engine loads just after the first
        # paint (_warm_up_engine); SD-πXL (torch, diffusers) loads when its mode is first chosen.
        self.input_panel.model.setText(self.prefs.model_source)
        self.input_panel.mode.currentIndexChanged.connect(self._on_mode_changed)
        self._engine_warm = False
        self.canvas.installEventFilter(self)  # the warm-up waits for the canvas's first paint

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
        if obj is self.canvas and event.type() == QEvent.Type.Paint and not self._engine_warm:
            self._engine_warm = True
            self.canvas.removeEventFilter(self)
            QTimer.singleShot(0, self._warm_up_engine)
            # dropdowns and number boxes take the wheel only when focused (every window and dialog); installed
            # after the first paint: an application-wide filter makes PySide wrap every object that gets an event
            QTimer.singleShot(0, wheel_guard.install)
        return super().eventFilter(obj, event)

    def _warm_up_engine(self) -> None:
        """Import the converter now (after the window showed), not in the middle of the first run: loading
        compiled extension modules holds the GIL and would freeze the GUI while a worker thread imports them."""
        import engine.convert.pipeline  # noqa: F401
        import engine.core.image_io  # noqa: F401

        warm_up()  # the converter runs in a child process; start its server now
        self.input_wiring.fill_converter_choices()

    def _on_mode_changed(self, *_args) -> None:
        if self.input_panel.current_mode() == MODE_SDPIXL:
            self.ensure_sdpixl_loaded()

    def ensure_sdpixl_loaded(self) -> bool:
        """Load SD-πXL (torch, diffusers) on first use and list its presets; False when it is not installed."""
        if self.input_panel.preset.count():
            return True
        self.statusBar().showMessage("Loading SD-πXL…")
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            from engine.sdpixl.optimize import PRESETS

            names = list(PRESETS)
        except Exception as exc:  # not installed (ImportError) or a broken install (OSError, RuntimeError...)
            log.warning("SD-πXL unavailable: %s", exc)
            self._sdpixl_error = f"{type(exc).__name__}: {exc}"
            names = []
        finally:
            QApplication.restoreOverrideCursor()
            self.statusBar().clearMessage()
        self.input_panel.set_presets(names)
        if "fast" in names:
            self.input_panel.preset.setCurrentText("fast")
        if names:
            self.input_wiring.fill_sdpixl_choices()
        self.update_device_label()
        return bool(names)

    # ================================================================== dialogs (tests monkeypatch these)
    def show_error(self, title: str, message: str) -> None:
        """Tell the user something failed (a modal box); tests replace this method."""
        log.warning("%s: %s", title, message)
        QMessageBox.critical(self, title, message)

    def ask_model_source(self, message: str, exc: BaseException) -> str | None:
        """A run failed for a missing model: explain, offer the download command and Browse… for a local model.
        Returns the local model chosen (validated), or None. Tests replace this method."""
        from app.gui.model_dialog import ModelSourceDialog

        dlg = ModelSourceDialog(self, message, getattr(exc, "command", ""),
                                browsable=getattr(exc, "what", "model") == "model")
        return dlg.chosen if dlg.exec() else None

    def ask_long_run(self, advice) -> str:
        """An SD-πXL run estimated to take very long: the estimate, what helps, and a clear choice. Returns a
        ``app.gui.long_run`` CHOICE_*; Cancel is the default. Tests replace this method."""
        from app.gui.long_run import CHOICE_CANCEL

        box, choices = self.long_run_box(advice)
        box.exec()
        return choices.get(box.clickedButton(), CHOICE_CANCEL)

    def long_run_box(self, advice) -> tuple[QMessageBox, dict]:
        """The confirmation box for ``ask_long_run`` and its buttons' choices (built, not shown)."""
        from app.gui.long_run import CHOICE_CANCEL, CHOICE_FAST, CHOICE_SMALLER, CHOICE_START

        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("A very long run")
        box.setText(f"<b>This run would take about {format_seconds(advice.seconds)}.</b>")
        box.setInformativeText(advice.text(format_seconds))
        role = QMessageBox.ButtonRole
        choices = {}
        if self.source_image is not None:
            choices[box.addButton("Use the fast converter", role.ActionRole)] = CHOICE_FAST
        if advice.smaller is not None:
            w, h = advice.smaller
            choices[box.addButton(f"Make it {w} × {h} cells", role.ActionRole)] = CHOICE_SMALLER
        choices[box.addButton(f"Start anyway ({format_seconds(advice.seconds)})", role.DestructiveRole)] = \
            CHOICE_START
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        choices[cancel] = CHOICE_CANCEL
        box.setDefaultButton(cancel)
        box.setEscapeButton(cancel)
        return box, choices

    def show_info(self, title: str, message: str) -> None:
        QMessageBox.information(self, title, message)

    def ask_save_changes(self) -> QMessageBox.StandardButton:
        """Save / Discard / Cancel for unsaved changes."""
        buttons = (QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                   | QMessageBox.StandardButton.Cancel)
        return QMessageBox.question(self, APP_TITLE, "The pattern has unsaved changes. Save them?", buttons,
                                    QMessageBox.StandardButton.Save)

    def ask_restore(self, path: Path) -> bool:
        """Offer the autosave left by a session that did not close cleanly."""
        answer = QMessageBox.question(
            self, APP_TITLE, "piXL Studio did not close properly last time. Restore the autosaved pattern?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes)
        return answer == QMessageBox.StandardButton.Yes

    def ask_save_path(self) -> str:
        """Where to save the project (a file dialog; tests replace this method)."""
        return self.project.ask_save_path()

    # ================================================================== project files (ProjectActions)
    def maybe_save(self) -> bool:
        """True when it is fine to drop the current project (saved, discarded, or nothing to lose)."""
        return self.project.maybe_save()

    def new_project(self) -> None:
        self.project.new_project()

    def open_project_dialog(self) -> None:
        self.project.open_dialog()

    def open_project(self, path: str | Path, ask: bool = True) -> bool:
        """Load a .pixl project; errors go to ``show_error`` and the current project stays."""
        return self.project.open(path, ask)

    def save(self) -> bool:
        return self.project.save()

    def save_as(self) -> bool:
        return self.project.save_as()

    def save_to(self, path: str | Path) -> bool:
        """Write the project atomically; marks it saved and removes the autosave."""
        return self.project.save_to(path)

    def check_recovery(self) -> bool:
        """At start-up: offer to restore an autosave left by a crashed session (ProjectActions.check_recovery)."""
        return self.project.check_recovery()

    def open_recovered(self, path: str | Path) -> bool:
        return self.project.open_recovered(path)

    # ================================================================== runs (RunController)
    def start_run(self) -> bool:
        """Start the chosen method in the worker thread; returns False (with a message) when it cannot."""
        return self.runs.start()

    def stop_run(self) -> None:
        """Ask the running job to stop (it ends at its next step)."""
        self.runs.stop()

    def update_device_label(self) -> None:
        device = self.runs.device_text()
        if device is None:
            # resolving "auto" needs torch: not worth loading it at start-up just for this label
            device = resolve_device(self.prefs.device) if "torch" in sys.modules else self.prefs.device
        self.device_label.setText(f"Device: {device}")

    # ================================================================== drag and drop
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt API
        for url in event.mimeData().urls():
            if url.isLocalFile():
                self.open_dropped_file(url.toLocalFile())
                event.acceptProposedAction()
                return

    def open_dropped_file(self, path: str | Path) -> bool:
        """A file dropped on the window: a project opens, a palette is imported, anything else is a picture."""
        suffix = Path(path).suffix.lower()
        if suffix == FILE_SUFFIX:
            return self.open_project(path)
        if suffix in (".hex", ".gpl", ".csv"):
            return self.import_palette(path)
        return self.load_image_file(path)

    # ================================================================== input picture and palettes
    def open_image_dialog(self) -> None:
        dlg = self.make_image_dialog()
        if dlg.exec() and dlg.selectedFiles():
            self.load_image_file(dlg.selectedFiles()[0])

    def make_image_dialog(self) -> QFileDialog:
        """The Open picture dialog: the bundled samples in its side bar, and its start folder the first time."""
        dlg = QFileDialog(self, "Open picture", str(image_start_dir()), IMAGE_FILTER)
        dlg.setFileMode(QFileDialog.FileMode.ExistingFile)
        if SAMPLES_DIR.is_dir():
            urls = [QUrl.fromLocalFile(str(SAMPLES_DIR))]
            dlg.setSidebarUrls(urls + [u for u in dlg.sidebarUrls() if u not in urls])
        return dlg

    def load_image_file(self, path: str | Path) -> bool:
        """Use a picture as input; a bad file shows an error and leaves everything as it was."""
        from engine.core.image_io import ImageLoadError, load_image

        try:
            image = load_image(path)
        except (ImageLoadError, OSError, ValueError) as exc:
            self.show_error("Cannot open picture", plain_words(str(exc)))
            return False
        self.source_image, self.source_path = image, Path(path)
        qimg = array_to_qimage(np.asarray(image.convert("RGBA")))
        self.input_panel.set_image(qimg, describe_image_file(path, image.width, image.height))
        self.canvas.set_input_image(qimg)
        settings.set_value("lastDir", str(Path(path).resolve().parent))
        self.request_preview()
        return True

    def clear_image(self) -> None:
        self.source_image, self.source_path = None, None
        self.input_panel.set_image(None)
        self.canvas.set_input_image(None)
        self.previews.invalidate()
        if self.canvas.showing_preview and not self.runner.is_running():
            self.canvas.set_pattern(self.doc.pattern)
        self.update_notice()

    def import_palette_dialog(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Import palette", str(last_dir()), PALETTE_FILTER)
        if name:
            self.import_palette(name)

    def import_palette(self, path: str | Path) -> bool:
        try:
            self.palette_panel.import_file(path)
        except (PaletteError, OSError, ValueError) as exc:
            self.show_error("Cannot import palette", plain_words(str(exc)))
            return False
        return True

    def _on_palette_changed(self) -> None:
        palette = self.palette_panel.palette()
        if palette is not None:
            self.input_panel.set_medium(palette.medium)
        self.palette_panel.set_counts(self.doc.pattern)
        if self.doc.pattern is None:  # with a pattern on screen, a palette switch (e.g. opening) keeps it shown
            self.request_preview()
        self._on_colors_changed()  # the pen's label says whose colour it is
        self.update_notice()

    def _on_owned_changed(self) -> None:
        if self.doc.pattern is None or self.canvas.showing_preview:
            self.request_preview()

    # ================================================================== preview before Start
    def request_preview(self) -> None:
        """Schedule a quick nearest-colour preview of the picture at the chosen size (debounced)."""
        if self.source_image is not None and not self.runner.is_running():
            self._preview_timer.start()

    def cancel_preview(self) -> None:
        """Drop pending previews (a run starts)."""
        self._preview_timer.stop()
        self.previews.invalidate()

    def _start_preview(self) -> None:
        palette = self.palette_panel.owned_palette()
        if self.source_image is None or palette is None or self.runner.is_running():
            return
        w, h = self.input_panel.cells()
        self.previews.request(self.source_image, palette, w, h, self.input_panel.fit.value(),
                              max_colors=self.input_panel.max_colors())

    def _show_preview(self, rgba) -> None:
        if self.runner.is_running() or self.source_image is None:
            return
        palette = self.palette_panel.palette()
        self.canvas.set_preview(rgba, palette.medium if palette is not None else None)
        self.update_notice()

    def _on_preview_clicked(self) -> None:
        if self.doc.pattern is not None and not self.runner.is_running():
            self.canvas.set_pattern(self.doc.pattern)
            self.update_notice()

    def update_notice(self) -> None:
        """The line over the canvas: a preview says it is a quick approximation; a pattern in another palette
        than the list's says that Start converts to the list's palette; otherwise nothing."""
        self.canvas.set_notice(self.notice_text())

    def notice_text(self) -> str:
        p, pal = self.doc.pattern, self.palette_panel.palette()
        if self.runner.is_running():
            return ""
        if self.canvas.showing_preview:
            w, h = self.canvas.cells_size
            text = (f"Quick preview, {w} × {h} cells: each cell is simply its nearest colour. Start makes the real "
                    "pattern (dithering, clean-up, colour limits), which can differ in detail.")
            return text + (" Click the canvas to see the current pattern." if p is not None else "")
        if p is not None and pal is not None and not self.edit.panel_matches_pattern():
            then = (f"Start converts the picture to {pal.name}." if self.source_image is not None
                    else f"Open a picture and press Start to make a {pal.name} pattern.")
            return f"This pattern uses {p.palette.name}; the palette list shows {pal.name}. {then}"
        return ""

    # ================================================================== editing
    def set_tool(self, name: str) -> None:
        """Choose an edit tool (pan, pencil, eraser, fill, eyedropper, replace)."""
        self.edit.set_tool(name)
        self.tool_actions[name].setChecked(True)
        self.canvas.pan_mode = name == "pan"

    def _on_cell_pressed(self, y: int, x: int) -> None:
        if not self.runner.is_running():
            self.edit.press(y, x)

    def _on_cell_alt_pressed(self, y: int, x: int) -> None:
        if not self.runner.is_running():
            self.edit.press(y, x, alt=True)

    def _on_color_activated(self, i: int) -> None:
        """A palette row was chosen: it becomes the pen colour (the canvas is not dimmed)."""
        if self.edit.choose_panel_colour(i) and self.edit.tool in ("pan", "eyedropper", "eraser"):
            self.set_tool("pencil")

    def _on_secondary_requested(self, i: int) -> None:
        self.edit.choose_panel_colour(i, secondary=True)

    def _on_color_picked(self, j: int) -> None:
        p, pal = self.doc.pattern, self.palette_panel.palette()
        if p is None or pal is None or not 0 <= j < len(p.palette):
            return
        code = p.palette[j].code
        self.statusBar().showMessage(f"Pen colour: {code} {p.palette[j].name}", 3000)
        if code in pal.codes and self.edit.panel_matches_pattern():
            self.palette_panel.tree.blockSignals(True)
            self.palette_panel.select_color(pal.index_of(code))
            self.palette_panel.tree.blockSignals(False)

    def _on_colors_changed(self) -> None:
        """Show the pen/secondary colours in the swatch; a highlight follows the pen colour."""
        prim, prim_text = self.edit.describe(self.edit.primary)
        sec, sec_text = self.edit.describe(self.edit.secondary)
        p = self.doc.pattern
        label = prim_text if p is not None else ""
        tip = (f"Pen (left button): {prim_text}\nSecondary (right button): {sec_text}\n"
               f"Click or press {SWAP_KEY} to swap")
        if p is not None and self.palette_panel.palette() is not None and not self.edit.panel_matches_pattern():
            label = f"{prim_text} ({p.palette.name})"
            tip += (f"\nThe pen draws with the pattern's colours ({p.palette.name}), not with the palette list's "
                    f"({self.palette_panel.palette().name})")
        self.swatch.set_colors(prim if p is not None else None, sec, tip)
        self.swatch_label.setText(label)
        self.swatch_label.setToolTip(tip)
        if self.act_highlight.isChecked():
            self.canvas.set_highlight(self.edit.primary if p is not None else None)

    def _on_highlight_toggled(self, on: bool) -> None:
        self.canvas.set_highlight(self.edit.primary if on and self.doc.pattern is not None else None)

    def _on_highlight(self, i: int) -> None:
        """Context menu "Highlight in the pattern": that colour becomes the pen colour and the highlight is on."""
        if i < 0 or not self.edit.choose_panel_colour(i):
            self.act_highlight.setChecked(False)
            return
        self.act_highlight.setChecked(True)

    def replace_color(self, old_panel: int, new_panel: int) -> int:
        """Replace panel colour ``old_panel`` with ``new_panel`` everywhere (one undo step)."""
        n = self.edit.replace_panel_colour(old_panel, new_panel)
        if n is None:
            self.show_error("Cannot replace colour", "Both colours must belong to the pattern's palette.")
            return 0
        return n

    def replace_with_pen(self, old_panel: int) -> int:
        """Replace panel colour ``old_panel`` with the pen colour everywhere (one undo step)."""
        n = self.edit.replace_panel_colour(old_panel)
        if n is None:
            self.show_error("Cannot replace colour", "The colour must belong to the pattern's palette.")
            return 0
        return n

    def _on_pattern_replaced(self) -> None:
        p = self.doc.pattern
        if p is not None:
            self.cancel_preview()  # a preview still in flight must not cover the pattern just opened or made
        self.canvas.set_pattern(p)
        self.palette_panel.set_counts(p)
        if p is not None:
            self.input_panel.set_medium(p.medium or p.palette.medium)
            self.input_panel.set_cells(p.width, p.height)  # the size box shows the pattern's size
        self.edit.validate()
        self._update_counts()
        self._refresh_hover()
        self._update_title()
        self.update_notice()

    def _on_cells_changed(self) -> None:
        cells = self.doc.last_cells
        if cells is not None and len(cells[0]) <= PARTIAL_REPAINT_CELLS:
            self.canvas.update_cells(*cells)  # a pencil dab: only those cells, only their screen area
        else:
            self.canvas.refresh()
        if self.edit.drawing:
            self._counts_timer.start()  # during a stroke the counts follow a few times a second
        else:
            self._flush_counts()
        self._refresh_hover()

    def _flush_counts(self) -> None:
        self._counts_timer.stop()
        self.palette_panel.set_counts(self.doc.pattern)
        self._update_counts()

    def _update_counts(self) -> None:
        """The live colour count in the status bar."""
        p = self.doc.pattern
        if p is None:
            self.count_label.setText("")
            return
        used = len(p.used_indices())
        self.count_label.setText(f"{used} colour{'s' if used != 1 else ''} · {p.filled_cells} cells")

    def _refresh_hover(self) -> None:
        """Re-describe the cell under the mouse after any change (an undo changes what it shows)."""
        y, x = self._hover_cell
        self._on_hover(y, x)

    def _on_hover(self, y: int, x: int) -> None:
        self._hover_cell = (y, x)
        p = self.doc.pattern
        if p is None or y < 0 or self.runner.is_running() or (p.width, p.height) != self.canvas.cells_size:
            self.hover_label.setText("")
            return
        v = p.get_cell(y, x)
        if v is None:
            text = f"column {x + 1}, row {y + 1}: empty"
        else:
            c = p.palette[v]
            text = f"column {x + 1}, row {y + 1}: {c.code} {c.name} {c.hex}"
        self.hover_label.setText(text)
        self.canvas.setToolTip(text)

    # ================================================================== shopping list
    def _build_shopping_dock(self) -> None:
        """The shopping list dock, tabbed with the palette; it follows the counts and the stock column."""
        from app.gui.shopping_panel import ShoppingPanel

        self.shopping_panel = ShoppingPanel()
        self.shopping_dock = self._dock("Shopping list", "shoppingDock", self.shopping_panel,
                                        Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.palette_dock, self.shopping_dock)
        self.palette_dock.raise_()
        view = next((a.menu() for a in self.menuBar().actions() if a.text() == "&View"), None)
        if view is not None:
            view.addAction(self.shopping_dock.toggleViewAction())
        self.palette_panel.countsChanged.connect(self._refresh_shopping)
        self.palette_panel.stockChanged.connect(self._refresh_shopping)
        self.palette_panel.ownedChanged.connect(self._refresh_shopping)
        self.palette_panel.stockError.connect(lambda title, msg: self.show_error(title, plain_words(msg)))
        self.shopping_panel.exportFailed.connect(lambda msg: self.show_error("Cannot export the shopping list", msg))

    def _refresh_shopping(self) -> None:
        """The shopping list of the pattern with the list's stock counts and owned ticks (only when the list shows
        the pattern's palette: another palette's ticks say nothing about this pattern's colours)."""
        pp = self.palette_panel
        if self.doc.pattern is not None and self.edit.panel_matches_pattern():
            owned = {pp.palette()[i].code for i in pp.owned_indices()}
            self.shopping_panel.set_data(self.doc.pattern, pp.stock() or None, owned)
        else:
            self.shopping_panel.set_data(self.doc.pattern, None)

    # ================================================================== export, preferences, about
    def export_dialog(self) -> None:
        """The export dialog: formats of the pattern's medium first, options, then a summary of what was written."""
        if self.doc.pattern is None:
            self.show_error("Nothing to export", "Make or open a pattern first.")
            return
        dlg = self.make_export_dialog()
        if dlg is not None and dlg.exec():
            self.export_from_dialog(dlg)

    def make_export_dialog(self):
        """An ExportDialog set up for the current pattern (None, with a message, when exporters are missing)."""
        from app.gui.export_dialog import ExportDialog

        p = self.doc.pattern
        base = self.doc.path.stem if self.doc.path else (Path(str(p.metadata.get("source_image", ""))).stem
                                                         or "pattern")
        medium = (p.medium or p.palette.medium).kind
        try:
            return ExportDialog(self, None, base, medium, pattern=p, inputs=[self.doc.path])
        except ImportError as exc:
            self.show_error("Export unavailable", plain_words(str(exc)))
            return None

    def export_from_dialog(self, dlg) -> list[Path]:
        """Export every format ticked in ``dlg`` with its options; shows the summary. Returns the files."""
        from app.gui.export_dialog import ExportResult, add_result

        total = ExportResult()
        options = dlg.option_values()
        for fmt, path in dlg.paths().items():
            result = self.export_to(fmt, path, summary=True, **options)
            if result is None:
                break
            add_result(total, fmt, result)
        self.last_export = total
        if total.files:
            self.show_export_summary(total)
        return total.files

    def show_export_summary(self, result) -> None:
        """After an export: files, summary lines, Open file / Show in folder (tests replace this)."""
        from app.gui.export_dialog import ExportSummaryDialog

        ExportSummaryDialog(self, result).exec()

    def export_to(self, fmt: str, path: str | Path, summary: bool = False, **options):
        """Export the current pattern; errors go to ``show_error``. Returns the files written (with
        ``summary=True`` an ExportResult, or None after an error)."""
        from app.gui.export_dialog import export_with_summary

        if self.doc.pattern is None:
            return None if summary else []
        try:
            result = export_with_summary(self.doc.pattern, fmt, path, inputs=[self.doc.path], **options)
        except Exception as exc:  # exporter errors of every kind are reported, never fatal
            from app.gui.workers import describe_error

            self.show_error("Export failed", describe_error(exc))
            return None if summary else []
        self.statusBar().showMessage("Exported " + ", ".join(str(f) for f in result.files), 5000)
        return result if summary else result.files

    def preferences_dialog(self) -> None:
        dlg = PreferencesDialog(self, self.prefs)
        if dlg.exec():
            self.apply_preferences(dlg.result_preferences())

    def apply_preferences(self, prefs: Preferences) -> None:
        self.prefs = prefs
        prefs.save()
        self.autosaver.set_interval(prefs.autosave_seconds)
        if not self.input_panel.model.text():
            self.input_panel.model.setText(prefs.model_source)
        self.update_device_label()

    def show_quick_start(self) -> None:
        from app.gui.help_dialogs import HelpDialog, quick_start_html

        HelpDialog(self, "Quick start", quick_start_html(self.help_keys())).exec()

    def show_shortcuts(self) -> None:
        from app.gui.help_dialogs import HelpDialog, shortcut_rows, shortcuts_html

        HelpDialog(self, "Keyboard shortcuts", shortcuts_html(shortcut_rows(self.menu_actions()))).exec()

    def menu_actions(self) -> list[QAction]:
        """Every action of the menu bar, in menu order (submenus included)."""
        out: list[QAction] = []

        def walk(menu: QMenu) -> None:
            for a in menu.actions():
                if a.menu() is not None:
                    walk(a.menu())
                elif not a.isSeparator():
                    out.append(a)

        for top in self.menuBar().actions():
            if top.menu() is not None:
                walk(top.menu())
        return out

    def help_keys(self) -> dict[str, str]:
        """The shortcuts the quick start names, read from the actions."""
        def key(act: QAction) -> str:
            return act.shortcut().toString(QKeySequence.SequenceFormat.NativeText)

        return {"open": key(self.act_open_image), "start": key(self.act_start), "export": key(self.act_export),
                "undo": key(self.act_undo), "save": key(self.act_save),
                "pencil": key(self.tool_actions["pencil"]), "fill": key(self.tool_actions["fill"]),
                "eyedropper": key(self.tool_actions["eyedropper"])}

    def about(self) -> None:
        QMessageBox.about(self, "About piXL Studio",
                          "<b>piXL Studio</b><br>Pictures and prompts to fuse-bead patterns, brick mosaics "
                          "and machine embroidery.<br>Fast palette converter and SD-πXL score-distillation "
                          "optimisation (Binninger &amp; Sorkine-Hornung, SIGGRAPH Asia 2024).")

    # ================================================================== window state
    def _update_title(self) -> None:
        name = self.doc.path.name if self.doc.path else ("Untitled" if self.doc.pattern is not None else "")
        self.setWindowTitle(f"{name}[*] — {APP_TITLE}" if name else APP_TITLE)
        self.setWindowModified(self.doc.modified)

    def _restore_window_state(self) -> None:
        s = settings.settings()
        geometry, state = s.value("window/geometry"), s.value("window/state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self.restoreState(state)

    def _save_window_state(self) -> None:
        s = settings.settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        if not self.maybe_save():
            event.ignore()
            return
        if self.runner.is_running():
            self.runs.close_after_run = True
            self.runner.cancel_and_wait(15000)
        self._save_window_state()
        self.autosaver.close()  # removes only this window's autosave, then releases its lock
        event.accept()


def image_start_dir() -> Path:
    """Where Open picture starts: the last folder used, or the bundled samples on a first run."""
    if settings.value("lastDir", "") and last_dir().is_dir():
        return last_dir()
    return SAMPLES_DIR if SAMPLES_DIR.is_dir() else Path.home()


def run_gui(argv: list[str]) -> int:
    """Start the desktop app; returns the exit code."""
    app = QApplication.instance() or QApplication(argv)
    prefer_gui_thread()
    app.setOrganizationName(settings.ORGANIZATION)
    app.setApplicationName(settings.APPLICATION)
    window = MainWindow()
    freeze_startup_objects()
    window.show()
    window.check_recovery()
    for arg in argv[1:]:
        if arg.lower().endswith(FILE_SUFFIX):
            window.open_project(arg)
        elif Path(arg).is_file():
            window.load_image_file(arg)
    code = app.exec()
    if sys.excepthook is not sys.__excepthook__:
        from app.gui.crash import uninstall_excepthook

        uninstall_excepthook()
    return code
