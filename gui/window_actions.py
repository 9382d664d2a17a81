"""The window's commands: every action with its shortcut, icon and tip, the menus and toolbar
built from them, and the Help menu's About box and shortcuts list.

``WindowActionsMixin`` is mixed into ``gui.main_window.MainWindow``; features add their own
commands with ``add_menu_action`` and find any command in ``actions`` by key.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMenu,
    QMessageBox,
    QToolBar,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from gui import style, theme
from gui.document import APP_NAME


class WindowActionsMixin:
    """Actions, menus and toolbar of the main window. The window provides ``actions`` and
    ``menus`` (key -> QAction / QMenu), ``docks``, ``undo_stack``, ``view`` and the slots the
    actions trigger."""

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
        a("maximise", "&Maximise Panel", lambda: self.toggle_maximised(), "Ctrl+Shift+M",
          "maximize", "Let the panel in front fill the window; Esc brings the layout back")
        a("training_layout", "T&raining Layout", None, None, None,
          "While training, give the plots the lower half of the window and show Metrics "
          "beside the panel you watch")
        self.actions["training_layout"].setCheckable(True)

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
        text, keys = _plain_text(action), _keys(action)
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
                               "maximise", "training_layout", "reset_layout"])
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
            rows = [(_plain_text(a), _keys(a)) for a in menu.actions()
                    if not a.isSeparator() and not a.menu() and not a.shortcut().isEmpty()]
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


def _plain_text(action: QAction) -> str:
    """An action's text without its mnemonic "&" and trailing ellipsis."""
    return action.text().replace("&", "").replace("\u2026", "")


def _keys(action: QAction) -> str:
    return action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
