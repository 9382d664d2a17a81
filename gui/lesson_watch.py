"""What a lesson's checks see, gathered from the window: its project, the training events,
the panels on screen and the Lab's attacks.

It listens to the same signals the panels do (the training controller's, the graph's, the
undo stack's, the docks' visibility), never polls widgets, and coalesces a burst of changes
into one ``changed`` signal.
"""

from __future__ import annotations

import copy
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from graph.lesson_checks import LessonState
from graph.settings import to_dict
from gui.panels.visibility import on_screen


class LessonWatch(QObject):
    """The runs, epochs and attacks since the lesson (re)started, and the state they make."""

    changed = Signal()

    def __init__(self, window: Any, controller: Any = None) -> None:
        super().__init__(window)
        self.window = window
        self.runs: list[dict[str, Any]] = []
        self.live_epochs: list[dict[str, Any]] = []
        self.attacks: list[dict[str, Any]] = []
        self._run_settings: dict[str, Any] = {}
        self._pending = QTimer(self)
        self._pending.setSingleShot(True)
        self._pending.setInterval(0)
        self._pending.timeout.connect(self.changed)
        window.graph.subscribe(lambda _event: self.poke())
        window.undo_stack.indexChanged.connect(self.poke)
        window.project_changed.connect(self.poke)
        if controller is not None:
            controller.started.connect(self._started)
            controller.epoch.connect(self._epoch)
            controller.finished.connect(self._finished)
        self.watch_docks()

    def watch_docks(self) -> None:
        """Follow the visibility of every dock the window has now (call again after adding)."""
        for dock in self.window.docks.values():
            if not dock.property("lesson_watched"):
                dock.setProperty("lesson_watched", True)
                dock.visibilityChanged.connect(self.poke)
        lab = self.window.docks.get("adversarial")
        page = getattr(lab.widget(), "attack_page", None) if lab is not None else None
        if page is not None and not page.property("lesson_watched"):
            page.setProperty("lesson_watched", True)
            page.attacked.connect(self.attack_done)

    def restart(self) -> None:
        """Forget what happened before: a lesson counts only what the learner does in it."""
        self.runs.clear()
        self.live_epochs.clear()
        self.attacks.clear()
        self.poke()

    def poke(self, *_args: Any) -> None:
        self._pending.start()

    def visible_panels(self) -> frozenset[str]:
        """The panels on screen: a tab behind another counts as hidden."""
        return frozenset(key for key, dock in self.window.docks.items()
                         if dock.widget() is not None and on_screen(dock.widget()))

    def state(self) -> LessonState:
        project = self.window.project
        settings = {"training": to_dict(project.training), "dataset": to_dict(project.dataset)}
        return LessonState(graph=self.window.graph, settings=settings, runs=list(self.runs),
                           live_epochs=list(self.live_epochs),
                           visible_panels=self.visible_panels(), attacks=list(self.attacks))

    def _started(self, _event: Any) -> None:
        project = self.window.project
        self._run_settings = {"training": copy.deepcopy(to_dict(project.training)),
                              "dataset": copy.deepcopy(to_dict(project.dataset))}
        self.live_epochs.clear()
        self.poke()

    def _epoch(self, event: Any) -> None:
        self.live_epochs.append(event.record())
        self.poke()

    def _finished(self, event: Any) -> None:
        if event.status != "failed" and self.live_epochs:
            self.runs.append({"status": event.status, "epochs": list(self.live_epochs),
                              "settings": self._run_settings})
        self.live_epochs.clear()
        self.poke()

    def attack_done(self, result: Any) -> None:
        """An attack in the Lab ended: did it flip a prediction the network had right?"""
        flipped = bool(((result.clean_pred == result.labels) & result.success).any())
        self.attacks.append({"attack": result.method, "eps": float(result.eps),
                             "flipped": flipped})
        self.poke()
