"""What a trained classifier looks at, and what its units want to see.

Saliency (vanilla gradient, SmoothGrad, integrated gradients) attributes one class score to
the input features; activation maximization synthesises inputs that excite a chosen channel.
Inputs are numpy or tensors with a batch dimension; results are numpy, ready for a panel.
Long functions take ``progress`` / ``cancel`` callbacks (:mod:`runtime.progress`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from runtime.crafting import ValueRange, as_tensor, crafting, logits_of, model_dtype
from runtime.evaluation import model_device
from runtime.progress import Cancel, Cancelled, Progress, check_cancel, report

__all__ = [
    "ActivationMaximization",
    "Cancelled",
    "Saliency",
    "SALIENCY_METHODS",
    "activation_maximization",
    "class_score",
    "image_grid",
    "saliency",
]

SALIENCY_METHODS = ("gradient", "smoothgrad", "integrated_gradients")


@dataclass
class Saliency:
    """Attribution of a class score to each input feature."""

    values: np.ndarray  # same shape as the input batch (signed)
    heatmap: np.ndarray | None  # images (N, C, H, W): (N, H, W) max |value| over channels
    target_class: np.ndarray  # (N,) the class explained for each sample
    method: str
    scores: np.ndarray  # (N,) the class score (logit) at the input


def class_score(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The logit explained for each sample; a single-logit model's class 0 is its negation."""
    if logits.ndim == 1 or logits.shape[1] == 1:
        z = logits.reshape(-1)
        return torch.where(target == 1, z, -z)
    return logits.gather(1, target.reshape(-1, 1).long()).reshape(-1)


def _grad(model: torch.nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        score = class_score(logits_of(model, x), target)
        (g,) = torch.autograd.grad(score.sum(), x)
    return g


def _predicted(logits: torch.Tensor) -> torch.Tensor:
    if logits.ndim == 1 or logits.shape[1] == 1:
        return (logits.reshape(-1) > 0).long()
    return logits.argmax(dim=1)


def saliency(
    model: torch.nn.Module,
    x: Any,
    target_class: Any = None,
    method: str = "gradient",
    samples: int = 25,
    noise: float = 0.15,
    steps: int = 32,
    baseline: Any = None,
    value_range: ValueRange = None,
    seed: int = 0,
    progress: Progress = None,
    cancel: Cancel = None,
) -> Saliency:
    """Gradient-based attribution of ``target_class`` (default: the predicted class).

    ``x`` is a batch ``(N, *input_shape)``. SmoothGrad averages the gradient over ``samples``
    copies with Gaussian noise of std ``noise`` times the value range (or the data's spread).
    Integrated gradients integrates the gradient on the straight path from ``baseline``
    (default zeros, moved into ``value_range``) with ``steps`` midpoints, so the attributions
    of a sample add up to score(x) - score(baseline).
    """
    if method not in SALIENCY_METHODS:
        raise ValueError(
            f"unknown saliency method '{method}'; use one of {', '.join(SALIENCY_METHODS)}"
        )
    device, dtype = model_device(model), model_dtype(model)
    xt = as_tensor(x, device, dtype)
    n = xt.shape[0]
    with crafting(model):
        with torch.no_grad():
            logits = logits_of(model, xt)
        if target_class is None:
            target = _predicted(logits)
        elif np.ndim(target_class) == 0 and not isinstance(target_class, torch.Tensor):
            target = torch.full((n,), int(target_class), dtype=torch.long, device=device)
        else:
            target = as_tensor(target_class, device).reshape(-1).long()
            if target.numel() == 1:
                target = target.expand(n).clone()
        if target.numel() != n:
            raise ValueError(f"target_class has {target.numel()} entries for {n} samples")
        scores = class_score(logits, target)

        if method == "gradient":
            check_cancel(cancel)
            values = _grad(model, xt, target)
        elif method == "smoothgrad":
            if value_range is not None:
                spread = float(np.max(np.asarray(value_range[1]) - np.asarray(value_range[0])))
            else:
                spread = float(xt.max() - xt.min()) if xt.numel() else 1.0
            sigma = noise * (spread if spread > 0 else 1.0)
            generator = torch.Generator().manual_seed(int(seed))
            values = torch.zeros_like(xt)
            count = max(1, int(samples))
            for i in range(count):
                check_cancel(cancel)
                report(progress, i / count)
                eps = torch.randn(xt.shape, generator=generator, dtype=dtype).to(device)
                values += _grad(model, xt + sigma * eps, target)
            values /= count
        else:
            base = _baseline(baseline, xt, value_range)
            total = torch.zeros_like(xt)
            count = max(1, int(steps))
            for k in range(count):
                check_cancel(cancel)
                report(progress, k / count)
                alpha = (k + 0.5) / count
                total += _grad(model, base + alpha * (xt - base), target)
            values = (xt - base) * total / count
    report(progress, 1.0)
    v = values.detach()
    heat = v.abs().amax(dim=1) if v.ndim == 4 else None
    return Saliency(
        values=v.cpu().numpy(), heatmap=None if heat is None else heat.cpu().numpy(),
        target_class=target.cpu().numpy(), method=method,
        scores=scores.detach().cpu().numpy(),
    )


def _baseline(baseline: Any, x: torch.Tensor, value_range: ValueRange) -> torch.Tensor:
    if baseline is not None:
        return torch.broadcast_to(as_tensor(baseline, x.device, x.dtype), x.shape)
    base = torch.zeros_like(x)
    if value_range is not None:
        lo, hi = value_range
        lo_t = None if lo is None else as_tensor(lo, x.device, x.dtype)
        hi_t = None if hi is None else as_tensor(hi, x.device, x.dtype)
        base = torch.clamp(base, min=lo_t, max=hi_t)
    return base


# --------------------------------------------------------------------------- act. maximization


@dataclass
class ActivationMaximization:
    """Inputs synthesised to excite channels of one layer, and how much they excite them."""

    images: np.ndarray  # (K, *input_shape), one per channel
    channels: list[int]
    start_activation: np.ndarray  # (K,) the channel's activation on the starting noise
    end_activation: np.ndarray  # (K,) on the final input
    layer: str

    @property
    def gain(self) -> np.ndarray:
        """How many times the activation rose over the start (start clipped away from 0)."""
        return self.end_activation / np.maximum(np.abs(self.start_activation), 1e-6)


def _find_layer(model: torch.nn.Module, layer: str | torch.nn.Module) -> tuple[str, Any]:
    if isinstance(layer, torch.nn.Module):
        for name, m in model.named_modules():
            if m is layer:
                return name or "model", m
        raise ValueError("the chosen layer module is not part of this model")
    try:
        return layer, model.get_submodule(layer)
    except AttributeError:
        names = [n for n, _ in model.named_modules() if n]
        shown = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "")
        raise ValueError(f"layer '{layer}' is not in the model; pick one of: {shown}") from None


def _channel_activation(out: Any, channels: torch.Tensor) -> torch.Tensor:
    """Mean activation of sample k's channel ``channels[k]`` (channel dim 1, mean over rest)."""
    if isinstance(out, (tuple, list)):
        out = out[0]
    if out.ndim < 2:
        return out
    picked = out.gather(1, channels.view(-1, *([1] * (out.ndim - 1))).expand(
        -1, 1, *out.shape[2:]))
    return picked.reshape(out.shape[0], -1).mean(dim=1)


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, int(math.ceil(2 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k1 = torch.exp(-(t**2) / (2 * sigma**2))
    k1 = k1 / k1.sum()
    c = x.shape[1]
    pad = min(radius, x.shape[-1] - 1, x.shape[-2] - 1)
    if pad < radius:  # image smaller than the kernel: crop the kernel
        k1 = k1[radius - pad: radius + pad + 1]
        k1 = k1 / k1.sum()
    xp = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    kh = k1.view(1, 1, 1, -1).repeat(c, 1, 1, 1)
    kv = k1.view(1, 1, -1, 1).repeat(c, 1, 1, 1)
    return F.conv2d(F.conv2d(xp, kh, groups=c), kv, groups=c)


def activation_maximization(
    model: torch.nn.Module,
    layer: str | torch.nn.Module,
    channel: int | Sequence[int] | None = None,
    input_shape: Sequence[int] = (1, 8, 8),
    steps: int = 200,
    lr: float = 0.05,
    l2: float = 1e-3,
    jitter: int = 1,
    blur: float = 0.5,
    blur_every: int = 4,
    value_range: ValueRange = (0.0, 1.0),
    seed: int = 0,
    max_channels: int = 64,
    progress: Progress = None,
    cancel: Cancel = None,
) -> ActivationMaximization:
    """Gradient ascent from faint noise on the mean activation of a layer's channel(s).

    ``layer`` is a submodule name (as in the compiled GraphModule) or the module itself; the
    channel is dim 1 of its output (a unit for Linear layers), averaged over the other dims.
    ``channel=None`` does every channel (up to ``max_channels``) in one batch, for a grid.
    Regularisers keep the inputs readable: an L2 pull towards the middle of ``value_range``,
    random shifts of up to ``jitter`` pixels, and a Gaussian blur every ``blur_every`` steps.
    """
    device, dtype = model_device(model), model_dtype(model)
    name, module = _find_layer(model, layer)
    shape = tuple(int(s) for s in input_shape)
    captured: list[Any] = []
    handle = module.register_forward_hook(lambda _m, _i, out: captured.append(out))
    generator = torch.Generator().manual_seed(int(seed))
    try:
        with crafting(model):
            if channel is None:
                with torch.no_grad():
                    captured.clear()
                    model(torch.zeros((1, *shape), dtype=dtype, device=device))
                    out = captured[0][0] if isinstance(captured[0], (tuple, list)) else \
                        captured[0]
                chans = list(range(min(int(out.shape[1]) if out.ndim > 1 else 1, max_channels)))
            else:
                chans = [int(channel)] if np.ndim(channel) == 0 else [int(c) for c in channel]
            result = _ascend(
                model, captured, chans, shape, steps, lr, l2, jitter, blur, blur_every,
                value_range, generator, device, dtype, name, progress, cancel,
            )
    finally:
        handle.remove()
    report(progress, 1.0)
    return result


def _ascend(
    model: torch.nn.Module, captured: list[Any], chans: list[int], shape: tuple[int, ...],
    steps: int, lr: float, l2: float, jitter: int, blur: float, blur_every: int,
    value_range: ValueRange, generator: torch.Generator, device: torch.device,
    dtype: torch.dtype, name: str, progress: Progress, cancel: Cancel,
) -> ActivationMaximization:
    k = len(chans)
    if value_range is not None and value_range[0] is not None and value_range[1] is not None:
        lo = as_tensor(value_range[0], device, dtype)
        hi = as_tensor(value_range[1], device, dtype)
    else:
        lo = hi = None
    width = float((hi - lo).max()) if lo is not None else 1.0
    center = (lo + hi) / 2 if lo is not None else torch.zeros((), dtype=dtype, device=device)
    noise = torch.randn((k, *shape), generator=generator, dtype=dtype).to(device)
    x = (center + 0.05 * width * noise).detach()
    if lo is not None:
        x = torch.clamp(x, lo, hi)
    ch = torch.tensor(chans, dtype=torch.long, device=device)

    def activation(inp: torch.Tensor) -> torch.Tensor:
        captured.clear()
        model(inp)
        if not captured:
            raise ValueError(f"layer '{name}' did not run in the model's forward pass")
        out = captured[-1][0] if isinstance(captured[-1], (tuple, list)) else captured[-1]
        size = out.shape[1] if out.ndim > 1 else 1
        if max(chans) >= size or min(chans) < 0:
            raise ValueError(
                f"layer '{name}' has {size} channels; channel {max(chans)} does not exist"
            )
        return _channel_activation(out, ch)

    with torch.no_grad():
        start = activation(x)
    spatial = list(range(-min(2, len(shape) - 1), 0)) if len(shape) > 1 else []
    x = x.requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr * width)
    for step in range(max(0, int(steps))):
        check_cancel(cancel)
        report(progress, step / max(1, steps))
        inp = x
        if jitter > 0 and spatial:
            shifts = torch.randint(-jitter, jitter + 1, (len(spatial),), generator=generator)
            inp = torch.roll(x, shifts=[int(s) for s in shifts], dims=spatial)
        with torch.enable_grad():
            act = activation(inp)
            loss = -act.sum() + l2 * ((x - center) ** 2).reshape(k, -1).sum(dim=1).sum()
            opt.zero_grad()
            loss.backward()
        opt.step()
        with torch.no_grad():
            if blur > 0 and len(shape) == 3 and blur_every > 0 and (step + 1) % blur_every == 0:
                x.copy_(_gaussian_blur(x, blur))
            if lo is not None:
                x.copy_(torch.clamp(x, lo, hi))
    with torch.no_grad():
        end = activation(x)
    return ActivationMaximization(
        images=x.detach().cpu().numpy(), channels=chans,
        start_activation=start.cpu().numpy(), end_activation=end.cpu().numpy(), layer=name,
    )


def image_grid(
    images: np.ndarray, cols: int | None = None, pad: int = 1, normalize: bool = True
) -> np.ndarray:
    """Tile (K, C, H, W) images into one (rows*H, cols*W) (C=1) or (.., .., C) picture.

    Each tile is scaled to [0, 1] on its own when ``normalize`` (activation-maximization
    images differ in contrast); padding is NaN so a panel can draw it transparent.
    """
    imgs = np.asarray(images, dtype=np.float32)
    if imgs.ndim == 3:
        imgs = imgs[:, None]
    if imgs.ndim != 4:
        raise ValueError(f"image_grid needs (K, C, H, W) images, got shape {imgs.shape}")
    k, c, h, w = imgs.shape
    cols = cols or max(1, int(math.ceil(math.sqrt(k))))
    rows = max(1, int(math.ceil(k / cols)))
    grid = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad, c), np.nan, np.float32)
    for i in range(k):
        tile = imgs[i].transpose(1, 2, 0)
        if normalize:
            lo, hi = float(tile.min()), float(tile.max())
            tile = (tile - lo) / (hi - lo) if hi > lo else np.zeros_like(tile)
        r, q = divmod(i, cols)
        grid[r * (h + pad): r * (h + pad) + h, q * (w + pad): q * (w + pad) + w] = tile
    return grid[:, :, 0] if c == 1 else grid
