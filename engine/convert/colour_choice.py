"""The maker's colour choices, one implementation for `convert`, `generate` and the app.

Which palette colours a pattern may use (solid finishes by default, owned colours, a stash with counts, a LEGO Art
set) and the colour budget (exactly K colours, or as many as the picture needs; no colour used fewer than a
minimum count). ``resolve_colours`` turns a ``ColourChoice`` (what the user said) into the palette and a
``ColourBudget`` (the ConvertConfig fields); ``pick_colours`` picks the colours the converter would use for a
picture (SD-piXL's palette for a run), ``obey_budget`` folds rare colours and over-used stock out of a finished
index map (SD-piXL's last step).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.convert.budget import default_min_count, enforce_capacity, fold_rare
from engine.convert.pipeline import ConvertConfig, ConvertError, allowed_colors, convert_image
from engine.convert.stash import StashError, load_set, read_stash, set_palette
from engine.core.palette import DEFAULT_FINISHES, FINISHES, Palette, PaletteError, parse_finishes


@dataclass
class ColourChoice:
    """What the user said about colours (the CLI's --owned, --finishes, --all-finishes, --stash, --set,
    --max-colors, --min-count, --all-colors; the app's owned ticks, stock column and colour budget)."""

    owned: tuple[str, ...] | None = None  # only these codes (whatever their finish)
    finishes: str | tuple[str, ...] = DEFAULT_FINISHES  # finishes besides solid ("all" for every one)
    all_finishes: bool = False
    stash_file: str | None = None  # CSV "code,count"
    stash: dict[str, int] | None = None  # counts given directly (the app's stock column)
    lego_set: str | None = None  # rebuild from a LEGO Art set's pieces
    max_colors: int | None = None  # exactly the best K colours
    min_count: int | None = None  # no colour used fewer times (default from the pattern size)
    all_colors: bool = False  # no colour budget


@dataclass
class ColourBudget:
    """The colour fields of a conversion (ConvertConfig's) once the choice is resolved against a palette."""

    finishes: tuple[str, ...] = DEFAULT_FINISHES
    stash: dict[str, int] | None = None
    max_colors: int | None = None
    min_count: int | None = None
    all_colors: bool = False

    def convert_fields(self) -> dict:
        """Keyword arguments for ConvertConfig."""
        return {"finishes": self.finishes, "stash": self.stash, "max_colors": self.max_colors,
                "min_count": self.min_count, "all_colors": self.all_colors}

    def min_count_for(self, cells: int) -> int:
        """The minimum number of cells per colour for a pattern of ``cells`` filled cells."""
        if self.min_count is not None:
            return int(self.min_count)
        return 1 if self.all_colors else default_min_count(cells)


@dataclass
class ResolvedColours:
    """A choice applied to a palette: the palette to use, the budget and lines to tell the user."""

    palette: Palette
    budget: ColourBudget
    notes: list[str] = field(default_factory=list)


def resolve_colours(palette: Palette, choice: ColourChoice) -> ResolvedColours:
    """Apply ``choice`` to ``palette`` as `convert` does: a set gives its palette and pieces as the stash, a stash
    file is read, owned codes narrow the palette (every finish of a named code is allowed). ConvertError when
    something cannot be used (the message says what to do)."""
    if choice.stash_file and choice.lego_set:
        raise ConvertError("give either --stash or --set, not both")
    notes: list[str] = []
    stash = dict(choice.stash) if choice.stash is not None else None
    try:
        if choice.lego_set:
            lego_set = load_set(choice.lego_set)
            palette, stash = set_palette(lego_set, palette)
            notes.append(f"set {lego_set.number} {lego_set.name}: {lego_set.total} pieces in {len(stash)} colours")
        elif choice.stash_file:
            stash = read_stash(choice.stash_file, palette)
    except StashError as exc:
        raise ConvertError(str(exc)) from None
    try:
        if choice.owned:
            palette = palette.owned(list(choice.owned))
        every = choice.all_finishes or choice.lego_set or choice.owned
        finishes = parse_finishes("all" if every else choice.finishes)
    except PaletteError as exc:
        raise ConvertError(str(exc)) from None
    budget = ColourBudget(finishes, stash, choice.max_colors, choice.min_count, choice.all_colors)
    check = ConvertConfig(1, 1, **budget.convert_fields())
    check.validate()  # K or the minimum count out of range: the converter's own message
    allowed_colors(palette, check)  # nothing allowed: one clear error
    return ResolvedColours(palette, budget, notes)


def allowed_palette(palette: Palette, budget: ColourBudget) -> Palette:
    """The colours a pattern may use at all (finishes, stock in the stash), as a palette."""
    allowed = allowed_colors(palette, ConvertConfig(1, 1, **budget.convert_fields()))
    return palette if len(allowed) == len(palette) else palette.subset(allowed, name=palette.name)


def pick_colours(picture, palette: Palette, budget: ColourBudget, width: int, height: int) -> Palette:
    """The colours the fast converter uses for ``picture`` (path, Pillow image or H x W x 3 array) at this size
    and budget (K colours, or the knee of the error curve; minimum count; stash), as a palette in palette order.
    With ``all_colors`` every allowed colour."""
    if budget.all_colors and budget.max_colors is None:
        return allowed_palette(palette, budget)
    draft = convert_image(picture, palette, ConvertConfig(width=width, height=height, **budget.convert_fields()))
    codes = [draft.palette[i].code for i in draft.used_indices()]
    return palette.subset(codes, name=palette.name) if codes else allowed_palette(palette, budget)


def obey_budget(index: np.ndarray, target_lab: np.ndarray, palette: Palette,
                budget: ColourBudget) -> tuple[np.ndarray, dict[int, dict[int, int]]]:
    """``index`` (H x W positions in ``palette``) with no colour used beyond its stock and none fewer than the
    minimum count; cells move to the colour closest to ``target_lab`` (H x W x 3 CIELAB, e.g. the design's soft
    render) with a penalty per differing neighbour. Returns ``(index, {removed: {into: cells}})``."""
    index = np.asarray(index, dtype=np.int64)
    capacity = None
    if budget.stash is not None:
        capacity = np.zeros(len(palette), dtype=np.int64)
        for code, n in budget.stash.items():
            try:
                capacity[palette.index_of(str(code))] += int(n)
            except PaletteError:
                continue
        if capacity.sum() >= index.size:
            index, _ = enforce_capacity(index, target_lab, palette.lab, capacity)
        else:
            capacity = None  # the stash cannot cover the pattern: the minimum count still applies
    return fold_rare(index, target_lab, palette.lab, budget.min_count_for(index.size), capacity=capacity)


def finish_names() -> str:
    """The finishes besides solid, for help texts."""
    return ", ".join(FINISHES[1:])
