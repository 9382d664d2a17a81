"""Shared pyqtgraph pieces for the live monitor panels.

Every monitor panel draws small numpy arrays that arrive from the training process several
times a second. The pieces here keep them consistent: plots styled from ``gui.theme`` (the
pyqtgraph background is the dock colour), one diverging colour map for signed values and one
sequential map for non-negative ones, class colours shared by every panel, image grids tiled
into one ``ImageItem`` (one texture upload instead of dozens of items), and ``ThrottledRedraw``:
panels keep only the latest payload and repaint from a timer at most ``REDRAW_HZ`` times a
second, never once per event.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer  # noqa: E402
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPixmap  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QStackedLayout,
    QVBoxLayout,
    QWidget,
)

from gui import style, theme  # noqa: E402

REDRAW_HZ = 30
REDRAW_MS = math.ceil(1000 / REDRAW_HZ)
MIN_PANEL_WIDTH, MIN_PANEL_HEIGHT = 100, 100
COMPACT_HEIGHT = 280  # below this panel height, axis titles make way for the plots

# Categorical colours for classes: distinguishable on both themes, the first two are the
# orange / blue pair TensorFlow Playground uses for two classes.
CLASS_COLORS = ("#f0954a", "#4c9be8", "#5cb85c", "#e05757", "#a57be0", "#d9c54a",
                "#e07ab8", "#47c1c1", "#b08a63", "#9aa0a8", "#7fd17f", "#f2b0a0")


# -- colours ---------------------------------------------------------------------------------------
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


# -- fonts and styling -----------------------------------------------------------------------------
def small_font() -> QFont:
    return style.font("small")


def css_size(size: str = "small") -> str:
    return f"{style.font(size).pointSizeF():.1f}pt"


def no_si_prefix(axis: pg.AxisItem) -> None:
    """Tick values as they are: "(x0.001)" next to a label reads as noise. pyqtgraph 0.14
    still rescales a labelled axis whose range lies within (0, 1) after
    ``enableAutoSIPrefix(False)`` (a colour bar of 0..0.3 read 0..300), and every
    ``setLabel`` resets its prefix ranges; so this axis reports no range where a prefix
    applies, whatever is set later."""
    axis.enableAutoSIPrefix(False)
    axis.getSIPrefixEnableRanges = lambda: ()
    axis.updateAutoSIPrefix()


def style_axis(axis: pg.AxisItem, label: str | None = None, units: str | None = None) -> None:
    """Theme pens, the small tick font, no SI prefix, and an axis title when ``label``."""
    t = theme.current()
    key = (label, units, t.name)
    if getattr(axis, "_plexus_style", None) == key and (label is None or axis.label.isVisible()):
        return
    axis._plexus_style = key
    axis.setPen(pg.mkPen(t.border))
    axis.setTextPen(pg.mkPen(t.text_dim))
    axis.setStyle(tickFont=small_font(), tickLength=-4, tickTextOffset=4)
    no_si_prefix(axis)
    if label is not None:
        axis.setLabel(label, units=units, color=t.text_dim, **{"font-size": css_size()})


def style_plot(plot: pg.PlotItem, title: str | None = None, x: str | None = None,
               y: str | None = None, x_units: str | None = None,
               y_units: str | None = None) -> pg.PlotItem:
    """Theme colours, the small font, labelled axes and a title on one PlotItem."""
    t = theme.current()
    plot.getViewBox().setBackgroundColor(None)
    for name in ("left", "bottom", "right", "top"):
        style_axis(plot.getAxis(name))
    if x is not None:
        style_axis(plot.getAxis("bottom"), x, x_units)
    if y is not None:
        style_axis(plot.getAxis("left"), y, y_units)
    if title is not None:
        set_title(plot, title)
    plot.hideButtons()
    plot.setMenuEnabled(False)
    plot.getViewBox().setMouseEnabled(False, False)
    _ = t
    return plot


def set_title(plot: pg.PlotItem, text: str) -> None:
    """The plot's title in the theme's text colour (skipped when unchanged: re-laying out a
    title costs more than drawing most plots)."""
    t = theme.current()
    key = (text, t.name, css_size("base"))
    if getattr(plot, "_plexus_title", None) == key:
        return
    plot._plexus_title = key
    plot.setTitle(text, color=t.text, size=css_size("base"))


def make_layout_widget() -> pg.GraphicsLayoutWidget:
    """A GraphicsLayoutWidget on the dock colour."""
    widget = pg.GraphicsLayoutWidget()
    widget.setBackground(theme.current().window)
    widget.ci.setContentsMargins(4, 4, 4, 4)
    widget.ci.setSpacing(6)
    widget.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
    widget.setMinimumHeight(80)
    return widget


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
        self.count = max(0, int(count))
        self.names = [str(n) for n in names] if names is not None else None
        self.picture = None
        self.update()

    def _label(self, index: int) -> str:
        if self.names is not None and 0 <= index < len(self.names):
            return self.names[index]
        return str(index)

    def _needed(self) -> float:
        """Pixels one label needs along the axis."""
        metrics = QFontMetrics(self.style.get("tickFont") or small_font())
        if self.orientation in ("left", "right"):
            return metrics.height() + 1.0
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


def index_axes(*sides: str) -> dict[str, IndexAxis]:
    """``axisItems`` for a plot whose ``sides`` count rows/columns (see ``IndexAxis``)."""
    return {side: IndexAxis(side) for side in sides}


def make_plot_widget(title: str | None = None, x: str | None = None, y: str | None = None,
                     index: Sequence[str] = ()) -> pg.PlotWidget:
    """A themed PlotWidget; ``index`` names the sides that get an ``IndexAxis``."""
    widget = pg.PlotWidget(background=theme.current().window, axisItems=index_axes(*index))
    style_plot(widget.getPlotItem(), title, x, y)
    widget.setMinimumHeight(80)
    return widget


def image_plot(plot: pg.PlotItem, top_down: bool = True, axes: bool = False) -> pg.ImageItem:
    """Make ``plot`` an image view: one row-major ImageItem, square pixels, no panning.
    ``top_down`` puts row 0 at the top (images, matrices); False for planes (y upward)."""
    image = pg.ImageItem(axisOrder="row-major")
    plot.addItem(image)
    box = plot.getViewBox()
    box.setAspectLocked(True)
    box.invertY(top_down)
    box.setMouseEnabled(False, False)
    box.setDefaultPadding(0.01)
    if not axes:
        for name in ("left", "bottom"):
            plot.hideAxis(name)
    return image


def center_pixels(image: pg.ImageItem, rows: int, cols: int, x0: float = 0.0,
                  y0: float = 0.0) -> None:
    """Put pixel (r, c) centred on (x0 + c, y0 + r), so integer ticks name rows/columns."""
    image.setRect(QRectF(x0 - 0.5, y0 - 0.5, max(cols, 1), max(rows, 1)))


def index_ticks(axis: pg.AxisItem, count: int, names: Sequence[str] | None = None,
                room: float | None = None, spacing: float = 16.0) -> None:
    """Integer ticks 0..count-1 on an axis (or ``names`` at those positions), thinned to one
    every k when ``room`` (pixels along the axis) cannot hold them all ``spacing`` apart."""
    step = 1
    if room is not None and count > 0:
        while count / step * spacing > room and step < count:
            step = next(s for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 10**9)
                        if s > step)
    labels = [(i, names[i] if names is not None and i < len(names) else str(i))
              for i in range(0, count, step)]
    axis.setTicks([labels, []])


def index_pixel(value: float) -> int:
    """The row/column index under a coordinate of a ``center_pixels`` image."""
    return math.floor(value + 0.5)


def make_colorbar(plot_layout: pg.GraphicsLayout, image: pg.ImageItem, row: int = 0,
                  col: int = 1, label: str | None = None, width: int = 12) -> pg.ColorBarItem:
    """A narrow, non-interactive colour bar linked to ``image`` (levels and lookup table)."""
    bar = pg.ColorBarItem(values=(0, 1), width=width, colorMap=diverging_colormap(),
                          interactive=False, colorMapMenu=False)
    bar.setImageItem(image)
    style_axis(bar.getAxis("right"), label)
    bar.getViewBox().setBorder(pg.mkPen(theme.current().border))
    plot_layout.addItem(bar, row=row, col=col)
    return bar


def set_colorbar(bar: pg.ColorBarItem, cmap: pg.ColorMap, levels: tuple[float, float]) -> None:
    """Point a colour bar at ``cmap`` and ``levels`` (only what changed is redone)."""
    if getattr(bar, "_plexus_cmap", None) is not cmap:
        bar._plexus_cmap = cmap
        bar.setColorMap(cmap)
    bar.setLevels(levels)


# -- image grids -----------------------------------------------------------------------------------
def grid_columns(count: int, tile_h: int, tile_w: int, aspect: float = 1.0) -> int:
    """Columns that make ``count`` tiles of (tile_h, tile_w) fill a view of width/height
    ``aspect`` best (the largest tiles that fit)."""
    if count <= 1:
        return 1
    options = []
    for cols in range(1, count + 1):
        rows = -(-count // cols)
        grid_w, grid_h = cols * (tile_w + 1), rows * (tile_h + 1)
        options.append((min(aspect / grid_w, 1.0 / grid_h), rows * cols - count, cols))
    best = max(scale for scale, _, _ in options)
    # among layouts almost as large, the one with the fewest empty slots (full rows)
    near = [o for o in options if o[0] >= best * 0.9]
    return min(near, key=lambda o: (o[1], -o[0]))[2]


def tile_grid(images: np.ndarray, columns: int | None = None, pad: int | None = None,
              aspect: float = 1.0) -> tuple[np.ndarray, int, int, int]:
    """(N, h, w) -> one (H, W) float array with the tiles in rows, NaN (drawn transparent)
    between them. Returns (grid, columns, rows, pad)."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 2:
        images = images[None]
    n, h, w = images.shape
    if pad is None:
        pad = max(1, round(max(h, w) / 8))
    cols = columns or grid_columns(n, h, w, aspect)
    cols = max(1, min(cols, max(1, n)))
    rows = max(1, -(-n // cols))
    grid = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad), np.nan, np.float32)
    for index in range(n):
        r, c = divmod(index, cols)
        grid[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = images[index]
    return grid, cols, rows, pad


def tile_at(x: float, y: float, shape: tuple[int, int], columns: int, pad: int, count: int
            ) -> tuple[int, int, int] | None:
    """(tile index, row, column inside the tile) under grid pixel (x, y), or None."""
    h, w = shape
    if x < 0 or y < 0:
        return None
    c, cx = divmod(int(x), w + pad)
    r, cy = divmod(int(y), h + pad)
    if cx >= w or cy >= h or c >= columns:
        return None
    index = r * columns + c
    return (index, cy, cx) if index < count else None


def view_aspect(area: QWidget, fallback: float = 2.0) -> float:
    """Width / height of ``area`` (the fallback while it has no size yet)."""
    w, h = area.width(), area.height()
    return w / h if w > 20 and h > 20 else fallback


# -- thumbnails ------------------------------------------------------------------------------------
def array_image(sample: np.ndarray) -> np.ndarray | None:
    """A sample as a displayable (H, W) grey or (H, W, 3) image scaled to 0..255, or None
    when it is not image-like (vectors, sequences)."""
    a = np.asarray(sample, dtype=np.float32)
    if a.ndim == 3 and a.shape[0] in (1, 3, 4):
        a = a[0] if a.shape[0] == 1 else np.moveaxis(a[:3], 0, -1)
    elif a.ndim == 3:
        a = a.mean(0)
    if a.ndim not in (2, 3) or min(a.shape[:2]) < 2:
        return None
    finite = a[np.isfinite(a)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if low >= 0 and high <= 1:
        low, high = 0.0, 1.0
    span = high - low if high > low else 1.0
    return np.clip((np.nan_to_num(a) - low) / span * 255, 0, 255).astype(np.uint8)


def thumbnail(sample: np.ndarray, side: int = 48) -> QPixmap | None:
    """A crisp (nearest neighbour) pixmap of an image sample, ``side`` pixels on its long
    side; None when the sample is not an image."""
    a = array_image(sample)
    if a is None:
        return None
    a = np.ascontiguousarray(a)
    h, w = a.shape[:2]
    if a.ndim == 2:
        qimage = QImage(a.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    else:
        qimage = QImage(a.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    scale = max(1, side // max(h, w))
    return QPixmap.fromImage(qimage.scaled(w * scale, h * scale,
                                           Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.FastTransformation))


def describe_sample(sample: Any, limit: int = 3) -> str:
    """Short text for a non-image sample: "(0.12, -0.53)" or "(0.1, 0.2, 0.3, ... 13 values)"."""
    a = np.asarray(sample).reshape(-1)
    if a.dtype.kind in "iu":
        parts = [str(int(v)) for v in a[:limit]]
    else:
        parts = [f"{float(v):.2f}" for v in a[:limit]]
    more = f", \u2026 {a.size} values" if a.size > limit else ""
    return f"({', '.join(parts)}{more})"


# -- panel scaffolding -----------------------------------------------------------------------------
class ThrottledRedraw:
    """Keep the latest payload; repaint from a timer at most ``REDRAW_HZ`` times a second.

    A panel calls ``_init_redraw()`` in its constructor and implements ``render(payload)``.
    ``submit`` only stores; a hidden panel does not paint until it is shown again. ``flush``
    paints now (tests, screenshots). ``redraws`` counts paints.
    """

    def _init_redraw(self) -> None:
        self._pending: Any = None
        self._has_pending = False
        self.payload: Any = None  # the last payload painted
        self.redraws = 0
        self._redraw_timer = QTimer(self)  # type: ignore[arg-type]
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.setInterval(REDRAW_MS)
        self._redraw_timer.timeout.connect(self._redraw_due)

    def submit(self, payload: Any) -> None:
        """Take a new payload; it is drawn at the next frame (older ones are dropped)."""
        self._pending = payload
        self._has_pending = True
        if not self._redraw_timer.isActive():
            self._redraw_timer.start()

    def request_repaint(self) -> None:
        """Paint the last payload again at the next frame (resize, theme, a control)."""
        if not self._has_pending and self.payload is not None:
            self.submit(self.payload)

    def flush(self) -> None:
        """Paint the pending payload now."""
        self._redraw_timer.stop()
        if self._has_pending:
            self._paint_pending()

    def _redraw_due(self) -> None:
        if not self.isVisible():  # type: ignore[attr-defined]
            return  # painted by showEvent
        self._paint_pending()

    def _paint_pending(self) -> None:
        payload, self._pending, self._has_pending = self._pending, None, False
        self.payload = payload
        self.redraws += 1
        self.render(payload)

    def render(self, payload: Any) -> None:  # pragma: no cover - every panel overrides
        raise NotImplementedError

    def _shown(self) -> None:
        if self._has_pending and not self._redraw_timer.isActive():
            self._redraw_timer.start()


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
        self._redraw_timer.stop()
        self._pending, self._has_pending, self.payload = None, False, None
        self.show_empty()

    def set_readout(self, text: str) -> None:
        self.readout.setText(text or " ")

    def refresh_theme(self) -> None:
        """Re-style the plots and repaint with the new colours (panels extend this)."""
        self.request_repaint()

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


def hover_position(plot: pg.PlotItem, scene_pos: QPointF) -> QPointF | None:
    """The view coordinates of a scene position inside ``plot``, or None outside it."""
    box = plot.getViewBox()
    if not box.sceneBoundingRect().contains(scene_pos):
        return None
    return box.mapSceneToView(scene_pos)


def format_value(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1000 or magnitude < 0.001:
        return f"{value:.2e}"
    return f"{value:.3f}" if magnitude < 10 else f"{value:.1f}"
