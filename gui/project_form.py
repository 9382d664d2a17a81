"""The inspector's project form: name and description, the dataset with its preview and
options, and the training settings and options.

Every row is generated from the ``graph.fields.Field`` declarations (graph/settings.py for
the dataset and training settings and the training options, each dataset's own in
runtime/datasets), through the one type-to-widget map in gui/forms.py; which rows show
follows ``graph.fields.shown``. Every edit is one undo step (SetSettingsCommand).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSignalBlocker, QTimer, Signal
from PySide6.QtGui import QTextOption
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QToolButton,
    QWidget,
)

from graph.catalog import STR, TASK_TARGETS, Param
from graph.fields import Field, shown
from graph.settings import (
    ADVERSARIAL_OPTIONS,
    DATASET_FIELDS,
    MODE_OPTIONS,
    TRAINING_FIELDS,
    TRAINING_OPTIONS,
    TrainingSettings,
)
from gui import forms, style
from gui.dataset_preview import DatasetPreview, dataset_preview
from gui.field_rows import field_editor, option_value, options_with, same
from gui.form_layout import (
    align_label_columns,
    dim_label,
    form_label,
    make_form,
    page_layout,
    section_label,
)
from gui.settings_command import SetSettingsCommand
from gui.tasks import TaskRunner
from gui.text import has_unbroken_run

if TYPE_CHECKING:
    from gui.inspector import Inspector

FILE_FILTERS = {
    "csv": "CSV files (*.csv);;All files (*)",
    "npz": "NumPy archives (*.npz);;All files (*)",
    "idx": "IDX files (*-ubyte *-ubyte.gz *.idx *.gz);;All files (*)",
    "series": "Time series (*.csv *.npz);;All files (*)",
    "text_csv": "CSV files (*.csv);;All files (*)",
}
# Training settings and options together: an option may be shown only with a setting's value.
TRAINING_ALL: dict[str, Field] = {**TRAINING_FIELDS, **TRAINING_OPTIONS}


class DescriptionEdit(QPlainTextEdit):
    """Multi-line text that commits when it loses focus."""

    committed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTabChangesFocus(True)
        self.setFixedHeight(64)
        self._last = ""

    def set_value(self, value: str) -> None:
        with QSignalBlocker(self):
            self._last = value
            if self.toPlainText() != value:
                self.setWordWrapMode(QTextOption.WrapMode.WrapAnywhere if has_unbroken_run(value)
                                     else QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
                self.setPlainText(value)

    def focusOutEvent(self, event: Any) -> None:  # noqa: N802 (Qt override)
        super().focusOutEvent(event)
        if self.toPlainText() != self._last:
            self._last = self.toPlainText()
            self.committed.emit(self._last)



class ProjectForm(QWidget):
    """Project name and description, dataset with preview, task and training settings."""

    classes_known = Signal(object)  # the dataset's class count (None: not classification)

    def __init__(self, inspector: Inspector) -> None:
        super().__init__()
        self.inspector = inspector
        self.editors: dict[tuple[str, str], QWidget] = {}
        layout = page_layout(self)
        title = QLabel("Project")
        title.setFont(style.font("large", bold=True))
        layout.addWidget(title)
        layout.addWidget(dim_label("No layer selected: these settings belong to the whole "
                                   "project. Select a layer to edit it."))

        form = make_form()
        self.name_edit = forms.make_editor(Param("name", STR, "", "The project's name."))
        self.name_edit.committed.connect(lambda v: self._push("project", "name", v))
        form.addRow(form_label("Name"), self.name_edit)
        self.description = DescriptionEdit()
        self.description.setObjectName("edit_description")
        self.description.setPlaceholderText("What this network is for")
        self.description.committed.connect(lambda v: self._push("project", "description", v))
        form.addRow(form_label("Description"), self.description)
        layout.addLayout(form)

        layout.addWidget(section_label("Dataset"))
        self.dataset_form = make_form()
        chosen = DATASET_FIELDS["name"]
        self.dataset_combo = forms.ChoiceEditor(dataclasses.replace(chosen.param, choices=()))
        self.dataset_combo.setObjectName("edit_dataset")
        self.dataset_combo.setToolTip(chosen.help)
        self._fill_datasets()
        self.dataset_combo.committed.connect(lambda v: self._push("dataset", "name", v))
        self.dataset_form.addRow(form_label(chosen.title), self.dataset_combo)
        self.dataset_about = dim_label()
        self.dataset_form.addRow(self.dataset_about)
        path_row = QHBoxLayout()
        path_row.setSpacing(4)
        self.path_edit = forms.make_editor(DATASET_FIELDS["path"].param)
        self.path_edit.setPlaceholderText("Choose a file\u2026")
        self.path_edit.committed.connect(lambda v: self._push("dataset", "path", v))
        path_row.addWidget(self.path_edit, 1)
        self.browse = QToolButton()
        self.browse.setToolTip("Choose the file")
        self.browse.clicked.connect(self._browse)
        path_row.addWidget(self.browse)
        self.path_host = QWidget()
        self.path_host.setLayout(path_row)
        path_row.setContentsMargins(0, 0, 0, 0)
        self.dataset_form.addRow(form_label(DATASET_FIELDS["path"].title), self.path_host)
        for field in DATASET_FIELDS.values():
            if field.name not in ("name", "path"):  # the picker and the file chooser above
                self._add_field(self.dataset_form, "dataset", field)
        self.editors[("dataset", "target_column")].setPlaceholderText("the last column")
        layout.addLayout(self.dataset_form)
        self.preview = DatasetPreview()
        layout.addWidget(self.preview)
        self.task_note = QLabel()
        self.task_note.setWordWrap(True)
        self.task_note.setProperty("role", "warning")
        self.task_note.hide()
        layout.addWidget(self.task_note)

        layout.addWidget(section_label("Training"))
        self.training_form = make_form()
        self.option_editors: dict[str, QWidget] = {}
        for option in MODE_OPTIONS:
            self._add_option(option)
        for field in TRAINING_FIELDS.values():
            self._add_field(self.training_form, "training", field)
        for option in ADVERSARIAL_OPTIONS:
            self._add_option(option)
        layout.addLayout(self.training_form)
        layout.addStretch(1)
        self.forms = (form, self.dataset_form, self.training_form)
        self.dataset_option_editors: dict[str, QWidget] = {}
        self._dataset_options: tuple[Field, ...] = ()
        align_label_columns(*self.forms)

        # One loader thread; a newer request supersedes the older one (its result is dropped).
        self._preview_runner = TaskRunner(self)
        self._preview_key: Any = None
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(150)
        self._preview_timer.timeout.connect(self._start_preview)
        self.refresh_theme()

    def _fill_datasets(self) -> None:
        try:
            from runtime.data import DATASETS
        except ImportError:  # the data module is optional for the editor itself
            DATASETS = {}
        self.datasets = dict(DATASETS)
        with QSignalBlocker(self.dataset_combo):
            self.dataset_combo.clear()
            for key, info in self.datasets.items():
                if getattr(info, "kind", "") != "file":
                    self.dataset_combo.addItem(info.title, key)
            files = [(k, i) for k, i in self.datasets.items() if getattr(i, "kind", "") == "file"]
            if files:
                self.dataset_combo.insertSeparator(self.dataset_combo.count())
                for key, info in files:
                    self.dataset_combo.addItem(f"{info.title}", key)

    def _add_field(self, form: QFormLayout, section: str, field: Field) -> None:
        """A row for a settings field: edits set the attribute of the section."""
        editor = forms.make_editor(field.param)
        editor.committed.connect(lambda v, s=section, n=field.name: self._push(s, n, v))
        self.editors[(section, field.name)] = editor
        form.addRow(form_label(field.title, field.help), editor)

    def _add_option(self, option: Field) -> None:
        """A row for one entry of ``training.options``, built like every other field."""
        editor = field_editor(option)
        editor.committed.connect(lambda v, o=option: self._set_option(o, v))
        self.option_editors[option.name] = editor
        self.training_form.addRow(form_label(option.title, option.help), editor)

    def _option_value(self, option: Field) -> Any:
        """A training option as its widget shows it (the runtime reads "FGSM" as "fgsm")."""
        project = self.inspector.project
        settings = project.training if project is not None else TrainingSettings()
        return option_value(option, settings, lowercase_choices=True)

    def _set_option(self, option: Field, value: Any) -> None:
        """One undoable step: the whole options dict, with defaults left out."""
        project = self.inspector.project
        if project is not None:
            options = options_with(TRAINING_OPTIONS, project.training, option, value)
            self._push_options("training", options, option.title)

    def _push_options(self, section: str, options: dict[str, Any], title: str) -> None:
        """One undoable step that sets a section's whole options dict (if it changed)."""
        project = self.inspector.project
        if project is None or options == (getattr(project, section).options or {}):
            return
        command = SetSettingsCommand(project, section, "options", options,
                                     self.inspector.settings_applied)
        command.setText(f"Set {title}")  # the Edit menu reads "Undo Set D steps per G"
        self.inspector.undo_stack.push(command)

    # -- dataset options ------------------------------------------------------------------------
    def _show_dataset_options(self, info: Any) -> None:
        """Rows for the options the chosen set declares (runtime's Fields), rebuilt when the
        set changes, showing the project's values."""
        declared = tuple(getattr(info, "options", ()) or ())
        if declared != self._dataset_options:
            for editor in self.dataset_option_editors.values():
                self.dataset_form.removeRow(editor)
            self.dataset_option_editors = {}
            for option in declared:
                editor = field_editor(option)
                editor.committed.connect(lambda v, o=option: self._set_dataset_option(o, v))
                self.dataset_form.addRow(form_label(option.title, option.help), editor)
                self.dataset_option_editors[option.name] = editor
            self._dataset_options = declared
            align_label_columns(*self.forms)
        dataset = self.inspector.project.dataset
        for option in declared:
            self.dataset_option_editors[option.name].set_value(option_value(option, dataset))

    def _set_dataset_option(self, option: Field, value: Any) -> None:
        project = self.inspector.project
        if project is not None:
            declared = {o.name: o for o in self._dataset_options}
            options = options_with(declared, project.dataset, option, value)
            self._push_options("dataset", options, option.title)

    def refresh_theme(self) -> None:
        self.browse.setIcon(style.icon("folder"))

    # -- showing --------------------------------------------------------------------------------
    def refresh(self) -> None:
        project = self.inspector.project
        if project is None:
            return
        self.name_edit.set_value(project.name)
        self.description.set_value(project.description)
        self.dataset_combo.set_value(project.dataset.name)
        self.path_edit.set_value(project.dataset.path)
        for (section, name), editor in self.editors.items():
            editor.set_value(getattr(getattr(project, section), name))
        for name, editor in self.option_editors.items():
            editor.set_value(self._option_value(TRAINING_OPTIONS[name]))
        self._update_visibility()
        self.request_preview()

    def _dataset_kind(self) -> str:
        project = self.inspector.project
        name = project.dataset.name if project else ""
        info = self.datasets.get(name)
        kind = getattr(info, "kind", "")
        return name if kind == "file" else (kind or "2d")

    def _update_visibility(self) -> None:
        project = self.inspector.project
        if project is None:
            return
        kind = self._dataset_kind()
        info = self.datasets.get(project.dataset.name)
        self.dataset_about.setText(getattr(info, "description", "") if info else
                                   f"'{project.dataset.name}' is not a dataset this version "
                                   "knows; pick one from the list.")
        # The fields this set reads (runtime's declaration), besides the split and the seed.
        uses = set(info.uses) if info else set(DATASET_FIELDS)
        self.dataset_form.setRowVisible(self.path_host, "path" in uses)
        self.browse.setToolTip("Choose the folder" if kind == "images" else "Choose the file")
        for (section, name), editor in self.editors.items():
            if section == "dataset":
                self.dataset_form.setRowVisible(
                    editor, name in uses or not DATASET_FIELDS[name].per_dataset)
            else:
                self.training_form.setRowVisible(editor, self._shown(name))
        self._show_dataset_options(info)
        for name, editor in self.option_editors.items():
            self.training_form.setRowVisible(editor, self._shown(name))

    def _shown(self, name: str) -> bool:
        """Whether a training field or option is shown (graph.fields.shown)."""
        training = self.inspector.project.training

        def value_of(key: str) -> Any:
            if key in TRAINING_OPTIONS:
                return self._option_value(TRAINING_OPTIONS[key])
            return getattr(training, key)

        return shown(TRAINING_ALL, name, value_of)

    def show_task(self, graph: Any) -> None:
        """Warn when the Output heads' task differs from the dataset's."""
        data = self.preview.data
        heads = graph.nodes_of_type("Output") if graph is not None else []
        tasks = {h.param("task") for h in heads}
        wanted = {TASK_TARGETS.get(t, t) for t in tasks} - {None}
        if data and wanted and data["task"] not in wanted:
            self.task_note.setText(
                f"The Output layer trains for {', '.join(sorted(tasks))} but this dataset is "
                f"a {data['task']} set; change the Output task or the dataset.")
            self.task_note.show()
        else:
            self.task_note.hide()

    # -- preview --------------------------------------------------------------------------------
    def request_preview(self) -> None:
        """Load the preview of the project's dataset if its settings changed since the last
        request (after a short pause, so typing in a field loads once)."""
        project = self.inspector.project
        if project is None or not self.datasets:
            if not self.datasets:
                self.preview.show_error("Dataset previews need runtime.data.")
            return
        key = repr(dataclasses.asdict(project.dataset))
        if key == self._preview_key:
            return
        self._preview_key = key
        self._preview_runner.drop("preview")  # whatever a load now running returns is stale
        self.preview.show_loading()
        self._preview_timer.start()

    def forget_preview(self) -> None:
        """Reload the preview at the next request even if the settings look the same (another
        project was opened)."""
        self._preview_key = None

    def _start_preview(self) -> None:
        project = self.inspector.project
        if project is None:
            return
        settings = copy.deepcopy(project.dataset)
        self._preview_runner.run("preview",
                                 lambda _progress, cancel: dataset_preview(settings, cancel),
                                 "Loading the preview", on_done=self._preview_loaded,
                                 on_error=self._preview_failed)

    def _preview_loaded(self, data: dict[str, Any]) -> None:
        self.preview.show_data(data)
        self.classes_known.emit(data.get("num_classes") or None)
        self.show_task(self.inspector.graph)

    def _preview_failed(self, message: str) -> None:
        self.preview.show_error(message)
        self.show_task(self.inspector.graph)

    def wait_preview(self, timeout_ms: int = 10_000) -> None:
        """Block until the preview is loaded (tests, screenshots)."""
        if self._preview_timer.isActive():
            self._preview_timer.stop()
            self._start_preview()
        self._preview_runner.wait(timeout_ms)

    # -- editing --------------------------------------------------------------------------------
    def _push(self, section: str, name: str, value: Any) -> None:
        project = self.inspector.project
        if project is None:
            return
        target = project if section == "project" else getattr(project, section)
        if same(getattr(target, name), value):
            return
        if section == "project" and name == "name" and not str(value).strip():
            self.name_edit.set_value(project.name)
            self.inspector.status_message.emit("A project name cannot be empty.")
            return
        applied = self.inspector.settings_applied
        stack = self.inspector.undo_stack
        command = SetSettingsCommand(project, section, name, value, applied)
        if (section, name) == ("dataset", "name"):
            # Another set keeps only the options it reads too, as that set types them
            # (blobs' classes=3 is no list of shapes): one undo step sets both.
            declared = {o.name: o.param for o in getattr(self.datasets.get(value), "options", ())}
            options = project.dataset.options or {}
            kept = {k: v for k, v in options.items()
                    if k in declared and declared[k].check(v) is None}
            if kept != options:
                stack.beginMacro(command.text())
                stack.push(SetSettingsCommand(project, "dataset", "options", kept, applied))
                stack.push(command)
                stack.endMacro()
                return
        stack.push(command)

    def _browse(self) -> None:
        project = self.inspector.project
        if project is None:
            return
        kind = self._dataset_kind()
        start = project.dataset.path or ""
        if kind == "images":
            path = QFileDialog.getExistingDirectory(self, "Choose the image folder", start)
        else:
            path, _ = QFileDialog.getOpenFileName(self, "Choose the data file", start,
                                                  FILE_FILTERS.get(kind, "All files (*)"))
        if path:
            self.path_edit.set_value(path)
            self._push("dataset", "path", path)
