"""The Autoencoder panel: anomaly detection, reconstructions and the latent space of a network
with a reconstruction head (Output task "reconstruction").

- Anomalies: histograms of the validation reconstruction errors, normal and anomalous samples
  in two colours, with the threshold as a line to drag. The threshold starts at a percentile of
  the training errors (the spin box); precision, recall, F1 and the threshold-free ROC-AUC are
  read out as it moves.
- Reconstructions: inputs and what the network rebuilt, side by side, worst first or in order.
- Latent space: the bottleneck's codes of the validation samples, coloured by label, beside a
  PCA of the same inputs, each with the accuracy of a k-nearest-neighbour classifier.

Computing runs on a worker through ``runtime.autoencoder``; moving the threshold only calls
its cheap ``detection_scores`` on the arrays already here.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gui import style, theme
from gui.panels.trained import (
    WatchedPanel,
    class_color,
    grey_pixmap,
    plot_widget,
    style_plot,
)

if TYPE_CHECKING:  # the GUI imports torch lazily, on first analysis
    from runtime.autoencoder import AnomalyReport, LatentSpace, Reconstructions
    from runtime.compile import Compiled

PAIRS = 12  # reconstructions shown
THUMB = 64  # pixels per thumbnail side
LATENT_TAB = 2  # index of the Latent space tab
HIST_X = "reconstruction error (mean squared, per sample)"
HIST_Y = "samples"  # short: the axis is as tall as a short dock allows
NO_PROJECT = "Open a project whose Output has the task reconstruction (an autoencoder)."
NEEDS_WEIGHTS = ("Train the autoencoder first: this panel shows its reconstruction errors, "
                 "what it rebuilds and its latent space.")
NOT_AUTOENCODER = ("This network has no reconstruction head: set an Output node's task to "
                   "reconstruction to train an autoencoder (see the autoencoder examples).")


def has_reconstruction_head(project: Any) -> bool:
    return any(n.param("task") == "reconstruction" for n in project.graph.nodes_of_type("Output"))


@dataclass(frozen=True, eq=False)
class AutoencoderAnalysis:
    """What one analysis of the project gives the three tabs."""

    report: AnomalyReport
    worst: Reconstructions  # the worst rebuilt validation samples
    first: Reconstructions  # the first validation samples
    latent: LatentSpace | str  # why not, when the latent space cannot be shown
    value_range: tuple[float, ...]


def sample_image(sample: np.ndarray) -> np.ndarray:
    """A sample as a 2-D picture: one channel of an image, the mean of several, or a vector
    as one row."""
    a = np.asarray(sample, dtype=np.float32)
    if a.ndim == 3:
        return a[0] if a.shape[0] == 1 else a.mean(0)
    if a.ndim == 2:
        return a
    return a.reshape(1, -1)


class AutoencoderPanel(WatchedPanel):
    """Anomalies by reconstruction error, reconstructions, and the latent space."""

    result: AutoencoderAnalysis | None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("autoencoder", NO_PROJECT, parent)
        self.threshold = 0.0
        self._tab_chosen = False  # the first result of a project picks the tab
        self.tabs = QTabWidget()
        self.tabs.setObjectName("autoencoder_tabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self._anomaly_page(), "Anomalies")
        self.tabs.addTab(self._pairs_page(), "Reconstructions")
        self.tabs.addTab(self._latent_page(), "Latent space")
        self.pages.addWidget(self.tabs)
        self._style()

    # -- construction ----------------------------------------------------------------------------
    def _anomaly_page(self) -> QWidget:
        import pyqtgraph as pg

        page = QWidget()
        box = QVBoxLayout(page)
        box.setContentsMargins(0, 6, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Threshold at the"))
        self.percentile_spin = QDoubleSpinBox()
        self.percentile_spin.setObjectName("autoencoder_percentile")
        self.percentile_spin.setRange(0.0, 100.0)
        self.percentile_spin.setDecimals(1)
        self.percentile_spin.setSingleStep(0.5)
        self.percentile_spin.setValue(95.0)
        self.percentile_spin.setSuffix(" th percentile")
        self.percentile_spin.setToolTip("Share of the training (normal) samples whose error "
                                        "stays under the threshold; drag the line to move it")
        self.percentile_spin.valueChanged.connect(self._percentile_changed)
        row.addWidget(self.percentile_spin)
        row.addWidget(QLabel("of the training errors"))
        row.addStretch(1)
        self.hist_legend = QLabel()  # beside the controls: over the bars it hid them
        self.hist_legend.setObjectName("autoencoder_hist_legend")
        self.hist_legend.setTextFormat(Qt.TextFormat.RichText)
        row.addWidget(self.hist_legend)
        box.addLayout(row)
        self.hist_view = plot_widget("", HIST_X, HIST_Y)
        plot = self.hist_view.getPlotItem()
        self.normal_bars = pg.BarGraphItem(x=[], height=[], width=1.0, name="normal")
        self.anomalous_bars = pg.BarGraphItem(x=[], height=[], width=1.0, name="anomalous")
        plot.addItem(self.normal_bars)
        plot.addItem(self.anomalous_bars)
        self.threshold_line = pg.InfiniteLine(angle=90, movable=True)
        self.threshold_label = pg.InfLineLabel(self.threshold_line, "threshold", position=0.9,
                                               anchor=(-0.05, 0.5))  # across: always fits
        self.threshold_line.sigPositionChanged.connect(self._line_moved)
        plot.addItem(self.threshold_line)
        body = QHBoxLayout()  # the read-out beside the histogram: a short dock keeps it tall
        body.addWidget(self.hist_view, 3)
        self.readout = QLabel()
        self.readout.setObjectName("autoencoder_readout")
        self.readout.setTextFormat(Qt.TextFormat.RichText)
        self.readout.setWordWrap(True)
        self.readout.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.readout.setMinimumWidth(200)
        body.addWidget(self.readout, 1)
        box.addLayout(body, 1)
        return page

    def _pairs_page(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        box.setContentsMargins(0, 6, 0, 0)
        row = QHBoxLayout()
        self.worst_check = QCheckBox("Worst rebuilt first")
        self.worst_check.setObjectName("autoencoder_worst")
        self.worst_check.setChecked(True)
        self.worst_check.toggled.connect(self._draw_pairs)
        row.addWidget(self.worst_check)
        self.pairs_note = QLabel()
        self.pairs_note.setProperty("role", "dim")
        row.addWidget(self.pairs_note, 1)
        box.addLayout(row)
        self.pairs_holder = QWidget()
        self.pairs_grid = QGridLayout(self.pairs_holder)
        self.pairs_grid.setContentsMargins(0, 0, 0, 0)
        self.pairs_grid.setHorizontalSpacing(14)
        self.pairs_grid.setVerticalSpacing(8)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.pairs_holder)
        box.addWidget(scroll, 1)
        return page

    def _latent_page(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        box.setContentsMargins(0, 6, 0, 0)
        row = QHBoxLayout()
        self.latent_view = plot_widget("", "", "")
        self.pca_view = plot_widget("", "", "")
        for view in (self.latent_view, self.pca_view):  # distances read the same both ways
            view.getPlotItem().getViewBox().setAspectLocked(True)
        row.addWidget(self.latent_view, 1)
        row.addWidget(self.pca_view, 1)
        box.addLayout(row, 1)
        self.legend = QLabel()
        self.legend.setObjectName("autoencoder_legend")
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        box.addWidget(self.legend)
        return page

    def _style(self) -> None:
        import pyqtgraph as pg

        t = theme.current()
        for view in (self.hist_view, self.latent_view, self.pca_view):
            view.setBackground(t.window)
            style_plot(view.getPlotItem())
        style_plot(self.hist_view.getPlotItem(), "", HIST_X, HIST_Y)
        normal = pg.mkColor(t.accent)
        normal.setAlpha(170)
        odd = pg.mkColor(t.error)
        odd.setAlpha(170)
        self.normal_bars.setOpts(brush=normal, pen=pg.mkPen(None))
        self.anomalous_bars.setOpts(brush=odd, pen=pg.mkPen(None))
        self.threshold_line.setPen(pg.mkPen(t.warning, width=2))
        self.threshold_line.setHoverPen(pg.mkPen(t.warning, width=4))
        self.threshold_label.setColor(t.warning)
        self._legend_text()

    def _legend_text(self) -> None:
        t = theme.current()
        binary = bool(self.result) and self._binary()
        parts = [(t.accent, "normal")] + ([(t.error, "anomalous")] if binary else [])
        self.hist_legend.setText("&nbsp;&nbsp;".join(
            f"<span style='color:{color}'>\u25a0</span>&nbsp;<span style='color:{t.text_dim}'>"
            f"{name}</span>" for color, name in parts))

    # -- project ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        project = self.project
        if project is None:
            self.say(NO_PROJECT)
            return
        if not has_reconstruction_head(project):
            self.say(NOT_AUTOENCODER)
            return
        if not project.weights:
            self.say(NEEDS_WEIGHTS)
            return
        percentile = self.percentile_spin.value()

        def work(compiled: Compiled, data: Any) -> AutoencoderAnalysis:
            from runtime import autoencoder

            report = autoencoder.anomaly_report(compiled, data, percentile)
            pairs = autoencoder.reconstructions(compiled, data, n=PAIRS, worst=True)
            first = autoencoder.reconstructions(compiled, data, n=PAIRS)
            try:
                latent: LatentSpace | str = autoencoder.latent_space(compiled, data)
            except ValueError as exc:
                latent = str(exc)
            return AutoencoderAnalysis(report, pairs, first, latent,
                                       tuple(float(v) for v in data.value_range))

        self.request(work)

    def show_result(self, result: AutoencoderAnalysis) -> None:
        first = not self._tab_chosen
        self.result = result
        self.pages.setCurrentWidget(self.tabs)
        self._draw_histogram()
        self._draw_pairs()
        self._draw_latent()
        if first:  # a project's first result opens on the tab that shows its point best
            two_d = not isinstance(result.latent, str) and result.latent.dims == 2
            self.tabs.setCurrentIndex(LATENT_TAB if two_d else 0 if self._binary() else
                                      1 if isinstance(result.latent, str) else LATENT_TAB)
            self._tab_chosen = True

    # -- anomalies -------------------------------------------------------------------------------
    def _binary(self) -> bool:
        labels = self.result.report.labels if self.result else np.zeros(0)
        return bool(labels.size) and bool(np.isin(labels, (0, 1)).all()) and bool(
            (labels == 1).any())

    def _draw_histogram(self) -> None:
        report = self.result.report
        hist = report.histogram
        edges = hist.edges
        centers, width = (edges[:-1] + edges[1:]) / 2, float(edges[1] - edges[0])
        self.normal_bars.setOpts(x=centers, height=hist.normal, width=width * 0.95)
        self.anomalous_bars.setOpts(x=centers, height=hist.anomalous, width=width * 0.95)
        self.anomalous_bars.setVisible(self._binary())
        self._legend_text()
        self.hist_view.getPlotItem().setXRange(0.0, float(edges[-1]), padding=0.02)
        self.hist_view.getPlotItem().setYRange(
            0.0, float(max(hist.normal.max(initial=0), hist.anomalous.max(initial=0)))
            * 1.1 + 1, padding=0)
        self.set_threshold(report.threshold)

    def set_threshold(self, value: float) -> None:
        """Move the threshold line (as a drag does) and update the readout."""
        self.threshold_line.setValue(float(value))
        self._line_moved()

    def _line_moved(self, *_args: Any) -> None:
        if not self.result:
            return
        from runtime.autoencoder import detection_scores

        report = self.result.report
        self.threshold = float(self.threshold_line.value())
        train = report.train_errors
        below = float((train <= self.threshold).mean() * 100) if train.size else 0.0
        self.percentile_spin.blockSignals(True)
        self.percentile_spin.setValue(below)
        self.percentile_spin.blockSignals(False)
        t = theme.current()
        if not self._binary():
            self.readout.setText(
                f"Threshold <b>{self.threshold:.4g}</b> ({below:.1f}% of the training errors "
                f"below it). The validation samples carry no anomaly labels (1 = anomaly, "
                f"0 = normal), so precision and recall cannot be measured; the "
                f"<i>digits_anomaly</i> dataset has them.")
            return
        scores = detection_scores(report.errors, report.labels, self.threshold)
        auc = report.roc_auc
        flagged, total = scores.flagged, len(report.errors)
        self.readout.setText(
            f"Threshold <b>{self.threshold:.4g}</b> ({below:.1f}% of the training errors below "
            f"it): flags {flagged} of {total} validation samples. "
            f"<b>Precision {scores.precision:.2f}</b> \u00b7 "
            f"<b>recall {scores.recall:.2f}</b> \u00b7 <b>F1 {scores.f1:.2f}</b> \u00b7 "
            f"<span style='color:{t.ok if (auc or 0) >= 0.9 else t.warning}'>ROC-AUC "
            f"{auc:.3f}</span> (any threshold) \u00b7 {scores.tp} anomalies caught, "
            f"{scores.fn} missed, {scores.fp} false alarms")

    def _percentile_changed(self, value: float) -> None:
        if not self.result:
            return
        from runtime.autoencoder import percentile_threshold

        self.set_threshold(percentile_threshold(self.result.report.train_errors, value))

    # -- reconstructions -------------------------------------------------------------------------
    def _draw_pairs(self, *_args: Any) -> None:
        if not self.result:
            return
        while self.pairs_grid.count():
            item = self.pairs_grid.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        pairs = self.result.worst if self.worst_check.isChecked() else self.result.first
        low, high = self.result.value_range
        names = self.result.report.class_names
        t = theme.current()
        columns = 4
        for k in range(len(pairs.errors)):
            cell = QWidget()
            grid = QGridLayout(cell)
            grid.setContentsMargins(0, 0, 0, 0)
            grid.setHorizontalSpacing(3)
            grid.setVerticalSpacing(1)
            for col, (images, tip) in enumerate(((pairs.inputs, "input"),
                                                 (pairs.outputs, "reconstruction"))):
                picture = QLabel()
                picture.setPixmap(grey_pixmap(sample_image(images[k]), THUMB, low, high))
                picture.setToolTip(tip)
                grid.addWidget(picture, 0, col)
            label = int(pairs.labels[k]) if len(pairs.labels) else -1
            name = names[label] if 0 <= label < len(names) else ""
            color = t.error if self._binary() and label == 1 else t.text_dim
            caption = QLabel(f"<span style='color:{color}'>{html.escape(name)}</span> "
                             f"error {pairs.errors[k]:.3g}")
            caption.setTextFormat(Qt.TextFormat.RichText)
            caption.setFont(style.font("small"))
            grid.addWidget(caption, 1, 0, 1, 2)
            self.pairs_grid.addWidget(cell, k // columns, k % columns)
        self.pairs_grid.setRowStretch(len(pairs.errors) // columns + 1, 1)
        self.pairs_grid.setColumnStretch(columns, 1)
        order = "worst rebuilt first" if self.worst_check.isChecked() else "in order"
        self.pairs_note.setText(f"input | reconstruction, validation samples {order}")

    # -- latent space ----------------------------------------------------------------------------
    def _draw_latent(self) -> None:
        import pyqtgraph as pg

        latent = self.result.latent
        for view in (self.latent_view, self.pca_view):
            view.getPlotItem().clear()
        if isinstance(latent, str):
            self.legend.setText(html.escape(latent))
            return
        t = theme.current()
        labels = latent.labels
        classes = sorted(set(int(v) for v in labels)) if labels.size else [0]
        for view, points in ((self.latent_view, latent.latent), (self.pca_view, latent.pca)):
            brushes = [pg.mkBrush(class_color(int(v))) for v in labels] if labels.size else \
                pg.mkBrush(t.accent)
            scatter = pg.ScatterPlotItem(points[:, 0], points[:, 1], size=5,
                                         pen=pg.mkPen(None), brush=brushes)
            view.getPlotItem().addItem(scatter)
        how = "its 2 numbers" if latent.dims == 2 else f"a PCA of its {latent.dims} numbers"
        style_plot(self.latent_view.getPlotItem(),
                   f"Bottleneck '{latent.name}' ({how}) \u00b7 kNN {latent.knn_latent:.1%}")
        ratios = latent.explained_variance
        style_plot(self.pca_view.getPlotItem(),
                   f"PCA of the inputs ({sum(ratios):.0%} of the variance) \u00b7 kNN "
                   f"{latent.knn_pca:.1%}")
        names = latent.class_names
        swatches = " ".join(
            f"<span style='color:{class_color(c)}'>\u25cf</span>&nbsp;"
            f"{html.escape(names[c] if c < len(names) else str(c))}" for c in classes)
        better = latent.knn_latent - latent.knn_pca
        self.legend.setText(
            f"{swatches}<br><span style='color:{t.text_dim}'>Validation samples; the labels "
            f"are never trained on. kNN: a {latent.k}-nearest-neighbour classifier on the "
            f"2-D points, training points as neighbours; the bottleneck keeps the classes "
            f"{'better' if better > 0 else 'less well'} apart than PCA "
            f"({better * 100:+.1f} points).</span>")

    def forget(self) -> None:
        self._tab_chosen = False

    def refresh_theme(self, *_args: Any) -> None:
        self._style()
        if self.result:
            self.show_result(self.result)
