"""The shared frame clock: one panel drawn per frame, only panels that can be seen."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QLabel, QTabWidget  # noqa: E402

from gui.panels.frame_clock import UNSEEN_POLL_MS, FrameClock  # noqa: E402
from gui.panels.visibility import on_screen as seen  # noqa: E402


@pytest.fixture
def panels(qtbot):
    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    front, behind = QLabel("front"), QLabel("behind")
    tabs.addTab(front, "front")
    tabs.addTab(behind, "behind")
    tabs.resize(300, 200)
    tabs.show()
    qtbot.waitExposed(tabs)
    return tabs, front, behind


def test_one_draw_per_tick_oldest_first_newest_state(panels, qtbot):
    tabs, front, _behind = panels
    other = QLabel("other")
    qtbot.addWidget(other)
    other.show()
    qtbot.waitExposed(other)
    clock = FrameClock(interval_ms=10_000)  # ticks by hand
    drawn: list[str] = []
    clock.request(front, lambda: drawn.append("front 1"))
    clock.request(other, lambda: drawn.append("other"))
    clock.request(front, lambda: drawn.append("front 2"))  # replaces front 1, keeps its place
    assert drawn == []  # nothing is drawn inside request
    clock.tick()
    assert drawn == ["front 2"]
    clock.tick()
    assert drawn == ["front 2", "other"]
    clock.tick()
    assert drawn == ["front 2", "other"] and clock.draws == 2


def test_a_panel_behind_a_tab_waits_until_shown(panels, qtbot):
    tabs, front, behind = panels
    assert seen(front) and not seen(behind)  # Qt calls both visible; only one can be seen
    clock = FrameClock(interval_ms=10_000)
    drawn: list[str] = []
    clock.request(behind, lambda: drawn.append("behind"))
    clock.tick()
    assert drawn == [] and clock.waiting(behind)
    assert clock._timer.isActive() and clock._timer.interval() == UNSEEN_POLL_MS  # looks, slowly
    tabs.setCurrentWidget(behind)  # raised: no request needed, the next look draws it
    qtbot.waitUntil(lambda: seen(behind), timeout=2000)
    clock.tick()
    assert drawn == ["behind"] and not clock.waiting(behind)
    clock.tick()
    assert not clock._timer.isActive()  # nothing waits: the clock stops


def test_now_if_idle_draws_a_lone_update_at_once_and_queues_the_next(panels):
    _tabs, front, _behind = panels
    clock = FrameClock(interval_ms=10_000)
    drawn: list[int] = []
    clock.request(front, lambda: drawn.append(1), now_if_idle=True)
    clock.request(front, lambda: drawn.append(2), now_if_idle=True)  # same frame: waits
    assert drawn == [1] and clock.waiting(front)
    assert clock.draw_now(front) and drawn == [1, 2]
    assert not clock.draw_now(front)


def test_a_slow_draw_makes_the_clock_rest_as_long(panels):
    import time

    _tabs, front, _behind = panels
    clock = FrameClock(interval_ms=10)
    clock.request(front, lambda: time.sleep(0.08))
    clock.tick()
    assert clock._timer.interval() >= 75  # rests about as long as the draw took
    clock.request(front, lambda: None)
    clock.tick()
    assert clock._timer.interval() == 10  # fast draws: back to the frame rate
