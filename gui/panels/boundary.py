"""The Boundary panel: what the network does to the plane, and where a hidden layer puts the data.

Left, for 2-D data sets: the model's prediction over the plane as a coloured field (class
colours mixed by probability, as in TensorFlow Playground) with the validation points on top.
Right: the hidden representation, the same points as a chosen hidden layer maps them (PCA to
2-D when wider), coloured by class, so one can watch the network bend the space until the
classes separate. Payloads are ``runtime.probes.views.decision_boundary``'s and
``hidden_representation``'s.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QStackedWidget, QWidget

from gui import style, theme
from gui.panels.colormaps import (
    CLASS_COLORS,
    blend,
    class_color,
    class_colors,
    diverging_colormap,
    lookup_table,
    sequential_colormap,
    value_levels,
)
from gui.panels.monitor_panel import MonitorPanel
from gui.panels.node_choice import combo_node, fill_node_combo, node_combo, select_in_combo
from gui.panels.plot_style import format_value, set_title, style_axis, style_plot
from gui.panels.plot_widgets import hover_position, image_plot, make_plot_widget, settle_range
from runtime.probes.payloads import Boundary, Hidden

EMPTY_TEXT = ("Train the network (press Train) to watch it split the plane: the field shows "
              "what it predicts everywhere, the dots are validation samples.")
HIDDEN_EMPTY = "Select a hidden layer and train the network to see where it puts the samples."


def not_two_d_text(dataset: str) -> str:
    name = dataset or "a data set with more than two features"
    return (f"Decision boundaries need a 2-D dataset such as spirals; this project uses "
            f"{name}.")


class BoundaryPanel(MonitorPanel):
    """Signal ``node_chosen(int)``: the user picked the hidden layer in the panel."""

    node_chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(EMPTY_TEXT, parent)
        self.setObjectName("boundary_panel")
        self.dataset = ""
        self.two_d = True
        self.class_names: list[str] = []
        self._parts: dict[str, Any] = {}

        self.legend = QLabel()
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setFont(style.font("small"))
        hidden_label = QLabel("Hidden layer")
        hidden_label.setProperty("role", "dim")
        self.layer_combo = node_combo("The layer whose outputs the right plot shows (the canvas "
                                      "selection picks it too)")
        self.layer_combo.setObjectName("boundary_layer")
        self.layer_combo.currentIndexChanged.connect(self._layer_picked)
        for widget in (self.legend, hidden_label, self.layer_combo):
            self.header.addWidget(widget)

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(8)
        self.body_layout.addLayout(row, 1)
        self.left = QStackedWidget()
        self.field_view = make_plot_widget()
        self.field_plot = self.field_view.getPlotItem()
        self.field = image_plot(self.field_plot, top_down=False, axes=True)
        self.points = pg.ScatterPlotItem(size=6, pxMode=True)
        self.field_plot.addItem(self.points)
        self.field_view.scene().sigMouseMoved.connect(self._hover_field)
        self.left_message = QLabel()
        self.left_message.setObjectName("boundary_message")
        self.left_message.setWordWrap(True)
        self.left_message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.left_message.setProperty("role", "dim")
        self.left_message.setMargin(12)
        self.left.addWidget(self.field_view)
        self.left.addWidget(self.left_message)
        row.addWidget(self.left, 1)

        self.right = QStackedWidget()
        self.hidden_view = make_plot_widget()
        self.hidden_plot = self.hidden_view.getPlotItem()
        self.hidden_plot.disableAutoRange()  # ranges follow the cloud in steps (settle_range)
        self.hidden_points = pg.ScatterPlotItem(size=5, pxMode=True)
        self.hidden_plot.addItem(self.hidden_points)
        self.hidden_view.scene().sigMouseMoved.connect(self._hover_hidden)
        self.hidden_message = QLabel(HIDDEN_EMPTY)
        self.hidden_message.setWordWrap(True)
        self.hidden_message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hidden_message.setProperty("role", "dim")
        self.hidden_message.setMargin(12)
        self.right.addWidget(self.hidden_view)
        self.right.addWidget(self.hidden_message)
        row.addWidget(self.right, 1)
        self._style_plots()

        self.field_shape: tuple[int, int] = (0, 0)
        self.field_rgb: np.ndarray | None = None
        self.hidden_count = 0
        self._boundary: dict[str, Any] | None = None

    def _style_plots(self) -> None:
        style_plot(self.field_plot)
        style_plot(self.hidden_plot)
        self._axis_titles()
        self.field_plot.getViewBox().setAspectLocked(True)

    def _axis_titles(self) -> None:
        """Axis titles, or none in a short dock (the read-out names what is under the mouse)."""
        pca = (self.payload or {}).get("hidden", {}) or {}
        raw = pca.get("method") == "raw"
        titles = {(self.field_plot, "bottom"): "x\u2081", (self.field_plot, "left"): "x\u2082",
                  (self.hidden_plot, "bottom"): "unit 0" if raw else "principal component 1",
                  (self.hidden_plot, "left"): "unit 1" if raw else "principal component 2"}
        for (plot, side), text in titles.items():
            axis = plot.getAxis(side)
            if self.compact:
                axis.showLabel(False)
            else:
                style_axis(axis, text)

    def set_compact(self, compact: bool) -> None:
        self._axis_titles()
        self._field_title()

    def _field_title(self) -> None:
        """"Prediction" above the field, or no title row in a short dock: the panel's own
        title names it, and the row's height goes to the field."""
        if self.compact:
            self.field_plot.setTitle(None)
            self.field_plot._plexus_title = None  # set_title draws it again when tall
        else:
            set_title(self.field_plot, "Prediction")

    def fit_to_size(self) -> None:
        """The field is square: give it about as much width as it has height, the hidden
        view the rest."""
        height = self.stack.currentWidget().height() if self.stack.currentWidget() else 200
        if self.left.currentWidget() is self.field_view:
            aspect = 1.0
            if self._boundary is not None:
                xs, ys = self._boundary["xs"], self._boundary["ys"]
                span_y = float(ys[-1] - ys[0])
                aspect = float(xs[-1] - xs[0]) / span_y if span_y > 0 else 1.0
            aspect = min(max(aspect, 0.5), 2.0)
            chrome = 24 if self.compact else 58  # title and x axis; the y axis beside
            self.left.setMaximumWidth(max(170, int((height - chrome) * aspect + 52)))
        else:
            self.left.setMaximumWidth(max(220, min(420, self.width() // 3)))

    # choices -----------------------------------------------------------------------------------
    def set_dataset(self, name: str, two_d: bool, class_names: list[str] | None = None) -> None:
        """What the project trains on: boundaries only make sense for 2-D inputs."""
        self.dataset, self.two_d = name, bool(two_d)
        if class_names is not None:
            self.class_names = list(class_names)
        self.empty_text = EMPTY_TEXT if self.two_d else (
            not_two_d_text(name) + " Select a hidden layer and train the network to see "
            "where it puts the samples.")
        self._parts.pop("boundary", None)
        self._update_legend(len(self.class_names))
        if self.is_empty:
            self.show_empty()
        self.request_repaint()

    def set_nodes(self, choices: list[tuple[int, str]], current: int | None = None) -> None:
        fill_node_combo(self.layer_combo, choices, current)

    def set_node(self, node_id: int | None) -> None:
        if node_id is not None:
            select_in_combo(self.layer_combo, node_id)

    @property
    def node_id(self) -> int | None:
        return combo_node(self.layer_combo)

    def _layer_picked(self, _index: int) -> None:
        node_id = self.node_id
        if node_id is not None:
            self.node_chosen.emit(node_id)

    # payloads ----------------------------------------------------------------------------------
    def submit(self, payload: Any) -> None:
        """Boundary and hidden payloads arrive separately; keep the latest of each."""
        if payload and payload.get("probe") in ("boundary", "hidden"):
            self._parts[payload["probe"]] = payload
            super().submit(dict(self._parts))
        else:
            super().submit(payload)

    def reset(self) -> None:
        self._parts = {}
        super().reset()

    def render(self, payload: Any) -> None:
        boundary = (payload or {}).get("boundary")
        hidden = (payload or {}).get("hidden")
        if boundary is None and hidden is None:
            self.show_empty()
            return
        self._render_boundary(boundary)
        self._render_hidden(hidden)
        if not self.class_names and boundary is None:
            self._update_legend(0)
        self._axis_titles()
        self.fit_to_size()
        epoch = next((p.get("epoch") for p in (boundary, hidden) if p and p.get("epoch")), None)
        what = "Decision boundary" if self.two_d else "Hidden representation"
        self.title.setText(what + (f" \u00b7 epoch {epoch}" if epoch else ""))
        self.show_body()

    def _render_boundary(self, payload: Boundary | None) -> None:
        if not self.two_d or payload is None or payload.get("error"):
            text = (payload or {}).get("error") if payload else None
            if not self.two_d:
                text = not_two_d_text(self.dataset)
            self.left_message.setText(text or EMPTY_TEXT)
            self.left.setCurrentWidget(self.left_message)
            self._boundary = None
            return
        self._boundary = payload
        t = theme.current()
        xs = np.asarray(payload["xs"], np.float32)
        ys = np.asarray(payload["ys"], np.float32)
        names = list(payload.get("class_names") or self.class_names)
        probs = payload.get("probabilities")
        if probs is not None:
            probs = np.asarray(probs, np.float32)
            count = probs.shape[-1]
            names = names + [str(i) for i in range(len(names), count)]
            rgb = blend(class_colors(count), probs, t.window, strength=0.62)
            self.field.setImage(rgb, autoLevels=False, levels=(0, 255), lut=None)
            self.field_rgb = rgb
            self._update_legend(count, names)
        else:
            values = np.asarray(payload.get("values"), np.float32)
            levels, diverging = value_levels(values)
            cmap = diverging_colormap() if diverging else sequential_colormap()
            self.field.setImage(values, levels=levels, lut=lookup_table(cmap),
                                autoLevels=False)
            self.field_rgb = None
            self.legend.setText("")
        self.field_shape = (len(ys), len(xs))
        xs, ys = xs.astype(float), ys.astype(float)
        dx = float(xs[1] - xs[0]) if len(xs) > 1 else 1.0
        dy = float(ys[1] - ys[0]) if len(ys) > 1 else 1.0
        self.field.setRect(QRectF(float(xs[0]) - dx / 2, float(ys[0]) - dy / 2,
                                  dx * len(xs), dy * len(ys)))
        points = np.asarray(payload.get("points"), np.float32).reshape(-1, 2)
        labels = np.asarray(payload.get("labels"))
        self.points.setData(pos=points, brush=self._brushes(labels, len(points)),
                            pen=pg.mkPen(style.mix(t.window, "#000000", 0.35), width=0.8),
                            size=6)
        self.field_plot.setRange(xRange=(float(xs[0]) - dx / 2, float(xs[-1]) + dx / 2),
                                 yRange=(float(ys[0]) - dy / 2, float(ys[-1]) + dy / 2),
                                 padding=0)
        self._field_title()
        self.left.setCurrentWidget(self.field_view)

    def _render_hidden(self, payload: Hidden | None) -> None:
        if payload is None or payload.get("error"):
            self.hidden_message.setText((payload or {}).get("error") or HIDDEN_EMPTY)
            self.right.setCurrentWidget(self.hidden_message)
            self.hidden_count = 0
            return
        t = theme.current()
        points = np.asarray(payload["points"], np.float32).reshape(-1, 2)
        labels = np.asarray(payload.get("labels"))
        self.hidden_count = len(points)
        self.hidden_points.setData(pos=points, brush=self._brushes(labels, len(points)),
                                   pen=pg.mkPen(style.mix(t.window, "#000000", 0.35), width=0.6),
                                   size=5)
        name = payload.get("name", "")
        dims = int(payload.get("dims", 2))
        ratios = list(payload.get("explained_variance") or [0.0, 0.0])
        if payload.get("method") == "pca":
            set_title(self.hidden_plot, f"{name} \u00b7 {dims} dimensions, PCA to 2 "
                        f"({ratios[0]:.0%} + {ratios[1]:.0%} of the variance)")
        else:
            set_title(self.hidden_plot, f"{name} \u00b7 {dims} dimension"
                        f"{'s' if dims != 1 else ''}, as they are")
        if len(points):  # the axes move only when the cloud leaves them or shrinks inside
            low = points.min(0).astype(float)
            high = points.max(0).astype(float)
            settle_range(self.hidden_plot, "x", float(low[0]), float(high[0]), pad=0.06)
            settle_range(self.hidden_plot, "y", float(low[1]), float(high[1]), pad=0.06)
        self.right.setCurrentWidget(self.hidden_view)

    def _brushes(self, labels: np.ndarray, count: int) -> list[Any]:
        if labels.size != count:
            return [pg.mkBrush(theme.current().text)] * count
        if labels.dtype.kind == "f":  # regression targets: a colour scale
            levels, _ = value_levels(labels)
            lut = lookup_table(sequential_colormap())
            span = (levels[1] - levels[0]) or 1.0
            index = np.clip(((labels - levels[0]) / span * 255).astype(int), 0, 255)
            return [pg.mkBrush(*lut[i]) for i in index]
        palette = [pg.mkBrush(c) for c in CLASS_COLORS]
        return [palette[int(v) % len(palette)] for v in labels]

    def _update_legend(self, count: int, names: list[str] | None = None) -> None:
        names = names or self.class_names
        hidden = (self.payload or {}).get("hidden") if isinstance(self.payload, dict) else None
        labels = np.asarray((hidden or {}).get("labels", np.zeros(0)))
        if count <= 0 and labels.dtype.kind == "f" and labels.size:
            t = theme.current()
            lut = lookup_table(sequential_colormap())
            low, high = (f"rgb({r},{g},{b})" for r, g, b in (lut[40], lut[-1]))
            self.legend.setText(f'<span style="color:{low}">\u25cf</span>&nbsp;<span '
                                f'style="color:{t.text_dim}">low target</span>&nbsp;&nbsp;'
                                f'<span style="color:{high}">\u25cf</span>&nbsp;<span '
                                f'style="color:{t.text_dim}">high target</span>')
            return
        if count <= 0 or count > 12:
            self.legend.setText("")
            return
        t = theme.current()
        parts = [f'<span style="color:{class_color(c)}">\u25cf</span>'
                 f'&nbsp;<span style="color:{t.text_dim}">'
                 f'{names[c] if c < len(names) else c}</span>' for c in range(count)]
        self.legend.setText("&nbsp;&nbsp;&nbsp;".join(parts))

    def refresh_theme(self) -> None:
        for view in (self.field_view, self.hidden_view):
            view.setBackground(theme.current().window)
        self._style_plots()
        self._update_legend(len(self.class_names))
        super().refresh_theme()

    # hover -------------------------------------------------------------------------------------
    def _hover_field(self, pos: QPointF) -> None:
        payload = self._boundary
        point = hover_position(self.field_plot, pos)
        if payload is None or point is None:
            return
        xs, ys = np.asarray(payload["xs"]), np.asarray(payload["ys"])
        i = int(np.abs(xs - point.x()).argmin())
        j = int(np.abs(ys - point.y()).argmin())
        text = f"x\u2081 {point.x():.2f}, x\u2082 {point.y():.2f}"
        probs = payload.get("probabilities")
        if probs is not None:
            p = np.asarray(probs)[j, i]
            c = int(p.argmax())
            names = list(payload.get("class_names") or self.class_names)
            name = names[c] if c < len(names) else str(c)
            text += f" \u00b7 predicts {name} ({float(p[c]):.0%})"
        elif payload.get("values") is not None:
            text += f" \u00b7 output {format_value(float(np.asarray(payload['values'])[j, i]))}"
        self.set_readout(text)

    def _hover_hidden(self, pos: QPointF) -> None:
        point = hover_position(self.hidden_plot, pos)
        hidden = (self.payload or {}).get("hidden") or {}
        if point is None or not self.hidden_count or "points" not in hidden:
            return
        points = np.asarray(hidden["points"], np.float32).reshape(-1, 2)
        scale = np.maximum(points.max(0) - points.min(0), 1e-9)
        where = np.array([point.x(), point.y()], np.float32)
        nearest = int((((points - where) / scale) ** 2).sum(1).argmin())
        labels = np.asarray(hidden.get("labels"))
        text = f"({point.x():.2f}, {point.y():.2f})"
        if labels.size == len(points):
            value = labels[nearest]
            if labels.dtype.kind == "f":
                what = f"target {format_value(float(value))}"
            else:
                names = self.class_names
                what = f"class {names[int(value)] if int(value) < len(names) else int(value)}"
            text += f" \u00b7 nearest sample: {what}"
        self.set_readout(text)


__all__ = ["EMPTY_TEXT", "HIDDEN_EMPTY", "BoundaryPanel", "not_two_d_text"]
