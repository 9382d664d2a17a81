"""Optimizers, learning-rate schedules and per-node parameter groups, from the training settings.

Each node's ``lr_mult`` scales the learning rate of its parameters; a frozen node (or one with
multiplier 0) gets no gradients and keeps its BatchNorm statistics and dropout as they were.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from runtime.compile import Compiled
from runtime.heads import TrainingFailed


def param_groups(compiled: Compiled) -> tuple[list[dict[str, Any]], list[nn.Parameter]]:
    """Optimizer groups by per-node lr multiplier, and the parameters frozen for this run.

    A frozen node, or one with lr_mult 0, gets requires_grad False (no gradient is even
    computed). Groups carry ``lr_mult``; the multiplier 1 group comes first.
    """
    module: nn.Module = compiled.module
    seen: set[int] = set()
    frozen: list[nn.Parameter] = []
    by_mult: dict[float, list[nn.Parameter]] = {}
    for node_id, name in sorted(compiled.module_names.items()):
        node = compiled.graph.nodes.get(node_id)
        try:
            sub = module.get_submodule(name)
        except AttributeError:
            continue
        mult = float(getattr(node, "lr_mult", 1.0))
        is_frozen = bool(getattr(node, "frozen", False)) or mult == 0.0
        for p in sub.parameters():
            if id(p) in seen:
                continue
            seen.add(id(p))
            if is_frozen:
                if p.requires_grad:
                    p.requires_grad_(False)
                    frozen.append(p)
            elif p.requires_grad:
                by_mult.setdefault(mult, []).append(p)
    for p in module.parameters():  # parameters outside any node train normally
        if id(p) not in seen and p.requires_grad:
            seen.add(id(p))
            by_mult.setdefault(1.0, []).append(p)
    order = sorted(by_mult, key=lambda m: (m != 1.0, m))
    return [{"params": by_mult[m], "lr_mult": m} for m in order], frozen


def frozen_modules(compiled: Compiled) -> list[nn.Module]:
    """Submodules of frozen nodes: kept in eval mode while training (BatchNorm statistics and
    dropout stay as they were, as transfer learning expects)."""
    out = []
    for node_id, name in compiled.module_names.items():
        node = compiled.graph.nodes.get(node_id)
        if node is not None and (node.frozen or node.lr_mult == 0.0):
            try:
                out.append(compiled.module.get_submodule(name))
            except AttributeError:
                pass
    return out


def make_optimizer(groups: list[dict[str, Any]], settings: Any) -> torch.optim.Optimizer:
    """The settings' optimizer over ``groups``, each at ``settings.lr`` times its multiplier."""
    for group in groups:
        group["lr"] = settings.lr * group["lr_mult"]
    name, decay = settings.optimizer, settings.weight_decay
    if name == "sgd":
        return torch.optim.SGD(groups, lr=settings.lr, momentum=settings.momentum,
                               weight_decay=decay)
    if name == "adam":
        return torch.optim.Adam(groups, lr=settings.lr, weight_decay=decay)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=settings.lr, weight_decay=decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(groups, lr=settings.lr, momentum=settings.momentum,
                                   weight_decay=decay)
    raise TrainingFailed(f"training.optimizer must be sgd, adam, adamw or rmsprop, not {name!r}")


def make_schedule(optimizer: torch.optim.Optimizer, settings: Any, total_steps: int
                  ) -> tuple[Any, bool]:
    """(scheduler or None, whether it steps per batch rather than per epoch)."""
    name = settings.schedule
    if name == "none":
        return None, False
    if name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, settings.step_size, settings.gamma), False
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(1, total_steps)), True
    if name == "onecycle":
        cycle_momentum = settings.optimizer in ("adam", "adamw") or settings.momentum > 0
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=[g["lr"] for g in optimizer.param_groups],
            total_steps=max(1, total_steps), cycle_momentum=cycle_momentum), True
    raise TrainingFailed(f"training.schedule must be none, step, cosine or onecycle, not {name!r}")


def base_lr(optimizer: torch.optim.Optimizer) -> float:
    """The learning rate now, before per-node multipliers (the first group's over its own)."""
    group = optimizer.param_groups[0]
    return float(group["lr"]) / (group.get("lr_mult") or 1.0)
