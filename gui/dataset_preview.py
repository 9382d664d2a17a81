"""The dataset preview of the project form: split sizes, the task, and a glimpse of the data
(image thumbnails, a scatter of 2-D points, a table in the data's units, or texts as words).
``dataset_preview`` loads it; the project form runs that on its TaskRunner, off the GUI
thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from graph.settings import DatasetSettings
from gui import forms, style, theme
from gui.dataset_cache import shared_datasets
from gui.form_layout import Pages, dim_label

PREVIEW_IMAGES = 12
PREVIEW_POINTS = 400
PREVIEW_ROWS = 6


def dataset_preview(settings: DatasetSettings, cancel: Callable[[], bool] | None = None
                    ) -> dict[str, Any]:
    """What the preview shows: split sizes, task, a few samples. Runs on a worker thread;
    a bad setting raises the runtime's DataError (a ValueError naming the problem). The load
    is the editor's shared one (``gui.dataset_cache``): the monitor panels reuse it."""
    from runtime.data import DATASETS

    loaded = shared_datasets().preview(settings, cancel)
    bundle = loaded.bundle
    info = DATASETS.get(settings.name)
    kind = info.kind if info else "file"
    shape = tuple(bundle.input_shape)
    if kind == "file":
        kind = "image" if len(shape) == 3 else "2d" if shape == (2,) else "tabular"
    train = bundle.train
    count = {"image": PREVIEW_IMAGES, "2d": PREVIEW_POINTS}.get(kind, PREVIEW_ROWS)
    xs, ys = [], []
    for index in range(min(count, len(train))):
        x, y = train[index]
        if isinstance(y, dict):  # targets of several Output heads: label by the first one
            y = next(iter(y.values()))
        xs.append(np.asarray(x, dtype=np.float32))
        ys.append(np.asarray(y))
    if kind == "tabular":  # the table reads in the file's own units, not standardized ones
        try:
            xs = [bundle.raw_features(x).astype(np.float32) for x in xs]
            if bundle.task == "regression":
                ys = [bundle.raw_targets(y) for y in ys]
        except ValueError:  # statistics of another shape (a windowed series): keep as trained
            pass
    texts = []
    if bundle.input_dtype == "long" and getattr(bundle, "tokenizer", ""):
        kind = "text"  # token ids read back as words (or characters)
        joiner = "" if bundle.tokenizer == "char" else " "
        texts = [joiner.join(bundle.decode(x.astype(np.int64))) for x in xs]
    return {
        "kind": kind, "train": loaded.train, "val": loaded.val,
        "sampled_from": loaded.sampled_from, "shape": shape,
        "task": bundle.task, "num_classes": bundle.num_classes,
        "class_names": list(bundle.class_names), "feature_names": list(bundle.feature_names),
        "value_range": tuple(bundle.value_range), "x": xs, "y": ys, "texts": texts,
    }


CLASS_COLORS = ("#4c9be8", "#e0a040", "#5cb85c", "#e05757", "#a87fd0", "#3fb0b0", "#d07aa8",
                "#9aa04a", "#c98a5a", "#8a94a6")


class DatasetPreview(QFrame):
    """Split sizes, task facts and a glimpse of the data (images, scatter or table)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "card")
        self.setObjectName("dataset_preview")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 10)
        layout.setSpacing(6)
        self.facts = QLabel("Loading preview\u2026")
        self.facts.setWordWrap(True)
        self.facts.setObjectName("dataset_facts")
        layout.addWidget(self.facts)
        self.body = Pages()
        layout.addWidget(self.body)
        self.images = QWidget()
        self.images_grid = QGridLayout(self.images)
        self.images_grid.setContentsMargins(0, 0, 0, 0)
        self.images_grid.setSpacing(4)
        self.body.addWidget(self.images)
        self.plot: Any = None  # pyqtgraph PlotWidget, made on first use
        self.table = QTableWidget()
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.horizontalHeader().setHighlightSections(False)
        self.body.addWidget(self.table)
        self.empty = QWidget()
        self.body.addWidget(self.empty)
        self.body.setCurrentWidget(self.empty)
        self.body.hide()
        self.data: dict[str, Any] | None = None

    def show_loading(self) -> None:
        self.facts.setText("Loading preview\u2026")
        self.facts.setProperty("role", "dim")
        self._repolish(self.facts)

    def show_error(self, message: str) -> None:
        self.data = None
        self.facts.setText(message)
        self.facts.setProperty("role", "error")
        self._repolish(self.facts)
        self.body.hide()

    @staticmethod
    def _repolish(widget: QWidget) -> None:
        widget.style().unpolish(widget)
        widget.style().polish(widget)

    def show_data(self, data: dict[str, Any]) -> None:
        self.data = data
        self.facts.setProperty("role", "")
        self._repolish(self.facts)
        shape = " \u00d7 ".join(str(s) for s in data["shape"])
        task = data["task"]
        if task == "classification":
            task = f"classification, {data['num_classes']} classes"
        if data["train"] is None:
            sizes = f"<b>{data['sampled_from']:,}</b> samples (a preview of a few)"
        else:
            sizes = (f"<b>{data['train']:,}</b> training \u00b7 <b>{data['val']:,}</b> "
                     "validation samples")
        self.facts.setText(f"{sizes}<br>Task: {task} \u00b7 input {shape}")
        kind = data["kind"]
        if kind == "image" and data["x"]:
            self._show_images(data)
        elif kind == "2d" and data["x"]:
            self._show_scatter(data)
        elif kind == "text" and data["x"]:
            self._show_texts(data)
        elif data["x"]:
            self._show_table(data)
        else:
            self.body.setCurrentWidget(self.empty)
        self.body.setVisible(bool(data["x"]))

    def _label_of(self, data: dict[str, Any], y: np.ndarray) -> str:
        if data["task"] == "classification":
            # one class, or a tag per step of which only the tagged ones (index >= 0) count
            names = data["class_names"]
            tags = [int(i) for i in y.reshape(-1) if int(i) >= 0]
            if y.size > 1 and not tags:
                return "(no tags)"
            words = [str(names[i]) if i < len(names) else str(i) for i in tags]
            return ", ".join(words[:2]) + (", \u2026" if len(words) > 2 else "")
        return ", ".join(forms.format_float(float(v)) for v in y.reshape(-1)[:2])

    def _show_images(self, data: dict[str, Any]) -> None:
        while self.images_grid.count():
            item = self.images_grid.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        low, high = data["value_range"]
        columns, size = 4, 38
        for index, (x, y) in enumerate(zip(data["x"], data["y"], strict=False)):
            cell = QVBoxLayout()
            picture = QLabel()
            picture.setFixedSize(size, size)
            picture.setPixmap(image_pixmap(x, low, high, size))
            picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
            text = self._label_of(data, y)
            caption = dim_label(text, wrap=False)
            caption.setFont(style.font("small"))
            caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
            # a long class name ("hollow_square") elides instead of widening the inspector
            caption.setFixedWidth(size + 10)
            caption.setText(caption.fontMetrics().elidedText(
                text, Qt.TextElideMode.ElideRight, size + 10))
            caption.setToolTip(text)
            holder = QWidget()
            cell.setContentsMargins(0, 0, 0, 0)
            cell.setSpacing(1)
            cell.addWidget(picture)
            cell.addWidget(caption)
            holder.setLayout(cell)
            self.images_grid.addWidget(holder, index // columns, index % columns)
        self.body.setCurrentWidget(self.images)

    def _show_scatter(self, data: dict[str, Any]) -> None:
        import pyqtgraph as pg

        t = theme.current()
        if self.plot is None:
            self.plot = pg.PlotWidget()
            self.plot.setFixedHeight(190)
            self.plot.setMenuEnabled(False)
            self.plot.setMouseEnabled(False, False)
            self.plot.hideButtons()
            self.plot.getPlotItem().setContentsMargins(2, 2, 2, 2)
            self.body.addWidget(self.plot)
        self.plot.setBackground(style.mix(t.window, t.base, 0.5))  # the card's colour
        for axis in ("left", "bottom"):
            ax = self.plot.getAxis(axis)
            ax.setPen(pg.mkPen(t.border))
            ax.setTextPen(pg.mkPen(t.text_dim))
        self.plot.clear()
        xs = np.stack(data["x"])
        ys = [self._label_of(data, y) for y in data["y"]]
        classes = sorted(set(ys), key=lambda s: (len(s), s))
        if data["task"] == "classification":
            for index, cls in enumerate(classes):
                mask = np.array([y == cls for y in ys])
                color = QColor(CLASS_COLORS[index % len(CLASS_COLORS)])
                self.plot.plot(xs[mask, 0], xs[mask, 1], pen=None, symbol="o", symbolSize=5,
                               symbolPen=None, symbolBrush=color)
        else:
            self.plot.plot(xs[:, 0], xs[:, 1], pen=None, symbol="o", symbolSize=5,
                           symbolPen=None, symbolBrush=QColor(t.accent))
        self.body.setCurrentWidget(self.plot)

    def _show_table(self, data: dict[str, Any]) -> None:
        xs = [x.reshape(-1) for x in data["x"]]
        width = min(len(xs[0]), 12)
        names = list(data["feature_names"])[:width]
        names += [f"x{i}" for i in range(len(names), width)]
        self.table.setColumnCount(width + 1)
        self.table.setRowCount(len(xs))
        self.table.setHorizontalHeaderLabels([*names, "target"])
        for row, (x, y) in enumerate(zip(xs, data["y"], strict=False)):
            for col in range(width):
                self.table.setItem(row, col, QTableWidgetItem(f"{float(x[col]):.3g}"))
            self.table.setItem(row, width, QTableWidgetItem(self._label_of(data, y)))
        self.table.horizontalHeader().setStretchLastSection(False)
        self.table.resizeColumnsToContents()
        self._fit_table()

    def _show_texts(self, data: dict[str, Any]) -> None:
        """Text samples as the words the network reads (padding dropped), with their label."""
        self.table.setColumnCount(2)
        self.table.setRowCount(len(data["texts"]))
        self.table.setHorizontalHeaderLabels(["label", "text"])
        for row, (text, y) in enumerate(zip(data["texts"], data["y"], strict=False)):
            self.table.setItem(row, 0, QTableWidgetItem(self._label_of(data, y)))
            item = QTableWidgetItem(text)
            item.setToolTip(text)
            self.table.setItem(row, 1, item)
        self.table.resizeColumnToContents(0)
        self.table.horizontalHeader().setStretchLastSection(True)  # the text elides at the edge
        self._fit_table()

    def _fit_table(self) -> None:
        rows_height = sum(self.table.rowHeight(r) for r in range(self.table.rowCount()))
        self.table.setFixedHeight(self.table.horizontalHeader().sizeHint().height()
                                  + rows_height + 14)  # room for the horizontal scroll bar
        self.body.setCurrentWidget(self.table)


def image_pixmap(x: np.ndarray, low: float, high: float, size: int) -> QPixmap:
    """A (C, H, W) or (H, W) sample as a crisp, nearest-scaled thumbnail."""
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim == 3 and arr.shape[0] not in (1, 3):
        arr = arr[0]
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if not np.isfinite(high - low) or high <= low:
        low, high = float(arr.min()), float(arr.max()) or 1.0
    scaled = np.clip((arr - low) / max(high - low, 1e-12), 0, 1)
    if scaled.ndim == 3:  # RGB
        rgb = np.ascontiguousarray((scaled.transpose(1, 2, 0) * 255).astype(np.uint8))
        h, w = rgb.shape[:2]
        image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    else:
        grey = np.ascontiguousarray((scaled * 255).astype(np.uint8))
        h, w = grey.shape
        image = QImage(grey.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    return QPixmap.fromImage(image.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                          Qt.TransformationMode.FastTransformation))
