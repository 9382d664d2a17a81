"""Live validation and shape inference for the editor, debounced and off the GUI thread.

Every graph event (except a plain move, which changes no shape) restarts a short single-shot
timer; when it fires, ``runtime.shapes.analyze`` runs. A run that took less than a frame last
time runs right away on the GUI thread (no copy, no latency); once runs get slower they move to
a worker thread on a copy of the graph (``graph.snapshot()``: unchanged nodes shared with the
last copy), one at a time, and only the result
of the newest graph state is applied: a result that an edit overtook is dropped and the newest
state analysed again. Every run shares one ``runtime.shapes.AnalysisMemo`` (a copy keeps the
graph's node revisions), so after an edit only the nodes it touched are checked and run again.
"""

from __future__ import annotations

import threading
import time
import traceback
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from graph.model import Graph, GraphEvent
from gui.tasks import TaskRunner

FRAME_S = 0.016  # a run slower than this leaves the GUI thread
DEBOUNCE_MS = 16  # one frame: the events of one edit (a paste, a drag) coalesce into one run


class _SharedMemo:
    """The runner's analysis memo, made on first use (it imports torch) and used by one run at
    a time (a synchronous run_now may overlap a worker's)."""

    def __init__(self) -> None:
        self._memo: Any = None
        self._lock = threading.Lock()

    def analyze(self, graph: Graph, classes: int | None) -> Any:
        from runtime.shapes import AnalysisMemo, analyze  # torch: only at the first run

        with self._lock:
            if self._memo is None:
                self._memo = AnalysisMemo()
            return analyze(graph, classes, self._memo)


def _timed_analysis(memo: _SharedMemo, graph: Graph, classes: int | None
                    ) -> tuple[Any, float, str]:
    """(analysis, seconds, error traceback) of a graph copy (worker thread)."""
    start = time.perf_counter()
    try:
        result, error = memo.analyze(graph, classes), ""
    except Exception:  # a bug in analysis must not take the editor down
        result, error = None, traceback.format_exc(limit=3)
    return result, time.perf_counter() - start, error


class AnalysisRunner(QObject):
    """Keeps ``last`` (a runtime.shapes.Analysis) in step with the graph.

    Signals: ``finished(analysis)`` after each applied run, ``failed(message)`` when analysis
    itself raised (a bug; the message is for the status bar).
    """

    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, graph: Graph, delay_ms: int = DEBOUNCE_MS,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.graph = graph
        self.last: Any = None
        self.classes: int | None = None  # the dataset's class count, once its preview loaded
        self.last_seconds = 0.0
        self._generation = 0  # bumped by every relevant graph event
        self._busy = False  # a worker run is in flight
        self._jobs = TaskRunner(self)
        self._memo = _SharedMemo()
        self._snapshot: Graph | None = None  # the last copy a worker analysed
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self._run)
        graph.subscribe(self._on_event)

    def _on_event(self, event: GraphEvent) -> None:
        if event.kind == "node_moved":
            return
        self._generation += 1
        self._timer.start()

    def set_classes(self, classes: int | None) -> None:
        """The dataset's class count (from the project form's preview, loaded off the GUI
        thread): Outputs are checked against it from the next run on."""
        if classes != self.classes:
            self.classes = classes
            self.schedule()

    def schedule(self) -> None:
        """Analyse soon (debounced), e.g. after settings that affect shapes changed."""
        self._generation += 1
        self._timer.start()

    @property
    def pending(self) -> bool:
        """True while a run is scheduled or in flight."""
        return self._timer.isActive() or self._busy

    def run_now(self) -> Any:
        """Analyse synchronously on the GUI thread and apply the result (tests, screenshot)."""
        self._timer.stop()
        self._generation += 1
        self._run_sync()
        return self.last

    def wait(self, timeout_ms: int = 10_000) -> None:
        """Block until pending work is done (tests); events are processed meanwhile."""
        from PySide6.QtCore import QCoreApplication, QDeadlineTimer

        deadline = QDeadlineTimer(timeout_ms)
        while self.pending and not deadline.hasExpired():
            self._jobs.wait(5)
        QCoreApplication.processEvents()

    def shutdown(self) -> None:
        self._timer.stop()
        self.graph.unsubscribe(self._on_event)
        self._jobs.shutdown()

    # -- running ----------------------------------------------------------------------------------
    def _run(self) -> None:
        if self._busy:
            return  # the worker's completion starts the next run
        if self.last_seconds < FRAME_S:
            self._run_sync()
        else:
            self._busy = True
            graph = self._snapshot = self.graph.snapshot(self._snapshot)
            generation, classes = self._generation, self.classes
            self._jobs.run("analysis", lambda _progress, _cancel: _timed_analysis(self._memo, graph,
                                                                      classes),
                           on_done=lambda done: self._worker_done(generation, *done))

    def _run_sync(self) -> None:
        start = time.perf_counter()
        try:
            result = self._memo.analyze(self.graph, self.classes)
        except Exception:
            self.last_seconds = time.perf_counter() - start
            self.failed.emit("Analysis failed: " + traceback.format_exc(limit=3).splitlines()[-1])
            return
        self.last_seconds = time.perf_counter() - start
        self._apply(result)

    def _worker_done(self, generation: int, result: Any, seconds: float, error: str) -> None:
        self._busy = False
        self.last_seconds = seconds
        if generation != self._generation:
            self._run()  # the graph changed while this ran: analyse the newest state
            return
        if error:
            self.failed.emit("Analysis failed: " + error.strip().splitlines()[-1])
            return
        self._apply(result)

    def _apply(self, result: Any) -> None:
        self.last = result
        self.finished.emit(result)
