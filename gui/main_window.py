"""The editor window: canvas in the middle, docks around it, menus, toolbar and status bar.

The window owns one ``Graph`` for its whole life (opening a file replaces its contents), one
``QUndoStack`` and the current ``Project``. Other features plug in through a small API:
``add_panel`` (a dock, listed in View > Panels, placed by the saved layout), ``menus`` and
``actions`` (e.g. ``actions["train"]``), ``add_status_widget`` and the signals below.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QTabWidget,
    QToolBar,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QUndoView,
    QVBoxLayout,
    QWidget,
)

from graph.project import Project, ProjectError, load_project, save_project
from gui import style, theme
from gui.analysis import AnalysisRunner
from gui.inspector import Inspector
from gui.palette import Palette
from gui.panels.code import CodePanel
from gui.panels.problems import ProblemsPanel
from gui.projects import (
    AUTOSAVE_MS,
    FILE_FILTER,
    RecentFiles,
    Recovery,
    RecoveryInfo,
    TemplateDialog,
    list_templates,
)

APP_NAME = "Plexus"
STATE_VERSION = 2  # bump when the default dock set changes so old saved layouts are dropped
DEFAULT_SIZE = QSize(1600, 1000)
LEFT_WIDTH, RIGHT_WIDTH, BOTTOM_HEIGHT = 232, 390, 230

LEFT = Qt.DockWidgetArea.LeftDockWidgetArea
RIGHT = Qt.DockWidgetArea.RightDockWidgetArea
BOTTOM = Qt.DockWidgetArea.BottomDockWidgetArea


class DockTitleBar(QWidget):
    """A compact dock title: the name, then float and close buttons drawn with our icons."""

    def __init__(self, dock: QDockWidget) -> None:
        super().__init__(dock)
        self.dock = dock
        self.setObjectName("dock_title")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 3, 4, 3)
        layout.setSpacing(2)
        self.label = QLabel(dock.windowTitle())
        self.label.setObjectName("dock_title_label")
        self.label.setFont(style.font("small", bold=True))
        layout.addWidget(self.label, 1)
        self.float_button = self._button("Float or dock this panel", self._toggle_float)
        self.close_button = self._button("Close this panel (View > Panels brings it back)",
                                         dock.close)
        layout.addWidget(self.float_button)
        layout.addWidget(self.close_button)
        dock.windowTitleChanged.connect(self.label.setText)
        self.refresh_theme()

    def _button(self, tip: str, slot: Any) -> QToolButton:
        button = QToolButton(self)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.setIconSize(QSize(14, 14))
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.clicked.connect(slot)
        return button

    def _toggle_float(self) -> None:
        self.dock.setFloating(not self.dock.isFloating())

    def refresh_theme(self) -> None:
        t = theme.current()
        self.label.setText(self.dock.windowTitle())
        self.float_button.setIcon(style.icon("panel", t.text_dim))
        self.close_button.setIcon(style.icon("close", t.text_dim))


class MainWindow(QMainWindow):
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
        self.recovery = Recovery(data_dir)
        self.path: str | None = None
        self.project = Project()
        self.graph = self.project.graph
        self.undo_stack = QUndoStack(self)
        # Bound methods, not lambdas: Qt drops them when the window is destroyed.
        self.undo_stack.cleanChanged.connect(self.update_title)
        self.undo_stack.indexChanged.connect(self.update_title)
        self._autosaved_index: int | None = None
        self._owns_recovery = False  # only a file this window wrote or took over is removed
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
        self.setCorner(Qt.Corner.BottomLeftCorner, LEFT)
        self.setCorner(Qt.Corner.BottomRightCorner, RIGHT)
        self.setTabPosition(BOTTOM, QTabWidget.TabPosition.North)

        self.scene = GraphScene(self.graph, self.undo_stack)
        self.view = GraphView(self.scene)
        self.view.setObjectName("canvas")
        self.setCentralWidget(self.view)

        self.palette = Palette()
        self.inspector = Inspector(self.undo_stack)
        self.problems = ProblemsPanel()
        self.code = CodePanel()
        self.history = QUndoView(self.undo_stack)
        self.history.setEmptyLabel("Opened project")
        self.history.setObjectName("undo_history")

        self.runner = AnalysisRunner(self.graph, parent=self)
        self.runner.finished.connect(self._analysis_done)
        self.runner.failed.connect(self.show_message)

        self._make_actions()
        self._make_menus()
        self._make_toolbar()
        self._make_status_bar()
        self._make_docks()
        self._connect()
        self.apply_icons()

        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()

        self._set_project(Project(), None)
        self.restore_layout(use_saved=restore_layout)

    # -- building ---------------------------------------------------------------------------------
    def _action(self, key: str, text: str, slot: Any = None, shortcut: Any = None,
                icon: str | None = None, tip: str | None = None) -> QAction:
        action = QAction(text, self)
        action.setObjectName(f"action_{key}")
        if shortcut is not None:
            shortcuts = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        if slot is not None:
            action.triggered.connect(slot)
        action.setProperty("icon_name", icon or "")
        action.setStatusTip(tip or "")
        self.actions[key] = action
        self.addAction(action)  # shortcuts work even with the menu bar hidden
        return action

    def _make_actions(self) -> None:
        a, K = self._action, QKeySequence.StandardKey
        a("new", "&New", self.new_project, K.New, "new", "Start an empty project")
        a("new_template", "New from &Template\u2026", self.new_from_template, "Ctrl+Shift+N",
          "template", "Start from one of the example networks")
        a("open", "&Open\u2026", lambda: self.open_dialog(), K.Open, "open",
          "Open a .plexus project")
        a("save", "&Save", lambda: self.save(), K.Save, "save", "Save the project")
        a("save_as", "Save &As\u2026", lambda: self.save_as(), K.SaveAs, "save-as",
          "Save the project under a new name")
        a("export", "&Export\u2026", None, None, "export", "Export the model (coming soon)")
        self.actions["export"].setEnabled(False)
        a("quit", "&Quit", self.close, K.Quit, "quit", "Close Plexus")

        undo = self.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcuts([QKeySequence("Ctrl+Z")])
        redo = self.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        for key, action in (("undo", undo), ("redo", redo)):
            action.setObjectName(f"action_{key}")
            action.setProperty("icon_name", key)
            self.actions[key] = action
            self.addAction(action)
        for key, text, shortcut, icon in (
                ("cut", "Cu&t", "Ctrl+X", "cut"), ("copy", "&Copy", "Ctrl+C", "copy"),
                ("paste", "&Paste", "Ctrl+V", "paste"),
                ("duplicate", "&Duplicate", "Ctrl+D", "duplicate"),
                ("delete", "De&lete", ["Delete", "Backspace"], "delete"),
                ("select_all", "Select &All", "Ctrl+A", "select-all"),
                ("group", "&Group", "Ctrl+G", None),
                ("ungroup", "U&ngroup", "Ctrl+Shift+G", None)):
            action = a(key, text, lambda _=False, k=key: self.canvas_edit(k), shortcut, icon)
            # Active only while the canvas has focus, so text fields keep their own copy,
            # paste and delete.
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.removeAction(action)
            self.view.addAction(action)
        self.actions["group"].setStatusTip("Frame the selected layers as one named block "
                                           "(a generator, a shared trunk)")
        self.actions["ungroup"].setStatusTip("Dissolve the selected groups; their layers stay")
        a("history", "Undo &History", lambda: self.show_dock("history"), "Ctrl+H", "history",
          "Show every step that Undo can take back")

        a("fit", "&Fit to View", self.fit_view, "F", "fit", "Show the whole network")
        a("layout", "&Auto Layout", self.auto_layout, "Ctrl+L", "layout",
          "Arrange the layers left to right")
        group = QActionGroup(self)
        for name in ("dark", "light"):
            action = a(f"theme_{name}", f"{name.capitalize()} Theme",
                       lambda _=False, n=name: self.set_theme(n), None, None,
                       f"Switch to the {name} theme")
            action.setCheckable(True)
            group.addAction(action)
        a("reset_layout", "&Reset Layout", self.reset_layout, None, "reset",
          "Put every panel back where it started")

        a("validate", "&Validate", self.validate_now, "F7", "validate",
          "Check the network and list its problems")
        a("show_code", "Show &Code", lambda: self.show_dock("code"), "Ctrl+Shift+C", "code",
          "Show the PyTorch code of the network")

        a("train", "&Train", None, "F5", "train", "Train the network (coming soon)")
        a("pause", "&Pause", None, "F6", "pause", "Pause training (coming soon)")
        a("stop", "&Stop", None, "Shift+F5", "stop", "Stop training (coming soon)")
        for key in ("train", "pause", "stop"):
            self.actions[key].setEnabled(False)

        a("about", "&About Plexus", self.about, None, "about")
        a("shortcuts", "&Keyboard Shortcuts", self.show_shortcuts, "F1", "keyboard")
        for action in self.actions.values():
            self._update_tooltip(action)

    def add_menu_action(self, menu: str, key: str, text: str, slot: Any, icon: str,
                        tip: str, before: str | None = None) -> QAction:
        """A command added by a feature: in menu ``menu`` (before action ``before`` when it is
        there), with its icon in the current theme and a tooltip like the built-in ones."""
        action = self._action(key, text, lambda _=False: slot(), None, icon, tip)
        action.setIcon(style.icon(icon))
        self._update_tooltip(action)
        target = self.menus[menu]
        anchor = self.actions.get(before) if before else None
        if anchor is not None and anchor in target.actions():
            target.insertAction(anchor, action)
        else:
            target.addAction(action)
        return action

    @staticmethod
    def _update_tooltip(action: QAction) -> None:
        text = action.text().replace("&", "").replace("\u2026", "")
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{text} ({keys})" if keys else text)

    def _make_menus(self) -> None:
        bar = self.menuBar()
        acts = self.actions

        def menu(key: str, title: str, items: list[Any]) -> QMenu:
            m = bar.addMenu(title)
            m.setObjectName(f"menu_{key}")
            self.menus[key] = m
            for item in items:
                if item is None:
                    m.addSeparator()
                elif isinstance(item, QMenu):
                    m.addMenu(item)
                else:
                    m.addAction(acts[item])
            return m

        self.recent_menu = QMenu("Open &Recent", self)
        self.recent_menu.setObjectName("menu_recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        menu("file", "&File", ["new", "new_template", None, "open", self.recent_menu, None,
                               "save", "save_as", None, "export", None, "quit"])
        menu("edit", "&Edit", ["undo", "redo", None, "cut", "copy", "paste", "duplicate",
                               "delete", None, "select_all", None, "group", "ungroup", None,
                               "history"])
        self.panels_menu = QMenu("&Panels", self)
        self.panels_menu.setObjectName("menu_panels")
        self.theme_menu = QMenu("&Theme", self)
        self.theme_menu.addAction(acts["theme_dark"])
        self.theme_menu.addAction(acts["theme_light"])
        menu("view", "&View", ["fit", "layout", None, self.theme_menu, None, self.panels_menu,
                               "reset_layout"])
        menu("model", "&Model", ["validate", "show_code"])
        menu("train", "&Train", ["train", "pause", "stop"])
        menu("help", "&Help", ["shortcuts", None, "about"])

    def _make_toolbar(self) -> None:
        bar = QToolBar("Main toolbar", self)
        bar.setObjectName("main_toolbar")
        bar.setMovable(False)
        bar.setIconSize(QSize(20, 20))
        self.toolbar = bar
        for key in ("new", "open", "save", None, "undo", "redo", None, "fit", "layout", None,
                    "validate", "show_code", None, "train", "pause", "stop"):
            if key is None:
                bar.addSeparator()
            else:
                bar.addAction(self.actions[key])
        train_button = bar.widgetForAction(self.actions["train"])
        if isinstance(train_button, QToolButton):
            train_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.device_combo = QComboBox()
        self.device_combo.setObjectName("device_combo")
        self.device_combo.addItem("Auto", "auto")
        self.device_combo.addItem("CPU", "cpu")
        self.device_combo.setToolTip("Where training runs (coming with training)")
        self.device_combo.setEnabled(False)
        self.device_combo.setMinimumWidth(110)
        bar.addWidget(self.device_combo)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)

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

    def add_panel(self, widget: QWidget, title: str,
                  area: Qt.DockWidgetArea = BOTTOM, name: str | None = None,
                  tabify: bool = True) -> QDockWidget:
        """Wrap ``widget`` in a movable, floatable, closable dock; list it in View > Panels.

        ``name`` (default: the title) identifies the dock in the saved layout. A dock added
        after start-up goes where the user's saved layout had it, else into ``area``, tabbed
        with the first dock already there when ``tabify``.
        """
        key = name or title.lower().replace(" ", "_")
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{key}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        dock.setProperty("default_area", area)
        dock.title_bar = DockTitleBar(dock)
        dock.no_title_bar = QWidget(dock)
        dock.no_title_bar.hide()
        dock.setTitleBarWidget(dock.title_bar)
        dock.dockLocationChanged.connect(self._update_title_bars)
        dock.topLevelChanged.connect(self._update_title_bars)
        dock.visibilityChanged.connect(self._update_title_bars)
        existing = [d for d in self.docks.values()
                    if self.dockWidgetArea(d) == area and not d.isFloating()]
        self.addDockWidget(area, dock)
        if tabify and existing:
            self.tabifyDockWidget(existing[-1], dock)
        self.docks[key] = dock
        toggle = dock.toggleViewAction()
        toggle.setObjectName(f"action_panel_{key}")
        self.panels_menu.addAction(toggle)
        if getattr(self, "_layout_restored", False):
            self.restoreDockWidget(dock)
        return dock

    def set_contextual_dock(self, key: str, applies: Callable[[Project], bool]) -> None:
        """Show dock ``key`` only for projects it applies to (the GAN panel for GANs): opening
        such a project brings it back, opening another closes it. View > Panels still lists
        it, so a user can open it any time."""
        self._contextual[key] = applies
        self._show_contextual_docks()

    def _show_contextual_docks(self) -> None:
        for key, applies in self._contextual.items():
            dock = self.docks.get(key)
            if dock is None:
                continue
            try:
                wanted = bool(applies(self.project))
            except Exception:  # noqa: BLE001 - a broken project must not hide the window
                wanted = False
            if wanted == dock.isHidden() and (wanted or not dock.isFloating()):
                dock.setVisible(wanted)

    def show_message(self, text: str, ms: int = 6000) -> None:
        """A one-line note in the status bar."""
        self.statusBar().showMessage(text, ms)

    def _update_title_bars(self, *_args: Any) -> None:
        """Tabbed docks show their name on the tab: hide their own title bar then."""
        for dock in self.docks.values():
            tabbed = not dock.isFloating() and bool(self.tabifiedDockWidgets(dock))
            wanted = dock.no_title_bar if tabbed else dock.title_bar
            if dock.titleBarWidget() is not wanted:
                dock.titleBarWidget().hide()
                dock.setTitleBarWidget(wanted)
                wanted.show()

    def show_dock(self, key: str) -> None:
        dock = self.docks[key]
        dock.show()
        dock.raise_()

    def _connect(self) -> None:
        self.scene.nodes_selected.connect(self._selection)
        self.scene.status_message.connect(self.show_message)
        self.palette.layer_activated.connect(self.add_layer_at_center)
        self.problems.node_activated.connect(self.focus_node)
        self.inspector.settings_changed.connect(self._settings_changed)
        self.inspector.status_message.connect(self.show_message)

    def apply_icons(self) -> None:
        """(Re)draw every action icon in the current theme's colours."""
        t = theme.current()
        for action in self.actions.values():
            name = action.property("icon_name")
            if name:
                color = t.accent if name == "train" else None
                action.setIcon(style.icon(name, color))
        self.actions[f"theme_{t.name}"].setChecked(True)
        for dock in self.docks.values():
            dock.title_bar.refresh_theme()

    # -- project lifecycle ------------------------------------------------------------------------
    def _set_project(self, project: Project, path: str | None, modified: bool = False) -> None:
        """Make ``project`` the open one; its graph's contents move into the window's graph."""
        self.graph.replace_with(project.graph)
        project.graph = self.graph
        self.project = project
        self.path = os.path.abspath(path) if path else None
        self.undo_stack.clear()
        if modified:
            self.undo_stack.resetClean()
        else:
            self.undo_stack.setClean()
        self._autosaved_index = None
        self.inspector.set_project(project)
        self.update_title()
        self.runner.schedule()
        QTimer.singleShot(0, self, self.view.fit_readable)  # after the scene built its items
        self.project_changed.emit(project)
        self._show_contextual_docks()

    def open_unsaved(self, project: Project) -> None:
        """Make a project built in memory (an imported model) the open one, not yet saved."""
        self._set_project(project, None, modified=True)

    def mark_project_changed(self) -> None:
        """The project changed outside the undo stack (training stored weights and history):
        mark it unsaved and let the next autosave write it."""
        self.undo_stack.resetClean()
        self._autosaved_index = None
        self.update_title()

    def update_title(self, *_args: Any) -> None:
        name = self.project.name or (Path(self.path).stem if self.path else "untitled")
        self.setWindowTitle(f"{name}[*] \u2014 {APP_NAME}")
        self.setWindowModified(self.is_modified())
        self.actions["save"].setEnabled(True)

    def is_modified(self) -> bool:
        return not self.undo_stack.isClean()

    def new_project(self) -> bool:
        if not self.maybe_save():
            return False
        self._set_project(Project(), None)
        self.statusBar().showMessage("New project: drag layers from the palette onto the "
                                     "canvas.", 8000)
        return True

    def new_from_template(self) -> bool:
        if not self.maybe_save():
            return False
        template = self.choose_template()
        if template is None:
            return False
        try:
            project = load_project(template)
        except ProjectError as exc:
            self.show_error("Cannot open template", str(exc))
            return False
        self._set_project(project, None)
        self.statusBar().showMessage(f"New project from the {project.name} template.", 6000)
        return True

    def choose_template(self) -> Path | None:
        """Ask for a template in the gallery (tests monkeypatch this)."""
        dialog = TemplateDialog(list_templates(), self)
        if dialog.exec() == QDialog.DialogCode.Accepted and dialog.chosen is not None:
            return dialog.chosen.path
        return None

    def open_dialog(self) -> bool:
        if not self.maybe_save():
            return False
        start = os.path.dirname(self.path) if self.path else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open project", start, FILE_FILTER)
        return self.open_project(path, ask=False) if path else False

    def open_project(self, path: str | os.PathLike[str], ask: bool = True) -> bool:
        """Open ``path``; on any problem show the file's error and keep the current project."""
        if ask and not self.maybe_save():
            return False
        path = os.fspath(path)
        try:
            project = load_project(path)
        except ProjectError as exc:
            self.show_error("Cannot open project", str(exc))
            return False
        except Exception as exc:  # never lose the open project over a bad file
            self.show_error("Cannot open project", f"{path}: {type(exc).__name__}: {exc}")
            return False
        self._set_project(project, path)
        if self.persist:
            self.recent.add(path)
        self.statusBar().showMessage(f"Opened {path}", 5000)
        return True

    def save(self) -> bool:
        if self.path is None:
            return self.save_as()
        return self.save_to(self.path)

    def save_as(self) -> bool:
        start = self.path or os.path.join(str(Path.home()), f"{self.project.name}.plexus")
        path, _ = QFileDialog.getSaveFileName(self, "Save project as", start, FILE_FILTER)
        if not path:
            return False
        if not path.endswith(".plexus"):
            path += ".plexus"
        return self.save_to(path)

    def save_to(self, path: str | os.PathLike[str]) -> bool:
        """Write the project to ``path``; on success it becomes the project's file."""
        path = os.path.abspath(os.fspath(path))
        self.about_to_save.emit(self.project)
        try:
            save_project(self.project, path)
        except ProjectError as exc:
            self.show_error("Cannot save project", str(exc))
            return False
        self.path = path
        self.undo_stack.setClean()
        self._autosaved_index = None
        self._clear_recovery()
        if self.persist:
            self.recent.add(path)
        self.update_title()
        self.statusBar().showMessage(f"Saved {path}", 5000)
        return True

    def maybe_save(self) -> bool:
        """Ask what to do with unsaved changes; False means the user cancelled."""
        if not self.is_modified():
            return True
        answer = self.ask_unsaved()
        if answer == "save":
            return self.save()
        return answer == "discard"

    def ask_unsaved(self) -> str:
        """"save", "discard" or "cancel" (tests monkeypatch this)."""
        if not self.interactive:
            return "discard"
        box = QMessageBox(QMessageBox.Icon.Warning, "Unsaved changes",
                          f"Save the changes to {self.project.name}?", parent=self)
        box.setInformativeText("Your changes are lost if you don't save them.")
        box.setStandardButtons(QMessageBox.StandardButton.Save
                               | QMessageBox.StandardButton.Discard
                               | QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        result = box.exec()
        return {QMessageBox.StandardButton.Save: "save",
                QMessageBox.StandardButton.Discard: "discard"}.get(
                    QMessageBox.StandardButton(result), "cancel")

    def show_error(self, title: str, message: str) -> None:
        """One clear error dialog (stderr when not interactive)."""
        if not self.interactive:
            print(f"plexus: {message}", file=sys.stderr)
            return
        QMessageBox.critical(self, title, message)

    def _fill_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        paths = self.recent.paths()
        for index, path in enumerate(paths, start=1):
            action = menu.addAction(f"&{index}  {Path(path).name}")
            action.setToolTip(path)
            action.setStatusTip(path)
            action.setEnabled(os.path.exists(path))
            action.triggered.connect(lambda _=False, p=path: self.open_recent(p))
        if not paths:
            menu.addAction("No recent projects").setEnabled(False)
        menu.addSeparator()
        clear = menu.addAction("Clear Recent Projects")
        clear.setEnabled(bool(paths))
        clear.triggered.connect(self.recent.clear)

    def open_recent(self, path: str) -> bool:
        ok = self.open_project(path)
        if not ok and not os.path.exists(path):
            self.recent.remove(path)
        return ok

    # -- autosave and recovery --------------------------------------------------------------------
    def autosave(self) -> bool:
        """Write the recovery file when there are changes not yet autosaved."""
        if not self.is_modified() or self._autosaved_index == self.undo_stack.index():
            return False
        try:
            self.recovery.write(self.project, self.path)
        except (ProjectError, OSError) as exc:
            self.statusBar().showMessage(f"Autosave failed: {exc}", 8000)
            return False
        self._autosaved_index = self.undo_stack.index()
        self._owns_recovery = True
        return True

    def _clear_recovery(self) -> None:
        if self._owns_recovery:
            self.recovery.clear()
            self._owns_recovery = False

    def offer_recovery(self) -> bool:
        """After a crash, offer the autosaved work back; True when it was restored."""
        info = self.recovery.available()
        if info is None:
            return False
        if not self.ask_recover(info):
            self.recovery.clear()
            return False
        try:
            project = self.recovery.load()
        except ProjectError as exc:
            self.show_error("Cannot recover project", str(exc))
            self.recovery.clear()
            return False
        self._set_project(project, info.source or None, modified=True)
        self._owns_recovery = True
        self.statusBar().showMessage("Recovered unsaved work; save it to keep it.", 10000)
        return True

    def ask_recover(self, info: RecoveryInfo) -> bool:
        """Ask whether to restore autosaved work (tests monkeypatch this)."""
        if not self.interactive:
            return False
        where = f" ({info.source})" if info.source else ""
        answer = QMessageBox.question(
            self, "Recover unsaved work",
            f"Plexus did not close properly last time. Recover the unsaved changes to "
            f"{info.name}{where}, autosaved {info.saved_at.replace('T', ' ')}?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.Yes)
        return answer == QMessageBox.StandardButton.Yes

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
            self.statusBar().showMessage("The network is valid." if not errors and not warnings
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
        for key, dock in sorted(self.docks.items(), key=lambda kv: _tab_rank(kv[0])):
            dock.setFloating(False)
            area = dock.property("default_area") or BOTTOM
            self.removeDockWidget(dock)
            self.addDockWidget(area, dock)
            dock.show()
            self.docks[key] = dock
        bottom = [d for _, d in sorted(self.docks.items(), key=lambda kv: _tab_rank(kv[0]))
                  if self.dockWidgetArea(d) == BOTTOM]
        for previous, dock in zip(bottom, bottom[1:], strict=False):
            self.tabifyDockWidget(previous, dock)
        if bottom:
            bottom[0].raise_()
        self._show_contextual_docks()
        self.toolbar.show()
        width = max(self.width(), 1000)
        self.resizeDocks([self.docks["palette"], self.docks["inspector"]],
                         [LEFT_WIDTH, min(RIGHT_WIDTH, width // 4)], Qt.Orientation.Horizontal)
        if bottom:
            self.resizeDocks([bottom[0]], [BOTTOM_HEIGHT], Qt.Orientation.Vertical)
        self.resize(size)  # many docks' minimum sizes must not grow the window

    def restore_layout(self, use_saved: bool = True) -> None:
        """The user's saved geometry and docks, or the default layout at 1600x1000."""
        geometry = self.settings.value("window/geometry") if use_saved else None
        state = self.settings.value("window/state") if use_saved else None
        self.resize(DEFAULT_SIZE)
        self.apply_default_layout()
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state, STATE_VERSION)
        self._layout_restored = True

    def reset_layout(self) -> None:
        self.apply_default_layout()
        self.statusBar().showMessage("Panels are back in their default places.", 4000)

    def save_layout(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState(STATE_VERSION))

    # -- help -------------------------------------------------------------------------------------
    def about(self) -> None:
        from graph.project import app_version

        QMessageBox.about(
            self, f"About {APP_NAME}",
            f"<h3>{APP_NAME} {app_version()}</h3><p>Design, train and inspect neural networks "
            "visually. Networks are PyTorch models: every design compiles to readable torch.fx "
            "code.</p>")

    def show_shortcuts(self) -> None:
        self.shortcuts_dialog().exec()

    def shortcuts_dialog(self) -> QDialog:
        """Every command with a shortcut, by menu."""
        dialog = QDialog(self)
        dialog.setWindowTitle("Keyboard shortcuts")
        dialog.resize(520, 560)
        layout = QVBoxLayout(dialog)
        tree = QTreeWidget()
        tree.setObjectName("shortcuts_tree")
        tree.setHeaderLabels(["Command", "Shortcut"])
        tree.setRootIsDecorated(False)
        tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        sections = []
        for title, menu in self.menus.items():
            rows = [(a.text().replace("&", "").replace("\u2026", ""),
                     a.shortcut().toString(QKeySequence.SequenceFormat.NativeText))
                    for a in menu.actions() if not a.isSeparator() and not a.menu()
                    and not a.shortcut().isEmpty()]
            sections.append((title.capitalize(), rows))
        sections.append(("Canvas", [("Quick add a layer", "Tab"), ("Rename the layer", "F2"),
                                    ("Pan", "Middle drag or Space+drag"),
                                    ("Zoom", "Wheel, Ctrl++ / Ctrl+-")]))
        for title, rows in sections:
            if not rows:
                continue
            header = QTreeWidgetItem([title, ""])
            header.setFont(0, style.font("base", bold=True))
            for column in (0, 1):
                header.setSizeHint(column, QSize(0, 28))
            tree.addTopLevelItem(header)
            for text, keys in rows:
                item = QTreeWidgetItem(["    " + text, keys])
                for column in (0, 1):
                    item.setSizeHint(column, QSize(0, 24))
                tree.addTopLevelItem(item)
        layout.addWidget(tree)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.reject)
        layout.addWidget(buttons)
        return dialog

    # -- closing ----------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        if not self.maybe_save():
            event.ignore()
            return
        if self.persist:
            self.save_layout()
        self.autosave_timer.stop()
        self._clear_recovery()  # a clean exit: nothing to recover next time
        self.runner.shutdown()
        event.accept()


def _tab_rank(key: str) -> int:
    """Bottom tabs in the default layout, left to right (``gui.panels.registry``)."""
    from gui.panels.registry import tab_rank

    return tab_rank(key)


def _count_text(errors: int, warnings: int) -> str:
    parts = []
    if errors:
        parts.append(f"{errors} error{'s' if errors != 1 else ''}")
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    return ", ".join(parts) or "no problems"
