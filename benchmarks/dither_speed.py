"""Error-diffusion speed: the old per-cell style (one full-palette numpy CIEDE2000 call per cell) against
engine.convert.dither (grid table settled block-wise with proven CIEDE2000 bounds), both timed in this run.

    python benchmarks/dither_speed.py [--method floyd-steinberg|atkinson] [--no-reference]

Sizes 64x64, 128x128 and 200x133 of resources/samples/chelsea.jpg; palettes perler (103 colours) and
artkal_s (199). "cold" starts with no settled grid points for the palette; "warm" is a second call with
the same palette (what a GUI preview re-run sees). The outputs are checked equal. Prints figures only.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.convert import dither as D  # noqa: E402
from engine.core.color import ciede2000, srgb8_to_lab  # noqa: E402
from engine.core.palette import load_palette  # noqa: E402

SIZES = ((64, 64), (128, 128), (200, 133))
PALETTES = ("perler", "artkal_s")


def old_style(target: np.ndarray, pal: np.ndarray, kernel, strength: float = 1.0, grid: float = D.GRID) -> np.ndarray:
    """The straightforward loop: numpy arrays for the error, a full-palette CIEDE2000 call per cell."""
    h, w = target.shape[:2]
    lo, hi = pal.min(axis=0), pal.max(axis=0)
    err = np.zeros((h, w, 3))
    out = np.zeros((h, w), dtype=np.int64)
    for y in range(h):
        forward = y % 2 == 0
        for x in (range(w) if forward else range(w - 1, -1, -1)):
            value = np.minimum(np.maximum(target[y, x] + err[y, x], lo), hi)
            i = int(np.argmin(ciede2000((np.round(value / grid) * grid)[None, :], pal)))
            out[y, x] = i
            diff = value - pal[i]
            for dy, dx, wt in kernel:
                yy, xx = y + dy, x + (dx if forward else -dx)
                if yy < h and 0 <= xx < w:
                    err[yy, xx] += diff * (wt * strength)
    return out


def worst_tick_gap(job) -> tuple[float, float]:
    """Run ``job`` while another thread ticks every 2 ms; returns (job seconds, worst tick gap in ms).

    The gap is how long a GUI thread would wait for the GIL while the job runs.
    """
    stop, gaps = threading.Event(), [0.0]

    def ticker() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            time.sleep(0.002)
            now = time.perf_counter()
            gaps[0] = max(gaps[0], now - last)
            last = now

    th = threading.Thread(target=ticker)
    th.start()
    t0 = time.perf_counter()
    job()
    took = time.perf_counter() - t0
    stop.set()
    th.join()
    return took, gaps[0] * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="floyd-steinberg", choices=["floyd-steinberg", "atkinson"])
    ap.add_argument("--no-reference", action="store_true", help="skip the slow per-cell reference")
    args = ap.parse_args()
    kernel = D.FLOYD_STEINBERG if args.method == "floyd-steinberg" else D.ATKINSON
    photo = Image.open(ROOT / "resources" / "samples" / "chelsea.jpg").convert("RGB")
    print(f"{args.method}; times in seconds; 'gap' = worst wait (ms) of a 2 ms ticker thread during the cold run")
    print(f"worst ticker wait while the main thread only sleeps 0.3 s (machine noise): "
          f"{worst_tick_gap(lambda: time.sleep(0.3))[1]:.1f} ms")
    print(f"{'palette':<10}{'size':>9}{'old-style':>11}{'cold':>8}{'warm':>8}{'old/cold':>10}{'old/warm':>10}"
          f"{'gap':>7}  same")
    for key in PALETTES:
        pal = load_palette(key).lab
        for w, h in SIZES:
            lab = srgb8_to_lab(np.asarray(photo.resize((w, h), Image.BOX)))
            D._TABLES.clear()
            box: dict[str, np.ndarray] = {}
            cold, gap = worst_tick_gap(lambda: box.setdefault("out", D.dither(lab, pal, args.method, 1.0)))
            fast = box["out"]
            t0 = time.perf_counter()
            again = D.dither(lab, pal, args.method, 1.0)
            warm = time.perf_counter() - t0
            if args.no_reference:
                print(f"{key:<10}{f'{w}x{h}':>9}{'-':>11}{cold:8.3f}{warm:8.3f}{'-':>10}{'-':>10}{gap:7.1f}  "
                      f"{bool((fast == again).all())}")
                continue
            t0 = time.perf_counter()
            ref = old_style(lab, pal, kernel)
            old = time.perf_counter() - t0
            same = bool((fast == ref).all() and (again == ref).all())
            print(f"{key:<10}{f'{w}x{h}':>9}{old:11.3f}{cold:8.3f}{warm:8.3f}"
                  f"{old / cold:9.1f}x{old / warm:9.1f}x{gap:7.1f}  {same}")


if __name__ == "__main__":
    main()
