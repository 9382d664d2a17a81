"""The inspector: a form for the selected layer, or the project's settings when none is.

The layer form (gui/node_form.py) is generated from the catalog declaration and the project
form (gui/project_form.py) from the settings' Field declarations, both through the one
type-to-widget map in gui/forms.py, so a new layer or setting needs no inspector code. Every
edit is an undo command; the forms follow the model (undo, redo, canvas edits) by listening
to graph events, never the other way round.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from graph.model import GraphEvent
from graph.project import Project
from gui import style
from gui.form_layout import Pages, dim_label
from gui.node_form import NodeForm
from gui.project_form import ProjectForm

MIN_WIDTH = 290  # px: the labels and an editable field side by side


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
        # Narrower than this, the form's fields are cut to a few letters ("autoencod"); a
        # form that still needs more room scrolls sideways rather than being cut.
        self.setMinimumWidth(MIN_WIDTH)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
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
        self.project_form.forget_preview()
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
