"""The GAN panel: the generator and the discriminator competing, drawn while they train.

Left, both losses over training (the discriminator's on real plus fake samples, the
generator's non-saturating loss); middle, the discriminator's accuracy on real and on generated
samples per epoch (near 50% when neither side wins); right, what the generator makes from fixed
noise: its points over the real ones for 2-D data (with the modes of data sets that have them,
e.g. gan_ring), or a grid of images. A hint appears when the samples collapse onto a few modes.

The panel only draws: the numbers and samples are ``runtime.gan``'s events, which arrive through
the training controller's signals (``started``, ``batch``, ``epoch``, ``probe``, ``finished``);
a trained GAN that is not training gets its samples from ``runtime.gan.sample_project`` on a
worker thread. ``gan_panel(window, controller)`` makes it for the window.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QStackedWidget, QWidget

from graph.roles import GAN_MODE, training_mode
from gui import style, theme
from gui.panels.image_grid import tile_grid
from gui.panels.monitor_panel import MonitorPanel
from gui.panels.plot_style import set_title, style_plot
from gui.panels.plot_widgets import image_plot, make_plot_widget
from gui.tasks import TaskRunner
from runtime.events import Batch, Epoch, Finished, Started

if TYPE_CHECKING:  # runtime.gan_samples imports torch, which the GUI loads lazily
    from runtime.gan_samples import GanSamples

EMPTY_TEXT = ("Train a GAN to watch its generator and discriminator compete: open the gan_ring "
              "or gan_digits example (File \u203a New from Template) and press Train.")
NOT_GAN_TEXT = ("This project is not a GAN. A GAN has a generator group and a discriminator "
                "group (right-click a group \u203a GAN role) and trains in GAN mode "
                "(Inspector \u203a Training mode: GAN); the gan_ring example shows one.")
UNTRAINED_TEXT = ("Press Train: the losses, the discriminator's accuracy and the generator's "
                  "samples appear here as the two networks compete.")
G_COLOR = "#f0954a"  # the generator: its loss, its samples
REAL_COLOR = "#5cb85c"
GRID_COLUMNS = 6


def is_gan(project: Any) -> bool:
    """A GAN project: its training mode alternates generator and discriminator steps."""
    return training_mode(getattr(project, "training", None)) == GAN_MODE


def _samples(project: Any) -> Any:
    """``runtime.gan.sample_project`` (worker thread: it compiles and loads data), or why
    the project cannot be sampled."""
    try:
        from runtime.gan import sample_project

        return sample_project(project).results()[0]
    except Exception as exc:  # noqa: BLE001 - a project that cannot be sampled: say why
        return str(exc)


class GanPanel(MonitorPanel):
    """See the module docstring. ``attach(controller)`` follows a TrainingController."""

    def __init__(self, controller: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(EMPTY_TEXT, parent)
        self.setObjectName("gan_panel")
        self.title.setText("GAN")
        self.project: Any = None
        self.active = False  # the run in progress (or last drawn) is a GAN's
        self.total_epochs = 0
        self.steps_per_epoch = 1
        self.loss_x: list[float] = []
        self.d_losses: list[float] = []
        self.g_losses: list[float] = []
        self.epochs: list[dict[str, Any]] = []
        self.samples: dict[str, Any] | None = None
        self.hint = ""
        self._generation = 0
        self.sampler = TaskRunner(self)

        self.status = QLabel()
        self.status.setObjectName("gan_status")
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.status.setFont(style.font("small"))
        self.header.addWidget(self.status)
        self.hint_label = QLabel()
        self.hint_label.setObjectName("gan_hint")
        self.hint_label.setWordWrap(True)
        self.hint_label.hide()
        self.body_layout.addWidget(self.hint_label)

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(8)
        self.body_layout.addLayout(row, 1)
        self.loss_view = make_plot_widget()
        self.loss_plot = self.loss_view.getPlotItem()
        self.d_curve = self.loss_plot.plot()
        self.g_curve = self.loss_plot.plot()
        row.addWidget(self.loss_view, 1)

        self.acc_view = make_plot_widget()
        self.acc_plot = self.acc_view.getPlotItem()
        self.real_curve = self.acc_plot.plot(symbol="o", symbolSize=4)
        self.fake_curve = self.acc_plot.plot(symbol="o", symbolSize=4)
        self.even_line = pg.InfiniteLine(pos=50, angle=0, movable=False)
        self.acc_plot.addItem(self.even_line)
        self.acc_plot.setYRange(0, 100, padding=0.02)
        row.addWidget(self.acc_view, 1)

        self.sample_stack = QStackedWidget()
        self.points_view = make_plot_widget()
        self.points_plot = self.points_view.getPlotItem()
        self.points_plot.getViewBox().setAspectLocked(True)
        self.real_points = pg.ScatterPlotItem(size=9, pxMode=True)  # a halo under the fakes
        self.mode_rings = pg.ScatterPlotItem(pxMode=False)
        self.fake_points = pg.ScatterPlotItem(size=4, pxMode=True)
        for item in (self.real_points, self.mode_rings, self.fake_points):
            self.points_plot.addItem(item)
        self.grid_view = make_plot_widget()
        self.grid_plot = self.grid_view.getPlotItem()
        self.grid_image = image_plot(self.grid_plot, top_down=True, axes=False)
        self.sample_message = QLabel()
        self.sample_message.setWordWrap(True)
        self.sample_message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.sample_message.setProperty("role", "dim")
        self.sample_message.setMargin(12)
        for widget in (self.points_view, self.grid_view, self.sample_message):
            self.sample_stack.addWidget(widget)
        row.addWidget(self.sample_stack, 1)
        self._style()
        if controller is not None:
            self.attach(controller)

    # -- wiring -------------------------------------------------------------------------------
    def attach(self, controller: Any) -> None:
        controller.started.connect(self.on_started)
        controller.batch.connect(self.on_batch)
        controller.epoch.connect(self.on_epoch)
        controller.probe.connect(self.on_probe)
        controller.finished.connect(self.on_finished)

    def set_project(self, project: Any) -> None:
        """Show ``project``: its last GAN run from the history, and samples of its weights."""
        self.project = project
        self._generation += 1
        self._clear()
        if project is None or not is_gan(project):
            self.active = False
            self.reset()
            self.show_empty(NOT_GAN_TEXT if project is not None and project.graph.nodes
                            else EMPTY_TEXT)
            return
        self.active = True
        run = next((r for r in reversed(project.history or [])
                    if any("d_loss" in e for e in r.get("epochs") or [])), None)
        if run is not None:
            self.epochs = [dict(e) for e in run["epochs"] if "d_loss" in e]
            self.total_epochs = len(self.epochs)
            self.loss_x = [float(e["epoch"]) for e in self.epochs]
            self.d_losses = [float(e["d_loss"]) for e in self.epochs]
            self.g_losses = [float(e["g_loss"]) for e in self.epochs]
        if project.weights:
            generation = self._generation
            self.sampler.run("samples", lambda _progress, _cancel: _samples(project),
                             on_done=lambda payload: self._sampled(generation, payload))
        if run is None and not project.weights:
            self.show_empty(UNTRAINED_TEXT)
            return
        self.show_body()
        self.submit(True)

    def _sampled(self, generation: int, payload: Any) -> None:
        if generation != self._generation:
            return  # a newer project or run took over
        if isinstance(payload, dict):
            self.samples = payload
        else:
            self.samples = {"kind": "error", "message": str(payload)}
        self.show_body()
        self.submit(True)

    def _clear(self) -> None:
        self.total_epochs, self.steps_per_epoch = 0, 1
        self.loss_x, self.d_losses, self.g_losses = [], [], []
        self.epochs, self.samples, self.hint = [], None, ""

    # -- controller events -----------------------------------------------------------------------
    def on_started(self, event: Started) -> None:
        self.active = event.mode == GAN_MODE
        self._generation += 1  # samples of the old weights must not land now
        if not self.active:
            if is_gan(self.project):
                self.show_empty(UNTRAINED_TEXT)
            return
        self._clear()
        self.total_epochs = event.epochs
        self.steps_per_epoch = max(1, event.steps_per_epoch)
        self.show_body()
        self.submit(True)

    def on_batch(self, event: Batch, _points: list[list[float]]) -> None:
        if not self.active or event.d_loss is None:
            return
        x = event.epoch - 1 + event.step / max(1, event.steps_per_epoch or self.steps_per_epoch)
        self.loss_x.append(float(x))
        self.d_losses.append(float(event.d_loss))
        self.g_losses.append(float(event.g_loss or 0.0))
        self.submit(True)

    def on_epoch(self, event: Epoch) -> None:
        if not self.active or "d_loss" not in event.metrics:
            return
        self.epochs.append(event.record())  # as the project's history keeps it
        self.submit(True)

    def on_probe(self, result: dict[str, Any]) -> None:
        """One probe's result (the controller unpacks the events)."""
        if not self.active:
            return
        if result.get("probe") == "gan_samples":
            self.samples = result
            self.submit(True)
        elif result.get("probe") == "gan_hint":
            self.hint = str(result.get("message", "")) if result.get("collapsed") else ""
            self.submit(True)

    def on_finished(self, event: Finished) -> None:
        if self.active:
            self.submit(True)

    # -- drawing ------------------------------------------------------------------------------
    def _style(self) -> None:
        t = theme.current()
        # the titles double as legends: each series named in its own colour
        style_plot(self.loss_plot, f"Loss of the {_in(t.accent, 'discriminator')} and the "
                     f"{_in(G_COLOR, 'generator')}", "epoch", "loss")
        style_plot(self.acc_plot, f"D accuracy on {_in(REAL_COLOR, 'real')} and "
                     f"{_in(G_COLOR, 'generated')}", "epoch", "accuracy (%)")
        for plot in (self.loss_plot, self.acc_plot):  # a short dock keeps the plots large
            for side in ("left", "bottom"):
                plot.getAxis(side).showLabel(not self.compact)
        style_plot(self.points_plot, f"{_in(G_COLOR, 'Generated')} points over "
                     f"{_in(t.text_dim, 'real')} ones")
        style_plot(self.grid_plot, "Samples from fixed noise")
        self.d_curve.setPen(pg.mkPen(t.accent, width=1.6))
        self.g_curve.setPen(pg.mkPen(G_COLOR, width=1.6))
        self.real_curve.setPen(pg.mkPen(REAL_COLOR, width=1.6))
        self.real_curve.setSymbolBrush(REAL_COLOR)
        self.real_curve.setSymbolPen(None)
        self.fake_curve.setPen(pg.mkPen(G_COLOR, width=1.6))
        self.fake_curve.setSymbolBrush(G_COLOR)
        self.fake_curve.setSymbolPen(None)
        self.even_line.setPen(pg.mkPen(t.text_dim, width=1, style=Qt.PenStyle.DashLine))
        self.hint_label.setStyleSheet(
            f"QLabel#gan_hint {{ color: {t.warning}; border: 1px solid {t.warning}; "
            f"border-radius: 4px; padding: 3px 8px; }}")
        for view in (self.loss_view, self.acc_view, self.points_view, self.grid_view):
            view.setBackground(t.window)

    def set_compact(self, compact: bool) -> None:
        self._style()

    def refresh_theme(self) -> None:
        self._style()
        super().refresh_theme()

    def render(self, payload: Any) -> None:
        if not self.active:
            return
        self.d_curve.setData(self.loss_x, self.d_losses)
        self.g_curve.setData(self.loss_x, self.g_losses)
        epochs = [e["epoch"] for e in self.epochs]
        self.real_curve.setData(epochs, [100 * e["d_real_accuracy"] for e in self.epochs])
        self.fake_curve.setData(epochs, [100 * e["d_fake_accuracy"] for e in self.epochs])
        last = max(1, self.total_epochs, *(epochs or [1]))
        for plot in (self.loss_plot, self.acc_plot):
            plot.setXRange(0, last, padding=0.02)
        self._render_samples()
        self.hint_label.setText(self.hint)
        self.hint_label.setVisible(bool(self.hint))
        self.status.setText(self.status_text())
        self.set_readout(self.readout_text())

    def _render_samples(self) -> None:
        samples = self.samples
        kind = (samples or {}).get("kind")
        if kind == "points":
            self._render_points(samples)
            self.sample_stack.setCurrentWidget(self.points_view)
        elif kind == "image":
            self._render_grid(samples)
            self.sample_stack.setCurrentWidget(self.grid_view)
        else:
            if kind == "error":
                text = f"No samples: {samples['message']}"
            elif kind == "vector":
                text = ("The generator makes vectors, not 2-D points or images; the losses "
                        "and accuracies show how training goes.")
            else:
                text = "The generator's samples appear here after the first epoch."
            self.sample_message.setText(text)
            self.sample_stack.setCurrentWidget(self.sample_message)

    def _render_points(self, samples: GanSamples) -> None:
        t = theme.current()
        real = np.asarray(samples.get("real", np.zeros((0, 2))), dtype=np.float32)
        fake = np.asarray(samples.get("fake", np.zeros((0, 2))), dtype=np.float32)
        grey = pg.mkColor(t.text_dim)
        grey.setAlpha(45)
        self.real_points.setData(real[:, 0], real[:, 1], brush=pg.mkBrush(grey), pen=None)
        colour = pg.mkColor(G_COLOR)
        colour.setAlpha(170)
        self.fake_points.setData(fake[:, 0], fake[:, 1], brush=pg.mkBrush(colour), pen=None)
        centres = samples.get("centres")
        if centres is not None:
            centres = np.asarray(centres, dtype=np.float32)
            ring = pg.mkColor(t.text)
            ring.setAlpha(150)
            self.mode_rings.setData(centres[:, 0], centres[:, 1],
                                    size=6 * float(samples.get("std", 0.02)),
                                    brush=None, pen=pg.mkPen(ring, width=1.2))
        else:
            self.mode_rings.setData([], [])
        both = np.concatenate([real, fake]) if len(real) or len(fake) else np.zeros((1, 2))
        finite = both[np.isfinite(both).all(1)]
        low = np.percentile(finite, 0.5, axis=0) if len(finite) else np.array([-1.0, -1.0])
        high = np.percentile(finite, 99.5, axis=0) if len(finite) else np.array([1.0, 1.0])
        if len(real):  # keep the real data in view; far-off fakes may leave it
            low = np.minimum(low, real.min(0))
            high = np.maximum(high, real.max(0))
        self.points_plot.setXRange(float(low[0]), float(high[0]), padding=0.08)
        self.points_plot.setYRange(float(low[1]), float(high[1]), padding=0.08)

    def _render_grid(self, samples: GanSamples) -> None:
        images = np.asarray(samples["images"], dtype=np.float32)
        low, high = samples.get("value_range", (0.0, 1.0))
        if images.ndim == 4 and images.shape[1] == 3:  # colour: tile each channel
            grids = [tile_grid(images[:, c], columns=GRID_COLUMNS)[0] for c in range(3)]
            grid = np.stack(grids, -1)
            grid = np.nan_to_num((grid - low) / max(high - low, 1e-9), nan=0.0)
            self.grid_image.setImage(np.clip(grid, 0, 1), levels=(0, 1))
        else:
            flat = images[:, 0] if images.ndim == 4 else images
            grid, _cols, _rows, _pad = tile_grid(flat, columns=GRID_COLUMNS)
            self.grid_image.setLookupTable(_grey_lut())
            self.grid_image.setImage(grid, levels=(low, high))
        epoch = samples.get("epoch")
        title = "Samples from fixed noise" + (f", epoch {epoch}" if epoch else "")
        set_title(self.grid_plot, title)
        self.grid_plot.getViewBox().autoRange(padding=0.02)

    def status_text(self) -> str:
        t = theme.current()
        parts = []
        last = self.epochs[-1] if self.epochs else None
        if last is not None:
            total = f"/{self.total_epochs}" if self.total_epochs else ""
            parts.append(f"epoch <b>{last['epoch']}{total}</b>")
            if "modes_covered" in last:
                colour = t.ok if last["modes_covered"] == last["modes"] else t.text
                parts.append(f"modes covered <b style='color:{colour}'>{last['modes_covered']}"
                             f" of {last['modes']}</b>")
                parts.append(f"high quality <b>{last['high_quality_share']:.0%}</b>")
            elif "sample_diversity" in last:
                parts.append(f"sample diversity <b>{last['sample_diversity']:.2f}</b>")
        elif self.samples and "modes_covered" in self.samples:
            parts.append(f"modes covered <b>{self.samples['modes_covered']} of "
                         f"{self.samples['modes']}</b>")
            parts.append(f"high quality <b>{self.samples['high_quality_share']:.0%}</b>")
        return f"<span style='color:{t.text_dim}'>" + " \u2003 ".join(parts) + "</span>"

    def readout_text(self) -> str:
        if not self.epochs:
            return ""
        last = self.epochs[-1]
        return (f"D loss {last['d_loss']:.3f} \u00b7 G loss {last['g_loss']:.3f} \u00b7 "
                f"D right on {last['d_real_accuracy']:.0%} of real and "
                f"{last['d_fake_accuracy']:.0%} of generated samples")


def _in(colour: str, text: str) -> str:
    return f"<span style='color:{colour}'>{text}</span>"


def _grey_lut() -> np.ndarray:
    """Black to white, for pixel values; NaN gaps between tiles stay transparent."""
    ramp = np.linspace(0, 255, 256).astype(np.uint8)
    return np.stack([ramp, ramp, ramp], 1)


def gan_panel(window: Any, controller: Any) -> GanPanel:
    """The GAN panel (``gui.panels.registry`` docks it) of ``window`` (a
    ``gui.main_window.MainWindow``), following ``controller`` (a
    ``gui.training.TrainingController``) and the window's project and theme. Its dock comes
    to the front when a GAN run starts."""
    panel = GanPanel(controller)
    window.project_changed.connect(panel.set_project)
    if hasattr(window, "theme_changed"):
        window.theme_changed.connect(lambda _name: panel.refresh_theme())
    if hasattr(controller, "project_updated"):
        controller.project_updated.connect(
            lambda project: panel.set_project(project)
            if project is window.project and getattr(controller, "state", "") == "idle"
            else None)

    def started(event: Started) -> None:
        if event.mode == GAN_MODE and "gan" in getattr(window, "docks", {}):
            window.show_dock("gan")

    controller.started.connect(started)

    def settings_changed(section: str, field: str) -> None:
        """Training mode switched in the inspector (or undone): show or leave the GAN view."""
        project = window.project
        if (section, field) == ("training", "options") and project is not None \
                and is_gan(project) != panel.active:
            panel.set_project(project)
            if panel.active:  # the user just chose GAN mode: bring its panel up
                window.show_dock("gan")

    inspector = getattr(window, "inspector", None)
    if inspector is not None:
        inspector.settings_changed.connect(settings_changed)
    panel.set_project(window.project)
    return panel
