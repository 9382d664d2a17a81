"""Views shared by the Adversarial panel's pages: the original | perturbation | adversarial
triptych (images, or bars per feature for vector inputs), small clickable sample cards, and
the pages' common look (colours, the accuracy axis, the controls column's width).

They draw numpy arrays handed to them; nothing here computes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QFrame, QGridLayout, QVBoxLayout, QWidget

from gui import style, theme
from gui.panels import lab
from gui.panels.colormaps import class_color, diverging_colormap, lookup_table
from gui.panels.lab import display_image, grey_lut, signed_map
from gui.panels.plot_style import css_size, format_value, set_title, style_axis, style_plot
from gui.panels.plot_widgets import (
    hovered_place,
    image_plot,
    index_ticks,
    make_layout_widget,
)
from gui.panels.thumbnails import picture_with_caption, thumbnail

POSITIVE = "#d8682e"  # perturbation bars: the diverging map's ends
NEGATIVE = "#3c84d6"
THUMB = 40
FGSM_COLOR = "#4c9be8"
PGD_COLOR = "#f0954a"
CONTROLS_WIDTH = 250  # every page's controls column: the Range row's two fields fit


def percent_axis(plot: pg.PlotItem) -> None:
    """An accuracy axis in per cent, 0 to 100."""
    plot.setYRange(0, 100, padding=0.06)
    axis = plot.getAxis("left")
    axis.setTicks([[(v, str(v)) for v in (0, 25, 50, 75, 100)], []])
    axis.setStyle(hideOverlappingLabels=False)
    plot.showGrid(x=False, y=True, alpha=0.15)


def fmt_eps(eps: float) -> str:
    return f"{eps:.3g}"


def amplification(delta: np.ndarray, width: float) -> tuple[float, float]:
    """(vmax, factor): the largest |perturbation| and how many times it is blown up so that it
    spans half the data range on the colour map (0, 0 for no perturbation)."""
    finite = np.abs(delta[np.isfinite(delta)]) if delta.size else delta
    vmax = float(finite.max()) if finite.size else 0.0
    return (vmax, 0.5 * width / vmax) if vmax > 0 else (0.0, 0.0)


def factor_text(factor: float) -> str:
    if factor <= 0:
        return "no change"
    return f"\u00d7{factor:.1f}" if factor < 10 else f"\u00d7{factor:.0f}"


def outlined_thumbnail(sample: np.ndarray, row: int, col: int, size: int, color: str,
              side: int = THUMB) -> QPixmap | None:
    """A thumbnail with the patch's square outlined (a black patch on a black background is
    otherwise invisible)."""
    pixmap = thumbnail(sample, side)
    if pixmap is None:
        return None
    h = np.asarray(sample).shape[-2]
    scale = pixmap.height() / max(1, h)
    painter = QPainter(pixmap)
    painter.setPen(QPen(QColor(color), 1))
    painter.drawRect(int(col * scale), int(row * scale), int(size * scale) - 1,
                     int(size * scale) - 1)
    painter.end()
    return pixmap


# -- the three views ---------------------------------------------------------------------------
class Triptych(QWidget):
    """Original | perturbation | adversarial, as images (one ImageItem each) or, for vector
    inputs, as bars per feature. ``arrays`` holds what is shown (tests read it)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.view = make_layout_widget()
        self.view.ci.setSpacing(10)
        layout.addWidget(self.view)
        self.plots = [self.view.addPlot(row=0, col=i) for i in range(3)]
        for plot in self.plots:
            style_plot(plot)
        self.images = [image_plot(plot) for plot in self.plots]
        self.factor = pg.TextItem(anchor=(1, 1))
        self.plots[1].addItem(self.factor, ignoreBounds=True)
        self.bars = [pg.BarGraphItem(x=[], height=[], width=0.7) for _ in range(3)]
        self.ghost = pg.BarGraphItem(x=[], height=[], width=0.7)
        for plot, bars in zip(self.plots, self.bars, strict=True):
            plot.addItem(bars)
        self.plots[2].addItem(self.ghost)
        self.mode = ""
        self.arrays: dict[str, np.ndarray] = {}
        self.factor_value = 0.0
        self.titles: list[str] = ["", "", ""]
        self.view.scene().sigMouseMoved.connect(self._hover)
        self.on_hover: Any = None  # called with a read-out line for the value under the mouse
        self.feature_names: list[str] = []
        self.clear()

    def clear(self) -> None:
        for image in self.images:
            image.clear()
        for bars in (*self.bars, self.ghost):
            bars.setOpts(x=[], height=[])
        self.factor.setText("")
        self.arrays = {}
        for plot, text in zip(self.plots, ("Original", "Perturbation", "Adversarial"),
                              strict=True):
            set_title(plot, text)

    def _set_mode(self, mode: str) -> None:
        if mode == self.mode:
            return
        self.mode = mode
        images = mode == "image"
        for plot, image, bars in zip(self.plots, self.images, self.bars, strict=True):
            box = plot.getViewBox()
            image.setVisible(images)
            bars.setVisible(not images)
            box.setAspectLocked(images)
            box.invertY(images)
            for name in ("left", "bottom"):
                plot.showAxis(name, not images)
            if not images:
                style_axis(plot.getAxis("left"))
                style_axis(plot.getAxis("bottom"))
        self.ghost.setVisible(not images)
        self.factor.setVisible(images)

    def set_titles(self, titles: list[str]) -> None:
        self.titles = list(titles)
        for plot, text in zip(self.plots, titles, strict=True):
            set_title(plot, text)

    def show_images(self, original: np.ndarray, delta: np.ndarray, adversarial: np.ndarray,
                    value_range: tuple[float, float], titles: list[str]) -> None:
        """Draw (C, H, W) samples; the perturbation on the diverging map at ±max|delta|."""
        self._set_mode("image")
        lo, hi = value_range
        width = (hi - lo) if hi > lo else 1.0
        pictures = [display_image(original), signed_map(delta), display_image(adversarial)]
        self.arrays = {"original": pictures[0], "perturbation": pictures[1],
                       "adversarial": pictures[2]}
        vmax, factor = amplification(pictures[1], width)
        self.factor_value = factor
        for index, (image, picture) in enumerate(zip(self.images, pictures, strict=True)):
            if index == 1:
                levels = (-vmax, vmax) if vmax > 0 else (-1.0, 1.0)
                image.setImage(picture, levels=levels, autoLevels=False,
                               lut=lookup_table(diverging_colormap()))
            elif picture.ndim == 3:
                image.setImage(np.clip((picture - lo) / width, 0, 1), levels=(0, 1),
                               autoLevels=False, lut=None)
            else:
                image.setImage(picture, levels=(lo, hi), autoLevels=False, lut=grey_lut())
            h, w = picture.shape[:2]
            image.setRect(0, 0, w, h)
            self.plots[index].getViewBox().autoRange(padding=0.02)
        h, w = pictures[1].shape[:2]
        t = theme.current()
        amount = f"{factor_text(factor)}" if factor <= 0 else \
            f"{factor_text(factor)}  \u00b1{fmt_eps(vmax)}"
        self.factor.setHtml(f'<span style="color:#f4f6f8; font-size:{css_size()}">'
                            f'{amount}</span>')
        self.factor.fill = pg.mkBrush(0, 0, 0, 150)
        self.factor.border = pg.mkPen(t.border)
        self.factor.setPos(w, h)
        self.set_titles(titles)

    def show_bars(self, original: np.ndarray, delta: np.ndarray, adversarial: np.ndarray,
                  names: list[str], titles: list[str]) -> None:
        """Draw vector samples as bars per feature; the perturbation by sign."""
        self._set_mode("bars")
        t = theme.current()
        values = [np.asarray(a, np.float32).reshape(-1) for a in (original, delta, adversarial)]
        self.arrays = {"original": values[0], "perturbation": values[1],
                       "adversarial": values[2]}
        n = values[0].size
        x = np.arange(n)
        self.feature_names = [names[i] if i < len(names) else f"x{i}" for i in range(n)]
        self.bars[0].setOpts(x=x, height=values[0], width=0.7, brush=pg.mkBrush(t.accent),
                             pen=pg.mkPen(None))
        brushes = [pg.mkBrush(POSITIVE if v >= 0 else NEGATIVE) for v in values[1]]
        self.bars[1].setOpts(x=x, height=values[1], width=0.7, brushes=brushes,
                             pen=pg.mkPen(None))
        self.ghost.setOpts(x=x, height=values[0], width=0.7, brush=pg.mkBrush(None),
                           pen=pg.mkPen(t.text_dim, width=1, style=Qt.PenStyle.DashLine))
        self.bars[2].setOpts(x=x, height=values[2], width=0.5,
                             brush=pg.mkBrush(class_color(0)), pen=pg.mkPen(None))
        low = float(min(values[0].min(initial=0), values[2].min(initial=0)))
        high = float(max(values[0].max(initial=0), values[2].max(initial=0)))
        span = max(abs(float(values[1].min(initial=0))), abs(float(values[1].max(initial=0))))
        span = span if span > 0 else 1.0
        pad = 0.05 * ((high - low) or 1.0)
        for index, plot in enumerate(self.plots):
            room = plot.getViewBox().width() or None
            index_ticks(plot.getAxis("bottom"), n, self.feature_names, room=room,
                          spacing=42)
            plot.setXRange(-0.6, n - 0.4, padding=0)
            if index == 1:
                plot.setYRange(-span * 1.1, span * 1.1, padding=0)
            else:
                plot.setYRange(low - pad, high + pad, padding=0)
        self.set_titles(titles)

    def refresh_theme(self) -> None:
        self.view.setBackground(theme.current().window)
        for plot in self.plots:
            style_plot(plot)
        mode, self.mode = self.mode, ""
        self._set_mode(mode or "image")
        self.set_titles(self.titles)

    def _hover(self, pos: QPointF) -> None:
        if not self.arrays or self.on_hover is None:
            return
        image = self.mode == "image"
        shape = self.arrays["perturbation"].shape if image else (len(self.feature_names),)
        place = hovered_place(self.plots, pos, image, shape)
        if place is None:
            self.on_hover("")
            return
        parts = [f"row {place[0]}, column {place[1]}" if image else self.feature_names[place[0]]]
        for key in ("original", "perturbation", "adversarial"):
            v = float(np.mean(self.arrays[key][place]))
            sign = "+" if key == "perturbation" and v > 0 else ""
            parts.append(f"{key} {sign}{format_value(v)}")
        self.on_hover(" \u00b7 ".join(parts))


# -- sample cards ------------------------------------------------------------------------------
class SampleCard(QFrame):
    """A small clickable card: a thumbnail (or the values of a vector) and a caption."""

    clicked = Signal(int)

    def __init__(self, index: int, sample: Any, caption: str, tip: str = "",
                 side: int = THUMB) -> None:
        super().__init__()
        self.index = index
        self.setProperty("role", "card")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(3, 3, 3, 2)
        layout.setSpacing(1)
        self.setObjectName("sample_card")
        self.picture, self.caption = picture_with_caption(layout)
        self.selected = False
        self.fill(sample, caption, tip, side)

    def fill(self, sample: Any, caption: str, tip: str = "", side: int = THUMB) -> None:
        """Show another sample in this card (live views refill their cards, not rebuild them)."""
        pixmap = sample if isinstance(sample, QPixmap) else (
            thumbnail(sample, side) if sample is not None else None)
        if pixmap is not None:
            self.picture.setPixmap(pixmap)
        else:
            self.picture.setText(lab.vector_text(sample, 2) if sample is not None else "")
            self.picture.setFont(style.font("small"))
        if self.caption.text() != caption:
            self.caption.setText(caption)
        self.setToolTip(tip)

    def set_selected(self, on: bool) -> None:
        self.selected = on
        t = theme.current()
        self.setStyleSheet(f"QFrame#sample_card {{ border: 1px solid {t.accent}; }}"
                           if on else "")

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        self.clicked.emit(self.index)
        super().mousePressEvent(event)


class CardStrip(QWidget):
    """Cards in a grid (``columns`` wide); one is selected."""

    chosen = Signal(int)

    def __init__(self, columns: int = 5, selectable: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.columns = columns
        self.selectable = selectable
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(4)
        self.cards: list[SampleCard] = []
        self.current = 0

    def set_cards(self, cards: list[SampleCard]) -> None:
        for card in self.cards:
            card.deleteLater()
        self.cards = cards
        for i, card in enumerate(cards):
            if self.selectable:
                card.clicked.connect(self.select)
            else:
                card.setCursor(Qt.CursorShape.ArrowCursor)
            self.grid.addWidget(card, i // self.columns, i % self.columns)
        self.select(min(self.current, len(cards) - 1) if cards else 0, emit=False)

    def select(self, index: int, emit: bool = True) -> None:
        self.current = max(0, index)
        for card in self.cards:
            card.set_selected(self.selectable and card.index == self.current)
        if emit:
            self.chosen.emit(self.current)


__all__ = ["CONTROLS_WIDTH", "FGSM_COLOR", "PGD_COLOR", "CardStrip", "NEGATIVE", "POSITIVE",
           "SampleCard", "THUMB", "Triptych", "amplification", "factor_text", "fmt_eps",
           "outlined_thumbnail", "percent_axis"]
