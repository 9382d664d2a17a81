"""The look of a plot: theme pens, the small tick font, axis titles without SI prefixes, titles
and the short number text of hover read-outs."""

from __future__ import annotations

import math
import os

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import pyqtgraph as pg  # noqa: E402
from PySide6.QtGui import QFont  # noqa: E402

from gui import style, theme  # noqa: E402


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


def format_value(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1000 or magnitude < 0.001:
        return f"{value:.2e}"
    return f"{value:.3f}" if magnitude < 10 else f"{value:.1f}"
