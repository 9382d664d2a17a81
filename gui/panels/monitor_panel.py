"""The base of the live monitor panels.

Arrays arrive from the training process several times a second; ``ThrottledRedraw`` keeps only
the latest payload and repaints it at a frame of the shared frame clock (one panel per frame,
never once per event). ``MonitorPanel`` adds the header, the empty state and the hover read-out.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QStackedLayout,
    QVBoxLayout,
    QWidget,
)

from gui import style
from gui.panels.frame_clock import clock, request_frame
from gui.panels.image_grid import view_aspect
from gui.panels.plot_widgets import hover_position

if TYPE_CHECKING:
    import pyqtgraph as pg

MIN_PANEL_WIDTH, MIN_PANEL_HEIGHT = 100, 100
COMPACT_HEIGHT = 280  # below this panel height, axis titles make way for the plots


class ThrottledRedraw:
    """Keep the latest payload; paint it at a frame of the application's frame clock
    (``gui.panels.frame_clock``: one panel per frame, only panels that can be seen).

    A panel calls ``_init_redraw()`` in its constructor and implements ``render(payload)``.
    ``submit`` only stores and asks for a frame; a hidden panel does not paint until it is
    shown again. ``flush`` paints now (tests, screenshots). ``redraws`` counts paints,
    ``slowest_render`` is the longest one and ``render_seconds`` all of them (seconds).
    """

    def _init_redraw(self) -> None:
        self._pending: Any = None
        self._has_pending = False
        self.payload: Any = None  # the last payload painted
        self.redraws = 0
        self.slowest_render = 0.0  # seconds
        self.render_seconds = 0.0  # all renders together

    def submit(self, payload: Any) -> None:
        """Take a new payload; it is drawn at a coming frame (older ones are dropped)."""
        self._pending = payload
        self._has_pending = True
        request_frame(self, self._paint_pending)  # type: ignore[arg-type]

    def request_repaint(self) -> None:
        """Paint the last payload again at the next frame (resize, theme, a control)."""
        if not self._has_pending and self.payload is not None:
            self.submit(self.payload)

    def flush(self) -> None:
        """Paint the pending payload now."""
        clock().cancel(self)  # type: ignore[arg-type]
        if self._has_pending:
            self._paint_pending()

    def _paint_pending(self) -> None:
        if not self._has_pending:
            return
        payload, self._pending, self._has_pending = self._pending, None, False
        self.payload = payload
        self.redraws += 1
        started = time.perf_counter()
        self.render(payload)
        took = time.perf_counter() - started
        self.slowest_render = max(self.slowest_render, took)
        self.render_seconds += took

    def render(self, payload: Any) -> None:  # pragma: no cover - every panel overrides
        raise NotImplementedError

    def _shown(self) -> None:
        if self._has_pending:
            request_frame(self, self._paint_pending)  # type: ignore[arg-type]

    def _forget_pending(self) -> None:
        clock().cancel(self)  # type: ignore[arg-type]
        self._pending, self._has_pending = None, False


class MonitorPanel(ThrottledRedraw, QWidget):
    """A monitor panel: a header row (title and controls), a body that is either the plots or
    an empty-state message, and a one-line read-out under the plots for hover values."""

    def __init__(self, empty_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._init_redraw()
        # An explicit minimum overrides the layout's (headers and side columns would add up to
        # 500 px): docks laid side by side, as the window does for a moment while it builds its
        # default layout, must not push the window wider than the screen.
        self.setMinimumSize(MIN_PANEL_WIDTH, MIN_PANEL_HEIGHT)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 6, 8, 4)
        outer.setSpacing(4)
        self.header = QHBoxLayout()
        self.header.setSpacing(8)
        self.title = QLabel()
        self.title.setProperty("role", "title")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.title.setMinimumWidth(60)
        self.header.addWidget(self.title, 1)
        outer.addLayout(self.header)
        self.stack = QStackedLayout()
        outer.addLayout(self.stack, 1)
        self.empty = QLabel()
        self.empty.setObjectName("monitor_empty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setProperty("role", "dim")
        self.empty.setMargin(16)
        self.empty.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.body = QWidget()
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setContentsMargins(0, 0, 0, 0)
        self.body_layout.setSpacing(2)
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.body)
        self.readout = QLabel(" ")
        self.readout.setProperty("role", "dim")
        self.readout.setFont(style.font("small"))
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        outer.addWidget(self.readout)
        self.empty_text = empty_text
        self.compact = False
        self.show_empty(empty_text)

    # states ------------------------------------------------------------------------------------
    def show_empty(self, text: str | None = None) -> None:
        """The empty state: what to do to see something here."""
        self.empty.setText(text or self.empty_text)
        self.stack.setCurrentWidget(self.empty)
        self.readout.setText(" ")

    def show_body(self) -> None:
        self.stack.setCurrentWidget(self.body)

    @property
    def is_empty(self) -> bool:
        return self.stack.currentWidget() is self.empty

    def reset(self) -> None:
        """Forget what was drawn (a new project, a rebuilt network)."""
        self._forget_pending()
        self.payload = None
        self.show_empty()

    def drawable(self, payload: Any, title: str) -> bool:
        """Whether ``payload`` has something to draw; if not, the empty state shows instead,
        with the probe's error (under ``title``) when it failed."""
        if not payload:
            self.show_empty()
            return False
        if payload.get("error"):
            self.title.setText(title)
            self.show_empty(str(payload["error"]))
            return False
        return True

    def set_readout(self, text: str) -> None:
        self.readout.setText(text or " ")

    def refresh_theme(self) -> None:
        """Re-style the plots and repaint with the new colours (panels extend this)."""
        self.request_repaint()

    def hovered(self, plot: pg.PlotItem, scene_pos: QPointF) -> QPointF | None:
        """The view coordinates under the pointer in ``plot`` while the panel shows plots (the
        read-out cleared when the pointer is outside the plot), else None."""
        if self.is_empty:
            return None
        point = hover_position(plot, scene_pos)
        if point is None:
            self.set_readout("")
        return point

    # events ------------------------------------------------------------------------------------
    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        self._shown()

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        compact = self.height() < COMPACT_HEIGHT
        if compact != self.compact:
            self.compact = compact
            self.set_compact(compact)
        self.fit_to_size()
        if self.layout_depends_on_size():
            self.request_repaint()

    def set_compact(self, compact: bool) -> None:
        """A short dock (the default bottom area): panels drop axis titles to keep the plots
        large. Panels override this."""

    def fit_to_size(self) -> None:
        """Adjust column widths to the panel's size (panels override this)."""

    def body_aspect(self, fallback: float = 2.0) -> float:
        """Width / height of the plot area, valid even while the empty state shows (both pages
        of the stack share one geometry)."""
        return view_aspect(self.stack.currentWidget() or self.body, fallback)

    def layout_depends_on_size(self) -> bool:
        """True when the grid's columns follow the panel's shape (repaint on resize)."""
        return False
