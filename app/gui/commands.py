"""Undoable edits of the PatternDocument (QUndoCommand subclasses)."""

from __future__ import annotations

import itertools

import numpy as np
from PySide6.QtGui import QUndoCommand

from app.gui.document import PatternDocument
from engine.core.pattern import Pattern

STROKE_COMMAND_ID = 1001
_stroke_ids = itertools.count(1)


def new_stroke_id() -> int:
    """A fresh id: commands pushed with the same stroke id merge into one undo step."""
    return next(_stroke_ids)


class CellsCommand(QUndoCommand):
    """Set some cells to new values (palette index or EMPTY); a pencil stroke merges into one command."""

    def __init__(self, doc: PatternDocument, ys, xs, new_values, text: str = "Paint", stroke: int | None = None):
        super().__init__(text)
        self.doc = doc
        self.stroke = stroke
        self.ys = np.asarray(ys, dtype=np.intp).ravel()
        self.xs = np.asarray(xs, dtype=np.intp).ravel()
        self.new = np.broadcast_to(np.asarray(new_values, dtype=np.int32), self.ys.shape).copy()
        self.old = doc.cell_values(self.ys, self.xs)

    @property
    def changes_anything(self) -> bool:
        return bool((self.old != self.new).any())

    def redo(self) -> None:
        self.doc.write_cells(self.ys, self.xs, self.new)

    def undo(self) -> None:
        # reversed so that a cell touched twice in a merged stroke ends at its first old value
        self.doc.write_cells(self.ys[::-1], self.xs[::-1], self.old[::-1])

    def id(self) -> int:  # noqa: A003 - Qt API name
        return STROKE_COMMAND_ID if self.stroke is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt API name
        if not isinstance(other, CellsCommand) or other.stroke is None or other.stroke != self.stroke:
            return False
        self.ys = np.concatenate([self.ys, other.ys])
        self.xs = np.concatenate([self.xs, other.xs])
        self.old = np.concatenate([self.old, other.old])
        self.new = np.concatenate([self.new, other.new])
        return True


class SetPatternCommand(QUndoCommand):
    """Replace the whole pattern (a conversion or optimisation result, a palette swap)."""

    def __init__(self, doc: PatternDocument, pattern: Pattern, text: str = "New pattern"):
        super().__init__(text)
        self.doc = doc
        self.other: Pattern | None = pattern

    def redo(self) -> None:
        self.other = self.doc.swap_pattern(self.other)

    def undo(self) -> None:
        self.other = self.doc.swap_pattern(self.other)
