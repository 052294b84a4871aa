"""Developer script: regenerate resources/palettes/*/*.json from the raw colour tables.

Run once when the source data changes::

    python resources/palettes/build_from_shared.py ../shared/data/palettes

The app never reads the raw tables: it reads only the JSON written here.
"""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine.core.medium import (  # noqa: E402
    BEAD_MAXI,
    BEAD_MIDI,
    BEAD_MINI,
    BEAD_MINI_ARTKAL,
    PIXEL,
    THREAD,
    Medium,
)
from engine.core.palette import Palette, PaletteColor, parse_hex_color  # noqa: E402
from engine.core.palette_io import write_json  # noqa: E402

OUT = Path(__file__).resolve().parent
BEADCOLORS = "beadcolors by maxcleme (MIT), community-measured RGB"

# key: (file stem, display name, medium)
BEADS = {
    "perler": ("perler", "Perler (midi 5 mm)", BEAD_MIDI),
    "perler_mini": ("perler_mini", "Perler Mini (2.6 mm)", BEAD_MINI),
    "perler_caps": ("perler_caps", "Perler Caps", BEAD_MIDI),
    "hama": ("hama", "Hama Midi (5 mm)", BEAD_MIDI),
    "hama_mini": ("hama_mini", "Hama Mini (2.6 mm)", BEAD_MINI),
    "hama_maxi": ("hama_maxi", "Hama Maxi (10 mm)", BEAD_MAXI),
    "nabbi": ("nabbi", "Nabbi (5 mm)", BEAD_MIDI),
    "artkal_s": ("artkal_s", "Artkal S (5 mm soft)", BEAD_MIDI),
    "artkal_r": ("artkal_r", "Artkal R (5 mm)", BEAD_MIDI),
    "artkal_a": ("artkal_a", "Artkal A (2.6 mm)", BEAD_MINI_ARTKAL),
    "artkal_c": ("artkal_c", "Artkal C (2.6 mm)", BEAD_MINI_ARTKAL),
    "artkal_m": ("artkal_m", "Artkal M (2.6 mm)", BEAD_MINI_ARTKAL),
    "mard": ("mard", "MARD (2.6 mm)", BEAD_MINI),
    "yant": ("yant", "Yant (2.6 mm)", BEAD_MINI),
    "diamond_dotz": ("diamondDotz", "Diamond Dotz drills", Medium("bead", 2.5, "drill", ())),
}


# MARD ships 221 standard colours (series A-H and M); the other series are speciality beads. The tables give no
# finish for them: this is inferred from the series letter and the colours (pale pastels for pearl, saturated
# candy colours for jelly, the usual glow hues for Y), not from a maker's list.
_MARD_SERIES = {"P": "pearl", "Q": "neon", "R": "translucent", "T": "clear", "Y": "glow", "ZG": "glitter"}
# Names that look like a finish but are plain opaque colours (a colour named after a pearl or frost).
_SOLID_NAMES = {"pink pearl", "black pearl", "frosty blue", "frosty pink", "frosted lilac", "frost"}


def bead_finish(key: str, code: str, name: str) -> tuple[str, str]:
    """(finish, note) of one bead colour from its brand, code and name.

    Finishes: solid, clear, translucent, glow, neon, pearl, glitter, metallic, iridescent. The note says when
    the finish is inferred rather than named.
    """
    low = name.lower().strip()
    if key == "mard":
        series = code.rstrip("0123456789")
        if series in _MARD_SERIES:
            return _MARD_SERIES[series], f"MARD speciality series {series}: finish inferred from the series"
        return "solid", ""
    if key == "diamond_dotz" and low.endswith(" ab"):
        return "iridescent", "AB (aurora borealis) coating"
    if low in _SOLID_NAMES or (key == "diamond_dotz" and "pearl" in low):
        return "solid", ""
    if "glow" in low:
        return "glow", ""
    if "neon" in low or "fluorescent" in low:
        return "neon", ""
    if low in ("clear", "transparent"):
        return "clear", ""
    if "transparent" in low or "translucent" in low:
        return "translucent", ""
    if "glitter" in low:
        return "glitter", ""
    if "pearl" in low:
        return "pearl", ""
    if "metallic" in low:
        return "metallic", ""
    if key.startswith("hama") and low in ("gold", "silver", "bronze"):
        return "metallic", "Hama's metallic range"
    if key.startswith("artkal") and low in ("silver", "copper"):
        return "metallic", "named like Artkal's metallic gold; treated as metallic"
    return "solid", ""


def build_beads(src: Path) -> None:
    (OUT / "beads").mkdir(exist_ok=True)
    shutil.copy(src / "beads" / "LICENSE", OUT / "beads" / "LICENSE")
    for key, (stem, name, medium) in BEADS.items():
        colors = []
        with open(src / "beads" / f"{stem}.csv", encoding="utf-8") as fh:
            for row in csv.reader(fh):
                if not row:
                    continue
                code, label, symbol, r, g, b = row[:6]
                finish, note = bead_finish(key, code, label)
                colors.append(PaletteColor(code, label, (int(r), int(g), int(b)), symbol or None,
                                           finish=finish, note=note))
        pal = Palette(name, tuple(colors), medium, key, "beads", BEADCOLORS, "beads/LICENSE")
        write_json(pal, OUT / "beads" / f"{key}.json")


def build_threads(src: Path) -> None:
    (OUT / "threads").mkdir(exist_ok=True)
    shutil.copy(src / "threads" / "LICENSE", OUT / "threads" / "LICENSE")
    colors = []
    with open(src / "threads" / "dmc_floss.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            colors.append(PaletteColor(row["dmc"], row["name"], parse_hex_color(row["hex"]), None, {"dmc": row["dmc"]}))
    write_json(Palette("DMC stranded cotton", tuple(colors), THREAD, "dmc", "threads",
                       "dmc by Sharla Gelfand (MIT)", "threads/LICENSE"), OUT / "threads" / "dmc.json")

    import pyembroidery

    charts = {
        "brother_pec": (pyembroidery.EmbThreadPec, "Brother PEC 64"),
        "janome_jef": (pyembroidery.EmbThreadJef, "Janome (JEF)"),
        "janome_sew": (pyembroidery.EmbThreadSew, "Janome (SEW)"),
        "husqvarna": (pyembroidery.EmbThreadHus, "Husqvarna Viking (HUS)"),
        "pfaff_shv": (pyembroidery.EmbThreadShv, "Husqvarna/Pfaff (SHV)"),
    }
    (OUT / "threads" / "LICENSE-pyembroidery").write_text(
        "Thread charts taken from the tables in pyembroidery (MIT License, Copyright (c) 2018 Tatarize).\n"
    )
    for key, (cls, name) in charts.items():
        colors, seen = [], set()
        for t in cls.get_thread_set():
            if t is None or t.catalog_number in seen or t.description == "Unknown":
                continue
            seen.add(t.catalog_number)
            colors.append(PaletteColor(str(t.catalog_number), t.description, parse_hex_color(t.hex_color()), None,
                                       {"chart": name, "chart_index": str(len(colors))}))
        write_json(Palette(name, tuple(colors), THREAD, key, "threads", "pyembroidery thread tables (MIT)",
                           "threads/LICENSE-pyembroidery"), OUT / "threads" / f"{key}.json")


def build_pixelart(src: Path) -> None:
    (OUT / "pixelart").mkdir(exist_ok=True)
    for path in sorted((src / "pixelart").glob("*.hex")):
        colors = []
        for line in path.read_text().split():
            colors.append(PaletteColor(str(len(colors) + 1), "#" + line.upper(), parse_hex_color(line)))
        key = path.stem.replace("-", "_")
        write_json(Palette(path.stem, tuple(colors), PIXEL, key, "pixelart", "Lospec community palette", ""),
                   OUT / "pixelart" / f"{key}.json")


if __name__ == "__main__":
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/palettes")
    build_beads(source)
    if "--beads-only" in sys.argv:
        sys.exit(0)
    # LEGO colours: resources/palettes/build_lego.py (cross-checked against a second source)
    build_threads(source)
    build_pixelart(source)
    print("palettes written to", OUT)
