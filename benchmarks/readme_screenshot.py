"""Make the README's screenshot on purpose (the tests never write it): the bundled cat photo converted to a 72×48
Perler pattern, the pattern filling the canvas, the palette list showing the colours used.

    QT_QPA_PLATFORM=xcb xvfb-run -s "-screen 0 1600x1000x24" python benchmarks/readme_screenshot.py
    python benchmarks/readme_screenshot.py --out /tmp/shot.png     # anywhere else

Settings go to a temporary folder, so the user's own piXL Studio settings are neither read nor changed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshot.png"), help="PNG to write")
    args = parser.parse_args(argv)
    temp = tempfile.mkdtemp(prefix="pixl-shot-")
    os.environ["XDG_CONFIG_HOME"] = os.path.join(temp, "config")
    os.environ["PIXL_DATA_DIR"] = os.path.join(temp, "data")

    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        for fmt in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
            QSettings.setPath(fmt, scope, os.path.join(temp, "qsettings"))
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from app.gui.main_window import MainWindow
    from engine.core.atomic import atomic_path

    w = MainWindow()
    w.resize(1400, 860)
    w.show()
    w.load_image_file(ROOT / "resources" / "samples" / "chelsea.jpg")
    w.palette_panel.select_palette("perler")
    panel = w.input_panel
    panel.keep_aspect.setChecked(False)
    panel.unit.setCurrentText("cells")
    panel.width_spin.setValue(72)
    panel.height_spin.setValue(48)
    panel.dither.set_value("none")
    panel.cleanup.setValue(30)  # percent
    panel.set_mode("fast")
    loop = QEventLoop()
    w.runEnded.connect(lambda _how: loop.quit())
    QTimer.singleShot(120_000, loop.quit)
    if not w.start_run():
        print("could not start the conversion", file=sys.stderr)
        return 1
    loop.exec()
    if w.doc.pattern is None:
        print("the conversion did not finish", file=sys.stderr)
        return 1
    w.act_show_input.setChecked(False)
    w.canvas.fit()
    w.statusBar().clearMessage()
    w.palette_panel.used_only.setChecked(True)
    for _ in range(20):
        app.processEvents()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        if not w.grab().save(str(tmp), "PNG"):
            print(f"cannot write {out}", file=sys.stderr)
            return 1
    print(f"wrote {out} ({w.width()} × {w.height()} px, pattern {w.doc.pattern.width} × {w.doc.pattern.height})")
    w.maybe_save = lambda: True  # nothing to keep: close without asking
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
