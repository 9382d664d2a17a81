"""The Metrics panel: loss, accuracy (or R^2) and learning rate, live and for earlier runs.

Three pyqtgraph plots side by side share one x axis in epochs: a step's loss is drawn at its
fractional epoch (global step / steps per epoch), an epoch's metrics at its end, so per-step
and per-epoch curves line up. Every curve is created once; events only append to numpy
buffers and mark the panel dirty, and a single-shot ``QTimer`` redraws with ``setData`` at most
``REDRAW_HZ`` times a second, ``STREAM_HZ`` while only batch losses stream in (not at all
while the panel is hidden). Earlier runs of the same project (``project.history``), those
compared in the window's ``RunSelection`` (the Runs panel's ticks, or the Compare menu here),
are drawn beside it, each named by what changed ("lr 0.1") in the legend.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtGui import QColor, QFontMetricsF, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gui import style, theme
from gui.panels.frame_clock import request_frame
from gui.panels.metric_columns import columns_for, metric_kind
from gui.panels.metrics_compare import Compared, compare_button, compared_runs
from gui.panels.metrics_items import LegendLabel, ValueAxis
from gui.panels.metrics_ranges import loss_y_range, settle_curves_range
from gui.panels.metrics_readout import VAL_COLOR, readout_html
from gui.panels.plot_style import no_si_prefix
from gui.panels.run_curves import RunCurves
from gui.panels.run_selection import RunSelection
from runtime.events import Batch, Epoch, Finished, Started

REDRAW_HZ = 30  # at most; what the user does (hover, options, a new epoch) shows this fast
STREAM_HZ = 10  # while only new batch losses arrive: a growing curve needs no more
MAX_EARLIER = 5  # earlier runs drawn beside the current one


class MetricsPanel(QWidget):
    """Live training curves. Feed it from a ``TrainingController`` (``bind``) and a project
    (``set_project``); tests read ``curve_data(name)``."""

    def __init__(self, controller: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("metrics_panel")
        self.project: Any = None
        self.controller: Any = None
        self.current = RunCurves()
        self.earlier: list[RunCurves] = []
        self.compared = Compared()  # the earlier runs' names and colours
        self.selection = RunSelection(self)  # the window's own, once bind_selection is called
        self.selection.changed.connect(self._selection_changed)
        self.kind: str | None = None
        self.live = False  # a run of this project is in progress
        self.redraws = 0
        self.first_point_drawn: float | None = None  # perf_counter of the first drawn loss
        self._dirty = False
        self._drawn: dict[str, Any] = {}  # what the curves show now, to skip unchanged setData
        self._readout_at = 0.0
        self._drawn_at = 0.0  # perf_counter of the last redraw
        self._hover_x: float | None = None
        self._build()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(round(1000 / REDRAW_HZ))
        self._timer.timeout.connect(lambda: request_frame(self, self.redraw))  # shared frames
        self.refresh_theme()
        if controller is not None:
            self.bind(controller)

    # -- building -----------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(3)
        header = QHBoxLayout()
        header.setSpacing(12)
        self.readout = QLabel()
        self.readout.setObjectName("metrics_readout")
        self.readout.setTextFormat(Qt.TextFormat.RichText)
        self.readout.setMinimumWidth(100)
        self.readout.setWordWrap(True)  # two lines rather than cut in a narrow dock
        header.addWidget(self.readout, 1)
        self.log_box = QCheckBox("Log-scale loss")
        self.log_box.setObjectName("metrics_log")
        self.log_box.setToolTip("Draw the loss on a logarithmic axis (small changes late in "
                                "training become visible)")
        self.log_box.toggled.connect(self._set_log)
        header.addWidget(self.log_box)
        self.earlier_box = QCheckBox("Earlier runs")
        self.earlier_box.setObjectName("metrics_earlier")
        self.earlier_box.setChecked(True)
        self.earlier_box.setToolTip(f"Show up to {MAX_EARLIER} earlier runs of this project, "
                                    "those ticked in Compare or the Runs panel")
        self.earlier_box.toggled.connect(self._mark_dirty)
        header.addWidget(self.earlier_box)
        self.compare_button = compare_button(self)
        header.addWidget(self.compare_button)
        layout.addLayout(header)

        self.banner = QWidget()
        self.banner.setObjectName("metrics_banner")
        banner_layout = QHBoxLayout(self.banner)
        banner_layout.setContentsMargins(8, 4, 4, 4)
        self.banner_label = QLabel()
        self.banner_label.setWordWrap(True)
        self.banner_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        banner_layout.addWidget(self.banner_label, 1)
        close = QToolButton()
        close.setAutoRaise(True)
        close.setToolTip("Hide this message")
        close.clicked.connect(self.banner.hide)
        self.banner_close = close
        banner_layout.addWidget(close)
        self.banner.hide()
        layout.addWidget(self.banner)

        self.stack = QStackedWidget()
        self.empty = QLabel("No training runs yet.\nPress Train (F5): loss, accuracy and "
                            "learning rate appear here while the network learns.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setProperty("role", "dim")
        self.empty.setWordWrap(True)
        self.stack.addWidget(self.empty)
        self.plots_widget = pg.GraphicsLayoutWidget()
        self.plots_widget.setObjectName("metrics_plots")
        self.plots_widget.ci.setContentsMargins(0, 0, 0, 0)
        self.plots_widget.ci.setSpacing(10)
        self.stack.addWidget(self.plots_widget)
        layout.addWidget(self.stack, 1)

        self.loss_plot = self._plot(0, "loss")
        self.metric_plot = self._plot(1, "accuracy (%)")
        self.lr_plot = self._plot(2, "learning rate", 64)
        self.lr_plot.enableAutoRange(y=False)  # from 0, set in redraw
        self.metric_plot.enableAutoRange(y=False)  # settled in redraw (not every epoch)
        for plot in (self.metric_plot, self.lr_plot):  # x: the same epochs, set in redraw
            plot.enableAutoRange(x=False)  # (not linked: pyqtgraph aligns linked views by
        self.loss_plot.enableAutoRange(x=False, y=False)  # screen position in a grid)
        self.plots = (self.loss_plot, self.metric_plot, self.lr_plot)
        self.arrangement = ""
        self._arrange("row")

        self.curves: dict[str, pg.PlotDataItem] = {}
        self.faint: dict[str, list[pg.PlotDataItem]] = {"loss": [], "metric": [], "lr": []}
        for key, plot in (("loss", self.loss_plot), ("metric", self.metric_plot),
                          ("lr", self.lr_plot)):
            for _ in range(MAX_EARLIER):
                item = pg.PlotDataItem()
                item.setZValue(-10)
                plot.addItem(item)
                self.faint[key].append(item)
        # many points: no antialiasing (the costliest part of painting it), and (with the
        # plots' peak downsampling) one min-max pair per pixel column, not pyqtgraph's five
        self.curves["train_step"] = self.loss_plot.plot(name="train (per step)",
                                                        antialias=False, skipFiniteCheck=True,
                                                        autoDownsampleFactor=1.0)
        self.curves["train_loss"] = self.loss_plot.plot(name="train")
        self.curves["val_loss"] = self.loss_plot.plot(name="validation")
        self.curves["train_metric"] = self.metric_plot.plot(name="train")
        self.curves["val_metric"] = self.metric_plot.plot(name="validation")
        self.curves["lr"] = self.lr_plot.plot(name="this run")
        self.best_line = pg.InfiniteLine(angle=90, movable=False)
        self.best_line.setZValue(-5)
        self.loss_plot.addItem(self.best_line, ignoreBounds=True)
        self.cursors = []
        for plot in self.plots:
            line = pg.InfiniteLine(angle=90, movable=False)
            line.setZValue(-4)
            line.hide()
            plot.addItem(line, ignoreBounds=True)
            self.cursors.append(line)
        self.plots_widget.scene().sigMouseMoved.connect(self._mouse_moved)
        self.plots_widget.viewport().installEventFilter(self)

    def _plot(self, column: int, label: str, width: int = 52) -> pg.PlotItem:
        plot = self.plots_widget.addPlot(row=0, col=column,
                                         axisItems={"left": ValueAxis("left")})
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.showGrid(x=False, y=False)  # a grid makes each axis repaint with every curve update
        plot.setDownsampling(auto=True, mode="peak")
        plot.setClipToView(True)
        plot.setLabel("bottom", "epoch")
        plot.setLabel("left", label)
        plot.getViewBox().setMouseEnabled(x=True, y=False)
        plot.getAxis("left").setWidth(width)  # fixed: no re-layout when the labels change
        legend = LegendLabel("", size="8pt")
        plot.layout.removeItem(plot.titleLabel)
        plot.titleLabel.hide()
        plot.titleLabel = legend
        plot.layout.addItem(legend, 0, 1)
        no_si_prefix(plot.getAxis("left"))
        return plot

    # -- wiring ---------------------------------------------------------------------------------
    def bind(self, controller: Any) -> None:
        """Follow a TrainingController's signals."""
        self.controller = controller
        controller.started.connect(self.on_started)
        controller.batch.connect(self.on_batch)
        controller.epoch.connect(self.on_epoch)
        controller.finished.connect(self.on_finished)
        controller.failed.connect(self.show_error)
        controller.project_updated.connect(self._run_added)

    def bind_selection(self, selection: RunSelection) -> None:
        """Compare the runs of the window's shared selection (ticked here or in Runs)."""
        self.selection.changed.disconnect(self._selection_changed)
        self.selection = selection
        selection.changed.connect(self._selection_changed)
        self._pick_earlier()

    def _ours(self) -> bool:
        """Live events belong to the shown project (not one replaced during the run)."""
        return self.controller is None or self.controller.run_project is self.project

    def set_project(self, project: Any) -> None:
        """Show ``project``'s runs: the latest bright, up to MAX_EARLIER before it faint."""
        self.project = project
        history = [r for r in (getattr(project, "history", None) or []) if isinstance(r, dict)]
        self.live = False
        self.current = RunCurves.from_history(history[-1]) if history else RunCurves()
        self._pick_earlier()
        self.kind = metric_kind(self.current.epochs) or next(
            (k for k in (metric_kind(r.epochs) for r in reversed(self.earlier)) if k), None)
        self.banner.hide()
        self._mark_dirty()

    def on_started(self, event: Started) -> None:
        if not self._ours():
            return
        self.current = RunCurves()
        self.current.spe = float(event.steps_per_epoch or 1)
        self.current.total_epochs = event.epochs
        self.live = True
        self._pick_earlier()
        self.banner.hide()
        self._mark_dirty()

    def on_batch(self, event: Batch, points: list[list[float]]) -> None:
        if not self._ours() or not self.live:
            return
        points = points or [[event.global_step, event.loss]]
        arr = np.asarray(points, dtype=float).reshape(-1, 2)
        self.current.steps.extend(arr[:, 0] / self.current.spe, arr[:, 1])
        self._mark_dirty(stream=True)

    def on_epoch(self, event: Epoch) -> None:
        if not self._ours() or not self.live:
            return
        record = event.record()  # as the project's history keeps it
        self.current.epochs.append(record)
        self.current.best_epoch = event.best_epoch
        if self.kind is None or metric_kind([record]) is not None:
            self.kind = metric_kind([record]) or self.kind
        self._mark_dirty()

    def on_finished(self, event: Finished) -> None:
        if not self._ours():
            return
        self.live = False
        if event.best_epoch:
            self.current.best_epoch = event.best_epoch
        self._pick_earlier()  # the run just ended is the newest now, drawn in front
        self._mark_dirty()

    # -- runs compared ----------------------------------------------------------------------------
    def _pick_earlier(self) -> None:
        """The compared runs drawn beside the one in front, named and coloured."""
        self.compared = compared_runs(self.project, self.selection, self.live, MAX_EARLIER)
        self.earlier = self.compared.curves

    def _run_added(self, project: Any) -> None:
        """A run ended: compared beside the runs compared before (whichever the selection)."""
        self.selection.run_added(project)

    def _selection_changed(self) -> None:
        self._pick_earlier()
        self._mark_dirty()

    def compared_curve(self, name: str, plot: str = "loss") -> tuple[np.ndarray, np.ndarray]:
        """(x, y) drawn for the earlier run named ``name`` on ``plot`` (loss, metric, lr)."""
        index = self.compared.names.index(name)
        item = self.faint[plot][len(self.earlier) - 1 - index]
        return np.asarray(item.xData), np.asarray(item.yData)

    def show_error(self, message: str) -> None:
        """A persistent one-line notice above the plots (a crash, a failed run)."""
        self.banner_label.setText(message)
        self.banner.show()

    # -- drawing --------------------------------------------------------------------------------
    def _mark_dirty(self, *_args: Any, stream: bool = False) -> None:
        """Redraw soon: within 1/REDRAW_HZ s, or for batch losses STREAM_HZ after the last
        redraw (each redraw repaints the loss plot, the panel's main cost)."""
        self._dirty = True
        wait = 1000 / REDRAW_HZ
        if stream:
            wait = max(wait, 1000 / STREAM_HZ - 1000 * (time.perf_counter() - self._drawn_at))
        if not self._timer.isActive():
            self._timer.start(round(wait))
        elif not stream and self._timer.remainingTime() > wait:
            self._timer.start(round(wait))

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        if self._dirty:
            self._timer.start(0)

    def _set_log(self, on: bool) -> None:
        self.loss_plot.setLogMode(y=on)
        self.loss_plot.enableAutoRange(x=False, y=False)  # setLogMode turned it back on
        self._drawn.pop("x_max", None)
        self._drawn.pop("loss_y", None)
        self._mark_dirty()

    def redraw(self) -> None:
        """Push the buffers into the curves (called by the timer, at most REDRAW_HZ/s).

        Only what changed is set: a batch only extends the per-step curve; epoch curves, axis
        ranges, earlier runs and the read-out change once an epoch (every ``setData`` makes
        pyqtgraph re-range and repaint axes, the GUI thread's main cost while training).
        """
        if not self._dirty or not self.isVisible():
            return
        self._dirty = False
        self._drawn_at = time.perf_counter()
        self.redraws += 1
        run = self.current
        has_data = bool(run.steps.size or run.epochs or self.earlier)
        self.stack.setCurrentWidget(self.plots_widget if has_data else self.empty)
        log = self.log_box.isChecked()
        steps_key = (id(run), run.steps.size, log)
        if steps_key != self._drawn.get("steps"):
            self._drawn["steps"] = steps_key
            x, y = run.steps.view()
            if log:
                keep = y > 0
                x, y = x[keep], y[keep]
            self.curves["train_step"].setData(x, y)
            if len(x) and self.first_point_drawn is None:
                self.first_point_drawn = time.perf_counter()
        columns = columns_for(self.kind)
        percent = 100.0 if columns.percent and columns.metric_label else 1.0
        epochs_key = (id(run), len(run.epochs), self.kind, run.best_epoch)
        if epochs_key != self._drawn.get("epochs"):
            self._drawn["epochs"] = epochs_key
            label = columns.metric_label or "accuracy (%)"
            if self.metric_plot.getAxis("left").labelText != label:
                self.metric_plot.setLabel("left", label)
            for name, curve in zip(("train_loss", "val_loss"), columns.loss, strict=True):
                self.curves[name].setData(*run.column(curve.column))
            for name, curve in zip(("train_metric", "val_metric"), columns.metric, strict=True):
                self.curves[name].setData(*run.column(curve.column, percent))
            self.curves["lr"].setData(*run.column(columns.lr))
            if run.best_epoch:
                self.best_line.setPos(run.best_epoch)
                self.best_line.show()
            else:
                self.best_line.hide()
        show_earlier = self.earlier_box.isChecked()
        earlier_key = (tuple(id(r) for r in self.earlier), show_earlier, self.kind)
        if earlier_key != self._drawn.get("earlier"):
            self._drawn["earlier"] = earlier_key
            for index in range(MAX_EARLIER):
                old = self.earlier[-1 - index] if show_earlier and index < len(self.earlier) \
                    else None
                if old is not None:
                    self._earlier_pen(index, self.compared.colours[-1 - index])
                for name, column, scale in (("loss", columns.loss[1].column, 1.0),
                                            ("metric", columns.metric[1].column, percent),
                                            ("lr", columns.lr, 1.0)):
                    item = self.faint[name][index]
                    if old is None or (name == "metric" and metric_kind(old.epochs) != self.kind):
                        item.setData([], [])
                    else:
                        item.setData(*old.column(column, scale))
            self._legends(bool(show_earlier and self.earlier))
        self._set_ranges()
        now = time.perf_counter()
        readout_key = (epochs_key, self._hover_x, self.live)
        if readout_key != self._drawn.get("readout") or now - self._readout_at > 0.5:
            self._drawn["readout"] = readout_key
            self._readout_at = now
            self._update_readout()

    def _set_ranges(self) -> None:
        """Axis ranges set by hand, and only when the data leaves them: x spans the whole
        run from 0 (fixed while it trains), the loss range grows at once but shrinks only
        when the data fills less than 60% of it, the learning rate starts at 0. Each range
        change re-lays out and repaints axes, which costs more than drawing the curves."""
        run = self.current
        columns = columns_for(self.kind)
        key = (self._drawn.get("epochs"), self._drawn.get("earlier"))
        if key != self._drawn.get("range_key"):
            self._drawn["range_key"] = key
            tops = [float(np.nanmax(c)) for c in [run.column(columns.lr)[1]] + [
                r.column(columns.lr)[1] for r in self.earlier] if len(c)]
            top = max(tops) if tops else 0.0
            self.lr_plot.setYRange(0.0, top * 1.15 if top > 0 else 1.0, padding=0)
            losses = [run.column(k)[1] for k in columns.loss_columns()]
            if self.earlier_box.isChecked():
                losses += [r.column(columns.loss[1].column)[1] for r in self.earlier]
            values = np.concatenate([v for v in losses if len(v)] or [np.zeros(0)])
            self._epoch_losses = values[np.isfinite(values)]
            settle_curves_range(self.metric_plot, (self.curves["train_metric"],
                                                   self.curves["val_metric"],
                                                   *self.faint["metric"]))
        planned = run.total_epochs if self.live else 0  # a run that ended shows what it did
        x_max = max(1.0, planned, len(run.epochs), *(len(r.epochs) for r in self.earlier))
        if run.steps.size:
            x_max = max(x_max, float(np.ceil(run.steps.data[0, run.steps.size - 1])))
        if x_max != self._drawn.get("x_max"):
            self._drawn["x_max"] = x_max
            for plot in self.plots:
                plot.setXRange(0.0, x_max, padding=0.02)
        self._loss_range()

    def _loss_range(self) -> None:
        values = getattr(self, "_epoch_losses", np.zeros(0))
        log = self.log_box.isChecked()
        y_range = loss_y_range(values, self.current.steps, log, self._drawn.get("loss_y"))
        if y_range is not None:
            self._drawn["loss_y"] = (*y_range, log)
            self.loss_plot.setYRange(*y_range, padding=0)

    def _legends(self, earlier: bool) -> None:
        """Each plot's legend as its title row: above the data, so it never hides a curve;
        shorter words when the plot is too narrow for the long ones."""
        t = theme.current()
        font = style.font("small")
        size = f"{font.pointSizeF():.0f}pt"
        metrics = QFontMetricsF(font)
        faint = style.mix(t.window, t.accent, 0.5)
        columns = columns_for(self.kind)
        (first, second), (bright, other) = columns.loss, columns.metric
        entries = {
            self.loss_plot: [("\u2500\u2500", faint, columns.step.name, columns.step.brief),
                             ("\u2501\u2501", t.accent, first.name, first.brief),
                             ("\u2501\u2501", VAL_COLOR, second.name, second.brief)],
            self.metric_plot: [("\u2501\u25cf", t.accent, bright.name, bright.brief),
                               ("\u2501\u25cf", VAL_COLOR, other.name, other.brief)],
            self.lr_plot: [("\u2501\u2501", t.ok, "this run", "now")],
        }
        named = [("\u2504\u2504", colour, name, name) for name, colour
                 in zip(self.compared.names, self.compared.colours, strict=True)][::-1]
        if self.compared.current_name:
            named.insert(0, ("\u2501\u2501", t.accent, f"this run: {self.compared.current_name}",
                             self.compared.current_name))
        for plot, items in entries.items():
            if earlier:
                items = [*items, *named]
            width = plot.geometry().width() - plot.getAxis("left").width() - 8
            long = "   ".join(f"{glyph} {text}" for glyph, _, text, _ in items)
            short = metrics.horizontalAdvance(long) > width > 0
            text = "&nbsp;&nbsp;&nbsp;".join(
                f"<span style='color:{color}'>{glyph}</span><span style='color:{t.text_dim}'>"
                f"&nbsp;{brief if short else text}</span>"
                for glyph, color, text, brief in items)
            if plot.titleLabel.text != text:
                plot.setTitle(text, size=size)

    def _earlier_pen(self, index: int, colour: str) -> None:
        """The ``index``-th newest earlier run's curves: dashed, in its colour."""
        pen = pg.mkPen(QColor(colour), width=1.5, style=Qt.PenStyle.DashLine)
        for items in self.faint.values():
            items[index].setPen(pen)

    def _arrange(self, arrangement: str) -> None:
        """Plots side by side ("row", a wide dock), loss above the other two ("grid") or one
        above the other ("column", a tall narrow dock)."""
        if arrangement == self.arrangement:
            return
        self.arrangement = arrangement
        ci = self.plots_widget.ci
        for plot in self.plots:
            ci.removeItem(plot)
        loss, metric, lr = self.plots
        if arrangement == "row":
            places = {loss: (0, 0, 1, 1), metric: (0, 1, 1, 1), lr: (0, 2, 1, 1)}
            columns, rows = (5, 4, 3), (1,)
        elif arrangement == "grid":
            places = {loss: (0, 0, 1, 2), metric: (1, 0, 1, 1), lr: (1, 1, 1, 1)}
            columns, rows = (1, 1), (1, 1)
        else:
            places = {loss: (0, 0, 1, 1), metric: (1, 0, 1, 1), lr: (2, 0, 1, 1)}
            columns, rows = (1,), (1, 1, 1)
        for plot, place in places.items():
            ci.addItem(plot, *place)
        grid = ci.layout  # stretch only rows and columns that exist: others get a max size
        for index, stretch in enumerate(columns):
            grid.setColumnStretchFactor(index, stretch)
        for index, stretch in enumerate(rows):
            grid.setRowStretchFactor(index, stretch)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        width, height = event.size().width(), event.size().height()
        self._arrange("row" if width >= 760 and width >= 2.4 * height
                      else "grid" if width >= 420 else "column")
        self._drawn.pop("earlier", None)  # the legends pick their words for the new width
        self._mark_dirty()

    def curve_data(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) drawn by curve ``name`` (train_step, train_loss, val_loss, train_metric,
        val_metric, lr) or "earlier_loss" (the newest earlier run's validation loss)."""
        item = self.faint["loss"][0] if name == "earlier_loss" else self.curves[name]
        x, y = item.xData, item.yData  # as set (getData() is clipped to the view)
        if x is None:
            return np.zeros(0), np.zeros(0)
        return np.asarray(x), np.asarray(y)

    # -- hover read-out -------------------------------------------------------------------------
    def eventFilter(self, watched: Any, event: Any) -> bool:  # noqa: N802 (Qt override)
        from PySide6.QtCore import QEvent

        if event.type() == QEvent.Type.Leave:
            self._hover_x = None
            for line in self.cursors:
                line.hide()
            self._update_readout()
        return False

    def _mouse_moved(self, pos: QPointF) -> None:
        for plot in self.plots:
            if plot.sceneBoundingRect().contains(pos):
                x = plot.getViewBox().mapSceneToView(pos).x()
                self.hover(x)
                return

    def hover(self, x: float | None) -> None:
        """Show the values at epoch ``x`` (None: the latest) and a cursor line there."""
        self._hover_x = x
        for line in self.cursors:
            if x is None:
                line.hide()
            else:
                line.setPos(x)
                line.show()
        self._update_readout()

    def _update_readout(self) -> None:
        self.readout.setText(readout_html(self.current, self.kind, self.live, self._hover_x))

    # -- look -----------------------------------------------------------------------------------
    def refresh_theme(self, *_args: Any) -> None:
        """Colours from the current theme: the docks' background, accent for training."""
        t = theme.current()
        self.plots_widget.setBackground(t.window)
        small = style.font("small")
        for plot in self.plots:
            for side in ("left", "bottom"):
                axis = plot.getAxis(side)
                axis.setPen(pg.mkPen(t.border))
                axis.setTextPen(pg.mkPen(t.text_dim))
                axis.setTickFont(small)
                axis.label.setFont(small)
            for side in ("left", "bottom"):
                plot.setLabel(side, plot.getAxis(side).labelText,
                              color=t.text_dim, size=f"{small.pointSizeF():.0f}pt")
        train = QColor(t.accent)
        faint_step = QColor(t.accent)
        faint_step.setAlpha(90)
        val = QColor(VAL_COLOR)
        self.curves["train_step"].setPen(pg.mkPen(faint_step, width=1))
        for key, color in (("train_loss", train), ("val_loss", val), ("train_metric", train),
                           ("val_metric", val)):
            self.curves[key].setPen(pg.mkPen(color, width=2))
            if key.endswith("metric"):  # not on the loss plot: repainted with every batch,
                self.curves[key].setSymbol("o")  # symbols are its costliest items
                self.curves[key].setSymbolSize(5)
                self.curves[key].setSymbolPen(None)
                self.curves[key].setSymbolBrush(color)
        self.curves["lr"].setPen(pg.mkPen(QColor(t.ok), width=2))
        self.best_line.setPen(pg.mkPen(QColor(t.ok), width=1, style=Qt.PenStyle.DotLine))
        for line in self.cursors:
            line.setPen(pg.mkPen(QColor(t.text_dim), width=1))
        self.banner.setStyleSheet(
            f"QWidget#metrics_banner {{ background: {style.mix(t.window, t.error, 0.18)}; "
            f"border: 1px solid {t.error}; border-radius: 4px; }} "
            f"QWidget#metrics_banner QLabel {{ color: {t.text}; }}")
        self.banner_close.setIcon(style.icon("close", t.text_dim))
        self._drawn.clear()  # legends and read-out carry theme colours
        self._mark_dirty()
