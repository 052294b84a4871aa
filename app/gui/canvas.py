"""The pattern canvas: paints the cells as a scaled QImage with zoom, pan, grid, board lines and hover."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPen, QWheelEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from engine.core.pattern import Pattern

MIN_SCALE, MAX_SCALE = 0.25, 96.0
GRID_MIN_SCALE = 8.0  # grid lines only from this many screen pixels per cell (below, they would hide the cells)
_EMPTY_BACKGROUND = QColor(236, 236, 236)  # shows through empty cells
EMPTY_TEXT = ("Open or drop a picture (File > Open picture starts in the bundled samples),\n"
              "pick a palette, then press Start (F5).\n\nHelp > Quick start explains each step.")


def array_to_qimage(rgb: np.ndarray) -> QImage:
    """H x W x 3 or x 4 uint8 array -> a QImage that owns its pixels."""
    arr = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w, c = arr.shape
    fmt = QImage.Format.Format_RGBA8888 if c == 4 else QImage.Format.Format_RGB888
    return QImage(arr.data, w, h, w * c, fmt).copy()


class PatternCanvas(QWidget):
    """Shows a Pattern (or a live preview) cell by cell.

    Mouse: wheel zooms around the cursor, middle button (or left in pan mode) pans, left button
    emits ``cellPressed``/``cellDragged``/``cellReleased`` for the edit tools, the right button
    ``cellAltPressed`` (secondary colour) then the same drag/release; moving emits
    ``hoveredCell(y, x)`` ((-1, -1) when outside).
    """

    cellPressed = Signal(int, int)
    cellAltPressed = Signal(int, int)
    previewClicked = Signal()
    cellDragged = Signal(int, int)
    cellReleased = Signal()
    hoveredCell = Signal(int, int)
    zoomChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setMinimumSize(240, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        # paintEvent fills every exposed pixel: Qt can skip the background and scroll() can move pixels
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._pattern: Pattern | None = None
        self._image: QImage | None = None  # one pixel per cell
        self._input: QImage | None = None
        self._size = (0, 0)  # cells (w, h)
        self.scale = 8.0
        self.offset = QPointF(0, 0)
        self.show_grid = True
        self.show_boards = True
        self.show_input = False
        self.pan_mode = False
        self.highlight: int | None = None
        self._pan_from: QPointF | None = None
        self._drawing = False
        self._last_cell = (-1, -1)
        self._fitted = True
        self.showing_preview = False  # a preview (not the pattern) is on screen
        self._preview_medium = None  # board lines of a preview
        # a line over the top of the canvas saying what is on screen when it is not simply the pattern
        self.notice = QLabel(self)
        self.notice.setObjectName("canvasNotice")
        self.notice.setWordWrap(True)
        self.notice.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.notice.setStyleSheet("QLabel { background: rgba(255, 248, 214, 235); color: #3a3000; "
                                  "border: 1px solid #c9b458; border-radius: 4px; padding: 4px 8px; }")
        self.notice.hide()

    # ------------------------------------------------------------ content
    @property
    def cells_size(self) -> tuple[int, int]:
        return self._size

    def set_pattern(self, pattern: Pattern | None, refit: bool = False) -> None:
        """Show a pattern (re-rendered from its cells); refits the view when its size changed."""
        self._pattern = pattern
        self.showing_preview = False
        new_size = (0, 0) if pattern is None else (pattern.width, pattern.height)
        self._image = None if pattern is None else self._render(pattern)
        changed = new_size != self._size
        self._size = new_size
        if changed or refit or self._fitted:
            self.fit()
        self.update()

    def _render(self, pattern: Pattern) -> QImage:
        rgba = pattern.to_rgba()
        if self.highlight is not None:
            other = (pattern.index != self.highlight) | pattern.empty_mask
            rgba[other, :3] = (rgba[other, :3] * 0.25 + 190).astype(np.uint8)
        return array_to_qimage(rgba)

    def _cell_colors(self, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """RGBA of some cells as ``_render`` paints them (highlight dimming included)."""
        p = self._pattern
        idx = p.index[ys, xs]
        rgba = np.empty((len(ys), 4), dtype=np.uint8)
        rgba[:, :3] = p.palette.rgb8[idx]
        rgba[:, 3] = 255
        empty = p.empty_mask[ys, xs]
        rgba[empty] = 0
        if self.highlight is not None:
            other = (idx != self.highlight) | empty
            rgba[other, :3] = (rgba[other, :3] * 0.25 + 190).astype(np.uint8)
        return rgba

    def update_cells(self, ys: np.ndarray, xs: np.ndarray) -> None:
        """Re-render only these cells of the current pattern and repaint only their screen area."""
        img = self._image
        if self._pattern is None or img is None or self.showing_preview or len(ys) == 0 or (
                img.width(), img.height()) != (self._pattern.width, self._pattern.height) or (
                img.format() != QImage.Format.Format_RGBA8888):
            self.refresh()
            return
        ys, xs = np.asarray(ys, dtype=np.intp), np.asarray(xs, dtype=np.intp)
        bits = np.frombuffer(img.bits(), dtype=np.uint8).reshape(img.height(), img.bytesPerLine())
        view = bits[:, : img.width() * 4].reshape(img.height(), img.width(), 4)
        view[ys, xs] = self._cell_colors(ys, xs)
        x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
        dirty = QRectF(self.offset.x() + x0 * self.scale, self.offset.y() + y0 * self.scale,
                       (x1 - x0) * self.scale, (y1 - y0) * self.scale).toAlignedRect().adjusted(-3, -3, 3, 3)
        self.update(dirty)

    def refresh(self) -> None:
        """Re-render the current pattern after its cells changed."""
        if self._pattern is not None:
            self._image = self._render(self._pattern)
            self.showing_preview = False
        self.update()

    def set_preview(self, rgb: np.ndarray, medium=None) -> None:
        """Show a preview image (H x W x 3 or x 4 uint8 cells): live during a run, or before Start; ``medium``
        gives its board lines."""
        h, w = rgb.shape[:2]
        self.showing_preview = True
        self._preview_medium = medium
        self._image = array_to_qimage(rgb)
        if (w, h) != self._size:
            self._size = (w, h)
            self.fit()
        self.update()

    def set_notice(self, text: str) -> None:
        """Show ``text`` over the top of the canvas ("" hides it): what is on screen and what Start will do."""
        self.notice.setText(text)
        self.notice.setVisible(bool(text))
        self._place_notice()

    def _place_notice(self) -> None:
        if not self.notice.isHidden():
            width = max(100, self.width() - 16)
            self.notice.setFixedSize(width, self.notice.heightForWidth(width))
            self.notice.move(8, 8)
        if self._fitted:
            self.fit()

    def _notice_height(self) -> int:
        return 0 if self.notice.isHidden() else self.notice.height() + 8

    def set_input_image(self, image: QImage | None) -> None:
        """The source picture drawn beside the pattern when ``show_input`` is on."""
        self._input = image
        self.update()

    def set_show_input(self, on: bool) -> None:
        self.show_input = on
        if self._fitted:
            self.fit()
        self.update()

    def set_highlight(self, color_index: int | None) -> None:
        """Dim every cell that is not ``color_index`` (None shows all)."""
        self.highlight = color_index
        self.refresh()

    def set_grid(self, on: bool) -> None:
        self.show_grid = on
        self.update()

    def set_boards(self, on: bool) -> None:
        self.show_boards = on
        self.update()

    def grab_pixels(self) -> np.ndarray | None:
        """The cell image currently shown (H x W x 4 RGBA) - for tests and checks."""
        if self._image is None:
            return None
        img = self._image.convertToFormat(QImage.Format.Format_RGBA8888)
        ptr = img.constBits()
        arr = np.frombuffer(ptr, dtype=np.uint8, count=img.sizeInBytes()).reshape(img.height(), img.bytesPerLine())
        return arr[:, : img.width() * 4].reshape(img.height(), img.width(), 4).copy()

    # ------------------------------------------------------------ view transform
    def _content_width(self) -> float:
        w, h = self._size
        if self.show_input and self._input is not None and h:
            return w + 1 + h * self._input.width() / max(1, self._input.height())
        return w

    def fit(self) -> None:
        """Zoom so the whole pattern (and the input beside it, if shown) fits the widget."""
        w, h = self._content_width(), self._size[1]
        if not w or not h:
            return
        margin = 12
        top = self._notice_height()  # the notice line stays clear of the cells
        s = min((self.width() - 2 * margin) / w, (self.height() - top - 2 * margin) / h)
        self.scale = float(min(MAX_SCALE, max(MIN_SCALE, s)))
        self.offset = QPointF((self.width() - w * self.scale) / 2, top + (self.height() - top - h * self.scale) / 2)
        self._fitted = True
        self.zoomChanged.emit(self.scale)
        self.update()

    def actual_size(self) -> None:
        """1:1 - one cell drawn at its physical size on screen (medium pitch at the screen's DPI)."""
        pitch = 5.0
        if self._pattern is not None and self._pattern.medium is not None:
            pitch = self._pattern.medium.pitch_mm
        self.set_scale(pitch * self.logicalDpiX() / 25.4, QPointF(self.width() / 2, self.height() / 2))

    def set_scale(self, scale: float, anchor: QPointF | None = None) -> None:
        """Zoom to ``scale`` screen pixels per cell keeping ``anchor`` (widget coords) fixed."""
        scale = float(min(MAX_SCALE, max(MIN_SCALE, scale)))
        anchor = anchor if anchor is not None else QPointF(self.width() / 2, self.height() / 2)
        cell = (anchor - self.offset) / self.scale
        self.scale = scale
        self.offset = anchor - cell * scale
        self._fitted = False
        self.zoomChanged.emit(self.scale)
        self.update()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        self.set_scale(self.scale * factor, anchor)

    def cell_at(self, pos: QPointF) -> tuple[int, int]:
        """(y, x) of the cell under widget position ``pos``, or (-1, -1)."""
        p = (pos - self.offset) / self.scale
        x, y = int(np.floor(p.x())), int(np.floor(p.y()))
        w, h = self._size
        if 0 <= x < w and 0 <= y < h:
            return y, x
        return -1, -1

    def cell_center(self, y: int, x: int) -> QPointF:
        """Widget coordinates of the centre of cell (y, x) (used by tests to click cells)."""
        return self.offset + QPointF((x + 0.5) * self.scale, (y + 0.5) * self.scale)

    # ------------------------------------------------------------ painting
    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        """Paint only what the exposed rectangle needs: the visible cells of the cell image (no full-image
        scaling), grid lines (zoomed in to GRID_MIN_SCALE px per cell or more) and board lines, each in one
        ``drawLines`` call."""
        p = QPainter(self)
        exposed = QRectF(event.rect())
        p.fillRect(exposed, self.palette().window())
        w, h = self._size
        if self._image is None or not w:
            p.setPen(self.palette().text().color())
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                       EMPTY_TEXT)
            p.end()
            return
        target = QRectF(self.offset.x(), self.offset.y(), w * self.scale, h * self.scale)
        x0, y0, x1, y1 = self._visible_cells(target, exposed)
        if x1 > x0 and y1 > y0:
            part = QRectF(target.left() + x0 * self.scale, target.top() + y0 * self.scale,
                          (x1 - x0) * self.scale, (y1 - y0) * self.scale)
            self._paint_empty_background(p, part)
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            p.drawImage(part, self._image, QRectF(x0, y0, x1 - x0, y1 - y0))
            if self.show_grid and self.scale >= GRID_MIN_SCALE:
                self._paint_grid(p, target, (x0, y0, x1, y1), exposed)
            if self.show_boards:
                self._paint_boards(p, target, exposed)
        if self.show_input and self._input is not None:
            iw = h * self.scale * self._input.width() / max(1, self._input.height())
            src = QRectF(target.right() + self.scale, target.top(), iw, target.height())
            if src.intersects(exposed):
                p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
                p.drawImage(src, self._input)
        p.end()

    def _paint_empty_background(self, p: QPainter, target: QRectF) -> None:
        if not self.showing_preview and (self._pattern is None or self._pattern.empty is None):
            return
        p.fillRect(target, _EMPTY_BACKGROUND)

    def _visible_cells(self, target: QRectF, area: QRectF | None = None) -> tuple[int, int, int, int]:
        """Cell range (x0, y0, x1, y1), end exclusive, that covers ``area`` (default: the whole widget)."""
        area = QRectF(self.rect()) if area is None else area
        w, h = self._size
        x0 = max(0, int(np.floor((area.left() - target.left()) / self.scale)))
        y0 = max(0, int(np.floor((area.top() - target.top()) / self.scale)))
        x1 = min(w, int(np.ceil((area.right() - target.left()) / self.scale)) + 1)
        y1 = min(h, int(np.ceil((area.bottom() - target.top()) / self.scale)) + 1)
        return x0, y0, x1, y1

    def _paint_grid(self, p: QPainter, target: QRectF, cells: tuple[int, int, int, int], area: QRectF) -> None:
        x0, y0, x1, y1 = cells
        top, bottom = max(target.top(), area.top()), min(target.bottom(), area.bottom())
        left, right = max(target.left(), area.left()), min(target.right(), area.right())
        thin: list[QLineF] = []
        bold: list[QLineF] = []
        for x in range(x0, x1 + 1):
            xx = target.left() + x * self.scale
            (bold if x % 10 == 0 else thin).append(QLineF(xx, top, xx, bottom))
        for y in range(y0, y1 + 1):
            yy = target.top() + y * self.scale
            (bold if y % 10 == 0 else thin).append(QLineF(left, yy, right, yy))
        p.setPen(QPen(QColor(0, 0, 0, 50), 0))
        p.drawLines(thin)
        p.setPen(QPen(QColor(0, 0, 0, 120), 0))
        p.drawLines(bold)

    def _paint_boards(self, p: QPainter, target: QRectF, area: QRectF) -> None:
        medium = self._preview_medium if self.showing_preview and self._preview_medium is not None else (
            None if self._pattern is None else self._pattern.medium)
        board = None if medium is None else medium.default_board
        if board is None:
            return
        w, h = self._size
        top, bottom = max(target.top(), area.top() - 2), min(target.bottom(), area.bottom() + 2)
        left, right = max(target.left(), area.left() - 2), min(target.right(), area.right() + 2)
        lines = [QLineF(xx, top, xx, bottom) for xx in (target.left() + x * self.scale
                                                          for x in range(board.width, w, board.width))
                 if area.left() - 2 <= xx <= area.right() + 2]
        lines += [QLineF(left, yy, right, yy) for yy in (target.top() + y * self.scale
                                                          for y in range(board.height, h, board.height))
                  if area.top() - 2 <= yy <= area.bottom() + 2]
        if lines:
            p.setPen(QPen(QColor(220, 40, 40, 200), 2))
            p.drawLines(lines)

    # ------------------------------------------------------------ input events
    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._place_notice()  # refits too

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt API
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(1.25 ** steps, event.position())
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        pos = event.position()
        if event.button() == Qt.MouseButton.MiddleButton or (
            event.button() == Qt.MouseButton.LeftButton and self.pan_mode
        ):
            self._pan_from = pos
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        if self.showing_preview and event.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            self.previewClicked.emit()  # the window decides (e.g. back to the pattern); never an edit
            return
        if event.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton) and self._pattern is not None:
            y, x = self.cell_at(pos)
            if y >= 0:
                self._drawing = True
                self._last_cell = (y, x)
                if event.button() == Qt.MouseButton.RightButton:
                    self.cellAltPressed.emit(y, x)
                else:
                    self.cellPressed.emit(y, x)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        pos = event.position()
        if self._pan_from is not None:
            delta = (pos - self._pan_from).toPoint()  # whole pixels, so the shifted pixels stay exact
            if not delta.isNull():
                self._pan_from += QPointF(delta)
                self.offset += QPointF(delta)
                self._fitted = False
                if self._image is not None:
                    self.scroll(delta.x(), delta.y())  # moves what is on screen, repaints only the new strips
                else:
                    self.update()
            return
        y, x = self.cell_at(pos)
        self.hoveredCell.emit(y, x)
        if self._drawing and y >= 0 and (y, x) != self._last_cell:
            self._last_cell = (y, x)
            self.cellDragged.emit(y, x)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        if self._pan_from is not None:
            self._pan_from = None
            self.unsetCursor()
            return
        if self._drawing:
            self._drawing = False
            self.cellReleased.emit()

    def leaveEvent(self, event) -> None:  # noqa: N802 - Qt API
        self.hoveredCell.emit(-1, -1)
        super().leaveEvent(event)
