"""The confusion matrix of a per-token tagger (an Output with task tagging), counted over every
labelled token of the evaluation set.

A tagger has no per-sample class, so the sample-level matrix (``views.confusion``) finds no
classification head; its user still wants to know which tags it mixes up. Every step whose
target is not ``IGNORE`` (padding, unlabelled words) is one count, so the matrix sums to the
labelled tokens, as the tagger's accuracy counts them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from runtime.capture import EVAL_BATCH, as_batch, output_list
from runtime.compile import Compiled
from runtime.evaluation import evaluating, model_device, row_count, take_rows
from runtime.heads import IGNORE, Head, make_heads
from runtime.probes.payloads import Confusion


def tagging_head(compiled: Compiled) -> tuple[int, Head] | None:
    """(index among the outputs, head) of the first tagging Output, or None."""
    for index, head in enumerate(make_heads(compiled)):
        if head.task == "tagging":
            return index, head
    return None


def confusion_counts(truth: Tensor, predicted: Tensor, classes: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(matrix (C, C) int64, rows = true class; per-class accuracy (C,), nan for a class
    without samples) of two flat label tensors."""
    matrix = torch.bincount(truth.long() * classes + predicted.long(),
                            minlength=classes * classes)
    matrix_np = matrix.reshape(classes, classes).cpu().numpy().astype(np.int64)
    rows = matrix_np.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(rows > 0, np.diag(matrix_np) / np.maximum(rows, 1), np.nan)
    return matrix_np, per_class.astype(np.float32)


def token_confusion(compiled: Compiled, data: Any, x: Any, y: Any) -> Confusion:
    """The token-level confusion matrix of the first tagging head over ``(x, y)``."""
    found = tagging_head(compiled)
    if found is None:
        raise ValueError("the network has no classification or tagging Output; set an "
                         "Output's task to classification or tagging")
    index, head = found
    if isinstance(y, dict):
        y = y[head.name] if head.name in y else next(iter(y.values()))
    module = compiled.module
    truths: list[Tensor] = []
    predictions: list[Tensor] = []
    width = 0
    with evaluating(module), torch.no_grad():
        device = model_device(module)
        for start in range(0, row_count(x), EVAL_BATCH):
            part = slice(start, start + EVAL_BATCH)
            out = output_list(module(*as_batch(compiled, take_rows(x, part), device)))[index]
            width = int(out.shape[-1])
            truth = take_rows(y, part).reshape(-1).long().cpu()
            predicted = out.reshape(-1, width).argmax(-1).cpu()
            keep = truth != IGNORE
            truths.append(truth[keep])
            predictions.append(predicted[keep])
    truth = torch.cat(truths) if truths else torch.zeros(0, dtype=torch.long)
    predicted = torch.cat(predictions) if predictions else torch.zeros(0, dtype=torch.long)
    classes = max(int(getattr(data, "num_classes", 0) or 0), width,
                  int(truth.max()) + 1 if truth.numel() else 0)
    matrix, per_class = confusion_counts(truth, predicted, classes)
    names = list(getattr(data, "class_names", []) or [])
    return {"matrix": matrix, "per_class_accuracy": per_class,
            "accuracy": float(np.trace(matrix) / max(1, matrix.sum())),
            "class_names": [names[c] if c < len(names) else str(c) for c in range(classes)],
            "samples": int(truth.numel()), "unit": "tokens", "wrong": [],
            "wrong_inputs": []}
