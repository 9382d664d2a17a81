"""Output heads: what each Output node's task means for the loss and the metrics.

One ``Head`` per Output node (its task, loss and weight); ``LossFunction`` sums the heads'
weighted losses for the trainer, the attacks and the probes; ``Meter`` accumulates a head's
loss and metric over an epoch; ``summarize`` turns meters into the epoch event's keys. A new
task is a new branch here, not a change to the training loop in ``runtime.train``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn


class TrainingFailed(Exception):
    """A failure the user can act on; the message is one line that says what to do."""


@dataclass
class Head:
    """One Output node: its task, loss and weight, and how its metric is measured."""

    node_id: int
    name: str
    task: str = "classification"
    loss: str = "auto"
    weight: float = 1.0
    num_classes: int = 0  # from the dataset when known; checked against the output width
    _checked: bool = field(default=False, repr=False)

    @property
    def label(self) -> str:
        return f"Output '{self.name}'"

    def loss_kind(self, out: Tensor) -> str:
        """The loss actually used: 'auto' resolved from the task and the output width."""
        if self.loss != "auto":
            return self.loss
        if self.task == "classification":
            return "bce" if out.dim() == 1 or out.shape[-1] == 1 else "cross_entropy"
        return "mse"

    def compute(self, out: Tensor, y: Tensor) -> Tensor:
        """Mean loss of one batch."""
        kind = self.loss_kind(out)
        if not self._checked:
            self._check(out, y, kind)
            self._checked = True
        if kind == "cross_entropy":
            if y.is_floating_point():  # class probabilities, same shape as the output
                return nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]),
                                                   y.reshape(-1, out.shape[-1]))
            return nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
        target = self._dense_target(out, y)
        if kind == "bce":
            return nn.functional.binary_cross_entropy_with_logits(out, target)
        if kind == "mse":
            return nn.functional.mse_loss(out, target)
        if kind == "l1":
            return nn.functional.l1_loss(out, target)
        if kind == "huber":
            return nn.functional.huber_loss(out, target)
        raise TrainingFailed(f"{self.label}: unknown loss {kind!r}; choose one of auto, "
                             "cross_entropy, bce, mse, l1, huber")

    def _dense_target(self, out: Tensor, y: Tensor) -> Tensor:
        """Targets with the output's shape and dtype (one-hot for class indices)."""
        if not y.is_floating_point() and out.dim() > 1 and out.shape[-1] > 1 \
                and y.numel() * out.shape[-1] == out.numel():
            return nn.functional.one_hot(y.long(), out.shape[-1]).to(out.dtype).reshape(out.shape)
        return y.to(out.dtype).reshape(out.shape)

    def _check(self, out: Tensor, y: Tensor, kind: str) -> None:
        """Turn shape and class-count mismatches into messages that say what to change."""
        width = out.shape[-1] if out.dim() > 1 else 1
        per_sample = _per_sample(out)
        if kind == "cross_entropy":
            if y.is_floating_point() and y.shape != out.shape:
                raise TrainingFailed(
                    f"{self.label}: loss cross_entropy needs class labels, but the dataset "
                    f"gives numbers ({_per_sample(y)} per sample); use task regression with "
                    "loss mse")
            if not y.is_floating_point():
                if y.numel() * width != out.numel():
                    raise TrainingFailed(
                        f"{self.label} gives {per_sample} values per sample but the dataset "
                        f"has {_per_sample(y)} labels per sample; give the layer before it "
                        "one output per class")
                classes = max(self.num_classes, int(y.max().item()) + 1 if y.numel() else 0)
                if width < 2:
                    raise TrainingFailed(
                        f"{self.label} gives 1 value per sample, too few for cross_entropy; "
                        f"give the layer before it {max(classes, 2)} outputs or use loss bce")
                if classes > width:
                    raise TrainingFailed(
                        f"{self.label} gives {width} class scores but the dataset has "
                        f"{classes} classes; give the layer before it {classes} outputs")
            return
        dense_ok = y.numel() == out.numel() or (
            not y.is_floating_point() and out.dim() > 1
            and y.numel() * out.shape[-1] == out.numel())
        if not dense_ok:
            if self.task == "classification" and not y.is_floating_point() and width == 1:
                classes = max(self.num_classes, int(y.max().item()) + 1 if y.numel() else 0)
                raise TrainingFailed(
                    f"{self.label} gives 1 value per sample (a yes/no score) but the dataset "
                    f"has {classes} classes; give the layer before it {classes} outputs")
            raise TrainingFailed(
                f"{self.label} gives {per_sample} values per sample but the dataset's targets "
                f"have {_per_sample(y)}; make the layer before it produce {_per_sample(y)}")
        if kind == "bce" and self.task == "classification" and not y.is_floating_point() \
                and y.numel() == out.numel():
            classes = max(self.num_classes, int(y.max().item()) + 1 if y.numel() else 0)
            if classes > 2:
                raise TrainingFailed(
                    f"{self.label} gives 1 value per sample (a yes/no score) but the dataset "
                    f"has {classes} classes; give the layer before it {classes} outputs")

    def predictions_correct(self, out: Tensor, y: Tensor) -> tuple[Tensor, int]:
        """(number of correct predictions as a tensor, number of predictions)."""
        kind = self.loss_kind(out)
        if out.dim() > 1 and out.shape[-1] > 1 and (kind == "cross_entropy" or (
                not y.is_floating_point() and y.numel() * out.shape[-1] == out.numel())):
            predicted = out.argmax(-1)
            truth = y.argmax(-1) if y.is_floating_point() and y.shape == out.shape else y
            truth = truth.reshape(predicted.shape)
            return (predicted == truth).sum(), predicted.numel()
        threshold = 0.0 if kind == "bce" else 0.5  # logits vs. probabilities/labels
        predicted = out.reshape(-1) > threshold
        truth = y.reshape(-1).to(out.dtype) > 0.5
        return (predicted == truth).sum(), predicted.numel()


def _per_sample(t: Tensor) -> str:
    return " x ".join(str(d) for d in t.shape[1:]) or "1"


class Meter:
    """Running loss and metric of one head over an epoch; values stay on the device."""

    def __init__(self, head: Head) -> None:
        self.head = head
        self.loss_sum = 0.0
        self.samples = 0
        self.correct: Tensor | float = 0.0
        self.count = 0
        self.columns: list[Tensor] | None = None  # regression: sum y, sum y^2, sse (float64)
        self.rows = 0

    def update(self, out: Tensor, y: Tensor, loss: Tensor, batch: int) -> None:
        out = out.detach()
        self.loss_sum = self.loss_sum + loss.detach().double() * batch
        self.samples += batch
        if self.head.task == "classification":
            correct, count = self.head.predictions_correct(out, y)
            self.correct = self.correct + correct
            self.count += count
        else:
            pred = out.double().reshape(out.shape[0], -1)
            truth = y.detach().double().reshape(pred.shape)
            sums = [truth.sum(0), (truth * truth).sum(0), ((truth - pred) ** 2).sum(0)]
            self.columns = sums if self.columns is None else [
                a + b for a, b in zip(self.columns, sums, strict=True)]
            self.rows += pred.shape[0]

    @property
    def loss(self) -> float:
        return float(self.loss_sum / self.samples) if self.samples else float("nan")

    def metric(self) -> tuple[str, float]:
        """("accuracy", value) for classification, ("r2", value) for regression."""
        if self.head.task == "classification":
            return "accuracy", float(self.correct) / self.count if self.count else float("nan")
        if self.columns is None or self.rows == 0:
            return "r2", float("nan")
        sum_y, sum_y2, sse = (c.cpu() for c in self.columns)
        sst = sum_y2 - sum_y * sum_y / self.rows
        scores = [1.0 - float(e) / float(t) if t > 1e-12 else (1.0 if e <= 1e-12 else 0.0)
                  for e, t in zip(sse, sst, strict=True)]
        return "r2", sum(scores) / len(scores)


class LossFunction:
    """The weighted sum of every head's loss for one batch.

    What training minimises, and what attacks (runtime/attacks.py) ascend:
    ``loss_fn(module(x), y) -> scalar``. ``outputs`` is a tensor (one head) or a tuple in
    ``compiled.output_nodes`` order; ``y`` a tensor (one head), a tuple in the same order, or a
    dict keyed by Output node name (or id).
    """

    def __init__(self, heads: Sequence[Head]) -> None:
        if not heads:
            raise TrainingFailed("the network has no Output node; add one after the last layer")
        self.heads = list(heads)

    def split(self, outputs: Any, y: Any) -> list[tuple[Head, Tensor, Tensor]]:
        """(head, output, target) triples."""
        outs = list(outputs) if isinstance(outputs, (tuple, list)) else [outputs]
        if len(outs) != len(self.heads):
            raise TrainingFailed(f"the network returns {len(outs)} outputs for "
                                 f"{len(self.heads)} Output heads; recompile the graph")
        if isinstance(y, dict):
            targets = []
            for head in self.heads:
                key = next((k for k in (head.name, head.node_id, str(head.node_id)) if k in y),
                           None)
                if key is None:
                    raise TrainingFailed(f"the dataset gives no targets for {head.label}; "
                                         f"its targets are named {', '.join(map(str, y))}")
                targets.append(y[key])
        elif isinstance(y, (tuple, list)):
            targets = list(y)
        else:
            targets = [y]
        if len(targets) != len(self.heads):
            names = ", ".join(h.label for h in self.heads)
            raise TrainingFailed(f"the dataset gives {len(targets)} target(s) but the network "
                                 f"has {len(self.heads)} Output heads ({names}); give each "
                                 "head its targets or remove a head")
        return list(zip(self.heads, outs, targets, strict=True))

    def __call__(self, outputs: Any, y: Any) -> Tensor:
        return self.total(self.split(outputs, y))[0]

    def total(self, triples: list[tuple[Head, Tensor, Tensor]]) -> tuple[Tensor, list[Tensor]]:
        """(weighted total, per-head losses)."""
        losses = [head.compute(out, target) for head, out, target in triples]
        total = sum((h.weight * loss for (h, _, _), loss in zip(triples, losses, strict=True)
                     if h.weight != 0.0), torch.zeros((), device=losses[0].device))
        return total, losses


def make_heads(compiled: Any, num_classes: int = 0) -> list[Head]:
    """The heads of a compiled graph, in ``output_nodes`` order, read from the Output params."""
    graph = compiled.graph
    single = len(compiled.output_nodes) == 1
    heads = []
    for node_id in compiled.output_nodes:
        node = graph.nodes[node_id]
        params = node.all_params()
        heads.append(Head(node_id, node.name, str(params.get("task", "classification")),
                          str(params.get("loss", "auto")), float(params.get("weight", 1.0)),
                          num_classes if single else 0))
    return heads


def make_loss(compiled: Any, num_classes: int = 0) -> LossFunction:
    return LossFunction(make_heads(compiled, num_classes))

def summarize(loss: float, meters: list[Meter]) -> dict[str, Any]:
    """{"loss", "<metric>", and per head "<metric>/<name>", "loss/<name>" when several}."""
    result: dict[str, Any] = {"loss": loss}
    several = len(meters) > 1
    for meter in meters:
        key, value = meter.metric()
        result.setdefault(key, value)  # the first head of each kind gives the plain key
        if several:
            result[f"{key}/{meter.head.name}"] = value
            result[f"loss/{meter.head.name}"] = meter.loss
    return result


def prefixed(prefix: str, summary: dict[str, Any]) -> dict[str, Any]:
    """Keys as in the epoch event: "loss" -> "val_loss"."""
    out = {}
    for key, value in summary.items():
        out[f"{prefix}_{key}"] = value
    return out

