"""The editor window: canvas in the middle, docks around it, menus, toolbar and status bar.

The window owns one ``Graph`` for its whole life (opening a file replaces its contents), one
``QUndoStack`` and the current ``Project``. Other features plug in through a small API:
``add_panel`` (a dock, listed in View > Panels, placed by the saved layout), ``menus`` and
``actions`` (e.g. ``actions["train"]``), ``add_status_widget`` and the signals below.

The window is assembled from one mixin per concern: ``WindowActionsMixin`` (actions, menus,
toolbar, help), ``DocksMixin`` (docks and their saved layout), ``PerspectivesMixin`` (a
maximised panel, the training layout), ``DocumentMixin`` (new, open,
save, recent files) and ``AutosaveMixin`` (autosave and crash recovery). This module keeps the
shell: building the window, following the model, the theme and the default layout.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, QSize, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QUndoStack
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QTabWidget,
    QToolButton,
    QUndoView,
    QWidget,
)

from graph.project import Project
from gui import style, theme
from gui.analysis import AnalysisRunner
from gui.docks import BOTTOM, LEFT, RIGHT, DocksMixin
from gui.document import DocumentMixin, RecentFiles
from gui.inspector import Inspector
from gui.palette import Palette
from gui.panels.code import CodePanel
from gui.panels.problems import ProblemsPanel
from gui.perspectives import PerspectivesMixin
from gui.recovery import AutosaveMixin
from gui.text import counted
from gui.window_actions import WindowActionsMixin

DEFAULT_SIZE = QSize(1600, 1000)
LEFT_WIDTH, RIGHT_WIDTH, BOTTOM_HEIGHT = 232, 390, 230
BOTTOM_SHARE = 0.3  # of the window height for the panels below, when that is more than 230 px


class MainWindow(WindowActionsMixin, DocksMixin, PerspectivesMixin, DocumentMixin, AutosaveMixin,
                 QMainWindow):
    """The Plexus editor window.

    Signals: ``project_changed(project)`` after New/Open/recovery (panels rebind to it),
    ``selection_changed(list[int])`` with the selected node ids, ``analysis_updated(analysis)``
    after every validation/shape run, ``theme_changed(name)``, ``about_to_save(project)``
    just before a project is written (e.g. to store trained weights in it).
    """

    project_changed = Signal(object)
    selection_changed = Signal(list)
    analysis_updated = Signal(object)
    theme_changed = Signal(str)
    about_to_save = Signal(object)

    def __init__(self, settings: QSettings | None = None, data_dir: Path | None = None,
                 restore_layout: bool = True, interactive: bool = True) -> None:
        super().__init__()
        from gui.canvas import GraphScene, GraphView

        self.settings = settings if settings is not None else QSettings()
        self.interactive = interactive  # False: errors go to stderr, never a modal dialog
        self.persist = restore_layout  # False (screenshots): write no layout or recent files
        self.recent = RecentFiles(self.settings)
        self.path: str | None = None
        self.project = Project()
        self.graph = self.project.graph
        self.undo_stack = QUndoStack(self)
        # Bound methods, not lambdas: Qt drops them when the window is destroyed.
        self.undo_stack.cleanChanged.connect(self.update_title)
        self.undo_stack.indexChanged.connect(self.update_title)
        self.actions: dict[str, QAction] = {}
        self.menus: dict[str, QMenu] = {}
        self.docks: dict[str, QDockWidget] = {}
        self._contextual: dict[str, Callable[[Project], bool]] = {}
        self.analysis: Any = None

        self.setObjectName("MainWindow")
        self.setDockNestingEnabled(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks
                            | QMainWindow.DockOption.AllowTabbedDocks
                            | QMainWindow.DockOption.AllowNestedDocks)
        self.setTabPosition(BOTTOM, QTabWidget.TabPosition.North)

        self.scene = GraphScene(self.graph, self.undo_stack)
        self.view = GraphView(self.scene)
        self.view.setObjectName("canvas")
        self.setCentralWidget(self.view)

        self.palette = Palette()
        self.inspector = Inspector(self.undo_stack)
        self.problems = ProblemsPanel(self.undo_stack)
        self.code = CodePanel()
        self.history = QUndoView(self.undo_stack)
        self.history.setEmptyLabel("Opened project")
        self.history.setObjectName("undo_history")

        self.runner = AnalysisRunner(self.graph, parent=self)
        self.runner.finished.connect(self._analysis_done)
        self.runner.failed.connect(self.show_message)
        self.inspector.project_form.classes_known.connect(self.runner.set_classes)

        self._make_actions()
        self._make_menus()
        self._make_toolbar()
        self._make_status_bar()
        self._make_docks()
        self._make_perspective_controls()
        self._connect()
        self.apply_icons()

        self._start_autosave(data_dir)

        self._set_project(Project(), None)
        self.restore_layout(use_saved=restore_layout)

    # -- building ---------------------------------------------------------------------------------
    def _make_status_bar(self) -> None:
        status = self.statusBar()
        status.setSizeGripEnabled(False)
        self.status_area = QWidget()
        self.status_area.setObjectName("status_area")
        self.status_layout = QHBoxLayout(self.status_area)
        self.status_layout.setContentsMargins(0, 0, 0, 0)
        self.status_layout.setSpacing(8)
        self.status_area.hide()  # appears when a feature adds a widget
        status.addPermanentWidget(self.status_area)
        self.validity = QToolButton()
        self.validity.setObjectName("status_validity")
        self.validity.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.validity.setAutoRaise(True)
        self.validity.setIconSize(QSize(14, 14))
        self.validity.setToolTip("Open the Problems panel")
        self.validity.clicked.connect(lambda: self.show_dock("problems"))
        status.addPermanentWidget(self.validity)
        self.params_label = QLabel()
        self.params_label.setObjectName("status_params")
        self.params_label.setToolTip("Trainable parameters of the whole network")
        status.addPermanentWidget(self.params_label)

    def add_status_widget(self, widget: QWidget, stretch: int = 0) -> None:
        """Put a widget (training progress, device) in the status bar, left of validity."""
        self.status_layout.addWidget(widget, stretch)
        self.status_area.show()

    def _make_docks(self) -> None:
        self.add_panel(self.palette, "Palette", LEFT, "palette", tabify=False)
        self.add_panel(self.inspector, "Inspector", RIGHT, "inspector", tabify=False)
        self.add_panel(self.problems, "Problems", BOTTOM, "problems", tabify=False)
        self.add_panel(self.code, "Code", BOTTOM, "code")
        self.add_panel(self.history, "Undo History", BOTTOM, "history")
        self.docks["problems"].raise_()

    def show_message(self, text: str, ms: int = 6000) -> None:
        """A one-line note in the status bar."""
        self.statusBar().showMessage(text, ms)

    def show_error(self, title: str, message: str) -> None:
        """One clear error dialog (stderr when not interactive)."""
        if not self.interactive:
            print(f"plexus: {message}", file=sys.stderr)
            return
        QMessageBox.critical(self, title, message)

    def _connect(self) -> None:
        self.scene.nodes_selected.connect(self._selection)
        self.scene.status_message.connect(self.show_message)
        self.palette.layer_activated.connect(self.add_layer_at_center)
        self.problems.node_activated.connect(self.focus_node)
        self.inspector.settings_changed.connect(self._settings_changed)
        self.inspector.status_message.connect(self.show_message)

    # -- canvas actions ---------------------------------------------------------------------------
    def canvas_edit(self, key: str) -> None:
        """Cut/copy/paste/duplicate/delete/select all/group/ungroup, done by the canvas."""
        scene = self.scene
        if key == "cut":
            if scene.copy_selection():
                scene.delete_selection()
        elif key == "copy":
            scene.copy_selection()
        elif key == "paste":
            self.view.paste_at_cursor()
        elif key == "duplicate":
            scene.duplicate_selection()
        elif key == "delete":
            scene.delete_selection()
        elif key == "select_all":
            scene.select_all()
        elif key == "group":
            scene.groups.group_selection()
        elif key == "ungroup":
            scene.groups.ungroup_selection()

    def add_layer_at_center(self, layer_id: str) -> None:
        """Add a layer where the user is looking (palette double-click)."""
        self.view.add_layer_at_center(layer_id)

    def focus_node(self, node_id: int) -> None:
        """Select and centre a node (Problems panel clicks)."""
        if node_id not in self.graph.nodes:
            return
        self.scene.select_node(node_id)
        self.view.center_on_node(node_id)

    def fit_view(self) -> None:
        self.view.fit_all()

    def auto_layout(self) -> None:
        from gui.commands import AutoLayoutCommand

        if self.graph.nodes:
            self.undo_stack.push(AutoLayoutCommand(self.graph))
            self.fit_view()

    def validate_now(self) -> Any:
        analysis = self.runner.run_now()
        self.show_dock("problems")
        if analysis is not None:
            errors, warnings = self.problems.counts()
            self.show_message("The network is valid." if not errors and not warnings
                              else f"Found {_count_text(errors, warnings)}.", 6000)
        return analysis

    # -- following the model ----------------------------------------------------------------------
    def _selection(self, ids: list[int]) -> None:
        ids = list(ids)
        self.inspector.show_nodes(ids)
        self.selection_changed.emit(ids)

    def _analysis_done(self, analysis: Any) -> None:
        self.analysis = analysis
        self.scene.set_analysis(analysis)
        self.problems.show_diagnostics(analysis.diagnostics, self.graph)
        self.inspector.set_analysis(analysis)
        self.code.update_code(self.graph, analysis)
        self._show_totals(analysis)
        self.analysis_updated.emit(analysis)

    def _show_totals(self, analysis: Any) -> None:
        t = theme.current()
        errors, warnings = self.problems.counts()
        if not self.graph.nodes:
            text, icon, color = "empty network", "about", t.text_dim
        elif errors or warnings:
            text = _count_text(errors, warnings)
            icon, color = ("error", t.error) if errors else ("warning", t.warning)
        else:
            text, icon, color = "valid", "ok", t.ok
        self.validity.setText(text)
        self.validity.setIcon(style.icon(icon, color))
        total = getattr(analysis.shapes, "total_params", None)
        self.params_label.setText(f"{total:,} params" if total is not None else "")

    def _settings_changed(self, section: str, field: str) -> None:
        if section == "project" and field == "name":
            self.update_title()

    # -- look and layout --------------------------------------------------------------------------
    def set_theme(self, name: str) -> None:
        style.apply_theme(name)
        self.settings.setValue("theme", name)
        self.apply_icons()
        self.palette.refresh_theme()
        self.inspector.refresh_theme()
        self.code.refresh_theme()
        if self.analysis is not None:
            self.problems.show_diagnostics(self.analysis.diagnostics, self.graph)
            self._show_totals(self.analysis)
        for owner in (self.scene, self.view):
            refresh = getattr(owner, "refresh_theme", None)
            if callable(refresh):
                refresh()
        self.scene.update()
        self.view.viewport().update()
        self.theme_changed.emit(name)

    def apply_default_layout(self) -> None:
        """First-launch layout: palette left, inspector right, panels tabbed below (training
        panels first, Metrics in front), at the window's present size."""
        size = self.size()
        if self._maximised is not None:
            self.restore_maximised()
        self._training_state = None  # the default layout replaces the one from before Train
        self.setCorner(Qt.Corner.BottomLeftCorner, LEFT)  # side docks reach down to the bottom
        self.setCorner(Qt.Corner.BottomRightCorner, RIGHT)
        for key, dock in sorted(self.docks.items(), key=lambda kv: _tab_rank(kv[0])):
            dock.setFloating(False)
            area = dock.property("default_area") or BOTTOM
            self.removeDockWidget(dock)
            self.addDockWidget(area, dock)
            dock.setVisible(not dock.property("default_hidden"))  # Lessons: on request
            self.docks[key] = dock
        bottom = [d for _, d in sorted(self.docks.items(), key=lambda kv: _tab_rank(kv[0]))
                  if self.dockWidgetArea(d) == BOTTOM]
        for previous, dock in zip(bottom, bottom[1:], strict=False):
            self.tabifyDockWidget(previous, dock)
        if bottom:
            bottom[0].raise_()
        self._show_contextual_docks()
        self.toolbar.show()
        if bottom:
            height = max(BOTTOM_HEIGHT, round(size.height() * BOTTOM_SHARE))
            self.resizeDocks([bottom[0]], [height], Qt.Orientation.Vertical)
        self.resize(size)  # many docks' minimum sizes must not grow the window
        self.size_side_docks(LEFT_WIDTH, RIGHT_WIDTH)  # at the window's own width
        self.tidy_tab_bars()

    def restore_layout(self, use_saved: bool = True) -> None:
        """The user's saved geometry and docks, or the default layout at 1600x1000."""
        self.resize(DEFAULT_SIZE)
        self.apply_default_layout()
        if use_saved:
            self._restore_saved_layout()
        self._layout_restored = True

    def reset_layout(self) -> None:
        self.apply_default_layout()
        self.show_message("Panels are back in their default places.", 4000)

    # -- closing ----------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        if not self.maybe_save():
            event.ignore()
            return
        if self.persist:
            self.save_layout()
        self._stop_autosave()
        self.runner.shutdown()
        event.accept()


def _tab_rank(key: str) -> int:
    """Bottom tabs in the default layout, left to right (``gui.panels.registry``)."""
    from gui.panels.registry import tab_rank

    return tab_rank(key)


def _count_text(errors: int, warnings: int) -> str:
    parts = []
    if errors:
        parts.append(counted(errors, "error"))
    if warnings:
        parts.append(counted(warnings, "warning"))
    return ", ".join(parts) or "no problems"
