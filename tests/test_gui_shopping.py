"""Shopping list dock: its numbers equal exporters.common.shopping and the exported counts CSV / bead chart
legend read back from the files; live refresh on edits and stock changes; CSV export read back."""

from __future__ import annotations

import csv

from pypdf import PdfReader
from PySide6.QtCore import Qt

from exporters.common.shopping import SpareRule, coverage, shopping_list


def _panel_rows(panel) -> list[list[str]]:
    tree = panel.tree
    return [[tree.topLevelItem(r).text(c) for c in range(tree.columnCount())] for r in range(tree.topLevelItemCount())]


def _setup(window, small_pattern, tmp_path, percent=5.0, minimum=2, bag=100):
    """Open ``small_pattern`` as a project (Perler) and set the shopping options."""
    path = tmp_path / "start.pixl"
    small_pattern.save(path)
    assert window.open_project(path)
    assert window.palette_panel.palette().key == "perler"
    sp = window.shopping_panel
    sp.spares_percent.setValue(percent)
    sp.spares_min.setValue(minimum)
    sp.bag_size.setValue(bag)
    return sp


def test_dock_is_tabbed_with_the_palette_and_in_the_view_menu(window):
    assert window.shopping_dock in window.tabifiedDockWidgets(window.palette_dock)
    view = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    assert window.shopping_dock.toggleViewAction() in view.actions()


def test_numbers_equal_shopping_list_and_counts_csv(window, small_pattern, tmp_path):
    sp = _setup(window, small_pattern, tmp_path)
    pal = window.palette_panel.palette()
    counts = [(c.code, c.name, n) for _i, c, n in small_pattern.color_counts()]
    top = counts[0][0]
    # own exactly the counted colours: the pattern's other colours are to buy (an owned colour without a count
    # would be "owned, amount unknown", which the counts CSV, given only the counts, cannot know)
    window.palette_panel.set_owned([top, pal.codes[60]])
    window.palette_panel.set_stock({top: 10, pal.codes[60]: 500})  # a colour the pattern does not use too
    stash = {top: 10, pal.codes[60]: 500}
    expected = shopping_list(counts, SpareRule(5.0, 2), 100, stash)
    assert sp.lines == expected
    rows = _panel_rows(sp)
    assert [r[0] for r in rows] == [ln.code for ln in expected]
    for r, ln in zip(rows, expected):
        assert [int(v) for v in (r[2], r[3], r[4], r[5], r[6], r[7], r[8])] == \
            [ln.needed, ln.spares, ln.total, ln.owned, ln.to_buy, ln.packs, ln.shortfall]
    assert coverage(expected).describe() in sp.summary.text()
    # the counts CSV exporter, through the window's export path, with the same options, read back
    stash_file = tmp_path / "stash.csv"
    window.palette_panel.export_stock(stash_file)
    out = tmp_path / "counts.csv"
    assert window.export_to("counts-csv", out, spares=5.0, spares_min=2, bag_size=100, stash=str(stash_file))
    with out.open(encoding="utf-8") as fh:
        exported = list(csv.DictReader(fh))
    assert len(exported) == len(rows)
    for r, e in zip(rows, exported):
        assert e["name"] == r[1]
        assert (int(e["count"]), int(e["spares"]), int(e["owned"]), int(e["to buy"]), int(e["bags"])) == \
            (int(r[2]), int(r[3]), int(r[5]), int(r[6]), int(r[7]))


def test_numbers_equal_the_bead_chart_legend(window, small_pattern, tmp_path):
    sp = _setup(window, small_pattern, tmp_path, percent=10.0, minimum=3, bag=50)
    out = tmp_path / "chart.pdf"
    assert window.export_to("bead-pdf", out, spares=10.0, spares_min=3, bag_size=50)
    words = PdfReader(str(out)).pages[-1].extract_text().splitlines()
    assert "Bags of 50" in words
    for ln in sp.lines:  # each legend row: code, name, count, spares, to buy (no stash in the chart), bags
        k = words.index(ln.code)
        assert words[k + 1] == ln.name
        numbers = [int(v.replace(",", "")) for v in words[k + 2:k + 6]]
        assert numbers == [ln.needed, ln.spares, ln.total, ln.packs]
    assert sum(ln.total for ln in sp.lines) == int(words[words.index(f"Total: {len(sp.lines)} colours") + 3])


def test_list_follows_edits_stock_and_options(window, qtbot, small_pattern, tmp_path):
    sp = _setup(window, small_pattern, tmp_path, percent=0.0, minimum=0, bag=0)
    assert sp.lines == shopping_list([(c.code, c.name, n) for _i, c, n in small_pattern.color_counts()])
    needed = {ln.code: ln.needed for ln in sp.lines}
    # paint one cell with a new colour: the list follows at once (pencil release)
    window.set_tool("pencil")
    new = 40
    code = window.doc.pattern.palette[new].code
    window.edit.set_color(new)
    qtbot.mouseClick(window.canvas, Qt.MouseButton.LeftButton, pos=window.canvas.cell_center(3, 3).toPoint())
    qtbot.waitUntil(lambda: code in {ln.code for ln in sp.lines}, timeout=3000)
    assert sum(ln.needed for ln in sp.lines) == sum(needed.values())
    # the stock column and the bag size feed it too
    window.palette_panel.set_stock({code: 7})
    line = next(ln for ln in sp.lines if ln.code == code)
    assert line.owned == 7 and line.to_buy == 0 and line.covered
    sp.bag_size.setValue(3)
    assert all(ln.packs == -(-ln.to_buy // 3) for ln in sp.lines)
    # undo the stroke: the new colour leaves the list again
    window.doc.undo_stack.undo()
    assert code not in {ln.code for ln in sp.lines}
    assert {ln.code: ln.needed for ln in sp.lines} == needed


def test_csv_export_is_read_back(window, small_pattern, tmp_path):
    sp = _setup(window, small_pattern, tmp_path, percent=5.0, minimum=1, bag=25)
    out = sp.export_csv(tmp_path / "list.csv")
    with out.open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["code", "name", "needed", "spares", "total", "owned", "to buy", "bags", "shortfall"]
    assert rows[1:] == [[str(v) for v in sp.row(ln)] for ln in sp.lines]
    assert [r[0] for r in rows[1:]] == [c.code for _i, c, _n in small_pattern.color_counts()]
    assert sum(int(r[2]) for r in rows[1:]) == small_pattern.filled_cells
    # the options are remembered
    from app.gui.shopping_panel import ShoppingPanel

    again = ShoppingPanel()
    assert (again.spares_percent.value(), again.spares_min.value(), again.bag_size.value()) == (5.0, 1, 25)


def test_ticked_colours_without_counts_are_owned_amount_unknown(window, small_pattern, tmp_path):
    sp = _setup(window, small_pattern, tmp_path, percent=0.0, minimum=0, bag=0)
    counts = small_pattern.color_counts()
    need = {c.code: n for _i, c, n in counts}
    owned, counted, bought = (c.code for _i, c, _n in counts[:3])
    pp = window.palette_panel
    pp.set_owned([owned, counted])
    pp.set_stock({counted: 5})
    rows = {r[0]: r for r in _panel_rows(sp)}
    # Own / Buy / Bags / Short: owned without a count claims nothing to buy; a count is subtracted; not owned = buy
    assert rows[owned][5:] == ["owned", "", "", ""]
    assert rows[counted][5:] == ["5", str(need[counted] - 5), "", str(need[counted] - 5)]
    assert rows[bought][5:] == ["0", str(need[bought]), "", str(need[bought])]
    assert "1 colour owned, amount unknown" in sp.summary.text()
    assert "your stash covers 0 of 3 colours" in sp.summary.text()  # the owned colour of unknown amount is apart
    # the CSV says it in words
    out = sp.export_csv(tmp_path / "list.csv")
    with out.open(encoding="utf-8") as fh:
        written = {r["code"]: r for r in csv.DictReader(fh)}
    assert written[owned]["owned"] == "owned, amount unknown" and written[owned]["to buy"] == ""
    assert written[bought]["to buy"] == str(need[bought])
    # untick it: now it is to buy
    pp.set_owned([counted])
    rows = {r[0]: r for r in _panel_rows(sp)}
    assert rows[owned][5:7] == ["0", str(need[owned])]
    assert "amount unknown" not in sp.summary.text()


def test_every_column_fits_the_dock_at_the_default_size(window, qtbot, small_pattern, tmp_path):
    """At 1600×1000 every column (Short included) lies inside the list's viewport, with no sideways scroll; the
    name is the column that gives way (elided, full name in the tooltip); big stock counts widen the dock."""
    window.resize(1600, 1000)
    sp = _setup(window, small_pattern, tmp_path)
    codes = [c.code for _i, c, _n in small_pattern.color_counts()]
    window.palette_panel.set_owned(codes[:3])
    window.palette_panel.set_stock({codes[1]: 123_456, codes[2]: 7})
    window.shopping_dock.raise_()
    qtbot.waitUntil(lambda: sp.tree.isVisible())
    tree, header = sp.tree, sp.tree.header()

    def fits() -> bool:
        right = max(header.sectionViewportPosition(c) + header.sectionSize(c) for c in range(header.count()))
        return right <= tree.viewport().width() and tree.horizontalScrollBar().maximum() == 0

    qtbot.waitUntil(fits, timeout=3000)
    assert header.sectionSize(header.count() - 1) >= header.sectionSizeHint(header.count() - 1)  # "Short" whole
    own = [r[5] for r in _panel_rows(sp)]
    assert "123456" in own
    assert header.sectionSize(5) >= tree.sizeHintForColumn(5)  # the big count is not cut either
    assert header.sectionSize(1) >= 24  # the name keeps some room
