"""Start-up time of the desktop app: process start -> first paint of the main window.

Each repeat starts a fresh Python process that builds the QApplication and MainWindow, shows it and stops at the
first paint event of the canvas (a zero-delay timer after show() as fallback). The wall time from launching
the process to that moment is compared with ``python -c pass`` and with ``import PySide6.QtWidgets`` (Qt's own
floor) measured in the same run, so the figures stay meaningful on a loaded machine. The first run of each kind
is the warm-up (file cache) and is not counted. Goal: window visible < 1.0 s warm.

    QT_QPA_PLATFORM=offscreen python benchmarks/startup_time.py [--repeats 5]
    QT_QPA_PLATFORM=xcb xvfb-run -a python benchmarks/startup_time.py      # a real X server
    ... --compare /path/to/other/checkout    # also that checkout's start-up, in the same run
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_APP = """
import json, sys, time
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
from app.gui.main_window import MainWindow
w = MainWindow()
heavy = [m for m in ("torch", "diffusers", "scipy") if m in sys.modules]
done = []

def finish():
    if not done:
        done.append(time.time())
        print(json.dumps({"shown": done[0], "heavy": heavy, "at_paint": at_paint}), flush=True)
        app.quit()

at_paint = []

class FirstPaint(QObject):
    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.Type.Paint and not at_paint:
            at_paint.extend(m for m in ("torch", "diffusers", "scipy", "engine.convert.pipeline")
                            if m in sys.modules)
            at_paint.append("-")  # marks "seen"
            QTimer.singleShot(0, finish)
        return False

f = FirstPaint()
w.canvas.installEventFilter(f)
w.show()
QTimer.singleShot(5000, finish)
app.exec()
"""


def _run(code: str, env: dict, root: Path = ROOT) -> tuple[float, dict]:
    t0 = time.time()
    env = dict(env, PYTHONPATH=str(root))
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True,
                         timeout=120)
    t1 = time.time()
    if out.returncode != 0:
        raise SystemExit(f"child failed: {out.stderr.strip()[-400:]}")
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    info = json.loads(lines[-1]) if lines else {}
    return (info["shown"] - t0 if "shown" in info else t1 - t0), info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--compare", type=Path, default=None,
                    help="another checkout (e.g. the main branch) whose start-up is measured in the same run")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="pixl-startup-")
    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_CONFIG_HOME=os.path.join(tmp, "config"),
               PIXL_DATA_DIR=os.path.join(tmp, "data"))
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    kinds = {"python -c pass": ("pass", ROOT), "import PySide6.QtWidgets": ("import PySide6.QtWidgets", ROOT),
             "piXL Studio first paint": (_APP, ROOT)}
    if args.compare is not None:
        kinds[f"first paint, {args.compare.name}"] = (_APP, args.compare.resolve())
    times: dict[str, list[float]] = {k: [] for k in kinds}
    heavy: list[str] = []
    for _ in range(args.repeats + 1):  # interleaved, so load changes hit every kind alike
        for name, (code, root) in kinds.items():
            t, info = _run(code, env, root)
            times[name].append(t)
            if name == "piXL Studio first paint":
                heavy = sorted(set(info.get("heavy", [])) | set(info.get("at_paint", [])) - {"-"}) or heavy
    print(f"platform {env['QT_QPA_PLATFORM']}, {args.repeats} warm repeats (first run dropped), median / min s")
    base = statistics.median(times["python -c pass"][1:])
    for name, ts in times.items():
        warm = ts[1:]
        print(f"  {name:32s} {statistics.median(warm):6.3f} / {min(warm):6.3f}   "
              f"({statistics.median(warm) / base:5.1f}x python -c pass)")
    app = statistics.median(times["piXL Studio first paint"][1:])
    print(f"heavy modules loaded before the first paint: {heavy or 'none'}")
    print(f"goal: first paint < 1.0 s warm -> {'met' if app < 1.0 else 'NOT met'} ({app:.3f} s)")


if __name__ == "__main__":
    main()
