"""Brick-mosaic export options, declared once (exporters.common.optspec): the CLI flags, the app's widgets and the
exporter all read this dataclass. Each option names the formats it applies to."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from exporters.common.optspec import option
from exporters.common.shared_options import spares_min_option, spares_option, title_option

BRICK_FORMATS = ("parts-csv", "bricklink-xml", "rebrickable-csv", "build-pdf")

# piece -> plain words (the part tables live in exporters.bricks.mosaic.PIECE_PARTS, same keys)
PIECES = {"plate": "1x1 plates", "tile": "1x1 tiles (smooth)", "round-plate": "1x1 round plates",
          "round-tile": "1x1 round tiles", "brick": "1x1 bricks",
          "merged-plate": "plates, same-colour areas merged into larger plates",
          "merged-tile": "tiles, same-colour areas merged into larger tiles"}
SECTION_SIZES = (8, 16, 32, 48)
BASE_CHOICES = {"plate-16": "16 x 16 plates (91405), as LEGO Art canvases",
                "baseplate": "one baseplate per section (16: 3867, 32: 3811, 48: 4186)", "none": "no bases"}
BASE_ALIASES = {"auto": "plate-16"}  # the name of the default in earlier versions
JOIN_CHOICES = {"layer": "a second layer of plates under the seams (in the order)",
                "none": "nothing: my own frame or board"}
CONDITIONS = {"none": "not said", "N": "new", "U": "used", "X": "new or used"}
BASE_COLORS = ("11", "1", "86", "85", "2", "69", "7", "5", "6", "36", "3", "88")  # BrickLink ids offered first


@lru_cache(maxsize=1)
def base_color_names() -> tuple[dict[str, str], dict[str, str]]:
    """BrickLink id -> colour name and -> hex of the offered base colours (from the shipped LEGO palette)."""
    from engine.core.palette_io import load_palette

    by_bl = {c.ids.get("bricklink"): c for c in load_palette("lego")}
    return ({bl: f"{by_bl[bl].name} (BrickLink {bl})" for bl in BASE_COLORS if bl in by_bl},
            {bl: by_bl[bl].hex for bl in BASE_COLORS if bl in by_bl})


def _base(text: str) -> str:
    """A base choice ('auto' is the earlier name of 'plate-16')."""
    text = BASE_ALIASES.get(text.strip(), text.strip())
    if text not in BASE_CHOICES:
        raise ValueError(f"{text!r} is not one of: {', '.join(BASE_CHOICES)}")
    return text


def _base_color(text: str) -> str:
    """A base colour typed as a BrickLink id ('11') or a name ('Black')."""
    text = text.strip()
    names, _ = base_color_names()
    for bl, label in names.items():
        if text.lower() in (bl, label.lower(), label.split(" (")[0].lower()):
            return bl
    if text.isdigit():
        return text  # another BrickLink id: checked against the LEGO colours by the exporter
    raise ValueError(f"{text!r} is not a BrickLink colour id or one of: {', '.join(names.values())}")


@dataclass
class BrickOptions:
    """Which pieces build the mosaic, how it is split into sections, the bases and how they join, the order."""

    piece: str = option("plate", flag="--piece", label="Pieces", choices=tuple(PIECES), choice_labels=PIECES,
                        formats=BRICK_FORMATS, group="Bricks",
                        help="the pieces that make the studs; merged pieces cover same-colour areas with larger "
                             "plates or tiles (fewer parts)")
    section: int = option(16, flag="--section", label="Section size", unit="studs", choices=SECTION_SIZES,
                          choice_labels={s: f"{s} x {s} studs" for s in SECTION_SIZES}, formats=BRICK_FORMATS,
                          group="Bricks", help="the mosaic is built and printed in square sections of this size")
    base: str = option("plate-16", flag="--base", label="Bases", choices=tuple(BASE_CHOICES),
                       choice_labels=BASE_CHOICES, parse=_base, formats=BRICK_FORMATS, group="Bricks",
                       help="the bases to order with the mosaic")
    join: str = option("layer", flag="--join", label="Joining the 16 x 16 plates", choices=tuple(JOIN_CHOICES),
                       choice_labels=JOIN_CHOICES, formats=BRICK_FORMATS, group="Bricks",
                       help="how separate 16 x 16 base plates are held together")
    base_color: str = option("11", flag="--base-color", label="Base colour", choices=BASE_COLORS,
                             choice_labels=base_color_names()[0], swatches=base_color_names()[1], parse=_base_color,
                             formats=BRICK_FORMATS, group="Bricks",
                             help="colour of the bases and the joining layer (a BrickLink colour id or name)")
    spares: float = spares_option(BRICK_FORMATS)
    spares_min: int = spares_min_option(BRICK_FORMATS)
    spares_1x1: bool = option(True, flag="--no-1x1-spares", label="A few spare 1x1 pieces", formats=BRICK_FORMATS,
                              group="Shopping",
                              help="2 % and at least 3 spare 1x1 pieces per colour, as LEGO Art sets include, "
                                   "unless spares are set above")
    condition: str = option("none", flag="--condition", label="Condition", choices=tuple(CONDITIONS),
                            choice_labels=CONDITIONS, formats=("bricklink-xml",), group="Bricks",
                            help="the condition BrickLink sellers should offer")
    title: str = title_option(("build-pdf",))
