"""Quality and speed of the fast converter against peers, on scikit-image's photos and flat art.

    python benchmarks/convert_quality.py              # maker table (photos + flat art, peers) and the speed goal
    python benchmarks/convert_quality.py --classic    # also the older 27-case method table
    python benchmarks/convert_quality.py --speed-only # only the 1024^2 -> 128^2 speed goal
    python benchmarks/convert_quality.py --sets [logos gradients fur sprites photos lattice]  # issue 21's sets

Maker table (issue 10): every input is converted onto the same palette (Perler, its solid colours: the default
"owned" set) by our default settings and by peers run in the same process: nearest colour, Floyd-Steinberg
(ours, clamped to the palette's Lab box, and plain unclamped Lab FS), Pillow's quantize(palette=...) with and
without dithering, libimagequant forced onto the palette (``imagequant`` package, every palette colour added
with liq_image_add_fixed_color) and pixeloe's contrast-aware downscale mapped onto the palette by CIEDE2000
(marked "mapped"). A peer that is not installed is skipped with a message. Figures per method: blurred
CIEDE2000 (Gaussian sigma 0.8 cell in linear light), plain CIEDE2000, small-patch share (cells in 4-connected
same-colour components of <= 3 cells), isolated share, colours used, colours under the minimum count, cells
in speciality finishes and seconds. A montage PNG per input (source, then each method, x8 nearest) is written
to benchmarks/out/. All methods are scored against the same target: the picture area-averaged to the grid in
linear light.

The speed goal: a 1024 x 1024 photo -> 128 x 128 cells with the 199-colour artkal_s palette, default settings,
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

from engine.convert.budget import default_min_count  # noqa: E402
from engine.convert.cleanup import (  # noqa: E402
    blurred_delta_e,
    isolated_fraction,
    plain_delta_e,
    small_patch_share,
)
from engine.convert.dither import FLOYD_STEINBERG, error_diffusion  # noqa: E402
from engine.convert.pipeline import ConvertConfig, convert_image, downsample_area  # noqa: E402
from engine.core.color import linear_to_lab, srgb8_to_lab, srgb_to_linear  # noqa: E402
from engine.core.image_io import fit_layout  # noqa: E402
from engine.core.palette import Palette  # noqa: E402
from engine.core.palette_io import load_palette  # noqa: E402
from engine.core.palette_select import nearest_index, select_colors  # noqa: E402

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


# --------------------------------------------------------------------------- maker table (issue 10)


def cartoon(size: int = 384) -> np.ndarray:
    """A drawn cartoon (made in code): sky, hills, sun, a house with window and door, outlines, a face."""
    from PIL import ImageDraw

    img = Image.new("RGB", (size, size), (126, 192, 238))
    d = ImageDraw.Draw(img)
    s = size / 96
    d.ellipse([-20 * s, 58 * s, 70 * s, 120 * s], fill=(104, 178, 70), outline=(40, 60, 30), width=int(s))
    d.ellipse([40 * s, 62 * s, 130 * s, 130 * s], fill=(86, 160, 58), outline=(40, 60, 30), width=int(s))
    d.ellipse([68 * s, 8 * s, 88 * s, 28 * s], fill=(252, 206, 48), outline=(200, 120, 20), width=int(s))
    d.rectangle([16 * s, 40 * s, 48 * s, 72 * s], fill=(214, 86, 62), outline=(40, 20, 20), width=int(s))
    d.polygon([(12 * s, 41 * s), (32 * s, 24 * s), (52 * s, 41 * s)], fill=(120, 60, 40), outline=(40, 20, 20))
    d.rectangle([20 * s, 46 * s, 29 * s, 55 * s], fill=(240, 236, 200), outline=(40, 20, 20), width=int(s))
    d.rectangle([34 * s, 54 * s, 42 * s, 72 * s], fill=(96, 60, 34), outline=(40, 20, 20), width=int(s))
    d.ellipse([56 * s, 40 * s, 80 * s, 64 * s], fill=(255, 214, 170), outline=(60, 40, 30), width=int(s))
    for x in (63, 72):  # eyes: one-cell pupils at 48 cells
        d.ellipse([x * s, 47 * s, (x + 2) * s, 49 * s], fill=(20, 20, 30))
    d.arc([62 * s, 50 * s, 74 * s, 59 * s], 20, 160, fill=(150, 40, 40), width=int(s))
    return np.asarray(img)


def maker_inputs() -> dict[str, tuple[np.ndarray, int]]:
    """name -> (RGB picture, cells per side)."""
    import skimage.data

    out = {}
    for name in ("astronaut", "chelsea", "coffee"):
        out[name] = (np.asarray(getattr(skimage.data, name)())[..., :3], 64)
    try:
        logo = skimage.data.logo()
        rgba = Image.fromarray(logo).convert("RGBA")
        flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        flat.alpha_composite(rgba)
        out["skimage logo"] = (np.asarray(flat.convert("RGB")), 48)
    except Exception as exc:  # noqa: BLE001 - an optional input
        print(f"skimage logo skipped: {exc}")
    out["cartoon"] = (cartoon(), 48)
    return out


def imagequant_forced(rgb8: np.ndarray, palette: Palette, dither: float) -> np.ndarray | None:
    """libimagequant with every palette colour fixed (liq_image_add_fixed_color), remapped; None if missing."""
    try:
        import imagequant
    except ImportError:
        return None
    lib, ffi = imagequant.lib, imagequant.ffi
    h, w = rgb8.shape[:2]
    rgba = np.ascontiguousarray(np.dstack([rgb8, np.full((h, w), 255, np.uint8)]))
    attr = lib.liq_attr_create()
    lib.liq_set_max_colors(attr, min(256, len(palette)))
    buf = ffi.from_buffer(rgba)
    image = lib.liq_image_create_rgba(attr, buf, w, h, 0.0)
    for r, g, b in palette.rgb8.tolist():
        color = ffi.new("liq_color *", {"r": r, "g": g, "b": b, "a": 255})
        lib.liq_image_add_fixed_color(image, color[0])
    result = ffi.new("liq_result **")
    if lib.liq_image_quantize(image, attr, result) != 0:
        return None
    lib.liq_set_dithering_level(result[0], float(dither))
    out = np.zeros((h, w), np.uint8)
    lib.liq_write_remapped_image(result[0], image, ffi.from_buffer(out), w * h)
    pal = lib.liq_get_palette(result[0])
    qpal = np.array([[pal.entries[i].r, pal.entries[i].g, pal.entries[i].b] for i in range(pal.count)])
    lib.liq_result_destroy(result[0])
    lib.liq_image_destroy(image)
    lib.liq_attr_destroy(attr)
    # the fixed colours come back as they were given: map each entry to its palette colour
    idx = nearest_index(srgb8_to_lab(qpal), palette.lab)
    return idx[out.astype(np.int64)]


def pixeloe_mapped(rgb: np.ndarray, palette: Palette, size: int) -> np.ndarray | None:
    """pixeloe's contrast-aware downscale, then each cell mapped to the palette by CIEDE2000; None if missing."""
    try:
        from pixeloe.legacy.pixelize import pixelize
    except ImportError:
        return None
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    small = pixelize(bgr, mode="contrast", target_size=size, patch_size=8, thickness=2, no_upscale=True)
    small = np.asarray(Image.fromarray(np.ascontiguousarray(small[..., ::-1])).resize((size, size), Image.NEAREST))
    return nearest_index(srgb8_to_lab(small), palette.lab)


def montage(name: str, source: np.ndarray, results: list[tuple[str, np.ndarray]], palette: Palette,
            folder: Path, scale: int = 8) -> Path:
    """Source and each method's cells side by side (x``scale`` nearest), labelled."""
    from PIL import ImageDraw

    size = results[0][1].shape[0] * scale
    tiles = [("source", np.asarray(Image.fromarray(source).resize((size, size), Image.BOX)))]
    tiles += [(label, np.repeat(np.repeat(palette.rgb8[idx], scale, 0), scale, 1)) for label, idx in results]
    cols = 4
    rows = (len(tiles) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * (size + 8), rows * (size + 24)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, (label, tile) in enumerate(tiles):
        x, y = (i % cols) * (size + 8), (i // cols) * (size + 24)
        sheet.paste(Image.fromarray(tile.astype(np.uint8)), (x, y + 20))
        draw.text((x + 2, y + 4), label, fill=(0, 0, 0))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"montage_{name.replace(' ', '_')}.png"
    sheet.save(path)
    return path


def run_makers(folder: Path) -> None:
    """The maker table: our defaults against the peers on photos and flat art (see the module docstring)."""
    full = load_palette("perler")
    solid = full.with_finishes()  # the default owned colours: what the peers are given too
    to_full = np.array([full.index_of(c.code) for c in solid])
    lin_pal = srgb_to_linear(full.rgb)
    totals: dict[str, list[dict]] = {}
    for name, (rgb, size) in maker_inputs().items():
        img = Image.fromarray(rgb)
        target = target_cells(img, size)
        target_lab = linear_to_lab(target)
        layout = fit_layout(img.width, img.height, size, size, "crop")
        crop = np.asarray(img.crop(layout.crop_box))
        srgb8 = np.clip(np.round(linear_to_srgb8(target)), 0, 255).astype(np.uint8)
        min_count = default_min_count(size * size)
        methods: list[tuple[str, object]] = [
            ("ours (default)", lambda: ours_pattern(img, full, size, {})),
            ("ours, all colours", lambda: ours_pattern(img, full, size, {"all_colors": True})),
            ("nearest", lambda: to_full[nearest_index(target_lab, solid.lab)]),
            ("FS (ours, clamped)", lambda: to_full[error_diffusion(target_lab, solid.lab, FLOYD_STEINBERG)]),
            ("FS (plain Lab)", lambda: to_full[error_diffusion(target_lab, solid.lab, FLOYD_STEINBERG, clamp=False)]),
            ("Pillow", lambda: to_full[pillow_remap(target, solid, False)]),
            ("Pillow FS", lambda: to_full[pillow_remap(target, solid, True)]),
            ("imagequant forced", lambda: _maybe(imagequant_forced(srgb8, solid, 0.0), to_full)),
            ("imagequant forced, dither", lambda: _maybe(imagequant_forced(srgb8, solid, 1.0), to_full)),
            ("pixeloe (mapped by dE2000)", lambda: _maybe(pixeloe_mapped(crop, solid, size), to_full)),
        ]
        print(f"\n{name} {size}x{size}, perler solid colours ({len(solid)}), minimum count {min_count}")
        print(f"  {'method':<28} {'blur dE':>8} {'dE':>6} {'small':>6} {'isol':>6} {'cols':>5} {'<min':>5} "
              f"{'spec':>5} {'s':>6}")
        shown = []
        for label, fn in methods:
            t0 = time.perf_counter()
            idx = fn()
            secs = time.perf_counter() - t0
            if idx is None:
                print(f"  {label:<28} skipped: package not installed")
                continue
            idx = np.asarray(idx, dtype=np.int64)
            counts = np.bincount(idx.ravel(), minlength=len(full))
            used = np.flatnonzero(counts)
            row = {
                "blur": blurred_delta_e(lin_pal[idx], target, sigma=SIGMA),
                "plain": plain_delta_e(lin_pal[idx], target),
                "small": small_patch_share(idx),
                "iso": isolated_fraction(idx),
                "colours": len(used),
                "under": int((counts[used] < min_count).sum()),
                "spec": int(sum(counts[i] for i in used if full[i].finish != "solid")),
                "s": secs,
            }
            totals.setdefault(label, []).append({**row, "kind": "flat" if size == 48 else "photo"})
            shown.append((label, idx))
            print(f"  {label:<28} {row['blur']:8.2f} {row['plain']:6.2f} {row['small']:6.3f} {row['iso']:6.3f} "
                  f"{row['colours']:5d} {row['under']:5d} {row['spec']:5d} {row['s']:6.2f}")
        print(f"  montage: {montage(name, crop, shown, full, folder)}")
    for kind in ("photo", "flat"):
        print(f"\nmean over {kind} inputs")
        print(f"  {'method':<28} {'blur dE':>8} {'dE':>6} {'small':>6} {'isol':>6} {'cols':>5} {'<min':>5} {'s':>6}")
        for label, rows in totals.items():
            rows = [r for r in rows if r["kind"] == kind]
            if rows:
                m = {k: float(np.mean([r[k] for r in rows])) for k in ("blur", "plain", "small", "iso", "colours",
                                                                      "under", "s")}
                print(f"  {label:<28} {m['blur']:8.2f} {m['plain']:6.2f} {m['small']:6.3f} {m['iso']:6.3f} "
                      f"{m['colours']:5.1f} {m['under']:5.1f} {m['s']:6.2f}")


def _maybe(idx: np.ndarray | None, to_full: np.ndarray) -> np.ndarray | None:
    return None if idx is None else to_full[idx]


def ours_pattern(img: Image.Image, palette: Palette, size: int, kw: dict) -> np.ndarray:
    return convert_image(img, palette, ConvertConfig(size, size, fit="crop", **kw)).index.astype(np.int64)


# --------------------------------------------------------------------------- maker sets (issue 21)


def grid_target(img: Image.Image, w: int, h: int) -> np.ndarray:
    """Linear-RGB cells of ``img`` cropped to the grid's aspect and area-averaged to ``w`` x ``h``."""
    layout = fit_layout(img.width, img.height, w, h, "crop")
    premult, _ = downsample_area(np.asarray(img.convert("RGBA").crop(layout.crop_box)), w, h)
    return premult


class SetRunner:
    """Runs our converter and plain nearest colour on the sets of benchmarks/convert_sets.py; prints figures."""

    def __init__(self, folder: Path) -> None:
        self.full = load_palette("perler")
        self.solid = self.full.with_finishes()
        self.to_full = np.array([self.full.index_of(c.code) for c in self.solid])
        self.lin = srgb_to_linear(self.full.rgb)
        self.folder = folder
        self.rows: dict[str, list] = {}
        self.figures: dict[str, list[dict]] = {}

    def nearest(self, img: Image.Image, w: int, h: int, palette: Palette | None = None) -> np.ndarray:
        pal = palette or self.solid
        idx = nearest_index(linear_to_lab(grid_target(img, w, h)), pal.lab)
        return np.array([self.full.index_of(c.code) for c in pal])[idx]

    def ours(self, img: Image.Image, w: int, h: int, **kw) -> tuple[np.ndarray, dict]:
        pat = convert_image(img, self.full, ConvertConfig(w, h, **kw))
        return pat.index.astype(np.int64), pat.metadata

    def add(self, set_name: str, source: np.ndarray, tiles: list[tuple[str, np.ndarray]]) -> None:
        self.rows.setdefault(set_name, []).append((source, tiles))

    def record(self, set_name: str, row: dict) -> None:
        self.figures.setdefault(set_name, []).append(row)

    def save_montages(self) -> None:
        from PIL import ImageDraw

        for set_name, rows in self.rows.items():
            height = 192
            sheets = []
            for source, tiles in rows:
                h, w = tiles[0][1].shape
                tw = int(round(height * w / h))
                panels = [("input", Image.fromarray(source).resize((tw, height), Image.Resampling.BOX))]
                panels += [(label, Image.fromarray(self.full.rgb8[idx]).resize((tw, height), Image.Resampling.NEAREST))
                           for label, idx in tiles]
                sheet = Image.new("RGB", (len(panels) * (tw + 6), height + 18), (255, 255, 255))
                d = ImageDraw.Draw(sheet)
                for i, (label, im) in enumerate(panels):
                    sheet.paste(im, (i * (tw + 6), 18))
                    d.text((i * (tw + 6) + 2, 3), label, fill=(0, 0, 0))
                sheets.append(sheet)
            out = Image.new("RGB", (max(s.width for s in sheets), sum(s.height for s in sheets)), (255, 255, 255))
            y = 0
            for s in sheets:
                out.paste(s, (0, y))
                y += s.height
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"sets_{set_name}.png"
            out.save(path)
            print(f"montage: {path}")


def run_sets(folder: Path, only: set[str] | None = None) -> SetRunner:
    """Issue 21's sets, each with its figure: ours (defaults and the named settings) against plain nearest."""
    from benchmarks import convert_sets as cs

    r = SetRunner(folder)
    full, solid = r.full, r.solid

    def want(name: str) -> bool:
        return only is None or name in only

    if want("logos"):
        print("\n[1] logos (64x32, Perler solid): foreign colours = colours other than the flat colours' nearest")
        print(f"  {'input':<10} {'method':<16} {'intent':<8} {'cols':>5} {'foreign':>8} {'cells':>6}")
        for seed, jpeg in ((0, None), (1, None), (2, None), (0, 70)):
            lg = cs.logo(seed, jpeg=jpeg)
            img = Image.fromarray(lg.image)
            allowed = {int(r.to_full[i]) for i in nearest_index(srgb8_to_lab(lg.colors), solid.lab)}
            name = f"logo{seed}" + ("jpeg" if jpeg else "")
            tiles = []
            for label, fn in (("nearest", lambda: (r.nearest(img, 64, 32), {})),
                              ("ours", lambda: r.ours(img, 64, 32)),
                              ("ours dominant", lambda: r.ours(img, 64, 32, resample="dominant"))):
                idx, md = fn()
                nf, nc = cs.foreign_cells(idx, allowed)
                print(f"  {name:<10} {label:<16} {md.get('intent', '-'):<8} {len(np.unique(idx)):5d} {nf:8d} {nc:6d}")
                r.record("logos", {"input": name, "method": label, "foreign": nf, "cells": nc})
                tiles.append((label, idx))
            r.add("logos", lg.image, tiles)

    if want("gradients"):
        print("\n[2] gradients (48x48, Perler solid): bands top to bottom, ordered by L*, small-patch share")
        print(f"  {'input':<8} {'method':<34} {'bands':>6} {'ordered':>8} {'small':>6}")
        cases = (("nearest", None), ("ours", {}), ("ours all, no dither, cleanup 0",
                                                   {"all_colors": True, "dither": "none", "cleanup": 0.0}),
                 ("ours intent flat", {"intent": "flat"}))
        for name, rgb in (("sky0", cs.sky(0)), ("sky1", cs.sky(1)), ("sunset", cs.sunset())):
            img = Image.fromarray(rgb)
            tiles = []
            for label, kw in cases:
                idx = r.nearest(img, 48, 48) if kw is None else r.ours(img, 48, 48, **kw)[0]
                nb, ordered = cs.bands(idx, full.lab)
                sp = small_patch_share(idx)
                print(f"  {name:<8} {label:<34} {nb:6d} {str(ordered):>8} {sp:6.3f}")
                r.record("gradients", {"input": name, "method": label, "bands": nb, "ordered": ordered,
                                       "small": sp})
                tiles.append((label, idx))
            r.add("gradients", rgb, tiles)

    if want("fur"):
        print("\n[3] small features in texture (fur with two eyes, 64x64): fur cells in the eyes' colour")
        print(f"  {'input':<8} {'method':<16} {'speckle':>8} {'eyes kept':>10} {'cols':>5}")
        for seed in (0, 1, 2):
            rgb, mask = cs.fur_eyes(seed)
            img = Image.fromarray(rgb)
            eye_cells = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize((64, 64), Image.BOX)) >= 100
            tiles = []
            for label, kw in (("nearest", None), ("ours", {})):
                idx = r.nearest(img, 64, 64) if kw is None else r.ours(img, 64, 64, **kw)[0]
                sp, kept = cs.fur_speckle(idx, eye_cells)
                print(f"  fur{seed:<5} {label:<16} {sp:8.3f} {str(kept):>10} {len(np.unique(idx)):5d}")
                r.record("fur", {"input": f"fur{seed}", "method": label, "speckle": sp, "kept": kept})
                tiles.append((label, idx))
            r.add("fur", rgb, tiles)

    if want("sprites"):
        print("\n[4] sprites with rare colours (6-11 px blocks, JPEG): exact cells against the truth")
        print(f"  {'input':<8} {'method':<26} {'exact':>7} {'cols':>5} {'truth cols':>10}")
        for seed in range(6):
            sp = cs.sprite(seed, solid.rgb8)
            truth = sp.colors[sp.labels]
            rows_, cols_ = sp.labels.shape
            img = Image.fromarray(sp.image)
            tiles = []
            for label, kw in (("ours size auto", {"auto": True}),
                              ("ours size given, dominant", {"resample": "dominant", "fit": "stretch"})):
                try:
                    if kw.pop("auto", False):
                        pat = convert_image(img, full, ConvertConfig(0, 0))
                    else:
                        pat = convert_image(img, full, ConvertConfig(cols_, rows_, **kw))
                    idx = pat.index.astype(np.int64)
                except Exception as exc:  # noqa: BLE001 - a failure is a result
                    print(f"  sprite{seed} {label}: {exc}")
                    continue
                ex = cs.exact_cells(full.rgb8[idx], truth)
                n_truth = len(np.unique(sp.labels))
                print(f"  sprite{seed:<2} {label:<26} {ex:7.3%} {len(np.unique(idx)):5d} {n_truth:10d}")
                r.record("sprites", {"input": f"sprite{seed}", "method": label, "exact": ex})
                tiles.append((label, idx))
            if tiles:
                r.add("sprites", sp.image, tiles)

    if want("photos"):
        samples = Path(__file__).resolve().parents[1] / "resources" / "samples"
        import skimage.data

        pics = {"launch pad": np.asarray(skimage.data.rocket())[..., :3]}
        for n in ("astronaut", "chelsea", "coffee"):
            pics[n] = np.asarray(Image.open(samples / f"{n}.jpg").convert("RGB"))
        kit = full.owned([c.code for c in full if c.name in cs.STARTER_KIT])
        print(f"\n[5] photos at 64x48: blurred dE / small-patch share / isolated share / colours under the minimum"
              f"\n    (Perler solid, and the {len(kit)}-colour starter kit as the owned set)")
        print(f"  {'input':<11} {'set':<6} {'method':<8} {'blur dE':>8} {'small':>6} {'isol':>6} {'cols':>5} "
              f"{'<min':>5}")
        for name, rgb in pics.items():
            img = Image.fromarray(rgb)
            target = grid_target(img, 64, 48)
            tiles = []
            for set_name, pal, kw in (("solid", solid, {}), ("kit", kit, {"owned": tuple(c.code for c in kit)})):
                for label in ("nearest", "ours"):
                    if label == "nearest":
                        idx = r.nearest(img, 64, 48, pal)
                    else:
                        idx = r.ours(img, 64, 48, **kw)[0]
                    counts = np.bincount(idx.ravel())
                    used = counts[counts > 0]
                    row = {"input": name, "set": set_name, "method": label,
                           "blur": blurred_delta_e(r.lin[idx], target, sigma=SIGMA),
                           "small": small_patch_share(idx), "iso": isolated_fraction(idx), "cols": len(used),
                           "under": int((used < default_min_count(idx.size)).sum())}
                    print(f"  {name:<11} {set_name:<6} {label:<8} {row['blur']:8.2f} {row['small']:6.3f} "
                          f"{row['iso']:6.3f} {row['cols']:5d} {row['under']:5d}")
                    r.record("photos", row)
                    tiles.append((f"{label} {set_name}", idx))
            r.add("photos", np.asarray(img.crop(fit_layout(img.width, img.height, 64, 48, "crop").crop_box)), tiles)

    if want("lattice"):
        print("\n[6] thin lattices (64x64): rows where the structure shows, its mean / max width in cells")
        print(f"  {'method':<10} {'mast shown':>10} {'width':>6} {'max':>4} {'leg shown':>10} {'width':>6} {'max':>4}")
        for seed in (0, 1):
            lat = cs.lattice(seed)
            img = Image.fromarray(lat.image)
            tiles = []
            for label, kw in (("nearest", None), ("ours", {})):
                idx = r.nearest(img, 64, 64) if kw is None else r.ours(img, 64, 64, **kw)[0]
                f = cs.line_widths(idx, full.lab, lat)
                print(f"  {label:<10} {f['mast shown']:10.2f} {f['mast width']:6.2f} {f['mast max']:4.0f} "
                      f"{f['leg shown']:10.2f} {f['leg width']:6.2f} {f['leg max']:4.0f}")
                r.record("lattice", {"input": f"lattice{seed}", "method": label, **f})
                tiles.append((label, idx))
            r.add("lattice", lat.image, tiles)

    r.save_montages()
    return r


def run_speed(repeats: int) -> None:
    """1024^2 photo -> 128^2 with artkal_s, default settings, vs plain nearest (same run, from a JPEG file)."""
    import skimage.data

    pal = load_palette("artkal_s")
    img = Image.fromarray(skimage.data.astronaut()).resize((1024, 1024), Image.Resampling.BICUBIC)
    nearest = {"intent": "photo", "cleanup": 0.0, "all_colors": True}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo1024.jpg"
        img.save(path, quality=92)
        convert_image(path, pal, ConvertConfig(128, 128))  # warm-up (imports, caches)
        timings, cpu = {}, {}
        cases = (("nearest", nearest), ("default", {}), ("cleanup 1.0", {"cleanup": 1.0}),
                 ("all colours", {"all_colors": True}))
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
    goal = timings["default"]
    print(f"  goal < 1 s with default settings: {'met' if goal < 1.0 else 'NOT met'} ({goal:.3f} s; "
          f"{goal / base:.2f}x nearest, which took {base:.3f} s here)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--classic", action="store_true", help="also the older 27-case method table")
    parser.add_argument("--quick", action="store_true", help="classic table: 2 photos, sizes 32 and 64")
    parser.add_argument("--speed-only", action="store_true", help="only the 1024^2 -> 128^2 speed test")
    parser.add_argument("--sets", nargs="*", help="only issue 21's maker sets (logos gradients fur sprites photos "
                                                   "lattice; none named: all), then the speed goal")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "out"), help="montage folder")
    args = parser.parse_args()
    if args.sets is not None:
        run_sets(Path(args.out), set(args.sets) or None)
    elif not args.speed_only:
        run_sets(Path(args.out))
        run_makers(Path(args.out))
        if args.classic or args.quick:
            summarise(run_quality(args.quick))
    run_speed(repeats=3 if args.quick else 5)


if __name__ == "__main__":
    main()
