"""Project files for the main window: new, open, save, save as, recent files, autosave recovery."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QMessageBox

from app.gui import settings
from app.gui.autosave import keep_copy, load_recovery, pending_recoveries, recovered_files
from app.gui.wording import plain_words
from engine.core.pattern import FILE_SUFFIX, Pattern, PatternError

log = logging.getLogger(__name__)

PROJECT_FILTER = f"piXL project (*{FILE_SUFFIX});;All files (*)"


def last_dir() -> Path:
    """The folder the user last opened or saved in (home when none is remembered)."""
    d = settings.value("lastDir", "")
    return Path(d) if d and Path(d).is_dir() else Path.home()


class ProjectActions(QObject):
    """New/Open/Save/Recent/Recover on the window's document; errors go to the window's ``show_error``."""

    def __init__(self, window: QMainWindow) -> None:
        """``window``: the app's MainWindow (its widgets, dialogs and document)."""
        super().__init__(window)
        self.w = window
        self.doc = window.doc
        self.recent_menu = QMenu("Open &recent", window)
        self.recover_menu = QMenu("Re&cover", window)  # autosaves kept when a restore was declined
        self.fill_recent_menu()
        self.fill_recover_menu()

    # ------------------------------------------------------------ dialogs
    def ask_save_path(self) -> str:
        start = str(self.doc.path or (last_dir() / f"pattern{FILE_SUFFIX}"))
        name, _ = QFileDialog.getSaveFileName(self.w, "Save project", start, PROJECT_FILTER)
        if name and not name.lower().endswith(FILE_SUFFIX):
            name += FILE_SUFFIX
        return name

    def maybe_save(self) -> bool:
        """True when it is fine to drop the current project (saved, discarded, or nothing to lose)."""
        if not self.doc.modified or self.doc.pattern is None:
            return True
        answer = self.w.ask_save_changes()
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    # ------------------------------------------------------------ new / open
    def new_project(self) -> None:
        if self.w.runner.is_running() or not self.maybe_save():
            return
        self.doc.reset(None)
        self.w.autosaver.discard()

    def open_dialog(self) -> None:
        if not self.maybe_save():
            return
        name, _ = QFileDialog.getOpenFileName(self.w, "Open project", str(last_dir()), PROJECT_FILTER)
        if name:
            self.open(name, ask=False)

    def open(self, path: str | Path, ask: bool = True) -> bool:
        """Load a .pixl project; errors go to ``show_error`` and the current project stays."""
        if self.w.runner.is_running() or (ask and not self.maybe_save()):
            return False
        try:
            pattern = Pattern.load(path)
        except (PatternError, OSError) as exc:
            self.w.show_error("Cannot open project", plain_words(str(exc)))
            return False
        pattern = self.match_panel_palette(pattern)
        self.doc.reset(pattern, path)
        self.remember(path)
        return True

    def match_panel_palette(self, pattern: Pattern) -> Pattern:
        """Show the project's palette in the panel: the shipped one when it matches, else the project's own."""
        from engine.core.edit import adopt_palette

        panel = self.w.palette_panel
        key = pattern.palette.key
        if key and panel.select_palette(key):
            adopted = adopt_palette(pattern, panel.palette())
            if adopted is not pattern:
                return adopted
        panel.show_project_palette(pattern.palette)
        return pattern

    # ------------------------------------------------------------ save
    def save(self) -> bool:
        if self.doc.pattern is None:
            return False
        if self.doc.path is None:
            return self.save_as()
        return self.save_to(self.doc.path)

    def save_as(self) -> bool:
        if self.doc.pattern is None:
            return False
        name = self.w.ask_save_path()
        return bool(name) and self.save_to(name)

    def save_to(self, path: str | Path) -> bool:
        """Write the project atomically; marks it saved and removes the autosave."""
        try:
            self.doc.pattern.save(path)
        except (PatternError, OSError) as exc:
            self.w.show_error("Cannot save project", plain_words(str(exc)))
            return False
        self.doc.mark_saved(path)
        self.w.autosaver.discard()
        self.remember(path)
        self.w.statusBar().showMessage(f"Saved {path}", 4000)
        return True

    # ------------------------------------------------------------ recent files and recovery
    def remember(self, path: str | Path) -> None:
        settings.add_recent_file(path)
        settings.set_value("lastDir", str(Path(path).resolve().parent))
        self.fill_recent_menu()

    def fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = settings.recent_files()
        for f in files:
            act = self.recent_menu.addAction(Path(f).name)
            act.setToolTip(f)
            act.triggered.connect(lambda _c=False, p=f: self.open(p))
        self.recent_menu.setEnabled(bool(files))

    def check_recovery(self) -> bool:
        """At start-up: offer to restore an autosave left by a crashed session. Returns True if restored.

        Only autosaves nobody holds (their window crashed or was killed) are offered. Restoring adopts the newest
        as this window's autosave; declining, or any other orphan, is kept in File -> Recover, never deleted.
        """
        orphans = pending_recoveries()
        if not orphans:
            return False
        newest, others = orphans[0], orphans[1:]
        for extra in others:
            keep_copy(extra)
        restored = False
        if not self.w.ask_restore(newest):
            kept = keep_copy(newest)
            if kept is not None:
                self.w.statusBar().showMessage(f"The autosave was kept: File > Recover > {kept.name}", 8000)
        else:
            try:
                pattern, original = load_recovery(newest)
            except (PatternError, OSError) as exc:
                keep_copy(newest)
                self.w.show_error("Cannot restore autosave",
                                  plain_words(str(exc)) + "\n\nA copy was kept in File > Recover.")
            else:
                pattern = self.match_panel_palette(pattern)
                self.doc.reset(pattern, original, modified=True)
                self.w.autosaver.adopt(newest)
                restored = True
        self.fill_recover_menu()
        return restored

    def fill_recover_menu(self) -> None:
        self.recover_menu.clear()
        files = recovered_files()
        for f in files:
            act = self.recover_menu.addAction(f.name)
            act.setToolTip(str(f))
            act.triggered.connect(lambda _c=False, p=f: self.open_recovered(p))
        self.recover_menu.setEnabled(bool(files))

    def open_recovered(self, path: str | Path) -> bool:
        """Open a kept autosave as an unsaved project (Save asks where; the kept copy stays until deleted)."""
        if self.w.runner.is_running() or not self.maybe_save():
            return False
        try:
            pattern, original = load_recovery(Path(path))
        except (PatternError, OSError) as exc:
            self.w.show_error("Cannot open recovered project", plain_words(str(exc)))
            return False
        pattern = self.match_panel_palette(pattern)
        self.doc.reset(pattern, original, modified=True)
        return True
