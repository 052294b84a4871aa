"""Shared test fixtures: headless Qt, QSettings in a temp folder, small real images and palettes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SAMPLES = ROOT / "resources" / "samples"


@pytest.fixture
def sample_image_path() -> Path:
    """A real photo shipped with the app."""
    return SAMPLES / "chelsea.jpg"


@pytest.fixture
def perler():
    from engine.palette import load_palette

    return load_palette("perler")


@pytest.fixture
def small_pattern(perler):
    """A 12x10 pattern using four Perler colours, with two empty cells."""
    from engine.pattern import Pattern

    rng = np.random.default_rng(0)
    index = rng.choice([0, 5, 9, 20], size=(10, 12))
    empty = np.zeros((10, 12), dtype=bool)
    empty[0, 0] = empty[9, 11] = True
    return Pattern(index, perler, empty)


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path_factory, monkeypatch):
    """Keep QSettings and app data out of the user's home during tests."""
    base = tmp_path_factory.mktemp("settings")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(base / "data"))
    monkeypatch.setenv("PIXL_DATA_DIR", str(base / "pixl-data"))
    yield
