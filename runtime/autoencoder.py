"""What an autoencoder learned: anomaly detection from reconstruction errors, reconstructions
side by side with their inputs, and the bottleneck as a 2-D map beside a PCA of the same data.

Every function takes a compiled graph with a reconstruction head (Output task
"reconstruction") and its ``DataBundle``, runs the module on the CPU in eval mode without
gradients, and returns dataclasses of numpy arrays and floats for a panel to draw. The pure helpers
(``detection_scores``, ``percentile_threshold``, ``knn_accuracy``, ``PCA``) take arrays, so a
panel can move a threshold without another forward pass.

Anomaly detection, as fraud or fault detection uses it: learn what normal looks like, then
flag what the network rebuilds badly. The threshold is a percentile of the *training* errors
(say 95: one normal sample in twenty is flagged), and validation samples labelled 1 (anomaly)
or 0 (normal) measure it: precision, recall, F1 and the threshold-free ROC-AUC.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from runtime.capture import node_outputs
from runtime.compile import Compiled
from runtime.evaluation import dataset_tensors, evaluating, model_device
from runtime.heads import Head, make_heads, roc_auc

BATCH = 512  # samples per forward pass
BOTTLENECK_NAMES = ("bottleneck", "latent", "code", "encoding")

__all__ = [
    "PCA",
    "AnomalyReport",
    "DetectionScores",
    "ErrorHistogram",
    "LatentSpace",
    "Reconstructions",
    "anomaly_report",
    "detection_scores",
    "find_bottleneck",
    "knn_accuracy",
    "latent_space",
    "percentile_threshold",
    "reconstruction_errors",
    "reconstructions",
    "roc_auc",
    "roc_curve",
]


# -- plumbing ------------------------------------------------------------------------------------
def _reconstruction_head(compiled: Compiled) -> tuple[int, Head]:
    """(index among the outputs, head) of the first reconstruction head; ValueError if none."""
    for index, head in enumerate(make_heads(compiled)):
        if head.task == "reconstruction":
            return index, head
    raise ValueError("the network has no reconstruction head; set an Output node's task to "
                     "reconstruction")


def _split(data: Any, split: str) -> Any:
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', not {split!r}")
    dataset = data.train if split == "train" else data.val
    return dataset if len(dataset) or split == "train" else data.train


@dataclass
class Pass:
    """One sweep of a split: inputs, labels, reconstructions (in input units, input-shaped),
    per-sample mean squared errors and, when asked, a hidden node's outputs."""

    inputs: np.ndarray
    labels: np.ndarray
    outputs: np.ndarray
    errors: np.ndarray
    hidden: np.ndarray | None = None


@dataclass(frozen=True)
class DetectionScores:
    """How well flagging errors above a threshold finds the anomalies (label 1)."""

    precision: float  # 0 when nothing is flagged
    recall: float  # 0 when there is no anomaly
    f1: float
    flagged: int
    tp: int
    fp: int
    fn: int
    tn: int


@dataclass(frozen=True, eq=False)
class ErrorHistogram:
    """The validation errors in ``bins`` bins, normal and anomalous samples apart."""

    edges: np.ndarray  # (bins + 1,)
    normal: np.ndarray  # (bins,)
    anomalous: np.ndarray  # (bins,)


@dataclass(frozen=True, eq=False)
class AnomalyReport:
    """Everything the anomaly view draws (``anomaly_report``)."""

    train_errors: np.ndarray  # (N_train,)
    errors: np.ndarray  # (N_val,)
    labels: np.ndarray  # (N_val,), 1 = anomaly
    percentile: float
    threshold: float
    scores: DetectionScores
    roc_auc: float | None  # None unless both classes are in the validation set
    roc: tuple[np.ndarray, np.ndarray]  # (fpr, tpr)
    histogram: ErrorHistogram
    class_names: list[str]


@dataclass(frozen=True, eq=False)
class Reconstructions:
    """Samples of a split and what the network rebuilt of them (``reconstructions``)."""

    indices: np.ndarray  # into the split
    inputs: np.ndarray  # (k, *shape)
    outputs: np.ndarray  # (k, *shape), in input units
    errors: np.ndarray  # (k,)
    labels: np.ndarray  # (k,)


@dataclass(frozen=True, eq=False)
class LatentSpace:
    """The bottleneck's codes beside a PCA of the inputs, both 2-D (``latent_space``)."""

    node_id: int
    name: str
    dims: int  # width of the bottleneck
    latent: np.ndarray  # (N_val, 2), a PCA of the codes when wider than 2
    pca: np.ndarray  # (N_val, 2) of the raw inputs, axes fitted on the training inputs
    labels: np.ndarray
    class_names: list[str]
    knn_latent: float  # k-nearest-neighbour accuracy on validation, nan without labels
    knn_pca: float
    k: int
    explained_variance: list[float]  # of the input PCA


def run(compiled: Compiled, data: Any, split: str = "val", limit: int | None = None,
        hidden_node: int | None = None) -> Pass:
    """Reconstruct (the first ``limit`` samples of) a split, in batches."""
    index, head = _reconstruction_head(compiled)
    x_all, y_all = dataset_tensors(_split(data, split), limit)
    outs, errs, hid = [], [], []
    module = compiled.module
    device = model_device(module)
    with evaluating(module):
        for start in range(0, len(x_all), BATCH):
            x = x_all[start:start + BATCH].to(device)
            if hidden_node is not None:
                captured, result = node_outputs(compiled, (x,), [hidden_node])
                value = captured.get(hidden_node)
                if value is None:
                    raise ValueError("that node gives no tensor to show; choose a layer that "
                                     "leads to the Output")
                hid.append(value.reshape(value.shape[0], -1).float().cpu())
            else:
                result = module(x)
            out = result[index] if isinstance(result, (tuple, list)) else result
            target = head.reconstruction_target(out, x)
            rebuilt = head.reconstruction(out).float()
            errs.append(((rebuilt - target) ** 2).reshape(len(x), -1).mean(1).cpu())
            outs.append(rebuilt.reshape(x.shape).cpu())
    shape = tuple(x_all.shape[1:])
    return Pass(
        inputs=x_all.float().numpy(),
        labels=y_all.cpu().numpy() if y_all.numel() else np.zeros(0, np.int64),
        outputs=torch.cat(outs).numpy() if outs else np.zeros((0, *shape), np.float32),
        errors=torch.cat(errs).numpy().astype(np.float64) if errs else np.zeros(0),
        hidden=torch.cat(hid).numpy() if hid else None)


def reconstruction_errors(compiled: Compiled, data: Any, split: str = "val",
                          limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(per-sample mean squared reconstruction error, labels) of a split."""
    swept = run(compiled, data, split, limit)
    return swept.errors, swept.labels


# -- anomaly detection ---------------------------------------------------------------------------
def percentile_threshold(train_errors: Sequence[float] | np.ndarray, percentile: float) -> float:
    """The error below which ``percentile`` % of the training (normal) samples fall."""
    errors = np.asarray(train_errors, dtype=np.float64)
    if errors.size == 0:
        raise ValueError("no training errors to set a threshold from; train on some samples")
    if not 0.0 <= percentile <= 100.0:
        raise ValueError(f"percentile must be from 0 to 100, not {percentile}")
    return float(np.percentile(errors, percentile))


def detection_scores(errors: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray,
                     threshold: float) -> DetectionScores:
    """Flag errors above ``threshold`` as anomalies (label 1) and score the flags."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    truth = np.asarray(labels).astype(np.int64).reshape(-1) == 1
    flagged = np.asarray(errors, dtype=np.float64).reshape(-1) > threshold
    if truth.size == 0:
        return DetectionScores(0.0, 0.0, 0.0, 0, 0, 0, 0, 0)
    precision, recall, f1, _ = precision_recall_fscore_support(
        truth, flagged, average="binary", zero_division=0)
    tn, fp, fn, tp = (int(v) for v in confusion_matrix(truth, flagged, labels=[False, True])
                      .ravel())
    return DetectionScores(float(precision), float(recall), float(f1), int(flagged.sum()),
                           tp=tp, fp=fp, fn=fn, tn=tn)


def roc_curve(errors: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """(false positive rates, true positive rates) as the threshold falls from above the
    largest error to below the smallest, one point per distinct error."""
    from sklearn.exceptions import UndefinedMetricWarning
    from sklearn.metrics import roc_curve as curve

    e = np.asarray(errors, dtype=np.float64).reshape(-1)
    truth = np.asarray(labels).astype(np.int64).reshape(-1) == 1
    if e.size == 0:
        return np.zeros(1), np.zeros(1)
    with warnings.catch_warnings():  # one class only: its rate is 0/0, drawn as 0
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        fpr, tpr, _ = curve(truth, e, drop_intermediate=False)
    return np.nan_to_num(fpr), np.nan_to_num(tpr)


def anomaly_report(compiled: Compiled, data: Any, percentile: float = 95.0, bins: int = 40,
                   limit: int | None = None) -> AnomalyReport:
    """Everything the anomaly view draws, from one pass over each split; the scores are
    those of ``percentile`` % of the training errors as the threshold."""
    train_errors, _ = reconstruction_errors(compiled, data, "train", limit)
    errors, labels = reconstruction_errors(compiled, data, "val", limit)
    threshold = percentile_threshold(train_errors, percentile)
    binary = labels.size > 0 and np.isin(labels, (0, 1)).all()
    anomalous = labels == 1 if binary else np.zeros(len(errors), bool)
    top = max(float(errors.max()) if errors.size else 0.0, threshold) * 1.05 or 1.0
    edges = np.linspace(0.0, top, bins + 1)
    return AnomalyReport(
        train_errors=train_errors, errors=errors, labels=labels,
        percentile=float(percentile), threshold=threshold,
        scores=detection_scores(errors, anomalous.astype(np.int64), threshold),
        roc_auc=roc_auc(errors, labels) if binary else None,
        roc=roc_curve(errors, anomalous.astype(np.int64)),
        histogram=ErrorHistogram(edges, np.histogram(errors[~anomalous], edges)[0],
                                 np.histogram(errors[anomalous], edges)[0]),
        class_names=list(getattr(data, "class_names", [])),
    )


def reconstructions(compiled: Compiled, data: Any, indices: Sequence[int] | None = None, n: int = 8,
                    split: str = "val", worst: bool = False) -> Reconstructions:
    """Inputs and their reconstructions side by side. ``indices`` picks samples of the
    split; else the first ``n``, or with ``worst`` the ``n`` worst rebuilt."""
    swept = run(compiled, data, split)
    if indices is None:
        order = np.argsort(-swept.errors, kind="mergesort") if worst else np.arange(
            len(swept.errors))
        chosen = order[:n]
    else:
        chosen = np.asarray(list(indices), dtype=np.int64)
        if chosen.size and (chosen.min() < 0 or chosen.max() >= len(swept.errors)):
            raise ValueError(f"sample index out of range: the {split} split has "
                             f"{len(swept.errors)} samples")
    return Reconstructions(
        indices=chosen, inputs=swept.inputs[chosen], outputs=swept.outputs[chosen],
        errors=swept.errors[chosen],
        labels=swept.labels[chosen] if swept.labels.size else np.zeros(0, np.int64))


# -- the latent space ----------------------------------------------------------------------------
def find_bottleneck(compiled: Compiled) -> int:
    """The bottleneck node: one named bottleneck/latent/code/encoding, else the narrowest
    layer on the way to the reconstruction (fewest values per sample; the earliest wins)."""
    from runtime.shapes import infer_shapes

    graph = compiled.graph
    for name in BOTTLENECK_NAMES:
        node = graph.node_by_name(name)
        if node is not None and node.id in compiled.module_names:
            return node.id
    shapes = infer_shapes(graph).outputs
    best: tuple[int, int] | None = None
    for node_id in graph.topological_order():
        node = graph.nodes[node_id]
        if node.type in ("Input", "Output") or node_id not in shapes:
            continue
        out = shapes[node_id].get("out")
        if out is None:
            continue
        width = int(np.prod(out[1:]))
        if best is None or width < best[0]:
            best = (width, node_id)
    if best is None:
        raise ValueError("the network has no layer to use as a bottleneck; add one")
    return best[1]


class PCA:
    """Principal axes fitted on one set of rows, applied to any other (torch eigh on the
    covariance, as ``runtime.probes.views.pca_2d``; each axis's sign fixed so pictures do not
    flip)."""

    def __init__(self, rows: np.ndarray, components: int = 2) -> None:
        x = torch.as_tensor(np.asarray(rows, dtype=np.float64)).reshape(len(rows), -1)
        self.mean = x.mean(0, keepdim=True)
        centred = x - self.mean
        eigenvalues, vectors = torch.linalg.eigh(centred.T @ centred)
        k = min(components, x.shape[1])
        axes = vectors[:, -k:].flip(1).T
        signs = torch.sign(axes[torch.arange(k), axes.abs().argmax(1)])
        signs[signs == 0] = 1.0
        self.axes = axes * signs[:, None]
        total = float(eigenvalues.clamp_min(0).sum())
        self.explained = [float(v) / total if total > 0 else 0.0
                          for v in eigenvalues[-k:].flip(0).clamp_min(0)]

    def transform(self, rows: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(np.asarray(rows, dtype=np.float64)).reshape(len(rows), -1)
        return ((x - self.mean) @ self.axes.T).numpy().astype(np.float32)


def knn_accuracy(train_points: np.ndarray, train_labels: np.ndarray, test_points: np.ndarray,
                 test_labels: np.ndarray, k: int = 5) -> float:
    """Share of test points whose ``k`` nearest training points (Euclidean) vote for their
    label; ties go to the class of the nearest among the tied."""
    a = torch.as_tensor(np.asarray(train_points, dtype=np.float64))
    b = torch.as_tensor(np.asarray(test_points, dtype=np.float64))
    la = torch.as_tensor(np.asarray(train_labels)).long()
    lb = torch.as_tensor(np.asarray(test_labels)).long()
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    k = min(k, len(a))
    nearest = torch.cdist(b, a).topk(k, largest=False).indices  # sorted nearest first
    votes = la[nearest]
    classes = int(max(la.max(), lb.max())) + 1
    counts = torch.zeros(len(b), classes, dtype=torch.float64)
    counts.scatter_add_(1, votes, torch.ones_like(votes, dtype=torch.float64))
    # break ties by rank: each vote also adds a tiny amount that favours nearer neighbours
    rank_bonus = torch.linspace(1e-6, 1e-7, k, dtype=torch.float64).expand(len(b), k)
    counts.scatter_add_(1, votes, rank_bonus)
    return float((counts.argmax(1) == lb).double().mean())


def latent_space(compiled: Compiled, data: Any, node_id: int | None = None, k: int = 5,
                 limit: int | None = 2000) -> LatentSpace:
    """The bottleneck's codes beside a PCA of the same inputs, both 2-D, and how well each
    keeps the classes apart (k-nearest-neighbour accuracy on validation, training points as
    neighbours)."""
    node = node_id if node_id is not None else find_bottleneck(compiled)
    label = compiled.graph.nodes[node].name
    train = run(compiled, data, "train", limit, hidden_node=node)
    val = run(compiled, data, "val", limit, hidden_node=node)
    assert train.hidden is not None and val.hidden is not None
    dims = int(train.hidden.shape[1])
    if dims == 2:
        code_train, code_val = train.hidden, val.hidden
    else:
        codes = PCA(train.hidden)
        code_train, code_val = codes.transform(train.hidden), codes.transform(val.hidden)
    pca = PCA(train.inputs)
    pca_train, pca_val = pca.transform(train.inputs), pca.transform(val.inputs)
    labelled = train.labels.ndim == 1 and train.labels.size and not np.issubdtype(
        train.labels.dtype, np.floating)
    return LatentSpace(
        node_id=node, name=label, dims=dims,
        latent=np.asarray(code_val, np.float32), pca=pca_val, labels=val.labels,
        class_names=list(getattr(data, "class_names", [])),
        knn_latent=knn_accuracy(code_train, train.labels, code_val, val.labels, k)
        if labelled else float("nan"),
        knn_pca=knn_accuracy(pca_train, train.labels, pca_val, val.labels, k)
        if labelled else float("nan"),
        k=k, explained_variance=pca.explained,
    )
