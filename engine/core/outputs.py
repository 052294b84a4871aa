"""Output paths that never lose work: no output onto an input or onto another output, suffixes that match."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from engine.core.atomic import OutputPathError, check_writable_dir

# The file suffixes each output format is written with (the first is the one to suggest).
FORMAT_SUFFIXES: dict[str, tuple[str, ...]] = {
    "pixl": (".pixl",),
    "png": (".png",),
    "chart-png": (".png",),
    "stitch-png": (".png",),
    "gpl": (".gpl",),
    "counts-csv": (".csv",),
    "parts-csv": (".csv",),
    "bead-pdf": (".pdf",),
    "build-pdf": (".pdf",),
    "bricklink-xml": (".xml",),
    "dst": (".dst",),
    "pes": (".pes",),
    "jef": (".jef",),
    "exp": (".exp",),
    "vp3": (".vp3",),
    "hex": (".hex",),
    "json": (".json",),
}


def _same_file(a: Path, b: Path) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


KNOWN_SUFFIXES = frozenset(s for suffixes in FORMAT_SUFFIXES.values() for s in suffixes)


def check_suffix(path: str | Path, fmt: str) -> None:
    """Refuse ``path`` when its suffix belongs to another format than ``fmt`` (PES bytes in ``x.dst``).

    A suffix no format uses (``.out``, ``.bin``) or none at all is the user's explicit choice and is kept.
    """
    path = Path(path)
    wanted = FORMAT_SUFFIXES.get(fmt.lower())
    if wanted and path.suffix.lower() in KNOWN_SUFFIXES and path.suffix.lower() not in wanted:
        got = f"{path.suffix!r}" if path.suffix else "no suffix"
        raise OutputPathError(
            f"{path.name} has {got} but format {fmt} writes {wanted[0]} files; "
            f"name it {path.with_suffix(wanted[0]).name} (or pick the format that matches)"
        )


def check_outputs(inputs: Iterable[str | Path | None], outputs: Iterable[tuple[str | Path | None, str | None]]
                  ) -> list[Path]:
    """Check the outputs of one command before anything is written.

    ``outputs`` are (path, format) pairs (format None: suffix not checked; path None: skipped). Refuses an
    output that resolves to an input or to another output, a suffix that does not match its format, and a
    folder that is missing or not writable. Returns the output paths.
    """
    ins = [Path(p) for p in inputs if p is not None]
    seen: list[Path] = []
    for raw, fmt in outputs:
        if raw is None:
            continue
        out = Path(raw)
        for src in ins:
            if _same_file(out, src):
                raise OutputPathError(
                    f"output {out} is the input file {src}; writing it would destroy the input, "
                    "choose another output name")
        for prev in seen:
            if _same_file(out, prev):
                raise OutputPathError(f"two outputs of this command are the same file {out}; give each its own name")
        if fmt:
            check_suffix(out, fmt)
        check_writable_dir(out)
        seen.append(out)
    return seen
