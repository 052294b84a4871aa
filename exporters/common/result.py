"""What one export wrote: the files, the summary lines for the user and the warnings, kept apart."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ExportResult:
    """The outcome of one export.

    ``files`` are the paths written (the main file first, then any companions such as a preview); ``report`` the
    summary lines in plain words (sizes, counts, pages); ``warnings`` what the maker should look at before using
    the files, one plain sentence each, never repeated in ``report``.
    """

    files: list[Path] = field(default_factory=list)
    report: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
