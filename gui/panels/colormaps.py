"""Colours shared by every monitor panel: class colours, and the theme's diverging map (signed
values) and sequential map (non-negative values), with the levels that go with them."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from functools import lru_cache

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402
from PySide6.QtGui import QColor  # noqa: E402

from gui import style, theme  # noqa: E402

# Categorical colours for classes: distinguishable on both themes, the first two are the
# orange / blue pair TensorFlow Playground uses for two classes.
CLASS_COLORS = ("#f0954a", "#4c9be8", "#5cb85c", "#e05757", "#a57be0", "#d9c54a",
                "#e07ab8", "#47c1c1", "#b08a63", "#9aa0a8", "#7fd17f", "#f2b0a0")


def class_color(index: int) -> str:
    """The colour of class ``index`` (cycles after the palette's end)."""
    return CLASS_COLORS[int(index) % len(CLASS_COLORS)]


def class_colors(count: int) -> list[str]:
    return [class_color(i) for i in range(max(0, count))]


def rgb(color: str) -> tuple[int, int, int]:
    c = QColor(color)
    return c.red(), c.green(), c.blue()


def diverging_colormap() -> pg.ColorMap:
    """The diverging map of the current theme (made once per theme)."""
    return _diverging(theme.current().name)


def sequential_colormap() -> pg.ColorMap:
    """The sequential map of the current theme (made once per theme)."""
    return _sequential(theme.current().name)


@lru_cache(maxsize=4)
def _diverging(_theme_name: str) -> pg.ColorMap:
    """Blue for negative, the theme's surface at zero, orange-red for positive.

    Zero is a quiet shade just off the panel colour (dark on the dark theme, light on the
    light one), so what stands out is what the layer has learned while tiles stay visible.
    Shared: treat the returned map as read-only.
    """
    t = theme.current()
    centre = style.mix(t.node_body, t.text, 0.04) if t.name == "dark" else "#f7f7f7"
    if t.name == "dark":
        stops = ["#9fd0ff", "#3c84d6", "#1f4270", centre, "#7a3518", "#d8682e", "#ffc68f"]
    else:
        stops = ["#08306b", "#2f6fb3", "#8fbde3", centre, "#f2a882", "#c9472a", "#67000d"]
    positions = np.linspace(0.0, 1.0, len(stops))
    return pg.ColorMap(positions, [rgb(s) for s in stops], name="plexus-diverging")


@lru_cache(maxsize=4)
def _sequential(_theme_name: str) -> pg.ColorMap:
    """For values that are never negative (ReLU outputs, counts): dark to bright."""
    t = theme.current()
    if t.name == "dark":  # zero a shade off the panel, so empty tiles still show as tiles
        start = style.mix(t.node_body, t.text, 0.04)
        stops = [start, "#1d3b5e", "#2f6fb3", "#4c9be8", "#9ccbf5", "#f4f8fc"]
    else:
        stops = ["#f9fbfd", "#c6dbef", "#6baed6", "#2f7fd0", "#08519c", "#08306b"]
    positions = np.linspace(0.0, 1.0, len(stops))
    return pg.ColorMap(positions, [rgb(s) for s in stops], name="plexus-sequential")


def lookup_table(cmap: pg.ColorMap, points: int = 256) -> np.ndarray:
    """The map as a (points, 3) uint8 table for ImageItem (kept on the map object)."""
    cache = cmap.__dict__.setdefault("_plexus_luts", {})
    if points not in cache:
        cache[points] = cmap.getLookupTable(0.0, 1.0, points, alpha=False)
    return cache[points]


def symmetric_levels(values: np.ndarray | None = None, vmax: float | None = None
                     ) -> tuple[float, float]:
    """(-v, v) for a diverging scale: ``vmax`` or the largest finite absolute value."""
    if vmax is None and values is not None and values.size:
        finite = values[np.isfinite(values)]
        vmax = float(np.abs(finite).max()) if finite.size else 0.0
    v = float(vmax or 0.0)
    if not math.isfinite(v) or v <= 0:
        v = 1.0
    return -v, v


def value_levels(values: np.ndarray) -> tuple[tuple[float, float], bool]:
    """Levels for any array and whether they are diverging: symmetric around 0 when the
    values have both signs, else 0..max (never an empty range)."""
    finite = values[np.isfinite(values)] if values.size else values
    if not finite.size:
        return (0.0, 1.0), False
    low, high = float(finite.min()), float(finite.max())
    if low < 0 < high or high <= 0 < -low:
        return symmetric_levels(vmax=max(abs(low), abs(high))), True
    top = high if high > 0 else 1.0
    return (0.0, top), False


def blend(colors: Sequence[str], weights: np.ndarray, background: str, strength: float = 0.75
          ) -> np.ndarray:
    """(..., C) weights (probabilities) -> (..., 3) uint8 colours: the class colours mixed by
    weight, then faded towards ``background`` by ``1 - strength`` of the way."""
    palette = np.array([rgb(c) for c in colors], np.float32)[: weights.shape[-1]]
    if palette.shape[0] < weights.shape[-1]:
        extra = np.array([rgb(class_color(i)) for i in range(palette.shape[0],
                                                               weights.shape[-1])], np.float32)
        palette = np.concatenate([palette, extra])
    mixed = np.tensordot(np.nan_to_num(weights.astype(np.float32)), palette, axes=([-1], [0]))
    back = np.array(rgb(background), np.float32)
    out = back + (mixed - back) * float(strength)
    return np.clip(out, 0, 255).astype(np.uint8)
