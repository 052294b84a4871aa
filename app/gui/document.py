"""The open project: a Pattern plus its file path, undo stack and change signals (Qt model, no maths)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from engine.core.pattern import Pattern

EMPTY = -1  # cell value meaning "no bead/stitch" in edit commands


class PatternDocument(QObject):
    """Holds the current Pattern; every change goes through methods here so views can listen.

    Signals: ``patternReplaced`` (a new pattern object, maybe another size/palette), ``cellsChanged``
    (cells of the same pattern edited), ``modifiedChanged(bool)``, ``pathChanged(str)``.
    """

    patternReplaced = Signal()
    cellsChanged = Signal()
    modifiedChanged = Signal(bool)
    pathChanged = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pattern: Pattern | None = None
        self.path: Path | None = None
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        self.generation = 0  # bumps on every change (autosave uses it)
        self.last_cells: tuple[np.ndarray, np.ndarray] | None = None  # (ys, xs) of the latest cellsChanged
        self.undo_stack.indexChanged.connect(self._bump)

    def _on_clean_changed(self, clean: bool) -> None:
        self.modifiedChanged.emit(not clean)

    def _bump(self, *_args) -> None:
        self.generation += 1

    # ------------------------------------------------------------ state
    @property
    def modified(self) -> bool:
        return not self.undo_stack.isClean()

    def set_path(self, path: str | Path | None) -> None:
        self.path = None if path is None else Path(path)
        self.pathChanged.emit("" if path is None else str(path))

    def reset(self, pattern: Pattern | None, path: str | Path | None = None, modified: bool = False) -> None:
        """Start afresh with ``pattern`` (New/Open): clears undo history."""
        self.undo_stack.clear()
        self.pattern = pattern
        self.set_path(path)
        self.generation += 1
        self.patternReplaced.emit()
        if modified:
            # a restored autosave: no saved state matches it, so the stack must not read as clean
            self.undo_stack.resetClean()
        else:
            self.undo_stack.setClean()
        self.modifiedChanged.emit(self.modified)

    def mark_saved(self, path: str | Path) -> None:
        self.set_path(path)
        self.undo_stack.setClean()

    # ------------------------------------------------------------ raw edits (used by undo commands)
    def swap_pattern(self, pattern: Pattern | None) -> Pattern | None:
        """Replace the pattern object; returns the old one."""
        old, self.pattern = self.pattern, pattern
        self.patternReplaced.emit()
        return old

    def cell_values(self, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """Current values at the cells (palette index or EMPTY)."""
        assert self.pattern is not None
        vals = self.pattern.index[ys, xs].astype(np.int32)
        if self.pattern.empty is not None:
            vals[self.pattern.empty[ys, xs]] = EMPTY
        return vals

    def write_cells(self, ys: np.ndarray, xs: np.ndarray, values: np.ndarray) -> None:
        """Set cells to palette indices (EMPTY makes a cell empty) and emit ``cellsChanged``."""
        p = self.pattern
        assert p is not None
        values = np.asarray(values, dtype=np.int32)
        filled = values >= 0
        p.index[ys[filled], xs[filled]] = values[filled]
        if (~filled).any() or p.empty is not None:
            empty = p.empty_mask.copy()
            empty[ys, xs] = ~filled
            p.empty = empty if empty.any() else None
        self.last_cells = (ys, xs)
        self.cellsChanged.emit()
