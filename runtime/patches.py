"""Adversarial patches: one small square that, pasted anywhere on an image, makes the model
predict a chosen class.

Unlike FGSM/PGD (``runtime.attacks``), which craft a perturbation per sample, a patch is one
input-agnostic pattern optimised over many images; its success is measured on held-out ones
and compared with a random patch of the same size, so the panel can show what optimisation
adds. Inputs are image batches (N, C, H, W), numpy or tensors; results are numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from runtime.crafting import (
    ValueRange,
    as_tensor,
    batch_slices,
    crafting,
    label_tensor,
    logits_of,
    model_dtype,
    per_sample_loss,
    predict,
    range_tensors,
)
from runtime.evaluation import model_device
from runtime.progress import Cancel, Progress, check_cancel, report


@dataclass
class PatchResult:
    """An optimised square patch and how often it turns held-out inputs into the target."""

    patch: np.ndarray  # (C, size, size)
    target_class: int
    success_rate: float  # held-out samples (not of the target class) predicted as target
    clean_target_rate: float  # the same samples predicted as target without the patch
    examples: np.ndarray  # patched held-out inputs (up to 16)
    example_predictions: np.ndarray
    example_positions: np.ndarray  # (k, 2) top-left row, col
    losses: list[float] = field(default_factory=list)  # per optimisation step
    n: int = 0


def _positions(
    n: int, shape: Sequence[int], size: int, position: str,
    location: tuple[int, int] | None, generator: torch.Generator,
) -> torch.Tensor:
    h, w = int(shape[-2]), int(shape[-1])
    if position == "fixed":
        r, c = location if location is not None else ((h - size) // 2, (w - size) // 2)
        if not (0 <= r <= h - size and 0 <= c <= w - size):
            raise ValueError(
                f"patch location {(r, c)} does not fit a {size}x{size} patch in {h}x{w} images"
            )
        return torch.tensor([[r, c]] * n, dtype=torch.long).reshape(n, 2)
    if position != "random":
        raise ValueError(f"patch position '{position}' is unknown; use 'random' or 'fixed'")
    rows = torch.randint(0, h - size + 1, (n,), generator=generator)
    cols = torch.randint(0, w - size + 1, (n,), generator=generator)
    return torch.stack([rows, cols], dim=1)


def apply_patch(x: torch.Tensor, patch: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Paste ``patch`` (C, s, s) into each image of ``x`` (N, C, H, W) at its (row, col)."""
    n, s = x.shape[0], patch.shape[-1]
    pos = positions.to(x.device)
    ar = torch.arange(s, device=x.device)
    rows = (pos[:, 0, None] + ar)[:, :, None]  # (N, s, 1)
    cols = (pos[:, 1, None] + ar)[:, None, :]  # (N, 1, s)
    idx = torch.arange(n, device=x.device)[:, None, None]
    out = x.clone()
    out[idx, :, rows, cols] = patch.permute(1, 2, 0).expand(n, s, s, patch.shape[0])
    return out


def _check_images(x: torch.Tensor, size: int) -> None:
    if x.ndim != 4:
        raise ValueError(
            f"patch attacks need image inputs (N, C, H, W); these inputs are {tuple(x.shape)}"
        )
    if not 1 <= size <= min(x.shape[-2:]):
        raise ValueError(f"patch size {size} does not fit {x.shape[-2]}x{x.shape[-1]} images")


def _random_patch(
    x: torch.Tensor, size: int, value_range: ValueRange, generator: torch.Generator,
) -> tuple[torch.Tensor, float, float]:
    """A (C, size, size) patch of uniform random values within the value range (the range of
    ``x`` where it has none), and that range's (low, high) as scalars: where an optimised
    patch starts, and the baseline it is compared with."""
    lo, hi = range_tensors(value_range, x[:1])
    lo_s = float(lo.min()) if lo is not None else float(x.min())
    hi_s = float(hi.max()) if hi is not None else float(x.max())
    init = torch.rand((x.shape[1], size, size), generator=generator, dtype=x.dtype)
    return (lo_s + (hi_s - lo_s) * init).to(x.device), lo_s, hi_s


def _target_rate(
    model: torch.nn.Module, x: torch.Tensor, patch: torch.Tensor | None, target: int,
    size: int, position: str, location: tuple[int, int] | None, seed: int, batch_size: int,
) -> tuple[float, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Share of ``x`` predicted as ``target`` with ``patch`` pasted (None: unpatched)."""
    generator = torch.Generator().manual_seed(int(seed) + 1)
    pos = _positions(x.shape[0], x.shape, size, position, location, generator)
    preds, xs = [], []
    with torch.no_grad():
        for part in batch_slices(x.shape[0], batch_size):
            xb = x[part] if patch is None else apply_patch(x[part], patch, pos[part])
            preds.append(predict(logits_of(model, xb))[0])
            xs.append(xb)
    if not preds:
        return 0.0, torch.zeros(0, dtype=torch.long), x[:0], pos
    pred = torch.cat(preds)
    return float((pred == target).float().mean()), pred, torch.cat(xs), pos


def _held_out(
    x_train: torch.Tensor, x_test: Any, y_test: Any, target: int, device: torch.device,
    dtype: torch.dtype, seed: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    if x_test is None:  # hold out the last fifth of a shuffled copy
        perm = torch.randperm(x_train.shape[0], generator=torch.Generator().manual_seed(seed))
        k = max(1, x_train.shape[0] // 5)
        return x_train[perm[k:]], x_train[perm[:k]]
    xt = as_tensor(x_test, device, dtype)
    if y_test is not None:
        keep = label_tensor(y_test, xt.shape[0], device, "y_test") != target
        xt = xt[keep]
    return x_train, xt


def adversarial_patch(
    model: torch.nn.Module,
    x_train: Any,
    target_class: int,
    patch_size: int = 3,
    steps: int = 200,
    position: str = "random",
    lr: float = 0.1,
    value_range: ValueRange = (0.0, 1.0),
    seed: int = 0,
    x_test: Any = None,
    y_test: Any = None,
    location: tuple[int, int] | None = None,
    batch_size: int = 64,
    progress: Progress = None,
    cancel: Cancel = None,
) -> PatchResult:
    """Optimise one square patch that makes the model predict ``target_class`` anywhere.

    Adam on the patch pixels (kept in ``value_range``), minimising the target's cross entropy
    on random batches of ``x_train``; with ``position='random'`` the patch moves every step so
    it must work wherever it lands (``'fixed'``: at ``location``, default centred). Success is
    measured on ``x_test`` (without samples whose ``y_test`` is already the target); without
    ``x_test`` a fifth of ``x_train`` is held out.
    """
    device, dtype = model_device(model), model_dtype(model)
    x_all = as_tensor(x_train, device, dtype)
    _check_images(x_all, patch_size)
    target = int(target_class)
    x_fit, x_eval = _held_out(x_all, x_test, y_test, target, device, dtype, seed)
    generator = torch.Generator().manual_seed(int(seed))
    start, lo_s, hi_s = _random_patch(x_all, patch_size, value_range, generator)
    patch = start.requires_grad_(True)
    opt = torch.optim.Adam([patch], lr=lr * (hi_s - lo_s))
    losses: list[float] = []
    with crafting(model):
        for step in range(max(0, int(steps))):
            check_cancel(cancel)
            report(progress, step / max(1, steps))
            idx = torch.randint(0, x_fit.shape[0], (min(batch_size, x_fit.shape[0]),),
                                generator=generator)
            pos = _positions(len(idx), x_fit.shape, patch_size, position, location, generator)
            with torch.enable_grad():
                logits = logits_of(model, apply_patch(x_fit[idx.to(device)], patch, pos))
                goal = torch.full((len(idx),), target, dtype=torch.long, device=device)
                loss = per_sample_loss(logits, goal).mean()
                opt.zero_grad()
                loss.backward()
            opt.step()
            with torch.no_grad():
                patch.clamp_(lo_s, hi_s)
            losses.append(float(loss.detach()))
        final = patch.detach()
        rate, pred, patched, pos = _target_rate(
            model, x_eval, final, target, patch_size, position, location, seed, batch_size)
        clean_rate = _target_rate(
            model, x_eval, None, target, patch_size, position, location, seed, batch_size)[0]
    report(progress, 1.0)
    k = min(16, x_eval.shape[0])
    return PatchResult(
        patch=final.cpu().numpy(), target_class=target, success_rate=rate,
        clean_target_rate=clean_rate, examples=patched[:k].cpu().numpy(),
        example_predictions=pred[:k].cpu().numpy(), example_positions=pos[:k].numpy(),
        losses=losses, n=int(x_eval.shape[0]),
    )


def random_patch_success(
    model: torch.nn.Module,
    x: Any,
    target_class: int,
    patch_size: int = 3,
    position: str = "random",
    value_range: ValueRange = (0.0, 1.0),
    seed: int = 0,
    y: Any = None,
    location: tuple[int, int] | None = None,
    batch_size: int = 256,
) -> float:
    """Baseline for :func:`adversarial_patch`: the same-size patch of uniform random values."""
    device, dtype = model_device(model), model_dtype(model)
    xt = as_tensor(x, device, dtype)
    _check_images(xt, patch_size)
    if y is not None:
        xt = xt[label_tensor(y, xt.shape[0], device, "y") != int(target_class)]
    generator = torch.Generator().manual_seed(int(seed))
    patch = _random_patch(xt, patch_size, value_range, generator)[0]
    with crafting(model):
        return _target_rate(
            model, xt, patch, int(target_class), patch_size, position, location, seed,
            batch_size)[0]
