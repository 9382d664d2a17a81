"""The inspector's form for one layer: name, output shape, parameter count, the parameters
the catalog declares (through the one type-to-widget map in gui/forms.py, so a new layer
needs no form code), training options and problems.

Every edit is an undo command (SetParamCommand / RenameCommand / SetNodeOptionsCommand in
gui/commands.py); the form follows the model through ``refresh``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QWidget

from graph import catalog
from graph.catalog import BOOL, FLOAT, Param
from gui import forms, style, theme
from gui.field_rows import same
from gui.form_layout import dim_label, form_label, make_form, page_layout, section_label

if TYPE_CHECKING:
    from gui.inspector import Inspector

LR_MULT = Param("lr_mult", FLOAT, 1.0, "This layer's learning rate is the project's times "
                "this factor; 0 stops it learning.", 0.0, 100.0, label="LR multiplier")


class NodeForm(QWidget):
    """Parameters, name, output shape, parameter count and training options of one node."""

    def __init__(self, inspector: Inspector) -> None:
        super().__init__()
        self.inspector = inspector
        self.node_id: int | None = None
        self.editors: dict[str, QWidget] = {}
        self.layer_type = ""
        layout = page_layout(self)

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
        if same(node.param(name), value):
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
        from runtime.shape_text import format_shape as fmt

        return fmt(tuple(shape))
    except ImportError:  # pragma: no cover - runtime.shapes is part of the app
        return "N x " + " x ".join(str(s) for s in tuple(shape)[1:])


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
