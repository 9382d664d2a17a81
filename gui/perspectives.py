"""Layouts that come and go over the user's own: one panel maximised, and the training layout.

Both keep the dock state from before (``saveState``) and put it back after, so whatever the
user arranged survives. ``PerspectivesMixin`` is mixed into ``gui.main_window.MainWindow``,
which provides ``docks``, ``settings``, ``actions``, ``tidy_tab_bars`` and ``show_message``.

* Maximise: any docked panel fills the window (canvas and other docks hidden); double-click
  its title or tab, its title bar's button or View > Maximise Panel; Esc or the same again
  restores.
* Training layout: on Train, the bottom panels span the window's width and grow to
  ``TRAIN_SHARE`` of its height, and Metrics is split off beside the tab the user is watching
  (never raised over it); when the run ends the earlier layout comes back with the user's
  current tab still in front.
  Whether it is used and how tall the user made it are remembered (QSettings).
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QDockWidget

from gui.panels.visibility import on_screen

BOTTOM = Qt.DockWidgetArea.BottomDockWidgetArea
TRAIN_SHARE = 0.45  # the training layout's bottom panels, a share of the window height
MIN_TRAIN_SHARE = 0.40  # the plots never take less of the window while training
MAX_TRAIN_SHARE = 0.75
TRAIN_LAYOUT_KEY = "layout/training_layout"
TRAIN_SHARE_KEY = "layout/training_share"
STATE_VERSION = 7  # of the temporary saved states (never written to settings)
BOTTOM_CORNERS = (Qt.Corner.BottomLeftCorner, Qt.Corner.BottomRightCorner)


class PerspectivesMixin:
    """Maximised panel and training layout of a QMainWindow (see the module docstring)."""

    _maximised: QDockWidget | None = None
    _maximised_state: QByteArray | None = None
    _training_state: QByteArray | None = None
    _training_corners: tuple[tuple[Qt.Corner, Qt.DockWidgetArea], ...] = ()

    def _make_perspective_controls(self) -> None:
        """Esc (only while a panel is maximised) and the View menu's two commands."""
        self._restore_shortcut = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        self._restore_shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        self._restore_shortcut.setEnabled(False)
        self._restore_shortcut.activated.connect(self.restore_maximised)
        layout = self.actions["training_layout"]
        layout.setChecked(self.training_layout_enabled())
        layout.toggled.connect(self.set_training_layout_enabled)

    # -- maximise ---------------------------------------------------------------------------------
    @property
    def maximised_dock(self) -> QDockWidget | None:
        return self._maximised

    def toggle_maximised(self, dock: QDockWidget | None = None) -> None:
        """Maximise ``dock`` (default: the panel in front at the bottom), or restore."""
        if self._maximised is not None:
            self.restore_maximised()
            return
        dock = dock or self._front_bottom_dock()
        if dock is not None:
            self.maximise(dock)

    def maximise(self, dock: QDockWidget) -> None:
        """``dock`` fills the window: every other dock and the canvas are hidden."""
        if dock.isFloating() or self._maximised is not None:
            return
        self._maximised_state = self.saveState(STATE_VERSION)
        self._maximised = dock
        dock.show()
        dock.raise_()
        for other in self.docks.values():
            if other is not dock and not other.isFloating() and not other.isHidden():
                other.hide()
        self.centralWidget().hide()
        self._restore_shortcut.setEnabled(True)
        self.tidy_tab_bars()
        self.show_message(f"{dock.windowTitle()} is maximised; Esc restores the layout.", 5000)

    def restore_maximised(self) -> None:
        """Back to the layout from before the panel was maximised."""
        dock, state = self._maximised, self._maximised_state
        self._maximised = self._maximised_state = None
        self._restore_shortcut.setEnabled(False)
        self.centralWidget().show()
        if state is not None:
            self.restoreState(state, STATE_VERSION)
        if dock is not None and not dock.isHidden():
            dock.raise_()
        self.tidy_tab_bars()

    def _front_bottom_dock(self) -> QDockWidget | None:
        shown = self._bottom_on_screen()
        return shown[0] if shown else None

    def chosen_tab(self) -> str | None:
        """The key of the bottom panel the user has in front (None when none is shown)."""
        front = self._front_bottom_dock()
        return next((key for key, dock in self.docks.items() if dock is front), None)

    def _bottom_on_screen(self) -> list[QDockWidget]:
        """The docked bottom panels the user sees now, the front tab of a tab group first
        (the tab the user chose), then panels standing alone (Metrics beside it)."""
        shown = [dock for dock in self.docks.values()
                 if not dock.isFloating() and self.dockWidgetArea(dock) == BOTTOM
                 and on_screen(dock)]
        return sorted(shown, key=lambda dock: not self.tabifiedDockWidgets(dock))

    # -- the training layout ----------------------------------------------------------------------
    def training_layout_enabled(self) -> bool:
        value = self.settings.value(TRAIN_LAYOUT_KEY, True)
        return value not in (False, "false", "0", 0)

    def set_training_layout_enabled(self, enabled: bool) -> None:
        """The user's choice (View > Training Layout), kept for the next start."""
        self.settings.setValue(TRAIN_LAYOUT_KEY, bool(enabled))
        action = self.actions["training_layout"]
        if action.isChecked() != bool(enabled):
            action.setChecked(bool(enabled))

    def training_share(self) -> float:
        """How much of the window height the plots take while training (remembered)."""
        try:
            share = float(self.settings.value(TRAIN_SHARE_KEY, TRAIN_SHARE))
        except (TypeError, ValueError):
            share = TRAIN_SHARE
        return min(MAX_TRAIN_SHARE, max(MIN_TRAIN_SHARE, share))

    @property
    def in_training_layout(self) -> bool:
        return self._training_state is not None

    def enter_training_layout(self) -> None:
        """Train pressed: bottom panels tall, Metrics beside the tab in front (not over it)."""
        if not self.training_layout_enabled() or self._training_state is not None:
            return
        if self._maximised is not None:
            return  # the user is looking at one panel: leave it so
        self._training_state = self.saveState(STATE_VERSION)
        self._training_corners = tuple((corner, self.corner(corner)) for corner in BOTTOM_CORNERS)
        for corner in BOTTOM_CORNERS:  # the plots span the whole width, under the side docks
            self.setCorner(corner, BOTTOM)
        metrics = self.docks.get("metrics")
        front = [d for d in self._bottom_on_screen() if d is not metrics]
        if metrics is not None and not metrics.isFloating():
            metrics.show()
            if front and not on_screen(metrics):
                # out of the tab group, then beside it (splitDockWidget would tab it again)
                self.removeDockWidget(metrics)
                self.addDockWidget(BOTTOM, metrics, Qt.Orientation.Horizontal)
                metrics.show()
                self.resizeDocks([front[0], metrics], [1, 1], Qt.Orientation.Horizontal)
        anchor = front[0] if front else metrics
        if anchor is not None:
            height = round(self.height() * self.training_share())
            self.resizeDocks([anchor], [height], Qt.Orientation.Vertical)
        self.tidy_tab_bars()

    def leave_training_layout(self) -> None:
        """The run ended: the layout from before Train, the user's chosen tab still in front."""
        state, self._training_state = self._training_state, None
        if state is None:
            return
        front = [d for d in self._bottom_on_screen() if d.objectName() != "dock_metrics"]
        if front and self.height() > 0:
            share = front[0].height() / self.height()
            if share >= MIN_TRAIN_SHARE:
                self.settings.setValue(TRAIN_SHARE_KEY, round(share, 3))
        for corner, area in self._training_corners:
            self.setCorner(corner, area)
        if self._maximised is not None:
            self._maximised_state = state  # Esc will bring back the pre-training layout
            return
        self.restoreState(state, STATE_VERSION)
        for dock in front:
            dock.raise_()
        self.tidy_tab_bars()


__all__ = ["MIN_TRAIN_SHARE", "PerspectivesMixin", "TRAIN_SHARE"]
