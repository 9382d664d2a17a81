"""The loss and the score of an exported training script, as the Output head trains and
measures them in Plexus (runtime/heads.py): classification, regression, tagging, forecasting
or reconstruction."""

from __future__ import annotations


def resolved_loss(task: str, loss: str, width: int) -> str:
    """The Output head's loss as ``runtime.train.Head.loss_kind`` resolves "auto"."""
    if loss != "auto":
        return loss
    if task == "classification":
        return "bce" if width <= 1 else "cross_entropy"
    if task == "tagging":
        return "cross_entropy"
    return "mse"


LOSS_CALLS = {
    "bce": "nn.functional.binary_cross_entropy_with_logits",
    "mse": "nn.functional.mse_loss",
    "l1": "nn.functional.l1_loss",
    "huber": "nn.functional.huber_loss",
}


def loss_source(task: str, loss: str, width: int) -> str:
    """The script's ``compute_loss`` for a head of ``task`` with ``width`` outputs."""
    if task == "tagging":
        body = ('    """Cross-entropy of every step\'s tag scores (N x L x C) against its tag\n'
                '    (N x L); steps tagged IGNORE (padding, unlabelled) do not count."""\n'
                "    scores, truth = out.reshape(-1, out.shape[-1]), y.reshape(-1).long()\n"
                "    if not bool((truth != IGNORE).any()):  # a batch of padding only\n"
                "        return scores.sum() * 0.0\n"
                "    return nn.functional.cross_entropy(scores, truth, ignore_index=IGNORE)\n")
    elif loss == "cross_entropy":
        body = ('    """Cross-entropy of the class scores against the class labels."""\n'
                "    return nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), "
                "y.reshape(-1))\n")
    elif task == "reconstruction":
        call = LOSS_CALLS[loss]
        what = "the output's logits against the input (in 0..1)" if loss == "bce" else \
            "the output against the input it rebuilds"
        body = (f'    """{loss} loss of {what}."""\n'
                f"    return {call}(out, x.reshape(out.shape).to(out.dtype))\n")
        return ("\n\ndef compute_loss(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:\n"
                + body)
    else:
        call = LOSS_CALLS[loss]
        one_hot = task == "classification" and width > 1
        target = ("nn.functional.one_hot(y.long(), out.shape[-1]).to(out.dtype)"
                  ".reshape(out.shape)" if one_hot else "y.to(out.dtype).reshape(out.shape)")
        body = (f'    """{loss} loss of the output against the targets."""\n'
                f"    return {call}(out, {target})\n")
    return "\n\ndef compute_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:\n" + body


_ACCURACY = '''

class Score:
    """{doc}"""

    name = "accuracy"

    def __init__(self) -> None:
        self.correct, self.count = 0, 0

    def update(self, out: torch.Tensor, y: torch.Tensor) -> None:
{predict}
{tally}

    def values(self) -> dict[str, float]:
        return {self.name: self.correct / self.count if self.count else float("nan")}
'''

_ARGMAX = '''        predicted = out.argmax(-1)
        truth = y.reshape(predicted.shape)'''
_THRESHOLD = '''        predicted = out.reshape(-1) > {threshold}
        truth = y.reshape(-1).to(out.dtype) > 0.5'''
_TALLY_ALL = '''        self.correct += int((predicted == truth).sum())
        self.count += predicted.numel()'''
_TALLY_TAGGED = '''        tagged = truth != IGNORE
        self.correct += int(((predicted == truth) & tagged).sum())
        self.count += int(tagged.sum())'''


def _accuracy(doc: str, predict: str, tally: str) -> str:
    """The accuracy Score: ``predict`` sets predicted and truth, ``tally`` counts them."""
    return _ACCURACY.replace("{doc}", doc).replace("{predict}", predict).replace(
        "{tally}", tally)


_R2 = '''

class Score:
    """R^2 of each target column, averaged (1.0 is perfect), as Plexus measures it."""

    name = "r2"

    def __init__(self) -> None:
        self.sums: list[torch.Tensor] | None = None
        self.rows = 0

    def update(self, out: torch.Tensor, y: torch.Tensor) -> None:
        pred = out.double().reshape(out.shape[0], -1)
        truth = y.double().reshape(pred.shape)
        sums = [truth.sum(0), (truth * truth).sum(0), ((truth - pred) ** 2).sum(0)]
        if self.sums is not None:
            sums = [a + b for a, b in zip(self.sums, sums, strict=True)]
        self.sums = sums
        self.rows += pred.shape[0]

    def values(self) -> dict[str, float]:
        if self.sums is None:
            return {self.name: float("nan")}
        sum_y, sum_y2, sse = (s.cpu() for s in self.sums)
        sst = sum_y2 - sum_y * sum_y / self.rows
        scores = [1.0 - float(e) / float(t) if t > 1e-12 else float(e <= 1e-12)
                  for e, t in zip(sse, sst, strict=True)]
        return {self.name: sum(scores) / len(scores)}
'''


_FORECAST_MSE = '''

class Score:
    """Mean squared error of every forecast value, as Plexus measures it, and beside it the
    error of repeating the last input value (baseline_mse), which a useful model beats."""

    name = "mse"

    def __init__(self) -> None:
        self.sse, self.baseline_sse, self.count = 0.0, 0.0, 0
        self.has_baseline = True

    def update(self, out: torch.Tensor, y: torch.Tensor) -> None:
        pred = out.double().reshape(out.shape[0], -1)
        self.sse += float(((pred - y.double().reshape(pred.shape)) ** 2).sum())
        self.count += pred.numel()

    def add_baseline(self, x: torch.Tensor, y: torch.Tensor) -> None:
        base = forecast_baseline(x, y)
        if base is None:
            self.has_baseline = False
        else:
            self.baseline_sse += float(((base.double() - y.double()) ** 2).sum())

    def values(self) -> dict[str, float]:
        if not self.count:
            return {self.name: float("nan")}
        out = {self.name: self.sse / self.count}
        if self.has_baseline:
            out["baseline_mse"] = self.baseline_sse / self.count
        return out
'''

_RECONSTRUCTION_MSE = '''

class Score:
    """Mean squared error of the reconstruction against the input, per sample and then
    averaged, as Plexus measures it (SIGMOID).

    With 0/1 labels (1: an anomaly) also the area under the ROC curve of that error as an
    anomaly score (roc_auc)."""

    name = "mse"

    def __init__(self) -> None:
        self.errors: list[torch.Tensor] = []
        self.labels: list[torch.Tensor] = []

    def update(self, out: torch.Tensor, x: torch.Tensor) -> None:
        rebuilt = RECONSTRUCTION.double()
        error = (rebuilt - x.double().reshape(out.shape)) ** 2
        self.errors.append(error.reshape(out.shape[0], -1).mean(1).cpu())

    def add_labels(self, y: torch.Tensor) -> None:
        """The samples' labels, when the data set gives one class id per sample."""
        if not y.is_floating_point() and y.dim() == 1:
            self.labels.append(y.cpu())

    def values(self) -> dict[str, float]:
        if not self.errors:
            return {self.name: float("nan")}
        errors = torch.cat(self.errors)
        out = {self.name: float(errors.mean())}
        labels = torch.cat(self.labels) if self.labels else None
        if labels is not None and len(labels) == len(errors):
            auc = roc_auc(errors.numpy(), labels.numpy())
            if auc is not None:
                out["roc_auc"] = auc
        return out


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Area under the ROC curve of ``scores`` for class 1 against 0, ties counting half (the
    Mann-Whitney statistic, as scikit-learn's roc_auc_score); None unless both classes are
    present and no other."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels).reshape(-1)
    positive = labels == 1
    n_pos, n_neg = int(positive.sum()), int((labels == 0).sum())
    if n_pos == 0 or n_neg == 0 or n_pos + n_neg != len(labels):
        return None
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]  # average rank of each tie
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))
'''


def score_source(task: str, loss: str, width: int) -> str:
    """The script's ``Score`` class: the metric Plexus reports for the head."""
    if task == "tagging":
        return _accuracy("Accuracy over the tagged steps (targets other than IGNORE), as "
                         "Plexus measures it.", _ARGMAX, _TALLY_TAGGED)
    if task == "forecasting":
        import inspect

        from runtime.heads import forecast_baseline

        return _FORECAST_MSE + "\n\n" + inspect.getsource(forecast_baseline)
    if task == "reconstruction":
        bce = loss == "bce"
        return _RECONSTRUCTION_MSE.replace(
            "RECONSTRUCTION", "torch.sigmoid(out)" if bce else "out").replace(
            " (SIGMOID)", "; the reconstruction is the sigmoid of the logits" if bce else "")
    if task != "classification":
        return _R2
    if width > 1:
        predict = _ARGMAX
    else:
        predict = _THRESHOLD.replace("{threshold}", "0.0" if loss == "bce" else "0.5")
    return _accuracy("Accuracy over the batches seen (as Plexus measures it).", predict,
                     _TALLY_ALL)


SEVERAL_TASKS = ("classification", "regression", "tagging")  # heads that read only (out, y)

_SEVERAL = '''

HEAD_LOSSES = [{losses}]  # (loss function, weight) per head


def compute_loss(outs: tuple[torch.Tensor, ...], ys: list[torch.Tensor]) -> torch.Tensor:
    """The weighted sum of every head's loss, as Plexus trains several heads."""
    return sum(weight * loss(out, y)
               for (loss, weight), out, y in zip(HEAD_LOSSES, outs, ys, strict=True))


class Score:
    """Every head's metrics as Plexus reports them: the first head of each kind gives the
    plain key ("accuracy"), and each head its own ("accuracy/<head>")."""

    def __init__(self) -> None:
        self.heads = [{scores}]

    def update(self, outs: tuple[torch.Tensor, ...], ys: list[torch.Tensor]) -> None:
        for score, out, y in zip(self.heads, outs, ys, strict=True):
            score.update(out, y)

    def values(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for head, score in zip(HEADS, self.heads, strict=True):
            for key, value in score.values().items():
                out.setdefault(key, value)
                out[f"{key}/{head}"] = value
        return out
'''


def several_heads_source(losses: str, scores: str) -> str:
    """The script's ``compute_loss`` and ``Score`` over several heads, from the heads' own
    ``(loss function, weight)`` pairs and Score classes, in the order the model returns them."""
    return _SEVERAL.replace("{losses}", losses).replace("{scores}", scores)
