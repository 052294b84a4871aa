"""Pixel-art input: grid detection (`--size auto`) on synthetic pseudo pixel art with a known ground truth.

    python benchmarks/pixelart_quality.py              # 4 sets x 8 seeds, montages in benchmarks/out/
    python benchmarks/pixelart_quality.py --seeds 3    # a shorter run

Sets (benchmarks/pixelart_inputs.py): x8 integer, x10.67 with +-1 px jitter, a random 6-10 px pitch per seed
with +-1 px jitter, and x9.4 with jitter inside a uniform border; every sprite blurred, noised and
JPEG-compressed, its colours drawn from the palette's solid colours (the default finishes). Per method and set:
the share of inputs whose size came out exactly right, exact-cell accuracy (share of cells whose palette colour
is the ground truth's; an input whose size is wrong scores 0) and seconds per input. Methods, in the same
run on the same palette:

- ours: `convert_image` with size auto (grid detection, per-cell median, nearest colour by CIEDE2000), with the
  default colour budget and minimum count, and with `--all-colors` (every colour of the sprite kept);
- dominant @ true size: `--mode dominant --fit stretch` with the true size given by hand (on the whole picture,
  border included, as a user would);
- perfect-pixel (if installed: `pip install perfect-pixel`): its own grid detection and majority sampling,
  then each cell mapped to the palette by CIEDE2000 (1:1 through our converter), marked "(+CIEDE2000 map)".

A speed line: a 128 x 128-cell sprite at x8 (1024 x 1024 px), detection + sampling, against a plain area
conversion of the same picture to the same size in the same run. One montage PNG per set (first seed):
source | ours | dominant @ true size | perfect-pixel | ground truth, cells x8 nearest.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.pixelart_inputs import SETS, PixelArtSample, degrade, make_sample, make_sprite  # noqa: E402
from engine.convert.grid import detect_grid, sample_grid  # noqa: E402
from engine.convert.pipeline import AUTO_SIZE, ConvertConfig, ConvertError, convert_image  # noqa: E402
from engine.core.palette import Palette  # noqa: E402
from engine.core.palette_io import load_palette  # noqa: E402

OUT = ROOT / "benchmarks" / "out"


def _perfect_pixel():
    try:
        from perfect_pixel import get_perfect_pixel
    except ImportError:
        return None
    return get_perfect_pixel


def _accuracy(cells_rgb: np.ndarray | None, sample: PixelArtSample) -> float:
    if cells_rgb is None or cells_rgb.shape[:2] != sample.labels.shape:
        return 0.0
    return float((cells_rgb == sample.truth_rgb).all(axis=2).mean())


def run_ours(sample: PixelArtSample, palette: Palette, **settings) -> tuple[np.ndarray | None, float]:
    t = time.perf_counter()
    try:
        pat = convert_image(sample.image, palette, ConvertConfig(*AUTO_SIZE, **settings))
    except ConvertError as exc:
        print(f"    ours: {exc}")
        return None, time.perf_counter() - t
    return palette.rgb8[pat.index.astype(np.int64)], time.perf_counter() - t


def run_dominant(sample: PixelArtSample, palette: Palette) -> tuple[np.ndarray, float]:
    cols, rows = sample.size
    t = time.perf_counter()
    pat = convert_image(sample.image, palette, ConvertConfig(cols, rows, fit="stretch", resample="dominant"))
    return palette.rgb8[pat.index.astype(np.int64)], time.perf_counter() - t


def run_perfect_pixel(fn, sample: PixelArtSample, palette: Palette) -> tuple[np.ndarray | None, float]:
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            w, h, cells = fn(sample.image, sample_method="majority")
        except Exception as exc:  # a peer's failure is a result, not a crash
            print(f"    perfect-pixel failed: {exc}", file=sys.stderr)
            return None, time.perf_counter() - t
    if w is None or cells is None or cells.ndim != 3:
        return None, time.perf_counter() - t
    cells = np.asarray(cells)[..., :3].astype(np.uint8)
    pat = convert_image(cells, palette, ConvertConfig(cells.shape[1], cells.shape[0], fit="stretch"))
    return palette.rgb8[pat.index.astype(np.int64)], time.perf_counter() - t


def _panel(img: np.ndarray | None, label: str, height: int, scale: int) -> Image.Image:
    if img is None:
        pil = Image.new("RGB", (height, height), (128, 128, 128))
    elif scale > 1:
        pil = Image.fromarray(np.repeat(np.repeat(img, scale, axis=0), scale, axis=1))
    else:
        pil = Image.fromarray(img)
    canvas = Image.new("RGB", (pil.width, pil.height + 16), (255, 255, 255))
    canvas.paste(pil, (0, 16))
    ImageDraw.Draw(canvas).text((2, 2), label, fill=(0, 0, 0))
    return canvas


def montage(path: Path, panels: list[Image.Image]) -> None:
    w = sum(p.width for p in panels) + 8 * (len(panels) - 1)
    h = max(p.height for p in panels)
    out = Image.new("RGB", (w, h), (255, 255, 255))
    x = 0
    for p in panels:
        out.paste(p, (x, 0))
        x += p.width + 8
    path.parent.mkdir(parents=True, exist_ok=True)
    out.save(path)


def speed(palette: Palette, repeats: int = 3) -> None:
    rng = np.random.default_rng(11)
    solid = palette.rgb8[[i for i, c in enumerate(palette) if c.finish == "solid"]]
    colors = solid[rng.choice(len(solid), 10, replace=False)]
    labels = make_sprite(128, 128, len(colors), rng)
    img = np.repeat(np.repeat(colors[labels], 8, axis=0), 8, axis=1)
    img = degrade(img, SETS["x8"], rng)
    best = {"detect + sample": np.inf, "ours, size auto": np.inf, "area @ true size (baseline)": np.inf}
    for _ in range(repeats):
        t = time.perf_counter()
        grid = detect_grid(img)
        sample_grid(img, grid)
        best["detect + sample"] = min(best["detect + sample"], time.perf_counter() - t)
        t = time.perf_counter()
        convert_image(img, palette, ConvertConfig(*AUTO_SIZE))
        best["ours, size auto"] = min(best["ours, size auto"], time.perf_counter() - t)
        t = time.perf_counter()
        convert_image(img, palette, ConvertConfig(128, 128))
        best["area @ true size (baseline)"] = min(best["area @ true size (baseline)"], time.perf_counter() - t)
    base = best["area @ true size (baseline)"]
    print(f"\nspeed, 1024 x 1024 px sprite (128 x 128 cells at x8), best of {repeats}; "
          f"detected {grid.cols}x{grid.rows}")
    for k, v in best.items():
        print(f"  {k:<30} {v:6.3f} s   x{v / base:.2f} of the baseline")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=8, help="inputs per set (default 8)")
    ap.add_argument("--palette", default="perler")
    args = ap.parse_args()
    palette = load_palette(args.palette)
    pp = _perfect_pixel()
    if pp is None:
        print("perfect-pixel not installed (pip install perfect-pixel): peer skipped")
    methods = ["ours (size auto)", "ours (size auto, --all-colors)", "dominant @ true size"]
    methods += ["perfect-pixel (+CIEDE2000 map)"] if pp else []
    solid = palette.rgb8[[i for i, c in enumerate(palette) if c.finish == "solid"]]  # default colours only
    rows = []
    for name in SETS:
        res = {m: {"exact": [], "acc": [], "t": []} for m in methods}
        for seed in range(args.seeds):
            s = make_sample(name, seed, solid)
            outs = {"ours (size auto)": run_ours(s, palette),
                    "ours (size auto, --all-colors)": run_ours(s, palette, all_colors=True),
                    "dominant @ true size": run_dominant(s, palette)}
            if pp:
                outs["perfect-pixel (+CIEDE2000 map)"] = run_perfect_pixel(pp, s, palette)
            for m, (cells, dt) in outs.items():
                exact = cells is not None and cells.shape[:2] == s.labels.shape
                res[m]["exact"].append(exact)
                res[m]["acc"].append(_accuracy(cells, s))
                res[m]["t"].append(dt)
                if m.startswith("perfect") and not exact or m.startswith("ours") and not exact:
                    got = "none" if cells is None else f"{cells.shape[1]}x{cells.shape[0]}"
                    print(f"  {name} seed {seed}: {m} size {got}, true {s.size[0]}x{s.size[1]}")
            if seed == 0:
                h = s.image.shape[0]
                panels = [_panel(s.image, "source", h, 1)]
                panels += [_panel(outs[m][0], m, h, 8) for m in methods]
                panels.append(_panel(s.truth_rgb, "ground truth", h, 8))
                montage(OUT / f"pixelart_{name}.png", panels)
        for m in methods:
            r = res[m]
            rows.append((name, m, np.mean(r["exact"]), np.mean(r["acc"]), np.min(r["acc"]), np.mean(r["t"])))
    print(f"\n{args.seeds} inputs per set, palette {palette.name}\n")
    print("| set | method | size exact | exact-cell accuracy (mean / min) | s per input |")
    print("| --- | --- | --- | --- | --- |")
    for name, m, ex, acc, mn, t in rows:
        print(f"| {name} | {m} | {ex:.2f} | {acc:.4f} / {mn:.4f} | {t:.3f} |")
    speed(palette)
    print(f"\nmontages: {OUT}/pixelart_<set>.png")


if __name__ == "__main__":
    main()
