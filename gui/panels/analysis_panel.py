"""The lifecycle every panel that analyses the open project's trained classifier shares.

An ``AnalysisPanel`` follows the window's project (``bind_window``) and the training
controller's new weights (``bind_controller``). A changed project makes what it shows stale;
while it cannot be analysed (no weights, no classifier, ...) it shows one sentence saying why
(``attack_blocker``) in place of its content. Once it is really on screen
(``gui.panels.visibility.on_screen``: a dock behind another tab computes nothing) it runs
``analyse()``, whose jobs go through ``when_prepared``: the network of the project as it is
gets prepared first on the panel's ``TaskRunner`` ("Preparing the network"), through its
``PreparedCache``, then the action runs; a failure shows on the task bar.

Subclasses fill ``content`` and implement ``analyse`` and ``show_prepared``; ``forget`` drops
what belonged to the previous project and ``rechecked`` follows any re-check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QStackedLayout, QVBoxLayout, QWidget

from gui.panels import lab
from gui.panels.visibility import on_screen
from gui.prepared import PreparedCache, project_key, snapshot
from gui.tasks import Task, TaskBar, TaskRunner

T = TypeVar("T")
Progress = Callable[[float], None]
Cancel = Callable[[], bool]
Job = Callable[[Progress, Cancel], T]


class AnalysisPanel(QWidget):
    """See the module docstring. ``name`` prefixes the object names (``{name}_panel``,
    ``{name}_empty``); ``needs`` is the word ``attack_blocker`` writes ("attacks")."""

    def __init__(self, name: str, needs: str, blocker: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"{name}_panel")
        self.needs = needs
        self.runner = TaskRunner(self)
        self.cache: PreparedCache[lab.Prepared] = PreparedCache(lab.prepare_lab)
        self.project: Any = None
        self.main_window: Any = None
        self.controller: Any = None
        self.blocker: str | None = blocker
        self._ready_key: str | None = None  # the revision whose network was last prepared
        self._dirty = True  # what is shown is out of date (project, weights or controls)

        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 4, 6, 4)
        outer.setSpacing(2)
        self.stack = QStackedLayout()
        outer.addLayout(self.stack, 1)
        self.empty = QLabel()
        self.empty.setObjectName(f"{name}_empty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setProperty("role", "dim")
        self.empty.setMargin(16)
        self.stack.addWidget(self.empty)
        self.content: QWidget | None = None
        self.task_bar = TaskBar(self.runner)
        outer.addWidget(self.task_bar)

    def set_content(self, widget: QWidget) -> None:
        """What the panel shows when the project can be analysed."""
        self.content = widget
        self.stack.addWidget(widget)

    # -- binding --------------------------------------------------------------------------------
    def bind_window(self, window: Any) -> None:
        """Follow ``window``'s project, analysis and theme (the panel registry calls it)."""
        self.main_window = window
        window.project_changed.connect(self.set_project)
        if hasattr(window, "analysis_updated"):
            window.analysis_updated.connect(self.recheck)
        if hasattr(window, "theme_changed"):
            window.theme_changed.connect(self.refresh_theme)
        self.set_project(window.project)

    def bind_controller(self, controller: Any) -> None:
        """New weights after a training run (a ``gui.training.TrainingController``)."""
        self.controller = controller
        controller.project_updated.connect(self._project_updated)

    def _project_updated(self, project: Any) -> None:
        if project is self.project or self.project is None:
            self.set_project(project)

    def set_project(self, project: Any) -> None:
        """Analyse ``project`` from now on (its weights as they are; again when they change)."""
        if project is not self.project:  # the old project's jobs must not reach the new one
            self.runner.drop()
            self._ready_key = None
            self.forget()
        self.project = project
        self._dirty = True
        self.recheck()

    def recheck(self, *_args: Any) -> None:
        """Re-read whether the project can be analysed (after edits); analyse again when on
        screen."""
        self._set_blocker(lab.attack_blocker(self.project, self.needs))
        self.rechecked()
        if self.blocker is None and self._dirty and on_screen(self):
            self.refresh()

    def _set_blocker(self, text: str | None) -> None:
        """The content, or the sentence saying why not."""
        self.blocker = text
        if text is None:
            self.stack.setCurrentWidget(self.content)
        else:
            self.empty.setText(text)
            self.stack.setCurrentWidget(self.empty)

    @property
    def is_empty(self) -> bool:
        return self.stack.currentWidget() is self.empty

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        self.came_into_view(True)

    def came_into_view(self, visible: bool) -> None:
        """Shown, or its dock's tab brought to the front (which sends no show event): analyse
        what changed while it was out of sight."""
        if visible and self.blocker is None and self._dirty:
            QTimer.singleShot(0, self._refresh_if_seen)

    def _refresh_if_seen(self) -> None:
        """A dock shown again behind another tab (a panel that applies to the new project)
        gets a show event too: it waits until its tab is raised."""
        if on_screen(self):
            self.refresh()

    def refresh(self) -> None:
        """Analyse again with the current settings (new weights or project)."""
        if self.blocker is not None:
            return
        self._dirty = False
        self.analyse()

    # -- preparing ------------------------------------------------------------------------------
    def when_prepared(self, action: Callable[[], Any],
                      on_error: Callable[[str], None]) -> Task | None:
        """Run ``action`` now when the network of the project as it is has been prepared;
        else prepare it first (background), so the controls get the data's range and classes
        before the action reads them. Returns the task started (None: blocked)."""
        self._set_blocker(lab.attack_blocker(self.project, self.needs))
        if self.blocker is not None:
            return None
        if self._ready_key == project_key(self.project):
            return action()

        project = self.project

        def done(prep: lab.Prepared) -> None:
            if self.project is not project:  # prepared for a project since replaced
                return
            self.prepared(prep)
            action()

        # one prepare per action: a prepare for another action must not supersede this one
        name = f"prepare {getattr(action, '__name__', '')}"
        return self.runner.run(name, self.network_job(lambda prep, _progress, _cancel: prep),
                               "Preparing the network", on_done=done, on_error=on_error)

    def network_job(self, work: Callable[[lab.Prepared, Progress, Cancel], T]) -> Job[T]:
        """A job for ``runner``: ``work(prepared, progress, cancel)`` on the network of the
        project as it is now (copied here; prepared on the worker through the cache)."""
        snap, cache = snapshot(self.project), self.cache
        return lambda progress, cancel: work(cache.get(snap), progress, cancel)

    def prepared(self, prep: lab.Prepared) -> None:
        """A network was prepared (before an action, or with a job's result): show what is
        new about it once."""
        if self._ready_key == prep.key:
            return
        first = self._ready_key is None
        self._ready_key = prep.key
        self.show_prepared(prep, first)

    # -- for subclasses ---------------------------------------------------------------------------
    def analyse(self) -> None:
        """Start the panel's analysis of the project as it is."""
        raise NotImplementedError

    def show_prepared(self, prep: lab.Prepared, first: bool) -> None:
        """Fill the controls from a (new) prepared network; ``first`` for a new project."""

    def forget(self) -> None:
        """Drop what was shown of the previous project."""

    def rechecked(self) -> None:
        """After every re-check of the project (the blocker is set)."""

    def refresh_theme(self, *_args: Any) -> None:
        """Redraw in the current theme's colours."""

    def shutdown(self) -> None:
        self.runner.shutdown()


__all__ = ["AnalysisPanel"]
