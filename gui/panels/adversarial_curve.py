"""The Adversarial panel's Robustness page: validation accuracy against epsilon for FGSM and
PGD on the first validation samples, the clean accuracy and the Attack page's epsilon
marked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QDoubleSpinBox, QPushButton, QVBoxLayout, QWidget

from gui import theme
from gui.panels.adversarial_views import (
    CONTROLS_WIDTH,
    FGSM_COLOR,
    PGD_COLOR,
    fmt_eps,
    percent_axis,
)
from gui.panels.controls import control_form, controls_beside, spin
from gui.panels.lab import Prepared
from gui.panels.plot_style import css_size, set_title, style_plot
from gui.panels.plot_widgets import hover_position, make_plot_widget

if TYPE_CHECKING:  # the GUI imports torch lazily, on first analysis
    from runtime.attacks import RobustnessCurve


class CurvePage(QWidget):
    """See the module docstring. ``panel`` is the ``AdversarialPanel`` it belongs to.

    Public state: ``curves`` (the last ``runtime.attacks.robustness_curve`` per method).
    """

    def __init__(self, panel: Any) -> None:
        super().__init__()
        self.panel = panel
        self.curves: dict[str, RobustnessCurve] = {}
        controls, form = control_form()
        self.curve_max = QDoubleSpinBox()
        self.curve_max.setObjectName("robustness_max_eps")
        self.curve_max.setDecimals(3)
        self.curve_max.setRange(0.001, 1.0)
        self.curve_max.setValue(0.3)
        self.curve_max.setToolTip("The largest \u03b5 of the curve, in data units")
        form.addRow("Max \u03b5", self.curve_max)
        self.curve_points = spin(2, 40, 7, "Epsilons from 0 to the maximum, evenly spaced")
        form.addRow("Points", self.curve_points)
        self.curve_samples = spin(10, 100000, 300, "Validation samples attacked at each "
                                  "\u03b5 (the first ones)")
        form.addRow("Samples", self.curve_samples)
        self.curve_steps = spin(1, 500, 10, "PGD steps per \u03b5")
        self.curve_steps.setObjectName("robustness_steps")
        form.addRow("PGD steps", self.curve_steps)
        self.curve_button = QPushButton("Compute curve")
        self.curve_button.setObjectName("robustness_compute")
        self.curve_button.setToolTip("Attack the validation samples at every \u03b5 with FGSM "
                                     "and PGD (runs in the background; Cancel stops it)")
        self.curve_button.clicked.connect(self.compute_curve)
        form.addRow("", self.curve_button)

        self.curve_view = make_plot_widget()
        self.curve_plot = self.curve_view.getPlotItem()
        self._style()
        self.curve_legend = self.curve_plot.addLegend(offset=(-8, 8), labelTextSize=css_size())
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
        controls_beside(self, controls, content, CONTROLS_WIDTH)
        set_title(self.curve_plot, "Accuracy under attack: press Compute curve")
        self.set_eps_range(1.0)

    def _style(self) -> None:
        style_plot(self.curve_plot, x="\u03b5 (data units)", y="accuracy (%)")
        percent_axis(self.curve_plot)

    def forget(self) -> None:
        self.curves = {}

    def set_eps_range(self, width: float) -> None:
        """The largest epsilon offered: the data's range ``width``, 0.3 of it at first."""
        self.curve_max.setRange(0.001 * width, width)
        self.curve_max.setSingleStep(round(0.05 * width, 6) or 0.05)
        self.curve_max.setValue(0.3 * width)

    def show_prepared(self, prep: Prepared, first: bool) -> None:
        if first:
            self.set_eps_range(prep.range_width)
        self.curve_samples.setMaximum(max(10, len(prep.x_val)))
        self.curve_samples.setValue(min(self.curve_samples.value(), len(prep.x_val)))

    def compute_curve(self) -> Any:
        """FGSM and PGD robustness curves on the first validation samples (background)."""
        return self.panel.when_prepared(self._start_curve, self._failed)

    def _failed(self, message: str) -> None:
        self.panel.status(self, message, error=True)

    def _start_curve(self) -> Any:
        from runtime import attacks

        top, points = float(self.curve_max.value()), int(self.curve_points.value())
        samples, steps = int(self.curve_samples.value()), int(self.curve_steps.value())
        eps_values = [top * i / (points - 1) for i in range(points)]
        chosen = self.panel.attack_page.user_range

        def work(prep: Prepared, progress: Any, cancel: Any
                 ) -> tuple[Prepared, dict[str, RobustnessCurve]]:
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

        label = f"Robustness curve ({points} \u03b5, {samples} samples)"
        return self.panel.runner.run("curve", self.panel.network_job(work), label,
                                     on_done=self._curve_done, on_error=self._failed)

    def _curve_done(self, value: tuple[Prepared, dict[str, RobustnessCurve]]) -> None:
        prep, curves = value
        self.panel.prepared(prep)
        self.curves = curves
        self.draw_curves()
        fgsm, pgd = curves["fgsm"], curves["pgd"]
        clean = fgsm.clean_accuracy
        self.panel.status(
            self, f"Robustness on {fgsm.n} samples: clean {clean:.0%}; at \u03b5 "
            f"{fmt_eps(fgsm.eps[-1])} FGSM {fgsm.accuracy[-1]:.0%}, PGD "
            f"{pgd.accuracy[-1]:.0%}")

    def draw_curves(self) -> None:
        if not self.curves:
            return
        for curve, item in ((self.curves.get("fgsm"), self.fgsm_curve),
                            (self.curves.get("pgd"), self.pgd_curve)):
            if curve is not None:
                item.setData(np.asarray(curve.eps), 100 * np.asarray(curve.accuracy))
        clean = 100 * float(self.curves["fgsm"].clean_accuracy)
        top = float(self.curves["fgsm"].eps[-1])
        self.clean_line.setPos(clean)
        self.clean_line.show()
        self.clean_label.setText(f"clean {clean:.0f}%")
        self.clean_label.setColor(theme.current().text_dim)
        self.clean_label.setPos(top * 0.55, clean)
        self.clean_label.show()
        self.curve_plot.setXRange(0, top, padding=0.03)
        n = self.curves["fgsm"].n
        steps = self.curve_steps.value()
        set_title(self.curve_plot, f"Accuracy under attack \u00b7 n={n} \u00b7 PGD {steps} steps")
        self.curve_view.setToolTip(f"Accuracy of the {n} validation samples attacked at each "
                                   "\u03b5 (FGSM: one step; PGD: the steps shown)")
        self.draw_eps_line()

    def draw_eps_line(self) -> None:
        """The Attack page's epsilon, across the curves."""
        self.eps_line.setPos(self.panel.attack_page.eps)
        self.eps_line.setVisible(bool(self.curves))

    def follow_eps(self) -> None:
        """The Attack page's settings changed: move the epsilon line where there is one."""
        if self.eps_line.isVisible() or self.curves:
            self.draw_eps_line()

    def _hover_curve(self, pos: QPointF) -> None:
        point = hover_position(self.curve_plot, pos)
        if point is None or not self.curves or self.panel.runner.busy:
            return
        eps = np.asarray(self.curves["fgsm"].eps)
        i = int(np.argmin(np.abs(eps - point.x())))
        self.panel.task_bar.show_hover(
            f"\u03b5 {fmt_eps(float(eps[i]))}: FGSM "
            f"{self.curves['fgsm'].accuracy[i]:.1%} \u00b7 PGD "
            f"{self.curves['pgd'].accuracy[i]:.1%} \u00b7 clean "
            f"{self.curves['fgsm'].clean_accuracy:.1%}")

    def refresh_theme(self) -> None:
        self.curve_view.setBackground(theme.current().window)
        self._style()
        self.draw_curves()


__all__ = ["CurvePage"]
