"""File > Export... and File > Import Model...: the model leaves or enters Plexus as code.

Export writes the window's project as a PyTorch module, a training script or an ONNX file
(``runtime.exporter.export_project``); import turns a PyTorch ``.py`` file or an ONNX file into
a new, unsaved project (``runtime.importer.import_file``). Both run on a background thread
(an ONNX export or a torch.fx trace takes seconds) with a busy bar in the dialog; an expected
failure (``ExportError``, ``ModelImportError``) is shown as its one-line message in the dialog,
which stays open so the user can fix the field or the graph and try again.

The class list of a Python file comes from gui/model_source.py, which parses it with ``ast``:
listing names never runs the user's code (only the import itself does, as ``import_file``
documents).
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from graph.project import Project
from gui import style
from gui.form_layout import dialog_layout, dim_label
from gui.model_source import declared_input_shapes, model_names
from gui.tasks import TaskRunner
from gui.text import counted

# What each export kind is for, in the words of the dialog (keys of runtime.exporter.EXPORT_KINDS).
FORMATS: dict[str, tuple[str, str]] = {
    "python": ("PyTorch module (.py)",
               "The model class in one file; trained weights beside it as .safetensors"),
    "script": ("Training script (.py, single GPU or torchrun)",
               "The model plus its data, loss, optimizer and loop; run with python or torchrun"),
    "onnx": ("ONNX (.onnx)", "Graph and weights in one file, for ONNX Runtime and other engines"),
}
IMPORT_FILTER = "Models (*.py *.onnx);;All files (*)"
WEIGHTS_FILTER = "Weights (*.safetensors *.pth *.pt);;All files (*)"
MESSAGE_MS = 10_000


def _exporter() -> Any:
    from runtime import exporter  # imports torch: only once a dialog needs it

    return exporter


# -- the shared dialog frame --------------------------------------------------------------------
Outcome = tuple[bool, Any]  # (True, result) or (False, the expected error's one-line message)


class _ExchangeDialog(QDialog):
    """Intro line, a form, a busy bar, a red error line and [action] [Cancel].

    Enter runs the action (it is the default button), Esc closes. The action runs on a
    ``TaskRunner``; closing the dialog meanwhile lets the job finish (``dispose`` deletes the
    dialog only once it has)."""

    def __init__(self, window: Any, title: str, intro: str, action: str) -> None:
        super().__init__(window)
        self.window_ = window  # the editor window (QWidget.window() is another thing)
        self.setWindowTitle(title)
        self.setMinimumWidth(640)
        self.runner = TaskRunner(self)
        self._dispose_when_idle = False

        layout = dialog_layout(self, intro, spacing=10)
        self.fields = QWidget()
        self.form = QFormLayout(self.fields)
        self.form.setContentsMargins(0, 4, 0, 4)
        self.form.setHorizontalSpacing(12)
        self.form.setVerticalSpacing(8)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        layout.addWidget(self.fields)
        layout.addStretch(1)

        busy = QHBoxLayout()
        self.busy_label = dim_label(wrap=False)
        self.busy_bar = QProgressBar()
        self.busy_bar.setObjectName("exchange_busy")
        self.busy_bar.setRange(0, 0)  # indeterminate: the runtime reports no fractions here
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setFixedHeight(8)
        busy.addWidget(self.busy_label)
        busy.addWidget(self.busy_bar, 1)
        self.busy_row = QWidget()
        self.busy_row.setLayout(busy)
        busy.setContentsMargins(0, 0, 0, 0)
        self.busy_row.hide()
        layout.addWidget(self.busy_row)

        self.error = QLabel()
        self.error.setObjectName("exchange_error")
        self.error.setProperty("role", "error")
        self.error.setWordWrap(True)
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.hide()
        layout.addWidget(self.error)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.action_button = buttons.addButton(action, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.action_button.setDefault(True)  # once in the dialog, or the dialog never knows

    # -- pieces -----------------------------------------------------------------------------------
    def _path_row(self, edit: QLineEdit, browse: Callable[[], Any]) -> QWidget:
        row = QWidget()
        box = QHBoxLayout(row)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(6)
        box.addWidget(edit, 1)
        button = QPushButton(style.icon("folder"), "Browse\u2026")
        button.setAutoDefault(False)  # Enter in the dialog runs the action, not a browse
        button.clicked.connect(browse)
        box.addWidget(button)
        return row

    def start_dir(self) -> str:
        path = getattr(self.window_, "path", None)
        return os.path.dirname(path) if path else str(Path.home())

    def show_error(self, message: str) -> None:
        """The one-line message of what went wrong (empty: hide the line)."""
        self.error.setText(message)
        self.error.setToolTip(message)
        self.error.setVisible(bool(message))
        self.fit_height()

    def fit_height(self) -> None:
        """Grow or shrink to what the visible rows need (an error line, the .py fields), so
        rows are never squeezed and no gap is left; the user's width stays."""
        layout = self.layout()
        layout.activate()
        width = self.width()
        height = layout.totalHeightForWidth(width) if layout.hasHeightForWidth() else \
            layout.totalSizeHint().height()
        self.resize(width, max(height, layout.totalMinimumSize().height()))

    # -- running ----------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.runner.busy

    def run_job(self, label: str, work: Callable[[], Any], errors: tuple[type, ...],
                on_done: Callable[[Outcome], None]) -> None:
        """Run ``work()`` off the GUI thread; ``on_done`` gets (True, result) or (False,
        message) for the expected ``errors``. Anything else is shown as one line too."""
        def job(_progress: Any, _cancel: Any) -> Outcome:
            try:
                return True, work()
            except errors as exc:
                return False, str(exc)

        self.show_error("")
        self._set_busy(label)
        self.runner.run("exchange", job, label, on_done=lambda outcome: self._done(
            on_done, outcome), on_error=lambda message: self._done(on_done, (False, message)))

    def _done(self, on_done: Callable[[Outcome], None], outcome: Outcome) -> None:
        self._set_busy("")
        try:
            on_done(outcome)
        finally:
            if self._dispose_when_idle:
                self.deleteLater()

    def _set_busy(self, label: str) -> None:
        self.busy_label.setText(f"{label}\u2026" if label else "")
        self.busy_row.setVisible(bool(label))
        self.fields.setEnabled(not label)
        self.action_button.setEnabled(not label)
        self.fit_height()

    def accept(self) -> None:
        """Enter or the action button: start the job (the dialog closes once it succeeds)."""
        if not self.busy:
            self.start()

    def start(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def finish(self) -> None:
        """Close after a successful job."""
        super().accept()

    def dispose(self) -> None:
        """Delete the dialog now, or when its running job has reported."""
        if self.busy:
            self._dispose_when_idle = True
        else:
            self.deleteLater()


# -- export -------------------------------------------------------------------------------------
def project_to_export(window: Any) -> Project:
    """The window's project as it is now, detached from the editor.

    ``about_to_save`` lets the training controller put its current weights in, as before a
    save; the copy keeps later edits on the canvas out of an export running in the background.
    """
    window.about_to_save.emit(window.project)
    project = window.project
    return dataclasses.replace(project, graph=project.graph.copy(),
                               dataset=copy.deepcopy(project.dataset),
                               training=copy.deepcopy(project.training),
                               history=list(project.history), metadata=dict(project.metadata))


def _names(paths: list[Path]) -> str:
    names = [p.name for p in paths]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"


class ExportDialog(_ExchangeDialog):
    """Choose a format and a file; Export writes it in the background."""

    def __init__(self, window: Any) -> None:
        super().__init__(window, "Export model",
                         "Write the network, with its current weights, as code or a model "
                         "file that runs without Plexus.", "Export")
        self.setObjectName("export_dialog")
        self.written: list[Path] = []
        self._path_edited = False
        exporter = _exporter()

        choices = QWidget()
        box = QVBoxLayout(choices)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        self.kind_group = QButtonGroup(self)
        self.kind_buttons: dict[str, QRadioButton] = {}
        for kind, fallback in exporter.EXPORT_KINDS.items():
            title, explanation = FORMATS.get(kind, (fallback, ""))
            button = QRadioButton(title)
            button.setObjectName(f"export_kind_{kind}")
            button.setToolTip(explanation)
            self.kind_group.addButton(button)
            self.kind_buttons[kind] = button
            box.addWidget(button)
            note = dim_label(explanation, wrap=False)
            note.setContentsMargins(26, 0, 0, 6)  # under the button's text, past its circle
            box.addWidget(note)
        self.form.addRow("Format:", choices)

        self.path_edit = QLineEdit()
        self.path_edit.setObjectName("export_path")
        self.path_edit.setMinimumWidth(360)
        self.path_edit.textEdited.connect(self._path_typed)
        self.path_edit.textChanged.connect(self._update_note)
        self.form.addRow("Save to:", self._path_row(self.path_edit, self.browse))
        self.note = QLabel()
        self.note.setObjectName("export_note")
        self.note.setProperty("role", "warning")
        self.note.setWordWrap(True)
        self.form.addRow("", self.note)

        self.kind_group.buttonToggled.connect(self._kind_changed)
        self.kind_buttons["python"].setChecked(True)
        self.path_edit.setFocus()

    # -- choices ----------------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return next(k for k, b in self.kind_buttons.items() if b.isChecked())

    def set_kind(self, kind: str) -> None:
        self.kind_buttons[kind].setChecked(True)

    def proposed_path(self, kind: str | None = None) -> str:
        """Beside the project file (or in the home folder), named after the project."""
        name = _exporter().default_file_name(self.window_.project, kind or self.kind)
        return os.path.join(self.start_dir(), name)

    def set_path(self, path: str | os.PathLike[str]) -> None:
        """Use ``path`` as the user's choice (it no longer follows the format)."""
        self.path_edit.setText(os.fspath(path))
        self._path_edited = True
        self._update_note()  # the file may have appeared since the text was last set

    def _path_typed(self, _text: str) -> None:
        self._path_edited = True

    def _kind_changed(self, _button: QRadioButton, checked: bool) -> None:
        if not checked:
            return
        if not self._path_edited or not self.path_edit.text().strip():
            self.path_edit.setText(self.proposed_path())
            self._path_edited = False
        else:  # keep the user's folder and name; give it the format's extension
            suffix = Path(self.proposed_path()).suffix
            self.path_edit.setText(str(Path(self.path_edit.text().strip()).with_suffix(suffix)))
        self._update_note()

    def _update_note(self, *_args: Any) -> None:
        text = self.path_edit.text().strip()
        exists = bool(text) and os.path.isfile(text)
        self.note.setText(f"{Path(text).name} exists; exporting replaces it." if exists else "")
        self.form.setRowVisible(self.note, exists)
        self.fit_height()

    def browse(self) -> None:
        suffix = Path(self.proposed_path()).suffix
        kind_filter = "ONNX models (*.onnx)" if suffix == ".onnx" else "Python files (*.py)"
        path, _ = QFileDialog.getSaveFileName(self, "Export as",
                                              self.path_edit.text() or self.proposed_path(),
                                              f"{kind_filter};;All files (*)")
        if path:
            self.set_path(path if Path(path).suffix else path + suffix)

    # -- exporting --------------------------------------------------------------------------------
    def start(self) -> None:
        text = self.path_edit.text().strip()
        if not text:
            self.show_error("Save to: choose a file to export to.")
            return
        path = Path(self.start_dir(), os.path.expanduser(text))  # a bare name: the proposed folder
        if not path.parent.is_dir():
            self.show_error(f"Save to: the folder {path.parent} does not exist; choose another "
                            "with Browse.")
            return
        exporter, kind = _exporter(), self.kind
        project = project_to_export(self.window_)
        self.run_job(f"Exporting {path.name}",
                     lambda: exporter.export_project(project, kind, path),
                     (exporter.ExportError,), self._exported)

    def _exported(self, outcome: Outcome) -> None:
        ok, value = outcome
        if not ok:
            if self.isVisible():
                self.show_error(value)
            else:  # closed while exporting: the status bar is where the user looks now
                self.window_.show_message(f"Export failed: {value}", MESSAGE_MS)
            return
        self.written = list(value)
        folder = self.written[0].parent if self.written else ""
        self.window_.show_message(f"Exported {_names(self.written)} to {folder}", MESSAGE_MS)
        self.finish()


# -- import -------------------------------------------------------------------------------------
def _parse_shape(text: str) -> list[list[int]]:
    """The command line's shape syntax, with the dialog's field named in the message."""
    from runtime import cli

    try:
        return cli._parse_shape(text)
    except cli.CommandError:
        raise ValueError(f"Input shape {text!r}: give one sample's sizes without the batch, "
                         "separated by commas, e.g. 1,28,28 (several inputs: 1,8,8;3)") from None


def _parse_args(text: str) -> tuple[list[Any], dict[str, Any]]:
    """The command line's JSON constructor arguments, with the dialog's field named."""
    from runtime import cli

    try:
        return cli._parse_args(text)
    except cli.CommandError as exc:
        reason = getattr(exc.__context__, "msg", "")  # the JSON decoder's own words
        detail = f" ({reason})" if reason else ""
        raise ValueError(f"Constructor arguments are not valid JSON{detail}: give a list such "
                         'as [10] or an object such as {"classes": 10}') from None


class ImportDialog(_ExchangeDialog):
    """Choose a .py or .onnx file (and, for Python, the class, its arguments and the input
    shape); Import builds the project in the background and opens it, unsaved."""

    def __init__(self, window: Any) -> None:
        super().__init__(window, "Import model",
                         "Open a PyTorch module (.py) or an ONNX model (.onnx) as a new, "
                         "editable project. A Python file runs when it is imported: import "
                         "only files you trust.", "Import")
        self.setObjectName("import_dialog")
        self.project: Project | None = None
        self._source_text = ""
        self._shape_edited = False

        self.source_edit = QLineEdit()
        self.source_edit.setObjectName("import_source")
        self.source_edit.setMinimumWidth(360)
        self.source_edit.setPlaceholderText("A .py or .onnx file")
        self.source_edit.textChanged.connect(self._source_changed)
        self.form.addRow("Source file:", self._path_row(self.source_edit, self.browse))

        self.class_combo = QComboBox()
        self.class_combo.setObjectName("import_class")
        self.class_combo.setEditable(True)
        self.class_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.class_combo.setSizePolicy(QSizePolicy.Policy.Expanding,
                                       QSizePolicy.Policy.Fixed)
        self.class_combo.setToolTip("The nn.Module class or factory function that builds the "
                                    "model (listed from the file without running it)")
        self.class_combo.currentTextChanged.connect(self._class_changed)
        self.args_edit = QLineEdit()
        self.args_edit.setObjectName("import_args")
        self.args_edit.setPlaceholderText('optional JSON, e.g. [10] or {"classes": 10}')
        self.shape_edit = QLineEdit()
        self.shape_edit.setObjectName("import_shape")
        self.shape_edit.setPlaceholderText("one sample without the batch, e.g. 1,28,28")
        self.shape_edit.setToolTip("Sizes of one input sample, batch excluded; several inputs "
                                   "separated by ';' (1,8,8;3)")
        self.shape_edit.textEdited.connect(self._shape_typed)
        self.weights_edit = QLineEdit()
        self.weights_edit.setObjectName("import_weights")
        self.weights_edit.setToolTip("Pretrained weights keyed like the module's state_dict: "
                                     ".safetensors, or .pth/.pt saved with "
                                     "torch.save(model.state_dict()) (read safely, "
                                     "with weights_only=True)")
        self.python_rows = [
            ("Class:", self.class_combo),
            ("Constructor args:", self.args_edit),
            ("Input shape:", self.shape_edit),
            ("Weights:", self._path_row(self.weights_edit, self.browse_weights)),
        ]
        for label, field in self.python_rows:
            self.form.addRow(label, field)
        self._source_changed("")
        self.source_edit.setFocus()

    # -- the source -------------------------------------------------------------------------------
    def set_source(self, path: str | os.PathLike[str]) -> None:
        self.source_edit.setText(os.fspath(path))

    def browse(self) -> None:
        current = self.source_edit.text().strip()
        start = os.path.dirname(current) if current else self.start_dir()
        path, _ = QFileDialog.getOpenFileName(self, "Import model", start, IMPORT_FILTER)
        if path:
            self.set_source(path)

    def browse_weights(self) -> None:
        start = os.path.dirname(self.source_edit.text().strip()) or self.start_dir()
        path, _ = QFileDialog.getOpenFileName(self, "Weights for the model", start,
                                              WEIGHTS_FILTER)
        if path:
            self.weights_edit.setText(path)

    def _is_python(self) -> bool:
        return Path(self.source_edit.text().strip()).suffix.lower() != ".onnx"

    def _source_changed(self, text: str) -> None:
        python = self._is_python()
        for _label, field in self.python_rows:
            self.form.setRowVisible(field, python)
        path = Path(text.strip())
        beside = path.with_suffix(".safetensors") if text.strip() else None
        self.weights_edit.setPlaceholderText(
            f"default: {beside.name}, found beside the file" if beside and beside.is_file()
            else "optional .safetensors, .pth or .pt file")
        self.show_error("")  # also fits the height to the rows now shown
        if not python or not path.is_file():
            return
        try:
            self._source_text = path.read_text(encoding="utf-8")
            names = model_names(self._source_text)
        except (OSError, UnicodeDecodeError) as exc:
            self.show_error(f"{path.name}: cannot read it ({exc})")
            return
        except SyntaxError as exc:
            self.show_error(f"{path.name} line {exc.lineno}: {exc.msg}; fix the file first")
            return
        self.class_combo.clear()
        self.class_combo.addItems(names)
        if not names:
            self.show_error(f"{path.name} defines no nn.Module class or function; type the "
                            "name of the one that builds the model")

    def _class_changed(self, name: str) -> None:
        shapes = declared_input_shapes(self._source_text, name) if name else ""
        if shapes and not self._shape_edited:
            self.shape_edit.setText(shapes)

    def _shape_typed(self, _text: str) -> None:
        self._shape_edited = True

    # -- importing --------------------------------------------------------------------------------
    def request(self) -> dict[str, Any]:
        """The import_file arguments from the fields; ValueError names the field at fault."""
        text = self.source_edit.text().strip()
        if not text:
            raise ValueError("Source file: choose a .py or .onnx file to import.")
        path = Path(os.path.expanduser(text))
        if not path.is_file():
            raise ValueError(f"Source file: {path} not found.")
        if not self._is_python():
            return {"path": path}
        shape = self.shape_edit.text().strip()
        if not shape:
            raise ValueError("Input shape: give one sample's sizes without the batch, e.g. "
                             "1,28,28 (several inputs: 1,8,8;3).")
        shapes = _parse_shape(shape)
        args, kwargs = _parse_args(self.args_edit.text().strip())
        weights = self.weights_edit.text().strip()
        if weights and not Path(weights).is_file():
            raise ValueError(f"Weights: {weights} not found.")
        return {"path": path, "name": self.class_combo.currentText().strip() or None,
                "args": args, "kwargs": kwargs,
                "input_shape": shapes[0] if len(shapes) == 1 else shapes,
                "weights": weights or None}

    def start(self) -> None:
        try:
            request = self.request()
        except ValueError as exc:
            self.show_error(str(exc))
            return
        if not self.window_.maybe_save():  # the import replaces the open project
            return
        from runtime.importer import ModelImportError, import_file

        self.run_job(f"Importing {request['path'].name}", lambda: import_file(**request),
                     (ModelImportError,), self._imported)

    def _imported(self, outcome: Outcome) -> None:
        ok, value = outcome
        if not self.isVisible():  # closed while importing: the user changed their mind
            return
        if not ok:
            self.show_error(str(value))
            return
        self.project = project = value
        source = self.source_edit.text().strip()
        # The same step as File > New from Template, but unsaved: closing asks to save it.
        self.window_.open_unsaved(project)
        layers = sum(n.type not in ("Input", "Output") for n in project.graph.nodes.values())
        notes = project.metadata.get("import_notes", [])
        weights = "with its weights" if project.weights else "without weights"
        message = (f"Imported {counted(layers, 'layer')} from "
                   f"{Path(source).name} ({weights})")
        self.window_.show_message(". ".join([message, *notes]) + ".", MESSAGE_MS)
        self.finish()


# -- menu actions ---------------------------------------------------------------------------------
def open_export_dialog(window: Any) -> ExportDialog:
    """Show the export dialog over the window (window-modal, not blocking)."""
    dialog = ExportDialog(window)
    dialog.finished.connect(dialog.dispose)
    dialog.open()
    return dialog


def open_import_dialog(window: Any) -> ImportDialog:
    """Show the import dialog over the window (window-modal, not blocking)."""
    dialog = ImportDialog(window)
    dialog.finished.connect(dialog.dispose)
    dialog.open()
    return dialog


def install_exchange_actions(window: Any) -> dict[str, QAction]:
    """Turn on File > Export... and add File > Import Model... just before it."""
    export = window.actions["export"]
    export.setEnabled(True)
    export.setStatusTip("Export the model as PyTorch code, a training script or ONNX")
    export.triggered.connect(lambda _=False: open_export_dialog(window))

    action = window.add_menu_action(
        "file", "import_model", "&Import Model\u2026", lambda: open_import_dialog(window),
        "open", "Open a PyTorch (.py) or ONNX model as a new, editable project", before="export")
    return {"export": export, "import_model": action}


__all__ = ["FORMATS", "ExportDialog", "ImportDialog", "install_exchange_actions",
           "open_export_dialog", "open_import_dialog", "project_to_export"]
