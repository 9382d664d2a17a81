"""Training from the editor: the background training process, run controls, Metrics panel.

``install_training(window)`` is the one call the main window (or ``gui.app``) makes; it takes
over the window's Train/Pause/Stop placeholders and device combo, adds Reset Weights, the
Metrics dock and the status-bar progress, and returns the ``TrainingController`` that the other
live panels (filters, activations, boundary, confusion, histograms) subscribe to. The
controller is also ``window.training``.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

from gui.training.controller import TrainingController

__all__ = ["TrainingController", "install_training"]


class _CloseWatcher(QObject):
    """Ends the training process once the window has really closed (a close can be
    cancelled by the unsaved-changes question, so look after the event is handled)."""

    def __init__(self, window: Any, controller: TrainingController) -> None:
        super().__init__(window)
        self.window = window
        self.controller = controller

    def eventFilter(self, watched: Any, event: Any) -> bool:  # noqa: N802 (Qt override)
        if watched is self.window and event.type() == QEvent.Type.Close:
            QTimer.singleShot(0, self._check)
        return False

    def _check(self) -> None:
        if not self.window.isVisible():
            self.controller.shutdown()


def install_training(window: Any, start_process: bool = True) -> TrainingController:
    """Add training to ``window`` (a ``gui.main_window.MainWindow``); returns the controller.

    ``start_process=False`` (screenshots) spawns the training process only when Train is
    first pressed.
    """
    from gui.main_window import BOTTOM
    from gui.panels.metrics import MetricsPanel
    from gui.panels.run_selection import run_selection_of
    from gui.training.controls import TrainingControls

    controller = TrainingController(window, start_process=start_process)
    panel = MetricsPanel(controller)
    panel.bind_selection(run_selection_of(window))  # the runs ticked in the Runs panel
    window.add_panel(panel, "Metrics", BOTTOM, "metrics")
    controls = TrainingControls(window, controller, panel)
    window.add_status_widget(controls.status)
    window.training = controller
    window.training_controls = controls
    window.metrics = panel

    def project_changed(project: Any) -> None:
        panel.set_project(project)
        controls.project_changed(project)

    def failed(message: str) -> None:
        # In the status bar and Metrics' banner; never raised over the tab the user chose.
        window.show_message(message, 20000)

    window.project_changed.connect(project_changed)
    window.theme_changed.connect(panel.refresh_theme)
    controller.failed.connect(failed)
    controller.notice.connect(lambda text: window.show_message(text, 8000))
    panel.set_project(window.project)
    controls.project_changed(window.project)
    watcher = _CloseWatcher(window, controller)
    window.installEventFilter(watcher)
    app = QApplication.instance()
    if app is not None:
        app.aboutToQuit.connect(controller.shutdown)
    return controller
