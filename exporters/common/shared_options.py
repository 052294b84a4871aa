"""Options several exporters share, declared once: each exporter adds the field to its own options dataclass
with the formats it uses it for, and the export service joins them into one CLI flag and one app widget.

    @dataclass
    class BeadOptions:
        title: str = title_option(("bead-pdf",))
        spares: float = spares_option(("bead-pdf",))
"""

from __future__ import annotations

from typing import Any

from exporters.common.optspec import KIND_PATH, option
from exporters.common.shopping import SpareRule


def title_option(formats: tuple[str, ...]) -> Any:
    """``--title``: the title printed on the first page."""
    return option("", flag="--title", label="Title", formats=formats, group="Printing",
                  help="title printed on the first page (empty: the pattern's name)")


def spares_option(formats: tuple[str, ...]) -> Any:
    """``--spares``: extra pieces per colour/part, in percent."""
    return option(0.0, flag="--spares", label="Spares", unit="%", formats=formats, minimum=0, maximum=100,
                  group="Shopping", help="extra pieces per colour or part, as a share of the count")


def spares_min_option(formats: tuple[str, ...]) -> Any:
    """``--spares-min``: at least this many extra pieces per colour/part."""
    return option(0, flag="--spares-min", label="Spares, at least", unit="pieces", formats=formats, minimum=0,
                  group="Shopping", help="at least this many extra pieces per colour or part")


def bag_size_option(formats: tuple[str, ...]) -> Any:
    """``--bag-size``: pieces per bag, to list the bags needed (empty: no bag column)."""
    return option(None, flag="--bag-size", label="Beads per bag", unit="beads", formats=formats, minimum=1,
                  group="Shopping", help="beads in one bag, to list how many bags to buy per colour "
                                         "(empty: no bags)")


def stash_option(formats: tuple[str, ...]) -> Any:
    """``--stash``: a CSV of what the maker owns."""
    return option(None, flag="--stash", label="What you own (CSV)", kind=KIND_PATH, formats=formats,
                  metavar="CSV", group="Shopping",
                  help="a CSV file of 'code,count' you already own; adds owned and to-buy columns")


def spare_rule(options: Any) -> SpareRule:
    """The SpareRule of an options object with ``spares`` and ``spares_min``."""
    return SpareRule(float(getattr(options, "spares", 0.0) or 0.0), int(getattr(options, "spares_min", 0) or 0))
