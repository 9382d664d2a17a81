"""The inspector: a form for the selected layer, or the project's settings when none is.

Layer forms are generated from the catalog declaration through the one type-to-widget map in
gui/forms.py, so a new layer needs no inspector code. Every edit is an undo command: layer
params go through SetParamCommand / RenameCommand / SetNodeOptionsCommand (gui/commands.py),
project settings through SetSettingsCommand (gui/settings_command.py). The form follows the model
(undo, redo, canvas edits) by listening to graph events, never the other way round.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QSignalBlocker, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from graph import catalog
from graph.catalog import BOOL, CHOICE, FLOAT, INT, STR, TASK_TARGETS, Param
from graph.model import GraphEvent
from graph.project import Project
from graph.settings import TRAINING_OPTIONS as OPTION_PARAMS
from graph.settings import DatasetSettings, TrainingSettings
from graph.settings import bounds as settings_bounds
from gui import forms, style, theme
from gui.dataset_preview import DatasetPreview, PreviewJob, PreviewSignals
from gui.form_layout import (
    Pages,
    align_label_columns,
    dim_label,
    form_label,
    make_form,
    section_label,
)
from gui.settings_command import SetSettingsCommand

# Project settings shown in the form: field -> (label, help). Bounds come from graph.settings.
DATASET_FIELDS: dict[str, tuple[str, str]] = {
    "samples": ("Samples", "How many points to generate."),
    "noise": ("Noise", "Standard deviation of the noise added to generated points."),
    "target_column": ("Target column", "CSV column to predict; empty means the last column."),
    "scaling": ("Scaling", "How input features are rescaled before training."),
    "val_split": ("Validation share", "Share of the samples held out to measure the model."),
    "seed": ("Seed", "Random seed for generating and splitting the data."),
}
TRAINING_FIELDS: dict[str, tuple[str, str]] = {
    "optimizer": ("Optimizer", "The algorithm that updates the weights."),
    "lr": ("Learning rate", "Step size of each weight update."),
    "momentum": ("Momentum", "SGD and RMSprop: how much of the previous update is kept."),
    "weight_decay": ("Weight decay", "L2 penalty that keeps weights small."),
    "batch_size": ("Batch size", "Samples per weight update."),
    "epochs": ("Epochs", "Passes over the training set."),
    "schedule": ("LR schedule", "How the learning rate changes during training."),
    "step_size": ("Step every", "Step schedule: epochs between learning-rate decays."),
    "gamma": ("Decay factor", "Step schedule: factor applied at each decay."),
    "early_stopping": ("Early stopping", "Stop after this many epochs without a better "
                       "validation loss; 0 turns it off."),
    "grad_clip": ("Gradient clip", "Largest gradient norm; 0 turns clipping off."),
    "seed": ("Seed", "Random seed for weights and batch order."),
    "device": ("Device", "Where training runs; auto picks CUDA when available."),
}
FILE_FILTERS = {
    "csv": "CSV files (*.csv);;All files (*)",
    "npz": "NumPy archives (*.npz);;All files (*)",
    "idx": "IDX files (*-ubyte *-ubyte.gz *.idx *.gz);;All files (*)",
    "series": "Time series (*.csv *.npz);;All files (*)",
    "text_csv": "CSV files (*.csv);;All files (*)",
}
LR_MULT = Param("lr_mult", FLOAT, 1.0, "This layer's learning rate is the project's times "
                "this factor; 0 stops it learning.", 0.0, 100.0, label="LR multiplier")


@dataclass(frozen=True)
class OptionField:
    """One entry of ``training.options`` shown in the project form.

    A switch (``switch`` empty, or a CHOICE) is stored only when not its first choice; a field
    is shown while ``switch`` holds one of ``when`` (and the switch itself is shown). A value
    equal to the default is removed from the dict, so files stay clean. ``follows``: the
    default is this training field's value (d_lr follows lr); ``auto``: the runtime derives the
    default, shown as this text at the widget's minimum.
    """

    param: Param
    switch: str = ""
    when: tuple[str, ...] = ()
    follows: str = ""
    auto: str = ""


# How the form shows graph.settings.TRAINING_OPTIONS: GAN mode and its knobs before the
# training fields, adversarial training (standard mode only) after them.
MODE_OPTIONS: tuple[OptionField, ...] = (
    OptionField(OPTION_PARAMS["mode"]),
    *(OptionField(OPTION_PARAMS[name], "mode", ("gan",),
                  follows="lr" if name.endswith("_lr") else "")  # d_lr, g_lr: the lr if unset
      for name in ("d_steps", "d_lr", "g_lr", "label_smoothing", "beta1", "r1")),
)
ADVERSARIAL_OPTIONS: tuple[OptionField, ...] = (
    OptionField(OPTION_PARAMS["adversarial"], "mode", ("standard",)),
    OptionField(OPTION_PARAMS["adv_share"], "adversarial", ("fgsm", "pgd")),
    OptionField(OPTION_PARAMS["adv_eps"], "adversarial", ("fgsm", "pgd"), auto="auto"),
    OptionField(OPTION_PARAMS["adv_steps"], "adversarial", ("pgd",)),
)
TRAINING_OPTIONS = {f.param.name: f for f in MODE_OPTIONS + ADVERSARIAL_OPTIONS}


def option_editor(param: Param, auto: str = "") -> QWidget:
    """The widget of an options-dict entry; a default of None shows ``auto`` at the minimum."""
    editor = forms.make_editor(param, param.minimum if param.default is None else param.default)
    if auto and param.default is None:
        editor.setSpecialValueText(auto)
    return editor


def shown_option(param: Param, value: Any) -> Any:
    """An options value as its widget shows it: absent is the default ("auto": the minimum),
    a list is comma-separated text (or its first number), a number given for a choice its
    text."""
    if value is None:
        return param.minimum if param.default is None else param.default
    if isinstance(value, (list, tuple)) and param.kind == STR:
        return ", ".join(str(v) for v in value)
    if isinstance(value, (list, tuple)) and value and param.kind in (INT, FLOAT):
        return value[0]
    if param.kind == CHOICE and not isinstance(value, str):
        return str(value)
    return value


def settings_param(cls: type, name: str, label: str, help: str) -> Param:
    """A catalog-style declaration of a settings field, so it gets the same widgets."""
    default = getattr(cls(), name)
    bounds = settings_bounds(name)
    if isinstance(bounds, tuple) and bounds and isinstance(bounds[0], str):
        return Param(name, CHOICE, default, help, choices=bounds, label=label)
    if isinstance(default, bool):
        return Param(name, BOOL, default, help, label=label)
    low, high = (bounds if bounds is not None else (None, None))
    if isinstance(default, int):
        return Param(name, INT, default, help, low, high, label=label)
    if isinstance(default, float):
        return Param(name, FLOAT, default, help, low, high, label=label)
    return Param(name, STR, default, help, label=label)


def _same(a: Any, b: Any) -> bool:
    """Equal values, counting a JSON list and a tuple with the same items as equal."""
    def norm(v: Any) -> Any:
        return tuple(v) if isinstance(v, list) else v

    return norm(a) == norm(b)




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
                self.setPlainText(value)

    def focusOutEvent(self, event: Any) -> None:  # noqa: N802 (Qt override)
        super().focusOutEvent(event)
        if self.toPlainText() != self._last:
            self._last = self.toPlainText()
            self.committed.emit(self._last)


# -- node form -------------------------------------------------------------------------------------
class NodeForm(QWidget):
    """Parameters, name, output shape, parameter count and training options of one node."""

    def __init__(self, inspector: Inspector) -> None:
        super().__init__()
        self.inspector = inspector
        self.node_id: int | None = None
        self.editors: dict[str, QWidget] = {}
        self.layer_type = ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 12)
        layout.setSpacing(6)

        head = QHBoxLayout()
        head.setSpacing(8)
        self.swatch = QLabel()
        head.addWidget(self.swatch)
        self.title = QLabel()
        self.title.setFont(style.font("large", bold=True))
        head.addWidget(self.title, 1)
        self.category = dim_label(wrap=False)
        self.category.setFont(style.font("small"))
        head.addWidget(self.category)
        layout.addLayout(head)
        self.description = dim_label()
        layout.addWidget(self.description)

        top = make_form()
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("edit_name")
        self.name_edit.setToolTip("The node's name: used in messages, generated code and "
                                  "weights. Must be unique.")
        self.name_edit.editingFinished.connect(self._rename)
        top.addRow(form_label("Name"), self.name_edit)
        self.name_error = QLabel()
        self.name_error.setProperty("role", "error")
        self.name_error.setWordWrap(True)
        self.name_error.hide()
        top.addRow("", self.name_error)
        self.shape_label = QLabel("\u2014")
        self.shape_label.setObjectName("output_shape")
        self.shape_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top.addRow(form_label("Output", "Shape of this layer's output; N is the batch."),
                   self.shape_label)
        self.params_label = QLabel("\u2014")
        self.params_label.setObjectName("param_count")
        top.addRow(form_label("Parameters", "Trainable weights in this layer."),
                   self.params_label)
        layout.addLayout(top)

        self.params_header = section_label("Layer parameters")
        layout.addWidget(self.params_header)
        self.params_host = QWidget()
        self.params_form = make_form()
        self.params_host.setLayout(self.params_form)
        layout.addWidget(self.params_host)
        self.no_params = dim_label("This layer has no parameters to set.")
        layout.addWidget(self.no_params)

        layout.addWidget(section_label("Training"))
        options = make_form()
        self.frozen = forms.make_editor(Param("frozen", BOOL, False, "Keep this layer's weights "
                                              "fixed while training (transfer learning)."))
        self.frozen.setText("Freeze weights")
        self.frozen.committed.connect(lambda v: self._set_options(frozen=bool(v)))
        options.addRow(form_label("Frozen", self.frozen.toolTip()), self.frozen)
        self.lr_mult = forms.make_editor(LR_MULT)
        self.lr_mult.committed.connect(lambda v: self._set_options(lr_mult=float(v)))
        options.addRow(form_label(LR_MULT.title, LR_MULT.help), self.lr_mult)
        layout.addLayout(options)

        self.problems_header = section_label("Problems")
        layout.addWidget(self.problems_header)
        self.problems = QLabel()
        self.problems.setWordWrap(True)
        self.problems.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.problems)
        layout.addStretch(1)

    # -- showing -------------------------------------------------------------------------------
    def show_node(self, node_id: int) -> None:
        node = self.inspector.graph.node(node_id)
        rebuild = node_id != self.node_id or node.type != self.layer_type
        self.node_id = node_id
        if rebuild:
            self._build(node)
        self.refresh()

    def _build(self, node: Any) -> None:
        self.layer_type = node.type
        spec = node.spec
        while self.params_form.rowCount():
            self.params_form.removeRow(0)
        self.editors.clear()
        t = theme.current()
        category = spec.category if spec else "reshape"
        self.swatch.setPixmap(style.swatch(theme.category_color(category), 14).pixmap(14, 14))
        self.title.setText(spec.title if spec else node.type)
        titles = dict(catalog.CATEGORIES)
        self.category.setText(titles.get(category, category) if spec else "unknown layer")
        self.description.setText(spec.description if spec else
                                 f"<span style='color:{t.error}'>Plexus does not know the layer "
                                 f"type '{node.type}'.</span>")
        params = spec.params if spec else ()
        for param in params:
            editor = forms.make_editor(param, node.param(param.name))
            editor.committed.connect(lambda v, name=param.name: self._set_param(name, v))
            self.editors[param.name] = editor
            self.params_form.addRow(form_label(param.title, param.help), editor)
        self.params_host.setVisible(bool(params))
        self.no_params.setVisible(not params)

    def refresh(self) -> None:
        """Show the model's current values (after undo, redo or a canvas edit)."""
        graph = self.inspector.graph
        if self.node_id is None or self.node_id not in graph.nodes:
            return
        node = graph.nodes[self.node_id]
        if not self.name_edit.hasFocus():
            with QSignalBlocker(self.name_edit):
                self.name_edit.setText(node.name)
        for name, editor in self.editors.items():
            editor.set_value(node.param(name))
        self.frozen.set_value(node.frozen)
        self.lr_mult.set_value(node.lr_mult)
        self.show_analysis(self.inspector.analysis)

    def show_analysis(self, analysis: Any) -> None:
        if self.node_id is None:
            return
        t = theme.current()
        shapes = getattr(analysis, "shapes", None)
        outputs = getattr(shapes, "outputs", {}).get(self.node_id, {}) if shapes else {}
        if outputs:
            parts = [format_shape(s) if len(outputs) == 1 else f"{port}: {format_shape(s)}"
                     for port, s in outputs.items()]
            self.shape_label.setText(", ".join(parts))
        else:
            node = self.inspector.graph.nodes.get(self.node_id)
            spec = node.spec if node else None
            self.shape_label.setText("no output (a task head)" if spec and not spec.outputs
                                     else "unknown until the inputs are valid")
        count = getattr(shapes, "params", {}).get(self.node_id) if shapes else None
        self.params_label.setText(f"{count:,}" if count is not None else "\u2014")
        diags = sorted((d for d in getattr(analysis, "diagnostics", [])
                        if d.node_id == self.node_id), key=lambda d: d.severity != "error")
        lines = []
        for d in diags:
            color = t.error if d.severity == "error" else t.warning
            lines.append(f"<p style='margin:0 0 4px 0'><span style='color:{color}'>\u25cf</span> "
                         f"{_html(d.message)}</p>")
        self.problems.setText("".join(lines))
        self.problems_header.setVisible(bool(lines))
        self.problems.setVisible(bool(lines))

    # -- editing --------------------------------------------------------------------------------
    def _set_param(self, name: str, value: Any) -> None:
        from gui.commands import SetParamCommand

        graph = self.inspector.graph
        if self.node_id is None or self.node_id not in graph.nodes:
            return
        node = graph.nodes[self.node_id]
        spec = node.spec
        problem = spec.param(name).check(value) if spec else None
        if problem:  # the widgets refuse this already; never let it reach the model
            self.inspector.status_message.emit(f"{node.label}: {name} {problem}")
            self.refresh()
            return
        if _same(node.param(name), value):
            return
        self.inspector.undo_stack.push(SetParamCommand(graph, self.node_id, name, value))

    def _rename(self) -> None:
        from gui.commands import RenameCommand

        graph = self.inspector.graph
        if self.node_id is None or self.node_id not in graph.nodes:
            return
        node = graph.nodes[self.node_id]
        name = self.name_edit.text().strip()
        problem = ""
        if not name:
            problem = "A name cannot be empty; type a name for this layer."
        else:
            other = graph.node_by_name(name)
            if other is not None and other.id != node.id:
                problem = f"'{name}' is already the name of {other.label}; pick another name."
        self.name_edit.setProperty("invalid", bool(problem))
        self.name_edit.style().unpolish(self.name_edit)
        self.name_edit.style().polish(self.name_edit)
        self.name_error.setText(problem)
        self.name_error.setVisible(bool(problem))
        if problem or name == node.name:
            return
        self.inspector.undo_stack.push(RenameCommand(graph, self.node_id, name))

    def _set_options(self, **options: Any) -> None:
        from gui.commands import SetNodeOptionsCommand

        graph = self.inspector.graph
        if self.node_id is None or self.node_id not in graph.nodes:
            return
        node = graph.nodes[self.node_id]
        if all(getattr(node, k) == v for k, v in options.items()):
            return
        self.inspector.undo_stack.push(SetNodeOptionsCommand(graph, self.node_id, **options))


def format_shape(shape: Any) -> str:
    try:
        from runtime.shapes import format_shape as fmt

        return fmt(tuple(shape))
    except ImportError:  # pragma: no cover - runtime.shapes is part of the app
        return "N x " + " x ".join(str(s) for s in tuple(shape)[1:])


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")




# -- project form ----------------------------------------------------------------------------------
class ProjectForm(QWidget):
    """Project name and description, dataset with preview, task and training settings."""

    def __init__(self, inspector: Inspector) -> None:
        super().__init__()
        self.inspector = inspector
        self.editors: dict[tuple[str, str], QWidget] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 12)
        layout.setSpacing(6)
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
        self.dataset_combo = forms.ChoiceEditor(Param("name", CHOICE, "xor", "", choices=()))
        self.dataset_combo.setObjectName("edit_dataset")
        self.dataset_combo.setToolTip("A built-in dataset, or a kind of file with your own "
                                      "data.")
        self._fill_datasets()
        self.dataset_combo.committed.connect(lambda v: self._push("dataset", "name", v))
        self.dataset_form.addRow(form_label("Dataset"), self.dataset_combo)
        self.dataset_about = dim_label()
        self.dataset_form.addRow(self.dataset_about)
        path_row = QHBoxLayout()
        path_row.setSpacing(4)
        self.path_edit = forms.make_editor(Param("path", STR, "", "The file or folder with "
                                                 "your data."))
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
        self.dataset_form.addRow(form_label("File"), self.path_host)
        for name, (label, help) in DATASET_FIELDS.items():
            self._add_field(self.dataset_form, "dataset", DatasetSettings, name, label, help)
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
        for name, (label, help) in TRAINING_FIELDS.items():
            self._add_field(self.training_form, "training", TrainingSettings, name, label, help)
        for option in ADVERSARIAL_OPTIONS:
            self._add_option(option)
        layout.addLayout(self.training_form)
        layout.addStretch(1)
        self.forms = (form, self.dataset_form, self.training_form)
        self.dataset_option_editors: dict[str, QWidget] = {}
        self._dataset_params: tuple[Param, ...] = ()
        align_label_columns(*self.forms)

        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._preview_signals = PreviewSignals()
        self._preview_signals.done.connect(self._preview_done)
        self._preview_generation = 0
        self._preview_busy = False
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

    def _add_field(self, form: QFormLayout, section: str, cls: type, name: str, label: str,
                   help: str) -> None:
        param = settings_param(cls, name, label, help)
        editor = forms.make_editor(param)
        editor.committed.connect(lambda v, s=section, n=name: self._push(s, n, v))
        self.editors[(section, name)] = editor
        form.addRow(form_label(label, help), editor)

    def _add_option(self, option: OptionField) -> None:
        """A widget for one entry of ``training.options``, built like every other field."""
        editor = option_editor(option.param, option.auto)
        editor.committed.connect(lambda v, o=option: self._set_option(o, v))
        self.option_editors[option.param.name] = editor
        self.training_form.addRow(form_label(option.param.title, option.param.help), editor)

    def _option_default(self, option: OptionField) -> Any:
        """The value the runtime uses when the option is absent."""
        project = self.inspector.project
        if option.follows and project is not None:
            return getattr(project.training, option.follows)
        if option.auto:
            return option.param.minimum
        return option.param.default

    def _option_value(self, option: OptionField) -> Any:
        project = self.inspector.project
        options = (project.training.options or {}) if project is not None else {}
        value = options.get(option.param.name)
        if value is None:
            return self._option_default(option)
        shown = shown_option(option.param, value)
        # the runtime reads "FGSM" as "fgsm"
        return shown.lower() if option.param.kind == CHOICE else shown

    def _set_option(self, option: OptionField, value: Any) -> None:
        """One undoable step: the whole options dict, with defaults left out."""
        project = self.inspector.project
        if project is None:
            return
        options = dict(project.training.options or {})
        name = option.param.name
        if _same(value, self._option_default(option)):
            options.pop(name, None)
        else:
            options[name] = value
        if option.param.kind == CHOICE:  # switched off: drop the options it governed
            for other in TRAINING_OPTIONS.values():
                if other.switch == name and value not in other.when:
                    options.pop(other.param.name, None)
        self._push_options("training", options, option.param.title)

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
        """Rows for the options the chosen set declares (runtime's Params), rebuilt when the
        set changes, showing the project's values."""
        params = tuple(getattr(info, "options", ()) or ())
        if params != self._dataset_params:
            for editor in self.dataset_option_editors.values():
                self.dataset_form.removeRow(editor)
            self.dataset_option_editors = {}
            for param in params:
                editor = option_editor(param, "auto")
                editor.committed.connect(lambda v, p=param: self._set_dataset_option(p, v))
                self.dataset_form.addRow(form_label(param.title, param.help), editor)
                self.dataset_option_editors[param.name] = editor
            self._dataset_params = params
            align_label_columns(*self.forms)
        options = self.inspector.project.dataset.options or {}
        for param in params:
            self.dataset_option_editors[param.name].set_value(
                shown_option(param, options.get(param.name)))

    def _set_dataset_option(self, param: Param, value: Any) -> None:
        project = self.inspector.project
        if project is None:
            return
        options = dict(project.dataset.options or {})
        if _same(value, shown_option(param, None)):
            options.pop(param.name, None)  # the default, or "auto": the builder decides
        else:
            options[param.name] = value
        self._push_options("dataset", options, param.title)

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
        uses = set(info.uses) if info else set(DATASET_FIELDS) | {"path"}
        self.dataset_form.setRowVisible(self.path_host, "path" in uses)
        self.browse.setToolTip("Choose the folder" if kind == "images" else "Choose the file")
        shown = uses | {"val_split", "seed"}
        for name in DATASET_FIELDS:
            self.dataset_form.setRowVisible(self.editors[("dataset", name)], name in shown)
        self._show_dataset_options(info)
        training = project.training
        self.training_form.setRowVisible(self.editors[("training", "momentum")],
                                         training.optimizer in ("sgd", "rmsprop"))
        for name in ("step_size", "gamma"):
            self.training_form.setRowVisible(self.editors[("training", name)],
                                             training.schedule == "step")
        options_shown: dict[str, bool] = {}
        for name, option in TRAINING_OPTIONS.items():  # a switch comes before its fields
            visible = not option.switch or (
                options_shown.get(option.switch, True)
                and self._option_value(TRAINING_OPTIONS[option.switch]) in option.when)
            options_shown[name] = visible
            self.training_form.setRowVisible(self.option_editors[name], visible)

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
        project = self.inspector.project
        if project is None or not self.datasets:
            if not self.datasets:
                self.preview.show_error("Dataset previews need runtime.data.")
            return
        key = repr(dataclasses.asdict(project.dataset))
        if key == self._preview_key:
            return
        self._preview_key = key
        self._preview_generation += 1
        self.preview.show_loading()
        self._preview_timer.start()

    def _start_preview(self) -> None:
        project = self.inspector.project
        if project is None:
            return
        if self._preview_busy:
            self._preview_timer.start()
            return
        self._preview_busy = True
        settings = copy.deepcopy(project.dataset)
        self._pool.start(PreviewJob(settings, self._preview_generation, self._preview_signals))

    def _preview_done(self, generation: int, data: Any, error: str) -> None:
        self._preview_busy = False
        if generation != self._preview_generation:
            return  # a newer request is queued on the timer
        if error:
            self.preview.show_error(error)
        else:
            self.preview.show_data(data)
        self.show_task(self.inspector.graph)

    def wait_preview(self, timeout_ms: int = 10_000) -> None:
        """Block until the preview is loaded (tests, screenshots)."""
        from PySide6.QtCore import QCoreApplication, QDeadlineTimer

        deadline = QDeadlineTimer(timeout_ms)
        while ((self._preview_timer.isActive() or self._preview_busy)
               and not deadline.hasExpired()):
            if self._preview_timer.isActive() and not self._preview_busy:
                self._preview_timer.stop()
                self._start_preview()
            QCoreApplication.processEvents()
            self._pool.waitForDone(5)
        QCoreApplication.processEvents()

    # -- editing --------------------------------------------------------------------------------
    def _push(self, section: str, name: str, value: Any) -> None:
        project = self.inspector.project
        if project is None:
            return
        target = project if section == "project" else getattr(project, section)
        if _same(getattr(target, name), value):
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
            declared = {p.name: p for p in getattr(self.datasets.get(value), "options", ())}
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


# -- the inspector ---------------------------------------------------------------------------------
class Inspector(QWidget):
    """Shows the node form for one selected node, a summary for several, else the project.

    Signals: ``settings_changed(section, field)`` after a project setting changed (edit, undo
    or redo); ``status_message(text)`` for one-line notes in the status bar.
    """

    settings_changed = Signal(str, str)
    status_message = Signal(str)

    def __init__(self, undo_stack: QUndoStack, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = undo_stack
        self.project: Project | None = None
        self.analysis: Any = None
        self.selection: list[int] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        layout.addWidget(self.scroll)
        self.stack = Pages()
        self.scroll.setWidget(self.stack)
        self.node_form = NodeForm(self)
        self.project_form = ProjectForm(self)
        self.multi = QWidget()
        multi_layout = QVBoxLayout(self.multi)
        multi_layout.setContentsMargins(12, 10, 12, 12)
        self.multi_title = QLabel()
        self.multi_title.setFont(style.font("large", bold=True))
        multi_layout.addWidget(self.multi_title)
        self.multi_text = dim_label()
        multi_layout.addWidget(self.multi_text)
        multi_layout.addStretch(1)
        for page in (self.project_form, self.node_form, self.multi):
            self.stack.addWidget(page)

    @property
    def graph(self) -> Any:
        return self.project.graph if self.project is not None else None

    def set_project(self, project: Project) -> None:
        """Show ``project`` (after new/open); follows its graph's events from now on."""
        if self.project is not None:
            self.project.graph.unsubscribe(self._on_graph_event)
        self.project = project
        project.graph.subscribe(self._on_graph_event)
        self.node_form.node_id = None
        self.node_form.layer_type = ""
        self.project_form._preview_key = None
        self.project_form.refresh()
        self.show_nodes([])

    def show_nodes(self, node_ids: list[int]) -> None:
        """Follow the canvas selection."""
        graph = self.graph
        ids = [i for i in node_ids if graph is not None and i in graph.nodes]
        self.selection = ids
        if len(ids) == 1:
            self.node_form.show_node(ids[0])
            self.stack.setCurrentWidget(self.node_form)
        elif ids:
            self._show_multi(ids)
            self.stack.setCurrentWidget(self.multi)
        else:
            self.node_form.node_id = None
            self.stack.setCurrentWidget(self.project_form)
            self.project_form.request_preview()
        self.scroll.verticalScrollBar().setValue(0)

    def _show_multi(self, ids: list[int]) -> None:
        params = getattr(getattr(self.analysis, "shapes", None), "params", {}) or {}
        total = sum(params.get(i, 0) for i in ids)
        self.multi_title.setText(f"{len(ids)} layers selected")
        names = ", ".join(self.graph.nodes[i].name for i in ids[:12])
        more = f" and {len(ids) - 12} more" if len(ids) > 12 else ""
        self.multi_text.setText(f"{names}{more}\n\n{total:,} trainable parameters together.\n\n"
                                "Select a single layer to edit its parameters.")

    def set_analysis(self, analysis: Any) -> None:
        self.analysis = analysis
        if self.stack.currentWidget() is self.node_form:
            self.node_form.show_analysis(analysis)
        elif self.stack.currentWidget() is self.multi:
            self._show_multi(self.selection)
        self.project_form.show_task(self.graph)

    def settings_applied(self, section: str, field: str) -> None:
        """SetSettingsCommand callback: show the new value, then tell the window."""
        self.project_form.refresh()
        self.settings_changed.emit(section, field)

    def refresh_theme(self) -> None:
        self.project_form.refresh_theme()
        if self.project_form.preview.data:
            self.project_form.preview.show_data(self.project_form.preview.data)
        if self.node_form.node_id is not None and self.graph is not None:
            self.node_form.layer_type = ""
            self.node_form.show_node(self.node_form.node_id)

    def _on_graph_event(self, event: GraphEvent) -> None:
        if event.kind == "node_moved":
            return
        if event.kind == "reset" or (event.kind == "node_removed"
                                     and event.node_id in self.selection):
            self.show_nodes([i for i in self.selection if i in self.graph.nodes])
            return
        if event.kind == "node_changed" and event.node_id == self.node_form.node_id:
            self.node_form.refresh()
        if event.kind in ("node_added", "node_removed", "node_changed"):
            self.project_form.show_task(self.graph)
