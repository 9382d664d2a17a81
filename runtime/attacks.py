"""Adversarial attacks on trained classifiers: FGSM, PGD and robustness curves.

Everything here takes a plain ``torch.nn.Module`` that maps a batch of inputs to logits (read
through :mod:`runtime.crafting`), plus numpy (or tensor) inputs, and returns numpy arrays, so
the GUI, the command line and tests use the same code. Epsilons are in the data's own units and
every adversarial input is kept inside ``value_range``: an attack that leaves the valid input
range proves nothing. Long functions take ``progress`` / ``cancel`` callbacks
(:mod:`runtime.progress`). Patches live in :mod:`runtime.patches`, adversarial training's batch
hook in :mod:`runtime.adversarial_training`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
from runtime.evaluation import dataset_tensors, model_device
from runtime.progress import Cancel, Progress, check_cancel, report

METHODS = ("fgsm", "pgd")
DEFAULT_EPS_SHARE = 0.1  # an attack's default size: this share of the data's value range


def default_eps(value_range: tuple[Any, Any]) -> float:
    """The default attack size in data units: ``DEFAULT_EPS_SHARE`` of the widest feature's
    value range."""
    lo, hi = value_range
    return DEFAULT_EPS_SHARE * float(np.max(np.asarray(hi) - np.asarray(lo)))


# --------------------------------------------------------------------------- core attack


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
    yt = label_tensor(y, n, device, "labels")
    tt = label_tensor(target, n, device, "target") if targeted else None
    lo, hi = range_tensors(value_range, xt)
    generator = torch.Generator().manual_seed(int(seed))
    parts = batch_slices(n, batch_size)
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
    value_range: ValueRange = (0.0, 1.0), steps: int = 10, seed: int = 0, **kwargs: Any,
) -> AttackResult:
    """FGSM or PGD by name (what the panels and the command line pick from); ``steps`` and
    ``seed`` (the random start) are PGD's alone."""
    if method == "fgsm":
        return fgsm(model, x, y, eps, value_range=value_range, **kwargs)
    if method == "pgd":
        return pgd(model, x, y, eps, steps=steps, value_range=value_range, seed=seed, **kwargs)
    raise ValueError(f"unknown attack method '{method}'; use one of {', '.join(METHODS)}")


@dataclass(frozen=True)
class RobustnessCurve:
    """Accuracy under one attack method at each epsilon (``robustness_curve``)."""

    method: str
    eps: list[float]  # ascending
    accuracy: list[float]  # robust to every budget up to eps: never rises
    raw_accuracy: list[float]  # each epsilon attacked on its own
    clean_accuracy: float
    n: int  # samples attacked


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
) -> RobustnessCurve:
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
            batch_size=batch_size, progress=sub, cancel=cancel, seed=seed,
        )
        ok = res.adv_pred == res.labels
        robust = ok if robust is None else (robust & ok)
        clean = res.clean_accuracy
        raw.append(res.adversarial_accuracy)
        acc.append(float(robust.mean()) if robust.size else 0.0)
    report(progress, 1.0)
    return RobustnessCurve(method=method, eps=eps_list, accuracy=acc, raw_accuracy=raw,
                           clean_accuracy=clean,
                           n=int(robust.size if robust is not None else 0))


# --------------------------------------------------------------------------- projects
@dataclass(frozen=True)
class ProjectAttack:
    """One attack on a project's validation set (``attack_project``, the ``attack``
    command); the fields in the order the command's JSON writes them."""

    method: str
    eps: float
    steps: int  # 1 for FGSM
    n: int
    clean_accuracy: float
    adversarial_accuracy: float
    success_rate: float
    mean_linf: float
    mean_l2: float
    value_range: list[float]  # [low, high]



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
) -> ProjectAttack:
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
        steps=steps, progress=progress, cancel=cancel, seed=seed,
    )
    lo, hi = value_range
    return ProjectAttack(
        method=method, eps=float(eps), steps=steps if method == "pgd" else 1,
        n=res.n, clean_accuracy=res.clean_accuracy,
        adversarial_accuracy=res.adversarial_accuracy,
        success_rate=res.success_rate,
        mean_linf=float(res.linf.mean()) if res.n else 0.0,
        mean_l2=float(res.l2.mean()) if res.n else 0.0,
        value_range=[float(np.min(lo)), float(np.max(hi))],
    )
