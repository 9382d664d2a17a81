"""The start page (Help > Start Page, and once at the first launch): where to begin.

Three columns: the lessons with the learner's progress (``graph.lessons`` and the Lessons
panel's remembered progress), the example projects, and the recent projects. A click opens
the item: a lesson starts in the Lessons panel on its template, an example opens untitled (as
New from Template does), a recent project opens from its file. The page is a window-modal-free
dialog, so the window behind stays usable; ``python main.py`` still opens digits_cnn behind it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui import style
from gui.form_layout import dialog_layout
from gui.templates import list_templates

SHOWN_KEY = "start_page/shown"  # set once the start page has been shown (first launch only)
ROLE = Qt.ItemDataRole.UserRole


def lesson_progress_text(done: int, total: int) -> str:
    """How far the learner is in a lesson, as its list entry says it."""
    if total and done >= total:
        return "\u2713 complete"
    return f"{done} of {total} steps done" if done else "not started"


class StartPage(QDialog):
    """Lessons, examples and recent projects; a click opens one and closes the page."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.setObjectName("start_page")
        self.setWindowTitle("Start \u2014 Plexus")
        self.main_window = window
        layout = dialog_layout(self, "Learn with a lesson that checks what you do, start from "
                               "an example network, or go back to a recent project.", spacing=10)
        columns = QHBoxLayout()
        columns.setSpacing(14)
        self.lessons = self._column(columns, "Lessons", "start_lessons", self._open_lesson, 3)
        self.examples = self._column(columns, "Examples", "start_examples",
                                     self._open_example, 2)
        self.recent = self._column(columns, "Recent projects", "start_recent",
                                   self._open_recent, 2)
        layout.addLayout(columns, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.fill()
        self._fit_to(window)

    def _column(self, row: QHBoxLayout, title: str, name: str, opener: Any, stretch: int
                ) -> QListWidget:
        column = QVBoxLayout()
        heading = QLabel(title)
        heading.setFont(style.font("title", bold=True))
        column.addWidget(heading)
        items = QListWidget()
        items.setObjectName(name)
        items.setWordWrap(True)
        items.setSpacing(2)
        items.itemClicked.connect(lambda item: opener(item.data(ROLE)))
        items.itemActivated.connect(lambda item: opener(item.data(ROLE)))
        column.addWidget(items, 1)
        row.addLayout(column, stretch)
        return items

    def _fit_to(self, window: QWidget) -> None:
        """About 900x560, never larger than 90% of the window it opens over."""
        width = min(900, round(window.width() * 0.9)) if window.width() > 0 else 900
        height = min(560, round(window.height() * 0.9)) if window.height() > 0 else 560
        self.resize(max(width, 560), max(height, 360))

    # -- the columns ------------------------------------------------------------------------
    def fill(self) -> None:
        """List the lessons (with progress), the examples and the recent projects."""
        self.lessons.clear()
        panel = getattr(self.main_window, "lessons", None)
        for number, lesson in enumerate(panel.lessons if panel is not None else [], start=1):
            done = len(panel.remembered(lesson).done)
            self._add(self.lessons, f"{number}. {lesson.title}\n"
                      f"{lesson_progress_text(done, len(lesson.steps))}", lesson.id,
                      lesson.summary)
        if panel is None or not panel.lessons:
            self._add(self.lessons, "No lessons found.", None, "")
        self.examples.clear()
        for template in list_templates():
            self._add(self.examples, template.name, str(template.path),
                      template.description)
        self.recent.clear()
        for path in self.main_window.recent.paths():
            self._add(self.recent, f"{Path(path).stem}\n{Path(path).parent}", path, path)
        if not self.recent.count():
            self._add(self.recent, "No recent projects yet.", None, "")

    def _add(self, items: QListWidget, text: str, data: str | None, tip: str) -> None:
        item = QListWidgetItem(text)
        item.setData(ROLE, data)
        item.setToolTip(tip)
        if data is None:
            item.setFlags(Qt.ItemFlag.NoItemFlags)
        item.setSizeHint(QSize(0, 44 if "\n" in text else 28))
        items.addItem(item)

    # -- opening ----------------------------------------------------------------------------
    def _open_lesson(self, lesson_id: str | None) -> None:
        if lesson_id is not None:
            self.accept()
            self.main_window.lessons.open_lesson(lesson_id)

    def _open_example(self, path: str | None) -> None:
        if path is None or not self.main_window.maybe_save():
            return
        project = self.main_window.open_template(path, "example", modified=True)
        if project is not None:
            self.accept()
            self.main_window.show_message(f"New project from the {project.name} example.",
                                          6000)

    def _open_recent(self, path: str | None) -> None:
        if path is None:
            return
        if not os.path.isfile(path):
            self.main_window.show_message(f"{path} is no longer there.", 6000)
            return
        if self.main_window.open_project(path):
            self.accept()


def show_start_page(window: Any) -> StartPage:
    """Open the start page over ``window`` (not modal: the window stays usable)."""
    page = StartPage(window)
    page.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    page.show()
    page.raise_()
    window.settings.setValue(SHOWN_KEY, True)
    return page


def show_start_page_once(window: Any) -> StartPage | None:
    """At the app's first launch only (remembered in the settings): the start page."""
    if window.settings.value(SHOWN_KEY, False) in (True, "true", "1", 1):
        return None
    return show_start_page(window)


def install_start_page(window: Any) -> None:
    """Help > Start Page, first in the Help menu."""
    action = QAction("&Start Page\u2026", window)
    action.setObjectName("action_start_page")
    action.setStatusTip("Lessons, examples and recent projects")
    action.triggered.connect(lambda: show_start_page(window))
    window.actions["start_page"] = action
    help_menu = window.menus.get("help")
    if help_menu is not None:
        help_menu.insertAction(help_menu.actions()[0], action)
