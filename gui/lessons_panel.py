"""The Lessons panel (Help > Lessons): the lessons in order with their progress, and the open
lesson's current step: what it explains, what the learner does, and a tick when the step's
check holds.

The lessons are ``resources/lessons/*.json`` (``graph.lessons``); ``gui.lesson_watch`` says
what the checks see. Progress is remembered per lesson in the window's settings.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QTabBar,
    QVBoxLayout,
    QWidget,
)

from graph.lessons import Lesson, LessonProgress, load_lessons
from gui import theme
from gui.docks import RIGHT
from gui.lesson_watch import LessonWatch
from gui.start_page import install_start_page
from gui.templates import EXAMPLES_DIR

LESSONS_DIR = Path(__file__).resolve().parent.parent / "resources" / "lessons"
FLASH_MS = 1500  # how long a highlighted widget stays marked


class LessonsPanel(QWidget):
    """A list of lessons, and the open lesson's step with Back, Skip and Restart."""

    def __init__(self, window: Any, controller: Any = None, folder: Path = LESSONS_DIR
                 ) -> None:
        super().__init__()
        self.setObjectName("lessons_panel")
        self.main_window = window
        self.watch = LessonWatch(window, controller)
        self.watch.changed.connect(self.check_step)
        self.lessons, self.errors = load_lessons(folder)
        self.progress: LessonProgress | None = None

        self.pages = QStackedWidget()
        self.pages.addWidget(self._catalogue_page())
        self.pages.addWidget(self._step_page())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.pages)
        self.fill_catalogue()

    # -- the catalogue ---------------------------------------------------------------------
    def _catalogue_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        intro = QLabel("Hands-on lessons: each opens an example and checks what you do. "
                       "Double-click one to start.")
        intro.setWordWrap(True)
        self.catalogue = QListWidget()
        self.catalogue.setObjectName("lesson_list")
        self.catalogue.setWordWrap(True)
        self.catalogue.itemActivated.connect(lambda item: self.start(item.data(Qt.UserRole)))
        self.start_button = QPushButton("Start lesson")
        self.start_button.clicked.connect(self._start_chosen)
        self.broken = QLabel()
        self.broken.setWordWrap(True)
        layout.addWidget(intro)
        layout.addWidget(self.catalogue, 1)
        layout.addWidget(self.broken)
        layout.addWidget(self.start_button)
        return page

    def fill_catalogue(self) -> None:
        self.catalogue.clear()
        for number, lesson in enumerate(self.lessons, start=1):
            done = len(self.remembered(lesson).done)
            total = len(lesson.steps)
            mark = "\u2713 " if done == total else ""
            item = QListWidgetItem(f"{mark}{number}. {lesson.title}  \u00b7  {done}/{total}")
            item.setData(Qt.UserRole, lesson.id)
            item.setToolTip(lesson.summary)
            self.catalogue.addItem(item)
        if self.lessons:
            self.catalogue.setCurrentRow(0)
        self.broken.setVisible(bool(self.errors))
        self.broken.setText("Not loaded: " + "; ".join(self.errors))

    def _start_chosen(self) -> None:
        item = self.catalogue.currentItem()
        if item is not None:
            self.start(item.data(Qt.UserRole))

    # -- the open lesson -------------------------------------------------------------------
    def _step_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        self.lesson_title = QLabel()
        self.lesson_title.setObjectName("lesson_title")
        self.lesson_title.setWordWrap(True)
        self.counter = QLabel()
        self.step_text = QLabel()
        self.step_text.setObjectName("lesson_step")
        self.step_text.setWordWrap(True)
        self.step_text.setTextFormat(Qt.RichText)
        self.step_text.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.step_text)
        self.status = QLabel()
        self.status.setObjectName("lesson_status")
        self.status.setWordWrap(True)
        self.back_button = QPushButton("\u25c0 Back")
        self.skip_button = QPushButton("Skip \u25b6")
        self.show_button = QPushButton("Show me")
        self.show_button.setToolTip("Point at the node, panel or button this step is about")
        self.restart_button = QPushButton("Restart")
        self.restart_button.setToolTip("Reopen the lesson's example and start from step 1")
        self.all_button = QPushButton("All lessons")
        self.back_button.clicked.connect(self.back)
        self.skip_button.clicked.connect(self.skip)
        self.show_button.clicked.connect(lambda: self.highlight(bring_to_front=True))
        self.restart_button.clicked.connect(self.restart)
        self.all_button.clicked.connect(self.close_lesson)
        buttons = QGridLayout()  # two columns: the panel stays narrow beside the inspector
        for index, button in enumerate((self.back_button, self.skip_button, self.show_button,
                                        self.restart_button, self.all_button)):
            buttons.addWidget(button, index // 2, index % 2)
        layout.addWidget(self.lesson_title)
        layout.addWidget(self.counter)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        return page

    def lesson(self, lesson_id: str) -> Lesson:
        return next(lesson for lesson in self.lessons if lesson.id == lesson_id)

    def start(self, lesson_id: str, fresh: bool = False) -> bool:
        """Open the lesson's example (asking to save the current project first) and show
        where the learner left off, or step 1 when ``fresh``."""
        lesson = self.lesson(lesson_id)
        if not self.main_window.maybe_save():
            return False
        if self.main_window.open_template(EXAMPLES_DIR / f"{lesson.template}.plexus", "lesson",
                                          modified=True) is None:
            return False
        self.progress = (LessonProgress(lesson) if fresh else self.remembered(lesson))
        self.watch.restart()
        self.pages.setCurrentIndex(1)
        self.show_step()
        QTimer.singleShot(0, self, lambda: self.highlight(bring_to_front=False))
        return True

    def open_lesson(self, lesson_id: str) -> bool:
        """Show the Lessons dock and start ``lesson_id`` where the learner left off (the
        start page's lesson links)."""
        show_lessons(self.main_window)
        return self.start(lesson_id)

    def restart(self) -> None:
        if self.progress is not None:
            self.start(self.progress.lesson.id, fresh=True)
            self._remember()

    def close_lesson(self) -> None:
        self.progress = None
        self.fill_catalogue()
        self.pages.setCurrentIndex(0)

    def back(self) -> None:
        if self.progress is not None:
            self.progress.back()
            self._moved()

    def skip(self) -> None:
        if self.progress is not None:
            self.progress.skip()
            self._moved()

    def _moved(self) -> None:
        self._remember()
        self.show_step()
        self.highlight(bring_to_front=False)

    def check_step(self) -> None:
        """Re-check the current step against what the window shows now."""
        self.watch.watch_docks()  # docks added since (a project-specific panel)
        if self.progress is None:
            return
        if self.progress.update(self.watch.state()):
            self._remember()
            self.show_step()
            if not self.progress.finished:
                self.highlight(bring_to_front=False)

    def show_step(self) -> None:
        progress = self.progress
        if progress is None:
            return
        t = theme.current()
        lesson, step = progress.lesson, progress.step
        self.lesson_title.setText(f"<b>{escape(lesson.title)}</b>")
        self.counter.setText(f"Step {progress.current + 1} of {len(lesson.steps)}  \u00b7  "
                             f"{len(progress.done)} done")
        hint = (f'<p style="color:{t.text_dim}"><i>Hint: {escape(step.hint)}</i></p>'
                if step.hint else "")
        self.step_text.setText(
            f"<p><b>{escape(step.title)}</b></p><p>{escape(step.text)}</p>"
            f'<p style="border-left: 3px solid {t.accent}">'
            f'<b style="color:{t.accent}">Your turn:</b> {escape(step.action)}</p>{hint}')
        if progress.finished:
            text, color = "\u2713 Lesson complete. Pick another in All lessons.", t.ok
        elif progress.current in progress.done:
            text, color = "\u2713 Done. Skip to go on.", t.ok
        else:
            text, color = "Waiting for you\u2026 the step ticks by itself.", t.text_dim
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {color}")
        self.back_button.setEnabled(progress.current > 0)
        self.skip_button.setEnabled(progress.current < len(lesson.steps) - 1)

    def highlight(self, bring_to_front: bool = True) -> None:
        """Point at what the step talks about: select the node, flash the widget, and mark
        the panel's tab (brought to the front only when the learner asks: opening it may be
        the step itself)."""
        if self.progress is None:
            return
        target = self.progress.step.highlight
        if "node" in target:
            node = self.main_window.graph.node_by_name(target["node"])
            if node is not None:
                self.main_window.focus_node(node.id)
        if "panel" in target and target["panel"] in self.main_window.docks:
            dock = self.main_window.docks[target["panel"]]
            if bring_to_front:
                dock.show()
                dock.raise_()
            else:
                self._flash_tab(dock.windowTitle())
        if "widget" in target:
            self._flash(target["widget"])

    def _flash_tab(self, title: str) -> None:
        for bar in self.main_window.findChildren(QTabBar):
            for index in range(bar.count()):
                if bar.tabText(index) == title:
                    bar.setTabTextColor(index, QColor(theme.current().accent))
                    QTimer.singleShot(FLASH_MS, bar,
                                      lambda b=bar, i=index: b.setTabTextColor(i, QColor()))

    def _flash(self, name: str) -> None:
        action = getattr(self.main_window, "actions", {}).get(name)
        toolbar = getattr(self.main_window, "toolbar", None)
        widget = toolbar.widgetForAction(action) if action is not None and toolbar else None
        if widget is None:
            return
        widget.setStyleSheet(f"border: 2px solid {theme.current().accent}; border-radius: 4px")
        QTimer.singleShot(FLASH_MS, widget, lambda: widget.setStyleSheet(""))

    # -- remembered progress ---------------------------------------------------------------
    def _key(self, lesson: Lesson) -> str:
        return f"lessons/{lesson.id}"

    def remembered(self, lesson: Lesson) -> LessonProgress:
        """The learner's progress in ``lesson`` as the settings keep it (the start page
        shows it too)."""
        raw = self.main_window.settings.value(self._key(lesson), "")
        try:
            data = json.loads(raw) if isinstance(raw, str) and raw else None
        except json.JSONDecodeError:
            data = None
        return LessonProgress.from_json(lesson, data)

    def _remember(self) -> None:
        if self.progress is not None:
            self.main_window.settings.setValue(self._key(self.progress.lesson),
                                          json.dumps(self.progress.to_json()))


def install_lessons(window: Any, controller: Any = None) -> LessonsPanel:
    """The Lessons dock under the inspector, hidden until Help > Lessons opens it."""
    panel = LessonsPanel(window, controller)
    dock = window.add_panel(panel, "Lessons", RIGHT, "lessons", tabify=False)
    dock.setProperty("default_hidden", True)
    dock.hide()
    action = QAction("&Lessons\u2026", window)
    action.setObjectName("action_lessons")
    action.setStatusTip("Hands-on lessons that check what you do")
    action.triggered.connect(lambda: show_lessons(window))
    help_menu = window.menus.get("help")
    if help_menu is not None:
        help_menu.insertAction(help_menu.actions()[0], action)
    window.lessons = panel
    install_start_page(window)  # Help > Start Page lists the lessons first
    return panel


def show_lessons(window: Any) -> None:
    """Open the Lessons dock with the right column split evenly with the inspector, so the
    step text and the layer being edited are both readable."""
    dock = window.docks["lessons"]
    dock.show()
    dock.raise_()
    inspector = window.docks.get("inspector")
    if inspector is not None and not dock.isFloating():
        half = max(window.height() // 2 - 60, 200)
        window.resizeDocks([inspector, dock], [half, half], Qt.Orientation.Vertical)
