"""Reading a classifier while crafting inputs against it: the steps attacks, patches and
explanations share.

A model here is a plain ``torch.nn.Module`` that maps a batch of inputs to logits (``(N,
classes)``, or ``(N,)`` / ``(N, 1)`` for a binary model with one sigmoid logit); inputs may be
numpy or tensors. Keeping the dtype, logits, predictions, loss, eval mode and value range in
one place means an attack and an explanation cannot read the same network differently.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from runtime.evaluation import eval_mode

ValueRange = tuple[Any, Any] | None


def model_dtype(model: torch.nn.Module) -> torch.dtype:
    """The dtype of the model's first floating-point parameter (float32 without one)."""
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32


def as_tensor(x: Any, device: torch.device, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``x`` (numpy, list or tensor) as a detached tensor on ``device`` (and in ``dtype``)."""
    t = x.detach() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    return t.to(device=device, dtype=dtype) if dtype is not None else t.to(device)


def logits_of(model: torch.nn.Module, x: torch.Tensor, check: bool = True) -> torch.Tensor:
    """The classifier's logits; a model with several outputs is read from its first one."""
    out = model(x)
    if isinstance(out, (tuple, list)):
        out = out[0]
    if check and out.ndim not in (1, 2):
        raise ValueError(
            f"the model's output has shape {tuple(out.shape)}; attacks need a classifier "
            "whose output is (N, classes) or one logit (N, 1)"
        )
    return out


def is_binary(logits: torch.Tensor) -> bool:
    """True for a single-logit (sigmoid) classifier's output."""
    return logits.ndim == 1 or logits.shape[1] == 1


def predict(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted class and its probability, for softmax and single-logit sigmoid models."""
    if is_binary(logits):
        p1 = torch.sigmoid(logits.reshape(-1))
        pred = (p1 > 0.5).long()
        return pred, torch.where(pred == 1, p1, 1 - p1)
    probs = torch.softmax(logits, dim=1)
    conf, pred = probs.max(dim=1)
    return pred, conf


def per_sample_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross entropy per sample (binary cross entropy for one logit): what attacks ascend."""
    if is_binary(logits):
        return F.binary_cross_entropy_with_logits(
            logits.reshape(-1), y.reshape(-1).to(logits.dtype), reduction="none"
        )
    return F.cross_entropy(logits, y.reshape(-1).long(), reduction="none")


@contextlib.contextmanager
def crafting(model: torch.nn.Module) -> Iterator[None]:
    """Eval mode and no parameter gradients while crafting; both restored afterwards.

    Eval mode keeps batch-norm statistics and dropout out of the attack; switching parameter
    gradients off saves the weight-gradient half of each backward pass.
    """
    grads = [p for p in model.parameters() if p.requires_grad]
    for p in grads:
        p.requires_grad_(False)
    try:
        with eval_mode(model):
            yield
    finally:
        for p in grads:
            p.requires_grad_(True)


def range_tensors(
    value_range: ValueRange, like: torch.Tensor
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(low, high) as tensors broadcastable to ``like``; scalars or per-feature arrays."""
    if value_range is None:
        return None, None
    lo, hi = value_range
    lo_t = None if lo is None else as_tensor(lo, like.device, like.dtype)
    hi_t = None if hi is None else as_tensor(hi, like.device, like.dtype)
    if lo_t is not None and hi_t is not None and bool((lo_t > hi_t).any()):
        raise ValueError(f"value range {value_range}: the low end is above the high end")
    return lo_t, hi_t


def label_tensor(y: Any, n: int, device: torch.device, what: str) -> torch.Tensor:
    """One class per sample as a long tensor; a single class is repeated for all ``n``."""
    if np.ndim(y) == 0 and not isinstance(y, torch.Tensor):
        return torch.full((n,), int(y), dtype=torch.long, device=device)
    t = as_tensor(y, device).reshape(-1).long()
    if t.numel() == 1 and n != 1:
        t = t.expand(n).clone()
    if t.numel() != n:
        raise ValueError(f"{what} has {t.numel()} entries for {n} samples")
    return t


def batch_slices(n: int, batch_size: int) -> list[slice]:
    """``n`` samples cut into consecutive slices of at most ``batch_size``."""
    return [slice(i, min(n, i + batch_size)) for i in range(0, n, max(1, batch_size))]
