"""The Filters panel: a layer's weights, live, on one shared diverging colour scale.

A convolution shows one tile per output channel (its kernel, the input channels averaged or
one of them picked); a Linear layer (or any other layer with weights) shows its weight matrix
as a heat map. Payloads are ``runtime.probes.views.conv_filters``'s; the panel only draws them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, Signal
from PySide6.QtWidgets import QComboBox, QLabel, QWidget

from gui import theme
from gui.panels.colormaps import diverging_colormap, lookup_table, symmetric_levels
from gui.panels.image_grid import tile_grid, tile_value
from gui.panels.monitor_panel import MonitorPanel
from gui.panels.node_choice import combo_node, fill_node_combo, node_combo, select_in_combo
from gui.panels.plot_style import format_value, style_axis, style_plot
from gui.panels.plot_widgets import (
    center_pixels,
    image_plot,
    index_axes,
    index_pixel,
    make_colorbar,
    make_layout_widget,
    set_colorbar,
)
from runtime.probes.payloads import Filters

EMPTY_TEXT = ("Select a Conv2d or Linear layer on the canvas, then train the network "
              "(press Train) to see its filters.")


def shape_text(shape: Any) -> str:
    return " \u00d7 ".join(str(int(s)) for s in shape)


class FiltersPanel(MonitorPanel):
    """Signals: ``node_chosen(int)`` when the user picks a layer in the panel,
    ``options_changed()`` when the input channel changes (the probe config follows)."""

    node_chosen = Signal(int)
    options_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(EMPTY_TEXT, parent)
        self.setObjectName("filters_panel")
        self.layer_combo = node_combo("The layer whose weights are shown (the canvas selection "
                                      "picks it too)")
        self.layer_combo.setObjectName("filters_layer")
        self.channel_label = QLabel("Input channel")
        self.channel_label.setProperty("role", "dim")
        self.channel_combo = QComboBox()
        self.channel_combo.setObjectName("filters_channel")
        self.channel_combo.setToolTip("Average the kernels over their input channels, or show "
                                      "the weights for one input channel")
        self.channel_combo.addItem("All (mean)", None)
        self.header.addWidget(self.channel_label)
        self.header.addWidget(self.channel_combo)
        self.header.addWidget(self.layer_combo)
        self.channel_label.hide()
        self.channel_combo.hide()
        self.layer_combo.currentIndexChanged.connect(self._layer_picked)
        self.channel_combo.currentIndexChanged.connect(lambda _i: self.options_changed.emit())

        self.view = make_layout_widget()
        self.plot = self.view.addPlot(row=0, col=0, axisItems=index_axes("left", "bottom"))
        style_plot(self.plot)
        self.image = image_plot(self.plot)
        self.bar = make_colorbar(self.view.ci, self.image, label="weight")
        self.body_layout.addWidget(self.view, 1)
        self.view.scene().sigMouseMoved.connect(self._hover)
        self.kind = ""
        self.tile_count = 0
        self.tile_shape: tuple[int, int] = (0, 0)
        self.columns = 1
        self._pad = 1
        self.matrix_shape: tuple[int, int] = (0, 0)
        self.shown_node: int | None = None
        self._values: np.ndarray | None = None

    # choices -----------------------------------------------------------------------------------
    def set_nodes(self, choices: list[tuple[int, str]], current: int | None = None) -> None:
        """The layers with weights, as (node id, label)."""
        fill_node_combo(self.layer_combo, choices, current)

    def set_node(self, node_id: int | None) -> None:
        """Show ``node_id`` in the layer picker (no signal). Another layer starts from its
        averaged kernels: an input channel of the old one may not exist in the new one."""
        if node_id is not None and node_id != self.node_id:
            if select_in_combo(self.layer_combo, node_id):
                self._set_channels(0)

    @property
    def node_id(self) -> int | None:
        return combo_node(self.layer_combo)

    @property
    def in_channel(self) -> int | None:
        data = self.channel_combo.currentData()
        return int(data) if data is not None else None

    def _layer_picked(self, _index: int) -> None:
        node_id = self.node_id
        if node_id is not None:
            self._set_channels(0)
            self.node_chosen.emit(node_id)

    def _set_channels(self, channels: int) -> None:
        """The input-channel choices for a convolution with ``channels`` inputs."""
        if self.channel_combo.count() - 1 != channels:
            current = self.in_channel
            self.channel_combo.blockSignals(True)
            self.channel_combo.clear()
            self.channel_combo.addItem("All (mean)", None)
            for c in range(channels):
                self.channel_combo.addItem(f"{c}", c)
            index = self.channel_combo.findData(current)
            self.channel_combo.setCurrentIndex(max(0, index))
            self.channel_combo.blockSignals(False)
        shown = channels > 1
        self.channel_label.setVisible(shown)
        self.channel_combo.setVisible(shown)

    # drawing -----------------------------------------------------------------------------------
    def layout_depends_on_size(self) -> bool:
        return self.kind == "conv"

    def render(self, payload: Any) -> None:
        if not self.drawable(payload, "Filters"):
            return
        name = payload.get("name", "")
        layer = payload.get("layer_type", "")
        shape = shape_text(payload.get("shape", ()))
        param = payload.get("param", "weight")
        if payload.get("kind") == "conv":
            self._render_conv(payload)
            channel = payload.get("in_channel")
            inputs = int(payload.get("in_channels", 1))
            how = ("" if inputs <= 1 else " \u00b7 input channels averaged" if channel is None
                   else f" \u00b7 input channel {channel}")
            total = int(payload.get("out_channels", self.tile_count))
            more = f" (first {self.tile_count} of {total})" if total > self.tile_count else ""
            self.title.setText(f"{name} \u00b7 {layer} {param} {shape} \u00b7 "
                               f"{self.tile_count} kernels{more}{how}")
            self._set_channels(inputs)
        else:
            self._render_dense(payload)
            self.title.setText(f"{name} \u00b7 {layer} {param} {shape}")
            self._set_channels(0)
        self.shown_node = payload.get("node_id")
        self.show_body()

    def _render_conv(self, payload: Filters) -> None:
        kernels = np.asarray(payload["kernels"], np.float32)
        if kernels.ndim == 2:
            kernels = kernels[None]
        count, kh, kw = kernels.shape
        aspect = self.body_aspect(3.0) * 0.85  # the colour bar takes a slice
        grid, cols, _rows, pad = tile_grid(kernels, aspect=aspect)
        self.kind = "conv"
        self.tile_count, self.tile_shape, self.columns, self._pad = count, (kh, kw), cols, pad
        self.matrix_shape = (0, 0)
        self._values = grid
        self._draw(grid, float(payload.get("vmax") or 0.0), locked=True)

    def _render_dense(self, payload: Filters) -> None:
        weights = np.asarray(payload["weights"], np.float32)
        if weights.ndim == 1:
            weights = weights[None]
        self.kind = "dense"
        self.tile_count = 0
        self.matrix_shape = (int(weights.shape[0]), int(weights.shape[1]))
        self._values = weights
        self._draw(weights, float(payload.get("vmax") or 0.0), locked=False)
        rows, cols = self.matrix_shape
        center_pixels(self.image, rows, cols)
        self.plot.getViewBox().autoRange(padding=0.01)
        self.plot.showAxis("left")
        self.plot.showAxis("bottom")
        style_axis(self.plot.getAxis("left"), "output unit")
        style_axis(self.plot.getAxis("bottom"), "input feature")
        self.plot.getAxis("left").set_names(rows)
        self.plot.getAxis("bottom").set_names(cols)

    def _draw(self, values: np.ndarray, vmax: float, locked: bool) -> None:
        levels = symmetric_levels(values, vmax or None)
        cmap = diverging_colormap()
        self.image.setImage(values, levels=levels, lut=lookup_table(cmap), autoLevels=False)
        self.image.setRect(0, 0, values.shape[1], values.shape[0])
        set_colorbar(self.bar, cmap, levels)
        box = self.plot.getViewBox()
        box.setAspectLocked(locked)
        if locked:
            self.plot.hideAxis("left")
            self.plot.hideAxis("bottom")
        box.autoRange(padding=0.01)

    def refresh_theme(self) -> None:
        self.view.setBackground(theme.current().window)
        style_plot(self.plot)
        super().refresh_theme()

    def _hover(self, pos: QPointF) -> None:
        point = self.hovered(self.plot, pos) if self._values is not None else None
        if point is None:
            return
        x, y = point.x(), point.y()
        if self.kind == "conv":
            hit = tile_value(self._values, x, y, self.tile_shape, self.columns, self._pad,
                             self.tile_count)
            self.set_readout("" if hit is None else _kernel_text(*hit))
        else:
            rows, cols = self.matrix_shape
            r, c = index_pixel(y), index_pixel(x)
            if 0 <= r < rows and 0 <= c < cols:
                self.set_readout(f"output unit {r} \u2190 input {c} \u00b7 weight "
                                 f"{format_value(float(self._values[r, c]))}")
            else:
                self.set_readout("")



def _kernel_text(index: int, row: int, col: int, value: float) -> str:
    return (f"kernel {index} (output channel {index}) \u00b7 row {row}, column {col} \u00b7 "
            f"weight {format_value(value)}")


__all__ = ["EMPTY_TEXT", "FiltersPanel", "shape_text"]
