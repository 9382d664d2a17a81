"""Autoencoders (issue 5): the reconstruction head, anomaly detection from reconstruction
errors (threshold, precision/recall/F1, ROC-AUC), reconstructions side by side, the 2-D latent
space beside PCA with a kNN score, and the examples reaching the issue's targets."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest
import torch

from graph.settings import DatasetSettings
from runtime import autoencoder as ae
from runtime.data import load_dataset
from runtime.heads import Head, LossFunction, Meter, TrainingFailed, roc_auc
from runtime.prepare import prepare

pytestmark = pytest.mark.usefixtures("warm_trainer")


# -- the reconstruction head ---------------------------------------------------------------------
def test_reconstruction_compares_the_output_with_the_input_not_the_labels():
    head = Head(1, "rebuilt", "reconstruction")
    x = torch.rand(4, 1, 2, 2)
    labels = torch.tensor([0, 1, 0, 1])
    out = torch.zeros(4, 4)  # N x 4 rebuilds N x 1 x 2 x 2: same values per sample
    expected = torch.nn.functional.mse_loss(out, x.reshape(4, 4))
    assert torch.allclose(head.compute(out, labels, x), expected)
    loss = LossFunction([head])
    assert torch.allclose(loss(out, labels, x), expected)
    with pytest.raises(TrainingFailed, match="no input was given"):
        loss(out, labels)


def test_reconstruction_with_bce_reads_logits_and_needs_inputs_in_0_1():
    head = Head(1, "rebuilt", "reconstruction", loss="bce")
    x = torch.tensor([[0.0, 1.0, 0.5]])
    logits = torch.tensor([[-20.0, 20.0, 0.0]])
    assert torch.allclose(head.reconstruction(logits), torch.tensor([[0.0, 1.0, 0.5]]),
                          atol=1e-6)
    meter = Meter(head)
    meter.update(logits, torch.tensor([0]), head.compute(logits, torch.tensor([0]), x), 1, x)
    assert meter.metrics()["mse"] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(TrainingFailed, match="needs inputs from 0 to 1.*use loss mse"):
        Head(1, "rebuilt", "reconstruction", loss="bce").compute(logits, None, x * 3 - 1)


def test_reconstruction_size_mismatch_says_what_to_build():
    head = Head(1, "rebuilt", "reconstruction")
    with pytest.raises(TrainingFailed, match=r"gives 10 values per sample but the input it should "
                                             r"rebuild is 1 x 8 x 8"):
        head.compute(torch.zeros(2, 10), torch.zeros(2), torch.zeros(2, 1, 8, 8))
    with pytest.raises(TrainingFailed, match="integer token ids"):
        head.compute(torch.zeros(2, 5), torch.zeros(2), torch.zeros(2, 5, dtype=torch.long))


def test_meter_reports_roc_auc_for_normal_and_anomalous_labels():
    head = Head(1, "rebuilt", "reconstruction")
    x = torch.zeros(4, 2)
    out = torch.tensor([[0.1, 0.1], [0.9, 0.9], [0.2, 0.2], [0.5, 0.5]])
    meter = Meter(head)
    meter.update(out, torch.tensor([0, 1, 0, 1]), torch.tensor(0.0), 4, x)
    assert meter.metrics()["roc_auc"] == 1.0
    digits = Meter(head)  # ten classes: no anomaly score
    digits.update(out, torch.tensor([0, 5, 7, 9]), torch.tensor(0.0), 4, x)
    assert set(digits.metrics()) == {"mse"}


# -- pure helpers ----------------------------------------------------------------------------------
def test_roc_auc_counts_ties_half_and_needs_both_classes():
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    assert roc_auc([1, 1, 1, 1], [0, 1, 0, 1]) == pytest.approx(0.5)
    assert roc_auc([0.3, 0.2], [1, 1]) is None
    assert roc_auc([0.3, 0.2], [0, 2]) is None
    rng = np.random.default_rng(0)
    scores, labels = rng.normal(size=300), rng.integers(0, 2, 300)
    scores[labels == 1] += 1.0
    pairs = (scores[labels == 1][:, None] > scores[labels == 0][None, :]).mean()
    assert roc_auc(scores, labels) == pytest.approx(pairs)  # the Mann-Whitney definition
    fpr, tpr = ae.roc_curve(scores, labels)
    assert fpr[0] == 0 and tpr[0] == 0 and fpr[-1] == 1 and tpr[-1] == 1
    assert np.trapezoid(tpr, fpr) == pytest.approx(pairs)


def test_threshold_and_detection_scores():
    train = np.arange(1, 101, dtype=float)
    assert ae.percentile_threshold(train, 95) == pytest.approx(95.05)
    with pytest.raises(ValueError, match="from 0 to 100"):
        ae.percentile_threshold(train, 120)
    scores = ae.detection_scores([1, 2, 10, 11, 12], [0, 1, 0, 1, 1], threshold=5)
    assert scores.tp == 2 and scores.fp == 1 and scores.fn == 1 and scores.tn == 1
    assert scores.precision == pytest.approx(2 / 3) and scores.recall == pytest.approx(2 / 3)
    assert scores.f1 == pytest.approx(2 / 3)
    assert ae.detection_scores([1, 2], [0, 1], threshold=5).precision == 0.0


def tied_scores(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random 0/1 labels and scores rounded to one decimal, so many of them tie."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 200)
    return np.round(rng.normal(size=200) + labels * 0.7, 1), labels


@pytest.mark.parametrize("seed", range(5))
def test_roc_and_detection_scores_agree_with_scikit_learn_including_ties(seed):
    from sklearn import metrics

    scores, labels = tied_scores(seed)
    assert len(np.unique(scores)) < len(scores)  # ties present
    assert roc_auc(scores, labels) == pytest.approx(metrics.roc_auc_score(labels, scores))
    fpr, tpr = ae.roc_curve(scores, labels)
    want_fpr, want_tpr, _ = metrics.roc_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, want_fpr)
    np.testing.assert_allclose(tpr, want_tpr)
    threshold = float(np.median(scores))
    got = ae.detection_scores(scores, labels, threshold)
    flagged = scores > threshold
    precision, recall, f1, _ = metrics.precision_recall_fscore_support(
        labels, flagged, average="binary", zero_division=0)
    tn, fp, fn, tp = metrics.confusion_matrix(labels, flagged, labels=[0, 1]).ravel()
    assert (got.precision, got.recall, got.f1) == pytest.approx((precision, recall, f1))
    assert (got.tp, got.fp, got.fn, got.tn) == (tp, fp, fn, tn)
    assert got.flagged == int(flagged.sum())


def test_roc_curve_and_detection_scores_of_one_class_or_none():
    fpr, tpr = ae.roc_curve([0.3, 0.1, 0.3], [0, 0, 0])  # no anomaly: the true rate stays 0
    np.testing.assert_allclose(fpr, [0, 2 / 3, 1])
    np.testing.assert_allclose(tpr, [0, 0, 0])
    fpr, tpr = ae.roc_curve([], [])
    assert list(fpr) == [0.0] and list(tpr) == [0.0]
    assert asdict(ae.detection_scores([], [], 1.0)) == {
        "precision": 0.0, "recall": 0.0, "f1": 0.0, "flagged": 0, "tp": 0, "fp": 0, "fn": 0,
        "tn": 0}
    assert ae.detection_scores([1, 2], [0, 0], 5.0).precision == 0.0


def test_knn_and_pca_helpers():
    train = np.array([[0, 0], [0, 1], [10, 10], [10, 11]], float)
    labels = np.array([0, 0, 1, 1])
    assert ae.knn_accuracy(train, labels, [[0.2, 0.5], [9, 9]], [0, 1], k=3) == 1.0
    assert ae.knn_accuracy(train, labels, [[0.2, 0.5]], [1], k=1) == 0.0
    rows = np.random.default_rng(1).normal(size=(200, 5)) * [5, 1, 0.1, 0.1, 0.1]
    pca = ae.PCA(rows)
    assert pca.explained[0] > 0.9
    points = pca.transform(rows)
    assert points.shape == (200, 2) and abs(np.corrcoef(points[:, 0], rows[:, 0])[0, 1]) > 0.99


def test_digits_anomaly_trains_on_normal_digits_only():
    bundle = load_dataset(DatasetSettings(name="digits_anomaly", seed=0,
                                          options={"anomaly": 3}))
    assert bundle.class_names == ["normal", "anomaly (digit 3)"]
    assert int(bundle.train[:][1].sum()) == 0
    val_labels = bundle.val[:][1]
    assert int(val_labels.sum()) == 183  # every 3 of the 1797 digits
    assert len(bundle.train) + len(bundle.val) == 1797
    assert bundle.input_shape == (1, 8, 8) and bundle.value_range == (0.0, 1.0)


# -- examples and their targets ------------------------------------------------------------------
def _trained(train_example, name: str):
    project, _, best = train_example(name, threads=1)
    compiled, data = prepare(project)
    return compiled, data, best


@pytest.fixture(scope="module")
def anomaly(train_example):
    return _trained(train_example, "autoencoder_anomaly_digits")


def test_anomaly_autoencoder_reaches_roc_auc_0_9(anomaly):
    _, _, best = anomaly
    assert best["val_roc_auc"] >= 0.9
    assert best["val_mse"] < 0.05


def test_anomaly_report_matches_the_epoch_metric_and_moves_with_the_percentile(anomaly):
    compiled, data, best = anomaly
    report = ae.anomaly_report(compiled, data, percentile=95)
    assert report.roc_auc == pytest.approx(best["val_roc_auc"], abs=1e-6)
    assert len(report.errors) == len(data.val) and len(report.train_errors) == len(
        data.train)
    assert np.mean(report.train_errors > report.threshold) == pytest.approx(0.05, abs=0.01)
    hist = report.histogram
    assert hist.normal.sum() + hist.anomalous.sum() == len(data.val)
    assert hist.anomalous.sum() == int((report.labels == 1).sum())
    assert 0.0 < report.scores.precision <= 1.0 and 0.0 < report.scores.recall <= 1.0
    strict = ae.anomaly_report(compiled, data, percentile=99.5)
    assert strict.threshold > report.threshold and strict.scores.recall <= report.scores.recall
    # anomalies are rebuilt worse on average
    assert report.errors[report.labels == 1].mean() > 2 * report.errors[
        report.labels == 0].mean()


def test_reconstructions_side_by_side(anomaly):
    compiled, data, _ = anomaly
    pairs = ae.reconstructions(compiled, data, n=6)
    assert pairs.inputs.shape == pairs.outputs.shape == (6, 1, 8, 8)
    assert pairs.outputs.min() >= 0.0 and pairs.outputs.max() <= 1.0  # sigmoid of logits
    errors = ((pairs.outputs - pairs.inputs) ** 2).reshape(6, -1).mean(1)
    assert np.allclose(errors, pairs.errors, atol=1e-6)
    worst = ae.reconstructions(compiled, data, n=5, worst=True)
    assert (np.diff(worst.errors) <= 0).all() and worst.errors[0] >= errors.max()
    chosen = ae.reconstructions(compiled, data, indices=[3, 1])
    assert chosen.indices.tolist() == [3, 1]
    assert ae.find_bottleneck(compiled) == compiled.graph.node_by_name("bottleneck").id


@pytest.mark.slow
def test_latent_2d_knn_within_10_points_of_pca_or_better(train_example):
    compiled, data, _ = _trained(train_example, "autoencoder_latent2d")
    view = ae.latent_space(compiled, data)
    assert view.name == "bottleneck" and view.dims == 2
    assert view.latent.shape == view.pca.shape == (len(data.val), 2)
    assert view.labels.shape == (len(data.val),)
    assert view.knn_latent >= view.knn_pca - 0.10
    assert view.knn_pca > 0.4  # PCA in 2-D keeps some of the classes apart
