"""Smoke test on a real X server (Qt's xcb platform, not offscreen): open the app, convert a sample picture,
export it, quit. It catches missing system libraries (libxcb-cursor0, ...) that the offscreen tests cannot.

It uses the session's X display, or starts a private Xvfb through ``xvfb-run`` when there is none; it is skipped
only when neither exists, and fails instead under CI (``.ci/run`` installs Xvfb, so there it always runs).
Set PIXL_XCB_SCREENSHOT=path to keep a screenshot of the window.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_SMOKE = r"""
import json, sys
from pathlib import Path
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

out = Path(sys.argv[1])
app = QApplication(sys.argv[:1])
from app.gui.main_window import MainWindow

w = MainWindow()
errors = []
w.show_error = lambda title, msg: errors.append(f"{title}: {msg}")
w.resize(1280, 800)
w.show()
result = {"platform": app.platformName()}

def step_convert():
    assert w.load_image_file(Path("resources/samples/chelsea.jpg")), errors
    w.palette_panel.select_palette("perler")
    panel = w.input_panel
    panel.keep_aspect.setChecked(False)
    panel.unit.setCurrentText("cells")
    panel.width_spin.setValue(48)
    panel.height_spin.setValue(32)
    w.runEnded.connect(step_export)
    assert w.start_run(), errors

def step_export(how):
    result["run"] = how
    p = w.doc.pattern
    result["size"] = [p.width, p.height] if p is not None else None
    files = w.export_to("bead-pdf", out / "chart.pdf") + w.export_to("png", out / "pattern.png", scale=4)
    result["files"] = [str(f) for f in files]
    QTimer.singleShot(300, step_quit)

def step_quit():
    shot = w.grab()
    result["screenshot"] = bool(shot.save(str(out / "window.png")))
    result["errors"] = errors
    w.doc.undo_stack.setClean()
    w.close()
    app.quit()

QTimer.singleShot(200, step_convert)
QTimer.singleShot(90000, app.quit)  # never hang CI
app.exec()
print("RESULT " + json.dumps(result), flush=True)
"""


def x_server_prefix() -> list[str]:
    """The command prefix that gives the smoke test an X server: none with a display, else ``xvfb-run``."""
    if os.environ.get("DISPLAY"):
        return []
    xvfb_run = shutil.which("xvfb-run")
    if xvfb_run:
        return [xvfb_run, "-a", "-s", "-screen 0 1400x900x24"]
    if os.environ.get("CI"):
        pytest.fail("no X display and no xvfb-run: .ci/run must install xvfb so the real-display test runs")
    pytest.skip("needs an X display or xvfb-run (apt-get install xvfb xauth)")


def test_app_runs_on_a_real_x_server(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="xcb", XDG_CONFIG_HOME=str(tmp_path / "config"),
               PIXL_DATA_DIR=str(tmp_path / "data"))
    cmd = x_server_prefix() + [sys.executable, "-c", _SMOKE, str(tmp_path)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"the app did not run on xcb:\n{proc.stderr[-2000:]}"
    result = json.loads(lines[-1][len("RESULT "):])
    assert result["platform"] == "xcb"
    assert result["errors"] == []
    assert result["run"] == "finished" and result["size"] == [48, 32]
    pdf, png = (Path(f) for f in result["files"])
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 1000
    from PIL import Image

    assert Image.open(png).size == (48 * 4, 32 * 4)
    assert result["screenshot"] and Image.open(tmp_path / "window.png").size[0] >= 800
    keep = os.environ.get("PIXL_XCB_SCREENSHOT")
    if keep:
        Image.open(tmp_path / "window.png").save(keep)
