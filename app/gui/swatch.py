"""The current-colour swatch: primary (left button) over secondary (right button), click to swap."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget


class ColorSwatch(QWidget):
    """Two overlapping squares: the primary colour (front, top left) and the secondary (back, bottom right).

    An empty colour (erase) is drawn as a white square with a red diagonal. Clicking emits ``swapRequested``.
    """

    swapRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.primary: tuple[int, int, int] | None = None
        self.secondary: tuple[int, int, int] | None = None
        self.setObjectName("colorSwatch")
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(34, 30)

    def set_colors(self, primary: tuple[int, int, int] | None, secondary: tuple[int, int, int] | None,
                   tip: str = "") -> None:
        """Show these colours (None = empty/erase)."""
        self.primary, self.secondary = primary, secondary
        self.setToolTip(tip)
        self.update()

    def _square(self, p: QPainter, rect: QRectF, rgb: tuple[int, int, int] | None) -> None:
        p.setPen(QPen(QColor(40, 40, 40), 1))
        p.setBrush(QColor(255, 255, 255) if rgb is None else QColor(*rgb))
        p.drawRect(rect)
        if rgb is None:
            p.setPen(QPen(QColor(210, 30, 30), 2))
            p.drawLine(rect.bottomLeft(), rect.topRight())

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        side = min(self.width(), self.height()) * 0.66
        self._square(p, QRectF(self.width() - side - 1, self.height() - side - 1, side, side), self.secondary)
        self._square(p, QRectF(1, 1, side, side), self.primary)
        p.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        self.swapRequested.emit()
