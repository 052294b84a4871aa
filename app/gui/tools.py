"""Edit tools (pencil, eraser, flood fill, eyedropper, replace colour) turning canvas clicks into undo commands.

Two drawing colours, as in a pixel editor: the primary (left button) and the secondary (right button). The
secondary starts as "empty", so a right click erases; the eyedropper sets the primary (left) or secondary (right).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.gui.commands import CellsCommand, new_stroke_id
from app.gui.document import EMPTY, PatternDocument

TOOLS = ("pan", "pencil", "eraser", "fill", "eyedropper", "replace")
# Tool -> (menu text, shortcut), the one place the GUI reads them from (menus, toolbar tooltips, README).
TOOL_KEYS = {"pencil": ("Pencil", "B"), "eraser": ("Eraser", "E"), "fill": ("Flood fill", "G"),
             "eyedropper": ("Eyedropper", "I"), "replace": ("Replace colour", "R"), "pan": ("Pan", "H")}
SWAP_KEY = "X"


class EditController(QObject):
    """Owns the current tool and the primary/secondary drawing colours and applies them to the document.

    Colours are palette indices of the current pattern, or EMPTY (-1) for "no bead" (erase).
    ``colorPicked(int)`` fires when the primary colour changes, ``colorsChanged()`` when either does.
    """

    colorPicked = Signal(int)
    colorsChanged = Signal()
    toolChanged = Signal(str)

    def __init__(self, doc: PatternDocument, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.tool = "pencil"
        self.primary = 0
        self.secondary = EMPTY
        self._stroke: int | None = None
        self._stroke_value = 0
        self._stroke_text = "Pencil"

    # ------------------------------------------------------------ state
    @property
    def color(self) -> int:
        """The primary drawing colour (palette index)."""
        return self.primary

    @color.setter
    def color(self, index: int) -> None:
        self.primary = int(index)

    @property
    def drawing(self) -> bool:
        """A pencil/eraser stroke is in progress (the button is still down)."""
        return self._stroke is not None

    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}")
        self.tool = tool
        self.toolChanged.emit(tool)

    def set_color(self, index: int) -> None:
        """Set the primary colour."""
        self.primary = int(index)
        self.colorPicked.emit(self.primary)
        self.colorsChanged.emit()

    def set_secondary(self, index: int) -> None:
        """Set the secondary colour (EMPTY makes the right button erase)."""
        self.secondary = int(index)
        self.colorsChanged.emit()

    def swap_colors(self) -> None:
        """Exchange primary and secondary (an empty secondary stays on the right button: nothing to draw with)."""
        if self.secondary == EMPTY:
            return
        self.primary, self.secondary = self.secondary, self.primary
        self.colorPicked.emit(self.primary)
        self.colorsChanged.emit()

    def validate(self) -> None:
        """Keep the colours inside the current pattern's palette (after a new pattern arrived)."""
        p = self.doc.pattern
        if p is None:
            return
        if not 0 <= self.primary < len(p.palette):
            self.primary = 0
        if self.secondary != EMPTY and not 0 <= self.secondary < len(p.palette):
            self.secondary = EMPTY
        self.colorsChanged.emit()

    def _valid(self, value: int) -> bool:
        p = self.doc.pattern
        return p is not None and (value == EMPTY or 0 <= value < len(p.palette))

    # ------------------------------------------------------------ canvas slots
    def press(self, y: int, x: int, alt: bool = False) -> None:
        """A click on cell (y, x); ``alt`` is the right button (secondary colour / erase)."""
        p = self.doc.pattern
        if p is None:
            return
        value = self.secondary if alt else self.primary
        if self.tool == "eyedropper":
            picked = p.get_cell(y, x)
            if picked is not None:
                self.set_secondary(picked) if alt else self.set_color(picked)
            return
        if self.tool in ("pencil", "eraser"):
            value = EMPTY if self.tool == "eraser" else value
            if not self._valid(value):
                return
            self._stroke = new_stroke_id()
            self._stroke_value = value
            self._stroke_text = "Erase" if value == EMPTY else "Pencil"
            self._paint(y, x)
        elif self.tool == "fill" and self._valid(value):
            from engine.core.edit import flood_fill_cells  # scipy loads on the first fill, not at start-up

            mask = flood_fill_cells(p.index, p.empty, y, x, None if value == EMPTY else value)
            self._push_mask(mask, "Flood fill", value)
        elif self.tool == "replace" and self._valid(value) and value != EMPTY:
            old = p.get_cell(y, x)
            if old is not None:
                self.replace_color(old, value)

    def drag(self, y: int, x: int) -> None:
        if self._stroke is not None:
            self._paint(y, x)

    def release(self) -> None:
        self._stroke = None

    # ------------------------------------------------------------ operations
    def _paint(self, y: int, x: int) -> None:
        cmd = CellsCommand(self.doc, [y], [x], self._stroke_value, self._stroke_text, stroke=self._stroke)
        if cmd.changes_anything:
            self.doc.undo_stack.push(cmd)

    def _push_mask(self, mask: np.ndarray, text: str, value: int | None = None) -> None:
        ys, xs = np.nonzero(mask)
        if len(ys):
            self.doc.undo_stack.push(CellsCommand(self.doc, ys, xs, self.primary if value is None else value, text))

    def replace_color(self, old: int, new: int) -> int:
        """Replace every cell of palette colour ``old`` with ``new`` as one undo step; returns cells changed."""
        p = self.doc.pattern
        if p is None or old == new:
            return 0
        mask = (p.index == old) & ~p.empty_mask
        self._push_mask(mask, "Replace colour", new)
        return int(mask.sum())
