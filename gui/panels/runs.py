"""The Runs panel: the project's training runs side by side, and any of them overlaid.

The table lists every run of the project's history: when it started, how it ended, its best
validation score, and one column per setting that differs between runs (``graph.run_compare``).
Ticked runs, the last two by default, are drawn over each other for the chosen metric, each
named by what changed ("lr 0.1" against "lr 0.001"), so an experiment reads at a glance. The
ticks are the window's ``RunSelection``: the Metrics panel draws the same runs, named alike.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from graph.run_compare import (
    changed_settings,
    comparison_title,
    flat_settings,
    run_names,
    setting_name,
)
from gui.panels.plot_style import set_title
from gui.panels.plot_widgets import make_plot_widget
from gui.panels.run_selection import (
    RunSelection,
    history_runs,
    run_colours,
    run_selection_of,
)

NOT_METRICS = frozenset({"epoch", "best_epoch", "seconds", "type"})
PREFERRED = ("val_accuracy", "val_r2", "val_loss")  # the metric chosen first, when present
FIXED = ("", "#")  # then the changed settings, then SUMMARY
SUMMARY = ("Best", "Status", "Epochs", "Started")
EMPTY = ("No training runs yet. Train the project, change a setting (the learning rate, say) "
         "and train again: the runs appear here side by side, named by what changed.")


def best_score(run: dict[str, Any]) -> tuple[str, float] | None:
    """(metric, value): the best validation accuracy, R^2, or lowest validation loss."""
    epochs = run.get("epochs") or []
    for key, pick in (("val_accuracy", max), ("val_r2", max), ("val_loss", min)):
        values = [e[key] for e in epochs if isinstance(e.get(key), (int, float))]
        if values:
            return key, float(pick(values))
    return None


class RunsPanel(QWidget):
    """Every run of the open project, and the ticked ones overlaid."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runs_panel")
        self.project: Any = None
        self.runs: list[dict[str, Any]] = []
        self.selection = RunSelection(self)  # the window's own, once bound to it
        self.selection.changed.connect(self.refresh)
        self.curves: dict[str, tuple[list[float], list[float]]] = {}  # name -> data drawn

        self.empty = QLabel(EMPTY)
        self.empty.setWordWrap(True)
        self.empty.setProperty("role", "dim")
        self.table = QTableWidget(0, len(FIXED))
        self.table.setObjectName("runs_table")
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemChanged.connect(self._ticked)
        self.metric_box = QComboBox()
        self.metric_box.setObjectName("runs_metric")
        self.metric_box.currentTextChanged.connect(lambda _text: self.draw())
        self.plot = make_plot_widget(x="epoch")
        self.legend = self.plot.getPlotItem().addLegend(offset=(-8, 8))

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Metric"))
        row.addWidget(self.metric_box, 1)
        right_layout.addLayout(row)
        right_layout.addWidget(self.plot, 1)
        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.addWidget(self.table)
        self.split.addWidget(right)
        self.split.setStretchFactor(0, 1)
        self.split.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.empty)
        layout.addWidget(self.split, 1)
        self.refresh()

    # -- following the window ---------------------------------------------------------------
    def bind_window(self, window: Any) -> None:
        self.selection.changed.disconnect(self.refresh)
        self.selection = run_selection_of(window)
        self.selection.changed.connect(self.refresh)
        window.project_changed.connect(self.set_project)
        self.set_project(window.project)

    def bind_controller(self, controller: Any) -> None:
        controller.project_updated.connect(self._project_updated)

    def set_project(self, project: Any) -> None:
        self.project = project
        self.refresh()

    @property
    def checked(self) -> set[int]:
        """The ticked runs: indices into the history, oldest 0."""
        return set(self.selection.indices(self.project))

    def _project_updated(self, project: Any) -> None:
        if project is self.project:  # a run ended: shown beside the ones already ticked
            self.selection.run_added(project)
            self.refresh()

    # -- the table --------------------------------------------------------------------------
    def refresh(self) -> None:
        """Rebuild the table and the plot from the project's history."""
        self.runs = history_runs(self.project)
        checked = self.checked
        self.empty.setVisible(not self.runs)
        self.split.setVisible(bool(self.runs))
        changed = changed_settings(self.runs)
        headers = [*FIXED, *(setting_name(key) for key in changed), *SUMMARY]
        self.table.blockSignals(True)
        self.table.clear()
        self.table.setColumnCount(len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setRowCount(len(self.runs))
        for row, run in enumerate(reversed(self.runs)):  # newest first
            index = len(self.runs) - 1 - row
            tick = QTableWidgetItem()
            tick.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            tick.setCheckState(Qt.CheckState.Checked if index in checked
                               else Qt.CheckState.Unchecked)
            tick.setData(Qt.ItemDataRole.UserRole, index)
            best = best_score(run)
            flat = flat_settings(run)
            cells = [str(index + 1), *(_cell(flat.get(key)) if flat else "" for key in changed),
                     f"{best[0].removeprefix('val_')} {best[1]:.4g}" if best else "",
                     str(run.get("status", "")), str(len(run.get("epochs") or [])),
                     str(run.get("started", ""))[:16].replace("T", " ")]
            self.table.setItem(row, 0, tick)
            for column, text in enumerate(cells, start=1):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.blockSignals(False)
        self._fill_metrics()
        self.draw()

    def _ticked(self, item: QTableWidgetItem) -> None:
        index = item.data(Qt.ItemDataRole.UserRole)
        if index is None:
            return
        self.selection.toggle(self.project, int(index),
                              item.checkState() == Qt.CheckState.Checked)

    def set_checked(self, indices: set[int]) -> None:
        """Overlay these runs (indices into the history, oldest 0)."""
        self.selection.choose(self.project, indices)

    def _fill_metrics(self) -> None:
        keys = sorted({k for i in self.checked for e in self.runs[i].get("epochs") or []
                       for k, v in e.items()
                       if k not in NOT_METRICS and isinstance(v, (int, float))})
        current = self.metric_box.currentText()
        self.metric_box.blockSignals(True)
        self.metric_box.clear()
        self.metric_box.addItems(keys)
        chosen = current if current in keys else next((k for k in PREFERRED if k in keys),
                                                      keys[0] if keys else "")
        self.metric_box.setCurrentText(chosen)
        self.metric_box.blockSignals(False)

    # -- the overlay ------------------------------------------------------------------------
    def draw(self) -> None:
        plot = self.plot.getPlotItem()
        plot.clear()
        self.legend.clear()
        self.curves = {}
        key = self.metric_box.currentText()
        order = sorted(self.checked)
        chosen = [self.runs[i] for i in order]
        if not chosen or not key:
            set_title(plot, "")
            return
        names = run_names(chosen, [i + 1 for i in order])
        colours = run_colours(len(chosen))
        for run, name, colour in zip(chosen, names, colours, strict=True):
            points = [(e.get("epoch", n + 1), e[key]) for n, e in enumerate(run["epochs"])
                      if isinstance(e.get(key), (int, float))]
            xs, ys = [float(x) for x, _ in points], [float(y) for _, y in points]
            plot.plot(xs, ys, pen=pg.mkPen(colour, width=2), name=name)
            self.curves[name] = (xs, ys)
        set_title(plot, f"{key}: {comparison_title(chosen)}" if len(chosen) > 1 else key)


def _cell(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
