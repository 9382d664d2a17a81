"""The window's docks: a compact title bar, panels that scroll rather than widen the window,
adding a panel as a dock, tab bars without stale copies or elided titles, docks shown only for
the projects they apply to, and saving and restoring where the user put them.

``DocksMixin`` is mixed into ``gui.main_window.MainWindow``, which decides the default layout
(``apply_default_layout``) and calls ``_restore_saved_layout`` over it at start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QByteArray, QRect, QSize, Qt, QTimer
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QTabBar,
    QToolButton,
    QWidget,
)

from graph.project import Project
from gui import style, theme

STATE_VERSION = 2  # bump when the default dock set changes so old saved layouts are dropped

LEFT = Qt.DockWidgetArea.LeftDockWidgetArea
RIGHT = Qt.DockWidgetArea.RightDockWidgetArea
BOTTOM = Qt.DockWidgetArea.BottomDockWidgetArea
MIN_CANVAS = 720  # px the canvas keeps between the side docks, while they can give way
SEPARATORS = 2  # px of the two side docks' splitters


def side_widths(window_width: int, left: tuple[int, int], right: tuple[int, int]
                ) -> tuple[int, int]:
    """The palette's and the inspector's default widths, from (minimum, default) each: the
    defaults when the window has room, narrowed (the inspector first, then the palette, never
    under their minimums) so that the canvas keeps ``MIN_CANVAS`` px on a laptop."""
    room = window_width - SEPARATORS - MIN_CANVAS
    (left_min, left_default), (right_min, right_default) = left, right
    inspector = max(right_min, min(right_default, room - left_default))
    palette = max(left_min, min(left_default, room - inspector))
    return palette, inspector


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
        self.max_button = self._button("Maximise this panel (double-click its title or tab; "
                                       "Esc restores)", self._toggle_maximised)
        self.float_button = self._button("Float or dock this panel", self._toggle_float)
        self.close_button = self._button("Close this panel (View > Panels brings it back)",
                                         dock.close)
        layout.addWidget(self.max_button)
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

    def _toggle_maximised(self) -> None:
        toggle = getattr(self.dock.parent(), "toggle_maximised", None)
        if callable(toggle):
            toggle(self.dock)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        """Double-click maximises (Qt's own double-click would float the dock)."""
        if self.dock.isFloating():
            super().mouseDoubleClickEvent(event)
            return
        self._toggle_maximised()
        event.accept()

    def refresh_theme(self) -> None:
        t = theme.current()
        self.label.setText(self.dock.windowTitle())
        self.max_button.setIcon(style.icon("maximize", t.text_dim))
        self.float_button.setIcon(style.icon("panel", t.text_dim))
        self.close_button.setIcon(style.icon("close", t.text_dim))


class PanelDock(QDockWidget):
    """A dock whose panel scrolls when the dock is smaller than the panel's minimum size.

    Some panels need 860 px side by side; docked directly they would widen the window past a
    laptop screen (1280 px). In a scroll area they keep their size and the window its own.
    ``widget()`` is the panel, as for any dock.
    """

    def __init__(self, title: str, parent: QWidget, panel: QWidget) -> None:
        super().__init__(title, parent)
        self.panel = panel
        self.scroll = QScrollArea()
        self.scroll.setObjectName("panel_scroll")
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setWidget(panel)
        self.setWidget(self.scroll)

    def widget(self) -> QWidget:  # the panel, not the scroll area around it
        return self.panel


class DocksMixin:
    """Docks of a QMainWindow. The window provides ``docks`` (key -> dock), ``_contextual``
    (key -> applies-to-project), ``panels_menu``, ``project`` and ``settings``."""

    _layout_restored = False  # after start-up, a new dock goes where the saved layout had it
    _tidying = False
    _tidy_timer: QTimer | None = None

    def add_panel(self, widget: QWidget, title: str,
                  area: Qt.DockWidgetArea = BOTTOM, name: str | None = None,
                  tabify: bool = True) -> QDockWidget:
        """Wrap ``widget`` in a movable, floatable, closable dock; list it in View > Panels.

        ``name`` (default: the title) identifies the dock in the saved layout. A dock added
        after start-up goes where the user's saved layout had it, else into ``area``, tabbed
        with the first dock already there when ``tabify``.
        """
        key = name or title.lower().replace(" ", "_")
        if area == BOTTOM:
            dock: QDockWidget = PanelDock(title, self, widget)
        else:
            dock = QDockWidget(title, self)
            dock.setWidget(widget)
        dock.setObjectName(f"dock_{key}")
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
        if self._layout_restored:
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

    def _update_title_bars(self, *_args: Any) -> None:
        """Tabbed docks show their name on the tab: hide their own title bar then. Qt may
        have made or dropped a tab bar: tidy them once the moves settle."""
        if not self._tidying:
            if self._tidy_timer is None:
                self._tidy_timer = QTimer(self)
                self._tidy_timer.setSingleShot(True)
                self._tidy_timer.setInterval(0)
                self._tidy_timer.timeout.connect(self.tidy_tab_bars)
            self._tidy_timer.start()
        for dock in self.docks.values():
            tabbed = not dock.isFloating() and bool(self.tabifiedDockWidgets(dock))
            wanted = dock.no_title_bar if tabbed else dock.title_bar
            if dock.titleBarWidget() is not wanted:
                dock.titleBarWidget().hide()
                dock.setTitleBarWidget(wanted)
                wanted.show()

    def tidy_tab_bars(self) -> None:
        """After docks moved: hide the tab bars Qt left behind, and let the live ones scroll.

        Removing a tabbed dock and adding it again leaves its old tab bar on the window, shown
        and stale (a "Problems | Code" strip drawn over another panel). The live bars are the
        ones the layout places: null every bar's geometry, lay the window out, and the bars
        still null are the strays. Live bars keep whole titles and scroll instead of eliding.
        """
        self._tidying = True
        try:
            bars = self._lay_out_tab_bars()
        finally:
            self._tidying = False
        for bar in bars:
            if bar.count() == 0 or bar.geometry().isEmpty():
                bar.hide()
                continue
            bar.setElideMode(Qt.TextElideMode.ElideNone)
            bar.setUsesScrollButtons(True)
            if not bar.property("plexus_tidied"):
                bar.setProperty("plexus_tidied", True)
                bar.tabBarDoubleClicked.connect(self._tab_double_clicked)

    def _lay_out_tab_bars(self) -> list[QTabBar]:
        """Every tab bar of the window, the strays with a null geometry (see above)."""
        bars = [bar for bar in self.findChildren(QTabBar) if bar.parent() is self]
        for bar in bars:
            bar.setGeometry(QRect())
        layout = self.layout()
        # Laid out at once at a rect one pixel narrower (the same rect again would not be laid
        # out), then Qt lays it out again where it belongs, under the menu bar.
        layout.setGeometry(self.rect().adjusted(0, 0, -1, 0))
        layout.invalidate()
        layout.activate()
        return bars

    def _tab_double_clicked(self, index: int) -> None:
        bar = self.sender()
        if not isinstance(bar, QTabBar) or index < 0:
            return
        title = bar.tabText(index)
        dock = next((d for d in self.docks.values() if d.windowTitle() == title), None)
        if dock is not None:
            self.toggle_maximised(dock)

    def size_side_docks(self, left_width: int, right_width: int) -> None:
        """The palette and inspector at their default widths, or narrower at a small window
        (``side_widths``), after the window has laid out the docks just placed (before that
        Qt ignores the sizes)."""
        palette, inspector = self.docks["palette"], self.docks["inspector"]
        self.layout().activate()
        widths = side_widths(max(self.width(), 1000),
                             (palette.minimumSizeHint().width(), left_width),
                             (inspector.minimumSizeHint().width(), right_width))
        self.resizeDocks([palette, inspector], list(widths), Qt.Orientation.Horizontal)

    def show_dock(self, key: str) -> None:
        dock = self.docks[key]
        dock.show()
        dock.raise_()

    def save_layout(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState(STATE_VERSION))

    def _restore_saved_layout(self) -> None:
        """Put the window and its docks where the user left them (over the default layout)."""
        geometry = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state, STATE_VERSION)
        self.tidy_tab_bars()
