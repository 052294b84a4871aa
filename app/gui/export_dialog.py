"""Export: pick a format and a file; the work is done by the exporters (through their registry protocol)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from engine.core.pattern import Pattern

_SUFFIXES = {"png": ".png", "gpl": ".gpl", "counts-csv": ".csv", "pes": ".pes", "dst": ".dst", "jef": ".jef",
             "exp": ".exp", "vp3": ".vp3"}


def export_formats() -> dict[str, str]:
    """format name -> description, from the exporter registry (empty if no exporter is installed)."""
    from exporters.common.registry import all_formats

    return {fmt: desc for fmt, (_mod, desc) in all_formats().items()}


def suffix_for(fmt: str) -> str:
    """File suffix for a format name (``bead-pdf`` -> ``.pdf``, ``parts-csv`` -> ``.csv``)."""
    if fmt in _SUFFIXES:
        return _SUFFIXES[fmt]
    return "." + fmt.rsplit("-", 1)[-1].lower()


class _Parser(argparse.ArgumentParser):
    """An argument parser that raises instead of exiting the app."""

    def error(self, message: str):
        from exporters.common.errors import ExportError

        raise ExportError(f"bad export option: {message}")


def default_options(extra: list[str] | None = None, **overrides) -> argparse.Namespace:
    """Every exporter's options as its CLI would parse ``extra`` (e.g. ``["--piece", "tile"]``), plus ``overrides``."""
    from exporters.common.registry import exporter_modules

    parser = _Parser(add_help=False, prog="export")
    for mod in exporter_modules():
        mod.add_cli_arguments(parser)
    args = parser.parse_args(list(extra or []))
    for k, v in overrides.items():
        setattr(args, k, v)
    return args


def export_pattern(pattern: Pattern, fmt: str, path: str | Path, extra: list[str] | None = None,
                   **options) -> list[Path]:
    """Write ``pattern`` as ``fmt`` to ``path``; ``extra`` are CLI-style exporter options, ``options`` set
    option values directly. Returns the files written."""
    from exporters.common.registry import all_formats

    formats = all_formats()
    if fmt not in formats:
        from exporters.common.errors import ExportError

        raise ExportError(f"unknown export format {fmt!r}; available: {', '.join(sorted(formats))}")
    module, _desc = formats[fmt]
    return list(module.export_cli(pattern, fmt, Path(path), default_options(extra, **options)))


class ExportDialog(QDialog):
    """Choose format, output file and the few options worth showing."""

    def __init__(self, parent: QWidget | None, default_dir: Path, base_name: str) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export pattern")
        self.setMinimumWidth(520)
        self.default_dir, self.base_name = default_dir, base_name
        self._formats = export_formats()
        self.format = QComboBox()
        for fmt, desc in self._formats.items():
            self.format.addItem(f"{fmt} — {desc}", fmt)
        self.path = QLineEdit()
        browse = QPushButton("Browse…")
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        self.scale = QSpinBox()
        self.scale.setRange(1, 64)
        self.scale.setValue(10)
        self.scale.setToolTip("PNG: pixels per cell")
        self.extra = QLineEdit()
        self.extra.setPlaceholderText("e.g. --paper a4 --true-scale, --piece tile --section 32")
        self.extra.setToolTip("Exporter options as on the command line (see: python main.py export --help)")
        self.note = QLabel()
        self.note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Format", self.format)
        form.addRow("File", row)
        form.addRow("PNG scale", self.scale)
        form.addRow("Options", self.extra)
        form.addRow(self.note)
        form.addRow(buttons)
        self.format.currentIndexChanged.connect(self._format_changed)
        browse.clicked.connect(self._browse)
        self._format_changed()

    def selected_format(self) -> str:
        return self.format.currentData() or ""

    def select_format(self, fmt: str) -> None:
        i = self.format.findData(fmt)
        if i >= 0:
            self.format.setCurrentIndex(i)

    def options(self) -> dict:
        """Keyword arguments for ``export_pattern`` (besides format and path)."""
        opts: dict = {"extra": shlex.split(self.extra.text())} if self.extra.text().strip() else {}
        if self.selected_format() == "png":
            opts["scale"] = self.scale.value()
        return opts

    def _update_note(self) -> None:
        desc = self._formats.get(self.selected_format(), "")
        self.note.setText(desc)

    def _format_changed(self, *_args) -> None:
        fmt = self.selected_format()
        current = Path(self.path.text()) if self.path.text() else self.default_dir / self.base_name
        self.path.setText(str(current.with_suffix(suffix_for(fmt))) if fmt else str(current))
        self.scale.setEnabled(fmt == "png")
        self._update_note()

    def _browse(self) -> None:
        fmt = self.selected_format()
        suffix = suffix_for(fmt)
        name, _ = QFileDialog.getSaveFileName(self, "Export to", self.path.text(), f"{fmt} (*{suffix});;All (*)")
        if name:
            self.path.setText(name)
