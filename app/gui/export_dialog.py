"""Export: choose formats (those of the pattern's medium first), a folder and a name, and every exporter option.

The option widgets are generated from the exporters' option dataclasses through ``exporters.common.service``
(labels, units, named choices with swatches, the formats each option applies to), so an option added to an
exporter appears here without GUI code, and the export itself runs through the same service as the CLI.
Choices are remembered in QSettings: the formats per medium, the option values and the folder. Each format gets
its own default file name (``fox-beads.pdf``, ``fox-build.pdf``); replacing an existing file asks first. After an
export, :class:`ExportSummaryDialog` lists what was written, its warnings once, with "Open file" and
"Show in folder".
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QStandardPaths, Qt, QUrl
from PySide6.QtGui import QColor, QDesktopServices, QIcon, QPixmap
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
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.gui import settings
from app.gui.wording import plain_words
from engine.core.pattern import Pattern
from exporters.common.result import ExportResult

log = logging.getLogger(__name__)

INSTALL_DIR = Path(__file__).resolve().parents[2]
NOT_SET = "not set"  # what a number or text option without a value (None) shows
_BIG = 1_000_000
CHOICE_CHARS = 24  # characters a closed option dropdown shows at least


def _service():
    from exporters.common import service

    return service


def suffix_for(fmt: str) -> str:
    """File suffix for a format name (``bead-pdf`` -> ``.pdf``, ``parts-csv`` -> ``.csv``)."""
    return _service().suffix_for(fmt)


def export_formats() -> dict[str, str]:
    """format name -> description, from the exporter registry (empty if no exporter is installed)."""
    return _service().formats()


class _Parser(argparse.ArgumentParser):
    """An argument parser that raises instead of exiting the app."""

    def error(self, message: str):
        from exporters.common.errors import ExportError

        raise ExportError(f"bad export option: {message}")


def default_options(extra: list[str] | None = None, **overrides) -> argparse.Namespace:
    """Every exporter option as the CLI would parse ``extra`` (e.g. ``["--piece", "tile"]``), plus ``overrides``."""
    parser = _Parser(add_help=False, prog="export")
    _service().add_export_arguments(parser)
    args = parser.parse_args(list(extra or []))
    for k, v in overrides.items():
        setattr(args, k, v)
    return args


def export_with_summary(pattern: Pattern, fmt: str, path: str | Path, extra: list[str] | None = None, *,
                        inputs: list[str | Path | None] | tuple = (), **options) -> ExportResult:
    """Write ``pattern`` as ``fmt`` to ``path`` through the export service; ``extra`` are CLI-style options,
    ``options`` option values by name. Checked first, as the CLI does: nothing is written when a check fails."""
    values = vars(default_options(extra)) if extra else {}
    values.update(options)
    return _service().export(pattern, fmt, Path(path), values, inputs=inputs)


def export_pattern(pattern: Pattern, fmt: str, path: str | Path, extra: list[str] | None = None,
                   **options) -> list[Path]:
    """Like :func:`export_with_summary`, returning only the files written."""
    return export_with_summary(pattern, fmt, path, extra, **options).files


def add_result(total: ExportResult, fmt: str, result: ExportResult) -> None:
    """Add one format's result to ``total``: its report under the format's name, its warnings once."""
    total.files += [f for f in result.files if f not in total.files]
    total.report += [f"{fmt}:"] + [f"  {line}" for line in result.report]
    total.warnings += [w for w in result.warnings if w not in total.warnings]


def preflight_export(pattern: Pattern | None, inputs: list[str | Path | None] | tuple, paths: dict[str, Path],
                     options: dict[str, Any]) -> list[str]:
    """Every reason the export of ``paths`` (format -> file) would be refused, before anything is written."""
    return _service().preflight(pattern, inputs, paths, options)


# ----------------------------------------------------------------------------- folders and questions


def documents_location() -> Path:
    """The user's documents folder as the desktop names it (it may not exist)."""
    docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return Path(docs) if docs else Path.home() / "Documents"


def default_export_folder() -> tuple[Path, str]:
    """(folder, note) for a first export: the documents folder; when it does not exist, home, with a note
    saying so. Nothing is created."""
    docs = documents_location()
    if docs.is_dir() and not _inside_install(docs):
        return docs, ""
    return Path.home(), (f"Your documents folder ({docs}) does not exist, so files go to your home folder; "
                         "use Browse… to choose another folder.")


def _inside_install(folder: Path) -> bool:
    try:
        folder.resolve().relative_to(INSTALL_DIR)
        return True
    except ValueError:
        return False


def open_url(url: QUrl) -> bool:
    """Open a file or folder with the desktop's default program (tests replace this)."""
    return QDesktopServices.openUrl(url)


def ask(parent: QWidget | None, title: str, text: str, yes: str) -> bool:
    """A yes/no question with ``yes`` as the label of the accepting button (tests replace this)."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.Cancel, parent)
    accept = box.addButton(yes, QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is accept


def _swatch(hex_color: str) -> QIcon:
    pix = QPixmap(16, 16)
    pix.fill(QColor(hex_color))
    return QIcon(pix)


# ----------------------------------------------------------------------------- option widgets


class OptionWidget:
    """One exporter option's widget, from its spec: check box (flag), dropdown of named choices (choice),
    number box with its unit (int/float), text box (text), text box with a file chooser (path)."""

    def __init__(self, spec) -> None:
        from exporters.common import optspec as o

        self.spec = spec
        tip = plain_words(spec.help_text) + (f" ({spec.unit})" if spec.unit and spec.kind not in
                                             (o.KIND_INT, o.KIND_FLOAT) else "")
        self.field: QWidget
        if spec.kind == o.KIND_FLAG:
            w = QCheckBox(spec.label)
            w.setChecked(bool(spec.default))
        elif spec.kind == o.KIND_CHOICE:
            w = QComboBox()
            w.setEditable(spec.parse is not None)  # open choices (a custom board size) may be typed
            # a long choice is elided in the closed box (whole in the open list): no sideways scroll in the dialog
            w.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            w.setMinimumContentsLength(CHOICE_CHARS)
            for c in spec.choices:
                if c in spec.swatches:
                    w.addItem(_swatch(spec.swatches[c]), spec.choice_label(c), c)
                else:
                    w.addItem(spec.choice_label(c), c)
            w.setCurrentIndex(max(0, w.findData(spec.default)))
        elif spec.kind in (o.KIND_INT, o.KIND_FLOAT):
            w = QSpinBox() if spec.kind == o.KIND_INT else QDoubleSpinBox()
            if isinstance(w, QDoubleSpinBox):
                w.setDecimals(2)
                w.setSingleStep(0.1)
            low = spec.minimum if spec.minimum is not None else -_BIG
            high = spec.maximum if spec.maximum is not None else _BIG
            if spec.default is None:  # one step below the range means "not set"
                low = low - 1 if spec.kind == o.KIND_INT else low - 0.01
                w.setSpecialValueText(NOT_SET)
            w.setRange(int(low) if spec.kind == o.KIND_INT else low, int(high) if spec.kind == o.KIND_INT else high)
            if spec.unit:
                w.setSuffix(f" {spec.unit}")
            w.setValue(w.minimum() if spec.default is None else spec.default)
        else:
            w = QLineEdit()
            w.setText("" if spec.default is None else str(spec.default))
            w.setPlaceholderText(NOT_SET if spec.default is None else "")
        w.setToolTip(tip)
        w.setObjectName(f"option_{spec.name}")
        self.widget = w
        self.field = w
        if spec.kind == o.KIND_PATH:
            row = QWidget()
            lay = QHBoxLayout(row)
            lay.setContentsMargins(0, 0, 0, 0)
            lay.addWidget(w, 1)
            choose = QPushButton("Choose…")
            choose.clicked.connect(self._choose_file)
            lay.addWidget(choose)
            self.field = row

    def _choose_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self.widget, self.spec.label, self.widget.text())
        if name:
            self.widget.setText(name)

    def value(self) -> Any:
        """The option's value as the exporter expects it (None for an unset number or text)."""
        from exporters.common import optspec as o

        w, spec = self.widget, self.spec
        if spec.kind == o.KIND_FLAG:
            return w.isChecked()
        if spec.kind == o.KIND_CHOICE:
            i = w.currentIndex()
            if w.isEditable() and (i < 0 or w.currentText() != w.itemText(i)):
                return w.currentText().strip()  # typed by the user; the exporter parses it
            return w.currentData()
        if spec.kind in (o.KIND_INT, o.KIND_FLOAT):
            v = w.value()
            if spec.default is None and v == w.minimum():
                return None
            return int(v) if spec.kind == o.KIND_INT else float(v)
        text = w.text().strip()
        return text if text or spec.default == "" else None

    def set_value(self, value: Any) -> None:
        from exporters.common import optspec as o

        w, spec = self.widget, self.spec
        try:
            if spec.kind == o.KIND_FLAG:
                w.setChecked(bool(value))
            elif spec.kind == o.KIND_CHOICE:
                i = w.findData(value)
                if i >= 0:
                    w.setCurrentIndex(i)
                elif w.isEditable() and value is not None:
                    w.setEditText(str(value))
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
        service = _service()
        super().__init__(parent)
        self.pattern, self.inputs = pattern, [p for p in inputs if p is not None]
        self.errors_label = QLabel()
        self.errors_label.setObjectName("exportErrors")
        self.errors_label.setWordWrap(True)
        self.errors_label.setStyleSheet("color: #b00020;")
        self.errors_label.hide()
        self.setWindowTitle("Export pattern")
        self.setMinimumSize(640, 600)
        self.medium = medium or "pixel"
        self._formats = export_formats()
        fitting, other = service.formats_for_medium(self.medium)

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
                text = self._formats[fmt]  # the exporter's description; its id ("bead-pdf") is the CLI's
                item = QListWidgetItem(text[:1].upper() + text[1:])
                item.setData(Qt.ItemDataRole.UserRole, fmt)
                item.setToolTip(self._formats[fmt])
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable
                              | Qt.ItemFlag.ItemIsSelectable)
                item.setCheckState(Qt.CheckState.Unchecked)
                self.format_list.addItem(item)

        # the folder used last wins; else the caller's suggestion; else documents (home when it is missing)
        self.folder_note = QLabel()
        self.folder_note.setObjectName("exportFolderNote")
        self.folder_note.setWordWrap(True)
        remembered = settings.value("export/folder", "") or ""
        note = ""
        if remembered and Path(remembered).is_dir() and not _inside_install(Path(remembered)):
            start = Path(remembered)
        elif default_dir is not None and Path(default_dir).is_dir() and not _inside_install(Path(default_dir)):
            start = Path(default_dir)
        else:
            start, note = default_export_folder()
        self.folder_note.setText(note)
        self.folder_note.setVisible(bool(note))
        self.folder = QLineEdit(str(start))
        browse = QPushButton("Browse…")
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(browse)
        self.name = QLineEdit(base_name)
        self.name.setToolTip("The start of every file name; each format adds what it is (e.g. -beads.pdf)")
        self.files_label = QLabel()
        self.files_label.setWordWrap(True)
        self.files_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.option_widgets: dict[str, OptionWidget] = {}
        opt_box = QWidget()
        self.options_form = QFormLayout(opt_box)
        self.options_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for spec in service.option_specs():
            ow = OptionWidget(spec)
            self.option_widgets[spec.name] = ow
            if isinstance(ow.widget, QCheckBox):
                self.options_form.addRow("", ow.field)
            else:
                label = QLabel(plain_words(spec.label))
                label.setToolTip(ow.widget.toolTip())
                self.options_form.addRow(label, ow.field)
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
        form.addRow("", self.folder_note)
        form.addRow("Name", self.name)
        form.addRow("Files", self.files_label)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Formats"))
        layout.addWidget(self.format_list, 3)
        layout.addLayout(form)
        layout.addWidget(options_group, 3)
        layout.addWidget(self.errors_label)
        layout.addWidget(buttons)

        self._restore(service.default_formats(self.medium))
        self.format_list.itemChanged.connect(self._update)
        self.name.textChanged.connect(self._update)
        self.folder.textChanged.connect(self._update)
        browse.clicked.connect(self._browse)
        self._update()

    # ------------------------------------------------------------ state
    def all_formats(self) -> list[str]:
        """Formats in the order listed (this medium's first)."""
        return list(self._items())

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

    def shown_options(self, formats: list[str] | None = None) -> list[str]:
        """Names of the option widgets offered for ``formats`` (default: the ticked ones)."""
        wanted = self.selected_formats() if formats is None else formats
        return [n for n, ow in self.option_widgets.items() if ow.spec.applies_to(wanted)]

    def option_values(self) -> dict[str, Any]:
        """name -> value of every option shown for the ticked formats."""
        return {n: self.option_widgets[n].value() for n in self.shown_options()}

    def options(self) -> dict[str, Any]:
        """Option values by name for ``export_with_summary`` (besides format and path)."""
        return self.option_values()

    def paths(self) -> dict[str, Path]:
        """format -> output file for every ticked format: ``<name>-<what it is><suffix>``, distinct per format."""
        service = _service()
        folder = Path(self.folder.text().strip() or ".")
        base = self.name.text().strip() or "pattern"
        out: dict[str, Path] = {}
        for fmt in self.selected_formats():
            path = folder / service.default_file_name(base, fmt)
            if path in out.values():  # never two formats onto one file
                path = folder / f"{base}-{fmt}{suffix_for(fmt)}"
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
        for name, value in values.items() if isinstance(values, dict) else ():
            if name in self.option_widgets:
                self.option_widgets[name].set_value(value)

    def remember(self) -> None:
        """Store formats (per medium), option values and folder for next time."""
        settings.set_value(f"export/formats/{self.medium}", self.selected_formats())
        try:
            values = json.loads(settings.value("export/options", "") or "{}")
        except (TypeError, ValueError):
            values = {}
        if not isinstance(values, dict):
            values = {}
        values.update({n: ow.value() for n, ow in self.option_widgets.items()})
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

    def existing_files(self) -> list[Path]:
        """The output files that exist already (they would be replaced)."""
        return [p for p in self.paths().values() if p.exists()]

    def accept(self) -> None:  # noqa: D102 - Qt API
        if not self.selected_formats():
            self.files_label.setText("Tick at least one format.")
            return
        if self.check():  # stays open with the reasons; nothing was written
            return
        existing = self.existing_files()
        if existing:
            names = "\n".join(f"• {p.name}" for p in existing)
            what = "This file exists" if len(existing) == 1 else f"These {len(existing)} files exist"
            if not ask(self, "Replace files?", f"{what} in {existing[0].parent}:\n{names}\n\nReplace "
                       f"{'it' if len(existing) == 1 else 'them'}?", "Replace"):
                return
        self.remember()
        super().accept()

    # ------------------------------------------------------------ view
    def _update(self, *_args) -> None:
        shown = set(self.shown_options())
        for name, ow in self.option_widgets.items():
            self.options_form.setRowVisible(ow.field, name in shown)
        self.options_form.setRowVisible(self.no_options, not shown)
        paths = self.paths()
        self.files_label.setText("\n".join(str(p) for p in paths.values()) or "Tick at least one format.")
        self.export_button.setEnabled(bool(paths))

    def _browse(self) -> None:
        name = QFileDialog.getExistingDirectory(self, "Export into folder", self.folder.text())
        if name:
            self.folder.setText(name)
            self.folder_note.hide()


class ExportSummaryDialog(QDialog):
    """What an export wrote: files, summary lines and warnings (each once), with "Open file" and
    "Show in folder"."""

    def __init__(self, parent: QWidget | None, result: ExportResult) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export finished")
        self.setMinimumWidth(560)
        self.result_ = result
        self.files = QListWidget()
        for f in result.files:
            item = QListWidgetItem(Path(f).name)
            item.setToolTip(str(f))
            item.setData(Qt.ItemDataRole.UserRole, str(f))
            self.files.addItem(item)
        if result.files:
            self.files.setCurrentRow(0)
        self.text = QPlainTextEdit("\n".join(result.report))
        self.text.setReadOnly(True)
        self.warnings = list(dict.fromkeys(result.warnings))  # each warning once
        self.warnings_label = QLabel("\n".join(f"⚠ {w}" for w in self.warnings))
        self.warnings_label.setObjectName("exportWarnings")
        self.warnings_label.setWordWrap(True)
        self.warnings_label.setStyleSheet("QLabel { background: #fff3cd; color: #7a4b00; padding: 4px; }")
        self.warnings_label.setVisible(bool(self.warnings))
        self.message = QLabel()
        self.message.setObjectName("exportMessage")
        self.message.setWordWrap(True)
        self.message.hide()
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
        layout.addWidget(QLabel(f"Wrote {len(result.files)} file{'s' if len(result.files) != 1 else ''}:"))
        layout.addWidget(self.files, 1)
        if self.warnings:
            layout.addWidget(QLabel("Please check"))
        layout.addWidget(self.warnings_label)
        layout.addWidget(QLabel("Summary"))
        layout.addWidget(self.text, 2)
        layout.addWidget(self.message)
        layout.addLayout(row)
        self.open_button.clicked.connect(self.open_file)
        self.folder_button.clicked.connect(self.show_folder)
        self.files.itemDoubleClicked.connect(lambda _i: self.open_file())

    def current_file(self) -> Path | None:
        item = self.files.currentItem()
        return Path(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def open_file(self) -> bool:
        """Open the chosen file; when no program opens it, say so and offer its folder."""
        f = self.current_file()
        if f is None:
            return False
        if open_url(QUrl.fromLocalFile(str(f))):
            self._say("")
            return True
        kind = f.suffix or "these"
        self._say(f"No program on this computer opens {kind} files, so {f.name} could not be opened.")
        if ask(self, "Cannot open the file", f"No program on this computer opens {kind} files.\n\n"
               f"Show {f.name} in its folder instead?", "Show in folder"):
            self.show_folder()
        return False

    def show_folder(self) -> bool:
        """Open the chosen file's folder; when that fails too, say where it is."""
        f = self.current_file()
        if f is None:
            return False
        if open_url(QUrl.fromLocalFile(str(f.parent))):
            return True
        self._say(f"No file manager could be opened; the file is in {f.parent}")
        return False
