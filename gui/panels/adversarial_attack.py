"""The Adversarial panel's Attack page: FGSM or PGD (untargeted, or towards a chosen class) at
an epsilon in the data's own units on a few validation samples.

The chosen sample shows as original | perturbation (amplified on a diverging colour map, the
factor written on it) | adversarial, each with its prediction and confidence, and every
sample's outcome as a card. Tabular and 2-D data show the three as bars per feature. The
method, epsilon, steps and valid input range set here are also what the Robustness, Patch and
Live pages attack with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gui import style, theme
from gui.panels.adversarial_views import (
    CONTROLS_WIDTH,
    THUMB,
    CardStrip,
    SampleCard,
    Triptych,
    fmt_eps,
)
from gui.panels.controls import control_form, controls_beside, fill_class_combo, spin
from gui.panels.lab import Prepared, class_name
from gui.panels.visibility import on_screen
from runtime.probes.payloads import ProbeSamples

if TYPE_CHECKING:  # the GUI imports torch lazily, on first analysis
    from runtime.attacks import AttackResult

SLIDER_STEPS = 200


def _prediction_html(names: list[str], pred: int, conf: float, label: int | None) -> str:
    t = theme.current()
    color = t.text if label is None else (t.ok if int(pred) == int(label) else t.error)
    return (f'<span style="color:{color}; font-weight:bold">{class_name(names, pred)}</span>'
            f'<span style="color:{t.text_dim}"> {conf:.0%}</span>')


class AttackPage(QWidget):
    """See the module docstring. ``panel`` is the ``AdversarialPanel`` it belongs to (its
    runner, prepared network and status line). ``changed`` follows any attack setting.

    Public state: ``result`` (the last ``runtime.attacks.AttackResult``), ``picks`` (the
    samples attacked), ``user_range`` (the valid input range set here; None: the data's).
    """

    changed = Signal()
    attacked = Signal(object)  # an AttackResult, once shown (lessons watch it)

    def __init__(self, panel: Any) -> None:
        super().__init__()
        self.panel = panel
        self.page = 0  # which set of validation samples
        self.picks: ProbeSamples | None = None
        self.result: AttackResult | None = None
        self.user_range: tuple[float, float] | None = None
        self._eps_touched = False  # the user set epsilon: keep it when the data range arrives
        self._eps_top = 0.5

        controls, form = control_form()
        self.method_combo = QComboBox()
        self.method_combo.setObjectName("adversarial_method")
        self.method_combo.addItem("FGSM (one step)", "fgsm")
        self.method_combo.addItem("PGD (iterated)", "pgd")
        self.method_combo.setToolTip("FGSM: one step of size \u03b5 along the sign of the "
                                     "loss gradient. PGD: several smaller steps, projected "
                                     "back into the \u03b5-ball (stronger, slower).")
        form.addRow("Method", self.method_combo)

        self.eps_slider = QSlider(Qt.Orientation.Horizontal)
        self.eps_slider.setObjectName("adversarial_eps_slider")
        self.eps_slider.setRange(0, SLIDER_STEPS)
        self.eps_spin = QDoubleSpinBox()
        self.eps_spin.setObjectName("adversarial_eps")
        self.eps_spin.setDecimals(3)
        self.eps_spin.setKeyboardTracking(False)
        self.eps_spin.setFixedWidth(74)
        tip = ("\u03b5: the largest change allowed per input value (L\u221e), in the data's "
               "own units; adversarial inputs also stay inside the data's valid range")
        self.eps_slider.setToolTip(tip)
        self.eps_spin.setToolTip(tip)
        eps_row = QHBoxLayout()
        eps_row.setSpacing(6)
        eps_row.addWidget(self.eps_slider, 1)
        eps_row.addWidget(self.eps_spin)
        form.addRow("\u03b5", eps_row)

        self.steps_spin = spin(1, 500, 10, "PGD steps (each of size 2.5 \u03b5 / steps, from "
                               "a random start)")
        self.steps_spin.setObjectName("adversarial_steps")
        form.addRow("Steps", self.steps_spin)
        self.target_combo = QComboBox()
        self.target_combo.setObjectName("adversarial_target")
        self.target_combo.setToolTip("Untargeted: any wrong class will do. A class: push "
                                     "every sample towards it.")
        self.target_combo.addItem("Untargeted", None)
        form.addRow("Target", self.target_combo)
        form.addRow("Range", self._range_row())
        buttons = QHBoxLayout()
        buttons.setSpacing(10)
        self.attack_button = QPushButton("Attack")
        self.attack_button.setObjectName("adversarial_attack")
        self.attack_button.setDefault(True)
        self.attack_button.setToolTip("Attack the samples on the right with these settings")
        self.attack_button.clicked.connect(self.run_attack)
        buttons.addWidget(self.attack_button)
        buttons.addStretch(1)
        form.addRow("", buttons)

        self.triptych = Triptych()
        self.triptych.on_hover = panel.task_bar.show_hover
        self.triptych.setMinimumWidth(300)
        self.triptych.setToolTip("The perturbation is drawn blown up (the factor is written "
                                 "on it): orange where the attack raises a value, blue where "
                                 "it lowers it")
        right = QWidget()
        side = QVBoxLayout(right)
        side.setContentsMargins(0, 0, 0, 0)
        side.setSpacing(4)
        head = QHBoxLayout()
        self.cards_title = QLabel("Validation samples")
        self.cards_title.setProperty("role", "dim")
        self.cards_title.setFont(style.font("small"))
        self.more_button = QToolButton()
        self.more_button.setText("Other samples")
        self.more_button.setToolTip("Attack another set of validation samples")
        self.more_button.setFont(style.font("small"))
        self.more_button.clicked.connect(self.next_samples)
        head.addWidget(self.cards_title, 1)
        head.addWidget(self.more_button)
        side.addLayout(head)
        self.cards = CardStrip(5)
        self.cards.chosen.connect(self._show_current)
        side.addWidget(self.cards)
        side.addStretch(1)
        right.setFixedWidth(5 * (THUMB + 14) + 8)
        content = QHBoxLayout()
        content.setSpacing(10)
        content.addWidget(self.triptych, 1)
        content.addWidget(right)
        controls_beside(self, controls, content, CONTROLS_WIDTH)

        self.method_combo.currentIndexChanged.connect(self._controls_changed)
        self.eps_slider.valueChanged.connect(self._slider_moved)
        self.eps_spin.valueChanged.connect(self._spin_changed)
        self.steps_spin.valueChanged.connect(self._controls_changed)
        self.target_combo.currentIndexChanged.connect(self._controls_changed)
        self._update_steps_enabled()
        self.set_eps_range(1.0, 0.1)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(250)
        self._debounce.timeout.connect(self._auto_attack)

    def forget(self) -> None:
        """Another project: its samples, its data's range."""
        self.page = 0
        self.picks = None
        self.result = None
        self.cards.set_cards([])
        self.triptych.clear()
        self._eps_touched = False
        self.user_range = None
        self.range_reset.setEnabled(False)

    # -- epsilon --------------------------------------------------------------------------------
    def set_eps_range(self, width: float, eps: float | None = None) -> None:
        """The slider spans 0 .. half the data's range ``width``; the field all of it."""
        top = 0.5 * width
        self._eps_top = top
        value = self.eps_spin.value() if eps is None else eps
        self.eps_spin.blockSignals(True)
        self.eps_spin.setRange(0.0, width)
        self.eps_spin.setSingleStep(round(0.01 * width, 6) or 0.01)
        self.eps_spin.setValue(value)
        self.eps_spin.blockSignals(False)
        self._sync_slider()

    def _sync_slider(self) -> None:
        self.eps_slider.blockSignals(True)
        self.eps_slider.setValue(int(round(min(1.0, self.eps_spin.value() / self._eps_top)
                                           * SLIDER_STEPS)))
        self.eps_slider.blockSignals(False)

    def _slider_moved(self, value: int) -> None:
        self._eps_touched = True
        self.eps_spin.blockSignals(True)
        self.eps_spin.setValue(value / SLIDER_STEPS * self._eps_top)
        self.eps_spin.blockSignals(False)
        self._controls_changed()

    def _spin_changed(self, _value: float) -> None:
        self._eps_touched = True
        self._sync_slider()
        self._controls_changed()

    def set_eps(self, eps: float) -> None:
        """Set epsilon (data units) as the user would; the attack follows."""
        self.eps_spin.setValue(float(eps))

    @property
    def eps(self) -> float:
        return float(self.eps_spin.value())

    @property
    def method(self) -> str:
        return str(self.method_combo.currentData())

    @property
    def steps(self) -> int:
        return int(self.steps_spin.value())

    def set_method(self, method: str) -> None:
        self.method_combo.setCurrentIndex(max(0, self.method_combo.findData(method)))

    def _update_steps_enabled(self) -> None:
        self.steps_spin.setEnabled(self.method == "pgd")

    # -- the valid input range ------------------------------------------------------------------
    def _range_row(self) -> QHBoxLayout:
        """Low … high of the values adversarial inputs may take: the data's range until
        the user sets one (e.g. a sensor's physical limits)."""
        row = QHBoxLayout()
        row.setSpacing(4)
        self.range_spins = []
        for name in ("low", "high"):
            box = QDoubleSpinBox()
            box.setObjectName(f"adversarial_range_{name}")
            box.setRange(-1e9, 1e9)
            box.setDecimals(3)
            box.setKeyboardTracking(False)
            box.setFixedWidth(70)
            box.setToolTip(f"The {name} end of the values an adversarial input may take, in "
                           "the data's units; the data's own range unless you set one")
            box.valueChanged.connect(self._range_edited)
            self.range_spins.append(box)
        row.addWidget(self.range_spins[0])
        row.addWidget(QLabel("…"))
        row.addWidget(self.range_spins[1])
        self.range_reset = QToolButton()
        self.range_reset.setObjectName("adversarial_range_reset")
        self.range_reset.setIcon(style.icon("reset"))
        self.range_reset.setAutoRaise(True)
        self.range_reset.setToolTip("Back to the data's own range")
        self.range_reset.clicked.connect(self._range_reset)
        self.range_reset.setEnabled(False)
        row.addWidget(self.range_reset)
        row.addStretch(1)
        return row

    def _show_range(self, value_range: Any) -> None:
        lo, hi = value_range
        for box, value in zip(self.range_spins, (np.min(lo), np.max(hi)), strict=True):
            with QSignalBlocker(box):
                box.setValue(float(value))

    def _range_edited(self, _value: float) -> None:
        low, high = (box.value() for box in self.range_spins)
        if low >= high:  # refused: back to the range in force
            in_force = self.user_range or self.panel.prepared_info.get("value_range")
            if in_force is not None:
                self._show_range(in_force)
            self.panel.status(self, "Range: the low end must be below the high end.",
                              error=True)
            return
        self.set_range((low, high))

    def set_range(self, value_range: tuple[float, float] | None) -> None:
        """The range adversarial inputs stay in (None: the data's); attacks follow."""
        self.user_range = None if value_range is None else (float(value_range[0]),
                                                            float(value_range[1]))
        self.range_reset.setEnabled(self.user_range is not None)
        shown = self.user_range or self.panel.prepared_info.get("value_range")
        if shown is not None:
            self._show_range(shown)
        self._controls_changed()

    def _range_reset(self) -> None:
        self.set_range(None)

    # -- attacking ------------------------------------------------------------------------------
    def _controls_changed(self, *_args: Any) -> None:
        self._update_steps_enabled()
        if self.result is not None or self.panel.runner.active("attack"):
            self._debounce.start()
        self.changed.emit()

    def _auto_attack(self) -> None:
        if self.panel.blocker is None and on_screen(self.panel):
            self.run_attack()
        else:
            self.panel.mark_stale()

    def next_samples(self) -> None:
        self.page += 1
        self.cards.current = 0
        self.run_attack()

    def run_attack(self) -> Any:
        """Attack the picked validation samples in the background; returns the ``Task``."""
        return self.panel.when_prepared(self._start_attack, self._failed)

    def _failed(self, message: str) -> None:
        self.panel.status(self, message, error=True)

    def _start_attack(self) -> Any:
        from runtime import attacks

        method, eps, steps, page = self.method, self.eps, self.steps, self.page
        target = self.target_combo.currentData()
        chosen = self.user_range

        def work(prep: Prepared, progress: Any, cancel: Any
                 ) -> tuple[Prepared, ProbeSamples, AttackResult]:
            picks = prep.picks(page)
            extra: dict[str, Any] = {}
            if target is not None:
                extra = {"targeted": True, "target": int(target)}
            if method == "pgd":
                extra["seed"] = 0
            res = attacks.attack(prep.module, picks["inputs"], np.asarray(picks["labels"]),
                                 method, eps, value_range=chosen or prep.value_range,
                                 steps=steps, progress=progress, cancel=cancel, **extra)
            return prep, picks, res

        label = f"{method.upper()} at \u03b5 {fmt_eps(eps)}"
        return self.panel.runner.run("attack", self.panel.network_job(work), label,
                                     on_done=self._attack_done, on_error=self._failed)

    def show_prepared(self, prep: Prepared, first: bool) -> None:
        """A (new) network: its data's range, epsilon scale and classes."""
        if self.user_range is None:
            self._show_range(prep.value_range)
        if first:
            from runtime.attacks import DEFAULT_EPS_SHARE

            default = DEFAULT_EPS_SHARE * prep.range_width
            self.set_eps_range(prep.range_width, None if self._eps_touched else default)
        names = prep.class_names or [str(i) for i in range(prep.num_classes)]
        fill_class_combo(self.target_combo, names, "Untargeted")

    def _attack_done(self, value: tuple[Prepared, ProbeSamples, AttackResult]) -> None:
        prep, picks, res = value
        self.panel.prepared(prep)
        self.picks = picks
        self.result = res
        names = prep.class_names
        cards = []
        for i in range(res.n):
            label, clean, adv = int(res.labels[i]), int(res.clean_pred[i]), int(res.adv_pred[i])
            t = theme.current()
            fooled = bool(res.success[i])
            color = t.error if fooled else t.ok
            caption = (f'<span style="color:{t.text_dim}">{class_name(names, clean)} '
                       f'\u2192 </span><span style="color:{color}">'
                       f'{class_name(names, adv)}</span>')
            tip = (f"Validation sample #{picks['indices'][i]} (a {class_name(names, label)}): "
                   f"clean {class_name(names, clean)} {res.clean_conf[i]:.0%}, adversarial "
                   f"{class_name(names, adv)} {res.adv_conf[i]:.0%}")
            cards.append(SampleCard(i, picks["inputs"][i], caption, tip))
        self.cards.set_cards(cards)
        fooled = int(res.success.sum())
        goal = "reach the target" if res.targeted else "fooled"
        self.cards_title.setText(f"{fooled} of {res.n} {goal} \u00b7 click one")
        self._show_current()
        changed = int((res.adv_pred != res.clean_pred).sum())
        self.panel.status(
            self, f"{res.method.upper()} \u03b5 {fmt_eps(res.eps)}: accuracy "
            f"{res.clean_accuracy:.0%} \u2192 {res.adversarial_accuracy:.0%} on these "
            f"{res.n} samples \u00b7 {changed} predictions changed \u00b7 mean confidence "
            f"{float(res.clean_conf.mean()):.0%} \u2192 {float(res.adv_conf.mean()):.0%}")
        self.attacked.emit(res)

    def _show_current(self, *_args: Any) -> None:
        res, picks = self.result, self.picks
        if res is None or picks is None or not res.n:
            return
        i = min(self.cards.current, res.n - 1)
        info = self.panel.prepared_info
        names = info.get("class_names", [])
        label = int(res.labels[i])
        t = theme.current()
        clean = _prediction_html(names, res.clean_pred[i], float(res.clean_conf[i]), label)
        adv = _prediction_html(names, res.adv_pred[i], float(res.adv_conf[i]),
                               int(res.target[i]) if res.targeted and res.target is not None
                               and bool(res.success[i]) else label)
        dim = f'<span style="color:{t.text_dim}">'
        titles = [f"{dim}Original \u00b7 </span>{clean}",
                  f"{dim}Perturbation \u00b7 L\u221e {fmt_eps(float(res.linf[i]))}</span>",
                  f"{dim}Adversarial \u00b7 </span>{adv}"]
        x = np.asarray(picks["inputs"][i], np.float32)
        if info.get("image"):
            self.triptych.show_images(x, res.perturbation[i], res.x_adv[i],
                                      info["value_range"], titles)
        else:
            self.triptych.show_bars(x, res.perturbation[i], res.x_adv[i],
                                    info.get("feature_names", []), titles)

    def refresh_theme(self) -> None:
        self.triptych.refresh_theme()
        self.range_reset.setIcon(style.icon("reset"))
        last = self.panel.cache.last
        if self.result is not None and last is not None:
            self._attack_done((last, self.picks, self.result))


__all__ = ["SLIDER_STEPS", "AttackPage"]
