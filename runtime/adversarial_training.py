"""Adversarial training: the trainer's batch hook that swaps a share of each batch for inputs
attacked (FGSM or PGD) against the network as it trains.

The trainer adds this hook when the training option ``adversarial`` is set; it crafts with the
same ``craft`` as the attacks (``runtime.attacks``), so the robustness it trains for is the one
the Adversarial panel measures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from graph.settings import TRAINING_OPTIONS
from runtime.attacks import METHODS, craft, default_eps
from runtime.batches import map_tensors
from runtime.crafting import ValueRange, crafting, range_tensors


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
    share = float(options.get("adv_share", TRAINING_OPTIONS["adv_share"].param.default))
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"training option 'adv_share' is {share}; use a share from 0 to 1")
    eps_opt = options.get("adv_eps")
    if eps_opt is None:
        if value_range is None or value_range[0] is None or value_range[1] is None:
            raise ValueError("training option 'adv_eps' is needed when the data has no range")
        eps = default_eps(value_range)
    else:
        eps = float(eps_opt)
    if eps < 0:
        raise ValueError(f"training option 'adv_eps' is {eps}; use 0 or more")
    steps = 1 if method == "fgsm" else max(
        1, int(options.get("adv_steps", TRAINING_OPTIONS["adv_steps"].param.default)))
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
        y_head = map_tensors(y, lambda t: t[:k])  # the attacked rows' targets (every head's)
        with crafting(model):
            x_adv = craft(
                model, x[:k], y_head, eps, steps, size, method == "pgd", lo, hi,
                generator=generator, loss_fn=loss_fn, keep_best=False,
            )
        return torch.cat([x_adv, x[k:].detach()]), y

    return hook
