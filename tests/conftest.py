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


@pytest.fixture(scope="session")
def dmc():
    """The DMC thread palette (embroidery tests)."""
    from engine.core.palette_io import load_palette

    return load_palette("dmc")


@pytest.fixture
def perler():
    from engine.core.palette_io import load_palette
    return load_palette("perler")


@pytest.fixture
def small_pattern(perler):
    """A 12x10 pattern using four Perler colours, with two empty cells."""
    from engine.core.pattern import Pattern

    rng = np.random.default_rng(0)
    index = rng.choice([0, 5, 9, 20], size=(10, 12))
    empty = np.zeros((10, 12), dtype=bool)
    empty[0, 0] = empty[9, 11] = True
    return Pattern(index, perler, empty)


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path_factory, monkeypatch):
    """Keep QSettings, app data and model downloads away from the user's home and the network."""
    from tests.gui_support import redirect_qsettings

    base = tmp_path_factory.mktemp("settings")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(base / "data"))
    monkeypatch.setenv("PIXL_DATA_DIR", str(base / "pixl-data"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    redirect_qsettings(base / "qsettings")
    yield


@pytest.fixture(autouse=True, scope="module")
def _torch_one_thread():
    """Tiny models gain nothing from threads; on a busy 2-core machine the thread pool only slows them."""
    from tests.tiny_models import single_thread

    with single_thread():
        yield


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory):
    """One folder per test session where tests/tiny_models.build_cached keeps the tiny models it builds."""
    return tmp_path_factory.getbasetemp()


@pytest.fixture
def window(qtbot, monkeypatch):
    """The real MainWindow, shown, with its dialogs recorded in ``window.dialogs`` instead of popping up."""
    from app.gui.crash import uninstall_excepthook
    from tests.gui_support import make_window

    w, dialogs = make_window(qtbot, monkeypatch)
    w.dialogs = dialogs
    yield w
    w.doc.undo_stack.setClean()
    w.close()
    uninstall_excepthook()
