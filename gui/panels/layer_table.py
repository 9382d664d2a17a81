"""The Layers panel: every layer's output shape, parameters, multiply-adds and activation
memory in one table with totals, as MATLAB's Analyze Network shows them, so a user sees where
a network's size and cost are before training it. A layer that cannot run keeps its row,
drawn in the error colour with the reason, so the table also says where a design breaks.

The numbers are ``runtime.layer_stats.layer_table`` of a copy of the graph, computed on a
worker whenever the project's revision changes while the panel is on screen.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.panels.trained import ProjectWatch, WatchedWhileShown
from gui.tasks import TaskRunner

COLUMNS = ("Layer", "Type", "Output (per sample)", "Parameters", "Multiply-adds",
           "Activations", "Problem")
NUMERIC = frozenset({3, 4, 5})


class LayerTablePanel(WatchedWhileShown, QWidget):
    """The table of the open project's layers, recomputed when its graph changes."""

    def __init__(self, _window: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("layers_panel")
        self.project: Any = None
        self.table_data: Any = None  # the last runtime.layer_stats.LayerTable shown
        self.runner = TaskRunner(self)
        self.watch = ProjectWatch(self)
        self.watch.stale.connect(self.refresh)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self.summary = QLabel("Open a project to see its layers.")
        self.summary.setObjectName("layers_summary")
        self.summary.setWordWrap(True)
        self.summary.setProperty("role", "dim")
        layout.addWidget(self.summary)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("layers_table")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        rows = self.table.verticalHeader()
        rows.setVisible(False)
        rows.setDefaultSectionSize(self.fontMetrics().height() + 8)  # compact, as a report
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        layout.addWidget(self.table, 1)

    def bind_window(self, window: Any) -> None:
        """Follow ``window``'s project (the panel registry calls it)."""
        window.project_changed.connect(self.set_project)
        self.set_project(window.project)

    def set_project(self, project: Any) -> None:
        self.project = project
        self.watch.watch(project)

    def refresh(self) -> None:
        """Analyse the project's graph as it is now, on a worker."""
        if self.project is None:
            return
        graph = self.project.graph.copy()
        batch = int(getattr(self.project.training, "batch_size", 1) or 1)

        def job(_progress: Any, _cancel: Any) -> Any:
            from runtime.layer_stats import layer_table

            return layer_table(graph, batch)

        if self.table_data is None:
            self.summary.setText("Analysing the layers\u2026")
        self.runner.run("layers", job, "Analysing layers", on_done=self.show_table,
                        on_error=self.summary.setText)

    def wait(self, timeout_ms: int = 60_000) -> bool:
        """Block until the analysis is shown (tests)."""
        return self.runner.wait(timeout_ms)

    def show_table(self, data: Any) -> None:
        """Fill the table from a ``runtime.layer_stats.LayerTable``."""
        from runtime.memory import format_bytes

        self.table_data = data
        rows = list(data.rows)
        self.table.setRowCount(len(rows) + 1)
        for index, row in enumerate(rows):
            shapes = ", ".join(" x ".join(str(d) for d in shape) or "scalar"
                               for shape in row.outputs)
            known = row.inferred  # behind an error nothing is measured: blank, not 0
            macs = "" if row.macs is None or not known else f"{row.macs:,}"
            self._fill(index, (row.name, row.type, shapes or ("" if known else "-"),
                               f"{row.params:,}" if known else "",
                               macs, format_bytes(row.activation_bytes) if known else "",
                               row.error), error=bool(row.error))
        total_macs = data.total_macs
        self._fill(len(rows), ("Total", f"{len(rows)} layers", "", f"{data.total_params:,}",
                               "" if total_macs is None else f"{total_macs:,}",
                               format_bytes(data.total_activation_bytes),
                               f"{data.errors} with errors" if data.errors else ""),
                   bold=True)
        errors = (f"; {data.errors} layer(s) cannot run (red rows), {data.unmeasured} not "
                  "counted" if data.errors else "")
        self.summary.setText(
            f"{data.total_params:,} parameters, "
            + ("multiply-adds unknown until the errors are fixed" if total_macs is None
               else f"{total_macs:,} multiply-adds per sample")
            + f", activations for a batch of {data.batch}{errors}.")

    def _fill(self, row: int, texts: tuple[str, ...], error: bool = False,
              bold: bool = False) -> None:
        from gui import theme

        for column, text in enumerate(texts):
            item = QTableWidgetItem(text)
            if column in NUMERIC:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if column == len(texts) - 1 and text:
                item.setToolTip(text)
            if error:
                item.setForeground(QBrush(QColor(theme.current().error)))
            if bold:
                font = QFont(item.font())
                font.setBold(True)
                item.setFont(font)
            self.table.setItem(row, column, item)

    def shutdown(self) -> None:
        self.watch.set_active(False)
        self.runner.shutdown()
