"""Plot items of the Metrics panel: a value axis with readable log and small-number labels,
and a title row used as a legend that may shrink below its text.
"""

from __future__ import annotations

import math
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt


def _short(value: float) -> str:
    """0.0015 -> 1.5e-3, 0.002 -> 2e-3, 0 -> 0."""
    if not value:
        return "0"
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa.removesuffix('.0')}e{int(exponent)}"


class ValueAxis(pg.AxisItem):
    """A value axis whose log scale labels only 1, 2 and 5 times a power of ten (pyqtgraph
    labels every minor tick, and near each power of ten they overlap), and whose linear
    labels drop the needless zeros of small numbers (1e-3, not 0.001)."""

    def logTickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        out = []
        for value in values:
            number = 10.0 ** (value * scale)
            mantissa = number / 10.0 ** math.floor(math.log10(number)) if number > 0 else 0
            out.append(f"{number:g}" if round(mantissa, 6) in (1.0, 2.0, 5.0) else "")
        return out

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        if self.logMode or not values or max(abs(v) for v in values) >= 0.01 \
                or spacing * scale >= 0.01:
            return super().tickStrings(values, scale, spacing)
        return [_short(v * scale) for v in values]


class LegendLabel(pg.LabelItem):
    """A plot's title row used as its legend: it may be narrower than its text (which is then
    clipped) instead of forcing the plot, and the whole panel, wider than the dock."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setFlag(self.GraphicsItemFlag.ItemClipsChildrenToShape)

    def updateMin(self) -> None:  # noqa: N802 (pyqtgraph override)
        super().updateMin()
        height = self._sizeHint[Qt.SizeHint.MinimumSize][1]
        self._sizeHint[Qt.SizeHint.MinimumSize] = (0, height)
        self.setMinimumWidth(0)
