"""The Adversarial panel's Live page: with a training controller, the ``robustness`` probe
attacks a fixed validation subset at every epoch's end (in the training process, with the
Attack page's method, epsilon and steps): robust beside clean accuracy per epoch, and the
latest adversarial examples.

The probe is asked for only once the panel has been on screen: an attack per epoch costs
training time, worth paying only for someone who looks.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QVBoxLayout, QWidget

from gui import theme
from gui.panels import lab
from gui.panels.adversarial_views import (
    CONTROLS_WIDTH,
    PGD_COLOR,
    THUMB,
    CardStrip,
    SampleCard,
    amplification,
    factor_text,
    fmt_eps,
    percent_axis,
)
from gui.panels.colormaps import diverging_colormap, rgb
from gui.panels.controls import control_form, controls_beside, dim_label, spin
from gui.panels.frame_clock import request_frame
from gui.panels.lab import class_name, display_image, signed_map
from gui.panels.plot_style import set_title, style_plot
from gui.panels.plot_widgets import make_plot_widget
from gui.panels.thumbnails import crisp_pixmap
from gui.panels.visibility import on_screen
from runtime.probes.payloads import Robustness

LIVE_EXAMPLES = 4
EXAMPLES_TEXT = "Latest adversarial examples appear here after each epoch."


def _legend_html(entries: list[tuple[str, str]]) -> str:
    """A legend written into a title: coloured squares and text, no box over the curves."""
    t = theme.current()
    return "&nbsp;&nbsp;&nbsp;".join(
        f'<span style="color:{color}">\u25a0</span> <span style="color:{t.text}">{text}</span>'
        for color, text in entries)


class LivePage(QWidget):
    """See the module docstring. ``panel`` is the ``AdversarialPanel`` it belongs to.

    Public state: ``live_epochs`` (robust and clean accuracy per epoch from the probe),
    ``live_payload`` (the latest probe result), ``training`` (a run is in progress).
    """

    def __init__(self, panel: Any) -> None:
        super().__init__()
        self.panel = panel
        self.live_epochs: list[dict[str, Any]] = []
        self.live_payload: Robustness | None = None
        self.training = False
        self._stale = False  # a live result came while hidden: draw it when shown
        self._ticks: list[Any] = []  # the epoch axis's ticks now
        controls, form = control_form()
        self.live_check = QCheckBox("Attack at each epoch's end")
        self.live_check.setObjectName("live_robustness")
        self.live_check.setChecked(True)
        self.live_check.setToolTip("While training runs, attack a fixed set of validation "
                                   "samples after every epoch (with the Attack page's method, "
                                   "\u03b5 and steps) and plot robust accuracy")
        form.addRow(self.live_check)
        self.live_samples = spin(8, 1024, 64, "Validation samples attacked after each epoch "
                                 "(more: smoother curve, slower epochs)")
        self.live_samples.setObjectName("live_samples")
        form.addRow("Samples", self.live_samples)
        self.live_note = dim_label("")
        form.addRow(self.live_note)

        content = QHBoxLayout()
        content.setSpacing(10)
        self.live_view = make_plot_widget()
        self.live_plot = self.live_view.getPlotItem()
        self._style()
        t = theme.current()
        self.live_clean = self.live_plot.plot([], [], pen=pg.mkPen(t.accent, width=2),
                                              symbol="o", symbolSize=4, symbolBrush=t.accent,
                                              symbolPen=None)
        self.live_robust = self.live_plot.plot([], [], pen=pg.mkPen(PGD_COLOR, width=2),
                                               symbol="o", symbolSize=4, symbolBrush=PGD_COLOR,
                                               symbolPen=None)
        content.addWidget(self.live_view, 1)
        examples = QWidget()
        side = QVBoxLayout(examples)
        side.setContentsMargins(0, 0, 0, 0)
        side.setSpacing(4)
        self.live_title = dim_label(EXAMPLES_TEXT)
        side.addWidget(self.live_title)
        self.live_cards = CardStrip(2, selectable=False)
        side.addWidget(self.live_cards)
        side.addStretch(1)
        examples.setFixedWidth(2 * (3 * THUMB + 26) + 8)
        content.addWidget(examples)
        controls_beside(self, controls, content, CONTROLS_WIDTH)
        self.show_empty()

        self.probe_timer = QTimer(self)  # settings settle before the probe is asked again
        self.probe_timer.setSingleShot(True)
        self.probe_timer.setInterval(300)
        self.probe_timer.timeout.connect(self.apply_probe_config)
        self.live_check.toggled.connect(self.ask_again)
        self.live_samples.valueChanged.connect(self.ask_again)

    def ask_again(self, *_args: Any) -> None:
        """Push the probe wanted once the settings have settled."""
        self.probe_timer.start()

    def _style(self) -> None:
        style_plot(self.live_plot, x="epoch", y="accuracy (%)")
        percent_axis(self.live_plot)

    def show_empty(self) -> None:
        text = ("Train the network (press Train): after each epoch its robustness is "
                "measured here" if self.panel.controller is not None else
                "Robustness during training needs the training controller")
        set_title(self.live_plot, text)
        self.live_cards.set_cards([])
        self.live_title.setText(EXAMPLES_TEXT)

    def forget(self) -> None:
        self.live_epochs = []

    @property
    def has_run(self) -> bool:
        """A run is in progress, or one measured robustness already."""
        return self.training or bool(self.live_epochs)

    # -- the probe ------------------------------------------------------------------------------
    def bind_controller(self, controller: Any) -> None:
        """Robustness per epoch from a ``gui.training.TrainingController``."""
        controller.probe.connect(self.on_probe)
        controller.started.connect(self.on_run_started)
        controller.finished.connect(self.on_run_finished)
        controller.epoch.connect(self.on_epoch)
        self.show_empty()
        self.apply_probe_config()

    def probe_config(self) -> dict[str, Any] | None:
        """The ``robustness`` probe this panel wants (None: off). Nothing until the panel has
        been opened once: an attack per epoch costs training time (a few per cent for FGSM on
        digits_cnn), worth paying only for someone who looks."""
        if not self.live_check.isChecked() or not self.panel.seen:
            return None
        attack = self.panel.attack_page
        config = {"method": attack.method, "eps": attack.eps, "steps": attack.steps,
                  "samples": int(self.live_samples.value()), "examples": LIVE_EXAMPLES}
        if attack.user_range is not None:
            config["value_range"] = list(attack.user_range)
        return config

    def apply_probe_config(self) -> None:
        """Merge our probe into the controller's config (the other panels' probes stay)."""
        controller = self.panel.controller
        if controller is None:
            return
        config = dict(controller.probe_config)
        project = self.panel.project
        attackable = project is not None and lab.is_classification(project) \
            and len(project.graph.nodes_of_type("Input")) == 1
        wanted = self.probe_config() if attackable else None
        if wanted is None:
            if "robustness" not in config:
                return
            config.pop("robustness")
        else:
            if config.get("robustness") == wanted:
                return
            config["robustness"] = wanted
        controller.set_probe_config(config)
        if wanted is not None:
            self.live_note.setText(f"{wanted['method'].upper()} \u03b5 "
                                   f"{fmt_eps(wanted['eps'])} on {wanted['samples']} samples")
        else:
            self.live_note.setText("Off")

    def on_run_started(self, _event: Any) -> None:
        self.training = True
        self.live_epochs = []
        self.live_clean.setData([], [])
        self.live_robust.setData([], [])
        self.show_empty()
        self.panel.show_blocker()
        controller = self.panel.controller
        if controller is not None and self.live_check.isChecked() \
                and "robustness" not in controller.probe_config:
            self.apply_probe_config()  # another panel replaced the whole config

    def on_epoch(self, _event: Any) -> None:
        """Another panel's manager may have replaced the whole probe configuration (it builds
        only the probes it knows): ask for ours again, from the next epoch on."""
        if self.probe_config() is not None \
                and "robustness" not in self.panel.controller.probe_config:
            self.apply_probe_config()

    def on_run_finished(self, _event: Any) -> None:
        self.training = False

    def on_probe(self, payload: dict[str, Any]) -> None:
        if payload.get("probe") != "robustness":
            return
        if payload.get("error"):
            set_title(self.live_plot, str(payload["error"]))
            return
        epoch = payload.get("epoch")
        if epoch is not None:
            self.live_epochs = [e for e in self.live_epochs if e["epoch"] != epoch]
            self.live_epochs.append({"epoch": int(epoch),
                                     "clean": float(payload["clean_accuracy"]),
                                     "robust": float(payload["robust_accuracy"])})
            self.live_epochs.sort(key=lambda e: e["epoch"])
        self.live_payload = payload
        if self.panel.blocker is not None and self.panel.is_empty:
            self.panel.show_blocker()  # the first run's live page opens
        if on_screen(self.panel):
            request_frame(self.panel, self.render_live, now_if_idle=True)
        else:
            self._stale = True

    def came_into_view(self) -> None:
        """Draw what came while hidden."""
        if self._stale:
            self._stale = False
            QTimer.singleShot(0, self.render_live)

    # -- drawing --------------------------------------------------------------------------------
    def render_live(self) -> None:
        payload = self.live_payload
        if payload is None:
            return
        t = theme.current()
        if self.live_epochs:
            x = np.array([e["epoch"] for e in self.live_epochs], float)
            self.live_clean.setData(x, 100 * np.array([e["clean"] for e in self.live_epochs]))
            self.live_robust.setData(x, 100 * np.array([e["robust"] for e in
                                                        self.live_epochs]))
            self.live_plot.setXRange(max(0.5, x.min() - 0.5), x.max() + 0.5, padding=0)
            last = int(x.max())
            step = max(1, int(math.ceil(last / 10)))
            ticks = [[(e, str(e)) for e in range(1, last + 1) if e % step == 0 or e == 1], []]
            if ticks != self._ticks:  # new ticks redraw the axis: only when they change
                self._ticks = ticks
                self.live_plot.getAxis("bottom").setTicks(ticks)
        method = str(payload.get("method", "")).upper()
        eps = fmt_eps(float(payload["eps"]))
        set_title(self.live_plot, _legend_html([
            (t.accent, f"clean {payload['clean_accuracy']:.0%}"),
            (PGD_COLOR, f"{method} \u03b5 {eps}: {payload['robust_accuracy']:.0%}")])
            + f'<span style="color:{t.text_dim}"> \u00b7 n={payload.get("n", 0)}</span>')
        self.live_plot.setToolTip(f"Accuracy at each epoch's end on the same "
                                  f"{payload.get('n', 0)} validation samples, clean and attacked")
        seconds = payload.get("seconds")
        if seconds is not None:
            self.live_note.setText(f"{method} \u03b5 {eps}: {1000 * float(seconds):.0f} ms "
                                   "per epoch")
        self._render_examples(payload)

    def _render_examples(self, payload: Robustness) -> None:
        ex = payload.get("examples") or {}
        inputs = np.asarray(ex.get("inputs", np.zeros((0,))), np.float32)
        names = list(payload.get("class_names")
                     or self.panel.prepared_info.get("class_names", []))
        labels = list(ex.get("labels") or [])
        t = theme.current()
        lo, hi = payload.get("value_range", (0.0, 1.0))
        cards = self.live_cards.cards
        reuse = len(cards) == len(inputs)  # same count as last epoch: refill, do not rebuild
        fresh = []
        cmap = diverging_colormap()
        delta = np.asarray(ex.get("perturbation", np.zeros((0,))), np.float32)
        vmax, factor = amplification(delta, (hi - lo) or 1.0)
        for i in range(len(inputs)):
            clean, adv = int(ex["clean_pred"][i]), int(ex["adv_pred"][i])
            label = int(labels[i]) if i < len(labels) else clean
            color = t.ok if adv == label else t.error
            caption = (f'<span style="color:{t.text_dim}">{class_name(names, clean)} '
                       f'\u2192 </span><span style="color:{color}">{class_name(names, adv)}'
                       f'</span><span style="color:{t.text_dim}"> '
                       f'{float(ex["adv_conf"][i]):.0%}</span>')
            picture: Any = ex["adversarial"][i]
            if inputs.ndim == 4:
                picture = _mini_triptych(inputs[i], delta[i], ex["adversarial"][i],
                                         (lo, hi), vmax, cmap)
            tip = (f"Validation sample #{ex.get('indices', [i] * (i + 1))[i]}: "
                   f"{class_name(names, clean)} \u2192 {class_name(names, adv)} "
                   f"({float(ex['adv_conf'][i]):.0%}) under the attack; original | "
                   "perturbation | adversarial")
            if reuse:
                cards[i].fill(picture, caption, tip)
            else:
                fresh.append(SampleCard(i, picture, caption, tip))
        if not reuse:
            self.live_cards.set_cards(fresh)
        epoch = payload.get("epoch")
        when = f"after epoch {epoch}" if epoch is not None else "now"
        amount = f" \u00b7 perturbation {factor_text(factor)}" if inputs.ndim == 4 else ""
        self.live_title.setText(f"Examples {when}{amount}")

    def refresh_theme(self) -> None:
        t = theme.current()
        self.live_view.setBackground(t.window)
        self._style()
        self.live_clean.setPen(pg.mkPen(t.accent, width=2))
        if self.live_payload is not None:
            self.render_live()
        else:
            self.show_empty()


def _mini_triptych(x: np.ndarray, delta: np.ndarray, adv: np.ndarray,
                   value_range: tuple[float, float], vmax: float, cmap: Any) -> QPixmap:
    """Original | perturbation | adversarial side by side in one small pixmap."""
    lo, hi = value_range
    span = (hi - lo) or 1.0

    def grey(a: np.ndarray) -> np.ndarray:
        img = display_image(a)
        img = np.clip((img - lo) / span, 0, 1)
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=-1)
        return (img * 255).astype(np.uint8)

    parts = [grey(x), lab.signed_rgb(signed_map(delta), vmax, cmap), grey(adv)]
    h = parts[0].shape[0]
    gap = np.zeros((h, 1, 3), np.uint8) + np.array(rgb(theme.current().window), np.uint8)
    strip = np.concatenate([parts[0], gap, parts[1], gap, parts[2]], axis=1)
    return crisp_pixmap(strip, max(strip.shape[1], THUMB * strip.shape[1] // max(1, h)))


__all__ = ["LIVE_EXAMPLES", "LivePage"]
