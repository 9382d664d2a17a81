"""The Explain panel: what the trained classifier looks at, and what its units want to see.

Left, saliency for one validation sample (``runtime.explain.saliency``: vanilla gradient,
SmoothGrad or integrated gradients) for the predicted class or a chosen one: the input, the
signed attribution on a diverging map, and the attribution's strength laid over the input.
Vector inputs (tabular, 2-D) show input and attribution as bars per feature. Right, the
activation-maximization grid of a Conv or Linear layer (``runtime.explain.
activation_maximization``): one synthesised input per channel, for the layer picked here or
selected on the canvas. Both run in the background (``gui.tasks``) with progress and Cancel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QSize, Qt, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from graph.catalog import UNITS
from gui import theme
from gui.panels import lab
from gui.panels.analysis_panel import AnalysisPanel
from gui.panels.colormaps import (
    diverging_colormap,
    lookup_table,
    sequential_colormap,
    symmetric_levels,
)
from gui.panels.controls import control_form, controls_column, dim_label, fill_class_combo
from gui.panels.image_grid import tile_at, tile_grid, view_aspect
from gui.panels.lab import class_name, display_image, grey_lut, signed_map
from gui.panels.plot_style import format_value, set_title, style_axis, style_plot
from gui.panels.plot_widgets import (
    center_pixels,
    hover_position,
    hovered_place,
    image_plot,
    index_pixel,
    index_ticks,
    make_layout_widget,
)
from gui.panels.thumbnails import describe_sample, thumbnail
from gui.panels.visibility import on_screen
from runtime.probes.payloads import ProbeSamples

if TYPE_CHECKING:  # the GUI imports torch lazily, on first analysis
    from runtime.explain import ActivationMaximization, Saliency

METHODS = (("gradient", "Gradient"), ("smoothgrad", "SmoothGrad"),
           ("integrated_gradients", "Integrated gradients"))
POSITIVE = "#d8682e"
NEGATIVE = "#3c84d6"


def actmax_layers(graph: Any) -> list[tuple[int, str]]:
    """(node id, name) of the layers activation maximization is offered for, in graph order."""
    try:
        order = graph.topological_order()
    except Exception:  # noqa: BLE001 - a cycle: fall back to id order
        order = sorted(graph.nodes)
    return [(i, graph.nodes[i].name) for i in order
            if graph.nodes[i].spec is not None and graph.nodes[i].spec.has(UNITS)]


class ExplainPanel(AnalysisPanel):
    """Saliency and activation maximization for the open project's trained classifier.

    Public state (tests, the lead): ``runner``, ``saliency`` (the last
    ``runtime.explain.Saliency``), ``saliency_image`` (the overlay drawn, (H, W, 4) uint8, or
    the attribution vector for vector inputs), ``actmax`` (the last
    ``ActivationMaximization``), ``actmax_tiles`` (tiles drawn), ``actmax_node``.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("explain", "explanations",
                         "Train the network first: explanations need trained weights", parent)
        self.picks: ProbeSamples | None = None
        self.info: dict[str, Any] = {}
        self.saliency: Any = None
        self.saliency_image: np.ndarray | None = None
        self.actmax: Any = None
        self.actmax_tiles = 0
        self.actmax_node: int | None = None
        self._grid: dict[str, Any] = {}
        self.body = QWidget()
        self.set_content(self.body)
        row = QHBoxLayout(self.body)
        row.setContentsMargins(0, 6, 0, 0)
        row.setSpacing(10)

        # controls
        controls, form = control_form()
        self.sample_combo = QComboBox()
        self.sample_combo.setObjectName("explain_sample")
        self.sample_combo.setIconSize(QSize(20, 20))
        self.sample_combo.setToolTip("The validation sample to explain")
        form.addRow("Sample", self.sample_combo)
        self.method_combo = QComboBox()
        self.method_combo.setObjectName("explain_method")
        for key, text in METHODS:
            self.method_combo.addItem(text, key)
        self.method_combo.setToolTip(
            "Gradient: how much each input value moves the class score. SmoothGrad: the "
            "gradient averaged over noisy copies (less speckle). Integrated gradients: the "
            "gradient summed along a path from a blank input (attributions add up to the "
            "score's change).")
        form.addRow("Method", self.method_combo)
        self.class_combo = QComboBox()
        self.class_combo.setObjectName("explain_class")
        self.class_combo.setToolTip("The class whose score is explained")
        self.class_combo.addItem("Predicted class", None)
        form.addRow("Class", self.class_combo)
        self.explain_button = QPushButton("Explain")
        self.explain_button.setObjectName("explain_run")
        self.explain_button.setToolTip("Compute the saliency of the sample for the class")
        self.explain_button.clicked.connect(self.run_saliency)
        form.addRow("", self.explain_button)
        row.addWidget(controls_column(controls, 236))

        # saliency views
        self.view = make_layout_widget()
        self.view.ci.setSpacing(10)
        self.plots = [self.view.addPlot(row=0, col=i) for i in range(3)]
        for plot in self.plots:
            style_plot(plot)
        self.images = [image_plot(plot) for plot in self.plots]
        # the signed map's scale: blue lowers the class score, orange raises it
        self.color_bar = pg.ColorBarItem(values=(-1.0, 1.0), colorMap=diverging_colormap(),
                                         interactive=False, width=10, label="score change")
        self.color_bar.setImageItem(self.images[1], insert_in=self.plots[1])
        self.view.ci.removeItem(self.plots[2])  # the overlay would show the input a third time
        self.bars = [pg.BarGraphItem(x=[], height=[], width=0.7) for _ in range(2)]
        for plot, bars in zip(self.plots, self.bars, strict=False):
            plot.addItem(bars)
        self.mode = ""
        self.view.setMinimumWidth(300)
        self.view.scene().sigMouseMoved.connect(self._hover_saliency)
        row.addWidget(self.view, 5)

        # activation maximization
        right = QWidget()
        side = QVBoxLayout(right)
        side.setContentsMargins(0, 0, 0, 0)
        side.setSpacing(4)
        head = QHBoxLayout()
        head.setSpacing(6)
        self.layer_combo = QComboBox()
        self.layer_combo.setObjectName("explain_layer")
        self.layer_combo.setToolTip("Activation maximization: the layer whose channels get one "
                                    "synthesised input each (selecting a Conv2d or Linear "
                                    "layer on the canvas picks it too)")
        self.layer_combo.setMinimumWidth(110)
        self.layer_combo.setSizePolicy(QSizePolicy.Policy.Expanding,
                                       QSizePolicy.Policy.Fixed)
        steps_label = dim_label("Steps")
        steps_label.setWordWrap(False)
        self.actmax_steps = QSpinBox()
        self.actmax_steps.setObjectName("explain_steps")
        self.actmax_steps.setRange(1, 5000)
        self.actmax_steps.setValue(128)
        self.actmax_steps.setFixedWidth(70)
        self.actmax_steps.setToolTip("Gradient-ascent steps from faint noise (with jitter, blur "
                                     "and an L2 pull keeping the inputs readable)")
        self.actmax_button = QPushButton("Generate")
        self.actmax_button.setObjectName("explain_generate")
        self.actmax_button.setToolTip("Synthesise one input per channel that excites it most")
        self.actmax_button.clicked.connect(self.run_actmax)
        head.addWidget(self.layer_combo, 1)
        head.addWidget(steps_label)
        head.addWidget(self.actmax_steps)
        head.addWidget(self.actmax_button)
        side.addLayout(head)
        self.grid_view = make_layout_widget()
        self.grid_plot = self.grid_view.addPlot(row=0, col=0)
        style_plot(self.grid_plot)
        self.grid_image = image_plot(self.grid_plot)
        self.grid_view.scene().sigMouseMoved.connect(self._hover_grid)
        side.addWidget(self.grid_view, 1)
        row.addWidget(right, 4)

        self.layer_combo.currentIndexChanged.connect(self._layer_picked)
        for combo in (self.sample_combo, self.method_combo, self.class_combo):
            combo.currentIndexChanged.connect(self._controls_changed)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(200)
        self._debounce.timeout.connect(self._auto_saliency)
        self._clear_views()
        self._set_blocker(self.blocker)

    # -- the lifecycle (see AnalysisPanel) -------------------------------------------------------
    def bind_window(self, window: Any) -> None:
        """Follow ``window``'s project, canvas selection, analysis and theme."""
        window.selection_changed.connect(self.on_selection)
        super().bind_window(window)

    def forget(self) -> None:
        self.picks = None
        self.saliency = self.actmax = None
        self.saliency_image = None
        self.actmax_tiles = 0
        self._clear_views()

    def rechecked(self) -> None:
        self._fill_layers()

    def analyse(self) -> None:
        self.run_saliency()

    def _fill_layers(self) -> None:
        choices = actmax_layers(self.project.graph) if self.project is not None else []
        current = self.layer_combo.currentData()
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        for node_id, label in choices:
            self.layer_combo.addItem(label, node_id)
            node = self.project.graph.nodes[node_id]
            self.layer_combo.setItemData(self.layer_combo.count() - 1, node.label,
                                         Qt.ItemDataRole.ToolTipRole)
        index = self.layer_combo.findData(current)
        self.layer_combo.setCurrentIndex(max(0, index) if choices else -1)
        self.layer_combo.blockSignals(False)
        has = bool(choices)
        self.layer_combo.setEnabled(has)
        self.actmax_button.setEnabled(has)
        if not has:
            set_title(self.grid_plot, "No Conv2d or Linear layer to maximise")

    def on_selection(self, ids: list[int]) -> None:
        """The canvas selection picks the layer; a Conv/Linear one is maximised at once when
        the panel is open and the network trained."""
        if len(ids) != 1:
            return
        index = self.layer_combo.findData(int(ids[0]))
        if index < 0:
            return
        if index != self.layer_combo.currentIndex():
            self.layer_combo.setCurrentIndex(index)  # runs _layer_picked
        elif self.actmax_node != int(ids[0]) and self.blocker is None and on_screen(self):
            self.run_actmax()

    def _layer_picked(self, _index: int) -> None:
        if self.blocker is None and on_screen(self):
            self.run_actmax()

    # -- preparing ------------------------------------------------------------------------------
    def show_prepared(self, prep: lab.Prepared, first: bool) -> None:
        self.info = {"class_names": prep.class_names, "value_range": prep.value_range,
                     "image": prep.is_image, "feature_names": prep.feature_names,
                     "input_shape": prep.input_shape}
        self.picks = prep.picks(0)
        names = prep.class_names or [str(i) for i in range(prep.num_classes)]
        current = self.sample_combo.currentIndex()
        self.sample_combo.blockSignals(True)
        self.sample_combo.clear()
        inputs = self.picks["inputs"]
        label_names = self.picks.get("label_names") or []
        for i, val_index in enumerate(self.picks["indices"]):
            text = f"{label_names[i]} \u00b7 #{val_index}" if i < len(label_names) \
                else f"#{val_index}"
            pixmap = thumbnail(inputs[i], 20)
            if pixmap is not None:
                self.sample_combo.addItem(QIcon(pixmap), text, i)
            else:
                self.sample_combo.addItem(f"{text}  {describe_sample(inputs[i], 2)}", i)
        self.sample_combo.setCurrentIndex(min(max(0, current), self.sample_combo.count() - 1))
        self.sample_combo.blockSignals(False)
        fill_class_combo(self.class_combo, names, "Predicted class")

    def _failed(self, message: str) -> None:
        self.task_bar.show_status(message, error=True)

    # -- saliency -------------------------------------------------------------------------------
    def _controls_changed(self, *_args: Any) -> None:
        self._debounce.start()

    def _auto_saliency(self) -> None:
        if self.blocker is None and on_screen(self):
            self.run_saliency()
        else:
            self._dirty = True

    def set_sample(self, index: int) -> None:
        self.sample_combo.setCurrentIndex(index)

    def set_method(self, method: str) -> None:
        self.method_combo.setCurrentIndex(max(0, self.method_combo.findData(method)))

    def run_saliency(self) -> Any:
        """Saliency of the chosen sample (background); returns the task."""
        return self.when_prepared(self._start_saliency, self._failed)

    def _start_saliency(self) -> Any:
        from runtime import attacks, explain

        index = max(0, self.sample_combo.currentIndex())
        method = str(self.method_combo.currentData())
        target = self.class_combo.currentData()

        def work(prep: lab.Prepared, progress: Any, cancel: Any
                 ) -> tuple[lab.Prepared, int, Saliency, tuple[int, float]]:
            picks = prep.picks(0)
            i = min(index, len(picks["indices"]) - 1)
            x = picks["inputs"][i:i + 1]
            result = explain.saliency(prep.module, x, target_class=target, method=method,
                                      value_range=prep.value_range, progress=progress,
                                      cancel=cancel)
            # the prediction and its confidence: an attack of size 0 is a plain prediction
            clean = attacks.fgsm(prep.module, x, np.zeros(1, np.int64), 0.0,
                                 value_range=prep.value_range)
            return prep, i, result, (int(clean.clean_pred[0]), float(clean.clean_conf[0]))

        text = dict(METHODS)[method]
        return self.runner.run("saliency", self.network_job(work), f"{text} saliency",
                               on_done=self._saliency_done, on_error=self._failed)

    def _saliency_done(self, value: tuple[lab.Prepared, int, Saliency, tuple[int, float]]
                       ) -> None:
        prep, i, result, (pred, conf) = value
        self.prepared(prep)
        self.saliency = result
        picks = self.picks or prep.picks(0)
        x = np.asarray(picks["inputs"][i], np.float32)
        label = picks["labels"][i] if picks["labels"] else None
        names = prep.class_names
        target = int(result.target_class[0])
        t = theme.current()
        color = t.text if label is None else (t.ok if pred == label else t.error)
        dim = f'<span style="color:{t.text_dim}">'
        method = dict(METHODS)[result.method]
        input_title = (f"{dim}Input \u00b7 </span><span style='color:{color}; font-weight:bold'>"
                       f"{class_name(names, pred)}</span>{dim} {conf:.0%}</span>")
        what = f"{dim}{method} for </span><b>{class_name(names, target)}</b>"
        if prep.is_image:
            self._show_images(x, result, prep.value_range, [input_title, what,
                                                            f"{dim}Overlay</span>"])
        else:
            self._show_bars(x, result, prep.feature_names, [input_title, what])
        score = float(result.scores[0])
        self.task_bar.show_status(
            f"{method} for class {class_name(names, target)} (score {score:.2f}) on "
            f"validation sample #{picks['indices'][i]}"
            + (f", a {class_name(names, label)}" if label is not None else "")
            + "; orange pixels raise the score, blue ones lower it")

    def _set_mode(self, mode: str) -> None:
        if mode == self.mode:
            return
        self.mode = mode
        images = mode == "image"
        for index, (plot, image) in enumerate(zip(self.plots, self.images, strict=True)):
            box = plot.getViewBox()
            image.setVisible(images)
            if index < 2:
                self.bars[index].setVisible(not images)
            box.setAspectLocked(images)
            box.invertY(images)
            for name in ("left", "bottom"):
                plot.showAxis(name, not images)
        self.color_bar.setVisible(images)

    def _show_images(self, x: np.ndarray, result: Saliency, value_range: tuple[float, float],
                     titles: list[str]) -> None:
        self._set_mode("image")
        lo, hi = value_range
        picture = display_image(x)
        signed = signed_map(result.values[0])
        heat = np.asarray(result.heatmap[0], np.float32) if result.heatmap is not None \
            else np.abs(signed)
        overlay = lab.heat_overlay(picture, heat, value_range, pg.colormap.get("inferno"))
        self.saliency_image = overlay
        if picture.ndim == 3:
            self.images[0].setImage(np.clip((picture - lo) / ((hi - lo) or 1), 0, 1),
                                    levels=(0, 1), autoLevels=False, lut=None)
        else:
            self.images[0].setImage(picture, levels=(lo, hi), autoLevels=False, lut=grey_lut())
        levels = symmetric_levels(signed)
        self.images[1].setImage(signed, levels=levels, autoLevels=False,
                                lut=lookup_table(diverging_colormap()))
        self.color_bar.setColorMap(diverging_colormap())
        self.color_bar.setLevels(tuple(float(v) for v in levels))
        self.images[2].setImage(overlay, autoLevels=False, levels=(0, 255), lut=None)
        h, w = signed.shape[:2]
        for plot, image in zip(self.plots, self.images, strict=True):
            image.setRect(0, 0, w, h)
            plot.getViewBox().autoRange(padding=0.02)
        self._arrays = {"input": picture, "attribution": signed, "strength": heat}
        for plot, text in zip(self.plots, titles, strict=True):
            set_title(plot, text)

    def _show_bars(self, x: np.ndarray, result: Saliency, names: list[str],
                   titles: list[str]) -> None:
        self._set_mode("bars")
        t = theme.current()
        values = [x.reshape(-1), np.asarray(result.values[0], np.float32).reshape(-1)]
        self.saliency_image = values[1]
        n = values[0].size
        features = [names[i] if i < len(names) else f"x{i}" for i in range(n)]
        self._arrays = {"input": values[0], "attribution": values[1], "features": features}
        xs = np.arange(n)
        self.bars[0].setOpts(x=xs, height=values[0], width=0.7, brush=pg.mkBrush(t.accent),
                             pen=pg.mkPen(None))
        self.bars[1].setOpts(x=xs, height=values[1], width=0.7, pen=pg.mkPen(None),
                             brushes=[pg.mkBrush(POSITIVE if v >= 0 else NEGATIVE)
                                      for v in values[1]])
        for index, plot in enumerate(self.plots[:2]):
            style_axis(plot.getAxis("left"))
            style_axis(plot.getAxis("bottom"))
            index_ticks(plot.getAxis("bottom"), n, features,
                          room=plot.getViewBox().width() or None, spacing=42)
            plot.setXRange(-0.6, n - 0.4, padding=0)
            v = values[index]
            if index == 1:
                top = float(np.abs(v).max()) if v.size else 1.0
                top = top if top > 0 else 1.0
                plot.setYRange(-1.1 * top, 1.1 * top, padding=0)
            else:
                plot.enableAutoRange(axis="y")
            set_title(plot, titles[index])

    def _clear_views(self) -> None:
        for image in (*self.images, self.grid_image):
            image.clear()
        for bars in self.bars:
            bars.setOpts(x=[], height=[])
        self._arrays: dict[str, Any] = {}
        self._set_mode("image")
        for plot, text in zip(self.plots, ("Input", "Saliency", "Overlay"), strict=True):
            set_title(plot, text)
        set_title(self.grid_plot, "Generate: what each channel likes")

    def _hover_saliency(self, pos: QPointF) -> None:
        if not self._arrays or self.runner.busy:
            return
        image = self.mode == "image"
        shape = self._arrays["attribution"].shape if image else (len(self._arrays["features"]),)
        place = hovered_place(self.plots, pos, image, shape)
        if place is None:
            return
        if image:
            r, c = place
            value = float(np.mean(self._arrays["input"][r, c]))
            self.task_bar.show_hover(
                f"row {r}, column {c} \u00b7 input {format_value(value)} \u00b7 "
                f"attribution {format_value(float(self._arrays['attribution'][r, c]))}")
        else:
            i = place[0]
            self.task_bar.show_hover(
                f"{self._arrays['features'][i]} \u00b7 input "
                f"{format_value(float(self._arrays['input'][i]))} \u00b7 attribution "
                f"{format_value(float(self._arrays['attribution'][i]))}")

    # -- activation maximization ----------------------------------------------------------------
    def set_layer(self, node_id: int) -> None:
        index = self.layer_combo.findData(node_id)
        if index >= 0:
            self.layer_combo.setCurrentIndex(index)

    def run_actmax(self) -> Any:
        """One synthesised input per channel of the chosen layer (background)."""
        return self.when_prepared(self._start_actmax, self._failed)

    def _start_actmax(self) -> Any:
        from runtime import explain

        node_id = self.layer_combo.currentData()
        if node_id is None:
            return None
        node_id = int(node_id)
        steps = int(self.actmax_steps.value())

        def work(prep: lab.Prepared, progress: Any, cancel: Any
                 ) -> tuple[lab.Prepared, int, ActivationMaximization]:
            result = explain.activation_maximization(
                prep.module, prep.layer_name(node_id), None, input_shape=prep.input_shape,
                steps=steps, value_range=prep.value_range, progress=progress, cancel=cancel)
            return prep, node_id, result

        node = self.project.graph.nodes.get(node_id)
        label = node.label if node is not None else f"node {node_id}"
        return self.runner.run("actmax", self.network_job(work),
                               f"Activation maximization of {label}",
                               on_done=self._actmax_done, on_error=self._failed)

    def _actmax_done(self, value: tuple[lab.Prepared, int, ActivationMaximization]) -> None:
        prep, node_id, result = value
        self.prepared(prep)
        self.actmax, self.actmax_node = result, node_id
        images = np.asarray(result.images, np.float32)
        k = len(result.channels)
        box = self.grid_plot.getViewBox()
        if images.ndim == 4:
            tiles = np.stack([display_image(im) for im in images])
            if tiles.ndim == 4:  # RGB tiles: shown in grey here
                tiles = tiles.mean(axis=-1)
            h, w = tiles.shape[1:]
            lows = tiles.reshape(k, -1).min(axis=1)[:, None, None]
            highs = tiles.reshape(k, -1).max(axis=1)[:, None, None]
            tiles = (tiles - lows) / np.where(highs > lows, highs - lows, 1.0)
            aspect = view_aspect(self.grid_view, 1.6)
            grid, cols, _rows, pad = tile_grid(tiles, aspect=aspect)
            self._grid = {"shape": (h, w), "columns": cols, "pad": pad, "count": k,
                          "kind": "tiles"}
            self.grid_image.setImage(grid, levels=(0, 1), autoLevels=False, lut=grey_lut())
            self.grid_image.setRect(0, 0, grid.shape[1], grid.shape[0])
            box.setAspectLocked(True)
            for axis in ("left", "bottom"):
                self.grid_plot.hideAxis(axis)
        else:  # vectors: a matrix, one column per unit, one row per feature, in data units
            matrix = images.reshape(k, -1).T
            lo, hi = prep.value_range
            self._grid = {"kind": "matrix", "count": k, "matrix": matrix,
                          "features": [prep.feature_names[i] if i < len(prep.feature_names)
                                       else f"x{i}" for i in range(matrix.shape[0])]}
            self.grid_image.setImage(matrix, levels=(lo, hi), autoLevels=False,
                                     lut=lookup_table(sequential_colormap()))
            center_pixels(self.grid_image, matrix.shape[0], matrix.shape[1])
            box.setAspectLocked(False)
            self.grid_plot.showAxis("left")
            self.grid_plot.showAxis("bottom")
            style_axis(self.grid_plot.getAxis("bottom"), "unit")
            style_axis(self.grid_plot.getAxis("left"))
            index_ticks(self.grid_plot.getAxis("left"), matrix.shape[0],
                          self._grid["features"], room=box.height() or None, spacing=14)
            index_ticks(self.grid_plot.getAxis("bottom"), k, room=box.width() or None,
                          spacing=24)
        self.actmax_tiles = k
        box.autoRange(padding=0.02)
        start = float(np.median(result.start_activation)) if k else 0.0
        end = float(np.median(result.end_activation)) if k else 0.0
        node = self.project.graph.nodes.get(node_id) if self.project is not None else None
        name = node.name if node is not None else result.layer
        unit = "channel" if images.ndim == 4 and node is not None and \
            node.type.startswith("Conv") else "unit"
        set_title(self.grid_plot, f"{name} \u00b7 {k} {unit}s")  # short: it is never cut
        self.grid_view.setToolTip("Each tile: the input synthesised to excite one channel most. "
                                  "'activation a \u2192 b': the channels' mean activation on "
                                  "the starting noise and on the final inputs (medians)")
        self.task_bar.show_status(
            f"{name}: {k} {unit}s maximised in {self.actmax_steps.value()} steps, activation "
            f"{format_value(start)} \u2192 {format_value(end)} \u00b7 "
            + ("each tile scaled to its own contrast \u00b7 hover a tile for its channel"
               if images.ndim == 4 else "colour = input value \u00b7 hover for values"))

    def _hover_grid(self, pos: QPointF) -> None:
        if not self._grid or self.actmax is None or self.runner.busy:
            return
        point = hover_position(self.grid_plot, pos)
        if point is None:
            return
        if self._grid["kind"] == "matrix":
            r, c = index_pixel(point.y()), index_pixel(point.x())
            matrix = self._grid["matrix"]
            if not (0 <= r < matrix.shape[0] and 0 <= c < matrix.shape[1]):
                return
            index = c
            where = f"{self._grid['features'][r]} {format_value(float(matrix[r, c]))} \u00b7 "
        else:
            hit = tile_at(point.x(), point.y(), self._grid["shape"], self._grid["columns"],
                            self._grid["pad"], self._grid["count"])
            if hit is None:
                return
            index, where = hit[0], ""
        start = float(self.actmax.start_activation[index])
        end = float(self.actmax.end_activation[index])
        self.task_bar.show_hover(
            f"{where}channel {self.actmax.channels[index]} \u00b7 mean activation "
            f"{format_value(start)} on noise \u2192 {format_value(end)} "
            f"(\u00d7{float(self.actmax.gain[index]):.1f})")

    # -- look -------------------------------------------------------------------------------------
    def refresh_theme(self, *_args: Any) -> None:
        t = theme.current()
        for view in (self.view, self.grid_view):
            view.setBackground(t.window)
        for plot in (*self.plots, self.grid_plot):
            style_plot(plot)
        mode, self.mode = self.mode, ""
        self._set_mode(mode or "image")
        if self.saliency is not None:
            self.run_saliency()  # titles and overlay carry theme colours
        if self.actmax is not None and self.cache.last is not None:
            self._actmax_done((self.cache.last, self.actmax_node, self.actmax))



__all__ = ["ExplainPanel", "actmax_layers"]
