"""Fast-converter options on the input panel, through the real window: intent, colour budget, minimum count per
colour, "Auto (pixel grid)" size; the quick preview follows the budget."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from app.gui.input_panel import BUDGET_ALL, BUDGET_MAX, INTENT_WORDS
from tests.gui_support import type_size


def _run(window, qtbot):
    with qtbot.waitSignal(window.runEnded, timeout=60000) as blocker:
        qtbot.mouseClick(window.input_panel.start_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["finished"], window.dialogs.errors
    qtbot.waitUntil(lambda: not window.runner.is_running(), timeout=5000)
    return window.doc.pattern


def _setup(window, picture, width=40, height=30):
    assert window.load_image_file(picture)
    assert window.palette_panel.select_palette("perler")
    window._warm_up_engine()  # normally right after the first paint; fills the engine's intent list
    panel = window.input_panel
    panel.set_mode("fast")
    type_size(panel, width, height)
    return panel


def _counts(pattern) -> dict[int, int]:
    idx = pattern.index[~pattern.empty_mask]
    values, counts = np.unique(idx, return_counts=True)
    return dict(zip(values.tolist(), counts.tolist()))


def test_defaults_match_the_cli(window):
    """Untouched, the panel asks for exactly what `pixl convert` does without flags."""
    from app.cli.convert_cmd import register

    window._warm_up_engine()
    sub = argparse.ArgumentParser().add_subparsers()
    register(sub)
    parser = sub.choices["convert"]
    cli = {a.dest: a.default for a in parser._actions}
    fast = window.input_panel.job_settings().fast
    assert fast["intent"] == cli["intent"] == "auto"
    assert fast["max_colors"] is cli["max_colors"] is None
    assert fast["all_colors"] is cli["all_colors"] is False
    assert fast["min_count"] is cli["min_count"] is None
    assert fast["cleanup"] is cli["cleanup"] is None
    from engine.convert.intent import INTENTS

    panel = window.input_panel
    assert [panel.intent.itemData(i) for i in range(panel.intent.count())] == list(INTENTS)
    # named choices: the engine's values travel, the app's words show
    names = [panel.intent.itemText(i) for i in range(panel.intent.count())]
    assert names == ["Let the app decide", "Photo", "Flat art (logos, cartoons)", "Pixel art"]
    assert all(panel.intent.itemData(i, Qt.ItemDataRole.ToolTipRole) for i in range(panel.intent.count()))
    panel.intent.setCurrentIndex(names.index("Pixel art"))
    assert panel.job_settings().fast["intent"] == "pixel-art"


def test_intent_and_min_count_reach_the_conversion(window, qtbot, sample_image_path):
    panel = _setup(window, sample_image_path)
    panel.intent.set_value("flat")
    assert panel.intent.currentText() == "Flat art (logos, cartoons)"
    panel.min_count.setValue(25)
    js = panel.job_settings()
    assert js.fast["intent"] == "flat" and js.fast["min_count"] == 25
    pattern = _run(window, qtbot)
    assert pattern.shape == (30, 40)
    assert pattern.metadata["intent"] == "flat" and pattern.metadata["intent_reason"] == "chosen by the user"
    assert pattern.metadata["min_count"] == 25
    counts = _counts(pattern)
    assert len(counts) >= 2 and min(counts.values()) >= 25, counts
    # the panel says which intent ran and what the minimum did
    info = panel.intent_info.text()
    assert panel.intent_info.isVisible() and "Intent: Flat art (logos, cartoons) (chosen by the user)" in info
    assert "minimum 25 cells per colour" in info


def test_auto_intent_says_what_it_chose_and_why(window, qtbot, sample_image_path):
    from app.gui.wording import plain_words
    from engine.convert.pipeline import summary_lines

    panel = _setup(window, sample_image_path)
    pattern = _run(window, qtbot)
    assert pattern.metadata["intent"] in ("photo", "flat")
    assert pattern.metadata["intent_reason"] != "chosen by the user"
    lines = summary_lines(pattern)
    shown = panel.intent_info.text().splitlines()
    merged = pattern.metadata["merged"]
    name = INTENT_WORDS[pattern.metadata["intent"]][0]
    notes = pattern.metadata["notes"]  # the crop note: the panel's crop line shows it, the summary does not
    assert len(notes) == 1 and "cropped to the pattern's shape" in notes[0]
    expected = [plain_words(s).replace(f"intent: {pattern.metadata['intent']} (", f"Intent: {name} (")
                for s in lines[len(notes):len(lines) - len(merged)]]
    assert shown[:len(expected)] == expected
    assert "left and right edges" in panel.crop_info.text() and "edges" not in panel.intent_info.text()
    assert f"Intent: {name} (" in panel.intent_info.text()  # the Intent list's name, not the engine's


def test_at_most_k_and_all_colours(window, qtbot, sample_image_path):
    panel = _setup(window, sample_image_path)
    panel.budget.setCurrentIndex(panel.budget.findData(BUDGET_MAX))
    assert panel.budget_k.isEnabled()
    panel.budget_k.setValue(4)
    panel.min_count.setValue(1)
    assert panel.job_settings().fast["max_colors"] == 4
    # one value: the palette panel's "At most" shows the same count
    assert window.palette_panel.max_colors.value() == 4
    pattern = _run(window, qtbot)
    assert len(_counts(pattern)) == 4
    # All colours: no budget and no minimum (min count 1), more colours than 4
    panel.budget.setCurrentIndex(panel.budget.findData(BUDGET_ALL))
    panel.min_count.setValue(0)
    assert not panel.budget_k.isEnabled() and window.palette_panel.max_colors.value() == 0
    fast = panel.job_settings().fast
    assert fast["all_colors"] is True and fast["max_colors"] is None and fast["min_count"] is None
    pattern = _run(window, qtbot)
    assert pattern.metadata["min_count"] == 1 and len(_counts(pattern)) > 4


def test_preview_follows_the_colour_budget(window, qtbot, sample_image_path):
    from app.gui.preview import quick_preview

    panel = _setup(window, sample_image_path, 30, 20)
    shown = []
    window.previews.ready.connect(shown.append)
    panel.budget.setCurrentIndex(panel.budget.findData(BUDGET_MAX))
    panel.budget_k.setValue(3)
    qtbot.waitUntil(lambda: bool(shown) and len(np.unique(shown[-1][..., :3].reshape(-1, 3), axis=0)) <= 3,
                    timeout=20000)
    expected = quick_preview(window.source_image, window.palette_panel.owned_palette(), 30, 20, "crop", max_colors=3)
    np.testing.assert_array_equal(shown[-1], expected)
    assert len(np.unique(expected[..., :3].reshape(-1, 3), axis=0)) == 3


@pytest.fixture
def sprite_png(tmp_path, perler):
    from benchmarks.pixelart_inputs import make_sample

    sample = make_sample("x10.67-jitter", 3, perler.rgb8)
    path = tmp_path / "sprite.png"
    Image.fromarray(sample.image).save(path)
    return path, sample


def test_auto_size_detects_the_sprite_grid(window, qtbot, sprite_png):
    path, sample = sprite_png
    rows, cols = sample.labels.shape
    panel = _setup(window, path, 20, 20)
    panel.auto_size.setChecked(True)
    assert panel.cells() == (cols, rows)
    assert not panel.width_spin.isEnabled() and not panel.height_spin.isEnabled()
    assert f"Pixel grid: {cols} × {rows} cells" in panel.size_info.text()
    assert f"{cols} × {rows} cells" in window.statusBar().currentMessage()
    assert panel.width_spin.value() == cols and panel.height_spin.value() == rows
    assert panel.job_settings().auto_size
    pattern = _run(window, qtbot)
    assert pattern.shape == (rows, cols)
    assert (pattern.metadata["grid"]["cols"], pattern.metadata["grid"]["rows"]) == (cols, rows)
    # the sprite's own colours come back cell by cell
    truth = sample.colors[sample.labels]
    accuracy = float((pattern.to_rgb() == truth).all(axis=-1).mean())
    assert accuracy >= 0.98, accuracy
    assert f"pixel grid {cols} × {rows} cells" in panel.intent_info.text()


def test_auto_size_refuses_a_photo_clearly(window, sample_image_path):
    panel = _setup(window, sample_image_path, 40, 30)
    panel.auto_size.setChecked(True)
    assert not panel.auto_size.isChecked()
    assert "does not look like pixel art" in panel.size_info.text()
    assert "set the size by hand" in window.statusBar().currentMessage()
    assert panel.cells() == (40, 30) and panel.width_spin.isEnabled()
    assert not panel.job_settings().auto_size


def test_auto_size_without_a_picture_says_so(window):
    panel = window.input_panel
    panel.auto_size.setChecked(True)
    assert not panel.auto_size.isChecked() and "open one first" in panel.size_info.text()


def test_merged_colours_are_named_with_their_bead_counts(window, qtbot, sample_image_path):
    """After Start the panel names each merged colour: "<colour> (n beads) → <colour>"."""
    panel = _setup(window, sample_image_path)
    panel.min_count.setValue(40)
    pattern = _run(window, qtbot)
    merged = pattern.metadata["merged"]
    assert merged, "a minimum of 40 cells per colour merges some colours of a photo"
    info = panel.intent_info.text()
    pal = pattern.palette
    for m in merged:
        src = pal[pal.index_of(m["code"])].name
        into = max(m["into"].items(), key=lambda kv: kv[1])[0]
        assert f"{src} ({m['cells']} beads" in info and pal[pal.index_of(into)].name in info
    assert "→" in info and "->" not in info
