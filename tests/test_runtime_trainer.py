"""The trainer shell's per-step bookkeeping (``StepClock``), shared by the standard and GAN
loops: batch events through the throttling window, pauses left out of an epoch's time, and
the stop flag read after each step."""

from __future__ import annotations

from runtime.events import Batch
from runtime.trainer import StepClock, TrainControl


def test_step_clock_emits_batch_events_and_reads_the_stop_flag() -> None:
    events: list[Batch] = []
    control = TrainControl()
    clock = StepClock(control, events.append)
    clock.start_epoch()
    assert not clock.step_done(32, 1, 1, 10, 1, loss=2.0, d_loss=2.0)
    assert len(events) == 1  # the first step always reports
    first = events[0]
    assert (first.epoch, first.step, first.steps_per_epoch, first.global_step) == (1, 1, 10, 1)
    assert first.loss == 2.0 and first.samples_per_s > 0
    assert not clock.step_done(32, 1, 2, 10, 2, loss=4.0, d_loss=4.0)
    control.stop()
    assert clock.step_done(32, 1, 3, 10, 3, loss=1.0, d_loss=1.0)
    assert clock.epoch_seconds() >= 0.0
    assert clock.paused_for == 0.0
