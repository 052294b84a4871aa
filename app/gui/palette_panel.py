"""Right-hand panel: choose a palette, tick owned colours, include bead finishes, keep stock counts, limit colours,
see counts, highlight and replace."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QIntValidator, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSpinBox,
    QStyledItemDelegate,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui import settings
from engine.convert.stash import StashError, format_stash, lego_sets, load_set, parse_stash, read_stash, set_palette
from engine.core.atomic import atomic_write_text
from engine.core.palette import DEFAULT_FINISHES, FINISHES, Palette, PaletteError
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


class StockDelegate(QStyledItemDelegate):
    """Only the "In stock" column is editable, with a whole-number editor (empty = not tracked)."""

    def __init__(self, column: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.column = column

    def createEditor(self, parent, option, index):  # noqa: N802 - Qt API
        if index.column() != self.column:
            return None
        editor = QLineEdit(parent)
        editor.setValidator(QIntValidator(0, 10_000_000, editor))
        editor.setPlaceholderText("not tracked")
        return editor


class PalettePanel(QWidget):
    """Palette chooser and colour list.

    Signals (palette indices): ``paletteChanged()`` (a new palette is active), ``colorActivated(int)`` (a row
    was chosen: the pen colour), ``secondaryRequested(int)``, ``highlightRequested(int)`` (context menu: show
    where this colour is), ``replaceRequested(int, int)``, ``replaceWithPenRequested(int)``, ``ownedChanged()``,
    ``stockChanged()`` (an "In stock" count changed), ``countsChanged()`` (the pattern counts were refreshed).
    Choosing a row never dims the canvas: highlighting is a separate toggle.

    Owned by default: the palette's colours of the included finishes (solid only unless the user includes pearl,
    neon... in the Finishes menu), the same rule as the engine's ``DEFAULT_FINISHES``. "In stock" holds an optional
    count per colour (empty = not tracked = unlimited), saved per palette; see ``convert_options``.
    """

    paletteChanged = Signal()
    highlightRequested = Signal(int)
    colorActivated = Signal(int)
    secondaryRequested = Signal(int)
    replaceRequested = Signal(int, int)
    replaceWithPenRequested = Signal(int)
    ownedChanged = Signal()
    stockChanged = Signal()
    countsChanged = Signal()
    stockError = Signal(str, str)

    COL_COLOR, COL_NAME, COL_COUNT, COL_STOCK = 0, 1, 2, 3

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._palette: Palette | None = None
        self._source = ""
        self._counts: dict[int, int] = {}
        self._items: list[QTreeWidgetItem] = []
        self._loading = False
        self._stock: dict[str, int] = {}  # "In stock" counts by colour code (tracked colours only)
        self._finishes: list[str] = []  # included speciality finishes
        self._other_pattern: Pattern | None = None  # the pattern shown is in another palette (set_counts)

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
        self.tree.setColumnCount(4)
        self.tree.setHeaderLabels(["Code", "Name", "Used", "In stock"])
        self.tree.headerItem().setToolTip(self.COL_STOCK, "In stock: pieces you own (double-click to edit; empty = not "
                                          "tracked, no limit). With counts the converter never uses more.")
        self.tree.setItemDelegate(StockDelegate(self.COL_STOCK, self.tree))
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                  | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.tree.header()
        header.setSectionResizeMode(self.COL_COLOR, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(self.COL_NAME, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(self.COL_COUNT, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(self.COL_STOCK, QHeaderView.ResizeMode.ResizeToContents)
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

        self.finish_button = QToolButton()
        self.finish_button.setObjectName("finishButton")
        self.finish_button.setText("Finishes…")
        self.finish_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.finish_button.setToolTip("Include speciality bead finishes (pearl, neon, glow, clear...): their "
                                      "colours are not owned by default")
        self.finish_menu = QMenu(self.finish_button)
        self.finish_button.setMenu(self.finish_menu)
        self.finish_actions: dict[str, QAction] = {}
        self.stock_button = QToolButton()
        self.stock_button.setObjectName("stockButton")
        self.stock_button.setText("Stock…")
        self.stock_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        stock_menu = QMenu(self.stock_button)
        stock_menu.addAction("Import stock CSV…", self._import_stock_dialog)
        stock_menu.addAction("Export stock CSV…", self._export_stock_dialog)
        stock_menu.addAction("Clear stock counts", lambda: self.set_stock({}))
        self.stock_button.setMenu(stock_menu)
        self.set_combo = QComboBox()
        self.set_combo.setObjectName("legoSetCombo")
        self.set_combo.setToolTip("Fill the stock column with the pieces of a LEGO Art set you own")
        self.set_button = QPushButton("Use set")
        self.set_button.setToolTip("Own exactly the set's colours, with its piece counts as stock")
        stock_row = QHBoxLayout()
        stock_row.addWidget(self.finish_button)
        stock_row.addWidget(self.stock_button)
        stock_row.addWidget(self.set_combo, 1)
        stock_row.addWidget(self.set_button)
        stock_row.addStretch()  # buttons stay left when the set picker is hidden (bead palettes)

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
        layout.addLayout(stock_row)
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
        self.set_button.clicked.connect(lambda: self.use_set(self.set_combo.currentData()))
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
        key = palette_settings_key(palette, source)
        project = source == PROJECT_KEY
        self._finishes = [] if project else [f for f in settings.included_finishes(key) if f in palette.finishes]
        owned = None if project else settings.owned_codes(key)
        if owned is None:
            owned = palette.codes if project else self.default_owned_codes()
        owned_set = set(owned)
        self._stock = {} if project else self._load_stock(key)
        self._fill_finish_menu()
        self._fill_set_combo()
        self._loading = True
        self.tree.clear()
        self._items = []
        for i, c in enumerate(palette.colors):
            tag = f" [{c.finish}]" if c.finish != "solid" else ""
            item = QTreeWidgetItem([c.code, c.name + tag, "", self._stock_text(c.code)])
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            item.setIcon(self.COL_COLOR, swatch_icon(c.rgb))
            item.setData(0, Qt.UserRole, i)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            checked = c.code in owned_set
            item.setCheckState(self.COL_COLOR, Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            tip = f"{c.code} {c.name} {c.hex}" + (f" ({c.finish})" if getattr(c, "finish", "solid") != "solid" else "")
            for col in (self.COL_COLOR, self.COL_NAME, self.COL_COUNT, self.COL_STOCK):
                item.setToolTip(col, tip)
            self._items.append(item)
        self.tree.addTopLevelItems(self._items)
        self._loading = False
        self._counts = {}
        self._other_pattern = None
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
        if self._loading:
            return
        if column == 0:
            self._save_owned()
        elif column == self.COL_STOCK and self._palette is not None:
            code = self._palette[int(item.data(0, Qt.UserRole))].code
            text = item.text(self.COL_STOCK).strip()
            if not text:
                self._stock.pop(code, None)
            elif text.isdigit():
                self._stock[code] = int(text)
            self._loading = True
            item.setText(self.COL_STOCK, self._stock_text(code))  # anything else reverts to the stored count
            self._loading = False
            self._save_stock()

    def _save_owned(self) -> None:
        if self._palette is None or self._source == PROJECT_KEY:
            self._update_summary()
            return
        idx = self.owned_indices()
        key = palette_settings_key(self._palette, self._source)
        codes = [self._palette[i].code for i in idx]
        settings.set_owned_codes(key, None if codes == self.default_owned_codes() else codes)
        self._update_summary()
        self.ownedChanged.emit()

    # ------------------------------------------------------------ finishes
    def default_owned_codes(self) -> list[str]:
        """Codes owned when the user never chose: the colours of solid + the included finishes."""
        if self._palette is None:
            return []
        keep = set(DEFAULT_FINISHES) | set(self._finishes)
        return [c.code for c in self._palette.colors if c.finish in keep]

    def included_finishes(self) -> list[str]:
        """The speciality finishes included for this palette (solid is always included)."""
        return list(self._finishes)

    def _fill_finish_menu(self) -> None:
        self.finish_menu.clear()
        self.finish_actions = {}
        palette = self._palette
        special = [f for f in (palette.finishes if palette else ()) if f not in DEFAULT_FINISHES]
        for f in special:
            n = sum(c.finish == f for c in palette.colors)
            act = self.finish_menu.addAction(f"{f} ({n})")
            act.setCheckable(True)
            act.setChecked(f in self._finishes)
            act.toggled.connect(lambda on, f=f: self.set_finish_included(f, on))
            self.finish_actions[f] = act
        self.finish_button.setVisible(bool(special))
        label = ", ".join(self._finishes) if self._finishes else "solid only"
        self.finish_button.setText(f"Finishes: {label}")

    def set_finish_included(self, finish: str, on: bool) -> None:
        """Include (own every colour of) or leave out (own none of) one speciality finish, and remember it."""
        if self._palette is None or finish not in self._palette.finishes or finish in DEFAULT_FINISHES:
            return
        if (finish in self._finishes) == on:
            return
        self._finishes = [f for f in FINISHES if f in set(self._finishes) ^ {finish}]
        if self._source != PROJECT_KEY:
            settings.set_included_finishes(palette_settings_key(self._palette, self._source), self._finishes)
        act = self.finish_actions.get(finish)
        if act is not None and act.isChecked() != on:
            act.blockSignals(True)
            act.setChecked(on)
            act.blockSignals(False)
        owned = set(self._palette[i].code for i in self.owned_indices())
        codes = {c.code for c in self._palette.colors if c.finish == finish}
        owned = owned | codes if on else owned - codes
        self.finish_button.setText("Finishes: " + (", ".join(self._finishes) or "solid only"))
        self.set_owned([c for c in self._palette.codes if c in owned])

    # ------------------------------------------------------------ stock (stash)
    def _stock_text(self, code: str) -> str:
        n = self._stock.get(code)
        return "" if n is None else str(n)

    def _load_stock(self, key: str) -> dict[str, int]:
        text = settings.stash_text(key)
        if not text.strip():
            return {}
        try:
            return parse_stash(text, self._palette, "saved stock")
        except StashError as exc:  # a palette file changed since: keep what still fits, say what was dropped
            log.warning("saved stock for %s ignored: %s", key, exc)
            return {}

    def _save_stock(self) -> None:
        if self._palette is not None and self._source != PROJECT_KEY:
            key = palette_settings_key(self._palette, self._source)
            settings.set_stash_text(key, format_stash(self._stock) if self._stock else "")
        self._update_summary()
        self.stockChanged.emit()

    def stock(self) -> dict[str, int]:
        """The "In stock" counts ``{code: count}`` (tracked colours only, palette order)."""
        if self._palette is None:
            return {}
        return {c: self._stock[c] for c in self._palette.codes if c in self._stock}

    def set_stock(self, stock: dict[str, int]) -> None:
        """Replace every "In stock" count (codes as in the palette; others are ignored) and remember them."""
        codes = set(self._palette.codes) if self._palette is not None else set()
        self._stock = {c: int(n) for c, n in stock.items() if c in codes}
        self._loading = True
        for item, c in zip(self._items, self._palette.colors if self._palette else ()):
            item.setText(self.COL_STOCK, self._stock_text(c.code))
        self._loading = False
        self._save_stock()

    def import_stock(self, path: str | Path) -> dict[str, int]:
        """Read a ``code,count`` CSV into the stock column (raises StashError with a one-line reason)."""
        if self._palette is None:
            raise StashError("choose a palette first")
        stock = read_stash(path, self._palette)
        self.set_stock(stock)
        return stock

    def export_stock(self, path: str | Path) -> Path:
        """Write the stock column as a ``code,count`` CSV (atomic write)."""
        path = Path(path)
        atomic_write_text(path, format_stash(self.stock()))
        return path

    def _import_stock_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import stock", "", "Stock CSV (*.csv *.txt);;All files (*)")
        if path:
            try:
                self.import_stock(path)
            except StashError as exc:
                self.stockError.emit("Cannot import stock", str(exc))

    def _export_stock_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export stock", "stock.csv", "Stock CSV (*.csv)")
        if path:
            try:
                self.export_stock(path)
            except OSError as exc:
                self.stockError.emit("Cannot export stock", str(exc))

    def _fill_set_combo(self) -> None:
        bricks = self._palette is not None and self._palette.medium.kind == "brick"
        self.set_combo.setVisible(bricks)
        self.set_button.setVisible(bricks)
        if not bricks or self.set_combo.count():
            return
        for s in lego_sets():
            self.set_combo.addItem(s.name if s.number in s.name else f"{s.name} ({s.number})", s.key)
            self.set_combo.setItemData(self.set_combo.count() - 1, f"{s.name}: {s.total} pieces in "
                                       f"{len(s.pieces)} colours", Qt.ItemDataRole.ToolTipRole)

    def use_set(self, key: str) -> str:
        """Own exactly the colours of LEGO Art set ``key`` with its piece counts as stock; returns a summary line.

        Colours of the set this palette lacks are named in the summary (they cannot be used)."""
        if self._palette is None or not key:
            return ""
        try:
            lego_set = load_set(key)
            _pal, stash = set_palette(lego_set, self._palette)
        except StashError as exc:
            self.stockError.emit("Cannot use the set", str(exc))
            return ""
        known = set(self._palette.codes)
        missing = [c for c in stash if c not in known]
        self.set_owned([c for c in self._palette.codes if stash.get(c, 0) > 0])
        self.set_stock({c: n for c, n in stash.items() if c in known})
        line = f"set {lego_set.number} {lego_set.name}: {lego_set.total} pieces in {len(stash)} colours"
        if missing:
            line += f"; not in this palette: {', '.join(missing)}"
        self.setStatusTip(line)
        self.summary.setText(self.summary.text() + "\n" + line)
        return line

    def convert_options(self, cells: int) -> dict:
        """ConvertConfig fields for a conversion with ``owned_palette()``: ``finishes`` and ``stash``.

        The owned ticks already say which finishes are in (like the CLI's ``--owned``, which converts with every
        finish of the named codes), so ``finishes`` is all of them. With any stock count, ``stash`` maps each
        owned code to its count; an owned colour without a count (not tracked) gets ``cells`` = no limit.
        """
        opts: dict = {"finishes": FINISHES}
        if self._palette is None:
            return opts
        owned = [self._palette[i].code for i in self.owned_indices()]
        if any(c in self._stock for c in owned):
            opts["stash"] = {c: self._stock.get(c, cells) for c in owned}
        return opts

    # ------------------------------------------------------------ counts, filter, highlight
    def set_counts(self, pattern: Pattern | None) -> None:
        """Show per-colour counts of ``pattern`` (matched by colour code). A pattern in another palette than the
        one shown (the user switched palettes) counts nothing here: the Used column stays blank and the summary
        says why."""
        self._counts = {}
        self._other_pattern = None
        if pattern is not None and self._palette is not None and not same_palette(pattern.palette, self._palette):
            self._other_pattern = pattern
        elif pattern is not None and self._palette is not None:
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
        self.countsChanged.emit()

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
        parts = [f"{owned} of {len(self._palette)} colours owned" + self._left_out_text()]
        if self._stock:
            parts.append(f"{sum(self._stock.values()):,} pieces in stock in {len(self._stock)} colours")
        other = self._other_pattern
        if other is not None:
            parts.append(f"Used is blank: the pattern on screen uses {other.palette.name} "
                         f"({len(other.used_indices())} colours, {other.filled_cells} cells); "
                         f"Start makes a new pattern in {self._palette.name}")
        elif used:
            parts.append(f"pattern uses {used} colours, {total} cells")
        self.summary.setText("; ".join(parts))

    def _left_out_text(self) -> str:
        """Why colours are not owned by default: " (neon left out by default: Finishes)", or ""."""
        if self._palette is None or self._source == PROJECT_KEY:
            return ""
        owned = {self._palette[i].code for i in self.owned_indices()}
        left = [f for f in self._palette.finishes if f not in DEFAULT_FINISHES and f not in self._finishes
                and any(c.finish == f and c.code not in owned for c in self._palette.colors)]
        if not left:
            return ""
        n = sum(c.finish in left and c.code not in owned for c in self._palette.colors)
        return (f" ({n} {' and '.join(left)} colour{'s' if n != 1 else ''} left out by default: "
                "include them with Finishes)")

    def other_pattern(self) -> Pattern | None:
        """The pattern whose palette is not the one shown (set by ``set_counts``), else None."""
        return self._other_pattern

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


def same_palette(a: Palette, b: Palette) -> bool:
    """True when ``a`` and ``b`` are the same palette: same key (shipped) or same name, and every colour code of
    the smaller one is in the other (an owned subset of a palette is that palette)."""
    if (a.key != b.key) if (a.key or b.key) else (a.name != b.name):
        return False
    small, big = (a, b) if len(a) <= len(b) else (b, a)
    return set(small.codes) <= set(big.codes)
