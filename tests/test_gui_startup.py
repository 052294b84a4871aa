"""Start-up stays light: constructing the main window loads neither torch nor diffusers nor the converter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_PROBE = """
import json, sys, time
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication
app = QApplication([])
from app.gui.main_window import MainWindow
HEAVY = ("torch", "diffusers", "scipy", "engine.sdpixl.optimize", "engine.convert.pipeline")
at_paint = []

class FirstPaint(QObject):
    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.Type.Paint and not at_paint:
            at_paint.append([m for m in HEAVY if m in sys.modules])
        return False

w = MainWindow()
f = FirstPaint()
w.canvas.installEventFilter(f)
w.show()
end = time.time() + 20
while not at_paint and time.time() < end:
    app.processEvents()
heavy = at_paint[0] if at_paint else ["no paint"]
for _ in range(20):
    app.processEvents()  # the converter engine warms up after the first paint; SD-PiXL still waits
later = [m for m in ("torch", "diffusers") if m in sys.modules]
presets_before = w.input_panel.preset.count()
print(json.dumps({"heavy": heavy, "later": later, "presets_before": presets_before}))
"""


def test_main_window_starts_without_torch(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen",
               XDG_CONFIG_HOME=str(tmp_path / "config"), PIXL_DATA_DIR=str(tmp_path / "data"))
    out = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["heavy"] == [], f"imported before the first paint: {result['heavy']}"
    assert result["later"] == []
    assert result["presets_before"] == 0  # SD-πXL presets load on first use


def test_sdpixl_presets_load_on_first_use(window):
    from app.gui.input_panel import MODE_SDPIXL

    window.input_panel.set_mode(MODE_SDPIXL)
    names = [window.input_panel.preset.itemText(i) for i in range(window.input_panel.preset.count())]
    from engine.sdpixl.optimize import PRESETS

    assert names == list(PRESETS)
    assert window.input_panel.preset.currentText() == "fast"


def test_broken_sdpixl_install_is_reported_not_fatal(window, monkeypatch, sample_image_path):
    import builtins

    from app.gui.input_panel import MODE_SDPIXL

    real_import = builtins.__import__

    def broken(name, *args, **kwargs):
        if name == "engine.sdpixl.optimize":
            raise OSError("libtorch_global_deps.so: cannot open shared object file")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", broken)
    monkeypatch.delitem(__import__("sys").modules, "engine.sdpixl.optimize", raising=False)
    window.input_panel.set_mode(MODE_SDPIXL)  # no exception escapes the mode switch
    assert window.input_panel.preset.count() == 0
    window.load_image_file(sample_image_path)
    assert not window.start_run()
    title, message = window.dialogs.errors[-1]
    assert title == "SD-πXL unavailable" and "libtorch_global_deps" in message
