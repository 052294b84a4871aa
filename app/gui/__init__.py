"""The PySide6 desktop app: views, dialogs, worker threads and undoable edits (no maths here)."""

from app.gui.qt_guard import protect_none

protect_none()  # before any painting: see app.gui.qt_guard
