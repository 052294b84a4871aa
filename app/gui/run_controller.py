"""Runs for the main window: Start (fast converter or SD-πXL) in the worker thread, Stop, progress, results.

The window owns the widgets; this controller owns the run state (mode, palette, device, stopping) and turns the
worker's signals into canvas previews, status text and an undoable new pattern.
"""

from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMainWindow

from app.gui.commands import SetPatternCommand
from app.gui.input_panel import MODE_FAST, MODE_SDPIXL, JobSettings
from app.gui.preferences import resolve_device
from app.gui.process_jobs import convert_in_process
from app.gui.wording import plain_words
from engine.core.palette import FINISHES, Palette
from engine.core.pattern import Pattern
from engine.core.progress import Progress
from engine.sdpixl.settings import format_duration

log = logging.getLogger(__name__)

# The fast converter runs in a child process (see app.gui.process_jobs); False runs it in the worker thread
# (the benchmark compares both).
CONVERT_IN_PROCESS = True
# SD-πXL runs estimated longer than this ask first (the planner's estimate) and offer what helps.
LONG_RUN_SECONDS = 30 * 60


class RunController(QObject):
    """Start/Stop/progress/results of the window's runs. ``runEnded(str)``: "finished", "cancelled" or
    "failed", after the run was handled and its thread has ended (Start works again)."""

    runEnded = Signal(str)

    def __init__(self, window: QMainWindow) -> None:
        """``window``: the app's MainWindow (its widgets, dialogs and document)."""
        super().__init__(window)
        self.w = window
        self.runner = window.runner
        self.mode = ""
        self.stopping = False  # Stop was pressed; the run has not ended yet
        self.palette: Palette | None = None  # full panel palette of the current run
        self.device = "cpu"  # SD-πXL device of the current run
        self.close_after_run = False
        self._outcome: str | None = None  # the last run's outcome, announced by runEnded when its thread ends
        self.runner.progress.connect(self.on_progress)
        self.runner.finished.connect(self._on_finished)
        self.runner.cancelled.connect(self._on_cancelled)
        self.runner.failed.connect(self._on_failed)
        self.runner.stopped.connect(self._on_stopped)

    # ------------------------------------------------------------ start / stop
    def start(self) -> bool:
        """Start the chosen method in the worker thread; returns False (with a message) when it cannot."""
        w = self.w
        if self.runner.is_running():
            return False
        js = w.input_panel.job_settings()
        palette = w.palette_panel.owned_palette()
        if palette is None:
            w.show_error("No colours", "Tick at least one colour you own in the palette list.")
            return False
        try:
            job = self._fast_job(js, palette) if js.mode == MODE_FAST else self._sdpixl_job(js, palette)
        except (ImportError, ValueError, TypeError, KeyError) as exc:
            w.show_error("Cannot start", plain_words(str(exc)))
            return False
        if job is None:
            return False
        self.mode = js.mode
        self.stopping = False
        self.palette = w.palette_panel.palette()
        w.cancel_preview()
        self.runner.start(job)
        self.set_running(True)
        return True

    def _fast_job(self, js: JobSettings, palette: Palette):
        w = self.w
        if w.source_image is None:
            w.show_error("No picture", "Open or drop a picture first: the fast converter needs one.")
            return None
        image = w.source_image  # never modified in place; the worker only reads it
        source = str(w.source_path) if w.source_path else ""
        fast = dict(js.fast)
        if fast.get("max_colors") is None and not fast.get("all_colors"):
            fast["max_colors"] = w.palette_panel.max_colors_value()
        colour_options = w.palette_panel.convert_options(js.width * js.height)  # finishes, stash
        in_process = CONVERT_IN_PROCESS

        def job(progress, cancel):
            from engine.convert.pipeline import AUTO_SIZE, ConvertConfig

            width, height = AUTO_SIZE if js.auto_size else (js.width, js.height)
            config = ConvertConfig(width, height, **fast, **colour_options)
            if in_process:
                pattern = convert_in_process(image, palette, config, progress=progress, cancel=cancel)
            else:
                from engine.convert.pipeline import convert_image

                pattern = convert_image(image, palette, config, progress=progress, cancel=cancel)
            pattern.metadata.setdefault("source", source)
            return pattern

        return job

    def _sdpixl_job(self, js: JobSettings, palette: Palette):
        w = self.w
        if not js.prompt and w.source_image is None:
            w.show_error("Nothing to start from", "Type a prompt or open a picture for SD-πXL.")
            return None
        if not w.ensure_sdpixl_loaded():
            w.show_error("SD-πXL unavailable", "Install the diffusion extras: pip install -e \".[diffusion]\""
                         f"\n\nDetails: {getattr(w, '_sdpixl_error', 'no presets')}")
            return None
        if not js.prompt:
            w.show_error("No prompt", "Type a prompt: SD-πXL draws what the prompt says, and the picture guides "
                         "the shapes and colours.")
            return None
        if uses_builtin_model(js.sdpixl.get("model") or w.prefs.model_source):
            return self._builtin_job(js, palette)
        if not self.confirm_long_run():
            return None
        js = w.input_panel.job_settings()  # the preset list exists now; the long-run choice may change it
        if js.mode != MODE_SDPIXL:  # the user took the fast converter instead
            return self._fast_job(js, palette)
        device = resolve_device(w.prefs.device)
        image = str(w.source_path) if w.source_image is not None and w.source_path else None
        model = js.sdpixl.get("model") or w.prefs.model_source
        self.device = device
        max_colors = w.palette_panel.max_colors_value()
        picture = w.source_image

        def job(progress, cancel):
            # torch and diffusers load off the GUI thread; the process-wide guidance cache keeps the loaded model
            # for the next Start (same model, dtype and device: no reload)
            from engine.sdpixl.guidance.cache import shared_cache
            from engine.sdpixl.optimize import run_optimization

            run_palette = palette
            if max_colors and picture is not None and max_colors < len(palette):
                run_palette = best_colours_for(picture, palette, max_colors, js.width, js.height)
            config = build_run_config(js, run_palette, image, model, device)
            return run_optimization(config, progress=progress, cancel=cancel, guidance_cache=shared_cache())

        return job

    def _builtin_job(self, js: JobSettings, palette: Palette):
        """SD-πXL against the built-in emoji model (no model named): offline, seconds on a CPU, the same loop."""
        w = self.w
        image = str(w.source_path) if w.source_image is not None and w.source_path else None
        self.device = "cpu"
        w.statusBar().showMessage("SD-πXL with the built-in emoji model (no other model chosen: see Preferences)",
                                  8000)

        def job(progress, cancel):
            from engine.sdpixl.builtin import generate_builtin

            config = build_run_config(js, palette, image, "", "cpu")
            return generate_builtin(config, "sdpixl", progress=progress, cancel=cancel)

        return job

    def confirm_long_run(self) -> bool:
        """Before an SD-πXL run: the planner's estimate; a run over ``LONG_RUN_SECONDS`` asks first and offers
        what helps (the window's ``ask_long_run``). False when the user cancelled."""
        w = self.w
        plan = w.input_wiring.update_plan()
        if plan is None or plan.total_seconds <= LONG_RUN_SECONDS:
            return True
        from app.gui.long_run import CHOICE_FAST, CHOICE_SMALLER, CHOICE_START, long_run_advice

        advice = long_run_advice(w.input_wiring.last_config, plan, LONG_RUN_SECONDS, format_seconds)
        choice = w.ask_long_run(advice)
        if choice == CHOICE_START:
            return True
        if choice == CHOICE_FAST:
            w.input_panel.set_mode(MODE_FAST)
            return True
        if choice == CHOICE_SMALLER:
            w.input_panel.set_cells(*advice.smaller)
            w.statusBar().showMessage(f"Size set to {advice.smaller[0]} × {advice.smaller[1]} cells: "
                                      "press Start again to see the new estimate", 8000)
        return False  # cancelled, or a smaller size to estimate again

    def stop(self) -> None:
        """Ask the running job to stop (it ends at its next step)."""
        if self.runner.is_running():
            self.runner.cancel()
            self.stopping = True
            self.w.run_label.setText("Stopping…")

    def set_running(self, running: bool) -> None:
        """Enable/disable what may not change during a run; the progress bar shows while it runs."""
        w = self.w
        w.input_panel.set_running(running)
        w.act_start.setEnabled(not running)
        w.act_stop.setEnabled(running)
        for a in (w.act_new, w.act_open, w.act_undo, w.act_redo):
            a.setEnabled(not running)
        w.progress_bar.setVisible(running)
        if running:
            w.progress_bar.setRange(0, 0)
            w.run_label.setText("Starting…")
        else:
            w.act_undo.setEnabled(w.doc.undo_stack.canUndo())
            w.act_redo.setEnabled(w.doc.undo_stack.canRedo())
        w.update_device_label()
        w.update_notice()

    # ------------------------------------------------------------ progress and results
    def on_progress(self, report: Progress) -> None:
        w = self.w
        if report.total > 0:
            w.progress_bar.setRange(0, report.total)
            w.progress_bar.setValue(min(report.step, report.total))
            w.progress_bar.setFormat(f"{report.step}/{report.total}")
        if self.stopping:
            return  # keep "Stopping…" and the current picture until the run ends
        parts = [report.message] if report.message else []
        if report.eta is not None:
            parts.append(f"{format_seconds(report.eta)} left")
        tip = ""
        if report.losses:
            from app.gui.wording import describe_losses

            line, tip = describe_losses(report.losses)
            parts.append(line)
        w.run_label.setText(" · ".join(parts))
        w.run_label.setToolTip(tip)
        if report.preview is not None:
            medium = self.palette.medium if self.palette is not None else None
            w.canvas.set_preview(np.asarray(report.preview), medium)

    def _accept(self, pattern: Pattern, text: str) -> None:
        from engine.core.edit import adopt_palette

        w = self.w
        pattern = adopt_palette(pattern, self.palette)
        if w.source_path is not None:
            pattern.metadata.setdefault("source_image", w.source_path.name)
        w.doc.undo_stack.push(SetPatternCommand(w.doc, pattern, text))
        w.edit.pen_to_used_colour()  # the pen draws with a colour of the result: one the user owns

    def _on_finished(self, result: object) -> None:
        if isinstance(result, Pattern):
            self._accept(result, "Convert" if self.mode == MODE_FAST else "SD-πXL")
            self.w.statusBar().showMessage(f"Done: {result.width} × {result.height} cells", 5000)
        self._outcome = "finished"  # runEnded follows once the thread has ended (Start is enabled again)

    def _on_cancelled(self, result: object) -> None:
        if isinstance(result, Pattern):
            self._accept(result, "SD-πXL (stopped)")
        else:
            self.w.canvas.set_pattern(self.w.doc.pattern)
        self.w.statusBar().showMessage("Stopped", 4000)
        self._outcome = "cancelled"  # runEnded follows once the thread has ended (Start is enabled again)

    def _on_failed(self, message: str) -> None:
        self.w.canvas.set_pattern(self.w.doc.pattern)  # drop any preview: the current pattern is kept
        if not self.close_after_run and not self._offer_model_source(message):
            self.w.show_error("The run failed", message)
        self._outcome = "failed"  # runEnded follows once the thread has ended (Start is enabled again)

    def _offer_model_source(self, message: str) -> bool:
        """After a missing-model failure: the model dialog; a local model chosen there becomes the model of the
        next run (input panel and Preferences). False when the failure was something else."""
        from app.gui.workers import is_model_error

        w = self.w
        exc = self.runner.last_error
        if self.mode != MODE_SDPIXL or not is_model_error(exc):
            return False
        chosen = w.ask_model_source(message, exc)
        if chosen:
            w.input_panel.model.setText(chosen)
            w.prefs.model_source = chosen
            w.prefs.save()
            w.statusBar().showMessage(f"Model: {chosen} — press Start to run with it", 8000)
        return True

    def _on_stopped(self) -> None:
        self.stopping = False
        self.set_running(False)
        self.w.run_label.setText("")
        outcome, self._outcome = self._outcome, None
        if outcome is not None:
            self.runEnded.emit(outcome)

    def device_text(self) -> str | None:
        """The device of the run in progress ("cpu (fast converter)" for the converter), None when idle."""
        if not self.runner.is_running():
            return None
        return self.device if self.mode == MODE_SDPIXL else "cpu (fast converter)"


BUILTIN_NAMES = ("", "builtin", "built-in")


def uses_builtin_model(model: str | None) -> bool:
    """True when no other model is named (empty, or "builtin") and the built-in model is installed."""
    from app.gui.long_run import builtin_model_available

    return (model or "").strip().lower() in BUILTIN_NAMES and builtin_model_available()


def build_run_config(js: JobSettings, palette: Palette, image: str | None, model: str, device: str):
    """The SD-πXL RunConfig for the panel's settings, built by engine.sdpixl.settings (as the CLI's)."""
    from engine.sdpixl.optimize import PRESETS
    from engine.sdpixl.settings import RunSettings
    from engine.sdpixl.settings import build_run_config as build

    preset = js.sdpixl.get("preset") or "fast"
    if preset not in PRESETS:
        preset = next(iter(PRESETS))
    steps = int(js.sdpixl.get("steps") or 1)
    kinds = js.sdpixl.get("controlnets") or []
    return build(RunSettings(
        prompt=js.prompt, negative_prompt=js.negative_prompt, image=image, width=js.width, height=js.height,
        palette=palette, preset=preset, steps=steps, seed=js.seed, model=model or None, device=device,
        controlnets=list(kinds) if kinds and image else "none",  # ControlNets follow the picture
        guidance_mode=js.sdpixl.get("guidance_mode") or "auto", preview_every=1 if steps <= 500 else 2))


def best_colours_for(picture, palette: Palette, k: int, width: int, height: int) -> Palette:
    """The ``k`` palette colours the fast converter picks for ``picture`` (SD-πXL's "at most k colours")."""
    from engine.convert.colour_choice import ColourBudget, pick_colours

    return pick_colours(picture, palette, ColourBudget(finishes=FINISHES, max_colors=k), width, height)


def format_seconds(seconds: float) -> str:
    """'42 s', '3 min 05 s', '1 h 02 min' (engine.sdpixl.settings.format_duration, shared with the CLI)."""
    return format_duration(seconds)
