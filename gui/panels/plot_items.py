"""Custom pyqtgraph items: an axis that names rows/columns and thins its labels to the room it
has, and many short texts at data positions drawn by one item."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402
from PySide6.QtCore import QPointF, QRectF, Qt  # noqa: E402
from PySide6.QtGui import QColor, QFont, QFontMetrics  # noqa: E402

from gui.panels.plot_style import small_font  # noqa: E402


class IndexAxis(pg.AxisItem):
    """An axis for rows/columns 0..n-1 (classes, layers, units), labelled with their names and
    thinned *when drawn*, from the axis's real length, so labels never overlap or crowd out
    whatever size the dock has. ``set_names(count, names)``; count 0 gives ordinary ticks."""

    STEPS = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000)

    def __init__(self, orientation: str, **kwargs: Any) -> None:
        super().__init__(orientation, **kwargs)
        self.count = 0
        self.names: list[str] | None = None

    def set_names(self, count: int, names: Sequence[str] | None = None) -> None:
        """Name the rows/columns; the axis is redrawn only when they change (live panels set
        the same names with every render, and an axis picture costs more than most plots)."""
        count = max(0, int(count))
        names = [str(n) for n in names] if names is not None else None
        if (count, names) == (self.count, self.names):
            return
        self.count, self.names = count, names
        self.picture = None
        self.update()

    def _label(self, index: int) -> str:
        if self.names is not None and 0 <= index < len(self.names):
            return self.names[index]
        return str(index)

    def _needed(self) -> float:
        """Pixels one label needs along the axis."""
        metrics = QFontMetrics(self.style.get("tickFont") or small_font())
        if self.orientation in ("left", "right"):  # rows: a label's letters, not its line
            return metrics.ascent() + 1.0  # gap (ten class names fit 11 px rows: all shown)
        labels = [self._label(i) for i in range(min(self.count, 200))] or ["0"]
        return max(metrics.horizontalAdvance(t) for t in labels) + 10.0

    def tickValues(self, minVal: float, maxVal: float, size: float) -> Any:  # noqa: N802
        if self.count <= 0:
            return super().tickValues(minVal, maxVal, size)
        low, high = sorted((minVal, maxVal))
        first, last = max(0, math.ceil(low - 1e-9)), min(self.count - 1, math.floor(high + 1e-9))
        if last < first or size <= 0:
            return []
        per_index = size / max(high - low, 1e-9)
        need = self._needed()
        step = next((s for s in self.STEPS if s * per_index >= need), self.STEPS[-1])
        start = first + (-first) % step
        return [(float(step), [float(v) for v in range(start, last + 1, step)])]

    def tickStrings(self, values: Any, scale: float, spacing: float) -> list[str]:  # noqa: N802
        if self.count <= 0:
            return super().tickStrings(values, scale, spacing)
        return [self._label(int(round(v))) for v in values]


class GridLabels(pg.GraphicsObject):
    """Many short texts at data positions (counts in matrix cells, values beside bars) drawn
    by one item in one paint call, at a fixed pixel size, and only when a row (and for
    centred labels, a cell) is large enough on screen to hold them. ``anchor`` is (0.5, 0.5)
    for centred labels or (0, 0.5) for labels starting at their position."""

    def __init__(self, anchor: tuple[float, float] = (0.5, 0.5), min_pixels: float = 11.0
                 ) -> None:
        super().__init__()
        self.anchor = anchor
        self.min_pixels = min_pixels
        self.positions = np.zeros((0, 2), np.float64)
        self.texts: list[str] = []
        self.colors: list[QColor] = []
        self._bounds = QRectF()

    def set_labels(self, positions: np.ndarray, texts: Sequence[str], colors: Sequence[str]
                   ) -> None:
        self.prepareGeometryChange()
        self.positions = np.asarray(positions, np.float64).reshape(-1, 2)
        self.texts = [str(t) for t in texts]
        self.colors = [QColor(c) for c in colors]
        if len(self.positions):
            low, high = self.positions.min(0), self.positions.max(0)
            self._bounds = QRectF(low[0] - 1, low[1] - 1, high[0] - low[0] + 2,
                                  high[1] - low[1] + 2)
        else:
            self._bounds = QRectF()
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt override)
        return QRectF(self._bounds)

    def cell_pixels(self, transform: Any = None) -> tuple[float, float]:
        """Screen size in pixels of one data unit (x, y)."""
        if transform is None:
            scene = self.scene()
            views = scene.views() if scene is not None else []
            if not views:
                return 0.0, 0.0
            transform = self.sceneTransform() * views[0].viewportTransform()
        origin, one = transform.map(QPointF(0, 0)), transform.map(QPointF(1, 1))
        return abs(one.x() - origin.x()), abs(one.y() - origin.y())

    def _font(self, row: float) -> QFont:
        font = small_font()
        if row < 16:
            font.setPointSizeF(max(7.0, font.pointSizeF() - 1.5))
        return font

    def fits(self, transform: Any = None) -> bool:
        """Whether the labels have room at the current size (they are drawn only then)."""
        dx, dy = self.cell_pixels(transform)
        if not self.texts or dy < self.min_pixels:
            return False
        if self.anchor[0] == 0.5:
            metrics = QFontMetrics(self._font(dy))
            widest = max(metrics.horizontalAdvance(t) for t in self.texts)
            return dx >= widest + 2
        return True

    def paint(self, painter: Any, *args: Any) -> None:
        transform = painter.transform()
        if not self.fits(transform):
            return
        _dx, dy = self.cell_pixels(transform)
        font = self._font(dy)
        metrics = QFontMetrics(font)
        height = metrics.height()
        painter.save()
        painter.resetTransform()
        painter.setFont(font)
        for (x, y), text, color in zip(self.positions, self.texts, self.colors, strict=False):
            point = transform.map(QPointF(float(x), float(y)))
            width = metrics.horizontalAdvance(text)
            left = point.x() - width * self.anchor[0] + (3 if self.anchor[0] == 0 else 0)
            rect = QRectF(left, point.y() - height * self.anchor[1], width + 1, height)
            painter.setPen(color)
            painter.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), text)
        painter.restore()
