"""Palette picker: bead finishes (not owned by default, included on request), the "In stock" column (edited,
saved, imported/exported, passed to the converter as a stash) and the LEGO Art set picker. Real window."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from engine.convert.stash import load_set, read_stash, set_palette
from engine.core.palette import FINISHES
from engine.core.palette_io import load_palette
from tests.gui_support import make_window, type_size


def _convert(window, qtbot, width=30, height=20, expect="finished"):
    panel = window.input_panel
    type_size(panel, width, height)
    panel.set_mode("fast")
    with qtbot.waitSignal(window.runEnded, timeout=60000) as blocker:
        assert window.start_run(), window.dialogs.errors
    assert blocker.args == [expect], window.dialogs.errors
    qtbot.waitUntil(lambda: not window.runner.is_running(), timeout=5000)


def _code_grid(pattern) -> np.ndarray:
    """Colour code per cell ('' for empty cells)."""
    grid = np.asarray(pattern.palette.codes, dtype=object)[pattern.index]
    if pattern.empty is not None:
        grid[pattern.empty] = ""
    return grid


def _used_codes(pattern) -> set[str]:
    return {pattern.palette[i].code for i in pattern.used_indices()}


def test_speciality_finishes_not_owned_by_default_and_shown(window):
    panel = window.palette_panel
    assert panel.select_palette("hama")
    pal = panel.palette()
    special = [c for c in pal.colors if c.finish != "solid"]
    assert special, "hama ships pearl/neon/glow... beads"
    owned = set(panel.owned_palette().codes)
    assert owned == {c.code for c in pal.colors if c.finish == "solid"}
    for i, c in enumerate(pal.colors):
        item = panel._items[i]
        assert (item.checkState(0) == Qt.CheckState.Checked) == (c.finish == "solid")
        if c.finish != "solid":
            assert f"[{c.finish}]" in item.text(panel.COL_NAME) and c.finish in item.toolTip(panel.COL_NAME)
    # the finish menu lists the palette's speciality finishes, none ticked
    assert set(panel.finish_actions) == set(pal.finishes) - {"solid"}
    assert not any(a.isChecked() for a in panel.finish_actions.values())
    # a palette without speciality finishes hides the control
    assert panel.select_palette("lego")
    assert not panel.finish_button.isVisibleTo(panel) and not panel.finish_actions


def test_including_a_finish_owns_its_colours_and_persists(qtbot, monkeypatch):
    w, _ = make_window(qtbot, monkeypatch)
    panel = w.palette_panel
    assert panel.select_palette("hama")
    pal = panel.palette()
    pearl = {c.code for c in pal.colors if c.finish == "pearl"}
    panel.finish_actions["pearl"].trigger()
    assert panel.included_finishes() == ["pearl"]
    assert set(panel.owned_palette().codes) == {c.code for c in pal.colors if c.finish in ("solid", "pearl")}
    w.close()
    w2, _ = make_window(qtbot, monkeypatch)
    panel = w2.palette_panel
    assert panel.palette().key == "hama" and panel.finish_actions["pearl"].isChecked()
    assert pearl <= set(panel.owned_palette().codes)
    panel.finish_actions["pearl"].trigger()  # leaving it out again unticks the pearl colours
    assert not pearl & set(panel.owned_palette().codes)
    w2.close()


def test_converted_pattern_uses_no_speciality_colour_by_default(window, qtbot, sample_image_path):
    """Chelsea on Hama picked 494 translucent/glow beads before finishes were left out by default."""
    assert window.load_image_file(sample_image_path)
    panel = window.palette_panel
    assert panel.select_palette("hama")
    _convert(window, qtbot, 40, 26)
    pal = panel.palette()
    used = _used_codes(window.doc.pattern)
    assert used and all(pal[pal.index_of(c)].finish == "solid" for c in used)
    # the GUI pattern equals the engine's (= the CLI's) default conversion with the whole palette
    from engine.convert.pipeline import ConvertConfig, convert_image

    js = window.input_panel.job_settings()
    assert js.fast["max_colors"] == panel.max_colors_value()  # the panel's colour budget carries "at most" (gui-b)
    ref = convert_image(window.source_image, load_palette("hama"), ConvertConfig(width=40, height=26, **js.fast))
    got = window.doc.pattern
    np.testing.assert_array_equal(_code_grid(got), _code_grid(ref))
    # including every finish in the GUI lets the converter take the translucent brown H25 for the fur
    for action in panel.finish_actions.values():
        action.trigger()
    _convert(window, qtbot, 40, 26)
    assert "H25" in _used_codes(window.doc.pattern)


def test_included_finish_reaches_the_converter(window, qtbot, sample_image_path):
    assert window.load_image_file(sample_image_path)
    panel = window.palette_panel
    assert panel.select_palette("hama")
    pal = panel.palette()
    panel.finish_actions["pearl"].trigger()
    pearl = [c.code for c in pal.colors if c.finish == "pearl"]
    panel.set_owned(pearl)  # only pearl beads owned: the converter must use them, not refuse or fall back
    assert panel.convert_options(100)["finishes"] == FINISHES
    _convert(window, qtbot, 20, 14)
    assert _used_codes(window.doc.pattern) <= set(pearl) and _used_codes(window.doc.pattern)


def test_stock_edits_persist_validate_and_round_trip_csv(qtbot, monkeypatch, tmp_path):
    w, _ = make_window(qtbot, monkeypatch)
    panel = w.palette_panel
    assert panel.select_palette("perler")
    pal = panel.palette()
    a, b = pal.codes[0], pal.codes[3]
    panel._items[0].setText(panel.COL_STOCK, "120")
    panel._items[3].setText(panel.COL_STOCK, "0")
    panel._items[5].setText(panel.COL_STOCK, "lots")  # not a count: reverts to "not tracked"
    assert panel.stock() == {a: 120, b: 0}
    assert panel._items[5].text(panel.COL_STOCK) == ""
    out = panel.export_stock(tmp_path / "stock.csv")
    assert read_stash(out, pal) == {a: 120, b: 0}
    w.close()
    w2, _ = make_window(qtbot, monkeypatch)
    panel = w2.palette_panel
    assert panel.palette().key == "perler" and panel.stock() == {a: 120, b: 0}
    assert panel._items[0].text(panel.COL_STOCK) == "120"
    # import replaces the column; a bad file is refused with its line number and the column is kept
    (tmp_path / "in.csv").write_text(f"code,count\n{pal.codes[7]},55\n{pal.codes[7]},5\n", encoding="utf-8")
    panel.import_stock(tmp_path / "in.csv")
    assert panel.stock() == {pal.codes[7]: 60}
    (tmp_path / "bad.csv").write_text("code,count\nNOPE,3\n", encoding="utf-8")
    from engine.convert.stash import StashError

    with pytest.raises(StashError, match="line 2"):
        panel.import_stock(tmp_path / "bad.csv")
    assert panel.stock() == {pal.codes[7]: 60}
    w2.close()


def test_stock_limits_the_conversion_and_a_short_stash_is_refused(window, qtbot, sample_image_path):
    assert window.load_image_file(sample_image_path)
    panel = window.palette_panel
    assert panel.select_palette("perler")
    _convert(window, qtbot, 30, 20)
    first = window.doc.pattern
    counts = {c.code: n for _i, c, n in first.color_counts()}
    top, n_top = max(counts.items(), key=lambda kv: kv[1])
    # one colour tracked at half what it was used: the others are not tracked (no limit)
    panel.set_stock({top: n_top // 2})
    opts = panel.convert_options(600)
    assert opts["stash"][top] == n_top // 2 and set(opts["stash"]) == set(panel.owned_palette().codes)
    _convert(window, qtbot, 30, 20)
    second = {c.code: n for _i, c, n in window.doc.pattern.color_counts()}
    assert second.get(top, 0) <= n_top // 2
    kept = window.doc.pattern
    # every owned colour tracked with 1 piece: 600 cells cannot be made -> error dialog, the pattern is kept
    panel.set_stock({c: 1 for c in panel.owned_palette().codes})
    _convert(window, qtbot, 30, 20, expect="failed")
    title, message = window.dialogs.errors[-1]
    assert "short by" in message
    assert window.doc.pattern is kept


def test_lego_set_picker_fills_stock_and_owned(window, qtbot):
    panel = window.palette_panel
    assert panel.select_palette("lego")
    assert panel.set_combo.isVisibleTo(panel) and panel.set_combo.findData("mickey_mouse") >= 0
    panel.set_combo.setCurrentIndex(panel.set_combo.findData("mickey_mouse"))
    qtbot.mouseClick(panel.set_button, Qt.MouseButton.LeftButton)
    _pal, stash = set_palette(load_set("mickey_mouse"), load_palette("lego"))
    assert panel.stock() == stash and sum(stash.values()) == load_set("mickey_mouse").total
    assert set(panel.owned_palette().codes) == set(stash)
    # a set with a colour the palette lacks says so
    line = panel.use_set("iron_man")
    assert "not in this palette: BL115" in line
    # bead palettes have no set picker
    assert panel.select_palette("hama")
    assert not panel.set_combo.isVisibleTo(panel)


def test_lego_set_stock_reaches_the_converter(window, qtbot, sample_image_path):
    assert window.load_image_file(sample_image_path)
    panel = window.palette_panel
    assert panel.select_palette("lego")
    panel.use_set("floral_art")
    stash = panel.stock()
    _convert(window, qtbot, 48, 32)
    counts = {c.code: n for _i, c, n in window.doc.pattern.color_counts()}
    assert set(counts) <= set(stash)
    assert all(n <= stash[c] for c, n in counts.items())
    assert np.sum([n for n in counts.values()]) == window.doc.pattern.filled_cells
