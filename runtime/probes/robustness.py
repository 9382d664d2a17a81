"""The robustness probe: accuracy on a small fixed validation subset, clean and under an
FGSM or PGD attack, at each epoch's end, with a few examples for the panel to draw.

The subset is the same every epoch (so the curve follows the weights, not the samples), and
the attack puts back every training flag and parameter gradient it touches.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from runtime.attacks import METHODS, default_eps, fgsm, pgd
from runtime.compile import Compiled
from runtime.evaluation import model_device
from runtime.heads import make_heads
from runtime.probes.payloads import ProbeSamples, Robustness
from runtime.probes.views import MAX_SIDE, as_numpy, pick_probe_samples, shrink

ROBUSTNESS_SAMPLES = 64  # validation samples attacked at each epoch's end
ROBUSTNESS_EXAMPLES = 4  # of them, sent with their perturbation for the panel to draw
ROBUSTNESS_MAX_EXAMPLES = 16


def robustness_checks(compiled: Compiled, data: Any) -> None:
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


def robustness_subset(data: Any, samples: int = ROBUSTNESS_SAMPLES) -> ProbeSamples:
    """The fixed validation subset the probe attacks: ``pick_probe_samples``' class-balanced
    picks (the same every epoch, so the curve follows the weights, not the samples)."""
    picks = pick_probe_samples(data, max(1, int(samples)))
    if not picks["labels"]:
        raise ValueError("the robustness probe needs class labels; use a classification data "
                         "set")
    return picks


def robustness(compiled: Compiled, data: Any, method: str = "fgsm", eps: float | None = None,
               samples: int = ROBUSTNESS_SAMPLES, steps: int = 5,
               examples: int = ROBUSTNESS_EXAMPLES, subset: ProbeSamples | None = None,
               value_range: Any = None) -> Robustness:
    """Accuracy of the network as it is on a small fixed validation subset, clean and under an
    L-inf attack of size ``eps`` (data units; default a tenth of the data's value range), plus
    the first ``examples`` samples with their perturbation and adversarial prediction.

    Runs in eval mode; parameter gradients and every training flag are put back
    (``runtime.crafting.crafting``); PGD's random start has its own seeded generator, so the
    probe does not change how a seeded run trains. ``subset`` is ``robustness_subset``'s dict
    when the caller keeps it between epochs. Adversarial inputs stay in ``value_range``
    (default: the data's).
    """
    started = time.perf_counter()
    method = str(method).lower()
    if method not in METHODS:
        raise ValueError(f"robustness probe method '{method}' is unknown; use one of "
                         f"{', '.join(METHODS)}")
    robustness_checks(compiled, data)
    if value_range is None:
        value_range = getattr(data, "value_range", (0.0, 1.0))
    eps = default_eps(value_range) if eps is None else float(eps)
    if eps < 0:
        raise ValueError(f"robustness probe eps is {eps}; use 0 or more")
    picks = subset if subset is not None else robustness_subset(data, samples)
    module = compiled.module
    device = model_device(module)
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
        shown = [as_numpy(shrink(torch.as_tensor(a), (MAX_SIDE, MAX_SIDE))) for a in shown]
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

