"""Output heads: what each Output node's task means for the loss and the metrics.

One ``Head`` per Output node (its task, loss and weight); ``LossFunction`` sums the heads'
weighted losses for the trainer, the attacks and the probes; ``Meter`` accumulates a head's
loss and metrics over an epoch; ``summarize`` turns meters into the epoch event's keys. A new
task is a new branch here, not a change to the training loop in ``runtime.train``.

Tasks (``graph.catalog.TASKS``) and their epoch-event metrics:

- classification: one class per sample (cross_entropy, or bce for one logit): "accuracy".
- regression: numbers (mse): "r2", averaged over the target columns.
- tagging: one class per sequence step, output N x L x C, targets N x L; steps whose target
  is ``IGNORE`` (-100: padding, unlabelled words) count in neither loss nor accuracy:
  "accuracy" over the labelled steps.
- forecasting: the next values of a series (mse): "mse", and "baseline_mse", the error of
  repeating the input's last step (inputs list the target features first, so the baseline is
  the first features of the last step; left out when the shapes do not say which they are).
- reconstruction: the target is the network's own input (the first Input with as many values
  per sample as the output); mse on the output, or bce on its logits for inputs in [0, 1]:
  "mse" of the reconstruction; the dataset's labels are not trained on, but when they are
  0 (normal) / 1 (anomaly) the epoch also reports "roc_auc" of the per-sample error as an
  anomaly score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from runtime.compile import Compiled


class TrainingFailed(Exception):
    """A failure the user can act on; the message is one line that says what to do."""


Metrics = dict[str, float]  # metric key (as in the epoch event) -> value; open-ended per head
IGNORE = -100  # tagging target of a step without a label (torch's cross_entropy ignore_index)


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
        if self.task == "tagging":
            return "cross_entropy"
        return "mse"

    def compute(self, out: Tensor, y: Tensor, x: Any = None) -> Tensor:
        """Mean loss of one batch; ``x`` (the network's inputs) is needed by reconstruction."""
        kind = self.loss_kind(out)
        if self.task == "reconstruction":
            y = self.reconstruction_target(out, x)
        if not self._checked:
            self._check(out, y, kind)
            self._checked = True
        if self.task == "tagging":
            scores, truth = out.reshape(-1, out.shape[-1]), y.reshape(-1).long()
            if not bool((truth != IGNORE).any()):  # a batch of padding only: nothing to learn
                return scores.sum() * 0.0
            return nn.functional.cross_entropy(scores, truth, ignore_index=IGNORE)
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

    def reconstruction(self, out: Tensor) -> Tensor:
        """What a reconstruction head's output means in input units: the sigmoid of its logits
        when it trains with bce, else the output itself."""
        return torch.sigmoid(out) if self.loss_kind(out) == "bce" else out

    def reconstruction_target(self, out: Tensor, x: Any) -> Tensor:
        """The input a reconstruction head must reproduce, shaped like its output: the first
        float input with as many values per sample (so N x 64 can rebuild N x 1 x 8 x 8)."""
        if x is None:
            raise TrainingFailed(f"{self.label} (reconstruction) compares its output with the "
                                 "network's input, but no input was given; pass the inputs "
                                 "along with the outputs")
        inputs = list(x.values()) if isinstance(x, dict) else (
            list(x) if isinstance(x, (tuple, list)) else [x])
        wanted = _values_per_sample(out)
        for t in inputs:
            if isinstance(t, Tensor) and t.dim() >= 1 and t.shape[0] == out.shape[0] \
                    and _values_per_sample(t) == wanted:
                if not t.is_floating_point():
                    raise TrainingFailed(
                        f"{self.label} (reconstruction) would rebuild integer token ids; "
                        "reconstruct float inputs, or use task tagging to predict tokens")
                return t.reshape(out.shape).to(out.dtype)
        first = next((t for t in inputs if isinstance(t, Tensor)), None)
        have = _per_sample(first) if first is not None else "no tensor"
        raise TrainingFailed(
            f"{self.label} (reconstruction) gives {_per_sample(out)} values per sample but the "
            f"input it should rebuild is {have}; make the decoder end with that many values "
            "(a Linear and a Reshape to the input's shape)")

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
        if self.task == "tagging":
            self._check_tagging(out, y, kind)
            return
        if self.task == "reconstruction" and kind == "bce" and y.numel():
            low, high = float(y.min()), float(y.max())
            if low < 0.0 or high > 1.0:
                raise TrainingFailed(
                    f"{self.label} (reconstruction) uses loss bce, which needs inputs from 0 to "
                    f"1, but they range from {low:.3g} to {high:.3g}; use loss mse or scale the "
                    "inputs to 0..1")
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

    def _check_tagging(self, out: Tensor, y: Tensor, kind: str) -> None:
        if kind != "cross_entropy":
            raise TrainingFailed(f"{self.label} (tagging) trains with cross_entropy, not {kind}; "
                                 "set its loss to auto")
        if y.is_floating_point() or y.dim() < 2:
            raise TrainingFailed(
                f"{self.label} (tagging) needs one class label per step, but the dataset gives "
                f"{'numbers' if y.is_floating_point() else 'one label per sample'} "
                f"({_per_sample(y)} per sample); use task classification or regression")
        if out.dim() != y.dim() + 1 or out.shape[:-1] != y.shape:
            raise TrainingFailed(
                f"{self.label} (tagging) gives {_per_sample(out)} values per sample but the "
                f"dataset labels {_per_sample(y)} steps; keep the recurrent layer's output "
                "'sequence' and end with a Linear giving one score per class at every step")
        labelled = y[y != IGNORE]
        classes = max(self.num_classes, int(labelled.max().item()) + 1 if labelled.numel()
                      else 0)
        if classes > out.shape[-1]:
            raise TrainingFailed(
                f"{self.label} gives {out.shape[-1]} class scores per step but the dataset has "
                f"{classes} tags; give the layer before it {classes} outputs")

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


def _values_per_sample(t: Tensor) -> int:
    count = 1
    for d in t.shape[1:]:
        count *= int(d)
    return count


def forecast_baseline(x: Any, y: Tensor) -> Tensor | None:
    """Repeat-the-last-value forecasts shaped like ``y`` (N x H, or N x H x F), or None.

    The inputs (N x W x F, or N x W for one feature) list the target features first, so the
    baseline for F target features is the first F features of the last step, repeated for
    each of the H steps ahead. None when the inputs are not one float series of that form.
    """
    if not isinstance(x, Tensor) or not x.is_floating_point() or x.dim() not in (2, 3) \
            or y.dim() not in (2, 3) or x.shape[0] != y.shape[0]:
        return None
    last = x[:, -1] if x.dim() == 3 else x[:, -1:]
    features = 1 if y.dim() == 2 else int(y.shape[2])
    if last.shape[1] < features:
        return None
    return last[:, :features].unsqueeze(1).expand(y.shape[0], y.shape[1], features
                                                  ).reshape(y.shape).to(y.dtype)


def roc_auc(scores: Any, labels: Any) -> float | None:
    """Area under the ROC curve of ``scores`` for the positive class 1 against 0 (ties count
    half; scikit-learn's); None unless the labels are 0/1 with both present."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(labels).reshape(-1)
    if len(s) != len(y) or not np.isin(y, (0, 1)).all() or len(np.unique(y)) < 2:
        return None
    from sklearn.metrics import roc_auc_score  # late: a second to import, needed at epoch end

    return float(roc_auc_score(y, s))


class Meter:
    """Running loss and metrics of one head over an epoch; sums stay on the device."""

    def __init__(self, head: Head) -> None:
        self.head = head
        self.loss_sum: Tensor | float = 0.0
        self.samples = 0
        self.correct: Tensor | float = 0.0
        self.count: Tensor | int = 0
        self.columns: list[Tensor] | None = None  # regression: sum y, sum y^2, sse (float64)
        self.rows = 0
        self.sse: Tensor | float = 0.0  # forecasting: squared errors, model and baseline
        self.baseline_sse: Tensor | float = 0.0
        self.values = 0
        self.has_baseline = True
        self.errors: list[Tensor] = []  # reconstruction: per-sample mean squared error
        self.labels: list[Tensor] = []
        self.labelled = True

    def update(self, out: Tensor, y: Tensor, loss: Tensor, batch: int, x: Any = None) -> None:
        """Add one batch: the head's output, the dataset's targets, the head's loss and, for
        forecasting baselines and reconstruction, the network's inputs ``x``."""
        out = out.detach()
        self.loss_sum = self.loss_sum + loss.detach().double() * batch
        self.samples += batch
        task = self.head.task
        if task == "classification":
            correct, count = self.head.predictions_correct(out, y)
            self.correct = self.correct + correct
            self.count = self.count + count
        elif task == "tagging":
            predicted = out.argmax(-1)
            truth = y.detach().reshape(predicted.shape)
            labelled = truth != IGNORE
            self.correct = self.correct + ((predicted == truth) & labelled).sum()
            self.count = self.count + labelled.sum()
        elif task == "forecasting":
            pred = out.double().reshape(out.shape[0], -1)
            truth = y.detach().double().reshape(pred.shape)
            self.sse = self.sse + ((pred - truth) ** 2).sum()
            self.values += pred.numel()
            base = forecast_baseline(x, y.detach())
            if base is None:
                self.has_baseline = False
            else:
                self.baseline_sse = self.baseline_sse + (
                    (base.double().reshape(pred.shape) - truth) ** 2).sum()
        elif task == "reconstruction":
            target = self.head.reconstruction_target(out, x)
            error = (self.head.reconstruction(out).double() - target.double()) ** 2
            self.errors.append(error.reshape(out.shape[0], -1).mean(1))
            if isinstance(y, Tensor) and not y.is_floating_point() and y.dim() == 1 \
                    and y.shape[0] == out.shape[0]:
                self.labels.append(y.detach())
            else:
                self.labelled = False
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

    def metrics(self) -> dict[str, float]:
        """The head's metrics by key (see the module docstring), the main one first."""
        task = self.head.task
        if task in ("classification", "tagging"):
            count = float(self.count)
            return {"accuracy": float(self.correct) / count if count else float("nan")}
        if task == "forecasting":
            if not self.values:
                return {"mse": float("nan")}
            out = {"mse": float(self.sse) / self.values}
            if self.has_baseline:
                out["baseline_mse"] = float(self.baseline_sse) / self.values
            return out
        if task == "reconstruction":
            if not self.errors:
                return {"mse": float("nan")}
            errors = torch.cat(self.errors).cpu()
            out = {"mse": float(errors.mean())}
            if self.labelled and self.labels:
                auc = roc_auc(errors.numpy(), torch.cat(self.labels).cpu().numpy())
                if auc is not None:
                    out["roc_auc"] = auc
            return out
        if self.columns is None or self.rows == 0:
            return {"r2": float("nan")}
        sum_y, sum_y2, sse = (c.cpu() for c in self.columns)
        sst = sum_y2 - sum_y * sum_y / self.rows
        scores = [1.0 - float(e) / float(t) if t > 1e-12 else (1.0 if e <= 1e-12 else 0.0)
                  for e, t in zip(sse, sst, strict=True)]
        return {"r2": sum(scores) / len(scores)}

    def metric(self) -> tuple[str, float]:
        """(key, value) of the main metric: "accuracy", "r2" or "mse"."""
        return next(iter(self.metrics().items()))


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

    def __call__(self, outputs: Any, y: Any, x: Any = None) -> Tensor:
        return self.total(self.split(outputs, y), x)[0]

    def total(self, triples: list[tuple[Head, Tensor, Tensor]], x: Any = None
              ) -> tuple[Tensor, list[Tensor]]:
        """(weighted total, per-head losses); ``x``, the inputs, for reconstruction heads."""
        losses = [head.compute(out, target, x) for head, out, target in triples]
        total = sum((h.weight * loss for (h, _, _), loss in zip(triples, losses, strict=True)
                     if h.weight != 0.0), torch.zeros((), device=losses[0].device))
        return total, losses


def make_heads(compiled: Compiled, num_classes: int = 0) -> list[Head]:
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


def make_loss(compiled: Compiled, num_classes: int = 0) -> LossFunction:
    return LossFunction(make_heads(compiled, num_classes))

def summarize(loss: float, meters: list[Meter]) -> Metrics:
    """{"loss", "<metric>", and per head "<metric>/<name>", "loss/<name>" when several}."""
    result: Metrics = {"loss": loss}
    several = len(meters) > 1
    for meter in meters:
        for key, value in meter.metrics().items():
            result.setdefault(key, value)  # the first head of each kind gives the plain key
            if several:
                result[f"{key}/{meter.head.name}"] = value
        if several:
            result[f"loss/{meter.head.name}"] = meter.loss
    return result


def prefixed(prefix: str, summary: Metrics) -> Metrics:
    """Keys as in the epoch event: "loss" -> "val_loss"."""
    out = {}
    for key, value in summary.items():
        out[f"{prefix}_{key}"] = value
    return out

