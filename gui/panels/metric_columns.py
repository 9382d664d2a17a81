"""Which epoch columns the Metrics panel draws, per kind of run, declared once.

A classifier's run records train/validation loss and accuracy, a regressor's R^2, a GAN's the
discriminator's and the generator's losses and how often D is right on real and on fake
samples. The plots, legends and read-out ask ``columns_for(kind)`` instead of naming columns,
so a GAN's curves are drawn instead of two empty plots under "loss train - . val -".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Curve:
    """One epoch column and how the legend and read-out name it (long and short)."""

    column: str
    name: str
    brief: str


@dataclass(frozen=True)
class Columns:
    """The first and second curve of the loss and metric plots, and the learning rate.
    ``metric_label`` is None when the run has no second metric to plot."""

    step: Curve  # the per-step loss (its column is only the legend's name)
    loss: tuple[Curve, Curve]
    metric: tuple[Curve, Curve]
    metric_label: str | None
    percent: bool  # the metric is a fraction shown as a percentage
    lr: str

    def loss_columns(self) -> tuple[str, str]:
        return self.loss[0].column, self.loss[1].column


def _standard(metric: str, label: str | None, percent: bool) -> Columns:
    return Columns(Curve("", "train (per step)", "step"),
                   (Curve("train_loss", "train", "train"),
                    Curve("val_loss", "validation", "val")),
                   (Curve(f"train_{metric}", "train", "train"),
                    Curve(f"val_{metric}", "validation", "val")),
                   label, percent, "lr")


KINDS: dict[str | None, Columns] = {
    "accuracy": _standard("accuracy", "accuracy (%)", True),
    "r2": _standard("r2", "R\u00b2", False),
    None: _standard("accuracy", None, True),
    "gan": Columns(Curve("", "D (per step)", "D step"),
                   (Curve("d_loss", "discriminator D", "D"),
                    Curve("g_loss", "generator G", "G")),
                   (Curve("d_real_accuracy", "D right on real", "real"),
                    Curve("d_fake_accuracy", "D right on fake", "fake")),
                   "D accuracy (%)", True, "d_lr"),
}


def metric_kind(epochs: list[dict[str, Any]]) -> str | None:
    """"gan", "accuracy" (classification), "r2" (regression) or None, from a run's epoch
    records."""
    for event in epochs:
        if "d_loss" in event or "g_loss" in event:
            return "gan"
        if "val_accuracy" in event or "train_accuracy" in event:
            return "accuracy"
        if "val_r2" in event or "train_r2" in event:
            return "r2"
    return None


def columns_for(kind: str | None) -> Columns:
    """What a run of ``kind`` (``metric_kind``) plots."""
    return KINDS.get(kind, KINDS[None])
