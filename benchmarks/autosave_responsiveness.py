"""How long an autosave blocks the GUI thread: the synchronous save (before) against the worker-thread autosave.

A 2048 x 2048 design (random colours from the Perler palette) is autosaved. Prints the seconds the GUI thread is
busy in ``Autosaver.save_now()`` (copy the pattern, hand it to the worker) and the seconds a synchronous
``Pattern.save`` takes (what the GUI thread used to spend), and their ratio, over a few repeats (median).

    QT_QPA_PLATFORM=offscreen python benchmarks/autosave_responsiveness.py [--size 2048] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    os.environ["PIXL_DATA_DIR"] = str(tmp / "data")
    app = QApplication.instance() or QApplication([])  # noqa: F841 - Qt objects need an application

    from app.gui.autosave import Autosaver
    from app.gui.document import PatternDocument
    from engine.core.palette_io import load_palette
    from engine.core.pattern import Pattern

    pal = load_palette("perler")
    rng = np.random.default_rng(0)
    pattern = Pattern(rng.integers(0, len(pal), (args.size, args.size)), pal)
    doc = PatternDocument()
    doc.reset(pattern, None, modified=True)
    saver = Autosaver(doc, 3600)
    sync, gui = [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        pattern.save(tmp / "sync.pixl")
        sync.append(time.perf_counter() - t)
        saver._saved_generation = -1  # force a new autosave
        t = time.perf_counter()
        assert saver.save_now() is not None
        gui.append(time.perf_counter() - t)
        saver.wait()
    s, g = statistics.median(sync), statistics.median(gui)
    print(f"{args.size}x{args.size}: synchronous save {s:.3f} s on the GUI thread (before); "
          f"autosave blocks the GUI thread {g * 1000:.1f} ms (now); ratio {s / g:.0f}x")
    saver.close()


if __name__ == "__main__":
    main()
