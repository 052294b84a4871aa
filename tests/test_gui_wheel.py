"""The mouse wheel changes a dropdown or number box only when it has focus; otherwise the panel scrolls."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QComboBox, QScrollArea


def _wheel(widget, notches: int = -1) -> None:
    """One wheel turn over the middle of ``widget`` (negative: towards the user, i.e. scroll down)."""
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(pos, QPointF(widget.mapToGlobal(pos.toPoint())), QPoint(0, 0), QPoint(0, 120 * notches),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                        False)
    QApplication.sendEvent(widget, event)


def _guarded(qtbot) -> None:
    from app.gui import wheel_guard

    qtbot.waitUntil(wheel_guard.installed, timeout=5000)  # installed just after the window's first paint


def test_unfocused_controls_pass_the_wheel_to_the_panel(window, qtbot):
    _guarded(qtbot)
    window.resize(1200, 420)  # short: the input panel scrolls
    ip = window.input_panel
    scroll = ip.findChild(QScrollArea)
    bar = scroll.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=3000)
    window.canvas.setFocus()
    for combo in (ip.fit, ip.dither, ip.mode):
        assert not combo.hasFocus()
        before, scrolled = combo.currentIndex(), bar.value()
        _wheel(combo)
        assert combo.currentIndex() == before, combo
        assert bar.value() > scrolled or bar.value() == bar.maximum()
    bar.setValue(0)
    for spin in (ip.dither_strength, ip.seed, ip.min_count):
        spin.setValue(spin.minimum() + (spin.maximum() - spin.minimum()) / 2)
        before = spin.value()
        _wheel(spin, 1)
        assert spin.value() == before, spin
    # the palette panel's spin box and the shopping list's are guarded as well
    for spin in (window.palette_panel.max_colors, window.shopping_panel.bag_size):
        before = spin.value()
        _wheel(spin, 1)
        assert spin.value() == before


def test_a_focused_control_takes_the_wheel(window, qtbot):
    _guarded(qtbot)
    ip = window.input_panel
    window.activateWindow()
    ip.dither.setFocus()
    qtbot.waitUntil(ip.dither.hasFocus, timeout=3000)
    before = ip.dither.currentIndex()
    _wheel(ip.dither)
    assert ip.dither.currentIndex() == before + 1


def test_every_dropdown_and_number_box_needs_a_click_or_tab_for_focus(window, qtbot):
    from app.gui.preferences import PreferencesDialog

    _guarded(qtbot)
    dialog = PreferencesDialog(window, window.prefs)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    controls = [w for root in (window, dialog) for kind in (QComboBox, QAbstractSpinBox)
                for w in root.findChildren(kind)]
    assert len(controls) > 15
    wheel_focus = [w.objectName() or type(w).__name__ for w in controls
                   if w.focusPolicy() == Qt.FocusPolicy.WheelFocus]
    assert wheel_focus == []
