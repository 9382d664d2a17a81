"""The Sequences panel: what a recurrent network does step by step.

For text (an Input of token ids) it colours every word of a few validation samples by one
hidden unit's activation: blue below zero, red above, white-ish near zero, so a unit that
tracks negation, a product name or the inside of a quotation stands out. The units that vary
most over the shown words are offered first. When the network has TransformerEncoderLayer nodes,
the text view also draws one sample's self-attention as a heat map: a row per word (query), a
column per word it attends to (key), averaged over heads, padding left out. For a time series
it draws the network's forecast against the actual validation series and the
repeat-the-last-value baseline, with both errors.

Computing runs on a worker (``gui.panels.trained.WatchedPanel``) through ``runtime.sequences``;
this module only draws; ``gui.panels.registry`` docks it.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from graph.catalog import CONTEXT
from gui import style, theme
from gui.panels import plot_style
from gui.panels.colormaps import lookup_table, sequential_colormap, value_levels
from gui.panels.plot_items import IndexAxis
from gui.panels.plot_widgets import (
    center_pixels,
    hover_position,
    image_plot,
    index_pixel,
    make_colorbar,
    make_layout_widget,
    set_colorbar,
)
from gui.panels.token_html import legend_html, tokens_html
from gui.panels.trained import WatchedPanel, plot_widget, style_plot
from gui.panels.upright_axis import UprightNamesAxis

if TYPE_CHECKING:  # the GUI imports torch lazily, on first analysis
    from runtime.compile import Compiled
    from runtime.sequences import Forecast, TokenActivations, TokenAttention

PAGE = 8  # text samples shown at once
NEEDS_WEIGHTS = ("Train the network first: the Sequences panel shows what a trained recurrent "
                 "network does over the words of a text or along a time series.")
NO_PROJECT = "Open a project with a text or time-series dataset."
TOKEN_LABEL = 12  # characters of a token shown on the attention map's axes
ATTENTION_HINT = "Hover a cell to read how much one word attends to another."


@dataclass(frozen=True, eq=False)
class TextAnalysis:
    """A page of text samples: one layer's units over their words, and attention if any."""

    nodes: list[tuple[int, str, int]]  # the layers with one vector per word
    view: TokenActivations
    count: int  # samples in the split
    tokenizer: str  # "word" or "char"
    attention: TokenAttention | None  # None without a TransformerEncoderLayer


@dataclass(frozen=True, eq=False)
class SeriesAnalysis:
    """A forecast along one validation series."""

    view: Forecast


COMPACT_HEIGHT = 300  # px of attention map area below which it goes compact


def _flush_column(widget: QWidget, spacing: int = 6) -> QVBoxLayout:
    """A column filling ``widget`` edge to edge (the panel's own margins frame it)."""
    box = QVBoxLayout(widget)
    box.setContentsMargins(0, 0, 0, 0)
    box.setSpacing(spacing)
    return box


def _control_row(label: str | None = None) -> QHBoxLayout:
    """A row of choosers above a view, opened by ``label`` when given."""
    row = QHBoxLayout()
    row.setSpacing(6)
    if label is not None:
        row.addWidget(QLabel(label))
    return row


def _spin(name: str, tip: str, changed: Callable[[int], Any], minimum: int | None = None
          ) -> QSpinBox:
    """A named spin box that redraws (``changed``) on every new value."""
    spin = QSpinBox()
    spin.setObjectName(name)
    if minimum is not None:
        spin.setMinimum(minimum)
    spin.setToolTip(tip)
    spin.valueChanged.connect(changed)
    return spin


class SequencePanel(WatchedPanel):
    """Token colouring by a hidden unit (text) or forecast against actual (series)."""

    result: TextAnalysis | SeriesAnalysis | None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("sequences", NO_PROJECT, parent)
        self.node_id: int | None = None
        self.page = 0
        self.pages.addWidget(self._text_page())
        self.pages.addWidget(self._series_page())

    # -- construction ----------------------------------------------------------------------------
    def _text_page(self) -> QWidget:
        page = QWidget()
        box = _flush_column(page)
        row = _control_row("Layer")
        self.layer_combo = QComboBox()
        self.layer_combo.setObjectName("sequences_layer")
        self.layer_combo.setToolTip("A layer with one vector per word (N x L x H)")
        self.layer_combo.activated.connect(self._layer_picked)
        row.addWidget(self.layer_combo)
        row.addWidget(QLabel("Unit"))
        self.unit_spin = _spin("sequences_unit",
                               "The hidden unit whose activation colours the words",
                               self._draw_text)
        row.addWidget(self.unit_spin)
        self.busiest = QPushButton("Next lively unit")
        self.busiest.setToolTip("Step through the units that vary most over the shown words")
        self.busiest.clicked.connect(self._next_busy_unit)
        row.addWidget(self.busiest)
        row.addStretch(1)
        self.prev_button = QPushButton("\u25c0")
        self.prev_button.setFixedWidth(36)
        self.prev_button.setToolTip("Previous validation samples")
        self.prev_button.clicked.connect(lambda: self._turn(-1))
        self.next_button = QPushButton("\u25b6")
        self.next_button.setFixedWidth(36)
        self.next_button.setToolTip("Next validation samples")
        self.next_button.clicked.connect(lambda: self._turn(1))
        self.page_label = QLabel()
        self.page_label.setProperty("role", "dim")
        for widget in (self.prev_button, self.page_label, self.next_button):
            row.addWidget(widget)
        box.addLayout(row)
        words = QWidget()
        words_box = _flush_column(words)
        self.text = QTextBrowser()
        self.text.setObjectName("sequences_tokens")
        self.text.setOpenLinks(False)
        words_box.addWidget(self.text, 1)
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setFont(style.font("small"))
        self.legend.setWordWrap(True)  # beside the attention map the line may not fit
        words_box.addWidget(self.legend)
        self.text_split = QSplitter(Qt.Orientation.Horizontal)
        self.text_split.setChildrenCollapsible(False)
        self.text_split.addWidget(words)
        self.text_split.addWidget(self._attention_part())
        self.text_split.setStretchFactor(0, 1)
        self.text_split.setStretchFactor(1, 1)
        self.attention.hide()
        box.addWidget(self.text_split, 1)
        return page

    def _attention_part(self) -> QWidget:
        """Heat map of one sample's self-attention (shown only for networks that attend)."""
        self.attention = QWidget()
        self.attention.setObjectName("sequences_attention")
        box = _flush_column(self.attention, spacing=4)
        row = _control_row()
        title = QLabel("Attention")  # the choosers' items name themselves: no more labels
        title.setFont(style.font("base"))
        row.addWidget(title)
        self.attention_layer = QComboBox()
        self.attention_layer.setObjectName("sequences_attention_layer")
        self.attention_layer.setToolTip("Which Transformer encoder layer's attention to draw")
        self.attention_sample = QComboBox()
        self.attention_sample.setObjectName("sequences_attention_sample")
        self.attention_sample.setToolTip("Which of the samples on the left to draw")
        for combo, letters in ((self.attention_layer, 6), (self.attention_sample, 8)):
            combo.setSizeAdjustPolicy(  # long names must not push the words aside
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(letters)
            combo.currentIndexChanged.connect(self._draw_attention)
            row.addWidget(combo, 1)
        box.addLayout(row)
        self.attention_view = make_layout_widget()
        self.attention_plot = self.attention_view.addPlot(
            row=0, col=0, axisItems={"left": IndexAxis("left"),
                                     "bottom": UprightNamesAxis("bottom")})
        self.attention_image = image_plot(self.attention_plot, top_down=True,
                                                   axes=True)
        self.attention_bar = make_colorbar(self.attention_view.ci,
                                                    self.attention_image, label="weight")
        self.attention_view.scene().sigMouseMoved.connect(self._hover_attention)
        self.attention_view.installEventFilter(self)  # resizes: compact in a short dock
        box.addWidget(self.attention_view, 1)
        self.attention_readout = QLabel(ATTENTION_HINT)
        self.attention_readout.setObjectName("sequences_attention_readout")
        self.attention_readout.setWordWrap(True)
        self.attention_readout.setFont(style.font("small"))
        box.addWidget(self.attention_readout)
        self._style_attention()
        return self.attention

    def _series_page(self) -> QWidget:
        import pyqtgraph as pg

        page = QWidget()
        box = _flush_column(page)
        row = _control_row("Series")
        self.series_spin = _spin("sequences_series", "Which validation series to draw",
                                 self._series_changed, minimum=1)
        row.addWidget(self.series_spin)
        row.addWidget(QLabel("Steps ahead"))
        self.ahead_spin = _spin("sequences_ahead",
                                "Which of the predicted steps is drawn: 1 = the next value",
                                self._series_changed, minimum=1)
        row.addWidget(self.ahead_spin)
        row.addStretch(1)
        box.addLayout(row)
        self.plot_view = plot_widget("", "time step", "value")
        plot = self.plot_view.getPlotItem()
        plot.showGrid(x=True, y=True, alpha=0.15)
        self.actual_curve = pg.PlotDataItem(name="actual")
        self.forecast_curve = pg.PlotDataItem(name="forecast")
        self.baseline_curve = pg.PlotDataItem(name="repeat last value")
        for curve in (self.actual_curve, self.baseline_curve, self.forecast_curve):
            plot.addItem(curve)
        self.window_line = pg.InfiniteLine(angle=90, movable=False)
        plot.addItem(self.window_line)
        box.addWidget(self.plot_view, 1)
        self.readout = QLabel()
        self.readout.setObjectName("sequences_readout")
        self.readout.setTextFormat(Qt.TextFormat.RichText)
        box.addWidget(self.readout)
        self._style_series()
        return page

    # -- project ---------------------------------------------------------------------------------
    def forget(self) -> None:
        """Another project: the chosen layer and page go back to the first."""
        self.node_id, self.page = None, 0

    def refresh(self) -> None:
        """Recompute what is shown (the project, its weights or its graph changed)."""
        project = self.project
        if project is None:
            self.say(NO_PROJECT)
            return
        if not project.weights:
            self.say(NEEDS_WEIGHTS)
            return
        node_id, first = self.node_id, self.page * PAGE
        series = self.series_spin.value() - 1
        ahead = self.ahead_spin.value()

        def work(compiled: Compiled, data: Any) -> TextAnalysis | SeriesAnalysis:
            from runtime import sequences

            if data.input_dtype == "long":
                nodes = sequences.sequence_nodes(compiled)
                if not nodes:
                    raise ValueError("the network has no layer with one vector per word; add "
                                     "an LSTM or GRU with output 'sequence'")
                ids = [n for n, _, _ in nodes]
                chosen = node_id if node_id in ids else next(
                    (n for n, _, _ in reversed(nodes) if compiled.graph.nodes[n].spec
                     is not None and compiled.graph.nodes[n].spec.has(CONTEXT)), ids[-1])
                count = len(data.val) if len(data.val) else len(data.train)
                start = min(first, max(0, count - 1))
                shown = list(range(start, min(start + PAGE, count)))
                view = sequences.token_activations(compiled, data, chosen, shown)
                attention = sequences.token_attention(compiled, data, shown) \
                    if sequences.attention_nodes(compiled) else None
                return TextAnalysis(nodes, view, count,
                                    getattr(data, "tokenizer", "word") or "word", attention)
            if getattr(data, "val_series", None):
                count = len(data.val_series)
                horizon = int(data.horizon)
                return SeriesAnalysis(sequences.forecast(
                    compiled, data, min(series, count - 1), min(max(1, ahead), horizon)))
            raise ValueError(f"dataset {data.name} is neither text (token ids) nor a time "
                             "series; the Sequences panel shows those two")

        self.request(work)

    def show_result(self, result: TextAnalysis | SeriesAnalysis) -> None:
        self.result = result
        if isinstance(result, TextAnalysis):
            self._show_text(result)
        else:
            self._show_series(result)

    # -- text ------------------------------------------------------------------------------------
    def _show_text(self, result: TextAnalysis) -> None:
        view = result.view
        self.node_id = view.node_id
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        for node_id, name, units in result.nodes:
            self.layer_combo.addItem(f"{name} ({units} units)", node_id)
        self.layer_combo.setCurrentIndex(self.layer_combo.findData(self.node_id))
        self.layer_combo.blockSignals(False)
        self.unit_spin.blockSignals(True)
        self.unit_spin.setRange(0, max(0, view.units - 1))
        if self.unit_spin.value() >= view.units:
            self.unit_spin.setValue(view.ranked_units[0])
        self.unit_spin.blockSignals(False)
        first = view.indices[0] if view.indices else 0
        last = view.indices[-1] if view.indices else 0
        self.page_label.setText(f"{first + 1}\u2013{last + 1} of {result.count}")
        self.prev_button.setEnabled(first > 0)
        self.next_button.setEnabled(last + 1 < result.count)
        self.pages.setCurrentIndex(1)
        self._draw_text()
        self._show_attention(result.attention)

    def _draw_text(self, *_args: Any) -> None:
        if not isinstance(self.result, TextAnalysis):
            return
        view = self.result.view
        unit = min(self.unit_spin.value(), view.units - 1)
        self.text.setHtml(tokens_html(view, unit, self.result.tokenizer))
        vmax = max((float(np.abs(v[:, unit]).max()) for v in view.values if len(v)),
                   default=0.0)
        rank = view.ranked_units.index(unit) + 1 if unit in view.ranked_units else 0
        self.legend.setText(f"{legend_html(vmax)}&nbsp;&nbsp;unit {unit} of "
                            f"'{html.escape(view.name)}': {_ordinal(rank)} most varied "
                            "over these words; hover a word for its value")

    # -- attention -------------------------------------------------------------------------------
    def eventFilter(self, watched: Any, event: Any) -> bool:  # noqa: N802 - Qt override
        if watched is self.attention_view and event.type() == QEvent.Type.Resize:
            self._fit_attention()
        return super().eventFilter(watched, event)

    def _fit_attention(self) -> None:
        """Below COMPACT_HEIGHT the map drops its column names and axis titles: in the
        default bottom dock they left the map a few pixels tall. The rows keep their names
        and the hover read-out names both words of a cell."""
        compact = self.attention_view.height() < COMPACT_HEIGHT
        self.attention_plot.getAxis("bottom").set_compact(compact)
        for side in ("left", "bottom"):
            self.attention_plot.getAxis(side).showLabel(not compact)

    def _style_attention(self) -> None:
        import pyqtgraph as pg

        t = theme.current()
        self.attention_view.setBackground(t.window)
        plot_style.style_plot(self.attention_plot, x="key: the word attended to",
                            y="query: the word attending")
        self.attention_bar.getViewBox().setBorder(pg.mkPen(t.border))
        plot_style.style_axis(self.attention_bar.getAxis("right"), "weight")
        self._fit_attention()  # styling shows the axis titles again

    def _show_attention(self, attention: TokenAttention | None) -> None:
        """Fill the layer and sample choosers from a new result, keeping the choices made."""
        if not attention or not attention.layers:
            self.attention.hide()
            return
        first_time = self.attention.isHidden()
        layer, position = self.attention_layer.currentData(), self.attention_sample.currentIndex()
        for combo in (self.attention_layer, self.attention_sample):
            combo.blockSignals(True)
            combo.clear()
        for node_id, name, heads in attention.layers:
            self.attention_layer.addItem(f"{name} ({heads} heads)", node_id)
        self.attention_layer.setCurrentIndex(max(0, self.attention_layer.findData(layer)))
        several = len(attention.layers) > 1
        self.attention_layer.setVisible(several)
        joiner = "" if isinstance(self.result, TextAnalysis) \
            and self.result.tokenizer == "char" else " "
        for index, tokens in zip(attention.indices, attention.tokens, strict=False):
            words = joiner.join(tokens[:8 if joiner else 40])
            self.attention_sample.addItem(f"#{index}  {words}", index)
            self.attention_sample.setItemData(self.attention_sample.count() - 1, words,
                                              Qt.ItemDataRole.ToolTipRole)
        self.attention_sample.setCurrentIndex(
            min(max(0, position), self.attention_sample.count() - 1))
        for combo in (self.attention_layer, self.attention_sample):
            combo.blockSignals(False)
        self.attention.show()
        if first_time:
            total = max(2, sum(self.text_split.sizes()))
            self.text_split.setSizes([total * 9 // 20, total - total * 9 // 20])
        self._draw_attention()

    def _attention_shown(self) -> tuple[TokenAttention, int, int] | None:
        """(attention result, layer node id, sample position) drawn now, or None."""
        attention = self.result.attention if isinstance(self.result, TextAnalysis) else None
        node_id = self.attention_layer.currentData()
        position = self.attention_sample.currentIndex()
        if not attention or node_id not in attention.maps or position < 0:
            return None
        return attention, node_id, position

    def _draw_attention(self, *_args: Any) -> None:
        shown = self._attention_shown()
        if shown is None:
            return
        attention, node_id, position = shown
        tokens = attention.tokens[position]
        weights = attention.maps[node_id][position]
        count = len(tokens)
        labels = [_token_label(token) for token in tokens]
        for side in ("left", "bottom"):
            self.attention_plot.getAxis(side).set_names(count, labels)
        if not count:
            self.attention_image.clear()
            self.attention_readout.setText(
                f"Sample #{attention.indices[position]} has no words (it is all padding); "
                "choose another sample.")
            return
        cmap = sequential_colormap()
        levels, _ = value_levels(weights)
        self.attention_image.setImage(weights, levels=levels, lut=lookup_table(cmap),
                                      autoLevels=False)
        center_pixels(self.attention_image, count, count)
        set_colorbar(self.attention_bar, cmap, levels)
        self.attention_plot.getViewBox().autoRange(padding=0.01)
        self.attention_readout.setText(self._attention_summary(attention, node_id, position))

    def _attention_summary(self, attention: TokenAttention, node_id: int, position: int
                           ) -> str:
        name, heads = next((n, h) for i, n, h in attention.layers if i == node_id)
        padding = attention.padding[node_id][position]
        note = (f" Padding got {padding:.0%} of it (the layer does not mask padding) and is "
                "not drawn." if padding >= 0.005 else "")
        return (f"'{name}', mean of {heads} heads: each row shows how one word spreads its "
                f"attention over the words.{note} {ATTENTION_HINT}")

    def _hover_attention(self, pos: QPointF) -> None:
        shown = self._attention_shown()
        if shown is None:
            return
        attention, node_id, position = shown
        tokens = attention.tokens[position]
        point = hover_position(self.attention_plot, pos)
        r, c = (index_pixel(point.y()), index_pixel(point.x())) \
            if point is not None else (-1, -1)
        if not (0 <= r < len(tokens) and 0 <= c < len(tokens)):
            self.attention_readout.setText(self._attention_summary(attention, node_id,
                                                                   position))
            return
        weight = float(attention.maps[node_id][position][r, c])
        self.attention_readout.setText(f"'{tokens[r]}' attends to '{tokens[c]}': {weight:.2f}")

    def _next_busy_unit(self) -> None:
        if not isinstance(self.result, TextAnalysis):
            return
        ranked = self.result.view.ranked_units[:8]
        unit = self.unit_spin.value()
        position = ranked.index(unit) + 1 if unit in ranked else 0
        self.unit_spin.setValue(ranked[position % len(ranked)])

    def _layer_picked(self, index: int) -> None:
        self.node_id = self.layer_combo.itemData(index)
        self.unit_spin.setValue(0)
        self.refresh()

    def _turn(self, step: int) -> None:
        self.page = max(0, self.page + step)
        self.refresh()

    # -- series ----------------------------------------------------------------------------------
    def _style_series(self) -> None:
        import pyqtgraph as pg

        t = theme.current()
        self.plot_view.setBackground(t.window)
        legend = "&nbsp;&nbsp;&nbsp;".join(  # the title row: a legend never hides a curve
            f"<span style='color:{color}'>{glyph}</span>&nbsp;"
            f"<span style='color:{t.text_dim}'>{name}</span>"
            for color, glyph, name in ((t.text_dim, "\u2501\u2501", "actual"),
                                       (t.warning, "\u254c\u254c", "repeat last value"),
                                       (t.accent, "\u2501\u2501", "forecast")))
        style_plot(self.plot_view.getPlotItem(), legend, "time step", "value")
        self.actual_curve.setPen(pg.mkPen(t.text_dim, width=1.5))
        self.forecast_curve.setPen(pg.mkPen(t.accent, width=2))
        self.baseline_curve.setPen(pg.mkPen(t.warning, width=1, style=Qt.PenStyle.DashLine))
        self.window_line.setPen(pg.mkPen(t.border, width=1, style=Qt.PenStyle.DotLine))

    def _show_series(self, result: SeriesAnalysis) -> None:
        view = result.view
        for spin, high, value in ((self.series_spin, view.series_count, view.series + 1),
                                  (self.ahead_spin, view.horizon, view.steps_ahead)):
            spin.blockSignals(True)
            spin.setMaximum(max(spin.minimum(), high))
            spin.setValue(value)
            spin.blockSignals(False)
        time = view.time.astype(float)
        self.actual_curve.setData(time, view.actual)
        self.forecast_curve.setData(time, view.predicted, connect="finite")
        self.baseline_curve.setData(time, view.baseline, connect="finite")
        self.window_line.setPos(view.window - 0.5)
        t = theme.current()
        ratio = view.mse / view.baseline_mse if view.baseline_mse else float("nan")
        verdict = t.ok if ratio <= 0.5 else t.warning if ratio < 1 else t.error
        self.readout.setText(
            f"Forecast {view.steps_ahead} step(s) ahead from windows of {view.window}: "
            f"<b>MSE {view.mse:.4g}</b> against <b>{view.baseline_mse:.4g}</b> for "
            f"repeating the last value (<span style='color:{verdict}'>{ratio:.0%} of the "
            f"baseline</span>) \u00b7 series {view.series + 1} of {view.series_count}, "
            f"{html.escape(view.feature)}")
        self.pages.setCurrentIndex(2)

    def _series_changed(self, *_args: Any) -> None:
        if isinstance(self.result, SeriesAnalysis):
            self.refresh()

    def refresh_theme(self, *_args: Any) -> None:
        self._style_series()
        self._style_attention()
        if self.result:
            self.show_result(self.result)


def _token_label(token: str) -> str:
    """A token as an axis label: a space made visible, a long word cut."""
    if not token.strip():
        return "\u2423"
    return token if len(token) <= TOKEN_LABEL else token[:TOKEN_LABEL - 1] + "\u2026"


def _ordinal(n: int) -> str:
    if n <= 0:
        return "not among the"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
