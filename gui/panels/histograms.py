"""The Histograms panel: weights and gradients per layer, to spot vanishing or exploding
gradients.

Left, every layer's weight and gradient norms on a log scale, in network order: gradients that
shrink by orders of magnitude towards the input are vanishing, ones that grow are exploding.
Right, the chosen layer's weight histogram and gradient histogram. Payloads are
``runtime.probes.views.histograms``'s.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QStackedWidget, QWidget

from gui import style, theme
from gui.panels.monitor_panel import MonitorPanel
from gui.panels.node_choice import RememberedNode, fill_node_combo, node_combo, select_in_combo
from gui.panels.plot_style import format_value, set_title, style_axis, style_plot
from gui.panels.plot_widgets import hover_position, index_pixel, make_plot_widget, settle_range
from runtime.probes.payloads import NodeHistograms

EMPTY_TEXT = ("Train the network (press Train) to see the weights and gradients of every "
              "layer: gradients that shrink towards the input are vanishing, ones that grow "
              "are exploding.")
VANISHING = 1e-6
EXPLODING = 1e3
SUPERSCRIPT = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076"
                            "\u2077\u2078\u2079")


def power_label(exponent: int) -> str:
    return "1" if exponent == 0 else "10" + str(exponent).translate(SUPERSCRIPT)


class HistogramsPanel(RememberedNode, MonitorPanel):
    """Signal ``node_chosen(int)``: the user picked a layer in the panel."""

    node_chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(EMPTY_TEXT, parent)
        self.setObjectName("histograms_panel")
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setFont(style.font("small"))
        self.layer_combo = node_combo("The layer whose histograms are shown (the canvas "
                                      "selection picks it too)")
        self.layer_combo.setObjectName("histograms_layer")
        self.layer_combo.currentIndexChanged.connect(self._layer_picked)
        self.header.addWidget(self.legend)
        self.header.addWidget(self.layer_combo)

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(8)
        self.body_layout.addLayout(row, 1)
        self.norm_view = make_plot_widget(index=("left",))
        self.norm_plot = self.norm_view.getPlotItem()
        self.norm_plot.getViewBox().invertY(True)
        self.highlight = pg.BarGraphItem(x0=[0], y=[0], height=1.0, width=[0])
        self.weight_bars = pg.BarGraphItem(x0=[], y=[], height=0.36, width=[])
        self.grad_bars = pg.BarGraphItem(x0=[], y=[], height=0.36, width=[])
        for item in (self.highlight, self.weight_bars, self.grad_bars):
            self.norm_plot.addItem(item)
        self.norm_view.scene().sigMouseMoved.connect(self._hover_norms)
        self.norm_view.scene().sigMouseClicked.connect(self._click_norms)
        row.addWidget(self.norm_view, 4)

        self.weight_view = make_plot_widget()
        self.weight_plot = self.weight_view.getPlotItem()
        self.weight_curve = pg.PlotDataItem(stepMode="center", fillLevel=0, antialias=False)
        self.weight_plot.addItem(self.weight_curve)
        self.weight_view.scene().sigMouseMoved.connect(
            lambda pos: self._hover_hist(pos, self.weight_plot, "weights"))
        row.addWidget(self.weight_view, 3)

        self.grad_view = make_plot_widget()
        self.grad_plot = self.grad_view.getPlotItem()
        self.grad_curve = pg.PlotDataItem(stepMode="center", fillLevel=0, antialias=False)
        self.grad_plot.addItem(self.grad_curve)
        self.grad_view.scene().sigMouseMoved.connect(
            lambda pos: self._hover_hist(pos, self.grad_plot, "grads"))
        self.grad_message = QLabel("No gradients yet: they appear while the network trains.")
        self.grad_message.setObjectName("histograms_no_gradients")
        self.grad_message.setWordWrap(True)
        self.grad_message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.grad_message.setProperty("role", "dim")
        self.grad_message.setMargin(12)
        self.grad_stack = QStackedWidget()
        self.grad_stack.addWidget(self.grad_view)
        self.grad_stack.addWidget(self.grad_message)
        row.addWidget(self.grad_stack, 3)
        for curve in (self.weight_curve, self.grad_curve):
            curve.curve.setSegmentedLineMode("off")
        for plot in (self.weight_plot, self.grad_plot):
            plot.disableAutoRange()  # ranges follow the data in steps (_show_histogram)
        self._style_plots()

        self.order: list[int] = []  # node ids drawn in the norms plot, top to bottom
        self.nodes: dict[int, Any] = {}
        self._norm_ticks: list[Any] = []  # the norms axis's ticks now
        self.shown_node: int | None = None
        self._node: int | None = None
        self._base = 0.0

    def _style_plots(self) -> None:
        t = theme.current()
        style_plot(self.norm_plot)
        style_plot(self.weight_plot)
        style_plot(self.grad_plot)
        self.set_compact(self.compact)
        self.weight_curve.setPen(pg.mkPen(style.mix(t.window, t.text, 0.75), width=1))
        self.weight_curve.setBrush(pg.mkBrush(style.mix(t.window, t.text_dim, 0.45)))
        self.grad_curve.setPen(pg.mkPen(t.accent, width=1))
        self.grad_curve.setBrush(pg.mkBrush(style.mix(t.window, t.accent, 0.55)))
        self.legend.setText(
            f'<span style="color:{self._weight_color()}">\u25a0</span>'
            f'&nbsp;<span style="color:{t.text_dim}">weight norm</span>&nbsp;&nbsp;&nbsp;'
            f'<span style="color:{t.accent}">\u25a0</span>'
            f'&nbsp;<span style="color:{t.text_dim}">gradient norm</span>')

    def set_compact(self, compact: bool) -> None:
        """Axis titles only when there is room for them (the plot titles say what is shown)."""
        titles = {(self.norm_plot, "bottom"): "norm (log scale)",
                  (self.weight_plot, "bottom"): "weight", (self.weight_plot, "left"): "count",
                  (self.grad_plot, "bottom"): "gradient", (self.grad_plot, "left"): "count"}
        for (plot, side), text in titles.items():
            if compact:
                plot.getAxis(side).showLabel(False)
            else:
                style_axis(plot.getAxis(side), text)

    def _weight_color(self) -> str:
        t = theme.current()
        return style.mix(t.window, t.text_dim, 0.75)

    # choices -----------------------------------------------------------------------------------
    def set_nodes(self, choices: list[tuple[int, str]], current: int | None = None) -> None:
        fill_node_combo(self.layer_combo, choices, current)
        self._node = current


    # drawing -----------------------------------------------------------------------------------
    def render(self, payload: Any) -> None:
        if not self.drawable(payload, "Weights and gradients"):
            return
        nodes = {int(k): v for k, v in (payload.get("nodes") or {}).items()}
        if not nodes:
            self.show_empty("This network has no layers with weights yet: add a Linear or "
                            "Conv2d layer.")
            return
        self.nodes = nodes
        self.order = list(nodes)
        if self.layer_combo.count() == 0:  # no graph told us the layers: use the payload's
            fill_node_combo(self.layer_combo, [(i, str(e.get("name", i))) for i, e in
                                               nodes.items()], self._node)
        chosen = self._node if self._node in nodes else self.order[0]
        self.shown_node = chosen
        select_in_combo(self.layer_combo, chosen)
        self._render_norms(chosen)
        self._render_histograms(nodes[chosen])
        epoch = payload.get("epoch")
        self.title.setText(self._summary() + (f" \u00b7 epoch {epoch}" if epoch else ""))
        self.show_body()

    def _summary(self) -> str:
        grads = [(i, e["grad_norm"]) for i, e in self.nodes.items()
                 if e.get("grad_norm") is not None]
        bad = sum(int(e.get("nonfinite") or 0) for e in self.nodes.values())
        if bad:
            return f"{bad:,} weights are NaN or infinite: lower the learning rate"
        if not grads:
            return "Weights per layer (gradients appear while training)"
        small = [i for i, g in grads if g < VANISHING]
        large = [i for i, g in grads if g > EXPLODING or not math.isfinite(g)]
        if large:
            return (f"Exploding gradients in {self.nodes[large[0]]['name']}: lower the learning "
                    "rate or turn on gradient clipping")
        if small:
            return (f"Vanishing gradients in {self.nodes[small[0]]['name']}: try ReLU, "
                    "normalization or residual connections")
        norms = [g for _, g in grads]
        return (f"Gradient norms {format_value(min(norms))} to {format_value(max(norms))} "
                "across layers")

    def _render_norms(self, chosen: int) -> None:
        t = theme.current()
        count = len(self.order)
        weights = np.array([float(self.nodes[i]["weight_norm"]) for i in self.order])
        grads = np.array([float(self.nodes[i]["grad_norm"])
                          if self.nodes[i].get("grad_norm") is not None else np.nan
                          for i in self.order])
        values = np.concatenate([weights, grads])
        positive = values[np.isfinite(values) & (values > 0)]
        low = math.floor(math.log10(positive.min())) if positive.size else -1
        high = math.ceil(math.log10(positive.max())) if positive.size else 1
        if high <= low:
            high = low + 1
        base = low - 0.5
        self._base = base

        def widths(v: np.ndarray) -> np.ndarray:
            with np.errstate(divide="ignore", invalid="ignore"):
                logs = np.where(np.isfinite(v) & (v > 0), np.log10(v), np.nan)
            return np.nan_to_num(logs - base, nan=0.0)

        y = np.arange(count, dtype=float)
        self.weight_bars.setOpts(x0=np.full(count, base), y=y - 0.19, width=widths(weights),
                                 height=0.36, brush=pg.mkBrush(self._weight_color()),
                                 pen=pg.mkPen(None))
        self.grad_bars.setOpts(x0=np.full(count, base), y=y + 0.19, width=widths(grads),
                               height=0.36, brush=pg.mkBrush(t.accent), pen=pg.mkPen(None))
        index = self.order.index(chosen)
        self.highlight.setOpts(x0=[base], y=[index], width=[high + 0.5 - base], height=1.0,
                               brush=pg.mkBrush(style.mix(t.window, t.text, 0.08)),
                               pen=pg.mkPen(None))
        names = [str(self.nodes[i]["name"]) for i in self.order]
        self.norm_plot.getAxis("left").set_names(count, names)
        step = max(1, math.ceil((high - low) / 6))
        ticks = [[(e, power_label(e)) for e in range(low, high + 1, step)], []]
        if ticks != self._norm_ticks:  # new ticks redraw the axis: only when they change
            self._norm_ticks = ticks
            self.norm_plot.getAxis("bottom").setTicks(ticks)
        self.norm_plot.setXRange(base, high + 0.5, padding=0)
        self.norm_plot.setYRange(-0.6, count - 0.4, padding=0)
        set_title(self.norm_plot, "Norms per layer")

    def _render_histograms(self, entry: NodeHistograms) -> None:
        name = entry.get("name", "")
        self._show_histogram(self.weight_plot, self.weight_curve, entry["weights"])
        set_title(self.weight_plot, f"{name} weights \u00b7 \u2016w\u2016 "
                    f"{format_value(float(entry['weight_norm']))}")
        grads = entry.get("grads")
        if grads is None:
            self.grad_curve.setData([], [])
            self.grad_stack.setCurrentWidget(self.grad_message)
            return
        self.grad_stack.setCurrentWidget(self.grad_view)
        self._show_histogram(self.grad_plot, self.grad_curve, grads)
        norm = entry.get("grad_norm")
        flag = ""
        if norm is not None and (norm > EXPLODING or not math.isfinite(norm)):
            flag = " \u00b7 exploding?"
        elif norm is not None and norm < VANISHING:
            flag = " \u00b7 vanishing?"
        norm_text = format_value(float(norm)) if norm is not None else "\u2013"
        set_title(self.grad_plot, f"{name} gradients \u00b7 \u2016g\u2016 {norm_text}{flag}")

    @staticmethod
    def _show_histogram(plot: pg.PlotItem, curve: pg.PlotDataItem, histogram: Any) -> None:
        """Draw (counts, edges); the axes move only when the histogram leaves them or shrinks
        well inside (weights drift a little each epoch: auto-range would redraw both axes)."""
        counts, edges = (np.asarray(a, float) for a in histogram)
        curve.setData(edges, counts)
        if len(edges) > 1:
            settle_range(plot, "x", float(edges[0]), float(edges[-1]), pad=0.02)
            settle_range(plot, "y", 0.0, float(counts.max()) if len(counts) else 1.0, pad=0.05)

    def refresh_theme(self) -> None:
        for view in (self.norm_view, self.weight_view, self.grad_view):
            view.setBackground(theme.current().window)
        self._style_plots()
        super().refresh_theme()

    # hover and click ---------------------------------------------------------------------------
    def _row_at(self, pos: QPointF) -> int | None:
        point = hover_position(self.norm_plot, pos)
        if point is None or not self.order:
            return None
        row = index_pixel(point.y())
        return row if 0 <= row < len(self.order) else None

    def _hover_norms(self, pos: QPointF) -> None:
        row = self._row_at(pos)
        if row is None:
            return
        entry = self.nodes[self.order[row]]
        grad = entry.get("grad_norm")
        grad_text = format_value(float(grad)) if grad is not None else "none yet"
        self.set_readout(f"{entry['name']}: {int(entry.get('params', 0)):,} parameters \u00b7 "
                         f"weight norm {format_value(float(entry['weight_norm']))} \u00b7 "
                         f"gradient norm {grad_text} (click to show its histograms)")

    def _click_norms(self, event: Any) -> None:
        row = self._row_at(event.scenePos())
        if row is not None:
            node_id = self.order[row]
            self.set_node(node_id)
            self.node_chosen.emit(node_id)

    def _hover_hist(self, pos: QPointF, plot: pg.PlotItem, key: str) -> None:
        point = hover_position(plot, pos)
        entry = self.nodes.get(self.shown_node) if self.shown_node is not None else None
        if point is None or entry is None or entry.get(key) is None:
            return
        counts, edges = (np.asarray(a) for a in entry[key])
        index = int(np.searchsorted(edges, point.x())) - 1
        if 0 <= index < len(counts):
            what = "weights" if key == "weights" else "gradients"
            self.set_readout(f"{int(counts[index]):,} {what} between "
                             f"{format_value(float(edges[index]))} and "
                             f"{format_value(float(edges[index + 1]))}")


__all__ = ["EMPTY_TEXT", "HistogramsPanel", "power_label"]
