"""Shopping list dock: per colour what the pattern needs, spares, what the stash covers and what to buy.

Every quantity comes from exporters.common.shopping (``shopping_list``, ``SpareRule``, ``coverage``), the module the
counts CSV, bead legends and parts lists use, so the numbers here equal the exported ones.
"""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui import settings
from app.gui.palette_panel import swatch_icon
from engine.core.atomic import atomic_write_text
from engine.core.pattern import Pattern
from exporters.common.shopping import Purchase, SpareRule, coverage, shopping_list

log = logging.getLogger(__name__)

COLUMNS = ("code", "name", "needed", "spares", "total", "owned", "to buy", "bags", "shortfall")
HEADERS = ("Code", "Name", "Need", "Spare", "Total", "Own", "Buy", "Bags", "Short")  # short: the dock is narrow
HEADER_TIPS = ("Colour code", "Colour name", "Pieces the pattern needs", "Spares (percent, at least the minimum)",
               "Needed + spares", "Pieces you own: the palette's In stock count; \"owned\" = ticked as owned, "
               "amount unknown", "Total less what you own (blank: owned, amount unknown)",
               "Bags/packs to buy (bag size)", "Pieces your stock lacks (blank: owned, amount unknown)")
OWNED_UNKNOWN = "owned, amount unknown"  # an owned colour without an In stock count (the CSV's words)
OWNED_SHORT = "owned"  # the same in the narrow Own column (the tooltip says the rest)
MIN_SECTION = 24  # px: the narrowest a column (the elided name) gets
NAME_MIN = 70  # px the name keeps before the panel widens (a short name or an elided long one)
FRAME = 16  # px of margins and frame around the list's viewport (4 + 4 margins, frame, a little slack)
MIN_WIDTH = 450


class ShoppingPanel(QWidget):
    """The shopping list of the current pattern. ``exportFailed(str)`` carries a one-line reason."""

    exportFailed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pattern: Pattern | None = None
        self._stash: dict[str, int] | None = None
        self._unknown: set[str] = set()  # owned colours without a stock count
        self._owned_known = False  # ticks or counts given for this pattern's palette
        self.lines: list[Purchase] = []

        self.spares_percent = QDoubleSpinBox()
        self.spares_percent.setObjectName("sparesPercent")
        self.spares_percent.setRange(0.0, 100.0)
        self.spares_percent.setDecimals(1)
        self.spares_percent.setSuffix(" %")
        self.spares_percent.setToolTip("Extra pieces per colour, in percent of the count (rounded up)")
        self.spares_min = QSpinBox()
        self.spares_min.setObjectName("sparesMin")
        self.spares_min.setRange(0, 10_000)
        self.spares_min.setToolTip("At least this many extra pieces per used colour")
        self.bag_size = QSpinBox()
        self.bag_size.setObjectName("bagSize")
        self.bag_size.setRange(0, 100_000)
        self.bag_size.setSpecialValueText("none")
        self.bag_size.setToolTip("Pieces per bag/pack: the list rounds what to buy up to whole bags (none = loose)")
        form = QFormLayout()
        row = QHBoxLayout()
        row.addWidget(self.spares_percent)
        row.addWidget(QLabel("at least"))
        row.addWidget(self.spares_min)
        form.addRow("Spares", row)
        form.addRow("Bag size", self.bag_size)

        self.tree = QTreeWidget()
        self.tree.setObjectName("shoppingList")
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(HEADERS))
        for col, tip in enumerate(HEADER_TIPS):
            self.tree.headerItem().setToolTip(col, tip)
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        header = self.tree.header()
        # numbers and codes as wide as their contents; the name takes what is left (elided, full name in the
        # tooltip), so every column fits the dock's width without a sideways scroll
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMNS.index("name"), QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(MIN_SECTION)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideRight)
        header.setStretchLastSection(False)
        self.summary = QLabel()
        self.summary.setObjectName("shoppingSummary")
        self.summary.setWordWrap(True)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setToolTip("Write this list as a CSV file (one row per colour)")

        self.setMinimumWidth(MIN_WIDTH)  # every column visible; the tabbed palette dock widens with it

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(form)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.summary)
        layout.addWidget(self.export_button)

        self.spares_percent.setValue(settings.value("shopping/sparesPercent", 0.0, float) or 0.0)
        self.spares_min.setValue(settings.value("shopping/sparesMin", 0, int) or 0)
        self.bag_size.setValue(settings.value("shopping/bagSize", 0, int) or 0)
        self.spares_percent.valueChanged.connect(lambda v: self._option_changed("shopping/sparesPercent", v))
        self.spares_min.valueChanged.connect(lambda v: self._option_changed("shopping/sparesMin", v))
        self.bag_size.valueChanged.connect(lambda v: self._option_changed("shopping/bagSize", v))
        self.export_button.clicked.connect(self._export_dialog)

    # ------------------------------------------------------------ options
    def rule(self) -> SpareRule:
        """The spares rule of the controls."""
        return SpareRule(float(self.spares_percent.value()), int(self.spares_min.value()))

    def pack_size(self) -> int | None:
        """Pieces per bag, None for loose pieces."""
        return int(self.bag_size.value()) or None

    def _option_changed(self, key: str, value) -> None:
        settings.set_value(key, value)
        self.refresh()

    # ------------------------------------------------------------ data
    def set_data(self, pattern: Pattern | None, stash: dict[str, int] | None,
                 owned: set[str] | list[str] | None = None) -> None:
        """Show the list for ``pattern`` with ``stash`` {code: pieces owned} (None: no stock tracked) and the
        ``owned`` colour codes (ticked as owned). An owned colour without a stash count is "owned, amount
        unknown": nothing to buy is claimed for it."""
        self._pattern, self._stash = pattern, (dict(stash) if stash else None)
        self._unknown = set(owned or ()) - set(self._stash or {})
        self._owned_known = owned is not None or self._stash is not None
        self.refresh()

    def owned_unknown(self, line: Purchase) -> bool:
        """True for a colour ticked as owned without a stock count."""
        return line.code in self._unknown

    def counts(self) -> list[tuple[str, str, int]]:
        """(code, name, needed) per used colour, most used first (the exporters' order)."""
        if self._pattern is None:
            return []
        return [(c.code, c.name, n) for _i, c, n in self._pattern.color_counts()]

    def refresh(self) -> None:
        """Recompute the lines through exporters.common.shopping and show them."""
        counts = self.counts()
        self.lines = shopping_list(counts, self.rule(), self.pack_size(), self._stash)
        colors = {}
        if self._pattern is not None:
            colors = {c.code: c for _i, c, _n in self._pattern.color_counts()}
        self.tree.setUpdatesEnabled(False)
        self.tree.clear()
        items = []
        for line in self.lines:
            row = self.row(line)
            if self.owned_unknown(line):
                row[COLUMNS.index("owned")] = OWNED_SHORT
            item = QTreeWidgetItem([str(v) for v in row])
            tip = f"{line.code} {line.name}: " + ", ".join(f"{h} {v}" for h, v in zip(COLUMNS[2:], self.row(line)[2:])
                                                               if v != "")
            for col in range(len(COLUMNS)):
                item.setToolTip(col, tip)
            color = colors.get(line.code)
            if color is not None:
                item.setIcon(0, swatch_icon(color.rgb))
            for col in range(2, len(COLUMNS)):
                item.setTextAlignment(col, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            items.append(item)
        self.tree.addTopLevelItems(items)
        self.tree.setUpdatesEnabled(True)
        self.summary.setText(self.describe())
        self._fit_columns()

    def columns_width(self) -> int:
        """Pixels every column needs side by side: the numbers and codes at their contents' width, the name at
        ``NAME_MIN`` (it is elided beyond)."""
        header, name = self.tree.header(), COLUMNS.index("name")
        return sum(NAME_MIN if c == name else max(header.sectionSizeHint(c), self.tree.sizeHintForColumn(c))
                   for c in range(len(COLUMNS)))

    def _fit_columns(self) -> None:
        """Widen the panel (and so its dock) when big numbers need more room than ``MIN_WIDTH``."""
        bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)  # room for a vertical scroll bar
        self.setMinimumWidth(max(MIN_WIDTH, self.columns_width() + FRAME + bar))

    def row(self, line: Purchase) -> list:
        """One list/CSV row: code, name, needed, spares, total, owned, to buy, bags, shortfall. Owned: the stock
        count, "owned, amount unknown" (then to buy, bags and shortfall are blank), 0 (not owned), or blank when
        neither ticks nor counts were given for the pattern's palette."""
        if self.owned_unknown(line):
            return [line.code, line.name, line.needed, line.spares, line.total, OWNED_UNKNOWN, "", "", ""]
        bags = line.packs if line.packs is not None else ""
        owned = line.owned if self._owned_known else ""  # blank: what you own is not known for this pattern
        return [line.code, line.name, line.needed, line.spares, line.total, owned, line.to_buy, bags,
                line.shortfall]

    def describe(self) -> str:
        """One summary line: pieces, spares rule, bags, what the stock covers, owned colours of unknown amount."""
        if not self.lines:
            return "No pattern yet: convert a picture to see what to buy."
        total = sum(ln.total for ln in self.lines)
        parts = [f"{len(self.lines)} colours, {total:,} pieces ({self.rule().describe()})"]
        known = [ln for ln in self.lines if not self.owned_unknown(ln)]
        unknown = len(self.lines) - len(known)
        if self.pack_size():
            parts.append(f"{sum(ln.packs or 0 for ln in known)} bags of {self.pack_size()}")
        if self._stash is not None and known:
            parts.append(coverage(known).describe())
        elif known:
            buy = sum(ln.to_buy for ln in known)
            parts.append(f"buy {len(known)} colour{'s' if len(known) != 1 else ''}: {buy:,} pieces")
        if unknown:
            parts.append(f"{unknown} colour{'s' if unknown != 1 else ''} owned, amount unknown (give counts in the "
                         "palette's In stock column to see what to buy)")
        return "; ".join(parts)

    # ------------------------------------------------------------ CSV
    def csv_text(self) -> str:
        """The list as CSV text with a header row."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(COLUMNS)
        for line in self.lines:
            w.writerow(self.row(line))
        return buf.getvalue()

    def export_csv(self, path: str | Path) -> Path:
        """Write the list as CSV (atomic write: an old file is replaced only by a complete new one)."""
        path = Path(path)
        atomic_write_text(path, self.csv_text())
        log.info("wrote shopping list %s", path)
        return path

    def _export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export shopping list", "shopping-list.csv", "CSV (*.csv)")
        if path:
            try:
                self.export_csv(path)
            except OSError as exc:
                self.exportFailed.emit(f"cannot write {path}: {exc.strerror or exc}")
