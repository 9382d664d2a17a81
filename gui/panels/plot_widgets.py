"""Building themed plots: plot and layout widgets, image views whose pixels sit on integer
coordinates, index ticks, colour bars and hover positions."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import pyqtgraph as pg  # noqa: E402
from PySide6.QtCore import QPointF, QRectF  # noqa: E402
from PySide6.QtWidgets import QSizePolicy  # noqa: E402

from gui import theme  # noqa: E402
from gui.panels.colormaps import diverging_colormap  # noqa: E402
from gui.panels.plot_items import IndexAxis  # noqa: E402
from gui.panels.plot_style import style_axis, style_plot  # noqa: E402


def make_layout_widget() -> pg.GraphicsLayoutWidget:
    """A GraphicsLayoutWidget on the dock colour."""
    widget = pg.GraphicsLayoutWidget()
    widget.setBackground(theme.current().window)
    widget.ci.setContentsMargins(4, 4, 4, 4)
    widget.ci.setSpacing(6)
    widget.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
    widget.setMinimumHeight(80)
    return widget


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



def settle_range(plot: pg.PlotItem, axis: str, low: float, high: float, pad: float = 0.05,
                 fill: float = 0.6) -> bool:
    """Show ``low``..``high`` on ``axis`` ("x" or "y") of a plot without auto-range, moving the
    range only when the data leaves it or fills less than ``fill`` of it: a live view whose
    data drifts a little each epoch keeps its axes (an axis whose range changes is laid out
    and drawn again, which costs more than the data). A new range is padded by ``pad`` of
    the span and widened to multiples of 2, 0.2, 20... (a fiftieth of the span or so). True
    when the range was set."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return False
    shown = plot.getViewBox().viewRange()[0 if axis == "x" else 1]
    span = high - low or max(abs(high) * 0.1, 1e-9)
    if shown[0] <= low and high <= shown[1] and span >= fill * (shown[1] - shown[0]):
        return False
    margin = pad * span
    step = 2.0 * 10.0 ** (math.floor(math.log10(span)) - 1)  # ends on round numbers, which
    start = math.floor((low - margin) / step) * step  # leaves room to creep into
    stop = math.ceil((high + margin) / step) * step
    if axis == "x":
        plot.setXRange(start, stop, padding=0)
    else:
        plot.setYRange(start, stop, padding=0)
    return True


def hover_position(plot: pg.PlotItem, scene_pos: QPointF) -> QPointF | None:
    """The view coordinates of a scene position inside ``plot``, or None outside it."""
    box = plot.getViewBox()
    if not box.sceneBoundingRect().contains(scene_pos):
        return None
    return box.mapSceneToView(scene_pos)


def hovered_place(plots: Sequence[pg.PlotItem], scene_pos: QPointF, image: bool,
                  shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """Where the pointer is over side-by-side views of one sample: (row, column) of an image of
    ``shape``, or (index,) of one of ``shape[0]`` bars; None when it is over neither."""
    for plot in plots:
        point = hover_position(plot, scene_pos)
        if point is None:
            continue
        if image:
            r, c = math.floor(point.y()), math.floor(point.x())
            if 0 <= r < shape[0] and 0 <= c < shape[1]:
                return r, c
        else:
            i = index_pixel(point.x())
            if 0 <= i < shape[0]:
                return (i,)
    return None
