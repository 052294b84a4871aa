"""Colours a maker would buy: bead finishes, the colour budget, intents, the stash and LEGO Art sets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.convert.cleanup import small_patch_share
from engine.convert.intent import choose_intent
from engine.convert.pipeline import ConvertConfig, ConvertError, convert_image
from engine.convert.stash import StashError, load_set, parse_stash, read_stash, set_palette
from engine.core.palette import FINISHES, PaletteError, parse_finishes
from engine.core.palette_io import load_palette
from engine.core.pattern import Pattern

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "resources" / "samples"
BEADS = ROOT / "resources" / "palettes" / "beads"


def _speciality(pattern: Pattern) -> set[str]:
    return {pattern.palette[i].finish for i in pattern.used_indices()} - {"solid"}


# ----------------------------------------------------------------------------- finishes


def test_every_bead_colour_has_a_known_finish_and_hama_speciality_beads_are_marked():
    for path in BEADS.glob("*.json"):
        for c in json.loads(path.read_text())["colors"]:
            assert c.get("finish", "solid") in FINISHES, (path.name, c)
    hama = load_palette("hama")
    finish = {c.code: c.finish for c in hama}
    assert finish["H19"] == "clear" and finish["H25"] == "translucent" and finish["H13"] == "translucent"
    assert finish["H56"] == "glow" and finish["H38"] == "neon" and finish["H40"] == "neon"
    assert finish["H64"] == "pearl" and finish["H61"] == "metallic"
    assert finish["H01"] == finish["H18"] == finish["H26"] == "solid"
    artkal = {c.code: c.finish for c in load_palette("artkal_s")}
    assert artkal["SP1"] == "pearl" and artkal["SL1"] == "glitter" and artkal["ST1"] == "clear"
    assert artkal["SG2"] == "glow" and artkal["S01"] == "solid"
    # every brand with speciality beads has solid colours left for the default
    for key in ("hama", "hama_mini", "hama_maxi", "perler", "artkal_s", "mard", "diamond_dotz"):
        pal = load_palette(key)
        assert 0 < len(pal.with_finishes()) < len(pal), key


def test_parse_finishes():
    assert parse_finishes("solid") == ("solid",)
    assert parse_finishes("pearl, neon") == ("solid", "neon", "pearl")
    assert parse_finishes("all") == FINISHES
    with pytest.raises(PaletteError, match="unknown finish"):
        parse_finishes("sparkly")


def test_default_conversion_leaves_out_speciality_finishes_and_opting_in_uses_them():
    hama = load_palette("hama")
    brown = hama[hama.index_of("H25")].rgb  # translucent brown: the bead the issue found all over a cat
    neon = hama[hama.index_of("H38")].rgb
    img = np.zeros((40, 40, 3), np.uint8)
    img[:, :20] = brown
    img[:, 20:] = neon
    default = convert_image(img, hama, ConvertConfig(10, 10))
    assert _speciality(default) == set()
    assert default.palette is hama  # the pattern keeps the whole palette
    opted = convert_image(img, hama, ConvertConfig(10, 10, finishes=("solid", "translucent", "neon")))
    assert {opted.palette[i].code for i in opted.used_indices()} == {"H25", "H38"}
    only_neon = convert_image(img, hama, ConvertConfig(10, 10, finishes=parse_finishes("neon")))
    assert _speciality(only_neon) == {"neon"}
    # explicitly owned codes are used whatever their finish
    owned = convert_image(img, hama, ConvertConfig(10, 10, owned=("H25", "H01")))
    assert {owned.palette[i].code for i in owned.used_indices()} <= {"H25", "H01"}
    assert "H25" in {owned.palette[i].code for i in owned.used_indices()}


def test_photo_with_defaults_has_no_speciality_beads(sample_image_path):
    pat = convert_image(sample_image_path, load_palette("hama"), ConvertConfig(58, 39))
    assert _speciality(pat) == set()


# ----------------------------------------------------------------------------- colour budget


def test_no_colour_below_the_minimum_and_merges_are_reported():
    perler = load_palette("perler")
    pat = convert_image(SAMPLES / "astronaut.jpg", perler, ConvertConfig(48, 48))
    counts = [n for _, _, n in pat.color_counts()]
    assert min(counts) >= pat.metadata["min_count"] >= 3
    assert len(counts) <= 32
    everything = convert_image(SAMPLES / "astronaut.jpg", perler,
                               ConvertConfig(48, 48, all_colors=True, cleanup=0.0, intent="photo"))
    assert len(everything.used_indices()) > len(counts)
    strict = convert_image(SAMPLES / "astronaut.jpg", perler, ConvertConfig(48, 48, min_count=40, all_colors=True))
    assert min(n for _, _, n in strict.color_counts()) >= 40
    merged = strict.metadata["merged"]
    assert merged and all(m["cells"] > 0 and m["into"] for m in merged)
    final = {c.code for _, c, _ in strict.color_counts()}
    assert all(m["code"] not in final for m in merged if m["reason"] == "min-count")


def test_max_colors_is_exact_and_min_count_validated(sample_image_path):
    perler = load_palette("perler")
    pat = convert_image(sample_image_path, perler, ConvertConfig(30, 20, max_colors=3, min_count=1))
    assert len(pat.metadata["selected_colors"]) == 3
    with pytest.raises(ConvertError, match="minimum count"):
        convert_image(sample_image_path, perler, ConvertConfig(10, 10, min_count=0))


# ----------------------------------------------------------------------------- intents


def _cartoon(size: int = 96) -> np.ndarray:
    """A drawn cartoon: sky, grass, a sun and a house with a door, in colours no palette has exactly."""
    img = np.zeros((size, size, 3), np.uint8)
    img[:] = (120, 190, 235)
    img[size * 2 // 3:] = (95, 170, 60)
    yy, xx = np.mgrid[:size, :size]
    img[(yy - size // 5) ** 2 + (xx - size * 4 // 5) ** 2 < (size // 9) ** 2] = (250, 205, 40)
    img[size // 3:size * 3 // 4, size // 6:size // 2] = (205, 80, 60)
    img[size // 2:size * 3 // 4, size // 4:size // 3] = (95, 60, 35)
    return img


def test_flat_art_keeps_each_flat_region_one_colour():
    img = _cartoon()
    perler = load_palette("perler")
    pat = convert_image(img, perler, ConvertConfig(32, 32))
    assert pat.metadata["intent"] == "flat"
    idx = pat.index
    # the inside of every source region (away from anti-aliased edges) is a single colour
    assert len(np.unique(idx[2:8, 2:8])) == 1  # sky
    assert len(np.unique(idx[25:31, 2:30])) == 1  # grass
    assert len(np.unique(idx[12:16, 6:8])) == 1  # wall
    assert small_patch_share(idx) <= 0.02
    # photo intent forced on the same picture: the flat areas stay flat too
    photo = convert_image(img, perler, ConvertConfig(32, 32, intent="photo"))
    assert len(np.unique(photo.index[2:8, 2:8])) == 1


def test_auto_intent_tells_photos_from_flat_art(sample_image_path):
    from engine.core.color import linear_to_lab, srgb_to_linear

    photo = np.asarray(Image.open(sample_image_path).convert("RGB").resize((60, 40), Image.BOX))
    intent, reason = choose_intent(photo, linear_to_lab(srgb_to_linear(photo / 255.0)))
    assert intent == "photo" and reason
    flat = _cartoon(64)
    intent, _ = choose_intent(flat, linear_to_lab(srgb_to_linear(flat / 255.0)))
    assert intent == "flat"


def test_one_cell_high_contrast_detail_is_kept():
    """A star in a dark sky (one cell) survives the photo cleanup and the colour budget; the moon stays round."""
    perler = load_palette("perler")
    size = 32
    yy = np.linspace(0, 1, size * 8)[:, None]
    sky = np.zeros((size * 8, size * 8, 3))
    sky[:] = np.concatenate([20 + 40 * yy, 30 + 50 * yy, 70 + 60 * yy], axis=1)[:, None, :]
    img = sky.astype(np.uint8)
    y, x = np.mgrid[:size * 8, :size * 8]
    img[(y - 8 * 22) ** 2 + (x - 8 * 8) ** 2 < (8 * 3) ** 2] = (245, 245, 235)  # the moon
    img[8 * 10:8 * 11, 8 * 17:8 * 18] = 255  # one cell-sized white star
    img[8 * 5:8 * 6, 8 * 26:8 * 27] = (255, 225, 150)  # a second, yellowish star
    pat = convert_image(img, perler, ConvertConfig(size, size, intent="photo"))
    lab = perler.lab[pat.index]
    assert lab[10, 17, 0] > 80 and lab[5, 26, 0] > 75  # still light beads
    assert lab[10, 17, 0] - np.median(lab[8:13, 15:20, 0]) > 40
    assert (lab[21:24, 7:10, 0] > 80).all()  # the moon


# ----------------------------------------------------------------------------- stash and sets


def test_stash_is_never_exceeded(sample_image_path, tmp_path):
    perler = load_palette("perler")
    free = convert_image(sample_image_path, perler, ConvertConfig(30, 20, min_count=1))
    counts = {c.code: n for _, c, n in free.color_counts()}
    top = max(counts, key=counts.get)
    stash_file = tmp_path / "stash.csv"
    lines = ["code,count"] + [f"{code},{n}" for code, n in counts.items() if code != top]
    lines.append(f"{top},{counts[top] // 3}")
    neighbours = [c.code for c in perler.with_finishes() if c.code not in counts][:12]
    lines += [f"{code},200" for code in neighbours]
    stash_file.write_text("\n".join(lines) + "\n")
    stash = read_stash(stash_file, perler)
    assert stash[top] == counts[top] // 3
    pat = convert_image(sample_image_path, perler, ConvertConfig(30, 20, stash=stash))
    used = {c.code: n for _, c, n in pat.color_counts()}
    assert all(n <= stash.get(code, 0) for code, n in used.items()), used
    assert any(m["code"] == top for m in pat.metadata["merged"])
    # not enough pieces at all: refused, naming the shortfall
    small = {code: 5 for code in list(stash)[:4]}
    with pytest.raises(ConvertError, match=r"short by \d+"):
        convert_image(sample_image_path, perler, ConvertConfig(30, 20, stash=small))


def test_stash_file_errors():
    perler = load_palette("perler")
    assert parse_stash("80-19001,10\n80-19001,5\n", perler) == {"80-19001": 15}
    with pytest.raises(StashError, match="not in palette"):
        parse_stash("code,count\nNOPE,3\n", perler)
    with pytest.raises(StashError, match="line 2: count"):
        parse_stash("code,count\n80-19001,many\n", perler)
    with pytest.raises(StashError, match="negative"):
        parse_stash("80-19001,-2\n", perler)
    with pytest.raises(StashError, match="no colours"):
        parse_stash("code,count\n", perler)


def test_lego_art_sets_rebuild_within_the_inventory():
    iron = load_set("31199")
    assert iron.key == "iron_man" and load_set("Iron Man") is iron
    with pytest.raises(StashError, match="matches 2 sets"):
        load_set("41935")  # square and round tile versions
    with pytest.raises(StashError, match="unknown set"):
        load_set("no such set")
    with pytest.raises(StashError, match="brick palette"):
        set_palette(iron, load_palette("perler"))
    pal, stash = set_palette(iron, load_palette("lego"))
    assert sum(stash.values()) == iron.total and len(pal) == len(stash)
    pat = convert_image(SAMPLES / "astronaut.jpg", pal, ConvertConfig(48, 48, stash=stash, finishes=("all",)))
    used = {c.code: n for _, c, n in pat.color_counts()}
    assert all(n <= stash[code] for code, n in used.items())
    with pytest.raises(ConvertError, match="short by"):
        convert_image(SAMPLES / "astronaut.jpg", pal, ConvertConfig(64, 64, stash=stash, finishes=("all",)))


# ----------------------------------------------------------------------------- CLI


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "convert", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_cli_finishes_budget_and_set(tmp_path):
    hama = load_palette("hama")
    img = np.zeros((40, 40, 3), np.uint8)
    img[:, :20] = hama[hama.index_of("H25")].rgb
    img[:, 20:] = hama[hama.index_of("H64")].rgb
    src = tmp_path / "two.png"
    Image.fromarray(img).save(src)
    out = tmp_path / "a.pixl"
    res = _run(str(src), "--palette", "hama", "--size", "10x10", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert _speciality(Pattern.load(out)) == set()
    assert "intent: flat" in res.stdout
    res = _run(str(src), "--palette", "hama", "--size", "10x10", "--finishes", "translucent,pearl", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert _speciality(Pattern.load(out)) == {"translucent", "pearl"}
    assert "(translucent)" in res.stdout and "(pearl)" in res.stdout
    # min count: the summary says what was merged
    res = _run(str(SAMPLES / "chelsea.jpg"), "--palette", "perler", "--size", "30x20", "--min-count", "30",
               "--all-colors", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "merged " in res.stdout and "minimum 30 cells per colour" in res.stdout
    assert min(n for _, _, n in Pattern.load(out).color_counts()) >= 30
    # rebuild from a LEGO Art set
    res = _run(str(SAMPLES / "chelsea.jpg"), "--palette", "lego", "--set", "iron_man", "--size", "48x32",
               "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "31199" in res.stdout and "owned" in res.stdout
    res = _run(str(SAMPLES / "chelsea.jpg"), "--palette", "perler", "--stash", str(tmp_path / "none.csv"),
               "--size", "8x8", "--out", str(out))
    assert res.returncode == 2 and "cannot read stash" in res.stderr


def test_pixel_art_intent_samples_each_sprite_cell():
    """A sprite upscaled x8: pixel-art intent gives one exact palette colour per sprite pixel (grid detection when
    engine.convert.grid is installed, else the per-cell average, which is exact for an aligned integer grid)."""
    perler = load_palette("perler")
    rng = np.random.default_rng(5)
    sprite_idx = rng.integers(0, 6, (12, 16))
    sprite = perler.rgb8[[0, 5, 17, 25, 40, 60]][sprite_idx]
    big = np.repeat(np.repeat(sprite, 8, axis=0), 8, axis=1)
    pat = convert_image(big, perler, ConvertConfig(16, 12, intent="pixel-art", all_colors=True, min_count=1))
    assert pat.metadata["intent"] == "pixel-art"
    np.testing.assert_array_equal(pat.to_rgb(), sprite)


def test_flat_art_keeps_a_pupil_smaller_than_a_cell():
    """Contrast-aware targets in flat intent: a dark dot a quarter of a cell in size still gets a dark bead, and so
    does a mouth drawn 2 px thick (a quarter of a cell) in the same dark colour."""
    perler = load_palette("perler")
    img = np.zeros((160, 160, 3), np.uint8)
    img[:] = (250, 214, 170)  # a face
    img[:, :40] = (120, 190, 235)
    img[83:88, 83:88] = (20, 20, 30)  # the pupil: 5x5 px inside the 8x8 px cell (10, 10)
    img[123:125, 72:120] = (20, 20, 30)  # the mouth: 2 px thick across cells (15, 9..14)
    pat = convert_image(img, perler, ConvertConfig(20, 20))
    assert pat.metadata["intent"] == "flat"
    lab = perler.lab[pat.index]
    assert lab[10, 10, 0] < 40 and np.median(lab[5:15, 8:18, 0]) > 75
    assert (lab[15, 9:15, 0] < 40).all()
    plain = convert_image(img, perler, ConvertConfig(20, 20, intent="photo", cleanup=0.0))
    assert perler.lab[plain.index][10, 10, 0] > lab[10, 10, 0] + 20  # the area mean alone is much lighter
