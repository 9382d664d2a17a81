"""The Adversarial panel: how easily the trained network is fooled, and how that evolves.

Four pages share one task bar (progress + Cancel) at the bottom:

* **Attack**: FGSM or PGD (untargeted, or towards a chosen class) at an epsilon in the data's
  own units on a few validation samples; the chosen sample as original | perturbation
  (amplified on a diverging colour map, the factor written on it) | adversarial, each with its
  prediction and confidence, and every sample's outcome as a card. Tabular and 2-D data show
  the three as bars per feature.
* **Robustness**: validation accuracy against epsilon for FGSM and PGD, clean accuracy marked.
* **Patch**: one optimised square patch that pushes any image towards a target class: the patch,
  patched held-out samples with their predictions, and its success rate beside a random patch.
* **Live**: with a training controller, the ``robustness`` probe attacks a fixed validation
  subset at every epoch's end (in the training process): robust beside clean accuracy per
  epoch, and the latest adversarial examples.

All computation is ``runtime.attacks`` (or the probe) run by ``gui.tasks``; this module draws.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QSignalBlocker, Qt, QTimer
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QStackedLayout,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gui import style, theme
from gui.panels import lab
from gui.panels import plotting as P
from gui.panels.adversarial_views import (
    THUMB,
    CardStrip,
    SampleCard,
    Triptych,
    amplification,
    factor_text,
    fmt_eps,
    outlined_thumbnail,
)
from gui.panels.lab import class_name, display_image, grey_lut, signed_map
from gui.panels.visibility import on_screen
from gui.prepared import PreparedCache, snapshot
from gui.tasks import TaskBar, TaskRunner

FGSM_COLOR = "#4c9be8"
PGD_COLOR = "#f0954a"
SLIDER_STEPS = 200
LIVE_EXAMPLES = 4
ATTACK, CURVE, PATCH, LIVE = range(4)  # the pages
CONTROLS_WIDTH = 250  # every page's controls column: the Range row's two fields fit
PATCH_CARDS = 8


def _percent_axis(plot: pg.PlotItem) -> None:
    plot.setYRange(0, 100, padding=0.06)
    axis = plot.getAxis("left")
    axis.setTicks([[(v, str(v)) for v in (0, 25, 50, 75, 100)], []])
    axis.setStyle(hideOverlappingLabels=False)
    plot.showGrid(x=False, y=True, alpha=0.15)


def _legend_html(entries: list[tuple[str, str]]) -> str:
    """A legend written into a title: coloured squares and text, no box over the curves."""
    t = theme.current()
    return "&nbsp;&nbsp;&nbsp;".join(
        f'<span style="color:{color}">\u25a0</span> <span style="color:{t.text}">{text}</span>'
        for color, text in entries)


def _form() -> tuple[QWidget, QFormLayout]:
    widget = QWidget()
    form = QFormLayout(widget)
    form.setContentsMargins(0, 2, 6, 2)
    form.setHorizontalSpacing(8)
    form.setVerticalSpacing(5)
    form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    return widget, form


def _spin(low: int, high: int, value: int, tip: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    spin.setToolTip(tip)
    spin.setKeyboardTracking(False)
    return spin


def _dim(text: str, wrap: bool = True) -> QLabel:
    label = QLabel(text)
    label.setProperty("role", "dim")
    label.setWordWrap(wrap)
    label.setFont(style.font("small"))
    return label


def _prediction_html(names: list[str], pred: int, conf: float, label: int | None) -> str:
    t = theme.current()
    color = t.text if label is None else (t.ok if int(pred) == int(label) else t.error)
    return (f'<span style="color:{color}; font-weight:bold">{class_name(names, pred)}</span>'
            f'<span style="color:{t.text_dim}"> {conf:.0%}</span>')


# -- the panel -----------------------------------------------------------------------------------
class AdversarialPanel(QWidget):
    """Attacks on the open project's trained network (see the module docstring).

    Public state for tests and the lead: ``runner`` (its ``TaskRunner``), ``result`` (the last
    ``runtime.attacks.AttackResult``), ``curves`` (the last robustness curves), ``patch``
    (the last ``PatchResult``) and ``random_patch_rate``, ``live_epochs`` (robust/clean
    accuracy per epoch from the probe), ``triptych``, ``live_payload``.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("adversarial_panel")
        self.runner = TaskRunner(self)
        self.model = PreparedCache(lab.prepare_lab)
        self.project: Any = None
        self.main_window: Any = None
        self.controller: Any = None
        self.blocker: str | None = lab.NEEDS_WEIGHTS
        self.prepared_info: dict[str, Any] = {}  # class names, value range, image or not
        self.picks: dict[str, Any] | None = None
        self.page = 0
        self.result: Any = None
        self.curves: dict[str, Any] = {}
        self.patch: Any = None
        self.random_patch_rate: float | None = None
        self.live_epochs: list[dict[str, Any]] = []
        self.live_payload: dict[str, Any] | None = None
        self._dirty = True  # the attack is out of date (project, weights or controls changed)
        self._eps_touched = False  # the user set epsilon: keep it when the data range arrives
        self._training = False  # a run of the controller is in progress
        self._seen = False  # shown at least once: from then on the live probe is requested
        self._live_stale = False  # a live result came while hidden: draw it when shown
        self._page_before: int | None = ATTACK  # the page to return to when attacks can run
        self._statuses: dict[int, tuple[str, bool]] = {}  # the task bar's line per page
        self._ready_key: str | None = None

        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 4, 6, 4)
        outer.setSpacing(2)
        self.stack = QStackedLayout()
        outer.addLayout(self.stack, 1)
        self.empty = QLabel()
        self.empty.setObjectName("adversarial_empty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setProperty("role", "dim")
        self.empty.setMargin(16)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.setObjectName("adversarial_tabs")
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.tabs)
        self.task_bar = TaskBar(self.runner)
        outer.addWidget(self.task_bar)

        self._build_attack()
        self._build_robustness()
        self._build_patch()
        self._build_live()
        self._set_eps_range(1.0, 0.1)
        self.tabs.currentChanged.connect(self._tab_changed)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(250)
        self._debounce.timeout.connect(self._auto_attack)
        self._probe_timer = QTimer(self)
        self._probe_timer.setSingleShot(True)
        self._probe_timer.setInterval(300)
        self._probe_timer.timeout.connect(self.apply_probe_config)
        self._set_blocker(self.blocker)

    # -- building -------------------------------------------------------------------------------
    def _page(self, controls: QWidget, content: QWidget | Any, title: str) -> None:
        page = QWidget()
        row = QHBoxLayout(page)
        row.setContentsMargins(0, 6, 0, 0)
        row.setSpacing(10)
        row.addWidget(lab.controls_column(controls, CONTROLS_WIDTH))
        if isinstance(content, QWidget):
            row.addWidget(content, 1)
        else:
            row.addLayout(content, 1)
        self.tabs.addTab(page, title)

    def _build_attack(self) -> None:
        controls, form = _form()
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

        self.steps_spin = _spin(1, 500, 10, "PGD steps (each of size 2.5 \u03b5 / steps, from "
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
        self._eps_top = 0.5

        self.triptych = Triptych()
        self.triptych.on_hover = self._hover_text
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
        self._page(controls, content, "Attack")

        self.method_combo.currentIndexChanged.connect(self._controls_changed)
        self.eps_slider.valueChanged.connect(self._slider_moved)
        self.eps_spin.valueChanged.connect(self._spin_changed)
        self.steps_spin.valueChanged.connect(self._controls_changed)
        self.target_combo.currentIndexChanged.connect(self._controls_changed)
        self._update_steps_enabled()

    def _build_robustness(self) -> None:
        controls, form = _form()
        self.curve_max = QDoubleSpinBox()
        self.curve_max.setObjectName("robustness_max_eps")
        self.curve_max.setDecimals(3)
        self.curve_max.setRange(0.001, 1.0)
        self.curve_max.setValue(0.3)
        self.curve_max.setToolTip("The largest \u03b5 of the curve, in data units")
        form.addRow("Max \u03b5", self.curve_max)
        self.curve_points = _spin(2, 40, 7, "Epsilons from 0 to the maximum, evenly spaced")
        form.addRow("Points", self.curve_points)
        self.curve_samples = _spin(10, 100000, 300, "Validation samples attacked at each "
                                   "\u03b5 (the first ones)")
        form.addRow("Samples", self.curve_samples)
        self.curve_steps = _spin(1, 500, 10, "PGD steps per \u03b5")
        self.curve_steps.setObjectName("robustness_steps")
        form.addRow("PGD steps", self.curve_steps)
        self.curve_button = QPushButton("Compute curve")
        self.curve_button.setObjectName("robustness_compute")
        self.curve_button.setToolTip("Attack the validation samples at every \u03b5 with FGSM "
                                     "and PGD (runs in the background; Cancel stops it)")
        self.curve_button.clicked.connect(self.compute_curve)
        form.addRow("", self.curve_button)

        self.curve_view = P.make_plot_widget()
        self.curve_plot = self.curve_view.getPlotItem()
        self._style_curve_plot()
        self.curve_legend = self.curve_plot.addLegend(offset=(-8, 8), labelTextSize=P.css_size())
        self.fgsm_curve = self.curve_plot.plot([], [], pen=pg.mkPen(FGSM_COLOR, width=2),
                                               symbol="o", symbolSize=5,
                                               symbolBrush=FGSM_COLOR, symbolPen=None,
                                               name="FGSM")
        self.pgd_curve = self.curve_plot.plot([], [], pen=pg.mkPen(PGD_COLOR, width=2),
                                              symbol="o", symbolSize=5, symbolBrush=PGD_COLOR,
                                              symbolPen=None, name="PGD")
        t = theme.current()
        self.clean_line = pg.InfiniteLine(angle=0, movable=False,
                                          pen=pg.mkPen(t.text_dim, style=Qt.PenStyle.DashLine))
        self.clean_label = pg.TextItem("", color=t.text_dim, anchor=(0, 0))
        self.eps_line = pg.InfiniteLine(angle=90, movable=False,
                                        pen=pg.mkPen(t.accent, style=Qt.PenStyle.DotLine))
        for line in (self.clean_line, self.eps_line, self.clean_label):
            line.hide()
            self.curve_plot.addItem(line, ignoreBounds=True)
        content = QVBoxLayout()
        content.setSpacing(2)
        content.addWidget(self.curve_view, 1)
        self.curve_view.scene().sigMouseMoved.connect(self._hover_curve)
        self._page(controls, content, "Robustness")
        self._curve_empty()

    def _style_curve_plot(self) -> None:
        P.style_plot(self.curve_plot, x="\u03b5 (data units)", y="accuracy (%)")
        _percent_axis(self.curve_plot)

    def _curve_empty(self) -> None:
        P.set_title(self.curve_plot, "Accuracy under attack: press Compute curve")

    def _build_patch(self) -> None:
        controls, form = _form()
        self.patch_size = _spin(1, 64, 3, "Side of the square patch, in pixels")
        self.patch_size.setObjectName("patch_size")
        form.addRow("Size", self.patch_size)
        self.patch_target = QComboBox()
        self.patch_target.setObjectName("patch_target")
        self.patch_target.setToolTip("The class the patch should make the network see")
        form.addRow("Target", self.patch_target)
        self.patch_position = QComboBox()
        self.patch_position.setObjectName("patch_position")
        self.patch_position.addItem("Random", "random")
        self.patch_position.addItem("Fixed (centre)", "fixed")
        self.patch_position.setToolTip("Random: the patch moves every step, so it must work "
                                       "anywhere. Fixed: always in the centre.")
        form.addRow("Position", self.patch_position)
        self.patch_steps = _spin(1, 5000, 200, "Optimisation steps (Adam on the patch pixels)")
        self.patch_steps.setObjectName("patch_steps")
        form.addRow("Steps", self.patch_steps)
        self.patch_button = QPushButton("Optimise patch")
        self.patch_button.setObjectName("patch_run")
        self.patch_button.setToolTip("Optimise the patch on training samples and measure it "
                                     "on the validation samples")
        self.patch_button.clicked.connect(self.run_patch)
        form.addRow("", self.patch_button)

        content = QHBoxLayout()
        content.setSpacing(10)
        self.patch_view = P.make_layout_widget()
        self.patch_view.setFixedWidth(170)
        self.patch_plot = self.patch_view.addPlot(row=0, col=0)
        P.style_plot(self.patch_plot)
        self.patch_image = P.image_plot(self.patch_plot)
        self.patch_frame = QGraphicsRectItem(0, 0, 1, 1)  # the patch's edge, on any content
        self.patch_frame.hide()
        self.patch_plot.addItem(self.patch_frame)
        P.set_title(self.patch_plot, "Patch")
        content.addWidget(self.patch_view)
        middle = QVBoxLayout()
        middle.setSpacing(4)
        self.patch_title = QLabel("Optimise a patch to see it at work on validation samples.")
        self.patch_title.setProperty("role", "dim")
        self.patch_title.setWordWrap(True)
        self.patch_title.setFont(style.font("small"))
        middle.addWidget(self.patch_title)
        self.patch_cards = CardStrip(4, selectable=False)
        middle.addWidget(self.patch_cards)
        middle.addStretch(1)
        holder = QWidget()
        holder.setLayout(middle)
        holder.setFixedWidth(4 * (THUMB + 14) + 8)
        content.addWidget(holder)
        self.rate_view = P.make_plot_widget()
        self.rate_plot = self.rate_view.getPlotItem()
        self.rate_bars = pg.BarGraphItem(x0=[], y=[], height=0.6, width=[])
        self.rate_plot.addItem(self.rate_bars)
        self.rate_plot.getViewBox().invertY(True)
        self._style_rate_plot()
        content.addWidget(self.rate_view, 1)
        self._page(controls, content, "Patch")

    def _style_rate_plot(self) -> None:
        P.style_plot(self.rate_plot, x="predicted as the target (%)")
        self.rate_plot.setXRange(0, 100, padding=0.02)
        self.rate_plot.setYRange(-0.5, 2.5, padding=0)
        self.rate_plot.getAxis("left").setTicks(
            [[(0, "optimised patch"), (1, "random patch"), (2, "no patch")], []])
        P.set_title(self.rate_plot, "Success rate")

    def _build_live(self) -> None:
        controls, form = _form()
        self.live_check = QCheckBox("Attack at each epoch's end")
        self.live_check.setObjectName("live_robustness")
        self.live_check.setChecked(True)
        self.live_check.setToolTip("While training runs, attack a fixed set of validation "
                                   "samples after every epoch (with the Attack page's method, "
                                   "\u03b5 and steps) and plot robust accuracy")
        form.addRow(self.live_check)
        self.live_samples = _spin(8, 1024, 64, "Validation samples attacked after each epoch "
                                  "(more: smoother curve, slower epochs)")
        self.live_samples.setObjectName("live_samples")
        form.addRow("Samples", self.live_samples)
        self.live_note = _dim("")
        form.addRow(self.live_note)
        self.live_check.toggled.connect(self._live_options_changed)
        self.live_samples.valueChanged.connect(self._live_options_changed)

        content = QHBoxLayout()
        content.setSpacing(10)
        self.live_view = P.make_plot_widget()
        self.live_plot = self.live_view.getPlotItem()
        self._style_live_plot()
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
        self.live_title = _dim("Latest adversarial examples appear here after each epoch.")
        side.addWidget(self.live_title)
        self.live_cards = CardStrip(2, selectable=False)
        side.addWidget(self.live_cards)
        side.addStretch(1)
        examples.setFixedWidth(2 * (3 * THUMB + 26) + 8)
        content.addWidget(examples)
        self._page(controls, content, "Live")
        self._live_empty()

    def _style_live_plot(self) -> None:
        P.style_plot(self.live_plot, x="epoch", y="accuracy (%)")
        _percent_axis(self.live_plot)

    def _live_empty(self) -> None:
        text = ("Train the network (press Train): after each epoch its robustness is "
                "measured here" if self.controller is not None else
                "Robustness during training needs the training controller")
        P.set_title(self.live_plot, text)
        self.live_cards.set_cards([])
        self.live_title.setText("Latest adversarial examples appear here after each epoch.")

    # -- binding --------------------------------------------------------------------------------
    def bind_window(self, window: Any) -> None:
        """Follow ``window``'s project, analysis and theme (``install_lab_panels`` calls it)."""
        self.main_window = window
        window.project_changed.connect(self.set_project)
        if hasattr(window, "analysis_updated"):
            window.analysis_updated.connect(self.recheck)
        if hasattr(window, "theme_changed"):
            window.theme_changed.connect(self.refresh_theme)
        self.set_project(window.project)

    def bind_controller(self, controller: Any) -> None:
        """Live robustness from a ``gui.training.TrainingController``."""
        self.controller = controller
        controller.probe.connect(self.on_probe)
        controller.started.connect(self.on_run_started)
        controller.finished.connect(self.on_run_finished)
        controller.epoch.connect(self.on_epoch)
        controller.project_updated.connect(self._project_updated)
        self._live_empty()
        self.apply_probe_config()

    def _project_updated(self, project: Any) -> None:
        if project is self.project or self.project is None:
            self.set_project(project)

    def set_project(self, project: Any) -> None:
        """Attack ``project`` from now on (its weights as they are; again when they change)."""
        if project is not self.project:
            self.page = 0
            self.picks = None
            self.result = None
            self.curves = {}
            self.patch = None
            self.live_epochs = []
            self.cards.set_cards([])
            self.triptych.clear()
            self._ready_key = None
            self._eps_touched = False
            self._statuses = {}
            self.user_range = None  # another project: its data's range
            self.range_reset.setEnabled(False)
        self.project = project
        self._dirty = True
        self.recheck()

    def recheck(self, *_args: Any) -> None:
        """Re-read whether the project can be attacked (after edits); attack again when visible."""
        self._set_blocker(lab.attack_blocker(self.project))
        if self.controller is not None:
            self._probe_timer.start()
        if self.blocker is None and self._dirty and on_screen(self):
            self.refresh()

    def _set_blocker(self, text: str | None) -> None:
        """Show the pages, or the empty state saying why not. Without weights but with live
        robustness coming in (the first training run), only the Live page is open."""
        self.blocker = text
        live_only = text == lab.NEEDS_WEIGHTS and (self._training or bool(self.live_epochs))
        if text is not None and self.tabs.isTabEnabled(ATTACK):
            self._page_before = self.tabs.currentIndex()  # disabling moves off the page
        for index in (ATTACK, CURVE, PATCH):
            self.tabs.setTabEnabled(index, text is None)
            self.tabs.setTabToolTip(index, "" if text is None else text)
        if live_only:
            self._page_before = None  # after the first run, stay with its live curves
            self.tabs.setCurrentIndex(LIVE)
        elif text is None and self._page_before is not None:
            self.tabs.setCurrentIndex(self._page_before)
            self._page_before = None
        if text is None or live_only:
            self.stack.setCurrentWidget(self.tabs)
        else:
            self.empty.setText(text)
            self.stack.setCurrentWidget(self.empty)
            self.task_bar.show_status(" ")

    @property
    def is_empty(self) -> bool:
        return self.stack.currentWidget() is self.empty

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        self.came_into_view(True)

    def came_into_view(self, visible: bool) -> None:
        """Shown, or its dock's tab brought to the front (which sends no show event)."""
        if not visible:
            return
        if self.blocker is None and self._dirty:
            QTimer.singleShot(0, self.refresh)
        if not self._seen:
            QTimer.singleShot(0, self._check_seen)
        if self._live_stale:
            self._live_stale = False
            QTimer.singleShot(0, self.render_live)

    def _check_seen(self) -> None:
        """Seen means on screen: a dock laid out behind another tab is shown for a moment
        while the window builds its layout, and that must not turn the live attack on."""
        if self._seen or not on_screen(self):
            return
        self._seen = True
        if self.controller is not None:
            self._probe_timer.start()

    def refresh(self) -> None:
        """Prepare the network (background) and attack the samples with the current settings."""
        if self.blocker is not None:
            return
        self._dirty = False
        self.run_attack()

    # -- attack ---------------------------------------------------------------------------------
    def _set_eps_range(self, width: float, eps: float | None = None) -> None:
        top = 0.5 * width
        self._eps_top = top
        value = self.eps_spin.value() if eps is None else eps
        self.eps_spin.blockSignals(True)
        self.eps_spin.setRange(0.0, width)
        self.eps_spin.setSingleStep(round(0.01 * width, 6) or 0.01)
        self.eps_spin.setValue(value)
        self.eps_spin.blockSignals(False)
        self._sync_slider()
        self.curve_max.setRange(0.001 * width, width)
        self.curve_max.setSingleStep(round(0.05 * width, 6) or 0.05)
        self.curve_max.setValue(0.3 * width)

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

    # -- the valid input range -------------------------------------------------------------
    def _range_row(self) -> QHBoxLayout:
        """Low … high of the values adversarial inputs may take: the data's range until
        the user sets one (e.g. a sensor's physical limits)."""
        self.user_range: tuple[float, float] | None = None
        row = QHBoxLayout()
        row.setSpacing(4)
        self.range_spins = []
        for name in ("low", "high"):
            spin = QDoubleSpinBox()
            spin.setObjectName(f"adversarial_range_{name}")
            spin.setRange(-1e9, 1e9)
            spin.setDecimals(3)
            spin.setKeyboardTracking(False)
            spin.setFixedWidth(70)
            spin.setToolTip(f"The {name} end of the values an adversarial input may take, in "
                            "the data's units; the data's own range unless you set one")
            spin.valueChanged.connect(self._range_edited)
            self.range_spins.append(spin)
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
        for spin, value in zip(self.range_spins, (np.min(lo), np.max(hi)), strict=True):
            with QSignalBlocker(spin):
                spin.setValue(float(value))

    def _range_edited(self, _value: float) -> None:
        low, high = (spin.value() for spin in self.range_spins)
        if low >= high:  # refused: back to the range in force
            in_force = self.user_range or self.prepared_info.get("value_range")
            if in_force is not None:
                self._show_range(in_force)
            self._status(ATTACK, "Range: the low end must be below the high end.", error=True)
            return
        self.set_range((low, high))

    def set_range(self, value_range: tuple[float, float] | None) -> None:
        """The range adversarial inputs stay in (None: the data's); attacks follow."""
        self.user_range = None if value_range is None else (float(value_range[0]),
                                                            float(value_range[1]))
        self.range_reset.setEnabled(self.user_range is not None)
        shown = self.user_range or self.prepared_info.get("value_range")
        if shown is not None:
            self._show_range(shown)
        self._controls_changed()

    def _range_reset(self) -> None:
        self.set_range(None)

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

    def set_method(self, method: str) -> None:
        self.method_combo.setCurrentIndex(max(0, self.method_combo.findData(method)))

    def _update_steps_enabled(self) -> None:
        self.steps_spin.setEnabled(self.method == "pgd")

    def _controls_changed(self, *_args: Any) -> None:
        self._update_steps_enabled()
        if self.result is not None or self.runner.active("attack"):
            self._debounce.start()
        if self.controller is not None:
            self._probe_timer.start()
        if self.eps_line.isVisible() or self.curves:
            self._draw_eps_line()

    def _auto_attack(self) -> None:
        if self.blocker is None and on_screen(self):
            self.run_attack()
        else:
            self._dirty = True

    def next_samples(self) -> None:
        self.page += 1
        self.cards.current = 0
        self.run_attack()

    def _when_prepared(self, action: Any, tab: int) -> Any:
        """Run ``action`` now when the network of the project as it is has been prepared;
        else prepare it first (background), so the controls get the data's range and classes
        before the action reads them. Returns the task started."""
        self._set_blocker(lab.attack_blocker(self.project))
        if self.blocker is not None:
            return None
        snap = snapshot(self.project)
        if self._ready_key == snap.key:
            return action()
        model = self.model

        def done(prep: Any) -> None:
            self._prepared(prep)
            action()

        # one prepare per action: a prepare for another action must not supersede this one
        name = f"prepare {getattr(action, '__name__', '')}"
        return self.runner.run(name, lambda _progress, _cancel: model.get(snap),
                               "Preparing the network", on_done=done,
                               on_error=lambda message: self._failed(message, tab))

    def _status(self, tab: int, text: str, error: bool = False) -> None:
        """The task bar's line for page ``tab`` (shown while that page is open)."""
        self._statuses[tab] = (text, error)
        if self.tabs.currentIndex() == tab:
            self.task_bar.show_status(text, error)

    def run_attack(self) -> Any:
        """Attack the picked validation samples in the background; returns the ``Task``."""
        return self._when_prepared(self._start_attack, ATTACK)

    def _start_attack(self) -> Any:
        from runtime import attacks

        snap = snapshot(self.project)
        method, eps, steps, page = self.method, self.eps, int(self.steps_spin.value()), self.page
        target = self.target_combo.currentData()
        model, chosen = self.model, self.user_range

        def work(progress: Any, cancel: Any) -> tuple[Any, dict[str, Any], Any]:
            prep = model.get(snap)
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
        return self.runner.run("attack", work, label, on_done=self._attack_done,
                               on_error=lambda message: self._failed(message, ATTACK))

    def _prepared(self, prep: Any) -> None:
        """A (new) network was prepared: class names, range, pickers."""
        if self._ready_key == prep.key:
            return
        first = self._ready_key is None
        self._ready_key = prep.key
        self.prepared_info = {"class_names": prep.class_names, "value_range": prep.value_range,
                              "image": prep.is_image, "feature_names": prep.feature_names,
                              "input_shape": prep.input_shape, "val": int(len(prep.x_val))}
        if self.user_range is None:
            self._show_range(prep.value_range)
        if first:
            default = 0.1 * prep.range_width
            self._set_eps_range(prep.range_width, None if self._eps_touched else default)
        names = prep.class_names or [str(i) for i in range(prep.num_classes)]
        for combo, untargeted in ((self.target_combo, True), (self.patch_target, False)):
            current = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            if untargeted:
                combo.addItem("Untargeted", None)
            for i, name in enumerate(names):
                combo.addItem(f"{name}" if name == str(i) else f"{i}: {name}", i)
            index = combo.findData(current)
            combo.setCurrentIndex(max(0, index))
            combo.blockSignals(False)
        self.curve_samples.setMaximum(max(10, len(prep.x_val)))
        self.curve_samples.setValue(min(self.curve_samples.value(), len(prep.x_val)))
        if prep.is_image:
            side = min(prep.input_shape[-2:])
            self.patch_size.setMaximum(side)
            self.patch_size.setValue(max(1, side // 2 if side <= 16 else side // 5))
        patch_ok = prep.is_image
        self.patch_button.setEnabled(patch_ok)
        if not patch_ok:
            self.patch_title.setText("Patch attacks need image inputs (N x C x H x W); this "
                                     "data set has vectors.")

    def _attack_done(self, value: tuple[Any, dict[str, Any], Any]) -> None:
        prep, picks, res = value
        self._prepared(prep)
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
        self._status(
            ATTACK, f"{res.method.upper()} \u03b5 {fmt_eps(res.eps)}: accuracy "
            f"{res.clean_accuracy:.0%} \u2192 {res.adversarial_accuracy:.0%} on these "
            f"{res.n} samples \u00b7 {changed} predictions changed \u00b7 mean confidence "
            f"{float(res.clean_conf.mean()):.0%} \u2192 {float(res.adv_conf.mean()):.0%}")

    def _show_current(self, *_args: Any) -> None:
        res, picks = self.result, self.picks
        if res is None or picks is None or not res.n:
            return
        i = min(self.cards.current, res.n - 1)
        names = self.prepared_info.get("class_names", [])
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
        if self.prepared_info.get("image"):
            self.triptych.show_images(x, res.perturbation[i], res.x_adv[i],
                                      self.prepared_info["value_range"], titles)
        else:
            self.triptych.show_bars(x, res.perturbation[i], res.x_adv[i],
                                    self.prepared_info.get("feature_names", []), titles)

    def _failed(self, message: str, tab: int) -> None:
        self._status(tab, message, error=True)

    def _hover_text(self, text: str) -> None:
        if text and not self.runner.busy:
            self.task_bar.label.setText(text)
        elif not self.runner.busy:
            self.task_bar.label.setText(self.task_bar._status)

    # -- robustness curve -----------------------------------------------------------------------
    def compute_curve(self) -> Any:
        """FGSM and PGD robustness curves on the first validation samples (background)."""
        return self._when_prepared(self._start_curve, CURVE)

    def _start_curve(self) -> Any:
        from runtime import attacks

        snap = snapshot(self.project)
        top, points = float(self.curve_max.value()), int(self.curve_points.value())
        samples, steps = int(self.curve_samples.value()), int(self.curve_steps.value())
        eps_values = [top * i / (points - 1) for i in range(points)]
        model, chosen = self.model, self.user_range

        def work(progress: Any, cancel: Any) -> tuple[Any, dict[str, Any]]:
            prep = model.get(snap)
            x, y = prep.x_val[:samples], prep.y_val[:samples]
            share = 1.0 / (1 + steps)  # FGSM costs one step per epsilon, PGD ``steps``
            out = {}
            for method, start, part in (("fgsm", 0.0, share), ("pgd", share, 1 - share)):
                def sub(f: float, start: float = start, part: float = part) -> None:
                    progress(start + part * f)

                out[method] = attacks.robustness_curve(
                    prep.module, x, y, eps_values, method=method,
                    value_range=chosen or prep.value_range, steps=steps, progress=sub,
                    cancel=cancel)
            return prep, out

        return self.runner.run("curve", work, f"Robustness curve ({points} \u03b5, {samples} "
                               f"samples)", on_done=self._curve_done,
                               on_error=lambda message: self._failed(message, CURVE))

    def _curve_done(self, value: tuple[Any, dict[str, Any]]) -> None:
        prep, curves = value
        self._prepared(prep)
        self.curves = curves
        self.draw_curves()
        fgsm, pgd = curves["fgsm"], curves["pgd"]
        clean = fgsm["clean_accuracy"]
        self._status(
            CURVE, f"Robustness on {fgsm['n']} samples: clean {clean:.0%}; at \u03b5 "
            f"{fmt_eps(fgsm['eps'][-1])} FGSM {fgsm['accuracy'][-1]:.0%}, PGD "
            f"{pgd['accuracy'][-1]:.0%}")

    def draw_curves(self) -> None:
        if not self.curves:
            return
        for curve, item in ((self.curves.get("fgsm"), self.fgsm_curve),
                            (self.curves.get("pgd"), self.pgd_curve)):
            if curve is not None:
                item.setData(np.asarray(curve["eps"]), 100 * np.asarray(curve["accuracy"]))
        clean = 100 * float(self.curves["fgsm"]["clean_accuracy"])
        top = float(self.curves["fgsm"]["eps"][-1])
        self.clean_line.setPos(clean)
        self.clean_line.show()
        self.clean_label.setText(f"clean {clean:.0f}%")
        self.clean_label.setColor(theme.current().text_dim)
        self.clean_label.setPos(top * 0.55, clean)
        self.clean_label.show()
        self.curve_plot.setXRange(0, top, padding=0.03)
        n = self.curves["fgsm"]["n"]
        steps = self.curves["pgd"].get("steps", self.curve_steps.value())
        P.set_title(self.curve_plot, f"Accuracy under attack \u00b7 {n} validation samples "
                    f"\u00b7 PGD {steps} steps")
        self._draw_eps_line()

    def _draw_eps_line(self) -> None:
        self.eps_line.setPos(self.eps)
        self.eps_line.setVisible(bool(self.curves))

    def _hover_curve(self, pos: QPointF) -> None:
        point = P.hover_position(self.curve_plot, pos)
        if point is None or not self.curves or self.runner.busy:
            return
        eps = np.asarray(self.curves["fgsm"]["eps"])
        i = int(np.argmin(np.abs(eps - point.x())))
        self.task_bar.label.setText(
            f"\u03b5 {fmt_eps(float(eps[i]))}: FGSM "
            f"{self.curves['fgsm']['accuracy'][i]:.1%} \u00b7 PGD "
            f"{self.curves['pgd']['accuracy'][i]:.1%} \u00b7 clean "
            f"{self.curves['fgsm']['clean_accuracy']:.1%}")

    # -- patch ----------------------------------------------------------------------------------
    def run_patch(self) -> Any:
        """Optimise a patch for the chosen target (background), then compare with a random one."""
        return self._when_prepared(self._start_patch, PATCH)

    def _start_patch(self) -> Any:
        from runtime import attacks

        snap = snapshot(self.project)
        size, steps = int(self.patch_size.value()), int(self.patch_steps.value())
        target = self.patch_target.currentData()
        target = 0 if target is None else int(target)
        position = str(self.patch_position.currentData())
        model, chosen = self.model, self.user_range

        def work(progress: Any, cancel: Any) -> tuple[Any, Any, float]:
            prep = model.get(snap)
            if not prep.is_image:
                raise ValueError("patch attacks need image inputs; this data set has vectors")
            result = attacks.adversarial_patch(
                prep.module, prep.x_train, target, patch_size=size, steps=steps,
                position=position, value_range=chosen or prep.value_range, x_test=prep.x_val,
                y_test=prep.y_val, progress=progress, cancel=cancel)
            rate = attacks.random_patch_success(
                prep.module, prep.x_val, target, patch_size=size, position=position,
                value_range=chosen or prep.value_range, y=prep.y_val)
            return prep, result, rate

        names = self.prepared_info.get("class_names", [])
        return self.runner.run("patch", work, f"Patch for class {class_name(names, target)}",
                               on_done=self._patch_done,
                               on_error=lambda message: self._failed(message, PATCH))

    def _patch_done(self, value: tuple[Any, Any, float]) -> None:
        prep, result, rate = value
        self._prepared(prep)
        self.patch, self.random_patch_rate = result, rate
        names = prep.class_names
        target = class_name(names, result.target_class)
        patch = display_image(result.patch)
        lo, hi = prep.value_range
        if patch is not None and patch.ndim == 3:
            self.patch_image.setImage(np.clip((patch - lo) / ((hi - lo) or 1), 0, 1),
                                      levels=(0, 1), autoLevels=False, lut=None)
        elif patch is not None:
            self.patch_image.setImage(patch, levels=(lo, hi), autoLevels=False, lut=grey_lut())
        if patch is not None:
            self.patch_image.setRect(0, 0, patch.shape[1], patch.shape[0])
            self.patch_plot.getViewBox().autoRange(padding=0.02)
        size = result.patch.shape[-1]
        self.patch_frame.setRect(0, 0, size, size)
        self.patch_frame.setPen(pg.mkPen(theme.current().accent, width=1))
        self.patch_frame.show()
        P.set_title(self.patch_plot, f"Patch {size}\u00d7{size} \u2192 {target}")
        t = theme.current()
        cards = []
        for i in range(min(PATCH_CARDS, len(result.examples))):
            pred = int(result.example_predictions[i])
            hit = pred == result.target_class
            color = t.ok if hit else t.text_dim
            caption = f'<span style="color:{color}">{class_name(names, pred)}</span>'
            r, c = (int(v) for v in result.example_positions[i])
            tip = (f"Patched at row {r}, column {c}: predicted {class_name(names, pred)}"
                   + (" (the target)" if hit else ""))
            picture = outlined_thumbnail(result.examples[i], r, c, size, t.accent)
            cards.append(SampleCard(i, picture, caption, tip))
        self.patch_cards.set_cards(cards)
        self.patch_title.setText("Patched samples \u2192 prediction")
        rates = [100 * result.success_rate, 100 * rate, 100 * result.clean_target_rate]
        colors = [t.accent, t.text_dim, style.mix(t.text_dim, t.window, 0.4)]
        self.rate_bars.setOpts(x0=[0, 0, 0], y=[0, 1, 2], height=0.6, width=rates,
                               brushes=[pg.mkBrush(c) for c in colors], pen=pg.mkPen(None))
        for item in getattr(self, "_rate_labels", []):
            self.rate_plot.removeItem(item)
        self._rate_labels = []
        for row, value in enumerate(rates):
            label = pg.TextItem(f"{value:.0f}%", color=t.text, anchor=(0, 0.5))
            label.setPos(min(value, 88) + 1.5, row)
            self.rate_plot.addItem(label)
            self._rate_labels.append(label)
        P.set_title(self.rate_plot, f"Read as {target}: {result.n} validation samples")
        self._status(
            PATCH, f"Patch \u2192 {target}: {result.success_rate:.0%} of {result.n} validation "
            f"samples read as {target} (random patch {rate:.0%}, no patch "
            f"{result.clean_target_rate:.0%})")

    # -- live ------------------------------------------------------------------------------------
    def _live_options_changed(self, *_args: Any) -> None:
        self._probe_timer.start()

    def probe_config(self) -> dict[str, Any] | None:
        """The ``robustness`` probe this panel wants (None: off). Nothing until the panel has
        been opened once: an attack per epoch costs training time (a few per cent for FGSM on
        digits_cnn), worth paying only for someone who looks."""
        if not self.live_check.isChecked() or not self._seen:
            return None
        config = {"method": self.method, "eps": self.eps, "steps": int(self.steps_spin.value()),
                  "samples": int(self.live_samples.value()), "examples": LIVE_EXAMPLES}
        if self.user_range is not None:
            config["value_range"] = list(self.user_range)
        return config

    def apply_probe_config(self) -> None:
        """Merge our probe into the controller's config (the other panels' probes stay)."""
        controller = self.controller
        if controller is None:
            return
        config = dict(controller.probe_config)
        project = self.project
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

    def on_run_started(self, _event: dict[str, Any]) -> None:
        self._training = True
        self.live_epochs = []
        self.live_clean.setData([], [])
        self.live_robust.setData([], [])
        self._live_empty()
        self._set_blocker(self.blocker)
        if self.controller is not None and self.live_check.isChecked() \
                and "robustness" not in self.controller.probe_config:
            self.apply_probe_config()  # another panel replaced the whole config

    def on_epoch(self, _event: dict[str, Any]) -> None:
        """Another panel's manager may have replaced the whole probe configuration (it builds
        only the probes it knows): ask for ours again, from the next epoch on."""
        if self.probe_config() is not None and "robustness" not in self.controller.probe_config:
            self.apply_probe_config()

    def on_run_finished(self, _event: dict[str, Any]) -> None:
        self._training = False

    def on_probe(self, payload: dict[str, Any]) -> None:
        if payload.get("probe") != "robustness":
            return
        if payload.get("error"):
            P.set_title(self.live_plot, str(payload["error"]))
            return
        epoch = payload.get("epoch")
        if epoch is not None:
            self.live_epochs = [e for e in self.live_epochs if e["epoch"] != epoch]
            self.live_epochs.append({"epoch": int(epoch),
                                     "clean": float(payload["clean_accuracy"]),
                                     "robust": float(payload["robust_accuracy"])})
            self.live_epochs.sort(key=lambda e: e["epoch"])
        self.live_payload = payload
        if self.blocker is not None and not self._pages_shown:
            self._set_blocker(self.blocker)  # the first run's live page opens
        if on_screen(self):
            self.render_live()
        else:
            self._live_stale = True

    @property
    def _pages_shown(self) -> bool:
        return self.stack.currentWidget() is self.tabs

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
            self.live_plot.getAxis("bottom").setTicks(
                [[(e, str(e)) for e in range(1, last + 1) if e % step == 0 or e == 1], []])
        method = str(payload.get("method", "")).upper()
        eps = fmt_eps(float(payload["eps"]))
        P.set_title(self.live_plot, _legend_html([
            (t.accent, f"clean {payload['clean_accuracy']:.0%}"),
            (PGD_COLOR, f"{method} \u03b5 {eps}: {payload['robust_accuracy']:.0%}")])
            + f'<span style="color:{t.text_dim}"> \u00b7 {payload.get("n", 0)} validation '
            "samples</span>")
        seconds = payload.get("seconds")
        if seconds is not None:
            self.live_note.setText(f"{method} \u03b5 {eps}: {1000 * float(seconds):.0f} ms "
                                   "per epoch")
        self._render_live_examples(payload)

    def _render_live_examples(self, payload: dict[str, Any]) -> None:
        ex = payload.get("examples") or {}
        inputs = np.asarray(ex.get("inputs", np.zeros((0,))), np.float32)
        names = list(payload.get("class_names") or self.prepared_info.get("class_names", []))
        labels = list(ex.get("labels") or [])
        t = theme.current()
        lo, hi = payload.get("value_range", (0.0, 1.0))
        cards = []
        cmap = P.diverging_colormap()
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
                picture = self._mini_triptych(inputs[i], delta[i], ex["adversarial"][i],
                                              (lo, hi), vmax, cmap)
            tip = (f"Validation sample #{ex.get('indices', [i] * (i + 1))[i]}: "
                   f"{class_name(names, clean)} \u2192 {class_name(names, adv)} "
                   f"({float(ex['adv_conf'][i]):.0%}) under the attack; original | "
                   "perturbation | adversarial")
            cards.append(SampleCard(i, picture, caption, tip))
        self.live_cards.set_cards(cards)
        epoch = payload.get("epoch")
        when = f"after epoch {epoch}" if epoch is not None else "now"
        amount = f" \u00b7 perturbation {factor_text(factor)}" if inputs.ndim == 4 else ""
        self.live_title.setText(f"Examples {when}{amount}")

    @staticmethod
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
        gap = np.zeros((h, 1, 3), np.uint8) + np.array(P.rgb(theme.current().window),
                                                       np.uint8)
        rgb = np.concatenate([parts[0], gap, parts[1], gap, parts[2]], axis=1)
        return lab.rgb_pixmap(rgb, max(rgb.shape[1], THUMB * rgb.shape[1] // max(1, h)))

    # -- look -------------------------------------------------------------------------------------
    def _tab_changed(self, index: int) -> None:
        text, error = self._statuses.get(index, (" ", False))
        self.task_bar.show_status(text, error)
        self.draw_curves()

    def refresh_theme(self, *_args: Any) -> None:
        t = theme.current()
        self.triptych.refresh_theme()
        self.range_reset.setIcon(style.icon("reset"))
        for view in (self.curve_view, self.rate_view, self.live_view):
            view.setBackground(t.window)
        self.patch_view.setBackground(t.window)
        self._style_curve_plot()
        self._style_rate_plot()
        self._style_live_plot()
        self.live_clean.setPen(pg.mkPen(t.accent, width=2))
        if self.result is not None and self.model.last is not None:
            self._attack_done((self.model.last, self.picks, self.result))
        self.draw_curves()
        if self.live_payload is not None:
            self.render_live()
        else:
            self._live_empty()

    def shutdown(self) -> None:
        self.runner.shutdown()


__all__ = ["AdversarialPanel"]
