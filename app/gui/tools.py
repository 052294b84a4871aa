"""Edit tools (pencil, eraser, flood fill, eyedropper, replace colour) turning canvas clicks into undo commands.

Two drawing colours, as in a pixel editor: the primary (left button) and the secondary (right button). The
secondary starts as "empty", so a right click erases; the eyedropper sets the primary (left) or secondary (right).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.gui.commands import CellsCommand, new_stroke_id
from app.gui.document import EMPTY, PatternDocument
from app.gui.palette_panel import same_palette
from engine.core.palette import Palette, PaletteError

TOOLS = ("pan", "pencil", "eraser", "fill", "eyedropper", "replace")
# Tool -> (menu text, shortcut), the one place the GUI reads them from (menus, toolbar tooltips, README).
TOOL_KEYS = {"pencil": ("Pencil", "B"), "eraser": ("Eraser", "E"), "fill": ("Flood fill", "G"),
             "eyedropper": ("Eyedropper", "I"), "replace": ("Replace colour", "R"), "pan": ("Pan", "H")}
SWAP_KEY = "X"


class EditController(QObject):
    """Owns the current tool and the primary/secondary drawing colours and applies them to the document.

    Colours are palette indices of the current pattern, or EMPTY (-1) for "no bead" (erase).
    ``colorPicked(int)`` fires when the primary colour changes, ``colorsChanged()`` when either does.

    Colour editing from the palette list: ``panel_palette`` returns the palette the list shows; its rows map to
    the pattern's colours by code (``panel_to_pattern_index``), and a list showing another palette than the
    pattern's (the user switched palettes) maps nothing (``panel_matches_pattern``).
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
        self.panel_palette: Callable[[], Palette | None] = lambda: None

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

    def pen_to_used_colour(self) -> None:
        """After a run: the pen draws with the pattern's most used colour (a colour the run could use, so one
        the user owns), unless the pen already is one of the pattern's used colours."""
        p = self.doc.pattern
        if p is None:
            return
        counts = p.color_counts()
        if counts and self.primary not in {i for i, _c, _n in counts}:
            self.set_color(counts[0][0])

    # ------------------------------------------------------------ colour editing from the palette list
    def panel_matches_pattern(self) -> bool:
        """True when the palette list shows the pattern's palette (same palette, so its rows are its colours)."""
        pal, p = self.panel_palette(), self.doc.pattern
        if pal is None or p is None:
            return False
        return same_palette(pal, p.palette)

    def panel_to_pattern_index(self, i: int) -> int | None:
        """The pattern's index of palette-list row ``i`` (None: not a colour of the pattern's palette)."""
        pal, p = self.panel_palette(), self.doc.pattern
        if pal is None or p is None or not 0 <= i < len(pal) or not self.panel_matches_pattern():
            return None
        try:
            return p.palette.index_of(pal[i].code)
        except PaletteError:
            return None

    def choose_panel_colour(self, i: int, secondary: bool = False) -> bool:
        """Palette-list row ``i`` becomes the pen (or secondary) colour; False when it is not the pattern's."""
        j = self.panel_to_pattern_index(i)
        if j is None:
            return False
        self.set_secondary(j) if secondary else self.set_color(j)
        return True

    def describe(self, j: int) -> tuple[tuple[int, int, int] | None, str]:
        """(rgb or None, "code name") of pattern colour ``j`` for the swatch and its label."""
        p = self.doc.pattern
        if j == EMPTY:
            return None, "empty (erase)"
        if p is None or not 0 <= j < len(p.palette):
            return None, "—"
        c = p.palette[j]
        return c.rgb, f"{c.code} {c.name}"

    def replace_panel_colour(self, old_panel: int, new_panel: int | None = None) -> int | None:
        """Replace list row ``old_panel`` with row ``new_panel`` (None: the pen colour) everywhere, one undo step.
        Returns the cells changed, None when a colour is not in the pattern's palette."""
        old = self.panel_to_pattern_index(old_panel)
        new = self.primary if new_panel is None else self.panel_to_pattern_index(new_panel)
        if old is None or new is None:
            return None
        return self.replace_color(old, new)

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

