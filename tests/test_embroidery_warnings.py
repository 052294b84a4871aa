"""Embroidery warnings: plain words (no command-line flags), right singular/plural, and said once."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest

from engine.core.medium import THREAD
from engine.core.pattern import Pattern
from exporters.embroidery.export import EmbroideryOptions, plan_embroidery


@pytest.fixture(scope="module")
def busy(dmc):
    """One speck (a tiny region), two colours that share one Janome thread, many colours for the limit."""
    codes = ["919", "301", "310", "3713", "797", "702"]
    pal = dmc.subset([dmc.index_of(c) for c in codes], name="DMC 6")
    index = np.zeros((16, 24), dtype=np.int64)
    for k in range(len(codes) - 1):  # vertical bands, 4 cells wide
        index[:, 4 * k:4 * k + 4] = k
    index[:, 20:] = 2
    index[8, 22] = 5  # one speck of green inside black
    return Pattern(index, pal, None, THREAD)


def _plain(text: str) -> None:
    assert "--" not in text, text  # no command-line flags in what the app shows too
    assert not re.search(r"(?<![\d.,])1 (\w+ )?(pairs|regions|threads|changes|trims|stitches)\b", text), text


def test_warnings_are_plain_words_with_the_right_number(busy):
    report = plan_embroidery(busy, EmbroideryOptions(target_format="jef", thread_match="nearest",
                                                     max_color_changes=2, hoop="30x30")).report
    text = " | ".join(report.warnings)
    assert "1 fill region is smaller than 20 mm²" in text
    assert "merge tiny regions" in text
    assert "1 pair of pattern colours shares one Janome (JEF) thread" in text
    assert "use fewer colours or merge tiny regions" in text
    assert "does not fit hoop 30x30" in text
    for w in report.warnings:
        _plain(w)
    for line in report.lines():
        _plain(line)
    assert len(set(report.warnings)) == len(report.warnings)


def test_each_warning_is_said_once_by_the_cli(tmp_path, busy, capsys, caplog):
    from main import main

    caplog.set_level(logging.INFO)  # what a verbose run shows too
    pixl = busy.save(tmp_path / "b.pixl")
    out = tmp_path / "b.jef"
    assert main(["export", str(pixl), "--format", "jef", "--out", str(out), "--thread-match", "nearest",
                 "--max-color-changes", "2"]) == 0
    captured = capsys.readouterr()
    said = captured.out + captured.err + caplog.text
    report = plan_embroidery(busy, EmbroideryOptions(target_format="jef", thread_match="nearest",
                                                     max_color_changes=2)).report
    assert report.warnings
    for w in report.warnings:
        assert said.count(w) == 1, w
