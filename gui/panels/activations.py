"""The Activations panel: one validation sample followed through the network, live.

A picker offers the probe samples (``runtime.probes.views.pick_probe_samples``: a few per class,
with thumbnails and labels); the panel shows the chosen input, the selected layer's output
for it (feature maps as a grid, a dense layer as a strip, a sequence as a heat map) and the
predicted class probabilities. Payloads are ``runtime.probes.views.activations``'s, as the probe
schedule sends them (with ``val_index`` and ``label``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gui import style, theme
from gui.panels.colormaps import diverging_colormap, lookup_table, sequential_colormap, value_levels
from gui.panels.filters import shape_text
from gui.panels.image_grid import tile_grid, tile_value
from gui.panels.monitor_panel import MonitorPanel
from gui.panels.node_choice import RememberedNode, fill_node_combo, node_combo, select_in_combo
from gui.panels.plot_style import format_value, set_title, style_axis, style_plot
from gui.panels.plot_widgets import (
    center_pixels,
    hover_position,
    image_plot,
    index_axes,
    index_pixel,
    make_colorbar,
    make_layout_widget,
    make_plot_widget,
    set_colorbar,
)
from gui.panels.thumbnails import describe_sample, thumbnail
from runtime.probes.payloads import ActivationEntry, Activations, ProbeSamples

EMPTY_TEXT = ("Train the network (press Train) to follow a validation sample through it: "
              "pick the sample above and a layer on the canvas.")
INPUT_SIDE = 96


class ActivationsPanel(RememberedNode, MonitorPanel):
    """Signals: ``sample_chosen(int)`` (an index into the picker's samples) and
    ``node_chosen(int)`` when the user picks a layer in the panel."""

    sample_chosen = Signal(int)
    node_chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(EMPTY_TEXT, parent)
        self.setObjectName("activations_panel")
        self.samples: ProbeSamples | None = None
        self.class_names: list[str] = []
        self.input_nodes: list[int] = []
        self._node: int | None = None

        sample_label = QLabel("Sample")
        sample_label.setProperty("role", "dim")
        self.sample_combo = QComboBox()
        self.sample_combo.setObjectName("activations_sample")
        self.sample_combo.setToolTip("The validation sample sent through the network")
        self.sample_combo.setIconSize(QSize(24, 24))
        self.sample_combo.setMinimumWidth(150)
        self.sample_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.sample_combo.addItem("First sample", 0)
        self.prev_button = self._step_button(Qt.ArrowType.LeftArrow, "Previous sample", -1)
        self.next_button = self._step_button(Qt.ArrowType.RightArrow, "Next sample", 1)
        self.layer_combo = node_combo("The layer whose output is shown (the canvas selection "
                                      "picks it too)")
        self.layer_combo.setObjectName("activations_layer")
        for widget in (sample_label, self.sample_combo, self.prev_button, self.next_button,
                       self.layer_combo):
            self.header.addWidget(widget)
        self.sample_combo.currentIndexChanged.connect(self._sample_picked)
        self.layer_combo.currentIndexChanged.connect(self._layer_picked)

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(8)
        self.body_layout.addLayout(row, 1)

        # the input and its label
        self.input_card = QFrame()
        self.input_card.setProperty("role", "card")
        self.input_card.setFixedWidth(INPUT_SIDE + 28)
        card = QVBoxLayout(self.input_card)
        card.setContentsMargins(8, 6, 8, 6)
        card.setSpacing(4)
        heading = QLabel("Input")
        heading.setProperty("role", "dim")
        heading.setFont(style.font("small"))
        self.input_view = QLabel()
        self.input_view.setObjectName("activations_input")
        self.input_view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.input_view.setMinimumHeight(40)
        self.input_view.setWordWrap(True)
        self.input_caption = QLabel()
        self.input_caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.input_caption.setWordWrap(True)
        self.input_caption.setFont(style.font("small"))
        card.addWidget(heading)
        card.addWidget(self.input_view, 1)
        card.addWidget(self.input_caption)
        row.addWidget(self.input_card)

        # the layer's output
        self.view = make_layout_widget()
        self.plot = self.view.addPlot(row=0, col=0, axisItems=index_axes("left", "bottom"))
        style_plot(self.plot)
        self.image = image_plot(self.plot)
        self.bar = make_colorbar(self.view.ci, self.image, label="activation")
        self.view.scene().sigMouseMoved.connect(self._hover)
        row.addWidget(self.view, 1)

        # predicted class probabilities
        self.probs_view = make_plot_widget(index=("left",))
        self.probs_plot = self.probs_view.getPlotItem()
        self.probs_view.setFixedWidth(230)
        self.probs_bars = pg.BarGraphItem(x0=[], y=[], height=0.7, width=[])
        self.probs_plot.addItem(self.probs_bars)
        self.probs_plot.getViewBox().invertY(True)
        self._style_probs()
        self.probs_view.scene().sigMouseMoved.connect(self._hover_probs)
        self.output_card = QFrame()
        self.output_card.setProperty("role", "card")
        self.output_card.setFixedWidth(230)
        output = QVBoxLayout(self.output_card)
        output.setContentsMargins(10, 8, 10, 8)
        heading = QLabel("Prediction")
        heading.setProperty("role", "dim")
        heading.setFont(style.font("small"))
        self.output_text = QLabel()
        self.output_text.setObjectName("activations_output")
        self.output_text.setWordWrap(True)
        self.output_text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.output_text.setFont(style.font("large"))
        output.addWidget(heading)
        output.addWidget(self.output_text, 1)
        self.side = QStackedWidget()
        self.side.setFixedWidth(230)
        self.side.addWidget(self.probs_view)
        self.side.addWidget(self.output_card)
        row.addWidget(self.side)

        self.kind = ""
        self.grid_shape: tuple[int, ...] = ()  # what the grid shows: (C, H, W), (F,) or (L, F)
        self.tile_count = 0
        self.shown_node: int | None = None
        self.probabilities: np.ndarray | None = None
        self._tile = (0, 0)
        self._columns, self._pad = 1, 1
        self._values: np.ndarray | None = None

    def _step_button(self, arrow: Qt.ArrowType, tip: str, step: int) -> QToolButton:
        button = QToolButton()
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.setArrowType(arrow)
        button.clicked.connect(lambda: self.step_sample(step))
        return button

    def _style_probs(self) -> None:
        style_plot(self.probs_plot)
        if self.compact:
            self.probs_plot.getAxis("bottom").showLabel(False)
        else:
            style_axis(self.probs_plot.getAxis("bottom"), "probability")
        self.probs_plot.setXRange(0, 1, padding=0.02)
        self.probs_plot.getAxis("bottom").setTicks([[(0, "0"), (0.5, "0.5"), (1, "1")], []])

    # choices -----------------------------------------------------------------------------------
    def set_samples(self, samples: ProbeSamples | None, class_names: list[str] | None = None
                    ) -> None:
        """The picker's samples: ``pick_probe_samples``' dict (None: none known yet)."""
        self.samples = samples
        if class_names is not None:
            self.class_names = list(class_names)
        current = self.sample_index
        self.sample_combo.blockSignals(True)
        self.sample_combo.clear()
        if not samples or not samples.get("indices"):
            self.sample_combo.addItem("First sample", 0)
        else:
            names = samples.get("label_names") or []
            inputs = samples.get("inputs")
            for i, val_index in enumerate(samples["indices"]):
                text = f"#{val_index}"
                if i < len(names):
                    text = f"{names[i]}  \u00b7  sample #{val_index}"
                icon = QIcon()
                if isinstance(inputs, np.ndarray) and i < len(inputs):
                    pm = thumbnail(inputs[i], 24)
                    if pm is not None:
                        icon = QIcon(pm)
                    else:
                        text += f"  {describe_sample(inputs[i], 2)}"
                self.sample_combo.addItem(icon, text, i)
        self.sample_combo.setCurrentIndex(min(max(current, 0), self.sample_combo.count() - 1))
        self.sample_combo.blockSignals(False)
        self.request_repaint()

    @property
    def sample_index(self) -> int:
        data = self.sample_combo.currentData()
        return int(data) if data is not None else 0

    def step_sample(self, step: int) -> None:
        count = self.sample_combo.count()
        if count:
            self.sample_combo.setCurrentIndex((self.sample_combo.currentIndex() + step) % count)

    def _sample_picked(self, _index: int) -> None:
        self.sample_chosen.emit(self.sample_index)

    def set_nodes(self, choices: list[tuple[int, str]], current: int | None = None,
                  input_nodes: list[int] | None = None) -> None:
        """Every node with an output, as (node id, label); ``input_nodes`` are the Inputs."""
        fill_node_combo(self.layer_combo, choices, current)
        if input_nodes is not None:
            self.input_nodes = list(input_nodes)
        self._node = current


    # drawing -----------------------------------------------------------------------------------
    def layout_depends_on_size(self) -> bool:
        return self.kind in ("maps", "strip")

    def _choose(self, nodes: dict[int, Any]) -> int | None:
        if self._node is not None and self._node in nodes:
            return self._node
        layers = [i for i in nodes if i not in self.input_nodes]
        for kind in ("maps", "strip", "sequence"):
            for i in layers:
                if nodes[i].get("kind") == kind:
                    return i
        return next(iter(nodes), None)

    def render(self, payload: Any) -> None:
        if not self.drawable(payload, "Activations"):
            return
        nodes = {int(k): v for k, v in (payload.get("nodes") or {}).items()}
        self._render_input(payload, nodes)
        self._render_probabilities(payload)
        node_id = self._choose(nodes)
        self.shown_node = node_id
        entry = nodes.get(node_id) if node_id is not None else None
        if entry is None:
            self.kind, self.grid_shape, self._values = "", (), None
            self.image.clear()
            self.title.setText("Activations")
        else:
            if node_id is not None:
                select_in_combo(self.layer_combo, node_id)
            self._render_entry(entry)
        self.show_body()

    def _render_entry(self, entry: ActivationEntry) -> None:
        name = entry.get("name", "")
        full = shape_text(entry.get("shape", ()))
        kind = entry.get("kind")
        box = self.plot.getViewBox()
        if kind == "maps":
            maps = np.asarray(entry["maps"], np.float32)
            count, h, w = maps.shape
            grid, cols, _rows, pad = tile_grid(maps, aspect=self._grid_aspect())
            self.kind, self.grid_shape, self.tile_count = "maps", (count, h, w), count
            self._tile, self._columns, self._pad, self._values = (h, w), cols, pad, grid
            total = int(entry.get("channels", count))
            more = f" (first {count} of {total})" if total > count else ""
            self.title.setText(f"{name} \u00b7 {total} feature maps of {shape_text((h, w))}"
                               f"{more} \u00b7 output {full}")
            self._draw(grid, maps)
            box.setAspectLocked(True)
            self.plot.hideAxis("left")
            self.plot.hideAxis("bottom")
        elif kind == "strip":
            values = np.asarray(entry["values"], np.float32).reshape(-1)
            count = values.size
            grid, cols, _rows, _pad = tile_grid(values.reshape(-1, 1, 1), pad=0,
                                                  aspect=self._grid_aspect())
            self.kind, self.grid_shape, self.tile_count = "strip", (count,), count
            self._tile, self._columns, self._pad, self._values = (1, 1), cols, 0, grid
            whole = tuple(entry.get("shape", (count,))) == (count,)
            self.title.setText(f"{name} \u00b7 {count} units" + ("" if whole else
                                                                  f" \u00b7 output {full}"))
            self._draw(grid, values)
            box.setAspectLocked(True)
            self.plot.hideAxis("left")
            self.plot.hideAxis("bottom")
        elif kind == "sequence":
            values = np.asarray(entry["values"], np.float32)
            self.kind, self.grid_shape, self.tile_count = "sequence", values.shape, 0
            self._values = values
            self.title.setText(f"{name} \u00b7 sequence of {values.shape[0]} steps \u00d7 "
                               f"{values.shape[1]} features \u00b7 output {full}")
            self._draw(values, values)
            center_pixels(self.image, values.shape[0], values.shape[1])
            self.plot.getAxis("left").set_names(values.shape[0])
            self.plot.getAxis("bottom").set_names(values.shape[1])
            box.setAspectLocked(False)
            self.plot.showAxis("left")
            self.plot.showAxis("bottom")
            style_axis(self.plot.getAxis("left"), "step")
            style_axis(self.plot.getAxis("bottom"), "feature")
        else:
            self.kind, self._values = "omitted", None
            self.grid_shape = tuple(entry.get("shape", ()))
            self.image.clear()
            self.title.setText(f"{name} \u00b7 output {full} \u00b7 left out of this probe "
                               "(too large): select the layer on the canvas to see it")
        box.autoRange(padding=0.01)

    def _grid_aspect(self) -> float:
        width = self.body_aspect(3.0) * max(1, self.body.height() or 200)
        rest = width - self.input_card.width() - self.side.width() - 90
        return max(0.5, rest / max(1, self.body.height() or 200))

    def _draw(self, grid: np.ndarray, values: np.ndarray) -> None:
        levels, diverging = value_levels(values)
        cmap = diverging_colormap() if diverging else sequential_colormap()
        self.image.setImage(grid, levels=levels, lut=lookup_table(cmap), autoLevels=False)
        self.image.setRect(0, 0, grid.shape[1], grid.shape[0])
        set_colorbar(self.bar, cmap, levels)

    def _render_input(self, payload: Activations, nodes: dict[int, ActivationEntry]) -> None:
        sample = None
        val_index = payload.get("val_index")
        samples = self.samples or {}
        indices = list(samples.get("indices") or [])
        if val_index is not None and val_index in indices and \
                isinstance(samples.get("inputs"), np.ndarray):
            position = indices.index(val_index)
            sample = samples["inputs"][position]
            if self.sample_combo.currentIndex() != position:
                self.sample_combo.blockSignals(True)
                self.sample_combo.setCurrentIndex(position)
                self.sample_combo.blockSignals(False)
        if sample is None:
            for i in self.input_nodes:
                entry = nodes.get(i)
                if entry is not None and entry.get("kind") in ("maps", "strip", "sequence"):
                    sample = entry.get("maps", entry.get("values"))
                    break
        pixmap = thumbnail(sample, INPUT_SIDE) if sample is not None else None
        if pixmap is not None:
            self.input_view.setPixmap(pixmap)
        else:
            self.input_view.setPixmap(QIcon().pixmap(1, 1))
            self.input_view.setText(describe_sample(sample, 4) if sample is not None
                                    else "\u2014")
        label = payload.get("label")
        name = self._class_name(label) if label is not None else None
        where = f"sample #{val_index}" if val_index is not None else ""
        self.input_caption.setText(f"label {name}\n{where}" if name is not None else where)

    def _class_name(self, index: Any) -> str:
        index = int(index)
        return self.class_names[index] if 0 <= index < len(self.class_names) else str(index)

    def _render_probabilities(self, payload: Activations) -> None:
        t = theme.current()
        probs = payload.get("probabilities")
        plot = self.probs_plot
        if probs is None:  # regression (or no head): the predicted values
            self.probabilities = None
            self.probs_bars.setOpts(x0=[], y=[], width=[])
            outputs = payload.get("outputs") or {}
            values = next(iter(outputs.values()), None)
            if values is None:
                text = "\u2014"
            else:
                flat = np.asarray(values, np.float32).reshape(-1)
                text = (format_value(float(flat[0])) if flat.size == 1
                        else describe_sample(flat, 4))
            self.output_text.setText(text)
            self.side.setCurrentWidget(self.output_card)
            return
        self.side.setCurrentWidget(self.probs_view)
        probs = np.asarray(probs, np.float32).reshape(-1)
        self.probabilities = probs
        count = probs.size
        predicted = int(payload.get("predicted", int(probs.argmax())))
        label = payload.get("label")
        brushes = []
        for c in range(count):
            if c == predicted:
                color = t.accent if label is None or int(label) == c else t.error
            elif label is not None and int(label) == c:
                color = t.ok
            else:
                color = style.mix(t.window, t.text_dim, 0.55)
            brushes.append(pg.mkBrush(color))
        self.probs_bars.setOpts(x0=np.zeros(count), y=np.arange(count), width=probs,
                                height=0.72, brushes=brushes, pen=pg.mkPen(None))
        names = [self._class_name(c) for c in range(count)]
        plot.getAxis("left").set_names(count, names)
        plot.setYRange(-0.6, count - 0.4, padding=0)
        plot.setXRange(0, 1, padding=0.02)
        verdict = ""
        if label is not None:
            verdict = " \u2713" if int(label) == predicted else " \u2717"
        set_title(plot, f"Predicted {names[predicted]} \u00b7 {probs[predicted]:.0%}{verdict}")

    def set_compact(self, compact: bool) -> None:
        self._style_probs()

    def refresh_theme(self) -> None:
        for view in (self.view, self.probs_view):
            view.setBackground(theme.current().window)
        style_plot(self.plot)
        self._style_probs()
        super().refresh_theme()

    def _hover(self, pos: QPointF) -> None:
        point = self.hovered(self.plot, pos) if self._values is not None else None
        if point is None:
            return
        x, y = point.x(), point.y()
        if self.kind in ("maps", "strip"):
            hit = tile_value(self._values, x, y, self._tile, self._columns, self._pad,
                             self.tile_count)
            self.set_readout("" if hit is None else self._tile_text(*hit))
        elif self.kind == "sequence":
            r, c = index_pixel(y), index_pixel(x)
            if 0 <= r < self._values.shape[0] and 0 <= c < self._values.shape[1]:
                self.set_readout(f"step {r} \u00b7 feature {c} \u00b7 activation "
                                 f"{format_value(float(self._values[r, c]))}")

    def _tile_text(self, index: int, row: int, col: int, value: float) -> str:
        where = (f"channel {index} \u00b7 row {row}, column {col}" if self.kind == "maps"
                 else f"unit {index}")
        return f"{where} \u00b7 activation {format_value(value)}"

    def _hover_probs(self, pos: QPointF) -> None:
        if self.probabilities is None:
            return
        point = hover_position(self.probs_plot, pos)
        if point is None:
            return
        c = index_pixel(point.y())
        if 0 <= c < self.probabilities.size:
            self.set_readout(f"class {self._class_name(c)} \u00b7 probability "
                             f"{float(self.probabilities[c]):.4f}")


__all__ = ["EMPTY_TEXT", "ActivationsPanel"]
