"""The Confusion panel: where the classifier goes wrong on the validation set, live.

The confusion matrix (rows: true class, columns: predicted) with the count written in each
cell and coloured by its share of the true class, per-class accuracy bars, and the samples the
network gets wrong with the most confidence, as thumbnails with true class, prediction and
confidence. Payloads are ``runtime.probes.views.confusion``'s.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from gui import style, theme
from gui.panels.colormaps import lookup_table, sequential_colormap
from gui.panels.monitor_panel import MonitorPanel
from gui.panels.plot_items import GridLabels
from gui.panels.plot_style import set_title, style_axis, style_plot
from gui.panels.plot_widgets import (
    center_pixels,
    hover_position,
    image_plot,
    index_pixel,
    make_plot_widget,
    set_colorbar,
)
from gui.panels.thumbnails import describe_sample, picture_with_caption, thumbnail
from runtime.probes.payloads import Confusion

EMPTY_TEXT = ("Train the network (press Train) to see which classes it confuses on the "
              "validation set, and the samples it gets wrong with the most confidence.")
THUMB = 44
MIN_CELL_FOR_TEXT = 11  # pixels: smaller cells show their count on hover only


class ConfusionPanel(MonitorPanel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(EMPTY_TEXT, parent)
        self.setObjectName("confusion_panel")
        self.class_names: list[str] = []
        self.unit = "samples"  # what the matrix counts: samples, or a tagger's tokens
        self.matrix: np.ndarray | None = None
        self.per_class: np.ndarray | None = None
        self.cell_labels = GridLabels((0.5, 0.5), MIN_CELL_FOR_TEXT)
        self.acc_labels = GridLabels((0.0, 0.5), MIN_CELL_FOR_TEXT)
        self.wrong_cards: list[QFrame] = []
        self._thumbnails: dict[int, Any] = {}  # validation index -> pixmap
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(8)
        self.body_layout.addLayout(row, 1)

        self.matrix_view = make_plot_widget(index=("left", "bottom"))
        self.matrix_plot = self.matrix_view.getPlotItem()
        self.image = image_plot(self.matrix_plot, top_down=True, axes=True)
        self.matrix_plot.getViewBox().setAspectLocked(False)  # cells fill the plot
        self.matrix_view.scene().sigMouseMoved.connect(self._hover_matrix)
        self.matrix_plot.addItem(self.cell_labels, ignoreBounds=True)
        self.color_bar = pg.ColorBarItem(values=(0.0, 1.0), colorMap=sequential_colormap(),
                                         interactive=False, width=10, label="share of row")
        self.color_bar.setImageItem(self.image, insert_in=self.matrix_plot)
        row.addWidget(self.matrix_view, 3)

        self.acc_view = make_plot_widget(index=("left",))
        self.acc_plot = self.acc_view.getPlotItem()
        self.acc_bars = pg.BarGraphItem(x0=[], y=[], height=0.7, width=[])
        self.acc_plot.addItem(self.acc_bars)
        self.acc_plot.getViewBox().invertY(True)
        self.acc_view.scene().sigMouseMoved.connect(self._hover_accuracy)
        self.acc_plot.addItem(self.acc_labels, ignoreBounds=True)
        self.acc_view.setMinimumWidth(150)
        row.addWidget(self.acc_view, 2)

        wrong = QWidget()
        wrong_layout = QVBoxLayout(wrong)
        wrong_layout.setContentsMargins(0, 0, 0, 0)
        wrong_layout.setSpacing(4)
        self.wrong_title = QLabel("Most confidently wrong")
        self.wrong_title.setFont(style.font("base"))
        self.wrong_title.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        wrong_layout.addWidget(self.wrong_title)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.cards = QWidget()
        self.cards_layout = QGridLayout(self.cards)
        self.cards_layout.setContentsMargins(0, 0, 0, 0)
        self.cards_layout.setSpacing(6)
        self.cards_layout.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.scroll.setWidget(self.cards)
        wrong_layout.addWidget(self.scroll, 1)
        self.wrong_widget = wrong
        row.addWidget(wrong, 3)
        self._style_plots()

    def _style_plots(self) -> None:
        style_plot(self.matrix_plot)
        style_plot(self.acc_plot)
        self.set_compact(self.compact)
        self.acc_plot.getAxis("bottom").setTicks([[(0, "0"), (0.5, "50%"), (1, "100%")], []])
        self.acc_plot.getAxis("bottom").setStyle(hideOverlappingLabels=False)

    def set_compact(self, compact: bool) -> None:
        """A short dock: the axis titles go into the plot titles."""
        for plot, side, text in ((self.matrix_plot, "bottom", "predicted"),
                                 (self.matrix_plot, "left", "true class"),
                                 (self.acc_plot, "bottom", "accuracy")):
            if compact:
                plot.getAxis(side).showLabel(False)
            else:
                style_axis(plot.getAxis(side), text)
        set_title(self.matrix_plot, "True class (rows) \u00d7 predicted" if compact
                    else "Confusion matrix")
        set_title(self.acc_plot, "Per-class accuracy")

    def set_classes(self, names: list[str]) -> None:
        """The data set's class names (a data set was loaded: old thumbnails are stale)."""
        self.class_names = list(names)
        self._forget_thumbnails()

    def _forget_thumbnails(self) -> None:
        self._thumbnails = {}
        for card in self.wrong_cards:
            card.sample = None  # its picture is redrawn at the next render

    def _name(self, index: int, names: list[str]) -> str:
        return names[index] if 0 <= index < len(names) else str(index)

    # drawing -----------------------------------------------------------------------------------
    def layout_depends_on_size(self) -> bool:
        return self.matrix is not None

    def render(self, payload: Any) -> None:
        if not self.drawable(payload, "Confusion"):
            return
        matrix = np.asarray(payload["matrix"], np.int64)
        names = list(payload.get("class_names") or self.class_names)
        count = matrix.shape[0]
        names = names + [str(i) for i in range(len(names), count)]
        self.matrix = matrix
        samples = int(payload.get("samples", matrix.sum()))
        epoch = payload.get("epoch")
        self.unit = str(payload.get("unit") or "samples")
        self.title.setText(f"Accuracy {float(payload.get('accuracy', 0.0)):.1%} on {samples:,} "
                           f"validation {self.unit}" + (f" \u00b7 epoch {epoch}" if epoch else ""))
        self.wrong_widget.setVisible(self.unit == "samples")  # a token has no thumbnail
        self.show_body()
        self._render_matrix(matrix, names)
        self._render_accuracy(np.asarray(payload.get("per_class_accuracy"), np.float32), names)
        self._render_wrong(payload, names)

    def _render_matrix(self, matrix: np.ndarray, names: list[str]) -> None:
        t = theme.current()
        count = matrix.shape[0]
        rows = matrix.sum(1, keepdims=True)
        share = np.where(rows > 0, matrix / np.maximum(rows, 1), 0.0).astype(np.float32)
        cmap = sequential_colormap()
        self.image.setImage(share, levels=(0.0, 1.0), lut=lookup_table(cmap),
                            autoLevels=False)
        set_colorbar(self.color_bar, cmap, (0.0, 1.0))  # redone only when the theme changes
        center_pixels(self.image, count, count)
        self.matrix_plot.getViewBox().setRange(xRange=(-0.5, count - 0.5),
                                               yRange=(-0.5, count - 0.5), padding=0.02)
        self.matrix_plot.getAxis("left").set_names(count, names)
        self.matrix_plot.getAxis("bottom").set_names(count, names)
        r, c = np.divmod(np.arange(count * count), count)
        bright = share.reshape(-1) > 0.55
        dark_text = t.base if t.name == "dark" else "#ffffff"
        colors = [dark_text if b else (t.text if v else t.text_dim)
                  for b, v in zip(bright, matrix.reshape(-1), strict=True)]
        self.cell_labels.set_labels(np.stack([c, r], 1), [str(int(v)) for v in
                                                          matrix.reshape(-1)], colors)

    def _render_accuracy(self, per_class: np.ndarray, names: list[str]) -> None:
        t = theme.current()
        count = per_class.size
        self.per_class = per_class
        values = np.nan_to_num(per_class, nan=0.0)
        brushes = [pg.mkBrush(t.ok if v >= 0.9 else t.warning if v >= 0.7 else t.error)
                   for v in values]
        self.acc_bars.setOpts(x0=np.zeros(count), y=np.arange(count), width=values,
                              height=0.7, brushes=brushes, pen=pg.mkPen(None))
        self.acc_plot.getAxis("left").set_names(count, names)
        self.acc_plot.setYRange(-0.6, count - 0.4, padding=0)
        self.acc_plot.setXRange(0, 1.25, padding=0)
        texts = ["\u2013" if np.isnan(v) else f"{v:.0%}" for v in per_class.tolist()]
        self.acc_labels.set_labels(np.stack([np.minimum(values, 1.0), np.arange(count)], 1),
                                   texts, [t.text_dim] * count)

    def _render_wrong(self, payload: Confusion, names: list[str]) -> None:
        """Cards are made once and refilled; thumbnails are kept per validation sample (the
        same samples tend to stay wrong from one epoch to the next)."""
        wrong = list(payload.get("wrong") or [])
        inputs = payload.get("wrong_inputs")
        title = f"Most confidently wrong ({len(wrong)})" if wrong else "No wrong predictions"
        if self.wrong_title.text() != title:
            self.wrong_title.setText(title)
        width = self.scroll.viewport().width() or 300
        columns = max(1, width // (THUMB + 44))
        while len(self.wrong_cards) < len(wrong):
            card = self._card()
            self.wrong_cards.append(card)
        for index, card in enumerate(self.wrong_cards):
            if index >= len(wrong):
                card.hide()
                continue
            item = wrong[index]
            sample = inputs[index] if inputs is not None and index < len(inputs) else None
            self._fill_card(card, item, sample, names)
            position = self.cards_layout.getItemPosition(self.cards_layout.indexOf(card))
            if position[:2] != (index // columns, index % columns):
                self.cards_layout.removeWidget(card)
                self.cards_layout.addWidget(card, index // columns, index % columns)
            card.show()

    def _card(self) -> QFrame:
        card = QFrame()
        card.setProperty("role", "card")
        card.setObjectName("wrong_card")
        layout = QVBoxLayout(card)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        card.picture, card.caption = picture_with_caption(layout)
        self.cards_layout.addWidget(card, len(self.wrong_cards), 0)
        return card

    def _fill_card(self, card: QFrame, item: dict[str, Any], sample: Any, names: list[str]
                   ) -> None:
        """Refill a card: its picture only for another sample, its caption only when the
        text changed (a QLabel's new text or pixmap re-lays out and repaints the cards; the
        same samples tend to stay wrong from one epoch to the next)."""
        t = theme.current()
        index = int(item["index"])
        if getattr(card, "sample", None) != index:
            card.sample = index
            pixmap = self._thumbnails.get(index)
            if pixmap is None and sample is not None:
                pixmap = thumbnail(sample, THUMB)
                if pixmap is not None:
                    self._thumbnails[index] = pixmap
            if pixmap is not None:
                card.picture.setPixmap(pixmap)
            else:
                card.picture.setText(describe_sample(sample, 2) if sample is not None else "")
                card.picture.setFont(style.font("small"))
        true_name = self._name(int(item["true"]), names)
        pred_name = self._name(int(item["pred"]), names)
        caption = (f'<span style="color:{t.ok}">{true_name}</span>'
                   f'<span style="color:{t.text_dim}"> \u2192 </span>'
                   f'<span style="color:{t.error}">{pred_name}</span>'
                   f'<span style="color:{t.text_dim}"> {item["confidence"]:.0%}</span>')
        if card.caption.text() != caption:
            card.caption.setText(caption)
        card.setToolTip(f"Validation sample #{index}: a {true_name}, predicted {pred_name} "
                        f"with {item['confidence']:.1%} confidence")

    def reset(self) -> None:
        self._forget_thumbnails()
        super().reset()

    def refresh_theme(self) -> None:
        for view in (self.matrix_view, self.acc_view):
            view.setBackground(theme.current().window)
        self._style_plots()
        super().refresh_theme()

    # hover -------------------------------------------------------------------------------------
    def _names(self) -> list[str]:
        names = list((self.payload or {}).get("class_names") or self.class_names)
        return names

    def _hover_matrix(self, pos: QPointF) -> None:
        point = hover_position(self.matrix_plot, pos)
        if self.matrix is None or point is None:
            return
        r, c = index_pixel(point.y()), index_pixel(point.x())
        count = self.matrix.shape[0]
        if 0 <= r < count and 0 <= c < count:
            names = self._names()
            total = int(self.matrix[r].sum())
            value = int(self.matrix[r, c])
            share = f" ({value / total:.0%} of them)" if total else ""
            self.set_readout(f"{value} of {total} {self.unit} of class {self._name(r, names)} "
                             f"predicted as {self._name(c, names)}{share}")

    def _hover_accuracy(self, pos: QPointF) -> None:
        point = hover_position(self.acc_plot, pos)
        if self.per_class is None or point is None:
            return
        r = index_pixel(point.y())
        if 0 <= r < self.per_class.size:
            value = float(self.per_class[r])
            text = "no samples" if np.isnan(value) else f"{value:.1%} correct"
            self.set_readout(f"class {self._name(r, self._names())}: {text}")


__all__ = ["EMPTY_TEXT", "ConfusionPanel"]
