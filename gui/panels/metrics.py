"""The Metrics panel: loss, accuracy (or R^2) and learning rate, live and for earlier runs.

Three pyqtgraph plots side by side share one x axis in epochs: a step's loss is drawn at its
fractional epoch (global step / steps per epoch), an epoch's metrics at its end, so per-step
and per-epoch curves line up. Every curve is created once; events only append to numpy
buffers and mark the panel dirty, and a single-shot ``QTimer`` redraws with ``setData`` at most
``REDRAW_HZ`` times a second (not at all while the panel is hidden). Earlier runs of the same
project (``project.history``) stay visible as faint curves for comparison.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtGui import QColor, QShowEvent
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

REDRAW_HZ = 30
MAX_EARLIER = 5  # earlier runs drawn faintly
VAL_COLOR = "#e08a3c"  # validation curves; training uses the theme's accent


class Buffer:
    """A growing (x, y) float64 buffer; ``view()`` gives the filled part without copying."""

    def __init__(self, capacity: int = 1024) -> None:
        self.data = np.empty((2, capacity))
        self.size = 0

    def clear(self) -> None:
        self.size = 0

    def extend(self, xs: Any, ys: Any) -> None:
        xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
        n = len(xs)
        if self.size + n > self.data.shape[1]:
            grown = np.empty((2, max(2 * self.data.shape[1], self.size + n)))
            grown[:, :self.size] = self.data[:, :self.size]
            self.data = grown
        self.data[0, self.size:self.size + n] = xs
        self.data[1, self.size:self.size + n] = ys
        self.size += n

    def view(self) -> tuple[np.ndarray, np.ndarray]:
        return self.data[0, :self.size], self.data[1, :self.size]


def metric_kind(epochs: list[dict[str, Any]]) -> str | None:
    """"accuracy" (classification), "r2" (regression) or None, from a run's epoch events."""
    for event in epochs:
        if "val_accuracy" in event or "train_accuracy" in event:
            return "accuracy"
        if "val_r2" in event or "train_r2" in event:
            return "r2"
    return None


def steps_per_epoch(run: dict[str, Any]) -> float:
    """A history run's steps per epoch: stored by the GUI, estimated for command-line runs."""
    if run.get("steps_per_epoch"):
        return float(run["steps_per_epoch"])
    steps, epochs = run.get("steps") or [], run.get("epochs") or []
    if steps and epochs:
        return max(1.0, float(steps[-1][0]) / len(epochs))
    return 1.0


def _fmt(value: float | None, percent: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    if percent:
        return f"{100 * value:.1f}%"
    return f"{value:.4g}"


class _Run:
    """The plotted buffers of one run."""

    def __init__(self) -> None:
        self.steps = Buffer(4096)
        self.epochs: list[dict[str, Any]] = []
        self.spe = 1.0
        self.best_epoch = 0
        self.total_epochs = 0

    @classmethod
    def from_history(cls, run: dict[str, Any]) -> _Run:
        out = cls()
        out.spe = steps_per_epoch(run)
        steps = run.get("steps") or []
        if steps:
            arr = np.asarray(steps, dtype=float).reshape(-1, 2)
            out.steps.extend(arr[:, 0] / out.spe, arr[:, 1])
        out.epochs = [e for e in run.get("epochs") or [] if isinstance(e, dict)]
        out.best_epoch = int(run.get("best_epoch") or 0)
        out.total_epochs = len(out.epochs)
        return out

    def column(self, key: str, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        rows = [(e["epoch"], e[key]) for e in self.epochs
                if isinstance(e.get(key), (int, float)) and "epoch" in e]
        if not rows:
            return np.zeros(0), np.zeros(0)
        arr = np.asarray(rows, dtype=float)
        return arr[:, 0], arr[:, 1] * scale


class MetricsPanel(QWidget):
    """Live training curves. Feed it from a ``TrainingController`` (``bind``) and a project
    (``set_project``); tests read ``curve_data(name)``."""

    def __init__(self, controller: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("metrics_panel")
        self.project: Any = None
        self.controller: Any = None
        self.current = _Run()
        self.earlier: list[_Run] = []
        self.kind: str | None = None
        self.live = False  # a run of this project is in progress
        self.redraws = 0
        self.first_point_drawn: float | None = None  # perf_counter of the first drawn loss
        self._dirty = False
        self._hover_x: float | None = None
        self._build()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(round(1000 / REDRAW_HZ))
        self._timer.timeout.connect(self.redraw)
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
        self.earlier_box.setToolTip(f"Show the last {MAX_EARLIER} earlier runs of this project "
                                    "faintly, for comparison")
        self.earlier_box.toggled.connect(self._mark_dirty)
        header.addWidget(self.earlier_box)
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
        self.lr_plot = self._plot(2, "learning rate")
        self.lr_plot.enableAutoRange(y=False)  # from 0, set in redraw
        self.metric_plot.setXLink(self.loss_plot)
        self.lr_plot.setXLink(self.loss_plot)
        layout_ = self.plots_widget.ci.layout
        for column, stretch in enumerate((5, 4, 3)):
            layout_.setColumnStretchFactor(column, stretch)
        self.plots = (self.loss_plot, self.metric_plot, self.lr_plot)

        self.curves: dict[str, pg.PlotDataItem] = {}
        self.faint: dict[str, list[pg.PlotDataItem]] = {"loss": [], "metric": [], "lr": []}
        for key, plot in (("loss", self.loss_plot), ("metric", self.metric_plot),
                          ("lr", self.lr_plot)):
            for _ in range(MAX_EARLIER):
                item = pg.PlotDataItem()
                item.setZValue(-10)
                plot.addItem(item)
                self.faint[key].append(item)
        self.curves["train_step"] = self.loss_plot.plot(name="train (per step)")
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

    def _plot(self, column: int, label: str) -> pg.PlotItem:
        plot = self.plots_widget.addPlot(row=0, col=column)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.showGrid(x=True, y=True, alpha=0.15)
        plot.setDownsampling(auto=True, mode="peak")
        plot.setClipToView(True)
        plot.setLabel("bottom", "epoch")
        plot.setLabel("left", label)
        plot.getViewBox().setMouseEnabled(x=True, y=False)
        plot.getAxis("left").setWidth(52)
        plot.getAxis("left").enableAutoSIPrefix(False)  # no "(x0.001)" in the label
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

    def _ours(self) -> bool:
        """Live events belong to the shown project (not one replaced during the run)."""
        return self.controller is None or self.controller.run_project is self.project

    def set_project(self, project: Any) -> None:
        """Show ``project``'s runs: the latest bright, up to MAX_EARLIER before it faint."""
        self.project = project
        history = [r for r in (getattr(project, "history", None) or []) if isinstance(r, dict)]
        self.live = False
        self.current = _Run.from_history(history[-1]) if history else _Run()
        self.earlier = [_Run.from_history(r) for r in history[-1 - MAX_EARLIER:-1]]
        self.kind = metric_kind(self.current.epochs) or next(
            (k for k in (metric_kind(r.epochs) for r in reversed(self.earlier)) if k), None)
        self.banner.hide()
        self._mark_dirty()

    def on_started(self, event: dict[str, Any]) -> None:
        if not self._ours():
            return
        history = [r for r in (getattr(self.project, "history", None) or [])
                   if isinstance(r, dict)]
        self.earlier = [_Run.from_history(r) for r in history[-MAX_EARLIER:]]
        self.current = _Run()
        self.current.spe = float(event.get("steps_per_epoch") or 1)
        self.current.total_epochs = int(event.get("epochs") or 0)
        self.live = True
        self.banner.hide()
        self._mark_dirty()

    def on_batch(self, event: dict[str, Any]) -> None:
        if not self._ours() or not self.live:
            return
        points = event.get("points") or [[event["global_step"], event["loss"]]]
        arr = np.asarray(points, dtype=float).reshape(-1, 2)
        self.current.steps.extend(arr[:, 0] / self.current.spe, arr[:, 1])
        self._mark_dirty()

    def on_epoch(self, event: dict[str, Any]) -> None:
        if not self._ours() or not self.live:
            return
        self.current.epochs.append(dict(event))
        self.current.best_epoch = int(event.get("best_epoch") or 0)
        if self.kind is None or metric_kind([event]) is not None:
            self.kind = metric_kind([event]) or self.kind
        self._mark_dirty()

    def on_finished(self, event: dict[str, Any]) -> None:
        if not self._ours():
            return
        self.live = False
        if event.get("best_epoch"):
            self.current.best_epoch = int(event["best_epoch"])
        self._mark_dirty()

    def show_error(self, message: str) -> None:
        """A persistent one-line notice above the plots (a crash, a failed run)."""
        self.banner_label.setText(message)
        self.banner.show()

    # -- drawing --------------------------------------------------------------------------------
    def _mark_dirty(self, *_args: Any) -> None:
        self._dirty = True
        if not self._timer.isActive():
            self._timer.start()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        if self._dirty:
            self._timer.start(0)

    def _set_log(self, on: bool) -> None:
        self.loss_plot.setLogMode(y=on)
        self._mark_dirty()

    def redraw(self) -> None:
        """Push the buffers into the curves (called by the timer, at most REDRAW_HZ/s)."""
        if not self._dirty or not self.isVisible():
            return
        self._dirty = False
        self.redraws += 1
        run = self.current
        has_data = bool(run.steps.size or run.epochs or self.earlier)
        self.stack.setCurrentWidget(self.plots_widget if has_data else self.empty)
        x, y = run.steps.view()
        if self.log_box.isChecked():
            keep = y > 0
            x, y = x[keep], y[keep]
        self.curves["train_step"].setData(x, y)
        if len(x) and self.first_point_drawn is None:
            import time

            self.first_point_drawn = time.perf_counter()
        self.curves["train_loss"].setData(*run.column("train_loss"))
        self.curves["val_loss"].setData(*run.column("val_loss"))
        percent = 100.0 if self.kind == "accuracy" else 1.0
        key = "r2" if self.kind == "r2" else "accuracy"
        self.metric_plot.setLabel("left", "R\u00b2" if self.kind == "r2" else "accuracy (%)")
        self.curves["train_metric"].setData(*run.column(f"train_{key}", percent))
        self.curves["val_metric"].setData(*run.column(f"val_{key}", percent))
        lr_x, lr_y = run.column("lr")
        self.curves["lr"].setData(lr_x, lr_y)
        top = max([float(lr_y.max()) if len(lr_y) else 0.0]
                  + [float(np.nanmax(r.column("lr")[1])) for r in self.earlier
                     if len(r.column("lr")[1])])
        self.lr_plot.setYRange(0.0, top * 1.15 if top > 0 else 1.0, padding=0)
        show_earlier = self.earlier_box.isChecked()
        for index in range(MAX_EARLIER):
            old = self.earlier[-1 - index] if show_earlier and index < len(self.earlier) else None
            for name, column, scale in (("loss", "val_loss", 1.0),
                                        ("metric", f"val_{key}", percent), ("lr", "lr", 1.0)):
                item = self.faint[name][index]
                if old is None or (name == "metric" and metric_kind(old.epochs) != self.kind):
                    item.setData([], [])
                else:
                    item.setData(*old.column(column, scale))
        self._legends(bool(show_earlier and self.earlier))
        if run.best_epoch:
            self.best_line.setPos(run.best_epoch)
            self.best_line.show()
        else:
            self.best_line.hide()
        self._update_readout()

    def _legends(self, earlier: bool) -> None:
        """Each plot's legend as its title row: above the data, so it never hides a curve."""
        t = theme.current()
        size = f"{style.font('small').pointSizeF():.0f}pt"

        def key(glyph: str, color: str, text: str) -> str:
            return (f"<span style='color:{color}'>{glyph}</span>"
                    f"<span style='color:{t.text_dim}'>&nbsp;{text}</span>")

        faint = style.mix(t.window, t.accent, 0.5)
        old = key("\u2504\u2504", t.text_dim, "earlier runs") if earlier else ""
        gap = "&nbsp;&nbsp;&nbsp;"
        titles = {
            self.loss_plot: [key("\u2500\u2500", faint, "train (per step)"),
                             key("\u2501\u25cf", t.accent, "train"),
                             key("\u2501\u25cf", VAL_COLOR, "validation"), old],
            self.metric_plot: [key("\u2501\u25cf", t.accent, "train"),
                               key("\u2501\u25cf", VAL_COLOR, "validation"), old],
            self.lr_plot: [key("\u2501\u2501", t.ok, "this run"), old],
        }
        for plot, items in titles.items():
            text = gap.join(i for i in items if i)
            if plot.titleLabel.text != text:
                plot.setTitle(text, size=size)

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
        t = theme.current()
        run = self.current
        epochs = run.epochs
        if not epochs and not run.steps.size:
            self.readout.setText(f"<span style='color:{t.text_dim}'>"
                                 + ("Waiting for the first steps\u2026" if self.live else
                                    "Train to see the loss; hover a plot to read values")
                                 + "</span>")
            return
        dim = t.text_dim
        sep = f" <span style='color:{dim}'>\u2502</span> "

        def pair(label: str, train: str, val: str) -> str:
            return (f"<span style='color:{dim}'>{label}</span> "
                    f"<span style='color:{t.accent}'>train {train}</span> \u00b7 "
                    f"<span style='color:{VAL_COLOR}'>val {val}</span>")

        parts: list[str] = []
        event: dict[str, Any] | None = None
        if self._hover_x is not None and epochs:
            event = min(epochs, key=lambda e: abs(e["epoch"] - self._hover_x))
        elif epochs:
            event = epochs[-1]
        if self._hover_x is not None and run.steps.size:
            xs, ys = run.steps.view()
            index = int(np.clip(np.searchsorted(xs, self._hover_x), 0, len(xs) - 1))
            parts.append(f"<span style='color:{dim}'>step</span> "
                         f"{round(xs[index] * run.spe)} <span style='color:{t.accent}'>"
                         f"train loss {_fmt(float(ys[index]))}</span>")
        if event is not None:
            accuracy = self.kind != "r2"
            key = "accuracy" if accuracy else "r2"
            total = f"/{run.total_epochs}" if run.total_epochs and self.live else ""
            parts.append(f"<span style='color:{dim}'>epoch</span> <b>{event['epoch']}{total}"
                         "</b>")
            parts.append(pair("loss", _fmt(event.get("train_loss")),
                              _fmt(event.get("val_loss"))))
            if self.kind is not None:
                parts.append(pair("accuracy" if accuracy else "R\u00b2",
                                  _fmt(event.get(f"train_{key}"), accuracy),
                                  _fmt(event.get(f"val_{key}"), accuracy)))
            parts.append(f"<span style='color:{dim}'>lr</span> {_fmt(event.get('lr'))}")
            if run.best_epoch and self._hover_x is None:
                parts.append(f"<span style='color:{dim}'>best epoch {run.best_epoch}</span>")
        self.readout.setText(f"<span style='color:{t.text}'>{sep.join(parts)}</span>")

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
        earlier = QColor(t.text_dim)
        earlier.setAlpha(110)
        self.curves["train_step"].setPen(pg.mkPen(faint_step, width=1))
        for key, color in (("train_loss", train), ("val_loss", val), ("train_metric", train),
                           ("val_metric", val)):
            self.curves[key].setPen(pg.mkPen(color, width=2))
            self.curves[key].setSymbol("o")
            self.curves[key].setSymbolSize(5)
            self.curves[key].setSymbolPen(None)
            self.curves[key].setSymbolBrush(color)
        self.curves["lr"].setPen(pg.mkPen(QColor(t.ok), width=2))
        for items in self.faint.values():
            for item in items:
                item.setPen(pg.mkPen(earlier, width=1.5, style=Qt.PenStyle.DashLine))
        self.best_line.setPen(pg.mkPen(QColor(t.ok), width=1, style=Qt.PenStyle.DotLine))
        for line in self.cursors:
            line.setPen(pg.mkPen(QColor(t.text_dim), width=1))
        self.banner.setStyleSheet(
            f"QWidget#metrics_banner {{ background: {style.mix(t.window, t.error, 0.18)}; "
            f"border: 1px solid {t.error}; border-radius: 4px; }} "
            f"QWidget#metrics_banner QLabel {{ color: {t.text}; }}")
        self.banner_close.setIcon(style.icon("close", t.text_dim))
        self._mark_dirty()
