"""What every analysis of a trained network repeats: where the model lives, eval mode, a data
set as stacked tensors, and class probabilities from a head's logits.

Probes, attacks, explanations, the autoencoder and sequence views all read a network the same
way; keeping these few steps here means they cannot drift apart (one analysis putting a frozen
layer back into training mode, another stacking targets differently).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import default_collate

from runtime.batches import tensor_pair
from runtime.heads import Head

__all__ = [
    "class_probabilities",
    "dataset_rows",
    "dataset_tensors",
    "eval_mode",
    "evaluating",
    "evaluation_set",
    "model_device",
    "row_count",
    "take_rows",
]


def model_device(module: nn.Module) -> torch.device:
    """The device of the module's first parameter (or buffer); the CPU when it has neither."""
    for p in module.parameters():
        return p.device
    for b in module.buffers():
        return b.device
    return torch.device("cpu")


@contextlib.contextmanager
def eval_mode(module: nn.Module) -> Iterator[None]:
    """Eval mode for the block; every submodule's own training flag comes back afterwards, so
    frozen (eval) layers inside a training network stay so."""
    flags = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for m, flag in flags:
            m.training = flag


@contextlib.contextmanager
def evaluating(module: nn.Module, grad: bool = False) -> Iterator[None]:
    """``eval_mode`` and, unless ``grad``, no gradients: how an analysis reads a network."""
    with eval_mode(module), torch.set_grad_enabled(grad):
        yield


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


def take_rows(x: Any, index: Tensor | slice) -> Any:
    """The rows ``index`` of a batch: a tensor or array, or a tuple/list/dict of them."""
    if isinstance(x, dict):
        return {k: take_rows(v, index) for k, v in x.items()}
    if isinstance(x, (tuple, list)):
        return type(x)(take_rows(v, index) for v in x)
    return x[index]


def row_count(x: Any) -> int:
    """How many samples a batch holds (that of its first tensor when it is several)."""
    if isinstance(x, dict):
        x = next(iter(x.values()))
    if isinstance(x, (tuple, list)):
        x = x[0]
    return int(x.shape[0])


def evaluation_set(data: Any) -> Any:
    """The split an analysis reads: validation, else training when validation is empty."""
    return data.val if len(data.val) else data.train


def dataset_rows(dataset: Any, indices: Sequence[int]) -> tuple[Any, Any]:
    """(x, y) of the samples at ``indices``, stacked on the CPU; each is a tensor, or a
    tuple/dict of them for several Inputs or heads. In-memory sets are indexed directly;
    others are read item by item and collated. No samples: two empty tensors."""
    pair = tensor_pair(dataset)
    if pair is not None:
        index = torch.as_tensor(list(indices), dtype=torch.long)
        return take_rows(pair[0], index), take_rows(pair[1], index)
    if not len(indices):
        return torch.zeros(0), torch.zeros(0, dtype=torch.long)
    x, y = default_collate([dataset[int(i)] for i in indices])
    return x, y


def dataset_tensors(dataset: Any, limit: int | None = None) -> tuple[Any, Any]:
    """(x, y) of the first ``limit`` samples (all when None), as ``dataset_rows``."""
    n = len(dataset) if limit is None else min(len(dataset), max(0, int(limit)))
    pair = tensor_pair(dataset)
    if pair is not None:  # a slice: a view, no copy of the whole set
        return take_rows(pair[0], slice(0, n)), take_rows(pair[1], slice(0, n))
    return dataset_rows(dataset, range(n))
