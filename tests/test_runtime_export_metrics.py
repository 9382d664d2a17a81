"""Exported training scripts print every metric Plexus reports: the anomaly example's
val_roc_auc and the forecast example's baseline_mse beside the main metric, computed as
runtime.heads computes them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from resources.examples import make
from runtime import export, export_heads, export_script
from runtime.heads import forecast_baseline


def _script_namespace(task: str, loss: str = "mse") -> dict:
    """The Score source of a head, run as the script runs it."""
    namespace: dict = {"torch": torch, "np": np, "__name__": "script"}
    exec("from __future__ import annotations\nfrom typing import Any\nfrom torch import Tensor"
         + export_heads.score_source(task, loss, 1), namespace)
    return namespace


def test_the_scripts_roc_auc_equals_scikit_learns_with_ties() -> None:
    roc_auc = _script_namespace("reconstruction")["roc_auc"]
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    scores = np.round(rng.normal(size=300) + labels, 1)  # rounded: many ties
    assert roc_auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert roc_auc(scores, np.zeros(300)) is None  # one class only
    assert roc_auc(scores, np.full(300, 2)) is None


def test_reconstruction_score_reports_roc_auc_only_for_labels() -> None:
    score_class = _script_namespace("reconstruction")["Score"]
    score = score_class()
    out, x = torch.zeros(4, 2), torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.1, 0.0], [2.0, 0.0]])
    score.update(out, x)
    score.add_labels(torch.tensor([0, 1, 0, 1]))
    values = score.values()
    assert values["mse"] == pytest.approx((0 + 1 + 0.005 + 2) / 4)
    assert values["roc_auc"] == 1.0
    unlabelled = score_class()
    unlabelled.update(out, x)
    unlabelled.add_labels(torch.rand(4))  # float targets are not labels
    assert list(unlabelled.values()) == ["mse"]


def test_forecast_score_reports_the_baseline_as_plexus() -> None:
    score = _script_namespace("forecasting")["Score"]()
    x, y = torch.rand(5, 8, 1), torch.rand(5, 3)
    out = torch.rand(5, 3)
    score.update(out, y)
    score.add_baseline(x, y)
    values = score.values()
    expected = float(((forecast_baseline(x, y) - y) ** 2).mean())
    assert values["baseline_mse"] == pytest.approx(expected)
    assert values["mse"] == pytest.approx(float(((out - y) ** 2).mean()))


def test_scripts_feed_labels_and_inputs_to_their_scores() -> None:
    anomaly = export_script.export_script(make.build("autoencoder_anomaly_digits"))
    assert "score.update(out, x)\n        score.add_labels(y)" in anomaly
    forecast = export_script.export_script(make.build("sine_forecast_lstm"))
    assert "score.add_baseline(x, y)" in forecast and "def forecast_baseline(" in forecast
    xor = export_script.export_script(make.build("xor_mlp"))
    assert "add_baseline" not in xor and "add_labels" not in xor and ".item()" not in xor


def test_a_multi_head_script_trains_every_head_and_reports_each(tmp_path) -> None:
    """digits_multitask: one loss function and Score per head, their weighted sum, and the
    targets of each head saved beside the script."""
    written = export_script.write_script(make.build("digits_multitask"), tmp_path / "train.py")
    text = written[0].read_text()
    assert 'HEADS = ["digit", "even"]' in text
    assert "def loss_digit(" in text and "def loss_even(" in text
    assert "HEAD_LOSSES = [(loss_digit, 1.0), (loss_even, 1.0)]" in text
    assert "self.heads = [ScoreDigit(), ScoreEven()]" in text
    assert "for x, *y in loader:" in text
    with np.load(written[1]) as arrays:
        assert sorted(arrays.files) == ["x_train", "x_val", "y_train.digit", "y_train.even",
                                        "y_val.digit", "y_val.even"]
        assert arrays["y_val.even"].shape == arrays["y_val.digit"].shape == (360,)
    project = make.build("digits_multitask")
    project.graph.set_param(project.graph.node_by_name("even").id, "task", "reconstruction")
    with pytest.raises(export.ExportError, match="several Output heads support classification, "
                       "regression, tagging heads"):
        export_script.export_script(project)


def test_a_gan_script_trains_both_networks_as_plexus(tmp_path) -> None:
    """gan_ring: both networks, the GAN options, the mode metrics Plexus shows; a trained
    project's script starts from each network's weights."""
    from resources.examples.make import build

    project = build("gan_ring")
    text = export_script.export_script(project)
    for line in ("D_LR = 0.01", "D_STEPS = 1", "LABEL_SMOOTHING = 0.1", "BETA1 = 0.5",
                 "R1 = 0.1", "START = False", "def mode_metrics(", "CosineAnnealingLR"):
        assert line in text, line
    assert "torch.optim.Adam(params, lr=lr, betas=(BETA1, 0.999)" in text
    digits = export_script.export_script(build("gan_digits"))
    assert "def diversity(" in digits and "mode_metrics" not in digits
    torch.manual_seed(0)
    from runtime.compile import node_state, weights_to_bytes
    from runtime.gan_networks import compile_gan

    generator, discriminator = compile_gan(project)
    project.weights = weights_to_bytes({**node_state(generator), **node_state(discriminator)})
    written = export_script.write_script(project, tmp_path / "train.py")
    assert [p.name for p in written] == ["train.py", "train_data.npz",
                                         "train_generator_start.safetensors",
                                         "train_discriminator_start.safetensors"]
    assert "START = True" in written[0].read_text()
