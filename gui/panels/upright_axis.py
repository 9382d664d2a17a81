"""A bottom axis whose category names stand upright, so a heat map with one column per word
names every word instead of thinning the labels (the Sequences panel's attention map)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QFont, QFontMetrics

from gui.panels.plot_items import IndexAxis
from gui.panels.plot_style import small_font
from gui.panels.plot_widgets import index_pixel


class UprightNamesAxis(IndexAxis):
    """A bottom ``IndexAxis`` whose names stand upright (read bottom to top): a column needs
    one font height instead of one word's width, so every word of a sentence keeps its name
    where flat labels would be thinned to one in five. The axis grows to the longest name."""

    def _font(self) -> QFont:
        return self.style.get("tickFont") or small_font()

    def _needed(self) -> float:
        return QFontMetrics(self._font()).height() + 1.0

    compact = False  # no names (a short dock: the map needs the height; hover names a cell)

    def set_compact(self, compact: bool) -> None:
        if compact != self.compact:
            self.compact = compact
            self.set_names(self.count, self.names)

    def set_names(self, count: int, names: Any = None) -> None:
        super().set_names(count, names)
        if self.compact:
            self.setHeight(int(self._text_offset() + 2))
            return
        metrics = QFontMetrics(self._font())
        widest = max((metrics.horizontalAdvance(self._label(i)) for i in range(self.count)),
                     default=0)
        title = self.label.boundingRect().height() * 0.8 if self.label.isVisible() else 0
        self.setHeight(int(widest + self._text_offset() + title + 2))

    def _text_offset(self) -> float:
        return max(0, self.style["tickLength"]) + self.style["tickTextOffset"][1]

    def generateDrawSpecs(self, p: Any) -> Any:  # noqa: N802 - pyqtgraph override
        specs = super().generateDrawSpecs(p)
        if specs is None or self.count <= 0:
            return specs
        if self.compact:
            return specs[0], specs[1], []
        axis_spec, tick_specs, _flat = specs
        bounds = self.mapRectFromParent(self.geometry())
        low, high = self.range
        scale = (high - low) / bounds.width() if bounds.width() else 0.0
        metrics = QFontMetrics(self._font())
        top = bounds.top() + self._text_offset()
        texts = []
        for _pen, start, _end in tick_specs:
            text = self._label(index_pixel(low + start.x() * scale))
            width, height = metrics.horizontalAdvance(text), metrics.height()
            texts.append((QRectF(start.x() - height / 2, top, height, width),
                          Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, text))
        return axis_spec, tick_specs, texts

    def drawPicture(self, p: Any, axis_spec: Any, tick_specs: Any,  # noqa: N802
                    text_specs: Any) -> None:
        super().drawPicture(p, axis_spec, tick_specs, [] if self.count > 0 else text_specs)
        if self.count <= 0:
            return
        p.setFont(self._font())
        p.setPen(self.textPen())
        for box, flags, text in text_specs:  # each box is upright: turn the text into it
            p.save()
            p.translate(box.center().x(), box.top())
            p.rotate(-90)
            p.drawText(QRectF(-box.height(), -box.width() / 2, box.height(), box.width()),
                       int(flags), text)
            p.restore()


__all__ = ["UprightNamesAxis"]
