"""The start page (Help > Start Page, and the first launch only): lessons with their progress,
examples and recent projects; a click opens one."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("pytestqt")


@pytest.fixture
def window(lessons_window):
    return lessons_window


def _page(window):
    from gui.start_page import StartPage

    pages = [p for p in window.findChildren(StartPage) if p.isVisible()]
    assert len(pages) == 1
    return pages[0]


def _click(qtbot, items, row: int) -> None:
    from PySide6.QtCore import Qt

    rect = items.visualItemRect(items.item(row))
    qtbot.mouseClick(items.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_a_lesson_clicked_on_the_start_page_opens_at_its_first_step(window, qtbot):
    from gui.start_page import StartPage

    assert not window.findChildren(StartPage)  # installing never opens it
    window.settings.setValue("lessons/perceptron_xor", json.dumps({"done": [0, 1],
                                                                    "current": 2}))
    window.recent.add("/tmp/somewhere/mnist_try.plexus")
    help_menu = window.menus["help"].actions()
    assert help_menu[0].objectName() == "action_start_page"
    assert help_menu[1].objectName() == "action_lessons"
    help_menu[0].trigger()
    page = _page(window)
    assert page.width() <= 0.9 * window.width() + 1 and page.height() <= 0.9 * window.height() + 1
    lessons = [page.lessons.item(r).text() for r in range(page.lessons.count())]
    assert len(lessons) == len(window.lessons.lessons) >= 13  # every shipped lesson
    assert lessons[0] == "1. The perceptron and XOR\n2 of 4 steps done"
    assert lessons[1] == "2. How hidden layers bend space\nnot started"
    examples = [page.examples.item(r).text() for r in range(page.examples.count())]
    assert examples[0] == "digits_cnn" and "spirals_mlp" in examples
    assert page.recent.item(0).text() == "mnist_try\n/tmp/somewhere"

    _click(qtbot, page.lessons, 1)
    assert not page.isVisible()
    assert window.project.name == "spirals_mlp"  # the lesson's template is open
    panel = window.lessons
    assert window.docks["lessons"].isVisible()
    assert panel.pages.currentIndex() == 1
    assert "How hidden layers bend space" in panel.lesson_title.text()
    assert panel.counter.text().startswith("Step 1 of 5")
    assert "Open the boundary" in panel.step_text.text()


def test_an_example_opens_untitled_and_the_page_shows_once(window, qtbot):
    from gui.start_page import SHOWN_KEY, show_start_page_once

    page = show_start_page_once(window)
    assert page is not None and page.isVisible()
    assert window.settings.value(SHOWN_KEY) in (True, "true")
    assert page.recent.item(0).text() == "No recent projects yet."
    names = [page.examples.item(r).text() for r in range(page.examples.count())]
    _click(qtbot, page.examples, names.index("xor_mlp"))
    assert not page.isVisible()
    assert window.project.name == "xor_mlp" and window.path is None  # never the example file
    assert show_start_page_once(window) is None  # the first launch only
