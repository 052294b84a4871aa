"""Quality and speed of the fast converter against plain baselines, on scikit-image's photos.

    python benchmarks/convert_quality.py            # full run (3 photos x 3 palettes x 3 sizes)
    python benchmarks/convert_quality.py --quick    # a short run

For every photo, palette and size it prints, per method: blurred CIEDE2000 (Gaussian sigma 0.8 cell in
linear light: what the eye sees from a distance), plain per-cell CIEDE2000, the fraction of isolated
cells (no 4-neighbour of the same colour), colours used and seconds. All methods are scored against the
same target: the picture area-averaged to the grid in linear light. Baselines run in the same process:
nearest colour, our Floyd-Steinberg, and Pillow's Image.quantize(palette=...) remap onto the same
palette (RGB Euclidean nearest, dither none and Floyd-Steinberg).

The speed goal: a 1024 x 1024 photo -> 128 x 128 cells with the 199-colour artkal_s palette, cleanup on,
in seconds and as a ratio to plain nearest-colour conversion measured in the same run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.convert.cleanup import (  # noqa: E402
    blurred_delta_e,
    isolated_fraction,
    plain_delta_e,
)
from engine.convert.pipeline import ConvertConfig, convert_image, downsample_area  # noqa: E402
from engine.core.color import linear_to_lab, srgb_to_linear  # noqa: E402
from engine.core.image_io import fit_layout  # noqa: E402
from engine.core.palette import Palette, load_palette  # noqa: E402
from engine.core.palette_select import select_colors  # noqa: E402

SIGMA = 0.8


def photos(names: list[str]) -> dict[str, Image.Image]:
    """scikit-image's bundled photos as RGB Pillow images."""
    import skimage.data

    out = {}
    for name in names:
        arr = getattr(skimage.data, name)()
        if arr.ndim == 2:
            arr = np.stack([arr] * 3, axis=-1)
        out[name] = Image.fromarray(arr[..., :3]).convert("RGB")
    return out


def target_cells(img: Image.Image, size: int) -> np.ndarray:
    """The reference every method is scored against: area average in linear light (centre crop)."""
    layout = fit_layout(img.width, img.height, size, size, "crop")
    region = np.asarray(img.crop(layout.crop_box).convert("RGBA"))
    premult, _ = downsample_area(region, size, size)
    return premult


def pillow_remap(target_lin: np.ndarray, palette: Palette, fs: bool) -> np.ndarray:
    """Pillow's quantize onto a fixed palette (its own RGB nearest match), as palette indices."""
    srgb = np.clip(np.round(linear_to_srgb8(target_lin)), 0, 255).astype(np.uint8)
    pal_img = Image.new("P", (1, 1))
    flat = palette.rgb8.ravel().tolist()
    pal_img.putpalette(flat + flat[:3] * (256 - len(palette)))  # pad with the first colour
    dither = Image.Dither.FLOYDSTEINBERG if fs else Image.Dither.NONE
    q = Image.fromarray(srgb, "RGB").quantize(palette=pal_img, dither=dither)
    return np.minimum(np.asarray(q).astype(np.int64), len(palette) - 1)


def linear_to_srgb8(lin: np.ndarray) -> np.ndarray:
    from engine.core.color import linear_to_srgb

    return linear_to_srgb(lin) * 255.0


def score(index: np.ndarray, palette: Palette, target: np.ndarray, seconds: float) -> dict:
    res = srgb_to_linear(palette.rgb)[index]
    return {
        "blur": blurred_delta_e(res, target, sigma=SIGMA),
        "plain": plain_delta_e(res, target),
        "iso": isolated_fraction(index),
        "colours": len(np.unique(index)),
        "s": seconds,
    }


def ours(img: Image.Image, palette: Palette, size: int, **kw) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    pat = convert_image(img, palette, ConvertConfig(size, size, fit="crop", **kw))
    return pat.index.astype(np.int64), time.perf_counter() - t0


def methods(quick: bool) -> list[tuple[str, dict | str]]:
    m: list[tuple[str, dict | str]] = [
        ("nearest", {}),
        ("floyd-steinberg", {"dither": "floyd-steinberg"}),
        ("pillow remap", "pillow"),
        ("pillow remap FS", "pillow-fs"),
        ("ours cleanup 0.5", {"cleanup": 0.5}),
    ]
    if not quick:
        m[2:2] = [("atkinson", {"dither": "atkinson"}), ("bayer", {"dither": "bayer"})]
        m += [
            ("ours cleanup 0.25", {"cleanup": 0.25}),
            ("ours cleanup 0.75", {"cleanup": 0.75}),
            ("ours cleanup 1.0", {"cleanup": 1.0}),
            ("ours FS + cleanup 0.5", {"dither": "floyd-steinberg", "cleanup": 0.5}),
            ("ours dominant", {"resample": "dominant"}),
            ("ours dominant + cleanup 0.5", {"resample": "dominant", "cleanup": 0.5}),
        ]
    return m


def run_quality(quick: bool) -> dict[str, list[dict]]:
    names = ["astronaut", "chelsea"] if quick else ["astronaut", "chelsea", "camera"]
    sizes = [32, 64] if quick else [32, 64, 128]
    perler = load_palette("perler")
    lego = load_palette("lego")
    results: dict[str, list[dict]] = {}
    for name, img in photos(names).items():
        for size in sizes:
            target = target_cells(img, size)
            subset_idx = select_colors(linear_to_lab(target).reshape(-1, 3), perler.lab, 16)
            palettes = {
                "perler": perler,
                "perler best-16": perler.subset(subset_idx, name="perler best-16"),
                "lego": lego,
            }
            for pal_name, pal in palettes.items():
                print(f"\n{name} {size}x{size}, {pal_name} ({len(pal)} colours)")
                print(f"  {'method':<28} {'blur dE':>8} {'dE':>6} {'isolated':>9} {'colours':>8} {'s':>7}")
                for label, spec in methods(quick):
                    if isinstance(spec, str):
                        t0 = time.perf_counter()
                        idx = pillow_remap(target, pal, spec == "pillow-fs")
                        secs = time.perf_counter() - t0
                    else:
                        idx, secs = ours(img, pal, size, **spec)
                    s = score(idx, pal, target, secs)
                    results.setdefault(label, []).append({**s, "case": (name, size, pal_name)})
                    print(f"  {label:<28} {s['blur']:8.2f} {s['plain']:6.2f} {s['iso']:9.3f} {s['colours']:8d} "
                          f"{s['s']:7.2f}")
    return results


def summarise(results: dict[str, list[dict]]) -> None:
    print("\nmean over all cases")
    print(f"  {'method':<28} {'blur dE':>8} {'dE':>6} {'isolated':>9} {'colours':>8} {'s':>7}")
    for label, rows in results.items():
        print(f"  {label:<28} {np.mean([r['blur'] for r in rows]):8.2f} {np.mean([r['plain'] for r in rows]):6.2f} "
              f"{np.mean([r['iso'] for r in rows]):9.3f} {np.mean([r['colours'] for r in rows]):8.1f} "
              f"{np.mean([r['s'] for r in rows]):7.2f}")
    ours_rows = results["ours cleanup 0.5"]
    wins = 0
    for i, r in enumerate(ours_rows):
        near, fs = results["nearest"][i], results["floyd-steinberg"][i]
        if r["blur"] < min(near["blur"], fs["blur"]) and r["iso"] < min(near["iso"], fs["iso"]):
            wins += 1
        else:
            print(f"  not better on both in {r['case']}: ours {r['blur']:.2f}/{r['iso']:.3f}, "
                  f"nearest {near['blur']:.2f}/{near['iso']:.3f}, FS {fs['blur']:.2f}/{fs['iso']:.3f}")
    print(f"ours cleanup 0.5 beats nearest AND Floyd-Steinberg on blurred dE AND isolated cells in "
          f"{wins}/{len(ours_rows)} cases")


def run_speed(repeats: int) -> None:
    """1024^2 photo -> 128^2 with artkal_s, cleanup on, vs plain nearest (same run, from a JPEG file)."""
    import skimage.data

    pal = load_palette("artkal_s")
    img = Image.fromarray(skimage.data.astronaut()).resize((1024, 1024), Image.Resampling.BICUBIC)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo1024.jpg"
        img.save(path, quality=92)
        convert_image(path, pal, ConvertConfig(128, 128))  # warm-up (imports, caches)
        timings, cpu = {}, {}
        cases = (("nearest", {}), ("cleanup 0.5", {"cleanup": 0.5}), ("cleanup 1.0", {"cleanup": 1.0}))
        for label, kw in cases:
            runs, cpu_runs = [], []
            for _ in range(repeats):
                t0, c0 = time.perf_counter(), time.process_time()
                convert_image(path, pal, ConvertConfig(128, 128, **kw))
                runs.append(time.perf_counter() - t0)
                cpu_runs.append(time.process_time() - c0)
            timings[label], cpu[label] = min(runs), min(cpu_runs)
    base = timings["nearest"]
    print(f"\nspeed: 1024x1024 JPEG -> 128x128, artkal_s ({len(pal)} colours), best of {repeats} "
          f"(wall clock; CPU time of this process beside it: the machine is shared)")
    for label, secs in timings.items():
        print(f"  {label:<12} {secs:6.3f} s wall  {cpu[label]:6.3f} s CPU   {secs / base:5.2f}x nearest")
    goal = timings["cleanup 0.5"]
    print(f"  goal < 1 s with cleanup on: {'met' if goal < 1.0 else 'NOT met'} ({goal:.3f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 photos, sizes 32 and 64, fewer methods")
    parser.add_argument("--speed-only", action="store_true", help="only the 1024^2 -> 128^2 speed test")
    args = parser.parse_args()
    if not args.speed_only:
        summarise(run_quality(args.quick))
    run_speed(repeats=3 if args.quick else 5)


if __name__ == "__main__":
    main()
