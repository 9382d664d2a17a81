"""The keys of each live probe's payload, as typed dicts.

Payloads stay plain dicts because they travel from the training process to the GUI inside
``runtime.events.Probe`` (pickled through the worker's pipe; ``Event.record`` is their wire
form); a ``TypedDict`` names and types their keys without changing that format. The
schedule adds ``"probe"`` (and sends ``{"probe", "error"}`` for a probe that cannot run).
Arrays are float32 numpy unless said otherwise.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

import numpy as np

Histogram = tuple[np.ndarray, np.ndarray]  # (counts int64, edges float32)


class _Filters(TypedDict):
    node_id: int
    name: str
    layer_type: str
    param: str
    shape: tuple[int, ...]  # the full weight shape
    kind: str  # "conv" (kernels) or "dense" (weights)
    vmax: float  # largest absolute value shown: one symmetric colour scale


class Filters(_Filters, total=False):
    """``views.conv_filters``: a layer's weights as the filters panel draws them."""

    kernels: np.ndarray  # (out, kh, kw), kind "conv"
    weights: np.ndarray  # (rows, cols), kind "dense"
    in_channels: int  # convolutions only
    in_channel: int | None  # the input channel shown; None: averaged
    out_channels: int


class _ActivationEntry(TypedDict):
    kind: str  # "maps", "sequence", "strip" or "omitted"
    shape: tuple[int, ...]  # the full per-sample shape


class ActivationEntry(_ActivationEntry, total=False):
    """One node's output for one sample (nothing but kind, shape and name when omitted)."""

    name: str
    maps: np.ndarray  # (C, H, W), kind "maps"
    channels: int
    values: np.ndarray  # (L, F) for "sequence", (F,) for "strip"
    min: float
    max: float


class _Activations(TypedDict):
    nodes: dict[int, ActivationEntry]
    probabilities: np.ndarray | None  # the first classification head's
    predicted: int | None
    outputs: dict[int, np.ndarray]  # Output node id -> (k,) values


class Activations(_Activations, total=False):
    """``views.activations``; the schedule adds which validation sample it was."""

    output_node: int  # the Output whose probabilities are shown
    val_index: int
    label: int | None


class ProbeSamples(TypedDict):
    """``views.pick_probe_samples``: validation samples for the activations picker."""

    indices: list[int]
    inputs: Any  # (n, *input_shape) array, or a tuple/dict of them for several Inputs
    labels: list[int]  # [] for regression
    label_names: list[str]


class Boundary(TypedDict):
    """``views.decision_boundary``: predictions over the plane of a 2-D data set."""

    xs: np.ndarray  # (R,)
    ys: np.ndarray  # (R,)
    probabilities: np.ndarray | None  # (R, R, C)
    predicted: np.ndarray | None  # (R, R) int64 class grid
    values: np.ndarray | None  # (R, R) first output, regression
    class_names: list[str]
    points: np.ndarray  # (N, 2)
    labels: np.ndarray  # (N,)


class Hidden(TypedDict):
    """``views.hidden_representation``: a hidden layer's outputs projected to 2-D."""

    node_id: int
    name: str
    points: np.ndarray  # (N, 2)
    labels: np.ndarray  # (N,)
    explained_variance: list[float]  # share of the variance on each axis
    method: str  # "pca" or "raw"
    dims: int  # width of the layer


class WrongSample(TypedDict):
    index: int
    true: int
    pred: int
    confidence: float


class Confusion(TypedDict):
    """``views.confusion``: the confusion matrix and the most confidently wrong samples."""

    matrix: np.ndarray  # (C, C) int64, rows = true class
    per_class_accuracy: np.ndarray  # (C,), nan for a class without samples
    accuracy: float
    class_names: list[str]
    samples: int
    wrong: list[WrongSample]  # most confident first
    wrong_inputs: Any  # (k, *input_shape) array, or a list of arrays
    unit: NotRequired[str]  # what a count is: "tokens" for a tagger (default: samples)


class NodeHistograms(TypedDict):
    name: str
    params: int
    weights: Histogram
    grads: Histogram | None
    weight_norm: float
    grad_norm: float | None  # None without gradients
    nonfinite: int  # NaN/inf weights left out


class Histograms(TypedDict):
    """``views.histograms``: weight and gradient histograms per node with parameters."""

    nodes: dict[int, NodeHistograms]


class RobustnessExamples(TypedDict):
    indices: list[int]
    labels: list[int]
    inputs: np.ndarray
    perturbation: np.ndarray
    adversarial: np.ndarray
    clean_pred: np.ndarray  # int64
    clean_conf: np.ndarray
    adv_pred: np.ndarray  # int64
    adv_conf: np.ndarray


class Robustness(TypedDict):
    """``robustness.robustness``: clean and attacked accuracy on a fixed subset."""

    method: str
    eps: float
    steps: int
    n: int
    clean_accuracy: float
    robust_accuracy: float
    value_range: list[float]  # [low, high]
    class_names: list[str]
    seconds: float
    examples: RobustnessExamples
