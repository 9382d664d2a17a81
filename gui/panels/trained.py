"""A trained project's network and data, prepared and analysed off the GUI thread, for the
Sequences and Autoencoder panels.

A panel calls ``Analyst.request(project, work)``: the project is copied on the GUI thread
(``gui.prepared.snapshot``), and a job of ``gui.tasks.TaskRunner`` gets its compiled network
and data from the panel's ``gui.prepared.PreparedCache`` (prepared again only when the project's
revision changed), then ``work(compiled, data)`` runs the runtime analyses. Its result (the
panel's dataclass of the runtime's) or a one-line error comes back on the GUI thread through the
``finished`` / ``failed`` signals. A newer request makes an older one's result stale: it is
dropped, so a panel never draws an outdated picture over a newer one.

``ProjectWatch`` tells a panel when what it shows went stale: another project, a graph edit,
or new weights (training stores them in the project; no signal of the training process is
needed, a cheap check twice a second while the panel is visible notices them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from gui.panels.visibility import on_screen
from gui.prepared import PreparedCache, prepare_network, project_key, snapshot
from gui.tasks import TaskRunner

if TYPE_CHECKING:  # the GUI imports torch lazily, on first analysis
    from runtime.compile import Compiled

Work = Callable[["Compiled", Any], Any]


class Analyst(QObject):
    """Runs one panel's analyses on a worker thread, newest request wins.

    Signals: ``started()``, ``finished(result)``, ``failed(message)`` (GUI thread).
    """

    started = Signal()
    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = TaskRunner(self)
        self.cache: PreparedCache[tuple[Any, Any]] = PreparedCache(prepare_network)

    def request(self, project: Any, work: Work) -> None:
        """Prepare ``project`` (or reuse the last preparation) and run ``work`` on it."""
        snap, cache = snapshot(project), self.cache

        def job(_progress: Any, _cancel: Any) -> Any:
            try:
                return work(*cache.get(snap))
            except ValueError:
                raise
            except Exception as exc:  # noqa: BLE001 - the panel shows its first line
                text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                raise ValueError(text or type(exc).__name__) from exc

        self.started.emit()
        self.runner.run("analysis", job, "Analysing", on_done=self.finished.emit,
                        on_error=self.failed.emit)

    def clear(self) -> None:
        self.cache.clear()

    @property
    def busy(self) -> bool:
        return self.runner.busy

    def wait(self, timeout_ms: int = 60_000) -> bool:
        """Block until every request is delivered (tests); events are processed meanwhile."""
        return self.runner.wait(timeout_ms)

    def shutdown(self) -> None:
        self.runner.shutdown()


class ProjectWatch(QObject):
    """Emits ``stale()`` when the watched project's key changes, checked every
    ``interval_ms`` while ``active`` (the panel is visible) and at once on ``check()``.

    A panel whose dock sits behind another tab counts as visible to Qt; the watch looks only
    while its parent widget is really on screen, so hidden panels never recompute (a run's
    end would otherwise start every panel's analysis at once)."""

    stale = Signal()

    def __init__(self, parent: QObject | None = None, interval_ms: int = 500) -> None:
        super().__init__(parent)
        self.project: Any = None
        self.key: str | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.check)

    def watch(self, project: Any) -> None:
        self.project = project
        self.key = None
        self.check()

    def set_active(self, active: bool) -> None:
        if active:
            self.timer.start()
            QTimer.singleShot(0, self, self.check)  # once the dock's layout has settled
        else:
            self.timer.stop()

    def check(self) -> None:
        widget = self.parent()
        if self.project is None or (isinstance(widget, QWidget) and not on_screen(widget)):
            return
        key = project_key(self.project)
        if key != self.key:
            self.key = key
            self.stale.emit()


class WatchedWhileShown:
    """Switches a panel's ``watch`` (a ``ProjectWatch``) on while it is shown and off while
    hidden, so a hidden panel recomputes nothing. Put it before QWidget in the bases."""

    watch: ProjectWatch

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)  # type: ignore[misc]
        self.watch.set_active(True)

    def hideEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        super().hideEvent(event)  # type: ignore[misc]
        self.watch.set_active(False)


class WatchedPanel(WatchedWhileShown, QWidget):
    """A panel showing an analysis of the open trained project (Sequences, Autoencoder),
    computed again on a worker whenever the project's revision changes while the panel is on
    screen.

    Subclasses add their views to ``pages`` (``message`` is the first: one sentence when
    there is nothing to draw) and implement ``refresh`` (``say`` why not, or ``request`` the
    work) and ``show_result``; ``forget`` drops what belonged to the previous project.
    """

    def __init__(self, name: str, no_project: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"{name}_panel")
        self.project: Any = None
        self.result: Any = None  # what the subclass's work returned
        self.analyst = Analyst(self)
        self.analyst.finished.connect(self.show_result)
        self.analyst.failed.connect(self._failed)
        self.watch = ProjectWatch(self)
        self.watch.stale.connect(self.refresh)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self.pages = QStackedWidget()
        layout.addWidget(self.pages, 1)
        self.message = QLabel(no_project)
        self.message.setObjectName(f"{name}_message")
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setProperty("role", "dim")
        self.pages.addWidget(self.message)

    def bind_window(self, window: Any) -> None:
        """Follow ``window``'s project and theme (the panel registry calls it)."""
        window.project_changed.connect(self.set_project)
        if hasattr(window, "theme_changed"):
            window.theme_changed.connect(self.refresh_theme)
        self.set_project(window.project)

    def set_project(self, project: Any) -> None:
        """Show ``project`` (another project resets what was chosen for the last one)."""
        if project is not self.project:
            self.result = None
            self.forget()
            self.analyst.clear()
        self.project = project
        self.watch.watch(project)

    def request(self, work: Work) -> None:
        """Run ``work(compiled, data)`` on the project as it is (background)."""
        self.analyst.request(self.project, work)
        if self.result is None:
            self.say("Computing\u2026")

    def say(self, text: str) -> None:
        self.message.setText(text)
        self.pages.setCurrentWidget(self.message)

    def _failed(self, message: str) -> None:
        self.result = None
        self.say(message)

    def shutdown(self) -> None:
        self.watch.set_active(False)
        self.analyst.shutdown()

    # -- for subclasses ---------------------------------------------------------------------------
    def refresh(self) -> None:
        """Recompute what is shown (the project, its weights or its graph changed)."""
        raise NotImplementedError

    def show_result(self, result: Any) -> None:
        """Draw a finished analysis."""
        raise NotImplementedError

    def forget(self) -> None:
        """Drop what was chosen for the previous project."""

    def refresh_theme(self, *_args: Any) -> None:
        """Redraw in the current theme's colours."""


# -- drawing helpers shared by the two panels -----------------------------------------------------
CLASS_COLORS = ("#4c9be8", "#e0a040", "#5cb85c", "#e05757", "#a87fd0", "#3fb0b0", "#d07aa8",
                "#9aa04a", "#c98a5a", "#8a94a6")


def class_color(index: int) -> str:
    return CLASS_COLORS[int(index) % len(CLASS_COLORS)]


def plot_widget(title: str = "", x: str = "", y: str = "") -> Any:
    """A themed pyqtgraph PlotWidget (background the dock colour, dim axes, no menu)."""
    import pyqtgraph as pg

    from gui import theme

    t = theme.current()
    widget = pg.PlotWidget(background=t.window)
    widget.setMenuEnabled(False)
    widget.hideButtons()
    plot = widget.getPlotItem()
    style_plot(plot, title, x, y)
    return widget


def style_plot(plot: Any, title: str = "", x: str = "", y: str = "") -> None:
    import pyqtgraph as pg

    from gui import theme

    t = theme.current()
    for name, label in (("bottom", x), ("left", y)):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(t.border))
        axis.setTextPen(pg.mkPen(t.text_dim))
        if label:
            axis.setLabel(label, color=t.text_dim)
    if title:
        plot.setTitle(title, color=t.text, size="9pt")


def grey_pixmap(values: Any, side: int, low: float = 0.0, high: float = 1.0) -> Any:
    """A crisp (nearest-neighbour) grey QPixmap of a (H, W) array, ``side`` pixels on its long
    side; values from ``low`` (black) to ``high`` (white)."""
    import numpy as np

    from gui.panels.thumbnails import crisp_pixmap

    a = np.asarray(values, dtype=np.float32)
    if a.ndim == 1:
        a = a[None, :]
    span = high - low if high > low else 1.0
    return crisp_pixmap((np.clip((a - low) / span, 0, 1) * 255).astype(np.uint8), side)
