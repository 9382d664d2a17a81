"""The Adversarial panel's Patch page: one optimised square patch that pushes any image
towards a target class: the patch, patched held-out samples with their predictions, and its
success rate beside a random patch's and no patch's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (
    QComboBox,
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gui import style, theme
from gui.panels.adversarial_views import (
    CONTROLS_WIDTH,
    THUMB,
    CardStrip,
    SampleCard,
    outlined_thumbnail,
)
from gui.panels.controls import control_form, controls_beside, fill_class_combo, spin
from gui.panels.lab import Prepared, class_name, display_image, grey_lut
from gui.panels.plot_style import set_title, style_plot
from gui.panels.plot_widgets import image_plot, make_layout_widget, make_plot_widget

if TYPE_CHECKING:  # the GUI imports torch lazily, on first analysis
    from runtime.patches import PatchResult

PATCH_CARDS = 8
# Images up to this side get a centred patch by default: on an 8x8 digit a 4x4 patch that
# must work anywhere succeeded 6% against a random patch's 2% (nothing to see), the same patch
# in the centre 100% against 0% in 200 steps (about 3 s on one core).
FIXED_UP_TO = 16


class PatchPage(QWidget):
    """See the module docstring. ``panel`` is the ``AdversarialPanel`` it belongs to.

    Public state: ``patch`` (the last ``runtime.attacks.PatchResult``) and
    ``random_patch_rate`` (a random patch's success rate).
    """

    def __init__(self, panel: Any) -> None:
        super().__init__()
        self.panel = panel
        self.patch: Any = None
        self.random_patch_rate: float | None = None
        self._rate_labels: list[Any] = []
        controls, form = control_form()
        self.patch_size = spin(1, 64, 3, "Side of the square patch, in pixels")
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
        self.patch_steps = spin(1, 5000, 200, "Optimisation steps (Adam on the patch pixels)")
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
        self.patch_view = make_layout_widget()
        self.patch_view.setFixedWidth(170)
        self.patch_plot = self.patch_view.addPlot(row=0, col=0)
        style_plot(self.patch_plot)
        self.patch_image = image_plot(self.patch_plot)
        self.patch_frame = QGraphicsRectItem(0, 0, 1, 1)  # the patch's edge, on any content
        self.patch_frame.hide()
        self.patch_plot.addItem(self.patch_frame)
        set_title(self.patch_plot, "Patch")
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
        self.rate_view = make_plot_widget()
        self.rate_plot = self.rate_view.getPlotItem()
        self.rate_bars = pg.BarGraphItem(x0=[], y=[], height=0.6, width=[])
        self.rate_plot.addItem(self.rate_bars)
        self.rate_plot.getViewBox().invertY(True)
        self._style_rate_plot()
        content.addWidget(self.rate_view, 1)
        controls_beside(self, controls, content, CONTROLS_WIDTH)

    def _style_rate_plot(self) -> None:
        style_plot(self.rate_plot, x="predicted as the target (%)")
        self.rate_plot.setXRange(0, 100, padding=0.02)
        self.rate_plot.setYRange(-0.5, 2.5, padding=0)
        self.rate_plot.getAxis("left").setTicks(
            [[(0, "optimised patch"), (1, "random patch"), (2, "no patch")], []])
        set_title(self.rate_plot, "Success rate")

    def forget(self) -> None:
        self.patch = None

    def show_prepared(self, prep: Prepared, first: bool) -> None:
        """Its classes and image side; vectors cannot be patched. The first time, defaults
        that show a clear effect: half the side and centred on small images."""
        names = prep.class_names or [str(i) for i in range(prep.num_classes)]
        fill_class_combo(self.patch_target, names)
        if prep.is_image:
            side = min(prep.input_shape[-2:])
            self.patch_size.setMaximum(side)
            self.patch_size.setValue(max(1, side // 2 if side <= FIXED_UP_TO else side // 5))
            if first:
                position = "fixed" if side <= FIXED_UP_TO else "random"
                self.patch_position.setCurrentIndex(self.patch_position.findData(position))
        self.patch_button.setEnabled(prep.is_image)
        if not prep.is_image:
            self.patch_title.setText("Patch attacks need image inputs (N x C x H x W); this "
                                     "data set has vectors.")

    def run_patch(self) -> Any:
        """Optimise a patch for the chosen target (background), then compare with a random one."""
        return self.panel.when_prepared(self._start_patch, self._failed)

    def _failed(self, message: str) -> None:
        self.panel.status(self, message, error=True)

    def _start_patch(self) -> Any:
        from runtime import patches

        size, steps = int(self.patch_size.value()), int(self.patch_steps.value())
        target = self.patch_target.currentData()
        target = 0 if target is None else int(target)
        position = str(self.patch_position.currentData())
        chosen = self.panel.attack_page.user_range

        def work(prep: Prepared, progress: Any, cancel: Any
                 ) -> tuple[Prepared, PatchResult, float]:
            if not prep.is_image:
                raise ValueError("patch attacks need image inputs; this data set has vectors")
            result = patches.adversarial_patch(
                prep.module, prep.x_train, target, patch_size=size, steps=steps,
                position=position, value_range=chosen or prep.value_range, x_test=prep.x_val,
                y_test=prep.y_val, progress=progress, cancel=cancel)
            rate = patches.random_patch_success(
                prep.module, prep.x_val, target, patch_size=size, position=position,
                value_range=chosen or prep.value_range, y=prep.y_val)
            return prep, result, rate

        names = self.panel.prepared_info.get("class_names", [])
        return self.panel.runner.run("patch", self.panel.network_job(work),
                                     f"Patch for class {class_name(names, target)}",
                                     on_done=self._patch_done, on_error=self._failed)

    def _patch_done(self, value: tuple[Prepared, PatchResult, float]) -> None:
        prep, result, rate = value
        self.panel.prepared(prep)
        self.patch, self.random_patch_rate = result, rate
        names = prep.class_names
        target = class_name(names, result.target_class)
        self._draw_patch(result.patch, prep.value_range)
        size = result.patch.shape[-1]
        set_title(self.patch_plot, f"Patch {size}\u00d7{size} \u2192 {target}")
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
        self._draw_rates([100 * result.success_rate, 100 * rate,
                          100 * result.clean_target_rate])
        set_title(self.rate_plot, f"Read as {target} \u00b7 n={result.n}")
        self.panel.status(
            self, f"Patch \u2192 {target}: {result.success_rate:.0%} of {result.n} validation "
            f"samples read as {target} (random patch {rate:.0%}, no patch "
            f"{result.clean_target_rate:.0%})")

    def _draw_patch(self, patch_values: Any, value_range: tuple[float, float]) -> None:
        patch = display_image(patch_values)
        lo, hi = value_range
        if patch is not None and patch.ndim == 3:
            self.patch_image.setImage(np.clip((patch - lo) / ((hi - lo) or 1), 0, 1),
                                      levels=(0, 1), autoLevels=False, lut=None)
        elif patch is not None:
            self.patch_image.setImage(patch, levels=(lo, hi), autoLevels=False, lut=grey_lut())
        if patch is not None:
            self.patch_image.setRect(0, 0, patch.shape[1], patch.shape[0])
            self.patch_plot.getViewBox().autoRange(padding=0.02)
        size = patch_values.shape[-1]
        self.patch_frame.setRect(0, 0, size, size)
        self.patch_frame.setPen(pg.mkPen(theme.current().accent, width=1))
        self.patch_frame.show()

    def _draw_rates(self, rates: list[float]) -> None:
        """Optimised, random and no patch: per cent read as the target."""
        t = theme.current()
        colors = [t.accent, t.text_dim, style.mix(t.text_dim, t.window, 0.4)]
        self.rate_bars.setOpts(x0=[0, 0, 0], y=[0, 1, 2], height=0.6, width=rates,
                               brushes=[pg.mkBrush(c) for c in colors], pen=pg.mkPen(None))
        for item in self._rate_labels:
            self.rate_plot.removeItem(item)
        self._rate_labels = []
        for row, value in enumerate(rates):
            label = pg.TextItem(f"{value:.0f}%", color=t.text, anchor=(0, 0.5))
            label.setPos(min(value, 88) + 1.5, row)
            self.rate_plot.addItem(label)
            self._rate_labels.append(label)

    def refresh_theme(self) -> None:
        t = theme.current()
        self.rate_view.setBackground(t.window)
        self.patch_view.setBackground(t.window)
        self._style_rate_plot()


__all__ = ["PATCH_CARDS", "PatchPage"]
