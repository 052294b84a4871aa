"""Export: choose formats (those of the pattern's medium first), a folder and a name, and every exporter option.

The option widgets are generated from the exporters' own argparse declarations (``exporters.common.options``),
so an option added to an exporter appears here without GUI code. Choices are remembered in QSettings: the
formats per medium, the option values and the folder. After an export, :class:`ExportSummaryDialog` lists what
was written with "Open file" and "Show in folder".
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QStandardPaths, Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.gui import settings
from engine.core.pattern import Pattern

log = logging.getLogger(__name__)

INSTALL_DIR = Path(__file__).resolve().parents[2]
_NONE_TEXT = "default"  # what a number option without a value (None) shows


def suffix_for(fmt: str) -> str:
    """File suffix for a format name (``bead-pdf`` -> ``.pdf``, ``parts-csv`` -> ``.csv``)."""
    from exporters.common.options import suffix_for as _suffix_for

    return _suffix_for(fmt)


def export_formats() -> dict[str, str]:
    """format name -> description, from the exporter registry (empty if no exporter is installed)."""
    from exporters.common.registry import all_formats

    return {fmt: desc for fmt, (_mod, desc) in all_formats().items()}


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


@dataclass
class ExportResult:
    """What one export wrote: the files and the summary lines for the user."""

    files: list[Path] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def export_pattern(pattern: Pattern, fmt: str, path: str | Path, extra: list[str] | None = None,
                   **options) -> list[Path]:
    """Write ``pattern`` as ``fmt`` to ``path``; ``extra`` are CLI-style exporter options, ``options`` set
    option values directly. Returns the files written."""
    return export_with_summary(pattern, fmt, path, extra, **options).files


def export_with_summary(pattern: Pattern, fmt: str, path: str | Path, extra: list[str] | None = None, *,
                        inputs: list[str | Path | None] | tuple = (), **options) -> ExportResult:
    """Like :func:`export_pattern`, with the exporter's summary lines (or file sizes) as well.

    Checked first, as the CLI does (nothing is written when a check fails): the output must not be one of
    ``inputs`` (e.g. the open project) and must suit the format (``engine.core.outputs.check_outputs``), and the
    export must fit the budgets (``exporters.common.budget.check_export``)."""
    from engine.core.outputs import check_outputs
    from exporters.common.budget import check_export
    from exporters.common.options import describe_written
    from exporters.common.registry import all_formats

    formats = all_formats()
    if fmt not in formats:
        from exporters.common.errors import ExportError

        raise ExportError(f"unknown export format {fmt!r}; available: {', '.join(sorted(formats))}")
    module, _desc = formats[fmt]
    args = default_options(extra, **options)
    check_outputs(list(inputs), [(path, fmt)])
    check_export(pattern, fmt, args)
    files = list(module.export_cli(pattern, fmt, Path(path), args))
    try:
        lines = describe_written(pattern, fmt, files, args)
    except Exception as exc:  # a summary that fails must not hide files that were written
        log.warning("no summary for %s: %s", fmt, exc)
        lines = []
    return ExportResult(files, lines)


def preflight_export(pattern: Pattern | None, inputs: list[str | Path | None] | tuple, paths: dict[str, Path],
                     options: dict[str, Any]) -> list[str]:
    """Every reason the export of ``paths`` (format -> file) would be refused, before anything is written:
    outputs that are an input (the open project) or each other, suffixes of another format, missing or read-only
    folders (``check_outputs``), and budgets per format (``check_export``). Empty when all is well."""
    from engine.core.outputs import check_outputs
    from exporters.common.budget import check_export

    errors: list[str] = []
    try:
        check_outputs(list(inputs), [(p, fmt) for fmt, p in paths.items()])
    except (OSError, ValueError) as exc:  # OutputPathError and its kin: one line for the user
        errors.append(str(exc))
    if pattern is not None:
        for fmt in paths:
            try:
                check_export(pattern, fmt, default_options(None, **options))
            except (OSError, ValueError, RuntimeError) as exc:  # ExportError, LimitError...
                errors.append(f"{fmt}: {exc}")
    return errors


def warning_lines(lines: list[str]) -> list[str]:
    """The summary lines that are warnings (exporters write them as "warning: ...")."""
    return [line.strip() for line in lines if "warning: " in line]


def default_export_folder() -> Path:
    """Where exports go: the folder used last, else the user's documents, else home - never the install folder."""
    last = settings.value("export/folder", "") or ""
    candidates = [Path(last)] if last else []
    docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    if docs:
        candidates.append(Path(docs))
    candidates.append(Path.home())
    for c in candidates:
        if c.is_dir() and not _inside_install(c):
            return c
    return Path.home()


def _inside_install(folder: Path) -> bool:
    try:
        folder.resolve().relative_to(INSTALL_DIR)
        return True
    except ValueError:
        return False


def open_url(url: QUrl) -> bool:
    """Open a file or folder with the desktop's default program (tests replace this)."""
    return QDesktopServices.openUrl(url)


class OptionWidget:
    """One exporter option's widget: checkbox (flag), combo (choices), spin box (int/float), line edit."""

    def __init__(self, spec) -> None:
        from exporters.common import options as o

        self.spec = spec
        tip = f"{spec.help_text}\n({spec.flag} on the command line; for {', '.join(spec.formats)})"
        if spec.kind == o.KIND_FLAG:
            w = QCheckBox(spec.label)
            w.setChecked(bool(spec.default))
        elif spec.kind == o.KIND_CHOICE:
            w = QComboBox()
            for c in spec.choices:
                w.addItem(str(c), c)
            w.setCurrentIndex(max(0, w.findData(spec.default)))
        elif spec.kind == o.KIND_INT:
            w = QSpinBox()
            w.setRange(0 if spec.default is None else -1_000_000, 1_000_000)
            if spec.default is None:
                w.setSpecialValueText(_NONE_TEXT)
            w.setValue(0 if spec.default is None else int(spec.default))
        elif spec.kind == o.KIND_FLOAT:
            w = QDoubleSpinBox()
            w.setDecimals(2)
            w.setSingleStep(0.1)
            w.setRange(0.0 if spec.default is None else -1e6, 1e6)
            if spec.default is None:
                w.setSpecialValueText(_NONE_TEXT)
            w.setValue(0.0 if spec.default is None else float(spec.default))
        else:
            w = QLineEdit()
            w.setText("" if spec.default is None else str(spec.default))
            w.setPlaceholderText(_NONE_TEXT if spec.default is None else "")
        w.setToolTip(tip)
        w.setObjectName(f"option_{spec.dest}")
        self.widget = w

    def value(self) -> Any:
        """The option's value as the exporter expects it (None for an unset number or text)."""
        from exporters.common import options as o

        w, spec = self.widget, self.spec
        if spec.kind == o.KIND_FLAG:
            return w.isChecked()
        if spec.kind == o.KIND_CHOICE:
            return w.currentData()
        if spec.kind in (o.KIND_INT, o.KIND_FLOAT):
            v = w.value()
            if spec.default is None and v == w.minimum():
                return None
            return int(v) if spec.kind == o.KIND_INT else float(v)
        text = w.text().strip()
        return text if text or spec.default == "" else None

    def set_value(self, value: Any) -> None:
        from exporters.common import options as o

        w, spec = self.widget, self.spec
        try:
            if spec.kind == o.KIND_FLAG:
                w.setChecked(bool(value))
            elif spec.kind == o.KIND_CHOICE:
                i = w.findData(value)
                if i >= 0:
                    w.setCurrentIndex(i)
            elif spec.kind in (o.KIND_INT, o.KIND_FLOAT):
                w.setValue(w.minimum() if value is None else (int(value) if spec.kind == o.KIND_INT else
                                                               float(value)))
            else:
                w.setText("" if value is None else str(value))
        except (TypeError, ValueError):  # a remembered value of another type: keep the default
            pass


class ExportDialog(QDialog):
    """Choose formats, folder, file name and options. ``medium`` (a medium kind: bead, brick, thread, pixel)
    puts its formats first and picks its default formats."""

    def __init__(self, parent: QWidget | None, default_dir: Path | None, base_name: str,
                 medium: str | None = None, pattern: Pattern | None = None,
                 inputs: list[str | Path | None] | tuple = ()) -> None:
        from exporters.common.options import default_formats, formats_for_medium, option_specs

        super().__init__(parent)
        self.pattern, self.inputs = pattern, [p for p in inputs if p is not None]
        self.errors_label = QLabel()
        self.errors_label.setObjectName("exportErrors")
        self.errors_label.setWordWrap(True)
        self.errors_label.setStyleSheet("color: #b00020;")
        self.errors_label.hide()
        self.setWindowTitle("Export pattern")
        self.setMinimumSize(600, 560)
        self.medium = medium or "pixel"
        self._formats = export_formats()
        fitting, other = formats_for_medium(self.medium)

        self.format_list = QListWidget()
        self.format_list.setObjectName("exportFormats")
        self.format_list.setWordWrap(True)  # whole descriptions, no sideways scrolling
        self.format_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.format_list.setResizeMode(QListWidget.ResizeMode.Adjust)
        for title, names in (("For this pattern", fitting), ("Other formats", other)):
            if not names:
                continue
            head = QListWidgetItem(title)
            head.setFlags(Qt.ItemFlag.NoItemFlags)
            font = head.font()
            font.setBold(True)
            head.setFont(font)
            self.format_list.addItem(head)
            for fmt in names:
                item = QListWidgetItem(f"{fmt} — {self._formats[fmt]}")
                item.setData(Qt.ItemDataRole.UserRole, fmt)
                item.setToolTip(self._formats[fmt])
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable
                              | Qt.ItemFlag.ItemIsSelectable)
                item.setCheckState(Qt.CheckState.Unchecked)
                self.format_list.addItem(item)

        # the folder used last wins; else the caller's suggestion; else documents/home (never the install)
        remembered = settings.value("export/folder", "") or ""
        if remembered and Path(remembered).is_dir() and not _inside_install(Path(remembered)):
            start = Path(remembered)
        elif default_dir is not None and Path(default_dir).is_dir() and not _inside_install(Path(default_dir)):
            start = Path(default_dir)
        else:
            start = default_export_folder()
        self.folder = QLineEdit(str(start))
        browse = QPushButton("Browse…")
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(browse)
        self.name = QLineEdit(base_name)
        self.name.setToolTip("File name without extension; each format adds its own")
        self.files_label = QLabel()
        self.files_label.setWordWrap(True)
        self.files_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.option_widgets: dict[str, OptionWidget] = {}
        opt_box = QWidget()
        self.options_form = QFormLayout(opt_box)
        self.options_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for spec in option_specs():
            ow = OptionWidget(spec)
            self.option_widgets[spec.dest] = ow
            if isinstance(ow.widget, QCheckBox):
                self.options_form.addRow("", ow.widget)
            else:
                label = QLabel(spec.label)
                label.setToolTip(ow.widget.toolTip())
                self.options_form.addRow(label, ow.widget)
        self.no_options = QLabel("The chosen formats have no options.")
        self.options_form.addRow(self.no_options)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(opt_box)
        options_group = QGroupBox("Options")
        QVBoxLayout(options_group).addWidget(scroll)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.export_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.export_button.setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("Save in", folder_row)
        form.addRow("Name", self.name)
        form.addRow("Files", self.files_label)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Formats"))
        layout.addWidget(self.format_list, 3)
        layout.addLayout(form)
        layout.addWidget(options_group, 2)
        layout.addWidget(self.errors_label)
        layout.addWidget(buttons)

        self._restore(default_formats(self.medium))
        self.format_list.itemChanged.connect(self._update)
        self.name.textChanged.connect(self._update)
        self.folder.textChanged.connect(self._update)
        browse.clicked.connect(self._browse)
        self._update()

    # ------------------------------------------------------------ state
    def all_formats(self) -> list[str]:
        """Formats in the order listed (this medium's first)."""
        return [self.format_list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.format_list.count())
                if self.format_list.item(i).data(Qt.ItemDataRole.UserRole)]

    def _items(self) -> dict[str, QListWidgetItem]:
        return {self.format_list.item(i).data(Qt.ItemDataRole.UserRole): self.format_list.item(i)
                for i in range(self.format_list.count()) if self.format_list.item(i).data(Qt.ItemDataRole.UserRole)}

    def selected_formats(self) -> list[str]:
        """The ticked formats, in list order."""
        return [f for f, item in self._items().items() if item.checkState() == Qt.CheckState.Checked]

    def selected_format(self) -> str:
        """The first ticked format ('' when none)."""
        sel = self.selected_formats()
        return sel[0] if sel else ""

    def set_formats(self, formats: list[str]) -> None:
        """Tick exactly ``formats``."""
        wanted = set(formats)
        for fmt, item in self._items().items():
            item.setCheckState(Qt.CheckState.Checked if fmt in wanted else Qt.CheckState.Unchecked)
        self._update()

    def select_format(self, fmt: str) -> None:
        """Tick only ``fmt``."""
        self.set_formats([fmt])

    def option_values(self) -> dict[str, Any]:
        """dest -> value of every option shown for the ticked formats."""
        wanted = set(self.selected_formats())
        return {d: ow.value() for d, ow in self.option_widgets.items() if wanted & set(ow.spec.formats)}

    def options(self) -> dict[str, Any]:
        """Keyword arguments for ``export_pattern`` (besides format and path)."""
        return self.option_values()

    def paths(self) -> dict[str, Path]:
        """format -> output file for every ticked format."""
        base = Path(self.folder.text().strip() or ".") / (self.name.text().strip() or "pattern")
        out: dict[str, Path] = {}
        for fmt in self.selected_formats():
            path = base.with_name(base.name + suffix_for(fmt))
            if path in out.values():  # two formats with the same suffix (e.g. .png): keep both files apart
                path = base.with_name(f"{base.name}-{fmt}{suffix_for(fmt)}")
            out[fmt] = path
        return out

    # ------------------------------------------------------------ remembered choices
    def _restore(self, defaults: list[str]) -> None:
        remembered = settings.string_list(f"export/formats/{self.medium}")
        known = set(self.all_formats())
        chosen = [f for f in remembered if f in known] or defaults
        for fmt, item in self._items().items():
            item.setCheckState(Qt.CheckState.Checked if fmt in chosen else Qt.CheckState.Unchecked)
        try:
            values = json.loads(settings.value("export/options", "") or "{}")
        except (TypeError, ValueError):
            values = {}
        for dest, value in values.items() if isinstance(values, dict) else ():
            if dest in self.option_widgets:
                self.option_widgets[dest].set_value(value)

    def remember(self) -> None:
        """Store formats (per medium), option values and folder for next time."""
        settings.set_value(f"export/formats/{self.medium}", self.selected_formats())
        try:
            values = json.loads(settings.value("export/options", "") or "{}")
        except (TypeError, ValueError):
            values = {}
        if not isinstance(values, dict):
            values = {}
        values.update({d: ow.value() for d, ow in self.option_widgets.items()})
        settings.set_value("export/options", json.dumps(values))
        folder = Path(self.folder.text().strip())
        if folder.is_dir():
            settings.set_value("export/folder", str(folder.resolve()))

    def check(self) -> list[str]:
        """Check the export as set up now (``preflight_export``); the errors are shown in the dialog."""
        errors = preflight_export(self.pattern, self.inputs, self.paths(), self.option_values())
        self.errors_label.setText("Cannot export:\n" + "\n".join(f"• {e}" for e in errors) if errors else "")
        self.errors_label.setVisible(bool(errors))
        return errors

    def accept(self) -> None:  # noqa: D102 - Qt API
        if not self.selected_formats():
            self.files_label.setText("Tick at least one format.")
            return
        if self.check():  # stays open with the reasons; nothing was written
            return
        self.remember()
        super().accept()

    # ------------------------------------------------------------ view
    def _update(self, *_args) -> None:
        wanted = set(self.selected_formats())
        shown = 0
        for ow in self.option_widgets.values():
            visible = bool(wanted & set(ow.spec.formats))
            self.options_form.setRowVisible(ow.widget, visible)
            shown += visible
        self.options_form.setRowVisible(self.no_options, not shown)
        paths = self.paths()
        self.files_label.setText("\n".join(str(p) for p in paths.values()) or "Tick at least one format.")
        self.export_button.setEnabled(bool(paths))

    def _browse(self) -> None:
        name = QFileDialog.getExistingDirectory(self, "Export into folder", self.folder.text())
        if name:
            self.folder.setText(name)


class ExportSummaryDialog(QDialog):
    """What an export wrote: files and summary lines, with "Open file" and "Show in folder"."""

    def __init__(self, parent: QWidget | None, result: ExportResult) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export finished")
        self.setMinimumWidth(520)
        self.result_ = result
        self.files = QListWidget()
        for f in result.files:
            item = QListWidgetItem(Path(f).name)
            item.setToolTip(str(f))
            item.setData(Qt.ItemDataRole.UserRole, str(f))
            self.files.addItem(item)
        if result.files:
            self.files.setCurrentRow(0)
        self.text = QPlainTextEdit("\n".join(result.lines))
        self.text.setReadOnly(True)
        self.warnings = warning_lines(result.lines)
        self.warnings_label = QLabel("\n".join(f"⚠ {w}" for w in self.warnings))
        self.warnings_label.setObjectName("exportWarnings")
        self.warnings_label.setWordWrap(True)
        self.warnings_label.setStyleSheet("QLabel { background: #fff3cd; color: #7a4b00; padding: 4px; }")
        self.warnings_label.setVisible(bool(self.warnings))
        self._highlight_warnings()
        self.open_button = QPushButton("Open file")
        self.folder_button = QPushButton("Show in folder")
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        close.accepted.connect(self.accept)
        row = QHBoxLayout()
        row.addWidget(self.open_button)
        row.addWidget(self.folder_button)
        row.addStretch(1)
        row.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Wrote {len(result.files)} file(s):"))
        layout.addWidget(self.files, 1)
        layout.addWidget(QLabel("Summary"))
        layout.addWidget(self.warnings_label)
        layout.addWidget(self.text, 2)
        layout.addLayout(row)
        self.open_button.clicked.connect(self.open_file)
        self.folder_button.clicked.connect(self.show_folder)
        self.files.itemDoubleClicked.connect(lambda _i: self.open_file())

    def _highlight_warnings(self) -> None:
        """Warning lines of the summary get a coloured background."""
        from PySide6.QtGui import QColor, QTextCursor, QTextFormat
        from PySide6.QtWidgets import QTextEdit

        selections = []
        block = self.text.document().firstBlock()
        while block.isValid():
            if "warning: " in block.text():
                sel = QTextEdit.ExtraSelection()
                sel.format.setBackground(QColor("#fff3cd"))
                sel.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
                sel.cursor = QTextCursor(block)
                selections.append(sel)
            block = block.next()
        self.text.setExtraSelections(selections)
        self.highlighted = len(selections)

    def current_file(self) -> Path | None:
        item = self.files.currentItem()
        return Path(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def open_file(self) -> bool:
        f = self.current_file()
        return f is not None and open_url(QUrl.fromLocalFile(str(f)))

    def show_folder(self) -> bool:
        f = self.current_file()
        return f is not None and open_url(QUrl.fromLocalFile(str(f.parent)))
