"""Background tasks for panels: run a runtime function off the GUI thread, with progress and
Cancel, and get its result (or a one-line error) back on the GUI thread.

The runtime's long functions (attacks, robustness curves, saliency, activation maximization)
all take ``progress(fraction)`` and ``cancel() -> bool`` callbacks and raise their
``Cancelled`` when asked to stop. A ``TaskRunner`` hands such a function those two callbacks,
runs it on its own ``QThreadPool`` (one thread by default: the tasks of one panel share a
model, and on a small machine two attacks at once are no faster than one after the other),
and emits Qt signals that are delivered on the GUI thread. ``TaskBar`` is the matching
progress bar + Cancel button + one status line.

A task started under a ``name`` that is still queued or running replaces it: the older one is
cancelled and whatever it returns is dropped, so a slider dragged across ten values leaves one
attack, of the last value. Progress reaches the GUI at most ``PROGRESS_HZ`` times a second.

This module knows nothing of torch: the panels pass the callables.
"""

from __future__ import annotations

import gc
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QWidget

PROGRESS_HZ = 20


class _CollectorPause:
    """Python's cycle collector runs in whichever thread happens to allocate. Run in a job's
    thread, it can free a Qt object there, whose destructor waits for the GIL while holding
    a lock of Qt's that the GUI thread, holding the GIL, waits for: both hang (seen in the
    suite: the Code panel's compile job freed a menu while the GUI thread deleted widgets).
    So while any job runs, automatic collection is off; the GUI thread collects once the
    last one ends, as it did before."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._was_enabled = False

    @contextmanager
    def paused(self) -> Iterator[None]:
        with self._lock:
            if self._running == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                if self._running == 0 and self._was_enabled:
                    gc.enable()


_COLLECTOR_PAUSE = _CollectorPause()

Work = Callable[[Callable[[float], None], Callable[[], bool]], Any]


class Task:
    """One submitted job. ``cancel()`` asks it to stop (it stops at its next check)."""

    def __init__(self, name: str, label: str, number: int) -> None:
        self.name = name
        self.label = label
        self.number = number
        self.state = "queued"  # queued, running, done, failed, cancelled
        self.fraction = 0.0
        self.error = ""  # the one-line message of a failed task
        self._cancel = threading.Event()
        self.dropped = False  # superseded: nobody wants its outcome, nor to hear it stopped
        self.on_done: Callable[[Any], None] | None = None
        self.on_error: Callable[[str], None] | None = None
        self.on_cancelled: Callable[[], None] | None = None

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")

    def __repr__(self) -> str:
        return f"Task({self.name!r}, {self.state})"


class _Signals(QObject):
    # task number, payload: emitted from the worker thread, received on the GUI thread
    started = Signal(int)
    progress = Signal(int, float)
    done = Signal(int, str, object)  # number, outcome ("done"|"failed"|"cancelled"), value


def is_cancellation(exc: BaseException) -> bool:
    """True for the runtime's ``Cancelled`` (any class of that name: no torch import here)."""
    return type(exc).__name__ == "Cancelled"


def is_expected(exc: BaseException) -> bool:
    """A failure the user caused and the message explains (the runtime's ValueErrors name the
    node, file or field; a file that cannot be read; memory that ran out): the task bar shows
    it, and no traceback goes to stderr. Anything else is a bug, and its traceback is kept."""
    return isinstance(exc, (ValueError, OSError, MemoryError))


def one_line(exc: BaseException) -> str:
    """A user-facing line for an exception: its message's first line (ValueErrors from the
    runtime already name the node or field); the type name for anything without one."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, ValueError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Job(QRunnable):
    def __init__(self, task: Task, work: Work, signals: _Signals) -> None:
        super().__init__()
        self.task, self.work, self.signals = task, work, signals
        self.setAutoDelete(True)

    def run(self) -> None:
        with _COLLECTOR_PAUSE.paused():
            self._run()

    def _run(self) -> None:
        task, number = self.task, self.task.number
        if task.cancel_requested:
            self._emit("done", number, "cancelled", None)
            return
        self._emit("started", number)
        last = [0.0]

        def progress(fraction: float) -> None:
            now = time.perf_counter()
            if now - last[0] >= 1.0 / PROGRESS_HZ or fraction >= 1.0:
                last[0] = now
                self._emit("progress", number, float(fraction))

        try:
            value = self.work(progress, task._cancel.is_set)
        except BaseException as exc:  # noqa: BLE001 - reported on the GUI thread, never raised
            if is_cancellation(exc) or task.cancel_requested:
                self._emit("done", number, "cancelled", None)
            else:
                if not is_expected(exc):
                    traceback.print_exc()
                self._emit("done", number, "failed", one_line(exc))
            return
        outcome = "cancelled" if task.cancel_requested else "done"
        self._emit("done", number, outcome, value if outcome == "done" else None)

    def _emit(self, signal: str, *args: Any) -> None:
        """Tell the runner, unless it is gone: a window closed (or the app quit) while this
        job ran has no one left to tell, and that is not an error."""
        try:
            getattr(self.signals, signal).emit(*args)
        except RuntimeError:  # "Signal source has been deleted"
            pass


class TaskRunner(QObject):
    """Runs callables ``work(progress, cancel)`` in the background, one at a time.

    Signals (GUI thread): ``task_started(Task)``, ``task_progress(Task, float)``,
    ``task_finished(Task)`` (after its callback, whatever the outcome; ``task.state`` says
    which), ``busy_changed(bool)``. Per task, ``on_done(result)``, ``on_error(message)`` and
    ``on_cancelled()`` callbacks run on the GUI thread.
    """

    task_started = Signal(object)
    task_progress = Signal(object, float)
    task_finished = Signal(object)
    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None, threads: int = 1) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max(1, threads))
        self._signals = _Signals()
        self._signals.started.connect(self._started, Qt.ConnectionType.QueuedConnection)
        self._signals.progress.connect(self._progress, Qt.ConnectionType.QueuedConnection)
        self._signals.done.connect(self._done, Qt.ConnectionType.QueuedConnection)
        self._tasks: dict[int, Task] = {}
        self._count = 0
        self.current: Task | None = None  # the task running now (or last started)
        self.last_error = ""
        app = QCoreApplication.instance()
        if app is not None:  # quitting must not wait for a long computation to end
            app.aboutToQuit.connect(self.cancel)

    # -- API --------------------------------------------------------------------------------------
    def run(self, name: str, work: Work, label: str = "",
            on_done: Callable[[Any], None] | None = None,
            on_error: Callable[[str], None] | None = None,
            on_cancelled: Callable[[], None] | None = None) -> Task:
        """Queue ``work(progress, cancel)``; an active task of the same ``name`` is cancelled
        (its result dropped). ``label`` is what the task bar says while it runs."""
        self.drop(name)
        self._count += 1
        task = Task(name, label or name, self._count)
        task.on_done, task.on_error, task.on_cancelled = on_done, on_error, on_cancelled
        was_busy = self.busy
        self._tasks[task.number] = task
        self._pool.start(_Job(task, work, self._signals))
        if not was_busy:
            self.busy_changed.emit(True)
        return task

    def drop(self, name: str | None = None) -> None:
        """Cancel the active tasks of ``name`` (all: None) and drop whatever they return:
        superseded (a newer task, another project), nobody wants their outcome, even one
        already computed but not yet delivered."""
        for old in self.active(name):
            old.cancel()
            old.dropped = True
            old.on_done = old.on_error = old.on_cancelled = None

    def cancel(self, name: str | None = None) -> None:
        """Cancel the active tasks (of ``name``, or all)."""
        for task in self._tasks.values():
            if task.active and (name is None or task.name == name):
                task.cancel()

    @property
    def busy(self) -> bool:
        return any(t.active for t in self._tasks.values())

    def active(self, name: str | None = None) -> list[Task]:
        return [t for t in self._tasks.values() if t.active and (name is None or t.name == name)]

    def wait(self, timeout_ms: int = 30_000) -> bool:
        """Block until every task is finished and delivered (tests); events are processed
        meanwhile. False when the time ran out."""
        from PySide6.QtCore import QDeadlineTimer

        deadline = QDeadlineTimer(timeout_ms)
        while self.busy and not deadline.hasExpired():
            QCoreApplication.processEvents()
            self._pool.waitForDone(5)
        QCoreApplication.processEvents()
        return not self.busy

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """Cancel everything and wait for the thread (window closing)."""
        self.cancel()
        self._pool.waitForDone(timeout_ms)

    # -- delivery (GUI thread) --------------------------------------------------------------------
    def _started(self, number: int) -> None:
        task = self._tasks.get(number)
        if task is None:
            return
        task.state = "running"
        self.current = task
        self.task_started.emit(task)

    def _progress(self, number: int, fraction: float) -> None:
        task = self._tasks.get(number)
        if task is None or not task.active:
            return
        task.fraction = fraction
        self.task_progress.emit(task, fraction)

    def _done(self, number: int, outcome: str, value: Any) -> None:
        task = self._tasks.pop(number, None)
        if task is None:
            return
        task.state = outcome
        callback: Any = None
        try:
            if outcome == "done":
                task.fraction = 1.0
                if task.on_done is not None:
                    callback = task.on_done
                    task.on_done(value)
            elif outcome == "failed":
                self.last_error = task.error = str(value)
                if task.on_error is not None:
                    callback = task.on_error
                    task.on_error(str(value))
            elif task.on_cancelled is not None:
                callback = task.on_cancelled
                task.on_cancelled()
        except Exception as exc:  # noqa: BLE001 - a panel bug must not kill the runner
            traceback.print_exc()
            task.state = "failed"
            self.last_error = task.error = (f"{getattr(callback, '__name__', 'callback')}: "
                                            f"{one_line(exc)}")
        self.task_finished.emit(task)
        if not self.busy:
            self.busy_changed.emit(False)


class TaskBar(QWidget):
    """One line under a panel: what runs (or the last result), a progress bar, Cancel.

    ``show_status(text)`` sets the line when nothing runs; a failed task's message stays
    until the next status. The bar and button are disabled while idle, so the row never
    jumps.
    """

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 0)
        layout.setSpacing(8)
        self.label = QLabel(" ")
        self.label.setProperty("role", "dim")
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setFixedWidth(140)
        self.bar.setFixedHeight(8)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the computation now running")
        self.cancel_button.clicked.connect(lambda: runner.cancel())
        layout.addWidget(self.label, 1)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self._status = " "
        runner.task_started.connect(self._started)
        runner.task_progress.connect(self._progress)
        runner.task_finished.connect(self._finished)
        self._idle()

    def show_status(self, text: str, error: bool = False) -> None:
        self._status = text or " "
        self.label.setProperty("role", "error" if error else "dim")
        self.label.style().unpolish(self.label)
        self.label.style().polish(self.label)
        if not self.runner.busy:
            self.label.setText(self._status)
            self.label.setToolTip(text)

    def show_hover(self, text: str) -> None:
        """What the pointer is over, in place of the status line while nothing runs (""
        puts the status back)."""
        if not self.runner.busy:
            self.label.setText(text or self._status)

    def _idle(self) -> None:
        self.bar.setValue(0)
        self.bar.setEnabled(False)
        self.cancel_button.setEnabled(False)
        self.label.setText(self._status)

    def _started(self, task: Task) -> None:
        self.bar.setEnabled(True)
        self.cancel_button.setEnabled(True)
        self.bar.setValue(0)
        self.label.setProperty("role", "dim")
        self.label.style().unpolish(self.label)
        self.label.style().polish(self.label)
        self.label.setText(f"{task.label}\u2026")

    def _progress(self, task: Task, fraction: float) -> None:
        self.bar.setValue(int(round(fraction * 1000)))
        self.label.setText(f"{task.label}\u2026 {fraction:.0%}")

    def _finished(self, task: Task) -> None:
        if task.dropped:  # superseded: whoever dropped it shows what matters now
            pass
        elif task.state == "cancelled" and not self.runner.busy:
            self.show_status(f"{task.label}: cancelled")
        elif task.state == "failed":
            self.show_status(task.error, error=True)
        if not self.runner.busy:
            self._idle()


__all__ = ["PROGRESS_HZ", "Task", "TaskBar", "TaskRunner", "is_cancellation", "is_expected",
           "one_line"]
