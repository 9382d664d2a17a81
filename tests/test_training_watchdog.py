"""The training watchdog's decisions on a made-up clock: silence, and the escalation from a
polite stop to terminate to kill (the real process is in tests/test_gui_training.py)."""

from __future__ import annotations

import pytest

from gui.training.watchdog import STOP_GRACE, STOP_PATIENCE, Watchdog
from runtime.events import Heartbeat
from runtime.worker import beat


def ticks(dog: Watchdog, start: float, end: float, active: bool = True,
          beat_every: float | None = None, step: float = 0.05) -> list[tuple[float, str]]:
    """Poll like the controller's timer from ``start`` to ``end``; heartbeats every
    ``beat_every`` seconds (None: none); the (time, action) answered."""
    answers, next_beat = [], start
    for index in range(round((end - start) / step)):
        now = round(start + index * step, 6)
        if beat_every is not None and now >= next_beat:
            dog.heard(now)
            next_beat += beat_every
        action = dog.check(now, active)
        if action is not None:
            answers.append((round(now, 2), action))
    return answers


def test_a_healthy_process_triggers_nothing():
    dog = Watchdog()
    dog.reset(0.0)
    assert ticks(dog, 0.0, 120.0, beat_every=1.0) == []
    assert not dog.silent and not dog.ended


def test_a_silent_run_is_reported_once_and_its_return_too():
    dog = Watchdog()
    dog.reset(0.0)
    assert ticks(dog, 0.0, 20.0) == [(5.0, "silent")]
    assert dog.silent
    assert dog.heard(20.0) is True  # it answers again
    assert dog.heard(21.0) is False
    assert not dog.silent


def test_nothing_is_checked_while_no_run_is_active():
    dog = Watchdog()
    dog.reset(0.0)
    dog.stop_asked(1.0)
    assert ticks(dog, 0.0, 30.0, active=False) == []


def test_a_hung_process_is_terminated_then_killed_after_stop():
    dog = Watchdog()
    dog.reset(0.0)
    dog.heard(9.5)  # the last heartbeat before it hung
    dog.stop_asked(10.0)
    assert ticks(dog, 10.0, 40.0) == [(10.0 + STOP_GRACE, "terminate"),
                                      (10.0 + 2 * STOP_GRACE, "kill"), (14.5, "silent")]
    assert dog.ended and dog.killed


def test_a_process_already_silent_still_gets_the_grace_after_stop():
    dog = Watchdog()
    dog.reset(0.0)
    assert ticks(dog, 0.0, 10.0) == [(5.0, "silent")]
    dog.stop_asked(10.0)
    assert ticks(dog, 10.0, 13.0) == [(12.0, "terminate")]


def test_a_busy_process_that_keeps_beating_gets_patience_then_is_ended():
    dog = Watchdog()
    dog.reset(0.0)
    dog.stop_asked(1.0)
    answers = ticks(dog, 1.0, 1.0 + STOP_PATIENCE + 3.0, beat_every=1.0)
    assert answers[0] == (1.0 + STOP_PATIENCE, "terminate")
    assert answers[1][1] == "kill"


def test_a_run_that_finishes_after_stop_is_left_alone():
    dog = Watchdog()
    dog.reset(0.0)
    dog.stop_asked(1.0)
    dog.heard(1.5)
    dog.run_ended()  # Finished arrived
    assert ticks(dog, 1.5, 4.0, active=False) == []
    assert not dog.ended


def test_the_training_process_heartbeat_loop_sends_heartbeats():
    sent = []

    class Enough(Exception):
        pass

    def send(event):
        sent.append(event)
        if len(sent) == 3:
            raise Enough

    with pytest.raises(Enough):
        beat(send, interval=0.0)
    assert sent == [Heartbeat(), Heartbeat(), Heartbeat()]
