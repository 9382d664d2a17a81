"""The Metrics panel draws what each kind of run records: a GAN's D and G losses and how
often D is right, not a classifier's empty train/validation curves."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from gui.panels.metric_columns import columns_for, metric_kind  # noqa: E402
from runtime.events import Epoch, Started  # noqa: E402


@pytest.fixture(scope="module")
def gan_run(short_example):
    from runtime.session import run_training

    project = short_example("gan_ring", epochs=3)
    result = run_training(project)
    assert result.status == "completed", result.message
    return project


def shown(qtbot, panel, size=(1200, 260)):
    qtbot.addWidget(panel)
    panel.resize(*size)
    panel.show()
    qtbot.waitExposed(panel)
    panel.redraw()
    return panel


def test_a_gan_run_is_its_own_kind():
    assert metric_kind([{"epoch": 1, "d_loss": 0.7, "g_loss": 0.8}]) == "gan"
    assert metric_kind([{"epoch": 1, "val_accuracy": 0.5}]) == "accuracy"
    assert metric_kind([{"epoch": 1, "val_r2": 0.5}]) == "r2"
    assert columns_for("gan").loss_columns() == ("d_loss", "g_loss")
    assert columns_for("accuracy").loss_columns() == ("train_loss", "val_loss")


def test_metrics_of_a_trained_gan_show_the_d_and_g_losses(qtbot, gan_run):
    from gui.panels.metrics import MetricsPanel

    panel = shown(qtbot, MetricsPanel())
    panel.set_project(gan_run)
    panel.redraw()
    epochs = gan_run.history[-1]["epochs"]
    assert panel.kind == "gan"
    x, d = panel.curve_data("train_loss")
    assert list(x) == [1, 2, 3]
    assert np.allclose(d, [e["d_loss"] for e in epochs])
    x, g = panel.curve_data("val_loss")
    assert list(x) == [1, 2, 3] and np.allclose(g, [e["g_loss"] for e in epochs])
    _x, real = panel.curve_data("train_metric")
    assert np.allclose(real, [100 * e["d_real_accuracy"] for e in epochs])
    assert len(panel.curve_data("lr")[0]) == 3  # D's learning rate
    legend = panel.loss_plot.titleLabel.text
    assert "discriminator D" in legend and "generator G" in legend
    assert panel.metric_plot.getAxis("left").labelText == "D accuracy (%)"
    text = panel.readout.text()
    assert f"D {epochs[-1]['d_loss']:.4g}" in text and f"G {epochs[-1]['g_loss']:.4g}" in text
    assert "val -" not in text and "train -" not in text


def test_live_gan_epochs_fill_the_g_and_d_curves(qtbot):
    from gui.panels.metrics import MetricsPanel

    panel = shown(qtbot, MetricsPanel())
    panel.on_started(Started(device="cpu", epochs=2, steps_per_epoch=4, params=10, samples=64,
                             val_samples=0, mode="gan"))
    for epoch, (d_loss, g_loss) in enumerate(((1.2, 0.7), (1.0, 0.9)), start=1):
        panel.on_epoch(Epoch(epoch=epoch, metrics={
            "d_loss": d_loss, "g_loss": g_loss, "d_real_accuracy": 0.6,
            "d_fake_accuracy": 0.5, "d_lr": 2e-4, "g_lr": 2e-4}))
    panel.redraw()
    assert list(panel.curve_data("train_loss")[1]) == [1.2, 1.0]
    assert list(panel.curve_data("val_loss")[1]) == [0.7, 0.9]
    assert list(panel.curve_data("val_metric")[1]) == [50.0, 50.0]
    assert "G 0.9" in panel.readout.text()
