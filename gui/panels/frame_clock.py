"""One frame clock for every panel that draws live data.

While a network trains, payloads reach several panels a few times a second each. Drawing each
at once (or on each panel's own timer) piles several renders, and the repaints they cause,
into one pass of the event loop: the window stalls for their sum. Panels instead ask this
clock for a frame (``request_frame(panel, draw)``): it calls at most one ``draw`` per tick,
``FRAME_HZ`` ticks a second, oldest request first, so a panel is drawn at most once per
frame it can be seen in, and the GUI never waits for more than one panel's render; after a
slow render the clock rests as long as the render took (``REST``). A request
may ask to be drawn at once when it finds the clock idle (nothing drawn for a frame), so a
lone update is not delayed.

A request for a panel that is not on screen (closed, behind another tab, minimised) waits
until the panel can be seen (while nothing waiting can be, the clock only looks every
``UNSEEN_POLL_MS``); a newer request of the same panel replaces its older one (only the
latest data is drawn).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, QTimer
from PySide6.QtWidgets import QWidget

from gui.panels.visibility import on_screen

FRAME_HZ = 30
FRAME_MS = round(1000 / FRAME_HZ)
# After a draw that took d ms, the next waits at least REST * d ms: panels that render slowly
# are drawn less often instead of keeping the GUI thread (and a CPU the training process
# needs) busy.
REST = 1.0
# While every waiting panel is out of sight, the clock looks this often whether one came
# into view: Qt sends no show event when a tabbed dock is raised or a window restored.
UNSEEN_POLL_MS = 250

Draw = Callable[[], None]


class FrameClock(QObject):
    """Calls the oldest waiting ``draw`` of a panel that can be seen, one per tick."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = FRAME_MS) -> None:
        super().__init__(parent)
        self.interval_ms = interval_ms
        self._pace = interval_ms  # the frame interval now (longer after a slow render)
        self._waiting: dict[int, tuple[QWidget, Draw]] = {}  # id(widget): oldest first
        self.draws = 0
        # set to a dict to keep each draw's GUI-thread CPU seconds by panel class (benchmarks;
        # CPU time, unlike wall time, does not grow with other work on the machine)
        self.timings: dict[str, list[float]] | None = None
        self._last_draw = 0.0  # perf_counter of the last draw
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.tick)

    def request(self, widget: QWidget, draw: Draw, now_if_idle: bool = False) -> None:
        """Call ``draw`` at one of the next frames in which ``widget`` can be seen; with
        ``now_if_idle``, at once when the clock is idle (a lone update, not a stream)."""
        if now_if_idle and not self._timer.isActive() and on_screen(widget) \
                and time.perf_counter() - self._last_draw >= self.interval_ms / 1000:
            self._draw(draw, widget)  # the clock was idle: this frame is free, draw at once
            self._timer.start()  # and the requests that follow in this frame wait a tick
            return
        # a panel already waiting keeps its place in the queue and draws its newest state
        self._waiting[id(widget)] = (widget, draw)
        if not self._timer.isActive() or self._timer.interval() > self._pace:
            self._timer.start(self._pace)  # (from polling for unseen panels) back to frames

    def cancel(self, widget: QWidget) -> None:
        self._waiting.pop(id(widget), None)

    def waiting(self, widget: QWidget) -> bool:
        return id(widget) in self._waiting

    def draw_now(self, widget: QWidget) -> bool:
        """Call ``widget``'s waiting draw at once (tests, screenshots); False if none waits."""
        entry = self._waiting.pop(id(widget), None)
        if entry is None:
            return False
        entry[1]()
        return True

    def tick(self) -> None:
        """Draw the panel that has waited longest among those that can be seen."""
        for key, (widget, draw) in list(self._waiting.items()):
            if not shiboken6.isValid(widget):
                del self._waiting[key]
                continue
            if on_screen(widget):
                del self._waiting[key]
                self._draw(draw, widget)
                return
        if self._waiting:  # all out of sight: look now and then whether one came into view
            self._timer.setInterval(UNSEEN_POLL_MS)
        else:
            self._timer.stop()

    def _draw(self, draw: Draw, widget: QWidget) -> None:
        self.draws += 1
        started, cpu = time.perf_counter(), time.thread_time()
        draw()
        self._last_draw = time.perf_counter()
        if self.timings is not None:
            self.timings.setdefault(type(widget).__name__, []).append(time.thread_time() - cpu)
        took_ms = 1000 * (self._last_draw - started)
        self._pace = max(self.interval_ms, round(REST * took_ms))
        self._timer.setInterval(self._pace)


_CLOCK: list[FrameClock] = []


def clock() -> FrameClock:
    """The application's frame clock (created on first use, owned by the application)."""
    app = QCoreApplication.instance()
    if not _CLOCK or not shiboken6.isValid(_CLOCK[0]) or _CLOCK[0].parent() is not app:
        _CLOCK[:] = [FrameClock(app)]
    return _CLOCK[0]


def request_frame(widget: QWidget, draw: Draw, now_if_idle: bool = False) -> None:
    """Draw ``widget`` with ``draw`` at a coming frame in which it can be seen (see
    ``FrameClock.request``)."""
    clock().request(widget, draw, now_if_idle)

