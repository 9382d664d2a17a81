"""What a sequence network does, step by step: hidden units over the tokens of a text, and a
forecast drawn against the actual series.

Like the other analyses these run the compiled module on its device in eval mode without
gradients and return dataclasses of numpy arrays, strings and floats; panels only draw them.

- ``sequence_nodes``: the layers whose output has one vector per step (N x L x H), the ones
  whose units can be shown over the tokens.
- ``token_activations``: for a few samples, the tokens as text and every unit's value at every
  step of one such layer, plus the units that vary most over the tokens (worth a look first:
  the seeds' example is a unit that fires inside quotation marks).
- ``attention_maps``: every TransformerEncoderLayer's self-attention weights for a batch,
  averaged over heads; ``token_attention`` gives them per sample over the real tokens only,
  with the share of attention that went to padding.
- ``forecast``: slide the window along a validation series and predict the next value(s) at
  every step, in the series' own units, next to the actual values and the repeat-the-last-value
  baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from graph.catalog import HEAD, INPUT, MERGE
from runtime.capture import node_outputs
from runtime.compile import Compiled
from runtime.evaluation import dataset_rows, evaluating, model_device
from runtime.heads import make_heads

BATCH = 512
MAX_SAMPLES = 64  # texts per token_activations / token_attention call

__all__ = ["Forecast", "TokenActivations", "TokenAttention", "attention_maps",
           "attention_nodes", "forecast", "sequence_nodes", "token_activations",
           "token_attention", "token_texts"]


@dataclass(frozen=True, eq=False)
class TokenActivations:
    """Every unit of one layer at every real (non-padding) step of a few samples."""

    node_id: int
    name: str
    units: int
    tokens: list[list[str]]  # token texts per sample
    values: list[np.ndarray]  # (L_i, units) float32 per sample, padding steps dropped
    labels: list[str]  # target per sample as text ("" without class names)
    predicted: list[str]  # predicted class per sample, "" without a classification head
    indices: list[int]  # into the split
    ranked_units: list[int]  # by how much they vary over the shown tokens, largest first
    range: tuple[float, float]  # (min, max) of every value shown


@dataclass(frozen=True, eq=False)
class TokenAttention:
    """What every TransformerEncoderLayer attends to in a few samples, over their real
    tokens."""

    layers: list[tuple[int, str, int]]  # attention_nodes that gave a map
    indices: list[int]
    tokens: list[list[str]]  # texts per sample
    maps: dict[int, list[np.ndarray]]  # node id -> (t_i, t_i) float32 per sample
    padding: dict[int, list[float]]  # node id -> share of attention paid to padding, per sample


@dataclass(frozen=True, eq=False)
class Forecast:
    """Predictions along one validation series, in its own units (``forecast``)."""

    time: np.ndarray  # (T,)
    actual: np.ndarray  # (T,)
    predicted: np.ndarray  # (T,), NaN where the window does not fit yet
    baseline: np.ndarray  # (T,), the last value of each window
    mse: float  # over the predicted steps, in the series' units
    baseline_mse: float
    window: int
    horizon: int
    steps_ahead: int
    series: int
    series_count: int
    feature: str  # the target feature drawn (the first)


def _split(data: Any, split: str) -> Any:
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', not {split!r}")
    dataset = data.train if split == "train" else data.val
    return dataset if len(dataset) else data.train


def sequence_nodes(compiled: Compiled) -> list[tuple[int, str, int]]:
    """(node id, name, units) of every compiled layer or merge whose output is N x L x H,
    in graph order: the layers whose units ``token_activations`` can show over the steps."""
    from runtime.shapes import infer_shapes

    graph = compiled.graph
    shapes = infer_shapes(graph).outputs
    found = []
    for node_id in graph.topological_order():
        node = graph.nodes[node_id]
        role = node.spec.role if node.spec is not None else ""
        if role in (INPUT, HEAD):
            continue
        out = shapes.get(node_id, {}).get("out")
        if out is not None and len(out) == 3 and (node_id in compiled.module_names
                                                  or role == MERGE):
            found.append((node_id, node.name, int(out[2])))
    return found


def token_texts(data: Any, tokens: Sequence[int]) -> list[str]:
    """A sample's token ids as text (the bundle's vocabulary when it has one, else the ids),
    padding dropped."""
    vocabulary = getattr(data, "vocabulary", None) or []
    out = []
    for token in tokens:
        i = int(token)
        if i == 0:
            continue
        out.append(vocabulary[i] if 0 <= i < len(vocabulary) else str(i))
    return out


def _samples(data: Any, split: str, samples: Sequence[int] | int
             ) -> tuple[list[int], Tensor, Tensor]:
    """(indices, inputs, targets) of a few samples of a split: ``samples`` are indices into
    it, or a count (the first ones); at most ``MAX_SAMPLES``."""
    dataset = _split(data, split)
    count = len(dataset)
    if isinstance(samples, int):
        indices = list(range(min(samples, count, MAX_SAMPLES)))
    else:
        indices = [int(i) for i in samples][:MAX_SAMPLES]
        bad = [i for i in indices if not 0 <= i < count]
        if bad:
            raise ValueError(f"sample {bad[0]} does not exist: the {split} split has {count} "
                             "samples")
    return (indices, *dataset_rows(dataset, indices))


def token_activations(compiled: Compiled, data: Any, node_id: int,
                      samples: Sequence[int] | int = 8, split: str = "val"
                      ) -> TokenActivations:
    """Every unit of ``node_id`` at every real (non-padding) step of a few samples.
    ``samples``: indices into the split, or a count (the first ones)."""
    node = compiled.graph.nodes.get(node_id)
    if node is None:
        raise ValueError(f"node {node_id} is not in the compiled network; choose another layer")
    indices, x, y = _samples(data, split, samples)
    if x.is_floating_point():
        raise ValueError(f"{node.label}: the inputs are not token ids; token colouring needs a "
                         "text data set (an Input of dtype long)")
    heads = make_heads(compiled)
    with evaluating(compiled.module):
        captured, result = node_outputs(compiled, (x.to(model_device(compiled.module)),), [node_id])
    value = captured.get(node_id)
    if value is None or value.dim() != 3:
        shape = "no tensor" if value is None else " x ".join(["N", *map(str, value.shape[1:])])
        raise ValueError(f"{node.label} gives {shape}, not one vector per step; choose a layer "
                         "with a sequence output (N x L x H), such as an LSTM with output "
                         "'sequence'")
    value = value.float().cpu()
    outputs = list(result) if isinstance(result, (tuple, list)) else [result]
    classifier = next(((h, o) for h, o in zip(heads, outputs, strict=False)
                       if h.task == "classification" and o.dim() == 2), None)
    names = list(getattr(data, "class_names", []))
    tokens, values, labels, predicted = [], [], [], []
    for row in range(len(indices)):
        ids = x[row].tolist()
        real = [step for step, token in enumerate(ids) if token != 0]
        tokens.append(token_texts(data, [ids[s] for s in real]))
        values.append(value[row, real].numpy().astype(np.float32))
        target = y[row]
        if target.dim() == 0 and names:
            labels.append(names[int(target)] if 0 <= int(target) < len(names) else str(
                int(target)))
        else:
            labels.append("")
        if classifier is not None:
            k = int(classifier[1][row].argmax())
            predicted.append(names[k] if k < len(names) else str(k))
        else:
            predicted.append("")
    shown = np.concatenate(values, 0) if values and sum(len(v) for v in values) else \
        np.zeros((0, value.shape[2]), np.float32)
    spread = shown.std(0) if len(shown) else np.zeros(value.shape[2])
    return TokenActivations(
        node_id=node_id, name=node.name, units=int(value.shape[2]),
        tokens=tokens, values=values, labels=labels, predicted=predicted,
        indices=indices,
        ranked_units=[int(u) for u in np.argsort(-spread, kind="stable")],
        range=(float(shown.min()), float(shown.max())) if len(shown) else (0.0, 0.0),
    )


def attention_nodes(compiled: Compiled) -> list[tuple[int, str, int]]:
    """(node id, name, heads) of every compiled TransformerEncoderLayer, in graph order: the
    layers ``attention_maps`` reads. Found by module class, so imported networks count too."""
    found = []
    for node_id in compiled.graph.topological_order():
        name = compiled.module_names.get(node_id)
        if name is None:
            continue
        layer = compiled.module.get_submodule(name)
        if isinstance(layer, nn.TransformerEncoderLayer):
            found.append((node_id, compiled.graph.nodes[node_id].name,
                          int(layer.self_attn.num_heads)))
    return found


def attention_maps(compiled: Compiled, inputs: Tensor | Sequence[Tensor],
                   padding_mask: Tensor | np.ndarray | None = None) -> dict[int, np.ndarray]:
    """Self-attention weights of every TransformerEncoderLayer for one batch, averaged over
    heads: {node id: (N, T, T) float32}, row = query position, column = key position, rows
    summing to 1. Computed in eval mode (no attention dropout), so the same whatever mode the
    module is in; its training flags come back afterwards.

    ``inputs``: forward's argument(s), batch first. The layers are called without a mask (the
    graph gives them none), so padding gets attention like any token unless ``padding_mask``
    (N, T), True at padding, is given: it then becomes every layer's
    ``src_key_padding_mask`` for this pass, as if the network masked padding. A sample that is
    all padding then has no valid key and gives zeros.

    The layers call ``self_attn`` with ``need_weights=False`` and, in eval mode, may skip it
    for a fused kernel. A forward pre-hook on ``self_attn`` records its query, key, value and
    masks; any hook on a layer's submodules disables the fused path (torch checks
    ``_forward_pre_hooks`` in ``TransformerEncoderLayer.forward``), so the hook always runs.
    The weights are then recomputed from the recorded call with ``need_weights=True``.
    """
    layers = {node_id: compiled.module.get_submodule(compiled.module_names[node_id])
              for node_id, _, _ in attention_nodes(compiled)}
    if not layers:
        return {}
    device = model_device(compiled.module)
    args = tuple(t.to(device) for t in (inputs if isinstance(inputs, (tuple, list))
                                        else (inputs,)))
    mask = None if padding_mask is None else torch.as_tensor(
        np.asarray(padding_mask) if not isinstance(padding_mask, Tensor) else padding_mask,
        dtype=torch.bool, device=device)
    calls: dict[int, tuple[tuple[Any, ...], dict[str, Any]]] = {}

    def recorder(node_id: int) -> Any:
        def record(_module: nn.Module, call_args: tuple[Any, ...], kwargs: dict[str, Any]
                   ) -> None:
            calls[node_id] = (call_args, dict(kwargs))
        return record

    def masking(_module: nn.Module, call_args: tuple[Any, ...], kwargs: dict[str, Any]
                ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return call_args, {**kwargs, "src_key_padding_mask": mask}

    handles = []
    with evaluating(compiled.module):
        try:
            for node_id, layer in layers.items():
                handles.append(layer.self_attn.register_forward_pre_hook(
                    recorder(node_id), with_kwargs=True))
                if mask is not None:
                    handles.append(layer.register_forward_pre_hook(masking, with_kwargs=True))
            compiled.module(*args)
        finally:
            for handle in handles:
                handle.remove()
        maps = {}
        for node_id, layer in layers.items():
            if node_id not in calls:  # torch found a way round self_attn: a bug to fix here
                label = compiled.graph.nodes[node_id].label
                raise RuntimeError(f"{label}: its self-attention was never called; the fused "
                                   "path of this torch version ignores forward pre-hooks")
            call_args, kwargs = calls[node_id]
            q, k, v = (call_args[i] if i < len(call_args) else kwargs[part]
                       for i, part in enumerate(("query", "key", "value")))
            _, weights = layer.self_attn(
                q, k, v, key_padding_mask=kwargs.get("key_padding_mask"),
                attn_mask=kwargs.get("attn_mask"), is_causal=kwargs.get("is_causal", False),
                need_weights=True, average_attn_weights=True)
            maps[node_id] = torch.nan_to_num(weights.float()).cpu().numpy().astype(np.float32)
    return maps


def token_attention(compiled: Compiled, data: Any, samples: Sequence[int] | int = 8,
                    split: str = "val") -> TokenAttention:
    """What every TransformerEncoderLayer attends to in a few samples, over their real tokens.

    The network runs as it is (its layers do not mask padding), then each map is cut to the
    sample's non-padding rows and columns: what a reader can name. The attention the real
    words paid to padding (the mean share of a real word's) is reported instead of drawn.
    """
    layers = attention_nodes(compiled)
    if not layers:
        raise ValueError("the network has no TransformerEncoderLayer; add one to see attention")
    indices, x, _ = _samples(data, split, samples)
    if x.is_floating_point():
        raise ValueError("the inputs are not token ids; attention over words needs a text "
                         "data set (an Input of dtype long)")
    maps = attention_maps(compiled, x)
    ids = x.cpu().numpy()
    real = [np.flatnonzero(row != 0) for row in ids]
    cut = {node_id: [m[i][np.ix_(keep, keep)] for i, keep in enumerate(real)]
           for node_id, m in maps.items()}
    padding = {node_id: [float(1.0 - w.sum(1).mean()) if len(w) else 0.0 for w in per_sample]
               for node_id, per_sample in cut.items()}
    return TokenAttention(
        layers=[layer for layer in layers if layer[0] in maps], indices=indices,
        tokens=[token_texts(data, row[keep]) for row, keep in zip(ids, real, strict=True)],
        maps=cut, padding=padding)


def forecast(compiled: Compiled, data: Any, series: int = 0, steps_ahead: int = 1,
             max_steps: int = 2000) -> Forecast:
    """Predictions along one validation series, in its own units.

    At every step t from ``window`` on, the network reads the ``window`` values before t and
    its ``steps_ahead``-th predicted value is compared with the actual value at
    t + steps_ahead - 1. Needs a series data set (``sines`` or a ``series`` file: the bundle
    keeps ``val_series``, ``window`` and ``horizon``) and a forecasting (or regression) head.
    Only the first target feature is drawn.
    """
    series_list = list(getattr(data, "val_series", []) or [])
    window, horizon = int(getattr(data, "window", 0)), int(getattr(data, "horizon", 0))
    if not series_list or window <= 0:
        raise ValueError("forecast needs a time-series data set (sines or a series file); "
                         "choose one in the dataset settings")
    if not 0 <= series < len(series_list):
        raise ValueError(f"series {series} does not exist: the validation part has "
                         f"{len(series_list)}")
    if not 1 <= steps_ahead <= horizon:
        raise ValueError(f"steps ahead must be from 1 to the horizon, {horizon}")
    head_index = next((i for i, h in enumerate(make_heads(compiled))
                       if h.task in ("forecasting", "regression")), None)
    if head_index is None:
        raise ValueError("the network has no forecasting head; set the Output's task to "
                         "forecasting")
    values = np.asarray(series_list[series], dtype=np.float32)[:max_steps]
    if values.ndim == 1:
        values = values[:, None]
    total = len(values)
    starts = np.arange(0, total - window - steps_ahead + 1)
    predicted = np.full(total, np.nan)
    baseline = np.full(total, np.nan)
    if len(starts):
        x = torch.from_numpy(values[starts[:, None] + np.arange(window)])
        x = x.reshape(len(starts), *tuple(data.input_shape))
        outs = []
        with evaluating(compiled.module):
            for s in range(0, len(x), BATCH):
                result = compiled.module(x[s:s + BATCH].to(model_device(compiled.module)))
                out = result[head_index] if isinstance(result, (tuple, list)) else result
                outs.append(out.float().cpu().reshape(out.shape[0], horizon, -1))
        pred = torch.cat(outs).numpy()[:, steps_ahead - 1, 0]
        at = starts + window + steps_ahead - 1
        predicted[at] = _raw_target(data, pred)
        baseline[at] = _raw_target(data, values[starts + window - 1, 0])
    actual = _raw_target(data, values[:, 0])
    done = ~np.isnan(predicted)
    mse = float(np.mean((predicted[done] - actual[done]) ** 2)) if done.any() else float("nan")
    base = float(np.mean((baseline[done] - actual[done]) ** 2)) if done.any() else float("nan")
    names = list(getattr(data, "target_names", []) or ["value"])
    return Forecast(time=np.arange(total), actual=actual, predicted=predicted,
                    baseline=baseline, mse=mse, baseline_mse=base, window=window,
                    horizon=horizon, steps_ahead=steps_ahead, series=series,
                    series_count=len(series_list), feature=names[0])


def _raw_target(data: Any, scaled: np.ndarray) -> np.ndarray:
    """First target feature back in the series' units."""
    scaled = np.asarray(scaled, dtype=np.float64)
    offset, scale = getattr(data, "target_offset", None), getattr(data, "target_scale", None)
    if offset is None or scale is None:
        return scaled
    return scaled * float(np.ravel(scale)[0]) + float(np.ravel(offset)[0])
