"""Embroidery hoop sewing fields as data, and checking whether a design fits one."""

from __future__ import annotations

from dataclasses import dataclass

from engine.core.sizes import SizeError, parse_pair


@dataclass(frozen=True)
class Hoop:
    """A hoop's usable sewing field in millimetres (width x height as the machine shows it)."""

    name: str
    width_mm: float
    height_mm: float
    note: str = ""

    def fits(self, width_mm: float, height_mm: float) -> bool:
        """True when a design of this size fits the field without rotating it."""
        return width_mm <= self.width_mm + 1e-6 and height_mm <= self.height_mm + 1e-6

    def fits_rotated(self, width_mm: float, height_mm: float) -> bool:
        """True when the design fits only after turning it by 90 degrees."""
        return not self.fits(width_mm, height_mm) and self.fits(height_mm, width_mm)


# Common hoop sewing fields (mm). Data, not constants scattered through the code.
HOOPS: dict[str, Hoop] = {
    h.name: h
    for h in (
        Hoop("50x50", 50, 50, "small / cap inserts"),
        Hoop("100x100", 100, 100, "standard 4x4 inch"),
        Hoop("110x110", 110, 110, "Janome SQ"),
        Hoop("126x110", 126, 110, "Janome RE"),
        Hoop("130x180", 130, 180, "5x7 inch"),
        Hoop("140x200", 140, 200, "Janome SQ14"),
        Hoop("150x240", 150, 240, "6x10 inch"),
        Hoop("240x150", 240, 150, "10x6 inch, landscape"),
        Hoop("200x200", 200, 200, "8x8 inch"),
        Hoop("200x280", 200, 280, "large"),
        Hoop("260x160", 260, 160, "Brother 10x6 inch"),
        Hoop("300x200", 300, 200, "Brother 12x8 inch"),
        Hoop("360x200", 360, 200, "Janome / Bernina maxi"),
        Hoop("360x350", 360, 350, "multi-needle jumbo"),
    )
}


class HoopError(ValueError):
    """An unknown hoop name was given."""


def parse_hoop(text: str) -> Hoop:
    """A hoop by name ("130x180", "130×180 mm") or any custom "WxH" size (the one size parser: mm, cm or in)."""
    try:
        w, h = parse_pair(str(text), "hoop size", "mm")
    except SizeError as exc:
        raise HoopError(f"{exc}; or one of: {', '.join(HOOPS)}") from None
    name = f"{w:g}x{h:g}"
    if name in HOOPS:
        return HOOPS[name]
    return Hoop(name, w, h, "custom")


def smallest_fitting_hoop(width_mm: float, height_mm: float) -> Hoop | None:
    """The listed hoop with the smallest area that holds the design (unrotated), or None."""
    fitting = [h for h in HOOPS.values() if h.fits(width_mm, height_mm)]
    return min(fitting, key=lambda h: (h.width_mm * h.height_mm, h.name)) if fitting else None
