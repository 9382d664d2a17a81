"""The Metrics panel's one-line read-out: the values of the step and epoch under the cursor
(or the latest), as rich text in the theme's colours."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gui import theme
from gui.panels.metric_columns import columns_for
from gui.panels.run_curves import RunCurves

VAL_COLOR = "#e08a3c"  # validation curves; training uses the theme's accent


def format_metric(value: float | None, percent: bool = False) -> str:
    """A metric as the read-out shows it: "-" when missing, a percentage for accuracy."""
    if value is None or not math.isfinite(value):
        return "-"
    if percent:
        return f"{100 * value:.1f}%"
    return f"{value:.4g}"


def readout_html(run: RunCurves, kind: str | None, live: bool, hover_x: float | None) -> str:
    """The read-out for ``run``: the step and epoch nearest ``hover_x`` (None: the latest);
    ``kind`` is the metric ("accuracy", "r2" or None), ``live`` whether the run trains now."""
    t = theme.current()
    epochs = run.epochs
    if not epochs and not run.steps.size:
        return (f"<span style='color:{t.text_dim}'>"
                + ("Waiting for the first steps\u2026" if live else
                   "Train to see the loss; hover a plot to read values")
                + "</span>")
    dim = t.text_dim
    sep = f" <span style='color:{dim}'>\u2502</span> "

    columns = columns_for(kind)

    def pair(label: str, first: tuple[str, str], second: tuple[str, str]) -> str:
        return (f"<span style='color:{dim}'>{label}</span> "
                f"<span style='color:{t.accent}'>{first[0]} {first[1]}</span> \u00b7 "
                f"<span style='color:{VAL_COLOR}'>{second[0]} {second[1]}</span>")

    parts: list[str] = []
    record: dict[str, Any] | None = None  # an epoch as the history keeps it
    if hover_x is not None and epochs:
        record = min(epochs, key=lambda e: abs(e["epoch"] - hover_x))
    elif epochs:
        record = epochs[-1]
    if hover_x is not None and run.steps.size:
        xs, ys = run.steps.view()
        index = int(np.clip(np.searchsorted(xs, hover_x), 0, len(xs) - 1))
        if index and abs(xs[index - 1] - hover_x) < abs(xs[index] - hover_x):
            index -= 1  # the nearest recorded step on either side
        parts.append(f"<span style='color:{dim}'>step</span> "
                     f"{round(xs[index] * run.spe)} <span style='color:{t.accent}'>"
                     f"train loss {format_metric(float(ys[index]))}</span>")
    if record is not None:
        total = f"/{run.total_epochs}" if run.total_epochs and live else ""
        parts.append(f"<span style='color:{dim}'>epoch</span> <b>{record['epoch']}{total}"
                     "</b>")
        first, second = columns.loss
        parts.append(pair("loss",
                          (first.brief, format_metric(record.get(first.column))),
                          (second.brief, format_metric(record.get(second.column)))))
        if columns.metric_label is not None:
            first, second = columns.metric
            parts.append(pair(columns.metric_label.removesuffix(" (%)"),
                              (first.brief, format_metric(record.get(first.column),
                                                          columns.percent)),
                              (second.brief, format_metric(record.get(second.column),
                                                           columns.percent))))
        parts.append(f"<span style='color:{dim}'>lr</span> "
                     f"{format_metric(record.get(columns.lr))}")
        if run.best_epoch and hover_x is None:
            parts.append(f"<span style='color:{dim}'>best epoch {run.best_epoch}</span>")
    return f"<span style='color:{t.text}'>{sep.join(parts)}</span>"
