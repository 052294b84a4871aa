"""The PySide6 desktop app: views, dialogs, worker threads and undoable edits (no maths here)."""
