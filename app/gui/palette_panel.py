"""Right-hand panel: choose a palette, tick owned colours, limit colours, see counts, highlight and replace."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui import settings
from engine.core.palette import Palette, PaletteError
from engine.core.palette_io import list_palettes, load_palette
from engine.core.pattern import Pattern

log = logging.getLogger(__name__)

GROUP_TITLES = {"beads": "Fuse beads", "bricks": "Bricks", "threads": "Threads", "pixelart": "Pixel art"}
IMPORTED_PREFIX = "file:"
PROJECT_KEY = "project:"


def swatch_icon(rgb: tuple[int, int, int], size: int = 16) -> QIcon:
    """A square colour swatch icon."""
    pm = QPixmap(size, size)
    pm.fill(QColor(*rgb))
    return QIcon(pm)


def palette_settings_key(palette: Palette, source: str) -> str:
    """Key under which owned colours are remembered (shipped key or file path)."""
    return source if source.startswith(IMPORTED_PREFIX) else (palette.key or palette.name)


class PalettePanel(QWidget):
    """Palette chooser and colour list.

    Signals (palette indices): ``paletteChanged()`` (a new palette is active), ``colorActivated(int)`` (a row
    was chosen: the pen colour), ``secondaryRequested(int)``, ``highlightRequested(int)`` (context menu: show
    where this colour is), ``replaceRequested(int, int)``, ``replaceWithPenRequested(int)``, ``ownedChanged()``.
    Choosing a row never dims the canvas: highlighting is a separate toggle.
    """

    paletteChanged = Signal()
    highlightRequested = Signal(int)
    colorActivated = Signal(int)
    secondaryRequested = Signal(int)
    replaceRequested = Signal(int, int)
    replaceWithPenRequested = Signal(int)
    ownedChanged = Signal()

    COL_COLOR, COL_NAME, COL_COUNT = 0, 1, 2

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._palette: Palette | None = None
        self._source = ""
        self._counts: dict[int, int] = {}
        self._items: list[QTreeWidgetItem] = []
        self._loading = False

        self.combo = QComboBox()
        self.combo.setObjectName("paletteCombo")
        self.combo.setMaxVisibleItems(25)
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip("Import a palette file (.hex, .gpl, .csv)")
        top = QHBoxLayout()
        top.addWidget(self.combo, 1)
        top.addWidget(self.import_button)

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search name or code")
        self.search.setClearButtonEnabled(True)

        self.tree = QTreeWidget()
        self.tree.setObjectName("colorList")
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Code", "Name", "Used"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.tree.header()
        header.setSectionResizeMode(self.COL_COLOR, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(self.COL_NAME, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(self.COL_COUNT, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)  # the name column gets the spare width, not the counts
        self.tree.setSortingEnabled(False)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)

        self.all_button = QPushButton("Own all")
        self.none_button = QPushButton("Own none")
        self.used_only = QPushButton("Used only")
        self.used_only.setCheckable(True)
        self.used_only.setToolTip("List only colours used by the current pattern")
        owned_row = QHBoxLayout()
        for b in (self.all_button, self.none_button, self.used_only):
            owned_row.addWidget(b)

        self.max_colors = QSpinBox()
        self.max_colors.setObjectName("maxColors")
        self.max_colors.setRange(0, 512)
        self.max_colors.setSpecialValueText("no limit")
        self.max_colors.setToolTip("Use at most this many colours, the best ones for the picture "
                                   "(SD-πXL: applies when a picture is open)")
        self.replace_button = QPushButton("Replace colour…")
        self.replace_button.setToolTip("Replace the selected colour everywhere in the pattern")
        form = QFormLayout()
        form.addRow("At most", self.max_colors)

        self.summary = QLabel()
        self.summary.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.search)
        layout.addWidget(self.tree, 1)
        layout.addLayout(owned_row)
        layout.addLayout(form)
        layout.addWidget(self.replace_button)
        layout.addWidget(self.summary)

        self._fill_combo()
        self.combo.currentIndexChanged.connect(self._on_combo)
        self.search.textChanged.connect(self._apply_filter)
        self.used_only.toggled.connect(self._apply_filter)
        self.tree.itemChanged.connect(self._on_item_changed)
        self.tree.currentItemChanged.connect(self._on_current)
        self.tree.itemDoubleClicked.connect(lambda item, _col: self.colorActivated.emit(item.data(0, Qt.UserRole)))
        self.all_button.clicked.connect(lambda: self._set_all_owned(True))
        self.none_button.clicked.connect(lambda: self._set_all_owned(False))
        self.replace_button.clicked.connect(self._ask_replace)
        self.max_colors.valueChanged.connect(lambda v: settings.set_value("palette/maxColors", v))
        self.max_colors.setValue(settings.value("palette/maxColors", 0, int) or 0)

    # ------------------------------------------------------------ palette list
    def _fill_combo(self) -> None:
        self.combo.blockSignals(True)
        self.combo.clear()
        groups: dict[str, list] = {}
        for info in list_palettes():
            groups.setdefault(info.group, []).append(info)
        order = [g for g in GROUP_TITLES if g in groups] + sorted(g for g in groups if g not in GROUP_TITLES)
        for group in order:
            self._add_header(GROUP_TITLES.get(group, group.title()))
            for info in groups[group]:
                self.combo.addItem(f"  {info.name} ({info.count})", info.key)
                self.combo.setItemData(self.combo.count() - 1, f"{info.name}: {info.count} colours",
                                       Qt.ItemDataRole.ToolTipRole)
        imported = [p for p in settings.string_list("palette/imported") if Path(p).is_file()]
        if imported:
            self._add_header("Imported")
            for p in imported:
                self.combo.addItem(f"  {Path(p).stem}", IMPORTED_PREFIX + p)
        self.combo.blockSignals(False)

    def _add_header(self, title: str) -> None:
        self.combo.addItem(title, None)
        item = self.combo.model().item(self.combo.count() - 1)
        item.setEnabled(False)
        font = item.font()
        font.setBold(True)
        item.setFont(font)

    def palette_keys(self) -> list[str]:
        """Data of every selectable combo entry (shipped keys and imported files)."""
        return [self.combo.itemData(i) for i in range(self.combo.count()) if self.combo.itemData(i)]

    def select_palette(self, key: str) -> bool:
        """Make the palette with this key (or ``file:`` path) current; returns False if unknown."""
        i = self.combo.findData(key)
        if i < 0:
            return False
        if i == self.combo.currentIndex():
            self._on_combo(i)
        else:
            self.combo.setCurrentIndex(i)
        return True

    def restore_last(self) -> None:
        """Select the palette used last time (Perler by default)."""
        last = settings.value("palette/last", "perler") or "perler"
        if not self.select_palette(str(last)):
            self.select_palette("perler") or self.select_palette(self.palette_keys()[0])

    def import_file(self, path: str | Path) -> Palette:
        """Read a palette file, add it under "Imported" and select it (raises PaletteError)."""
        path = str(Path(path).resolve())
        palette = load_palette(path)
        imported = [p for p in settings.string_list("palette/imported") if p != path]
        settings.set_value("palette/imported", [path] + imported)
        self._fill_combo()
        self.select_palette(IMPORTED_PREFIX + path)
        return palette

    def show_project_palette(self, palette: Palette) -> None:
        """Show a palette that came with an opened project (not from the list)."""
        i = self.combo.findData(PROJECT_KEY)
        if i >= 0:
            self.combo.removeItem(i)
        self.combo.blockSignals(True)
        self.combo.addItem(f"Project: {palette.name}", PROJECT_KEY)
        self.combo.setCurrentIndex(self.combo.count() - 1)
        self.combo.blockSignals(False)
        self._set_palette(palette, PROJECT_KEY)

    def _on_combo(self, i: int) -> None:
        key = self.combo.itemData(i)
        if not key or key == PROJECT_KEY:
            return
        try:
            palette = load_palette(key[len(IMPORTED_PREFIX):] if key.startswith(IMPORTED_PREFIX) else key)
        except (PaletteError, OSError) as exc:
            log.warning("cannot load palette %s: %s", key, exc)
            return
        settings.set_value("palette/last", key)
        self._set_palette(palette, key)

    def _set_palette(self, palette: Palette, source: str) -> None:
        self._palette, self._source = palette, source
        owned = settings.owned_codes(palette_settings_key(palette, source)) if source != PROJECT_KEY else None
        owned_set = None if owned is None else set(owned)
        self._loading = True
        self.tree.clear()
        self._items = []
        for i, c in enumerate(palette.colors):
            item = QTreeWidgetItem([c.code, c.name, ""])
            item.setIcon(self.COL_COLOR, swatch_icon(c.rgb))
            item.setData(0, Qt.UserRole, i)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            checked = owned_set is None or c.code in owned_set
            item.setCheckState(self.COL_COLOR, Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            tip = f"{c.code} {c.name} {c.hex}" + (f" ({c.finish})" if getattr(c, "finish", "solid") != "solid" else "")
            for col in (self.COL_COLOR, self.COL_NAME, self.COL_COUNT):
                item.setToolTip(col, tip)
            self._items.append(item)
        self.tree.addTopLevelItems(self._items)
        self._loading = False
        self._counts = {}
        self._apply_filter()
        self._update_summary()
        self.paletteChanged.emit()

    # ------------------------------------------------------------ state others read
    def palette(self) -> Palette | None:
        """The full palette shown."""
        return self._palette

    def owned_indices(self) -> list[int]:
        return [i for i, item in enumerate(self._items) if item.checkState(0) == Qt.CheckState.Checked]

    def owned_palette(self) -> Palette | None:
        """The ticked colours as a palette (None when nothing is ticked)."""
        if self._palette is None:
            return None
        idx = self.owned_indices()
        if not idx:
            return None
        return self._palette if len(idx) == len(self._palette) else self._palette.subset(idx, name=self._palette.name)

    def max_colors_value(self) -> int | None:
        v = self.max_colors.value()
        return v or None

    def set_owned(self, codes: list[str]) -> None:
        """Tick exactly these colour codes (and remember them)."""
        codes_set = set(codes)
        self._loading = True
        for item, c in zip(self._items, self._palette.colors if self._palette else ()):
            item.setCheckState(0, Qt.CheckState.Checked if c.code in codes_set else Qt.CheckState.Unchecked)
        self._loading = False
        self._save_owned()

    def _set_all_owned(self, on: bool) -> None:
        if self._palette is not None:
            self.set_owned(self._palette.codes if on else [])

    def _on_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if not self._loading and column == 0:
            self._save_owned()

    def _save_owned(self) -> None:
        if self._palette is None or self._source == PROJECT_KEY:
            self._update_summary()
            return
        idx = self.owned_indices()
        key = palette_settings_key(self._palette, self._source)
        settings.set_owned_codes(key, None if len(idx) == len(self._palette) else [self._palette[i].code for i in idx])
        self._update_summary()
        self.ownedChanged.emit()

    # ------------------------------------------------------------ counts, filter, highlight
    def set_counts(self, pattern: Pattern | None) -> None:
        """Show per-colour counts of ``pattern`` (matched by colour code)."""
        self._counts = {}
        if pattern is not None and self._palette is not None:
            codes = {c: i for i, c in enumerate(self._palette.codes)}
            for _i, color, n in pattern.color_counts():
                j = codes.get(color.code)
                if j is not None:
                    self._counts[j] = n
        self.tree.setUpdatesEnabled(False)
        header = self.tree.header()
        header.setSectionResizeMode(self.COL_COUNT, QHeaderView.ResizeMode.Fixed)
        for i, item in enumerate(self._items):
            n = self._counts.get(i)
            text = "" if not n else str(n)
            if item.text(self.COL_COUNT) != text:
                item.setText(self.COL_COUNT, text)
        self._apply_filter()
        header.setSectionResizeMode(self.COL_COUNT, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setUpdatesEnabled(True)
        self._update_summary()

    def _apply_filter(self, *_args) -> None:
        text = self.search.text().strip().lower()
        used_only = self.used_only.isChecked()
        for i, item in enumerate(self._items):
            match = not text or text in item.text(0).lower() or text in item.text(1).lower()
            if used_only:
                match = match and i in self._counts
            item.setHidden(not match)

    def _update_summary(self) -> None:
        if self._palette is None:
            self.summary.setText("")
            return
        owned = len(self.owned_indices())
        used = len(self._counts)
        total = sum(self._counts.values())
        parts = [f"{owned} of {len(self._palette)} colours owned"]
        if used:
            parts.append(f"pattern uses {used} colours, {total} cells")
        self.summary.setText("; ".join(parts))

    def _on_current(self, current: QTreeWidgetItem | None, _previous) -> None:
        if current is not None:
            self.colorActivated.emit(int(current.data(0, Qt.UserRole)))

    def clear_highlight(self) -> None:
        """Deselect the row (the pen colour stays)."""
        self.tree.blockSignals(True)
        self.tree.setCurrentItem(None)
        self.tree.clearSelection()
        self.tree.blockSignals(False)

    def context_actions(self, index: int) -> QMenu:
        """The context menu of colour row ``index`` (built, not shown: tests trigger its actions)."""
        menu = QMenu(self)
        c = self._palette[index]
        menu.addAction(f"Draw with {c.code} {c.name} (left button)", lambda: self.colorActivated.emit(index))
        menu.addAction("Use as secondary colour (right button)", lambda: self.secondaryRequested.emit(index))
        menu.addAction("Highlight in the pattern", lambda: self.highlightRequested.emit(index))
        menu.addSeparator()
        used = index in self._counts
        act = menu.addAction("Replace with the pen colour", lambda: self.replaceWithPenRequested.emit(index))
        act.setEnabled(used)
        act = menu.addAction("Replace with…", lambda: self._ask_replace_index(index))
        act.setEnabled(used)
        return menu

    def _context_menu(self, pos) -> None:
        item = self.tree.itemAt(pos)
        if item is None or self._palette is None:
            return
        self.context_actions(int(item.data(0, Qt.UserRole))).exec(self.tree.viewport().mapToGlobal(pos))

    def _ask_replace_index(self, old: int) -> None:
        new = ReplaceColorDialog.ask(self, self._palette, old)
        if new is not None and new != old:
            self.replaceRequested.emit(old, new)

    def select_color(self, index: int) -> None:
        if 0 <= index < len(self._items):
            self.tree.setCurrentItem(self._items[index])

    def _ask_replace(self) -> None:
        current = self.tree.currentItem()
        if current is None or self._palette is None:
            return
        old = int(current.data(0, Qt.UserRole))
        new = ReplaceColorDialog.ask(self, self._palette, old)
        if new is not None and new != old:
            self.replaceRequested.emit(old, new)


class ReplaceColorDialog(QDialog):
    """Pick the colour that replaces another one."""

    def __init__(self, parent: QWidget | None, palette: Palette, old: int) -> None:
        super().__init__(parent)
        self.setWindowTitle("Replace colour")
        c = palette[old]
        self.combo = QComboBox()
        for i, col in enumerate(palette.colors):
            if i != old:
                self.combo.addItem(swatch_icon(col.rgb), f"{col.code} {col.name}", i)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QFormLayout(self)
        layout.addRow("Replace", QLabel(f"{c.code} {c.name}"))
        layout.addRow("with", self.combo)
        layout.addRow(buttons)

    @classmethod
    def ask(cls, parent: QWidget | None, palette: Palette, old: int) -> int | None:
        dlg = cls(parent, palette, old)
        if dlg.exec() == QDialog.DialogCode.Accepted:
            return dlg.combo.currentData()
        return None
