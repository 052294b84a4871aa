"""The mouse wheel changes a dropdown or number box only when it has focus (it was clicked or tabbed to);
over an unfocused one the wheel scrolls the panel around it instead.

One application-wide event filter (``install``) covers every window and dialog: each combo box and spin box is
given ``Qt.StrongFocus`` when it is first polished (so a wheel pass cannot focus it), and a wheel event over an
unfocused one goes to the nearest scroll area's scroll bar.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractScrollArea, QAbstractSpinBox, QApplication, QComboBox, QWidget

GUARDED = (QComboBox, QAbstractSpinBox)


def scroll_target(widget: QWidget) -> QWidget | None:
    """The scroll bar that a wheel over ``widget`` should move: the nearest scroll area's vertical one."""
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea):
            return parent.verticalScrollBar()
        parent = parent.parentWidget()
    return None


class WheelGuard(QObject):
    """The event filter; see the module docstring."""

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
        if not isinstance(obj, GUARDED):  # first: most events are not theirs, and reading the type costs more
            return False
        kind = event.type()
        if kind == QEvent.Type.Wheel and not obj.hasFocus():
            target = scroll_target(obj)
            if target is not None:
                QCoreApplication.sendEvent(target, event)
            event.accept()
            return True
        if kind == QEvent.Type.Polish:
            obj.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        return False


def installed(app: QApplication | None = None) -> bool:
    """True once ``install`` ran for the application."""
    app = app or QApplication.instance()
    return app is not None and app.findChild(WheelGuard, "wheelGuard") is not None


def install(app: QApplication | None = None) -> WheelGuard:
    """Install the guard on the application once (later calls return the same guard). Controls that exist
    already (polished before the guard was there) get their focus policy now; the main window installs it just
    after its first paint, so building and showing the window do not pass through it."""
    app = app or QApplication.instance()
    guard = app.findChild(WheelGuard, "wheelGuard")
    if guard is None:
        guard = WheelGuard(app)
        guard.setObjectName("wheelGuard")
        app.installEventFilter(guard)
    for top in app.topLevelWidgets():
        for kind in GUARDED:
            for control in [top] * isinstance(top, kind) + top.findChildren(kind):
                control.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    return guard
