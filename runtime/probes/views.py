"""The six live views of a network, each a small picklable snapshot a panel draws: a layer's
filters, the activations of one sample, the decision boundary of a 2-D data set, the hidden
representation, the confusion matrix and the weight and gradient histograms.

Every view reads the compiled module as it is (on whatever device it trains on), in eval mode
without gradients (gradient histograms excepted), puts every submodule's training flag back,
and returns a plain dict of float32 numpy arrays, floats, ints, strings and lists, capped in
size so that a few of them a second fit through a multiprocessing queue (their keys:
``runtime.probes.payloads``). Views never draw
from torch's global random generator, so turning them on does not change a seeded run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graph.model import Node
from runtime.batches import map_tensors
from runtime.capture import (
    Sweep,
    as_batch,
    first_classifier,
    node_outputs,
    output_list,
    sweep,
    value_nodes,
)
from runtime.compile import Compiled
from runtime.evaluation import (
    class_probabilities,
    dataset_tensors,
    evaluating,
    evaluation_set,
    model_device,
    row_count,
    take_rows,
)
from runtime.heads import make_heads
from runtime.probes.payloads import (
    ActivationEntry,
    Activations,
    Boundary,
    Confusion,
    Filters,
    Hidden,
    Histograms,
    NodeHistograms,
    ProbeSamples,
    WrongSample,
)
from runtime.probes.tokens import confusion_counts, token_confusion

# Size caps: what one view may send. Larger things are downsampled (averaged) or cut, and the
# dict says so ("shape" is always the full size).
MAX_CHANNELS = 64  # feature maps per layer
MAX_SIDE = 64  # height/width of a feature map, weight matrix side is MAX_MATRIX
MAX_STRIP = 1024  # values of a dense layer's activation strip
MAX_SEQUENCE = 256  # steps and features of a sequence activation
MAX_KERNELS = 256  # output channels shown by the filters probe
MAX_MATRIX = 256  # rows/columns of a dense weight matrix
MAX_POINTS = 1000  # data points drawn over the decision boundary
MAX_ACTIVATION_VALUES = 1 << 20  # values in one activations probe (4 MB); later nodes omitted


def as_numpy(t: Tensor) -> np.ndarray:
    """A float32 numpy copy on the CPU: what a payload holds, picklable for the queue."""
    return t.detach().to("cpu", torch.float32).numpy()


def _node(compiled: Compiled, node_id: int) -> Node:
    """The graph node ``node_id``; ValueError (for the panel) when the network lacks it."""
    node = compiled.graph.nodes.get(node_id)
    if node is None:
        raise ValueError(f"node {node_id} is not in the compiled network; recompile or choose "
                         "another node")
    return node


def _submodule(compiled: Compiled, node_id: int) -> nn.Module:
    """The torch module of a layer with weights; ValueError for one without."""
    node = _node(compiled, node_id)
    name = compiled.module_names.get(node_id)
    if name is None:
        raise ValueError(f"{node.label} has no weights (it is a {node.type}); choose a layer "
                         "with weights, such as a Conv2d or Linear")
    return compiled.module.get_submodule(name)


def shrink(t: Tensor, sizes: Sequence[int]) -> Tensor:
    """Average-pool the trailing dims of ``t`` (1 or 2 of them) down to at most ``sizes``."""
    dims = t.shape[-len(sizes):]
    if all(d <= s for d, s in zip(dims, sizes, strict=True)):
        return t
    target = [min(d, s) for d, s in zip(dims, sizes, strict=True)]
    lead = t.shape[:-len(sizes)]
    flat = t.reshape(-1, 1, *dims).float()
    pooled = (F.adaptive_avg_pool1d(flat, target[0]) if len(sizes) == 1
              else F.adaptive_avg_pool2d(flat, target))
    return pooled.reshape(*lead, *target)


# -- filters ---------------------------------------------------------------------------------------
def _shown_weight(sub: nn.Module) -> tuple[str, Tensor] | None:
    """The parameter a weights view shows: ``weight`` when there is one, else the first matrix
    (``rnn.weight_ih_l0``), else the first parameter."""
    params = list(sub.named_parameters())
    if not params:
        return None
    for name, p in params:
        if name == "weight":
            return name, p
    for name, p in params:
        if p.dim() >= 2:
            return name, p
    return params[0]


def conv_filters(compiled: Compiled, node_id: int, in_channel: int | None = None) -> Filters:
    """A layer's weights as the filters panel draws them.

    Conv2d / ConvTranspose2d: ``{"kind": "conv", "kernels": (out, kh, kw)}``, the input
    channels averaged (or only ``in_channel``). Linear, Conv1d (out, k) and other layers with
    weights: ``{"kind": "dense", "weights": (rows, cols)}``. ``vmax`` is the largest absolute
    value shown, for one symmetric diverging colour scale (1.0 when every value is 0).
    ValueError for a node without weights.
    """
    node = _node(compiled, node_id)
    sub = _submodule(compiled, node_id)
    chosen = _shown_weight(sub)
    if chosen is None:
        raise ValueError(f"{node.label} has no weights (it is a {node.type}); choose a layer "
                         "with weights, such as a Conv2d or Linear")
    param_name, weight = chosen
    w = weight.detach().float()
    shape = tuple(w.shape)
    conv: dict[str, Any] = {}  # the convolution's channels, between shape and kind
    if isinstance(sub, nn.ConvTranspose2d):
        w = w.transpose(0, 1)  # (in, out, kh, kw) -> (out, in, kh, kw)
    if w.dim() in (3, 4) and isinstance(sub, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d)):
        channels = int(w.shape[1])
        if in_channel is not None and not 0 <= in_channel < channels:
            raise ValueError(f"{node.label} has {channels} input channel(s) per group; choose "
                             f"an input channel from 0 to {channels - 1}")
        conv = {"in_channels": channels, "in_channel": in_channel,
                "out_channels": int(w.shape[0])}
        shown = w.mean(1) if in_channel is None else w[:, in_channel]
        shown = shown[:MAX_KERNELS]
    else:
        shown = w.reshape(1, -1) if w.dim() == 1 else w.reshape(w.shape[0], -1)
        shown = shrink(shown, (MAX_MATRIX, MAX_MATRIX))
    kind, key = ("conv", "kernels") if shown.dim() == 3 else ("dense", "weights")  # Conv1d: dense
    array = as_numpy(shown)
    vmax = float(np.abs(array).max()) if array.size else 0.0
    return cast(Filters, {"node_id": node_id, "name": node.name, "layer_type": node.type,
                          "param": param_name, "shape": shape, **conv, "kind": kind, key: array,
                          "vmax": vmax if vmax > 0 and np.isfinite(vmax) else 1.0})


# -- activations -----------------------------------------------------------------------------------
def _describe_activation(t: Tensor) -> ActivationEntry | None:
    """One sample's activation as the panel draws it (batch dimension already removed)."""
    shape = tuple(t.shape)
    t = t.detach().float()
    if t.dim() == 0:
        t = t.reshape(1)
    if t.dim() == 4:  # (C, D, H, W): average the depth
        t = t.mean(1)
    channels: dict[str, Any] = {}
    if t.dim() == 3:
        kind, key, channels = "maps", "maps", {"channels": int(t.shape[0])}
        values = as_numpy(shrink(t[:MAX_CHANNELS], (MAX_SIDE, MAX_SIDE)))
    elif t.dim() == 2:
        kind, key, values = "sequence", "values", as_numpy(t[:MAX_SEQUENCE, :MAX_SEQUENCE])
    elif t.dim() == 1:
        kind, key = "strip", "values"
        values = as_numpy(shrink(t.reshape(1, -1), (MAX_STRIP,))[0])
    else:
        return None
    return cast(ActivationEntry, {
        "kind": kind, **channels, key: values, "shape": shape,
        "min": float(values.min()) if values.size else 0.0,
        "max": float(values.max()) if values.size else 0.0})


def activations(compiled: Compiled, x_sample: Any, node_ids: Sequence[int] | None = None
                ) -> Activations:
    """The outputs of ``node_ids`` (every node when None) for one input, in one forward pass.

    Returns ``{"nodes": {node_id: entry}, "probabilities": (C,) or None, "predicted": int or
    None, "outputs": {output node id: (k,) values}}``. An entry is ``{"kind": "maps", "maps":
    (C, H, W), "channels"}`` for image-like outputs, ``{"kind": "strip", "values": (F,)}`` for
    vectors, ``{"kind": "sequence", "values": (L, F)}`` for sequences, each with the full
    per-sample ``"shape"`` and the ``"min"``/``"max"`` shown; once ``MAX_ACTIVATION_VALUES``
    are taken, later nodes are ``{"kind": "omitted", "shape"}`` (ask for them by id). An
    Output node shows what flows into it. Probabilities are those of the first
    classification head (softmax; a single logit gives (1 - p, p)).
    """
    module = compiled.module
    known = value_nodes(compiled)
    ids = sorted(known) if node_ids is None else [int(i) for i in node_ids]
    for i in ids:
        if i not in known:
            node = _node(compiled, i)
            raise ValueError(f"{node.label} is not part of the compiled network (it leads to "
                             "no Output); connect it or choose another node")
    with evaluating(module):
        args = as_batch(compiled, x_sample, model_device(module))
        values, result = node_outputs(compiled, args, ids)
    nodes: dict[int, ActivationEntry] = {}
    budget = MAX_ACTIVATION_VALUES
    for i in ids:
        value = values.get(i)
        if isinstance(value, Tensor) and value.dim() >= 1:
            entry = _describe_activation(value[0]) if budget > 0 else {
                "kind": "omitted", "shape": tuple(value.shape[1:])}
            if entry is not None:
                shown = entry.get("maps", entry.get("values"))
                budget -= shown.size if shown is not None else 0
                entry["name"] = compiled.graph.nodes[i].name
                nodes[i] = entry
    outs = output_list(result)
    payload: Activations = {
        "nodes": nodes, "probabilities": None, "predicted": None,
        "outputs": {oid: as_numpy(o[0].reshape(-1)[:MAX_STRIP])
                    for oid, o in zip(compiled.output_nodes, outs, strict=False)},
    }
    head = first_classifier(compiled, outs)
    if head is not None:
        probs = class_probabilities(head[1], head[2])[0]
        payload["probabilities"] = as_numpy(probs[:MAX_STRIP])
        payload["predicted"] = int(probs.argmax())
        payload["output_node"] = compiled.output_nodes[head[0]]
    return payload


def pick_probe_samples(data: Any, n: int = 16, seed: int = 0) -> ProbeSamples:
    """Validation samples for the activations picker: the first ``n``, taken class by class in
    turn so every class shows up when it can. ``seed`` pages on: seed k skips the first k
    rounds' worth of samples of each class (0 = the very first ones).

    Returns ``{"indices": [val index], "inputs": (n, *input_shape) array as the model sees
    them, "labels": [int] (or [] for regression), "label_names": [str]}``.
    """
    source = evaluation_set(data)
    total = len(source)
    if total == 0:
        raise ValueError(f"dataset {getattr(data, 'name', '')} has no samples to probe; load a "
                         "data set first")
    x, y = dataset_tensors(source, max(1000, 20 * n * (max(0, int(seed)) + 1)))
    total = row_count(x)
    classification = getattr(data, "task", "classification") == "classification" and \
        isinstance(y, Tensor) and y.dim() == 1 and not y.is_floating_point()
    if classification:
        labels = y.numpy()
        groups = [np.flatnonzero(labels == c) for c in np.unique(labels)]
        skip = max(0, int(seed)) * max(1, -(-n // max(1, len(groups))))
        if all(skip >= len(g) for g in groups):
            skip = 0  # paged past the end: start again
        groups = [g[skip:] for g in groups]
        picked: list[int] = []
        depth = 0
        while len(picked) < min(n, total) and any(depth < len(g) for g in groups):
            picked += [int(g[depth]) for g in groups if depth < len(g)]
            depth += 1
        picked = sorted(picked[:n])
    else:
        start = min(max(0, int(seed)) * n, max(0, total - n))
        picked = list(range(start, min(total, start + n)))
    index = torch.as_tensor(picked, dtype=torch.long)
    xs = take_rows(x, index)
    inputs = map_tensors(xs, lambda t: t.float() if t.is_floating_point() else t)  # token ids stay
    inputs = inputs.numpy() if isinstance(inputs, Tensor) else map_tensors(inputs, Tensor.numpy)
    names = list(getattr(data, "class_names", []) or [])
    out_labels = [int(v) for v in y[index]] if classification else []
    return {"indices": picked, "inputs": inputs, "labels": out_labels,
            "label_names": [names[v] if v < len(names) else str(v) for v in out_labels]}


# -- decision boundary and hidden representation ---------------------------------------------------
def check_two_d(compiled: Compiled, data: Any) -> None:
    shape = tuple(getattr(data, "input_shape", ()) or ())
    if len(compiled.input_nodes) != 1 or shape != (2,):
        got = " x ".join(map(str, shape)) or "unknown"
        raise ValueError(f"the decision boundary needs 2-D inputs (2 features per sample) but "
                         f"dataset {getattr(data, 'name', '')} gives samples of shape {got}; "
                         "use a 2-D data set such as spirals, moons or xor")


def boundary_grid(data: Any, resolution: int = 64, margin: float = 0.1
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The grid axes (xs, ys) that cover every training and validation point plus a margin
    (a share of each axis's extent)."""
    parts = [dataset_tensors(s)[0] for s in (data.train, data.val) if len(s)]
    if not parts:
        raise ValueError(f"dataset {getattr(data, 'name', '')} is empty; nothing to draw")
    points = torch.cat([p.reshape(-1, 2).float() for p in parts]).numpy()
    low, high = points.min(0), points.max(0)
    pad = np.maximum(high - low, 1e-6) * float(margin)
    res = max(2, int(resolution))
    xs = np.linspace(low[0] - pad[0], high[0] + pad[0], res, dtype=np.float32)
    ys = np.linspace(low[1] - pad[1], high[1] + pad[1], res, dtype=np.float32)
    return xs, ys


def decision_boundary(compiled: Compiled, data: Any, resolution: int = 64, margin: float = 0.1,
                      max_points: int = MAX_POINTS, grid: tuple[np.ndarray, np.ndarray] | None
                      = None) -> Boundary:
    """The model's prediction over the plane of a 2-D data set, with the data on top.

    Returns ``{"xs": (R,), "ys": (R,), "probabilities": (R, R, C) or None, "predicted": (R, R)
    class grid or None, "values": (R, R) first output (regression) or None, "points": (N, 2),
    "labels": (N,), "class_names"}``; row j, column i of a grid is the point (xs[i], ys[j]).
    Points are the validation set's (the training set's when it is empty), at most
    ``max_points``. ValueError when the inputs are not 2-D.
    """
    check_two_d(compiled, data)
    xs, ys = grid if grid is not None else boundary_grid(data, resolution, margin)
    gx, gy = np.meshgrid(xs, ys)
    plane = torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32))
    module = compiled.module
    with evaluating(module):
        device = model_device(module)
        outs = output_list(module(plane.to(device)))
    rows, cols = len(ys), len(xs)
    payload: dict[str, Any] = {"xs": xs, "ys": ys, "probabilities": None, "predicted": None,
                               "values": None,
                               "class_names": list(getattr(data, "class_names", []) or [])}
    head = first_classifier(compiled, outs)
    if head is not None:
        probs = class_probabilities(head[1], head[2])
        payload["probabilities"] = as_numpy(probs).reshape(rows, cols, -1)
        payload["predicted"] = probs.argmax(1).reshape(rows, cols).cpu().numpy().astype(np.int64)
    else:
        payload["values"] = as_numpy(outs[0].reshape(outs[0].shape[0], -1)[:, 0]).reshape(rows,
                                                                                         cols)
    x, y = dataset_tensors(evaluation_set(data), max_points)
    payload["points"] = as_numpy(x.reshape(-1, 2))
    payload["labels"] = y.cpu().numpy() if isinstance(y, Tensor) else np.zeros(0)
    return payload


def pca_2d(values: np.ndarray | Tensor) -> tuple[np.ndarray, list[float]]:
    """Project rows onto their two main axes: (points (N, 2), explained variance ratios).

    Eigenvectors of the smaller of the covariance (D x D) and Gram (N x N) matrices: a few
    times cheaper than an SVD, and torch rather than numpy, whose threaded BLAS took a second
    on the busy two-core machine. Each axis's sign is fixed (its largest loading is positive,
    as scikit-learn does) so the picture does not flip between two nearly identical calls.
    """
    x = torch.as_tensor(values).detach().to("cpu", torch.float64)
    n, d = x.shape
    centred = x - x.mean(0, keepdim=True)
    total = float((centred ** 2).sum())
    k = min(2, n, d)
    if d <= n:
        eigenvalues, vectors = torch.linalg.eigh(centred.T @ centred)
        axes = vectors[:, -k:].flip(1).T if k else vectors[:, :0].T
    else:
        eigenvalues, vectors = torch.linalg.eigh(centred @ centred.T)
        top = vectors[:, -k:].flip(1) if k else vectors[:, :0]
        axes = (centred.T @ top).T
        axes = axes / axes.norm(dim=1, keepdim=True).clamp_min(1e-300)
    variances = eigenvalues[-k:].flip(0).clamp_min(0) if k else eigenvalues[:0]
    if k:
        signs = torch.sign(axes[torch.arange(k), axes.abs().argmax(1)])
        signs[signs == 0] = 1.0
        axes = axes * signs[:, None]
    points = (centred @ axes.T).numpy()
    ratios = [float(v) / total if total > 0 else 0.0 for v in variances]
    if k < 2:
        points = np.concatenate([points, np.zeros((n, 2 - k))], 1)
        ratios += [0.0] * (2 - k)
    return points.astype(np.float32), ratios


def hidden_representation(compiled: Compiled, data: Any, node_id: int, max_points: int = 500,
                          swept: Sweep | None = None) -> Hidden:
    """Where a hidden layer puts the data: the first ``max_points`` validation samples mapped
    by ``node_id``, flattened per sample, PCA-projected to 2-D when wider than 2 (1-D values
    get a zero second coordinate).

    Returns ``{"node_id", "name", "points": (N, 2), "labels": (N,), "explained_variance":
    [ratio of axis 1, ratio of axis 2] (share of the total variance; raw axes when 2-D),
    "method": "pca" | "raw", "dims": width of the layer}``. ``swept``: a ``sweep`` that
    captured this node (the schedule shares one with the confusion matrix).
    """
    node = _node(compiled, node_id)
    if node_id not in value_nodes(compiled):
        raise ValueError(f"{node.label} is not part of the compiled network; choose a layer "
                         "that leads to the Output")
    if swept is None or node_id not in swept.captured:
        swept = sweep(compiled, data, [node_id], max_points,
                      tensors=dataset_tensors(evaluation_set(data), max_points))
    if node_id not in swept.captured:
        raise ValueError(f"{node.label} gives no tensor to show; choose another layer")
    value = swept.captured[node_id][:max_points]
    y = swept.y[:len(value)] if isinstance(swept.y, Tensor) else swept.y
    flat_t = value.reshape(value.shape[0], -1).double()
    dims = flat_t.shape[1]
    if dims > 2:
        points, ratios = pca_2d(flat_t)
        method = "pca"
    else:
        flat = flat_t.numpy()
        points = np.zeros((flat.shape[0], 2), np.float32)
        points[:, :dims] = flat
        var = flat.var(0) if len(flat) else np.zeros(dims)
        total = float(var.sum())
        ratios = [float(v) / total if total > 0 else 0.0 for v in var] + [0.0] * (2 - dims)
        method = "raw"
    return {"node_id": node_id, "name": node.name, "points": points.astype(np.float32),
            "labels": y.cpu().numpy() if isinstance(y, Tensor) else np.zeros(0),
            "explained_variance": ratios, "method": method, "dims": int(dims)}


# -- confusion -------------------------------------------------------------------------------------
def confusion(compiled: Compiled, data: Any, max_wrong: int = 12, max_samples: int | None = None,
              thumbnail_side: int = MAX_SIDE, swept: Sweep | None = None) -> Confusion:
    """The validation set's confusion matrix and its most confidently wrong samples.

    Returns ``{"matrix": (C, C) int64, rows = true class, columns = predicted (as
    sklearn.metrics.confusion_matrix), "per_class_accuracy": (C,) (nan for a class with no
    samples), "accuracy", "class_names", "samples", "wrong": [{"index", "true", "pred",
    "confidence"}] most confident first, "wrong_inputs": (k, *input_shape) float32, images
    shrunk to at most ``thumbnail_side`` pixels a side}``. ``max_samples`` caps the samples
    swept (all by default); ``swept`` reuses a ``sweep`` of the set. ValueError for
    regression.
    """
    if getattr(data, "task", "classification") != "classification":
        raise ValueError(f"the confusion matrix needs a classification data set; "
                         f"{getattr(data, 'name', 'this data set')} is regression")
    if swept is None:
        swept = sweep(compiled, data, max_samples=max_samples)
    if swept.probabilities is None:
        return token_confusion(compiled, data, swept.x, swept.y)  # a tagger, else its error
    x, y, probs = swept.x, swept.y, swept.probabilities
    if isinstance(y, dict):  # targets of several heads: those of the first classification head
        head = next(h for h in make_heads(compiled) if h.task == "classification")
        y = y[head.name] if head.name in y else next(iter(y.values()))
    truth = y.reshape(-1).long().cpu()
    classes = max(int(getattr(data, "num_classes", 0) or 0), int(probs.shape[1]),
                  int(truth.max()) + 1 if truth.numel() else 0)
    confidence, predicted = probs.max(1)
    matrix, per_class = confusion_counts(truth, predicted, classes)
    wrong_idx = torch.nonzero(predicted != truth).reshape(-1)
    order = wrong_idx[torch.argsort(confidence[wrong_idx], descending=True, stable=True)]
    order = order[:max(0, int(max_wrong))]
    names = list(getattr(data, "class_names", []) or [])
    wrong: list[WrongSample] = [{"index": int(i), "true": int(truth[i]), "pred": int(predicted[i]),
              "confidence": float(confidence[i])} for i in order]
    inputs = take_rows(x, order)
    if isinstance(inputs, Tensor):
        inputs = inputs.float()
        if inputs.dim() == 4:
            inputs = shrink(inputs, (thumbnail_side, thumbnail_side))
        wrong_inputs: Any = as_numpy(inputs)
    else:
        wrong_inputs = [as_numpy(torch.as_tensor(v).float()) for v in inputs]
    return {"matrix": matrix, "per_class_accuracy": per_class,
            "accuracy": float(np.trace(matrix) / max(1, matrix.sum())),
            "class_names": [names[c] if c < len(names) else str(c) for c in range(classes)],
            "samples": int(truth.numel()), "wrong": wrong, "wrong_inputs": wrong_inputs}


# -- histograms ------------------------------------------------------------------------------------
def _histogram(values: Tensor, bins: int) -> tuple[tuple[np.ndarray, np.ndarray], int]:
    """((counts int64, edges float32), number of non-finite values left out), computed where
    the values live (no copy of a large layer's weights to the CPU)."""
    flat = values.detach().reshape(-1).float()
    finite = torch.isfinite(flat)
    bad = int(flat.numel() - int(finite.sum()))
    if bad:
        flat = flat[finite]
    if flat.numel() == 0:
        return (np.zeros(bins, np.int64), np.linspace(-1, 1, bins + 1, dtype=np.float32)), bad
    low, high = (float(v) for v in torch.aminmax(flat))
    if low == high:  # as numpy: a unit-wide range around a constant
        low, high = low - 0.5, high + 0.5
    counts = torch.histc(flat, bins, low, high).to("cpu", torch.int64).numpy()
    edges = np.linspace(low, high, bins + 1, dtype=np.float64).astype(np.float32)
    return (counts, edges), bad


def _parameter_nodes(compiled: Compiled) -> Iterator[tuple[int, Any, list[nn.Parameter]]]:
    seen: set[int] = set()
    for node_id, name in sorted(compiled.module_names.items()):
        try:
            sub = compiled.module.get_submodule(name)
        except AttributeError:
            continue
        params = [p for p in sub.parameters() if id(p) not in seen]
        seen.update(id(p) for p in params)
        if params:
            yield node_id, compiled.graph.nodes.get(node_id), params


def histograms(compiled: Compiled, bins: int = 30,
               grads: Mapping[int, Tensor | None] | None = None) -> Histograms:
    """Weight and gradient histograms of every node with parameters (weights and biases
    together, one histogram per node).

    Gradients are the parameters' ``.grad`` from the last backward pass (call right after a
    training step: at the end of an epoch they are the epoch's last batch), or ``grads``
    (id(param) -> gradient) when given. Returns ``{"nodes": {node_id: {"name", "params",
    "weights": (counts, edges), "grads": (counts, edges) or None, "weight_norm",
    "grad_norm" (None without gradients), "nonfinite": count of NaN/inf weights}}}``.
    """
    nodes: dict[int, NodeHistograms] = {}
    for node_id, node, params in _parameter_nodes(compiled):
        flat = torch.cat([p.detach().reshape(-1) for p in params])
        weights, bad = _histogram(flat, bins)
        if grads is not None:
            gs = [g for g in (grads.get(id(p)) for p in params) if g is not None]
        else:
            gs = [p.grad for p in params if p.grad is not None]
        grad_hist, grad_norm = None, None
        if gs:
            flat_grads = torch.cat([g.detach().reshape(-1) for g in gs]).float()
            grad_hist, _ = _histogram(flat_grads, bins)
            grad_norm = float(torch.linalg.vector_norm(flat_grads))
        nodes[node_id] = {"name": node.name if node is not None else str(node_id),
                          "params": int(flat.numel()), "weights": weights, "grads": grad_hist,
                          "weight_norm": float(torch.linalg.vector_norm(flat.float())),
                          "grad_norm": grad_norm, "nonfinite": bad}
    return {"nodes": nodes}


def grad_histograms_from_batch(compiled: Compiled, loss_fn: Callable[[Any, Any], Tensor], x: Any,
                               y: Any, bins: int = 30) -> Histograms:
    """``histograms`` with gradients of one batch computed here, without touching ``.grad``
    or stepping: for a panel opened between steps, or a network that has not trained yet.

    Runs in eval mode (dropout off, BatchNorm statistics left alone). ``loss_fn(outputs, y)``
    is ``runtime.train.make_loss(compiled, classes)`` or any callable of that form.
    """
    module = compiled.module
    params = [p for _, _, ps in _parameter_nodes(compiled) for p in ps if p.requires_grad]
    with evaluating(module, grad=True):
        device = model_device(module)
        args = as_batch(compiled, x, device)
        target = y.to(device) if isinstance(y, Tensor) else y
        loss = loss_fn(module(*args), target)
        grads = torch.autograd.grad(loss, params, allow_unused=True) if params else ()
    return histograms(compiled, bins, {id(p): g for p, g in zip(params, grads, strict=True)})

