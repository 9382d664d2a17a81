"""The Adversarial panel: how easily the trained network is fooled, and how that evolves.

Four pages share one task bar (progress + Cancel) at the bottom, each its own widget:

* **Attack** (``adversarial_attack``): FGSM or PGD on a few validation samples, shown as
  original | perturbation | adversarial; its method, epsilon and valid range are the other
  pages' too.
* **Robustness** (``adversarial_curve``): validation accuracy against epsilon for FGSM and PGD.
* **Patch** (``adversarial_patch``): one optimised square patch towards a target class.
* **Live** (``adversarial_live``): robust beside clean accuracy per epoch while training.

This shell is an ``AnalysisPanel`` (project, preparing, empty state) that holds the pages,
keeps one status line per page, and opens only the Live page while a first run trains a
network without weights. All computation is ``runtime.attacks`` (or the probe) run by
``gui.tasks``; the pages draw.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QTabWidget, QWidget

from gui.panels import lab
from gui.panels.adversarial_attack import AttackPage
from gui.panels.adversarial_curve import CurvePage
from gui.panels.adversarial_live import LivePage
from gui.panels.adversarial_patch import PatchPage
from gui.panels.analysis_panel import AnalysisPanel
from gui.panels.visibility import on_screen

ATTACK, CURVE, PATCH, LIVE = range(4)  # the pages


class AdversarialPanel(AnalysisPanel):
    """Attacks on the open project's trained network (see the module docstring).

    Public state for tests and the lead: ``runner`` (its ``TaskRunner``), the pages
    ``attack_page``, ``curve_page``, ``patch_page`` and ``live_page`` (their results:
    ``attack_page.result``, ``curve_page.curves``, ``patch_page.patch``,
    ``live_page.live_epochs``), ``prepared_info`` (class names, value range, image or not)
    and ``seen`` (the panel has been on screen: the live probe may be asked for).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("adversarial", "attacks", lab.NEEDS_WEIGHTS, parent)
        self.prepared_info: dict[str, Any] = {}
        self.seen = False  # shown at least once: from then on the live probe is requested
        self._page_before: int | None = ATTACK  # the page to return to when attacks can run
        self._statuses: dict[int, tuple[str, bool]] = {}  # the task bar's line per page

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.setObjectName("adversarial_tabs")
        self.set_content(self.tabs)
        self.attack_page = AttackPage(self)
        self.curve_page = CurvePage(self)
        self.patch_page = PatchPage(self)
        self.live_page = LivePage(self)
        for page, title in ((self.attack_page, "Attack"), (self.curve_page, "Robustness"),
                            (self.patch_page, "Patch"), (self.live_page, "Live")):
            self.tabs.addTab(page, title)
        self.attack_page.changed.connect(self._attack_settings_changed)
        self.tabs.currentChanged.connect(self._tab_changed)
        self._set_blocker(self.blocker)

    # -- the lifecycle (see AnalysisPanel) -------------------------------------------------------
    def bind_controller(self, controller: Any) -> None:
        """New weights, and live robustness, from a ``gui.training.TrainingController``."""
        super().bind_controller(controller)
        self.live_page.bind_controller(controller)

    def forget(self) -> None:
        for page in (self.attack_page, self.curve_page, self.patch_page, self.live_page):
            page.forget()
        self._statuses = {}

    def rechecked(self) -> None:
        if self.controller is not None:
            self.live_page.probe_timer.start()

    def analyse(self) -> None:
        self.attack_page.run_attack()

    def _set_blocker(self, text: str | None) -> None:
        """Show the pages, or the empty state saying why not. Without weights but with live
        robustness coming in (the first training run), only the Live page is open."""
        self.blocker = text
        live_only = text == lab.NEEDS_WEIGHTS and self.live_page.has_run
        if text is not None and self.tabs.isTabEnabled(ATTACK):
            self._page_before = self.tabs.currentIndex()  # disabling moves off the page
        for index in (ATTACK, CURVE, PATCH):
            self.tabs.setTabEnabled(index, text is None)
            self.tabs.setTabToolTip(index, "" if text is None else text)
        if live_only:
            self._page_before = None  # after the first run, stay with its live curves
            self.tabs.setCurrentIndex(LIVE)
        elif text is None and self._page_before is not None:
            self.tabs.setCurrentIndex(self._page_before)
            self._page_before = None
        if text is None or live_only:
            self.stack.setCurrentWidget(self.tabs)
        else:
            self.empty.setText(text)
            self.stack.setCurrentWidget(self.empty)
            self.task_bar.show_status(" ")

    def show_blocker(self) -> None:
        """Show again what the blocker in force allows (a run started or measured)."""
        self._set_blocker(self.blocker)

    def came_into_view(self, visible: bool) -> None:
        """Shown, or its dock's tab brought to the front (which sends no show event)."""
        if not visible:
            return
        super().came_into_view(visible)
        if not self.seen:
            QTimer.singleShot(0, self._check_seen)
        self.live_page.came_into_view()

    def _check_seen(self) -> None:
        """Seen means on screen: a dock laid out behind another tab is shown for a moment
        while the window builds its layout, and that must not turn the live attack on."""
        if self.seen or not on_screen(self):
            return
        self.seen = True
        if self.controller is not None:
            self.live_page.probe_timer.start()

    def mark_stale(self) -> None:
        """What is shown is out of date: attack again when next on screen."""
        self._dirty = True

    def show_prepared(self, prep: lab.Prepared, first: bool) -> None:
        """A (new) network was prepared: class names, range, pickers."""
        self.prepared_info = {"class_names": prep.class_names, "value_range": prep.value_range,
                              "image": prep.is_image, "feature_names": prep.feature_names,
                              "input_shape": prep.input_shape, "val": int(len(prep.x_val))}
        self.attack_page.show_prepared(prep, first)
        self.curve_page.show_prepared(prep, first)
        self.patch_page.show_prepared(prep, first)

    # -- the pages' shared line -----------------------------------------------------------------
    def status(self, page: QWidget, text: str, error: bool = False) -> None:
        """The task bar's line for ``page`` (shown while that page is open)."""
        index = self.tabs.indexOf(page)
        self._statuses[index] = (text, error)
        if self.tabs.currentIndex() == index:
            self.task_bar.show_status(text, error)

    def _attack_settings_changed(self) -> None:
        if self.controller is not None:
            self.live_page.probe_timer.start()
        self.curve_page.follow_eps()

    def _tab_changed(self, index: int) -> None:
        text, error = self._statuses.get(index, (" ", False))
        self.task_bar.show_status(text, error)
        self.curve_page.draw_curves()

    def refresh_theme(self, *_args: Any) -> None:
        for page in (self.attack_page, self.curve_page, self.patch_page, self.live_page):
            page.refresh_theme()


__all__ = ["ATTACK", "CURVE", "LIVE", "PATCH", "AdversarialPanel"]
