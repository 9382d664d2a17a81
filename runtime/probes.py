"""Live probes: small snapshots of what a network is doing, taken inside the training process.

Every probe reads the compiled module as it is (on whatever device it trains on), runs in eval
mode without gradients (gradient histograms excepted), puts every submodule's training flag
back as it found it, and returns a plain dict of float32 numpy arrays, floats, ints, strings
and lists: picklable, and capped in size so that a few of them a second fit through a
multiprocessing queue. Panels only draw what they get.

``ProbeSchedule`` turns a panel configuration into hooks for ``runtime.train.train``
(``epoch_end_hooks`` and the cheaper, throttled ``step_hooks``); each hook returns one
``{"probe": <name>, ...}`` dict, which the trainer sends as a ``{"type": "probe"}`` event.
Probes never draw from torch's global random generator, so turning them on does not change
how a seeded run trains.
"""

from __future__ import annotations

import contextlib
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, fx, nn

from graph.catalog import MERGE
from runtime import ops
from runtime.train import Head, make_heads, tensor_pair

__all__ = [
    "MAX_CHANNELS",
    "MAX_SIDE",
    "EPOCH_ONLY",
    "PROBES",
    "ProbeSchedule",
    "Sweep",
    "activations",
    "class_probabilities",
    "confusion",
    "conv_filters",
    "decision_boundary",
    "evaluating",
    "grad_histograms_from_batch",
    "hidden_representation",
    "histograms",
    "make_epoch_probes",
    "make_step_probes",
    "node_outputs",
    "pca_2d",
    "pick_probe_samples",
    "robustness",
    "robustness_subset",
    "sweep",
    "value_nodes",
]

# Size caps: what one probe may send. Larger things are downsampled (averaged) or cut, and the
# dict says so ("shape" is always the full size).
MAX_CHANNELS = 64  # feature maps per layer
MAX_SIDE = 64  # height/width of a feature map, weight matrix side is MAX_MATRIX
MAX_STRIP = 1024  # values of a dense layer's activation strip
MAX_SEQUENCE = 256  # steps and features of a sequence activation
MAX_KERNELS = 256  # output channels shown by the filters probe
MAX_MATRIX = 256  # rows/columns of a dense weight matrix
MAX_POINTS = 1000  # data points drawn over the decision boundary
MAX_ACTIVATION_VALUES = 1 << 20  # values in one activations probe (4 MB); later nodes omitted
EVAL_BATCH = 1024  # samples per forward pass when a probe sweeps a data set

ProbeHook = Callable[[nn.Module, int], "dict[str, Any] | None"]


# -- shared plumbing -------------------------------------------------------------------------------
@contextlib.contextmanager
def evaluating(module: nn.Module, grad: bool = False) -> Iterator[None]:
    """Eval mode (and no_grad unless ``grad``) for the block; every submodule's own training
    flag comes back afterwards, so frozen (eval) layers inside a training network stay so."""
    flags = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        with torch.set_grad_enabled(grad):
            yield
    finally:
        for m, flag in flags:
            m.training = flag


def module_device(module: nn.Module) -> torch.device:
    for p in module.parameters():
        return p.device
    for b in module.buffers():
        return b.device
    return torch.device("cpu")


def _numpy(t: Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float32).numpy()


def _node(compiled: Any, node_id: int) -> Any:
    node = compiled.graph.nodes.get(node_id)
    if node is None:
        raise ValueError(f"node {node_id} is not in the compiled network; recompile or choose "
                         "another node")
    return node


def _submodule(compiled: Any, node_id: int) -> nn.Module:
    node = _node(compiled, node_id)
    name = compiled.module_names.get(node_id)
    if name is None:
        raise ValueError(f"{node.label} has no weights (it is a {node.type}); choose a layer "
                         "with weights, such as a Conv2d or Linear")
    return compiled.module.get_submodule(name)


def _input_shape(compiled: Any, index: int = 0) -> tuple[int, ...] | None:
    if index >= len(compiled.input_nodes):
        return None
    shape = compiled.graph.nodes[compiled.input_nodes[index]].param("shape")
    return tuple(int(s) for s in shape) if shape is not None else None


def _as_batch(compiled: Any, x: Any, device: torch.device) -> tuple[Tensor, ...]:
    """Forward's positional arguments from one sample or a batch (tensor, array, tuple of
    them for several Inputs, or a dict keyed by Input name). A sample without its batch
    dimension gets one."""
    if isinstance(x, Mapping):
        names = [compiled.graph.nodes[i].name for i in compiled.input_nodes]
        x = tuple(x[n] for n in names)
    parts = list(x) if isinstance(x, (tuple, list)) else [x]
    out = []
    for index, part in enumerate(parts):
        t = torch.as_tensor(np.asarray(part) if not isinstance(part, Tensor) else part)
        if t.is_floating_point():
            t = t.to(torch.float32)
        shape = _input_shape(compiled, index)
        if shape is not None and t.dim() == len(shape):
            t = t.unsqueeze(0)
        out.append(t.to(device))
    return tuple(out)


def _outputs(result: Any) -> list[Tensor]:
    return list(result) if isinstance(result, (tuple, list)) else [result]


def _classifier(compiled: Any, outputs: list[Tensor]) -> tuple[int, Head, Tensor] | None:
    """(index, head, output) of the first classification head, or None."""
    for index, (head, out) in enumerate(zip(make_heads(compiled), outputs, strict=False)):
        if head.task == "classification":
            return index, head, out
    return None


def class_probabilities(head: Head, out: Tensor) -> Tensor:
    """(N, C) class probabilities from a head's logits: softmax, or for one logit the pair
    (1 - p, p) with p = sigmoid, so that every row sums to 1. A multi-label head (bce over
    several outputs) gives one sigmoid per output."""
    out = out.detach().float().reshape(out.shape[0], -1)
    if out.shape[1] == 1:
        p = torch.sigmoid(out)
        return torch.cat([1 - p, p], dim=1)
    if head.loss_kind(out) == "bce":
        return torch.sigmoid(out)
    return torch.softmax(out, dim=1)


def _apply(obj: Any, fn: Callable[[Tensor], Tensor]) -> Any:
    """``fn`` on every tensor of a tensor, tuple/list or dict of tensors."""
    if isinstance(obj, Tensor):
        return fn(obj)
    if isinstance(obj, dict):
        return {k: _apply(v, fn) for k, v in obj.items()}
    if isinstance(obj, (tuple, list)):
        return type(obj)(_apply(v, fn) for v in obj)
    return obj


def _data_tensors(dataset: Any, limit: int | None = None) -> tuple[Any, Tensor]:
    """(x, y) of the first ``limit`` samples (all when None) as tensors on the CPU."""
    n = len(dataset) if limit is None else min(limit, len(dataset))
    pair = tensor_pair(dataset)
    if pair is not None:
        x, y = pair
        if n < len(dataset):
            x, y = _apply(x, lambda t: t[:n]), _apply(y, lambda t: t[:n])
        return x, y
    if n == 0:
        raise ValueError("the data set is empty; load a data set with samples")
    items = [dataset[i] for i in range(n)]
    x0 = items[0][0]
    if isinstance(x0, (tuple, list)):
        xs: Any = tuple(torch.stack([torch.as_tensor(it[0][j]) for it in items])
                        for j in range(len(x0)))
    else:
        xs = torch.stack([torch.as_tensor(it[0]) for it in items])
    ys = items[0][1]
    y = (torch.stack([torch.as_tensor(it[1]) for it in items])
         if not isinstance(ys, (tuple, list, dict)) else torch.zeros(0))
    return xs, y


def _eval_set(data: Any) -> Any:
    return data.val if len(data.val) else data.train


def _rows(x: Any, index: Tensor | slice) -> Any:
    if isinstance(x, dict):
        return {k: v[index] for k, v in x.items()}
    if isinstance(x, (tuple, list)):
        return type(x)(v[index] for v in x)
    return x[index]


def _count(x: Any) -> int:
    if isinstance(x, dict):
        x = next(iter(x.values()))
    if isinstance(x, (tuple, list)):
        x = x[0]
    return int(x.shape[0])


def _shrink(t: Tensor, sizes: Sequence[int]) -> Tensor:
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


# -- node outputs ----------------------------------------------------------------------------------
_VALUE_NODES: weakref.WeakKeyDictionary[nn.Module, tuple[fx.Graph, dict[int, fx.Node]]] = \
    weakref.WeakKeyDictionary()


def value_nodes(compiled: Any) -> dict[int, fx.Node]:
    """The fx node that computes each graph node's output (Inputs, layers and merges).

    Layers are found by their submodule name and Inputs by position; merges are matched by
    what they compute from their inputs (``torch.cat([a, b])``, ``torch.add(torch.add(a, b),
    c)``), so this does not depend on how the compiler spells variable names. Kept per module
    (a topological sort per probe cost more than the probe).
    """
    cached = _VALUE_NODES.get(compiled.module)
    if cached is not None and cached[0] is compiled.module.graph:
        return cached[1]
    found = _find_value_nodes(compiled)
    _VALUE_NODES[compiled.module] = (compiled.module.graph, found)
    return found


def _find_value_nodes(compiled: Any) -> dict[int, fx.Node]:
    fx_nodes = list(compiled.module.graph.nodes)
    found: dict[int, fx.Node] = dict(zip(compiled.input_nodes,
                                         (n for n in fx_nodes if n.op == "placeholder"),
                                         strict=False))
    by_target = {n.target: n for n in fx_nodes if n.op == "call_module"}
    for node_id, name in compiled.module_names.items():
        if name in by_target:
            found[node_id] = by_target[name]
    graph = compiled.graph
    into = {(e.dst, e.dst_port): e for e in graph.edges}
    for node_id in graph.topological_order():
        node = graph.nodes[node_id]
        spec = node.spec
        if spec is None or spec.role != MERGE:
            continue
        function = ops.merge_function(spec)
        edges = [into.get((node_id, p.name)) for p in spec.inputs]
        args = [found.get(e.src) for e in edges if e is not None]
        if not args or any(a is None for a in args):
            continue
        value: fx.Node | None
        if spec.merge_dim:
            value = next((n for n in args[0].users if n.op == "call_function"
                          and n.target is function and list(n.args[0]) == args), None)
        else:
            value = args[0]
            for other in args[1:]:
                value = next((n for n in value.users if n.op == "call_function"
                              and n.target is function and n.args[:2] == (value, other)), None)
                if value is None:
                    break
        if value is not None:
            found[node_id] = value
    for node_id in compiled.output_nodes:  # an Output shows what flows into it
        edge = into.get((node_id, "in"))
        if edge is not None and edge.src in found:
            found[node_id] = found[edge.src]
    return found


class _Capture(fx.Interpreter):
    """Runs the module node by node and keeps the outputs of the fx nodes asked for."""

    def __init__(self, module: fx.GraphModule, wanted: set[fx.Node]) -> None:
        super().__init__(module, garbage_collect_values=True)
        self.wanted = wanted
        self.values: dict[fx.Node, Any] = {}

    def run_node(self, n: fx.Node) -> Any:
        result = super().run_node(n)
        if n in self.wanted:
            self.values[n] = result
        return result


def node_outputs(compiled: Any, args: tuple[Tensor, ...], node_ids: Sequence[int]
                 ) -> tuple[dict[int, Tensor], Any]:
    """(output tensor of each asked node, the module's result) from one forward pass."""
    nodes = value_nodes(compiled)
    wanted = {i: nodes[i] for i in node_ids if i in nodes}
    capture = _Capture(compiled.module, set(wanted.values()))
    result = capture.run(*args)
    return {i: capture.values[n] for i, n in wanted.items() if n in capture.values}, result


@dataclass
class Sweep:
    """One forward pass over (the first samples of) the evaluation set, shared by the probes
    that need the whole set: the confusion matrix and the hidden representation."""

    x: Any  # the inputs swept (the schedule keeps them on the module's device)
    y: Any  # their targets
    probabilities: Tensor | None  # (N, C) of the first classification head, on the CPU
    captured: dict[int, Tensor] = field(default_factory=dict)  # node outputs, first rows only


def sweep(compiled: Any, data: Any, node_ids: Sequence[int] = (), capture: int = 500,
          max_samples: int | None = None, tensors: tuple[Any, Any] | None = None) -> Sweep:
    """Class probabilities for the evaluation set (validation, else training) and the outputs
    of ``node_ids`` for its first ``capture`` samples, in one pass, in eval mode.
    ``tensors`` are the set's (x, y) when the caller already holds them."""
    x, y = tensors if tensors is not None else _data_tensors(_eval_set(data), max_samples)
    module = compiled.module
    n = _count(x)
    parts: dict[int, list[Tensor]] = {i: [] for i in node_ids}
    probs: list[Tensor] = []
    classifier = True
    with evaluating(module):
        device = module_device(module)
        for start in range(0, n, EVAL_BATCH):
            args = _as_batch(compiled, _rows(x, slice(start, start + EVAL_BATCH)), device)
            keep = max(0, min(capture - start, EVAL_BATCH))
            if keep and node_ids:
                values, result = node_outputs(compiled, args, node_ids)
                for i, v in values.items():
                    if isinstance(v, Tensor):
                        parts[i].append(v[:keep].detach().float().cpu())
            else:
                result = module(*args)
            found = _classifier(compiled, _outputs(result)) if classifier else None
            if found is None:
                classifier = False
            else:
                probs.append(class_probabilities(found[1], found[2]).cpu())
    return Sweep(x, y, torch.cat(probs) if classifier and probs else None,
                 {i: torch.cat(p) for i, p in parts.items() if p})


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


def conv_filters(compiled: Any, node_id: int, in_channel: int | None = None) -> dict[str, Any]:
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
    out: dict[str, Any] = {"node_id": node_id, "name": node.name, "layer_type": node.type,
                           "param": param_name, "shape": shape}
    if isinstance(sub, nn.ConvTranspose2d):
        w = w.transpose(0, 1)  # (in, out, kh, kw) -> (out, in, kh, kw)
    if w.dim() in (3, 4) and isinstance(sub, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d)):
        channels = int(w.shape[1])
        out["in_channels"] = channels
        if in_channel is not None and not 0 <= in_channel < channels:
            raise ValueError(f"{node.label} has {channels} input channel(s) per group; choose "
                             f"an input channel from 0 to {channels - 1}")
        out["in_channel"] = in_channel
        shown = w.mean(1) if in_channel is None else w[:, in_channel]
        shown = shown[:MAX_KERNELS]
        out["out_channels"] = int(w.shape[0])
        if shown.dim() == 3:
            out["kind"], key = "conv", "kernels"
        else:  # Conv1d: (out, k)
            out["kind"], key = "dense", "weights"
    else:
        shown = w.reshape(1, -1) if w.dim() == 1 else w.reshape(w.shape[0], -1)
        shown = _shrink(shown, (MAX_MATRIX, MAX_MATRIX))
        out["kind"], key = "dense", "weights"
    array = _numpy(shown)
    out[key] = array
    vmax = float(np.abs(array).max()) if array.size else 0.0
    out["vmax"] = vmax if vmax > 0 and np.isfinite(vmax) else 1.0
    return out


# -- activations -----------------------------------------------------------------------------------
def _describe_activation(t: Tensor) -> dict[str, Any] | None:
    """One sample's activation as the panel draws it (batch dimension already removed)."""
    shape = tuple(t.shape)
    t = t.detach().float()
    if t.dim() == 0:
        t = t.reshape(1)
    if t.dim() == 4:  # (C, D, H, W): average the depth
        t = t.mean(1)
    if t.dim() == 3:
        entry: dict[str, Any] = {"kind": "maps", "channels": int(t.shape[0])}
        shown = _shrink(t[:MAX_CHANNELS], (MAX_SIDE, MAX_SIDE))
        entry["maps"] = _numpy(shown)
    elif t.dim() == 2:
        entry = {"kind": "sequence"}
        entry["values"] = _numpy(t[:MAX_SEQUENCE, :MAX_SEQUENCE])
    elif t.dim() == 1:
        entry = {"kind": "strip"}
        entry["values"] = _numpy(_shrink(t.reshape(1, -1), (MAX_STRIP,))[0])
    else:
        return None
    entry["shape"] = shape
    values = entry.get("maps", entry.get("values"))
    entry["min"] = float(values.min()) if values.size else 0.0
    entry["max"] = float(values.max()) if values.size else 0.0
    return entry


def activations(compiled: Any, x_sample: Any, node_ids: Sequence[int] | None = None
                ) -> dict[str, Any]:
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
        args = _as_batch(compiled, x_sample, module_device(module))
        values, result = node_outputs(compiled, args, ids)
    nodes: dict[int, Any] = {}
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
    outs = _outputs(result)
    payload: dict[str, Any] = {
        "nodes": nodes, "probabilities": None, "predicted": None,
        "outputs": {oid: _numpy(o[0].reshape(-1)[:MAX_STRIP])
                    for oid, o in zip(compiled.output_nodes, outs, strict=False)},
    }
    head = _classifier(compiled, outs)
    if head is not None:
        probs = class_probabilities(head[1], head[2])[0]
        payload["probabilities"] = _numpy(probs[:MAX_STRIP])
        payload["predicted"] = int(probs.argmax())
        payload["output_node"] = compiled.output_nodes[head[0]]
    return payload


def pick_probe_samples(data: Any, n: int = 16, seed: int = 0) -> dict[str, Any]:
    """Validation samples for the activations picker: the first ``n``, taken class by class in
    turn so every class shows up when it can. ``seed`` pages on: seed k skips the first k
    rounds' worth of samples of each class (0 = the very first ones).

    Returns ``{"indices": [val index], "inputs": (n, *input_shape) array as the model sees
    them, "labels": [int] (or [] for regression), "label_names": [str]}``.
    """
    source = _eval_set(data)
    total = len(source)
    if total == 0:
        raise ValueError(f"dataset {getattr(data, 'name', '')} has no samples to probe; load a "
                         "data set first")
    x, y = _data_tensors(source, max(1000, 20 * n * (max(0, int(seed)) + 1)))
    total = _count(x)
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
    xs = _rows(x, index)
    inputs = _apply(xs, lambda t: t.float() if t.is_floating_point() else t)  # token ids stay
    inputs = inputs.numpy() if isinstance(inputs, Tensor) else _apply(inputs, Tensor.numpy)
    names = list(getattr(data, "class_names", []) or [])
    out_labels = [int(v) for v in y[index]] if classification else []
    return {"indices": picked, "inputs": inputs, "labels": out_labels,
            "label_names": [names[v] if v < len(names) else str(v) for v in out_labels]}


# -- decision boundary and hidden representation ---------------------------------------------------
def _check_two_d(compiled: Any, data: Any) -> None:
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
    parts = [_data_tensors(s)[0] for s in (data.train, data.val) if len(s)]
    if not parts:
        raise ValueError(f"dataset {getattr(data, 'name', '')} is empty; nothing to draw")
    points = torch.cat([p.reshape(-1, 2).float() for p in parts]).numpy()
    low, high = points.min(0), points.max(0)
    pad = np.maximum(high - low, 1e-6) * float(margin)
    res = max(2, int(resolution))
    xs = np.linspace(low[0] - pad[0], high[0] + pad[0], res, dtype=np.float32)
    ys = np.linspace(low[1] - pad[1], high[1] + pad[1], res, dtype=np.float32)
    return xs, ys


def decision_boundary(compiled: Any, data: Any, resolution: int = 64, margin: float = 0.1,
                      max_points: int = MAX_POINTS, grid: tuple[np.ndarray, np.ndarray] | None
                      = None) -> dict[str, Any]:
    """The model's prediction over the plane of a 2-D data set, with the data on top.

    Returns ``{"xs": (R,), "ys": (R,), "probabilities": (R, R, C) or None, "predicted": (R, R)
    class grid or None, "values": (R, R) first output (regression) or None, "points": (N, 2),
    "labels": (N,), "class_names"}``; row j, column i of a grid is the point (xs[i], ys[j]).
    Points are the validation set's (the training set's when it is empty), at most
    ``max_points``. ValueError when the inputs are not 2-D.
    """
    _check_two_d(compiled, data)
    xs, ys = grid if grid is not None else boundary_grid(data, resolution, margin)
    gx, gy = np.meshgrid(xs, ys)
    plane = torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32))
    module = compiled.module
    with evaluating(module):
        device = module_device(module)
        outs = _outputs(module(plane.to(device)))
    rows, cols = len(ys), len(xs)
    payload: dict[str, Any] = {"xs": xs, "ys": ys, "probabilities": None, "predicted": None,
                               "values": None,
                               "class_names": list(getattr(data, "class_names", []) or [])}
    head = _classifier(compiled, outs)
    if head is not None:
        probs = class_probabilities(head[1], head[2])
        payload["probabilities"] = _numpy(probs).reshape(rows, cols, -1)
        payload["predicted"] = probs.argmax(1).reshape(rows, cols).cpu().numpy().astype(np.int64)
    else:
        payload["values"] = _numpy(outs[0].reshape(outs[0].shape[0], -1)[:, 0]).reshape(rows,
                                                                                         cols)
    x, y = _data_tensors(_eval_set(data), max_points)
    payload["points"] = _numpy(x.reshape(-1, 2))
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


def hidden_representation(compiled: Any, data: Any, node_id: int, max_points: int = 500,
                          swept: Sweep | None = None) -> dict[str, Any]:
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
                      tensors=_data_tensors(_eval_set(data), max_points))
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
def confusion(compiled: Any, data: Any, max_wrong: int = 12, max_samples: int | None = None,
              thumbnail_side: int = MAX_SIDE, swept: Sweep | None = None) -> dict[str, Any]:
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
        raise ValueError("the network has no classification Output; set an Output's task to "
                         "classification")
    x, y, probs = swept.x, swept.y, swept.probabilities
    if isinstance(y, dict):  # targets of several heads: those of the first classification head
        head = next(h for h in make_heads(compiled) if h.task == "classification")
        y = y[head.name] if head.name in y else next(iter(y.values()))
    truth = y.reshape(-1).long().cpu()
    classes = max(int(getattr(data, "num_classes", 0) or 0), int(probs.shape[1]),
                  int(truth.max()) + 1 if truth.numel() else 0)
    confidence, predicted = probs.max(1)
    matrix = torch.bincount(truth * classes + predicted, minlength=classes * classes)
    matrix = matrix.reshape(classes, classes).numpy().astype(np.int64)
    rows = matrix.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(rows > 0, np.diag(matrix) / np.maximum(rows, 1), np.nan)
    wrong_idx = torch.nonzero(predicted != truth).reshape(-1)
    order = wrong_idx[torch.argsort(confidence[wrong_idx], descending=True, stable=True)]
    order = order[:max(0, int(max_wrong))]
    names = list(getattr(data, "class_names", []) or [])
    wrong = [{"index": int(i), "true": int(truth[i]), "pred": int(predicted[i]),
              "confidence": float(confidence[i])} for i in order]
    inputs = _rows(x, order)
    if isinstance(inputs, Tensor):
        inputs = inputs.float()
        if inputs.dim() == 4:
            inputs = _shrink(inputs, (thumbnail_side, thumbnail_side))
        wrong_inputs: Any = _numpy(inputs)
    else:
        wrong_inputs = [_numpy(torch.as_tensor(v).float()) for v in inputs]
    return {"matrix": matrix, "per_class_accuracy": per_class.astype(np.float32),
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


def _parameter_nodes(compiled: Any) -> Iterator[tuple[int, Any, list[nn.Parameter]]]:
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


def histograms(compiled: Any, bins: int = 30,
               grads: Mapping[int, Tensor | None] | None = None) -> dict[str, Any]:
    """Weight and gradient histograms of every node with parameters (weights and biases
    together, one histogram per node).

    Gradients are the parameters' ``.grad`` from the last backward pass (call right after a
    training step: at the end of an epoch they are the epoch's last batch), or ``grads``
    (id(param) -> gradient) when given. Returns ``{"nodes": {node_id: {"name", "params",
    "weights": (counts, edges), "grads": (counts, edges) or None, "weight_norm",
    "grad_norm" (None without gradients), "nonfinite": count of NaN/inf weights}}}``.
    """
    nodes: dict[int, Any] = {}
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


def grad_histograms_from_batch(compiled: Any, loss_fn: Callable[[Any, Any], Tensor], x: Any,
                               y: Any, bins: int = 30) -> dict[str, Any]:
    """``histograms`` with gradients of one batch computed here, without touching ``.grad``
    or stepping: for a panel opened between steps, or a network that has not trained yet.

    Runs in eval mode (dropout off, BatchNorm statistics left alone). ``loss_fn(outputs, y)``
    is ``runtime.train.make_loss(compiled, classes)`` or any callable of that form.
    """
    module = compiled.module
    params = [p for _, _, ps in _parameter_nodes(compiled) for p in ps if p.requires_grad]
    with evaluating(module, grad=True):
        device = module_device(module)
        args = _as_batch(compiled, x, device)
        target = y.to(device) if isinstance(y, Tensor) else y
        loss = loss_fn(module(*args), target)
        grads = torch.autograd.grad(loss, params, allow_unused=True) if params else ()
    return histograms(compiled, bins, {id(p): g for p, g in zip(params, grads, strict=True)})


# -- robustness ------------------------------------------------------------------------------------
ROBUSTNESS_SAMPLES = 64  # validation samples attacked at each epoch's end
ROBUSTNESS_EXAMPLES = 4  # of them, sent with their perturbation for the panel to draw
ROBUSTNESS_MAX_EXAMPLES = 16


def _robustness_checks(compiled: Any, data: Any) -> None:
    """ValueError (a message for the panel) when this network cannot be attacked."""
    if len(compiled.input_nodes) != 1:
        raise ValueError("the robustness probe needs a network with exactly one Input; "
                         "merge the inputs or switch the probe off")
    if getattr(data, "input_dtype", "float") != "float":
        raise ValueError(f"dataset {getattr(data, 'name', '')} has token inputs; the robustness "
                         "probe needs float inputs")
    heads = make_heads(compiled)
    if not heads or heads[0].task != "classification" \
            or getattr(data, "task", "classification") != "classification":
        raise ValueError("the robustness probe needs a classification network (its first "
                         "Output with task classification)")


def robustness_subset(data: Any, samples: int = ROBUSTNESS_SAMPLES) -> dict[str, Any]:
    """The fixed validation subset the probe attacks: ``pick_probe_samples``' class-balanced
    picks (the same every epoch, so the curve follows the weights, not the samples)."""
    picks = pick_probe_samples(data, max(1, int(samples)))
    if not picks["labels"]:
        raise ValueError("the robustness probe needs class labels; use a classification data "
                         "set")
    return picks


def robustness(compiled: Any, data: Any, method: str = "fgsm", eps: float | None = None,
               samples: int = ROBUSTNESS_SAMPLES, steps: int = 5,
               examples: int = ROBUSTNESS_EXAMPLES, subset: dict[str, Any] | None = None,
               value_range: Any = None) -> dict[str, Any]:
    """Accuracy of the network as it is on a small fixed validation subset, clean and under an
    L-inf attack of size ``eps`` (data units; default a tenth of the data's value range), plus
    the first ``examples`` samples with their perturbation and adversarial prediction.

    Runs in eval mode; parameter gradients and every training flag are put back
    (``runtime.attacks.crafting``); PGD's random start has its own seeded generator, so the
    probe does not change how a seeded run trains. ``subset`` is ``robustness_subset``'s dict
    when the caller keeps it between epochs. Adversarial inputs stay in ``value_range``
    (default: the data's).
    """
    from runtime.attacks import METHODS, fgsm, pgd  # late: attacks is only needed here

    started = time.perf_counter()
    method = str(method).lower()
    if method not in METHODS:
        raise ValueError(f"robustness probe method '{method}' is unknown; use one of "
                         f"{', '.join(METHODS)}")
    _robustness_checks(compiled, data)
    if value_range is None:
        value_range = getattr(data, "value_range", (0.0, 1.0))
    if eps is None:
        lo, hi = value_range
        eps = 0.1 * float(np.max(np.asarray(hi) - np.asarray(lo)))
    eps = float(eps)
    if eps < 0:
        raise ValueError(f"robustness probe eps is {eps}; use 0 or more")
    picks = subset if subset is not None else robustness_subset(data, samples)
    module = compiled.module
    device = module_device(module)
    x = torch.as_tensor(picks["inputs"], dtype=torch.float32).to(device)
    y = torch.as_tensor(picks["labels"], dtype=torch.long).to(device)
    if method == "fgsm":
        res = fgsm(module, x, y, eps, value_range=value_range)
    else:
        res = pgd(module, x, y, eps, steps=max(1, int(steps)), value_range=value_range)
    k = max(0, min(int(examples), ROBUSTNESS_MAX_EXAMPLES, res.n))
    shown = [np.asarray(a[:k], np.float32) for a in (picks["inputs"], res.perturbation,
                                                     res.x_adv)]
    if shown[0].ndim == 4 and max(shown[0].shape[-2:]) > MAX_SIDE:  # big images: averaged down
        shown = [_numpy(_shrink(torch.as_tensor(a), (MAX_SIDE, MAX_SIDE))) for a in shown]
    lo, hi = value_range
    names = list(getattr(data, "class_names", []) or [])
    return {
        "method": method, "eps": eps, "steps": int(steps) if method == "pgd" else 1,
        "n": res.n, "clean_accuracy": res.clean_accuracy,
        "robust_accuracy": res.adversarial_accuracy,
        "value_range": [float(np.min(lo)), float(np.max(hi))],
        "class_names": names, "seconds": time.perf_counter() - started,
        "examples": {
            "indices": [int(i) for i in picks["indices"][:k]],
            "labels": [int(v) for v in res.labels[:k]],
            "inputs": shown[0], "perturbation": shown[1], "adversarial": shown[2],
            "clean_pred": res.clean_pred[:k].astype(np.int64),
            "clean_conf": res.clean_conf[:k].astype(np.float32),
            "adv_pred": res.adv_pred[:k].astype(np.int64),
            "adv_conf": res.adv_conf[:k].astype(np.float32),
        },
    }


# -- scheduling ------------------------------------------------------------------------------------
PROBES = ("filters", "activations", "boundary", "hidden", "confusion", "histograms",
          "robustness")
EPOCH_ONLY = ("robustness",)  # too costly for the step hook: at epoch ends only


class _Recorder:
    """Keeps the outputs of the module's evaluation passes (eval mode, no gradients) over the
    evaluation set, batch by batch, as long as each batch is the next slice of that set.

    The trainer validates at every epoch's end just before the epoch-end hooks run; reusing
    that pass saves the probes a second sweep of the validation set (most of their cost).
    Any other call (a decision-boundary grid, a training step, other data) is ignored, and a
    pass only counts when it covered the whole set with unchanged weights.
    """

    def __init__(self, schedule: ProbeSchedule, hidden: nn.Module | None, capture: int) -> None:
        self.schedule = schedule
        self.capture = capture
        self.reference: Tensor | None = None
        self.offset = 0
        self.current: tuple[int, int] | None = None  # (offset, rows kept) of the running call
        self.version: tuple[int, ...] | None = None
        self.outputs: list[list[Tensor]] = []
        self.hidden: list[Tensor] = []
        module = schedule.compiled.module
        self.handles = [module.register_forward_pre_hook(self._before),
                        module.register_forward_hook(self._after)]
        if hidden is not None:
            self.handles.append(hidden.register_forward_hook(self._hidden))
        self.has_hidden = hidden is not None

    def detach(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []

    def _reference(self, x: Tensor) -> Tensor | None:
        ref = self.reference
        if ref is None or ref.device != x.device:
            ref, _ = self.schedule._eval_tensors(self.schedule._sweep_limit())
            self.reference = ref = ref if isinstance(ref, Tensor) else None
        return ref

    def _before(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        self.current = None
        if module.training or torch.is_grad_enabled() or len(args) != 1 \
                or not isinstance(args[0], Tensor):
            return
        x = args[0]
        ref = self._reference(x)
        if ref is None or x.dim() != ref.dim() or x.shape[1:] != ref.shape[1:] \
                or x.dtype != ref.dtype or x.device != ref.device:
            return
        version = self.schedule._weights_version()

        def matches(offset: int) -> int:
            rows = min(x.shape[0], ref.shape[0] - offset)
            return rows if rows > 0 and torch.equal(x[:rows], ref[offset:offset + rows]) else 0

        rows = matches(self.offset) if 0 < self.offset < ref.shape[0] \
            and version == self.version else 0
        if rows:
            self.current = (self.offset, rows)
            return
        rows = matches(0)
        if rows:
            self.offset, self.version, self.outputs, self.hidden = 0, version, [], []
            self.current = (0, rows)

    def _hidden(self, module: nn.Module, args: Any, output: Any) -> None:
        if self.current is not None and isinstance(output, Tensor):
            offset, rows = self.current
            keep = min(rows, self.capture - offset)
            if keep > 0:
                self.hidden.append(output[:keep].detach())

    def _after(self, module: nn.Module, args: Any, output: Any) -> None:
        if self.current is None:
            return
        offset, rows = self.current
        self.outputs.append([o[:rows].detach() for o in _outputs(output)])
        self.offset = offset + rows
        self.current = None

    def result(self, x: Any, version: tuple[int, ...]
               ) -> tuple[list[Tensor], Tensor | None] | None:
        """(outputs, hidden layer's first rows or None) of a complete pass over ``x`` made
        with the weights of ``version``; None when there is none."""
        if not isinstance(x, Tensor) or self.reference is None or not self.outputs \
                or self.version != version or self.offset < x.shape[0] \
                or self.reference.shape[0] != x.shape[0]:
            return None
        outputs = [torch.cat(parts) for parts in zip(*self.outputs, strict=True)]
        hidden = torch.cat(self.hidden) if self.has_hidden and self.hidden else None
        if hidden is not None and hidden.shape[0] < min(self.capture, x.shape[0]):
            hidden = None
        return outputs, hidden


class ProbeSchedule:
    """Which probes run, and the hooks that run them inside ``runtime.train.train``.

    ``config`` keys (absent or falsy = off): ``"filters": node_id`` (or ``{"node_id",
    "in_channel"}``), ``"activations": {"node_ids": [...] or None, "sample_index": i}``
    (an index into ``pick_probe_samples``' list, or ``"val_index"`` for any validation
    sample), ``"boundary": True`` (or ``{"resolution"}``), ``"hidden": node_id``,
    ``"confusion": True`` (or ``{"max_wrong", "max_samples"}``), ``"histograms": True`` (or
    ``{"bins"}``), ``"robustness": {"method": "fgsm" | "pgd", "eps", "samples", "steps",
    "examples"}`` (or True; epoch ends only, never in the step hook: an attack costs several
    passes). ``configure`` swaps the configuration between two hooks, so a panel can
    follow the node selected on the canvas while training runs.

    What every call needs again and again (probe inputs, the evaluation set on the module's
    device, the boundary grid) is prepared once, and the confusion matrix and the hidden
    representation share one pass over the evaluation set while the weights are unchanged.
    A data set that is not held in memory (image folders) is swept up to ``LAZY_LIMIT``
    samples unless ``max_samples`` says otherwise. Each probe's last cost in seconds is kept
    in ``costs``.
    """

    LAZY_LIMIT = 2000

    def __init__(self, compiled: Any, data: Any, config: Mapping[str, Any] | None = None
                 ) -> None:
        self.compiled = compiled
        self.data = data
        self.config: dict[str, Any] = {}
        self.costs: dict[str, float] = {}
        self._samples: dict[str, Any] | None = None
        self._grid: tuple[np.ndarray, np.ndarray] | None = None
        self._grid_resolution = 0
        self._last_hidden: tuple[int, np.ndarray] | None = None
        self._tensors: tuple[Any, Any, Any] | None = None  # (key, x, y)
        self._sweep: tuple[Any, Sweep] | None = None  # (key, sweep)
        self._recorder: _Recorder | None = None
        self._robust_subset: tuple[int, dict[str, Any]] | None = None  # (samples, picks)
        self.configure(config or {})

    def configure(self, config: Mapping[str, Any]) -> None:
        unknown = sorted(set(config) - set(PROBES))
        if unknown:
            raise ValueError(f"unknown probe(s) {', '.join(unknown)}; choose from "
                             f"{', '.join(PROBES)}")
        self.config = dict(config)
        self._sweep = None
        self._attach_recorder()

    def close(self) -> None:
        """Take the schedule's hooks off the module (they cost next to nothing if left)."""
        if self._recorder is not None:
            self._recorder.detach()
            self._recorder = None

    def enabled(self) -> list[str]:
        return [name for name in PROBES if self.config.get(name) not in (None, False)]

    # one probe -------------------------------------------------------------------------------
    def run(self, name: str) -> dict[str, Any] | None:
        """Run one probe now; ``{"probe": name, ...}``, or None when it is off. A probe that
        cannot run (the node was removed, the data is not 2-D) gives ``{"probe", "error"}``."""
        option = self.config.get(name)
        if option is None or option is False:
            return None
        started = time.perf_counter()
        try:
            payload = getattr(self, f"_{name}")(option)
        except ValueError as exc:
            payload = {"error": str(exc)}
        self.costs[name] = time.perf_counter() - started
        return {"probe": name, **payload}

    def run_all(self) -> list[dict[str, Any]]:
        return [p for p in (self.run(name) for name in self.enabled()) if p is not None]

    def _filters(self, option: Any) -> dict[str, Any]:
        if isinstance(option, Mapping):
            return conv_filters(self.compiled, int(option["node_id"]), option.get("in_channel"))
        return conv_filters(self.compiled, int(option))

    def samples(self) -> dict[str, Any]:
        if self._samples is None:
            self._samples = pick_probe_samples(self.data)
        return self._samples

    def _activations(self, option: Any) -> dict[str, Any]:
        option = option if isinstance(option, Mapping) else {}
        if option.get("val_index") is not None:
            index = int(option["val_index"])
            source = _eval_set(self.data)
            if not 0 <= index < len(source):
                raise ValueError(f"validation sample {index} does not exist; choose one from 0 "
                                 f"to {len(source) - 1}")
            sample, target = source[index]
            target = torch.as_tensor(target) if not isinstance(target, (tuple, dict)) else None
            label = int(target) if target is not None and target.numel() == 1 \
                and not target.is_floating_point() else None
        else:
            picks = self.samples()
            index = min(int(option.get("sample_index", 0)), len(picks["indices"]) - 1)
            sample = _rows(picks["inputs"], slice(index, index + 1))
            label = picks["labels"][index] if picks["labels"] else None
            index = picks["indices"][index]
        payload = activations(self.compiled, sample, option.get("node_ids"))
        return {**payload, "val_index": index, "label": label}

    def _boundary(self, option: Any) -> dict[str, Any]:
        resolution = int(option.get("resolution", 64)) if isinstance(option, Mapping) else 64
        if self._grid is None or self._grid_resolution != resolution:
            _check_two_d(self.compiled, self.data)
            self._grid = boundary_grid(self.data, resolution)
            self._grid_resolution = resolution
        return decision_boundary(self.compiled, self.data, grid=self._grid)

    def _hidden_choice(self) -> tuple[int, int] | None:
        option = self.config.get("hidden")
        if option is None or option is False:
            return None
        if isinstance(option, Mapping):
            return int(option["node_id"]), int(option.get("max_points", 500))
        return int(option), 500

    def _confusion_choice(self) -> dict[str, Any] | None:
        option = self.config.get("confusion")
        if option is None or option is False:
            return None
        return dict(option) if isinstance(option, Mapping) else {}

    def _weights_version(self) -> tuple[int, ...]:
        """Changes whenever a parameter or buffer is written in place (optimizer steps,
        BatchNorm statistics, loading weights): the key of the shared sweep."""
        module = self.compiled.module
        return (id(module), *(t._version for t in module.parameters()),
                *(t._version for t in module.buffers()))

    def _eval_tensors(self, limit: int | None) -> tuple[Any, Any]:
        """The evaluation set's first ``limit`` samples, kept on the module's device."""
        source = _eval_set(self.data)
        if limit is None and tensor_pair(source) is None:
            limit = self.LAZY_LIMIT
        device = module_device(self.compiled.module)
        key = (limit, str(device))
        if self._tensors is None or self._tensors[0] != key:
            x, y = _data_tensors(source, limit)
            self._tensors = (key, _apply(x, lambda t: t.to(device)),
                             _apply(y, lambda t: t.to(device)))
        return self._tensors[1], self._tensors[2]

    def _sweep_limit(self) -> int | None:
        """How many evaluation samples the shared sweep covers (None: all)."""
        matrix = self._confusion_choice()
        if matrix is not None:
            limit = matrix.get("max_samples")
            return None if limit is None else int(limit)
        hidden = self._hidden_choice()
        return hidden[1] if hidden is not None else 0

    def _attach_recorder(self) -> None:
        """Watch the trainer's own validation pass, so the epoch-end sweep can reuse it."""
        self.close()
        hidden = self._hidden_choice()
        if self._confusion_choice() is None and hidden is None:
            return
        if len(self.compiled.input_nodes) != 1:
            return
        sub = None
        if hidden is not None and hidden[0] in self.compiled.module_names:
            sub = self.compiled.module.get_submodule(self.compiled.module_names[hidden[0]])
        self._recorder = _Recorder(self, sub, hidden[1] if hidden else 0)

    def shared_sweep(self) -> Sweep:
        """One pass over the evaluation set for the confusion matrix and the hidden
        representation: the trainer's validation pass when it was watched and the weights
        have not changed since, else a pass of our own (kept until the weights change)."""
        hidden = self._hidden_choice()
        limit = self._sweep_limit()
        version = self._weights_version()
        key = (version, hidden, limit)
        if self._sweep is not None and self._sweep[0] == key:
            return self._sweep[1]
        x, y = self._eval_tensors(limit)
        recorded = self._recorder.result(x, version) if self._recorder is not None else None
        swept: Sweep | None = None
        if recorded is not None:
            outputs, captured = recorded
            found = _classifier(self.compiled, outputs)
            probs = class_probabilities(found[1], found[2]).cpu() if found else None
            swept = Sweep(x, y, probs, {})
            # a merge node has no module to watch: hidden_representation makes a short pass
            if hidden is not None and captured is not None:
                swept.captured[hidden[0]] = captured.float().cpu()
            elif hidden is not None and hidden[0] in self.compiled.input_nodes:
                swept.captured[hidden[0]] = x[:hidden[1]].float().cpu()
        if swept is None:
            ids = [hidden[0]] if hidden is not None and hidden[0] in value_nodes(
                self.compiled) else []
            swept = sweep(self.compiled, self.data, ids, hidden[1] if hidden else 0,
                          tensors=(x, y))
        self._sweep = (key, swept)
        return swept

    def _hidden(self, option: Any) -> dict[str, Any]:
        choice = self._hidden_choice()
        assert choice is not None
        node_id, limit = choice
        payload = hidden_representation(self.compiled, self.data, node_id, limit,
                                        swept=self.shared_sweep())
        points = payload["points"]
        last = self._last_hidden
        if payload["method"] == "pca" and last is not None and last[0] == node_id \
                and last[1].shape == points.shape:
            # keep the axes pointing the same way as last time, so the animation is smooth
            for axis in range(2):
                if float(np.dot(points[:, axis], last[1][:, axis])) < 0:
                    points[:, axis] = -points[:, axis]
        self._last_hidden = (node_id, points)
        return payload

    def _confusion(self, option: Any) -> dict[str, Any]:
        choice = self._confusion_choice() or {}
        return confusion(self.compiled, self.data, int(choice.get("max_wrong", 12)),
                         swept=self.shared_sweep())

    def _histograms(self, option: Any) -> dict[str, Any]:
        bins = int(option.get("bins", 30)) if isinstance(option, Mapping) else 30
        return histograms(self.compiled, bins)

    def _robustness(self, option: Any) -> dict[str, Any]:
        option = option if isinstance(option, Mapping) else {}
        samples = max(1, int(option.get("samples", ROBUSTNESS_SAMPLES)))
        if self._robust_subset is None or self._robust_subset[0] != samples:
            _robustness_checks(self.compiled, self.data)
            self._robust_subset = (samples, robustness_subset(self.data, samples))
        eps = option.get("eps")
        return robustness(self.compiled, self.data, str(option.get("method", "fgsm")),
                          None if eps is None else float(eps), samples,
                          int(option.get("steps", 5)),
                          int(option.get("examples", ROBUSTNESS_EXAMPLES)),
                          subset=self._robust_subset[1], value_range=option.get("value_range"))

    # hooks -----------------------------------------------------------------------------------
    def epoch_hooks(self) -> list[ProbeHook]:
        """One ``epoch_end_hooks`` entry per probe (each checks the current config, so
        probes switched on later by ``configure`` run too)."""
        def hook_for(name: str) -> ProbeHook:
            def hook(module: nn.Module, epoch: int) -> dict[str, Any] | None:
                return self.run(name)
            hook.__name__ = f"probe_{name}"
            return hook
        return [hook_for(name) for name in PROBES]

    def step_hook(self, every: int = 0, min_interval: float = 0.5, budget: float = 0.05
                  ) -> Callable[[nn.Module, int, int, int], dict[str, Any] | None]:
        """A ``step_hooks`` entry that runs the enabled probes while an epoch is under way:
        every ``every`` steps (0: no step count), at most every ``min_interval`` seconds,
        and only when the probes' last cost is within ``budget`` of the time since then, so
        live panels never slow training by more than about that share.

        Returns one dict per call holding every probe's result:
        ``{"probe": "batch", "results": [{"probe": name, ...}, ...]}`` (train sends one
        event per hook call).
        """
        state = {"last": time.perf_counter(), "cost": 0.0, "steps": 0}

        def hook(module: nn.Module, epoch: int, step: int, global_step: int
                 ) -> dict[str, Any] | None:
            state["steps"] += 1
            now = time.perf_counter()
            waited = now - state["last"]
            if every and state["steps"] < every:
                return None
            if waited < min_interval or state["cost"] > budget * waited:
                return None
            results = [p for p in (self.run(name) for name in self.enabled()
                                   if name not in EPOCH_ONLY) if p is not None]
            ended = time.perf_counter()
            state.update(last=ended, cost=ended - now, steps=0)
            return {"probe": "batch", "results": results} if results else None
        return hook


def make_epoch_probes(compiled: Any, data: Any, config: Mapping[str, Any]) -> list[ProbeHook]:
    """Hooks for ``train(..., epoch_end_hooks=...)``: each enabled probe runs at every epoch's
    end and sends ``{"probe": name, ...}``."""
    schedule = ProbeSchedule(compiled, data, config)
    return [hook for name, hook in zip(PROBES, schedule.epoch_hooks(), strict=True)
            if name in schedule.enabled()]


def make_step_probes(compiled: Any, data: Any, config: Mapping[str, Any], every: int = 0,
                     min_interval: float = 0.5, budget: float = 0.05
                     ) -> list[Callable[[nn.Module, int, int, int], dict[str, Any] | None]]:
    """Hooks for ``train(..., step_hooks=...)``: the enabled probes during an epoch, throttled
    (see ``ProbeSchedule.step_hook``)."""
    return [ProbeSchedule(compiled, data, config).step_hook(every, min_interval, budget)]
