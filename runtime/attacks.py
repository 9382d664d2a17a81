"""Adversarial attacks on trained classifiers: FGSM, PGD, robustness curves, patches.

Everything here takes a plain ``torch.nn.Module`` that maps a batch of inputs to logits
(``(N, classes)``, or ``(N,)`` / ``(N, 1)`` for a binary model with one sigmoid logit), plus
numpy (or tensor) inputs, and returns numpy arrays, so the GUI, the command line and tests use
the same code. Epsilons are in the data's own units and every adversarial input is kept
inside ``value_range``: an attack that leaves the valid input range proves nothing.

Long functions take ``progress(fraction)`` and ``cancel() -> bool`` callbacks so a worker can
report progress and stop early; cancelling raises :class:`Cancelled`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from graph.settings import TRAINING_OPTIONS

Progress = Callable[[float], None] | None
Cancel = Callable[[], bool] | None
ValueRange = tuple[Any, Any] | None

METHODS = ("fgsm", "pgd")


class Cancelled(Exception):
    """Raised when the caller's ``cancel()`` returned True; the work was abandoned."""


# --------------------------------------------------------------------------- helpers


def check_cancel(cancel: Cancel) -> None:
    if cancel is not None and cancel():
        raise Cancelled("cancelled")


def report(progress: Progress, fraction: float) -> None:
    if progress is not None:
        progress(float(min(1.0, max(0.0, fraction))))


def model_device(model: torch.nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return torch.device("cpu")


def model_dtype(model: torch.nn.Module) -> torch.dtype:
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32


def as_tensor(x: Any, device: torch.device, dtype: torch.dtype | None = None) -> torch.Tensor:
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
    modes = [(m, m.training) for m in model.modules()]
    grads = [p for p in model.parameters() if p.requires_grad]
    model.eval()
    for p in grads:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in grads:
            p.requires_grad_(True)
        for m, training in modes:
            m.training = training


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


def project(
    x_adv: torch.Tensor, x: torch.Tensor, eps: float,
    lo: torch.Tensor | None, hi: torch.Tensor | None,
) -> torch.Tensor:
    """Clamp into the valid range, then into the eps ball around ``x``.

    In that order the L-inf bound always holds; the range holds too whenever the clean input
    is inside it (inputs outside it by more than eps cannot be fixed within budget).
    """
    if lo is not None or hi is not None:
        x_adv = torch.clamp(x_adv, min=lo, max=hi)
    return torch.max(torch.min(x_adv, x + eps), x - eps)


def _labels(y: Any, n: int, device: torch.device, what: str) -> torch.Tensor:
    if np.ndim(y) == 0 and not isinstance(y, torch.Tensor):
        return torch.full((n,), int(y), dtype=torch.long, device=device)
    t = as_tensor(y, device).reshape(-1).long()
    if t.numel() == 1 and n != 1:
        t = t.expand(n).clone()
    if t.numel() != n:
        raise ValueError(f"{what} has {t.numel()} entries for {n} samples")
    return t


def _batches(n: int, batch_size: int) -> list[slice]:
    return [slice(i, min(n, i + batch_size)) for i in range(0, n, max(1, batch_size))]


# --------------------------------------------------------------------------- core attack


def craft(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    steps: int,
    step_size: float,
    random_start: bool,
    lo: torch.Tensor | None,
    hi: torch.Tensor | None,
    targeted: bool = False,
    target: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    keep_best: bool = True,
    tick: Callable[[], None] | None = None,
) -> torch.Tensor:
    """L-inf attack on one batch (FGSM is one step of size eps without random start).

    With ``keep_best`` each sample keeps the iterate that succeeded (or, failing that, had the
    highest loss), so more steps never give a weaker attack than fewer. ``loss_fn`` replaces the
    built-in cross entropy (e.g. the trainer's loss, for regression or custom heads); then the
    final iterate is kept. ``tick`` runs before every gradient step (cancel and progress).
    """
    goal = target if targeted else y
    sign = -1.0 if targeted else 1.0
    x = x.detach()
    if eps <= 0 or steps <= 0:
        return x.clone()
    x_adv = x.clone()
    if random_start:
        noise = torch.rand(x.shape, generator=generator, dtype=x.dtype)
        x_adv = project(x + (noise.to(x.device) * 2 - 1) * eps, x, eps, lo, hi)
    track = keep_best and loss_fn is None
    best = x_adv.clone()
    best_score = torch.full((x.shape[0],), -math.inf, device=x.device, dtype=x.dtype)

    def consider(candidate: torch.Tensor, logits: torch.Tensor, loss: torch.Tensor) -> None:
        # score: success first (a big bonus), then the attack's own objective
        pred, _ = predict(logits.detach())
        done = (pred == goal) if targeted else (pred != goal)
        score = sign * loss.detach() + done.to(x.dtype) * 1e6
        better = score > best_score
        best_score[better] = score[better]
        best[better] = candidate[better].detach()

    for _ in range(steps):
        if tick is not None:
            tick()
        x_adv = x_adv.detach().requires_grad_(True)
        with torch.enable_grad():
            if loss_fn is not None:  # the trainer's loss sees the raw (maybe multi-head) output
                total = loss_fn(model(x_adv), goal).sum()
            else:
                logits = logits_of(model, x_adv)
                loss = per_sample_loss(logits, goal)
                total = loss.sum()
            (grad,) = torch.autograd.grad(total, x_adv)
        if track:
            consider(x_adv, logits, loss)
        x_adv = project(x_adv.detach() + sign * step_size * grad.sign(), x, eps, lo, hi)
    if not track:
        return x_adv.detach()
    with torch.no_grad():
        logits = logits_of(model, x_adv)
        consider(x_adv, logits, per_sample_loss(logits, goal))
    return best


# --------------------------------------------------------------------------- results


@dataclass
class AttackResult:
    """One attack on a set of samples; arrays are numpy, one entry per sample."""

    method: str
    eps: float
    x_adv: np.ndarray
    perturbation: np.ndarray  # x_adv - x
    labels: np.ndarray
    clean_pred: np.ndarray
    clean_conf: np.ndarray
    adv_pred: np.ndarray
    adv_conf: np.ndarray
    linf: np.ndarray
    l2: np.ndarray
    success: np.ndarray  # untargeted: adv_pred != label; targeted: adv_pred == target
    targeted: bool = False
    target: np.ndarray | None = None
    value_range: ValueRange = None

    @property
    def n(self) -> int:
        return int(self.labels.shape[0])

    @property
    def clean_accuracy(self) -> float:
        return float((self.clean_pred == self.labels).mean()) if self.n else 0.0

    @property
    def adversarial_accuracy(self) -> float:
        return float((self.adv_pred == self.labels).mean()) if self.n else 0.0

    @property
    def success_rate(self) -> float:
        return float(self.success.mean()) if self.n else 0.0


def _attack(
    method: str, model: torch.nn.Module, x: Any, y: Any, eps: float, steps: int,
    step_size: float, random_start: bool, value_range: ValueRange, targeted: bool,
    target: Any, seed: int, batch_size: int, progress: Progress, cancel: Cancel,
) -> AttackResult:
    if eps < 0:
        raise ValueError(f"epsilon must be 0 or more, got {eps}")
    if targeted and target is None:
        raise ValueError("a targeted attack needs a target class")
    device, dtype = model_device(model), model_dtype(model)
    xt = as_tensor(x, device, dtype)
    n = xt.shape[0]
    yt = _labels(y, n, device, "labels")
    tt = _labels(target, n, device, "target") if targeted else None
    lo, hi = range_tensors(value_range, xt)
    generator = torch.Generator().manual_seed(int(seed))
    parts = _batches(n, batch_size)
    total = max(1, len(parts) * max(1, steps))
    done = [0]

    def tick() -> None:
        check_cancel(cancel)
        report(progress, done[0] / total)
        done[0] += 1

    advs, clean_p, clean_c, adv_p, adv_c = [], [], [], [], []
    with crafting(model):
        for part in parts:
            xb, yb = xt[part], yt[part]
            check_cancel(cancel)
            with torch.no_grad():
                pred, conf = predict(logits_of(model, xb))
            xa = craft(
                model, xb, yb, eps, steps, step_size, random_start, lo, hi, targeted,
                tt[part] if tt is not None else None, generator, tick=tick,
                keep_best=method == "pgd",  # FGSM stays the textbook single step
            )
            with torch.no_grad():
                apred, aconf = predict(logits_of(model, xa))
            advs.append(xa)
            clean_p.append(pred)
            clean_c.append(conf)
            adv_p.append(apred)
            adv_c.append(aconf)
    report(progress, 1.0)
    if n:
        x_adv = torch.cat(advs)
        cat = [torch.cat(v).cpu().numpy() for v in (clean_p, clean_c, adv_p, adv_c)]
    else:
        x_adv = xt.clone()
        cat = [np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0)]
    delta = (x_adv - xt).reshape(n, -1)
    labels = yt.cpu().numpy()
    adv_pred = cat[2]
    if targeted:
        success = adv_pred == tt.cpu().numpy()
    else:
        success = adv_pred != labels
    return AttackResult(
        method=method, eps=float(eps), x_adv=x_adv.cpu().numpy(),
        perturbation=(x_adv - xt).cpu().numpy(), labels=labels,
        clean_pred=cat[0], clean_conf=cat[1], adv_pred=adv_pred, adv_conf=cat[3],
        linf=delta.abs().amax(dim=1).cpu().numpy() if n else np.zeros(0),
        l2=delta.norm(dim=1).cpu().numpy() if n else np.zeros(0),
        success=success, targeted=targeted,
        target=tt.cpu().numpy() if tt is not None else None, value_range=value_range,
    )


def fgsm(
    model: torch.nn.Module,
    x: Any,
    y: Any,
    eps: float,
    value_range: ValueRange = (0.0, 1.0),
    targeted: bool = False,
    target: Any = None,
    batch_size: int = 256,
    progress: Progress = None,
    cancel: Cancel = None,
) -> AttackResult:
    """Fast gradient sign method: one step of size eps along the loss gradient's sign.

    Targeted: one step *down* the loss of ``target`` (an int or one class per sample).
    """
    return _attack(
        "fgsm", model, x, y, eps, 1, eps, False, value_range, targeted, target, 0,
        batch_size, progress, cancel,
    )


def pgd(
    model: torch.nn.Module,
    x: Any,
    y: Any,
    eps: float,
    steps: int = 10,
    step_size: float | None = None,
    random_start: bool = True,
    value_range: ValueRange = (0.0, 1.0),
    targeted: bool = False,
    target: Any = None,
    seed: int = 0,
    batch_size: int = 256,
    progress: Progress = None,
    cancel: Cancel = None,
) -> AttackResult:
    """Projected gradient descent in the L-inf ball (Madry et al.), best iterate per sample.

    ``step_size`` defaults to 2.5 * eps / steps, enough to cross the ball from a random start.
    """
    steps = max(1, int(steps))
    size = 2.5 * eps / steps if step_size is None else float(step_size)
    return _attack(
        "pgd", model, x, y, eps, steps, size, random_start, value_range, targeted, target,
        seed, batch_size, progress, cancel,
    )


def attack(
    model: torch.nn.Module, x: Any, y: Any, method: str, eps: float,
    value_range: ValueRange = (0.0, 1.0), steps: int = 10, **kwargs: Any,
) -> AttackResult:
    """FGSM or PGD by name (what the panels and the command line pick from)."""
    if method == "fgsm":
        return fgsm(model, x, y, eps, value_range=value_range, **kwargs)
    if method == "pgd":
        return pgd(model, x, y, eps, steps=steps, value_range=value_range, **kwargs)
    raise ValueError(f"unknown attack method '{method}'; use one of {', '.join(METHODS)}")


def robustness_curve(
    model: torch.nn.Module,
    x: Any,
    y: Any,
    eps_values: Sequence[float],
    method: str = "pgd",
    value_range: ValueRange = (0.0, 1.0),
    steps: int = 10,
    seed: int = 0,
    batch_size: int = 256,
    progress: Progress = None,
    cancel: Cancel = None,
) -> dict[str, Any]:
    """Accuracy under attack for each epsilon (sorted ascending).

    ``accuracy`` counts a sample as robust at eps only if no attack with a budget up to eps
    fooled it (an attack within a smaller ball is also one within the larger ball), so the
    curve cannot rise; ``raw_accuracy`` is each epsilon attacked on its own.
    """
    eps_list = sorted(float(e) for e in eps_values)
    if not eps_list:
        raise ValueError("the robustness curve needs at least one epsilon")
    raw: list[float] = []
    acc: list[float] = []
    robust: np.ndarray | None = None
    clean = 0.0
    for i, eps in enumerate(eps_list):
        def sub(f: float, i: int = i) -> None:
            report(progress, (i + f) / len(eps_list))

        res = attack(
            model, x, y, method, eps, value_range=value_range, steps=steps,
            batch_size=batch_size, progress=sub, cancel=cancel,
            **({"seed": seed} if method == "pgd" else {}),
        )
        ok = res.adv_pred == res.labels
        robust = ok if robust is None else (robust & ok)
        clean = res.clean_accuracy
        raw.append(res.adversarial_accuracy)
        acc.append(float(robust.mean()) if robust.size else 0.0)
    report(progress, 1.0)
    return {
        "method": method, "eps": eps_list, "accuracy": acc, "raw_accuracy": raw,
        "clean_accuracy": clean, "n": int(robust.size if robust is not None else 0),
    }


# --------------------------------------------------------------------------- patches


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


def _target_rate(
    model: torch.nn.Module, x: torch.Tensor, patch: torch.Tensor | None, target: int,
    size: int, position: str, location: tuple[int, int] | None, seed: int, batch_size: int,
) -> tuple[float, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Share of ``x`` predicted as ``target`` with ``patch`` pasted (None: unpatched)."""
    generator = torch.Generator().manual_seed(int(seed) + 1)
    pos = _positions(x.shape[0], x.shape, size, position, location, generator)
    preds, xs = [], []
    with torch.no_grad():
        for part in _batches(x.shape[0], batch_size):
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
        keep = _labels(y_test, xt.shape[0], device, "y_test") != target
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
    lo, hi = range_tensors(value_range, x_all[:1])
    lo_s = float(lo.min()) if lo is not None else float(x_all.min())
    hi_s = float(hi.max()) if hi is not None else float(x_all.max())
    generator = torch.Generator().manual_seed(int(seed))
    c = x_all.shape[1]
    init = torch.rand((c, patch_size, patch_size), generator=generator, dtype=dtype)
    patch = (lo_s + (hi_s - lo_s) * init).to(device).requires_grad_(True)
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
        xt = xt[_labels(y, xt.shape[0], device, "y") != int(target_class)]
    lo, hi = range_tensors(value_range, xt[:1])
    lo_s = float(lo.min()) if lo is not None else float(xt.min())
    hi_s = float(hi.max()) if hi is not None else float(xt.max())
    generator = torch.Generator().manual_seed(int(seed))
    init = torch.rand((xt.shape[1], patch_size, patch_size), generator=generator, dtype=dtype)
    patch = (lo_s + (hi_s - lo_s) * init).to(device)
    with crafting(model):
        return _target_rate(
            model, xt, patch, int(target_class), patch_size, position, location, seed,
            batch_size)[0]


# --------------------------------------------------------------------------- training


def adversarial_batch_hook(
    options: dict[str, Any],
    value_range: ValueRange = (0.0, 1.0),
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """Adversarial training: a function that swaps a share of each batch for attacked inputs.

    Options (training settings' ``options``): ``adversarial`` "fgsm" | "pgd";
    ``adv_eps`` (data units, default a tenth of the value range); ``adv_share`` (0..1, default
    0.5); ``adv_steps`` (PGD, default 7); ``adv_step_size`` (PGD, default 2.5 * eps / steps).
    The trainer calls ``hook(model, x, y)`` before its forward pass and trains on the returned
    batch; the model's train/eval modes are untouched. ``loss_fn`` (the trainer's loss) is the
    one attacked; without it cross entropy (or BCE for one logit) is used.
    """
    method = str(options.get("adversarial") or "").lower()
    if method not in METHODS:
        raise ValueError(
            f"training option 'adversarial' is '{options.get('adversarial')}'; "
            f"use one of {', '.join(METHODS)}"
        )
    share = float(options.get("adv_share", TRAINING_OPTIONS["adv_share"].default))
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"training option 'adv_share' is {share}; use a share from 0 to 1")
    eps_opt = options.get("adv_eps")
    if eps_opt is None:
        if value_range is None or value_range[0] is None or value_range[1] is None:
            raise ValueError("training option 'adv_eps' is needed when the data has no range")
        eps = 0.1 * float(np.max(np.asarray(value_range[1]) - np.asarray(value_range[0])))
    else:
        eps = float(eps_opt)
    if eps < 0:
        raise ValueError(f"training option 'adv_eps' is {eps}; use 0 or more")
    steps = 1 if method == "fgsm" else max(
        1, int(options.get("adv_steps", TRAINING_OPTIONS["adv_steps"].default)))
    size_opt = options.get("adv_step_size")
    size = eps if method == "fgsm" else (
        2.5 * eps / steps if size_opt is None else float(size_opt))
    generator = torch.Generator().manual_seed(int(options.get("adv_seed", 0)))

    def hook(model: torch.nn.Module, x: Any, y: Any) -> tuple[Any, Any]:
        if not isinstance(x, torch.Tensor):
            raise ValueError(
                "adversarial training needs a network with one Input; remove the training "
                "option 'adversarial' or merge the inputs"
            )
        k = int(round(share * x.shape[0]))
        if k == 0 or eps == 0:
            return x, y
        lo, hi = range_tensors(value_range, x)
        with crafting(model):
            x_adv = craft(
                model, x[:k], _head_rows(y, k), eps, steps, size, method == "pgd", lo, hi,
                generator=generator, loss_fn=loss_fn, keep_best=False,
            )
        return torch.cat([x_adv, x[k:].detach()]), y

    return hook


def _head_rows(y: Any, k: int) -> Any:
    """The first ``k`` rows of targets: a tensor, or a tuple/list/dict of them (several heads)."""
    if isinstance(y, torch.Tensor):
        return y[:k]
    if isinstance(y, dict):
        return {key: _head_rows(v, k) for key, v in y.items()}
    if isinstance(y, (tuple, list)):
        return type(y)(_head_rows(v, k) for v in y)
    return y


# --------------------------------------------------------------------------- projects


def dataset_tensors(dataset: Any, limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) of the first ``limit`` samples of a torch Dataset of (x, y) items, stacked."""
    n = len(dataset) if limit is None else min(len(dataset), max(0, int(limit)))
    tensors = getattr(dataset, "tensors", None)
    if tensors is not None and len(tensors) == 2:  # TensorDataset: no per-item loop
        return tensors[0][:n], tensors[1][:n]
    xs, ys = [], []
    for i in range(n):
        xi, yi = dataset[i]
        xs.append(torch.as_tensor(xi))
        ys.append(torch.as_tensor(yi))
    if not xs:
        return torch.zeros(0), torch.zeros(0, dtype=torch.long)
    return torch.stack(xs), torch.stack(ys)


def attack_project(
    project: Any,
    method: str,
    eps: float,
    steps: int = 10,
    limit: int | None = None,
    seed: int = 0,
    progress: Progress = None,
    cancel: Cancel = None,
    value_range: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """Attack a project's validation set with its trained weights (the ``attack`` command);
    adversarial inputs stay in ``value_range`` (default: the data's range)."""
    from runtime.prepare import prepare

    if method not in METHODS:
        raise ValueError(f"unknown attack method '{method}'; use one of {', '.join(METHODS)}")
    name = getattr(project, "name", "the project")
    if not getattr(project, "weights", None):
        raise ValueError(f"project '{name}' has no trained weights; train it before attacking it")
    compiled, bundle = prepare(project)
    if bundle.task != "classification":
        raise ValueError(
            f"dataset '{bundle.name}' is a {bundle.task} task; attacks need a classification "
            "project"
        )
    if bundle.input_dtype != "float":
        raise ValueError(f"dataset '{bundle.name}' has token inputs; attacks need float inputs")
    if len(compiled.input_nodes) != 1:
        raise ValueError(f"project '{name}' has several Input nodes; attacks need exactly one")
    x, y = dataset_tensors(bundle.val, limit)
    if len(x) == 0:
        raise ValueError("the validation set is empty; set the dataset's validation split above 0")
    value_range = bundle.value_range if value_range is None else value_range
    res = attack(
        compiled.module, x, y, method, float(eps), value_range=value_range,
        steps=steps, progress=progress, cancel=cancel,
        **({"seed": seed} if method == "pgd" else {}),
    )
    lo, hi = value_range
    return {
        "method": method, "eps": float(eps), "steps": steps if method == "pgd" else 1,
        "n": res.n, "clean_accuracy": res.clean_accuracy,
        "adversarial_accuracy": res.adversarial_accuracy,
        "success_rate": res.success_rate,
        "mean_linf": float(res.linf.mean()) if res.n else 0.0,
        "mean_l2": float(res.l2.mean()) if res.n else 0.0,
        "value_range": [float(np.min(lo)), float(np.max(hi))],
    }
