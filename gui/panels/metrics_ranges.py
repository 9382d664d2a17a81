"""The Metrics plots' y ranges: grown at once when the curves leave them, shrunk only when they
fill less than 60% of them, so a training run does not re-lay out the axes at every epoch."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gui.panels.plot_widgets import settle_range


def loss_y_range(values: np.ndarray, steps: Any, log: bool,
                 current: tuple[float, float, bool] | None) -> tuple[float, float] | None:
    """The (low, high) to set from the finite epoch losses ``values`` and the step curve's
    bounds ``steps`` (``low``, ``high``, ``low_positive``), in log10 units when ``log``; None
    when nothing can be drawn or the ``current`` (low, high, log) still fits."""
    if log:  # only positive values have a logarithm
        values = values[values > 0]
        step_low, step_high = steps.low_positive, steps.high if steps.high > 0 else math.nan
    else:
        step_low, step_high = steps.low, steps.high
    lows = [b for b in (step_low, float(values.min()) if len(values) else math.nan)
            if math.isfinite(b)]
    highs = [b for b in (step_high, float(values.max()) if len(values) else math.nan)
             if math.isfinite(b)]
    if not lows or not highs:
        return None
    low, high = min(lows), max(highs)
    if log:
        low, high = math.log10(low), math.log10(high)
    span = high - low or max(abs(high) * 0.1, 0.1)
    if current is not None and current[2] == log and current[0] <= low \
            and high <= current[1] and span >= 0.6 * (current[1] - current[0]):
        return None
    pad = 0.06 * span
    return low - pad, high + pad


def settle_curves_range(plot: Any, items: Any) -> None:
    """``plot``'s y range follows its curves ``items`` in steps (``settle_range``): accuracy
    rising a little each epoch does not re-lay out and repaint its axis every epoch."""
    values = np.concatenate([np.asarray(i.yData, float) for i in items
                             if i.yData is not None and len(i.yData)] or [np.zeros(0)])
    values = values[np.isfinite(values)]
    if len(values):
        settle_range(plot, "y", float(values.min()), float(values.max()), pad=0.08)
