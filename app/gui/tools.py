"""Edit tools (pencil, flood fill, eyedropper, replace colour) turning canvas clicks into undo commands."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.gui.commands import CellsCommand, new_stroke_id
from app.gui.document import EMPTY, PatternDocument

TOOLS = ("pan", "pencil", "eraser", "fill", "eyedropper", "replace")


class EditController(QObject):
    """Owns the current tool and drawing colour and applies them to the document.

    ``colorPicked(int)`` fires when the eyedropper takes a colour (or the colour is set).
    """

    colorPicked = Signal(int)
    toolChanged = Signal(str)

    def __init__(self, doc: PatternDocument, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.tool = "pencil"
        self.color = 0
        self._stroke: int | None = None

    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}")
        self.tool = tool
        self.toolChanged.emit(tool)

    def set_color(self, index: int) -> None:
        self.color = int(index)
        self.colorPicked.emit(self.color)

    def _paint_value(self) -> int:
        return EMPTY if self.tool == "eraser" else self.color

    def _valid_color(self) -> bool:
        p = self.doc.pattern
        return p is not None and 0 <= self.color < len(p.palette)

    # ------------------------------------------------------------ canvas slots
    def press(self, y: int, x: int) -> None:
        p = self.doc.pattern
        if p is None:
            return
        if self.tool == "eyedropper":
            value = p.get_cell(y, x)
            if value is not None:
                self.set_color(value)
            return
        if self.tool in ("pencil", "eraser"):
            if self.tool == "pencil" and not self._valid_color():
                return
            self._stroke = new_stroke_id()
            self._paint(y, x)
        elif self.tool == "fill" and self._valid_color():
            from engine.core.edit import flood_fill_cells  # scipy loads on the first fill, not at start-up

            mask = flood_fill_cells(p.index, p.empty, y, x, self.color)
            self._push_mask(mask, "Flood fill")
        elif self.tool == "replace" and self._valid_color():
            old = p.get_cell(y, x)
            if old is not None:
                self.replace_color(old, self.color)

    def drag(self, y: int, x: int) -> None:
        if self._stroke is not None:
            self._paint(y, x)

    def release(self) -> None:
        self._stroke = None

    # ------------------------------------------------------------ operations
    def _paint(self, y: int, x: int) -> None:
        text = "Erase" if self.tool == "eraser" else "Pencil"
        cmd = CellsCommand(self.doc, [y], [x], self._paint_value(), text, stroke=self._stroke)
        if cmd.changes_anything:
            self.doc.undo_stack.push(cmd)

    def _push_mask(self, mask: np.ndarray, text: str, value: int | None = None) -> None:
        ys, xs = np.nonzero(mask)
        if len(ys):
            self.doc.undo_stack.push(CellsCommand(self.doc, ys, xs, self.color if value is None else value, text))

    def replace_color(self, old: int, new: int) -> int:
        """Replace every cell of palette colour ``old`` with ``new`` as one undo step; returns cells changed."""
        p = self.doc.pattern
        if p is None or old == new:
            return 0
        mask = (p.index == old) & ~p.empty_mask
        self._push_mask(mask, "Replace colour", new)
        return int(mask.sum())
