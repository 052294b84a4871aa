"""Help menu: a short quick start for a first run and the keyboard shortcuts (read from the window's actions,
so the list is always the one the menus use)."""

from __future__ import annotations

import html
from typing import Iterable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

QUICK_START = """
<h3>Quick start</h3>
<ol>
<li><b>Open a picture</b>: File &gt; Open picture ({open}) or drop one on the window. The dialog starts in the
bundled samples the first time. With a prompt instead of a picture, SD-πXL draws one.</li>
<li><b>Pick a palette</b> on the right: fuse beads, LEGO bricks or embroidery threads. Tick the colours you own;
speciality finishes (neon, pearl…) are left out until you include them with <i>Finishes</i>.</li>
<li><b>Set the size</b> on the left, in cells, boards or centimetres. The canvas shows a quick preview.</li>
<li><b>Press Start</b> ({start}). The fast converter makes the pattern in seconds. SD-πXL (diffusion) is slow:
it shows its time estimate first and is best on a graphics card.</li>
<li><b>Touch up</b> with the pencil ({pencil}), flood fill ({fill}) and eyedropper ({eyedropper});
undo with {undo}.</li>
<li><b>Export</b> ({export}): bead charts, brick parts lists, embroidery files, PNG. The <i>Shopping list</i> tab
says what to buy.</li>
</ol>
<p>Save your project with {save}; piXL Studio also autosaves while you work.</p>
"""

MOUSE = (("Mouse wheel over the pattern", "Zoom"), ("Middle button drag", "Pan the view"),
         ("Right button", "Draw with the secondary colour"),
         ("Mouse wheel over a setting", "Scrolls the panel; click the setting first to change it with the wheel"))


def shortcut_rows(actions: Iterable[QAction]) -> list[tuple[str, str]]:
    """(key, what it does) for every action with a shortcut, in menu order, without duplicates."""
    rows, seen = [], set()
    for act in actions:
        key = act.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        text = act.text().replace("&", "").rstrip("…").strip()
        if key and (key, text) not in seen:
            seen.add((key, text))
            rows.append((key, text))
    return rows


def quick_start_html(keys: dict[str, str]) -> str:
    """The quick start with the window's own shortcuts filled in."""
    return QUICK_START.format(**{k: html.escape(v) for k, v in keys.items()})


def shortcuts_html(rows: list[tuple[str, str]]) -> str:
    """The shortcut table plus the mouse."""
    body = "".join(f"<tr><td><b>{html.escape(k)}</b>&nbsp;&nbsp;</td><td>{html.escape(t)}</td></tr>"
                   for k, t in list(rows) + list(MOUSE))
    return f"<h3>Keyboard shortcuts and mouse</h3><table>{body}</table>"


class HelpDialog(QDialog):
    """A read-only page of help text with a Close button."""

    def __init__(self, parent: QWidget | None, title: str, body: str) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        self.browser.setHtml(body)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        self.resize(560, 480)
