"""Wires the input panel's converter and SD-πXL options to the engine for the main window.

- fast converter: intent and colour budget choices from the engine, the "at most" count kept in step with the
  palette panel's, the intent/merge summary after a conversion (``engine.convert.pipeline.summary_lines``);
- size "Auto (pixel grid)": ``engine.convert.grid.detect_grid`` on the picture, the size box set to the grid;
- SD-πXL: the planner's estimate (``engine.sdpixl.planner.plan_for_run``) shown before Start and refreshed when
  the size, guidance, ControlNets, steps or preset change. Computed only in SD-πXL mode (the planner loads torch);
- a run that fails for a missing model offers a local model (``MainWindow.ask_model_source``).
"""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication

from app.gui.input_panel import INTENT_WORDS, MODE_FAST, MODE_SDPIXL, guidance_label
from app.gui.wording import merge_lines, plain_words

log = logging.getLogger(__name__)

PLAN_DELAY_MS = 150


def grid_of(image) -> "object":
    """``detect_grid`` of a PIL picture (transparency over white, like the converter's size auto)."""
    from engine.convert.grid import detect_grid, over_white

    return detect_grid(over_white(np.asarray(image.convert("RGBA"))))


def plan_text(plan, format_seconds: Callable[[float], str]) -> tuple[str, str]:
    """(label text, tooltip) for a GuidancePlan; ``format_seconds`` writes the total time."""
    lines = [f"Guidance: {guidance_label(plan.mode)} — {plan.reason}",
             f"Estimate on {plan.device}: {plan.seconds_per_step:.2f} s per step × {plan.steps} steps "
             f"≈ {format_seconds(plan.total_seconds)}",
             f"Peak memory ≈ {plan.peak_gib:.1f} GiB (loading ≈ {plan.load_peak_gib:.1f} GiB), "
             f"{plan.px_per_cell:.1f} px per cell"]
    lines += [f"⚠ {plain_words(w)}" for w in plan.warnings]
    return "\n".join(lines), plain_words(plan.summary())


class InputWiring(QObject):
    """Connects ``window.input_panel`` to the engine; created once by the main window, which passes its
    ``build_run_config(js, palette, image, model, device)`` and ``format_seconds`` (no import back into it)."""

    def __init__(self, window, build_run_config: Callable, format_seconds: Callable[[float], str]) -> None:
        super().__init__(window)
        self.w = window
        self.build_run_config, self.format_seconds = build_run_config, format_seconds
        self.last_plan = None
        self.last_config = None  # the RunConfig of last_plan
        self._plan_timer = QTimer(self)
        self._plan_timer.setSingleShot(True)
        self._plan_timer.setInterval(PLAN_DELAY_MS)
        self._plan_timer.timeout.connect(self.update_plan)
        ip = window.input_panel
        ip.autoSizeToggled.connect(self._on_auto_size)
        ip.imageChanged.connect(self._on_image_changed)
        ip.planSettingsChanged.connect(self.request_plan)
        ip.budgetChanged.connect(self._budget_to_palette_panel)
        window.palette_panel.paletteChanged.connect(self.request_plan)
        window.runner.finished.connect(self._on_run_finished)
        box = getattr(window.palette_panel, "max_colors", None)
        if box is not None:
            box.valueChanged.connect(lambda v: ip.set_max_colors(v or None))
            ip.set_max_colors(box.value() or None)

    # ------------------------------------------------------------ engine choices
    def fill_converter_choices(self) -> None:
        """Intents and the automatic colour cap from the engine (call once the converter is imported)."""
        from engine.convert.budget import DEFAULT_MAX_COLORS
        from engine.convert.intent import INTENTS

        self.w.input_panel.fill_engine_choices(INTENTS, DEFAULT_MAX_COLORS)

    def fill_sdpixl_choices(self) -> None:
        """The planner's guidance modes (call once SD-πXL is loaded)."""
        from engine.sdpixl.planner import MODES

        self.w.input_panel.fill_guidance_modes(MODES)
        self.request_plan()

    def _budget_to_palette_panel(self, k) -> None:
        box = getattr(self.w.palette_panel, "max_colors", None)
        if box is not None and box.value() != (k or 0):
            box.setValue(k or 0)  # one value: the palette panel shows (and remembers) the same count

    # ------------------------------------------------------------ after a conversion
    def _on_run_finished(self, result) -> None:
        if self.w.runs.mode != MODE_FAST or not hasattr(result, "metadata"):
            return
        from engine.convert.pipeline import summary_lines

        merged = result.metadata.get("merged", [])
        # intent, minimum, then one line per merge (named below); not the fit notes: the crop line shows them
        engine_lines = summary_lines(result, notes=False)
        lines = [plain_words(line) for line in engine_lines[:len(engine_lines) - len(merged)]]
        intent = result.metadata.get("intent")
        engine_intent = f"intent: {intent} ("
        lines = [f"Intent: {INTENT_WORDS.get(intent, (intent, ''))[0]} (" + line[len(engine_intent):]
                 if line.startswith(engine_intent) else line for line in lines]  # the Intent list's name
        if merged:
            lines.append("Merged colours (used on too few cells):" if all(
                m["reason"] == "min-count" for m in merged) else "Merged colours:")
            lines += merge_lines(merged, result.palette, result.medium.kind)
        grid = result.metadata.get("grid")
        if grid:
            lines.insert(0, f"pixel grid {grid['cols']} × {grid['rows']} cells, pitch {grid['pitch_x']:.2f} × "
                            f"{grid['pitch_y']:.2f} px (confidence {grid['confidence']:.2f})")
        self.w.input_panel.show_conversion_summary(lines)

    # ------------------------------------------------------------ size "Auto (pixel grid)"
    def _on_image_changed(self) -> None:
        self.w.input_panel.show_conversion_summary([])  # the summary was about the previous picture
        if self.w.input_panel.is_auto_size() and self.w.source_image is not None:
            self.detect_size()

    def _on_auto_size(self, on: bool) -> None:
        if on:
            self.detect_size()
        else:
            self.w.request_preview()

    def detect_size(self) -> bool:
        """Detect the picture's pixel grid and set the size box to it; False (with a message) when impossible."""
        ip, image = self.w.input_panel, self.w.source_image
        if image is None:
            ip.auto_size_failed("Auto size needs a pixel-art picture: open one first.")
            return False
        from engine.convert.grid import MIN_CONFIDENCE, GridError

        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            grid = grid_of(image)
        except GridError as exc:
            grid, error = None, str(exc)
        finally:
            QApplication.restoreOverrideCursor()
        if grid is None or not grid.is_pixel_art:
            why = error if grid is None else (f"grid confidence {grid.confidence:.2f}, pixel art needs "
                                              f"{MIN_CONFIDENCE:.2f}")
            message = f"This picture does not look like pixel art ({why}): set the size by hand."
            ip.auto_size_failed(message)
            self.w.statusBar().showMessage(message, 8000)
            return False
        text = (f"Pixel grid: {grid.cols} × {grid.rows} cells, pitch {grid.pitch_x:.1f} × {grid.pitch_y:.1f} px "
                f"(confidence {grid.confidence:.2f})")
        ip.set_detected_grid(grid.cols, grid.rows, text)
        self.w.statusBar().showMessage(text, 8000)
        return True

    # ------------------------------------------------------------ SD-πXL estimate
    def request_plan(self, *_args) -> None:
        """Schedule a new estimate (debounced); nothing happens outside SD-πXL mode."""
        if self.w.input_panel.current_mode() == MODE_SDPIXL:
            self._plan_timer.start()

    def update_plan(self):
        """Compute and show the planner's estimate for the current settings; returns the GuidancePlan or None."""
        w, ip = self.w, self.w.input_panel
        if ip.current_mode() != MODE_SDPIXL or not ip.preset.count():
            return None  # SD-πXL not chosen or not installed: the planner (torch) is not loaded
        from app.gui.preferences import resolve_device
        from engine.sdpixl.planner import plan_for_run

        js = ip.job_settings()
        palette = w.palette_panel.owned_palette() or w.palette_panel.palette()
        image = str(w.source_path) if w.source_image is not None and w.source_path else None
        model = js.sdpixl.get("model") or w.prefs.model_source
        try:
            config = self.build_run_config(js, palette, image, model, resolve_device(w.prefs.device))
            plan = plan_for_run(config)
        except Exception as exc:  # an estimate that cannot be made must not break the panel
            log.info("no estimate: %s", exc)
            ip.show_plan(plain_words(f"No estimate: {exc}"))
            self.last_plan = None
            return None
        text, tip = plan_text(plan, self.format_seconds)
        ip.show_plan(text, tip)
        self.last_plan, self.last_config = plan, config
        return plan
