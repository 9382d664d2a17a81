"""A training run's curves as the Metrics panel plots them: step losses in a growing numpy
buffer (x in fractional epochs) and epoch records, built from the project's history or live.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


class Buffer:
    """A growing (x, y) float64 buffer; ``view()`` gives the filled part without copying."""

    def __init__(self, capacity: int = 1024) -> None:
        self.data = np.empty((2, capacity))
        self.size = 0
        self.low = self.high = self.low_positive = math.nan  # of the finite y values

    def clear(self) -> None:
        self.size = 0
        self.low = self.high = self.low_positive = math.nan

    def extend(self, xs: Any, ys: Any) -> None:
        xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
        n = len(xs)
        if self.size + n > self.data.shape[1]:
            grown = np.empty((2, max(2 * self.data.shape[1], self.size + n)))
            grown[:, :self.size] = self.data[:, :self.size]
            self.data = grown
        self.data[0, self.size:self.size + n] = xs
        self.data[1, self.size:self.size + n] = ys
        self.size += n
        finite = ys[np.isfinite(ys)]
        if len(finite):
            self.low = float(np.fmin(self.low, finite.min()))
            self.high = float(np.fmax(self.high, finite.max()))
            positive = finite[finite > 0]
            if len(positive):
                self.low_positive = float(np.fmin(self.low_positive, positive.min()))

    def view(self) -> tuple[np.ndarray, np.ndarray]:
        return self.data[0, :self.size], self.data[1, :self.size]


def steps_per_epoch(run: dict[str, Any]) -> float:
    """A history run's steps per epoch: stored by the GUI, estimated for command-line runs."""
    if run.get("steps_per_epoch"):
        return float(run["steps_per_epoch"])
    steps, epochs = run.get("steps") or [], run.get("epochs") or []
    if steps and epochs:
        return max(1.0, float(steps[-1][0]) / len(epochs))
    return 1.0


class RunCurves:
    """The plotted buffers of one run: its step losses and its epoch records."""

    def __init__(self) -> None:
        self.steps = Buffer(4096)
        self.epochs: list[dict[str, Any]] = []
        self.spe = 1.0
        self.best_epoch = 0
        self.total_epochs = 0

    @classmethod
    def from_history(cls, run: dict[str, Any]) -> RunCurves:
        out = cls()
        out.spe = steps_per_epoch(run)
        steps = run.get("steps") or []
        if steps:
            arr = np.asarray(steps, dtype=float).reshape(-1, 2)
            out.steps.extend(arr[:, 0] / out.spe, arr[:, 1])
        out.epochs = [e for e in run.get("epochs") or [] if isinstance(e, dict)]
        out.best_epoch = int(run.get("best_epoch") or 0)
        out.total_epochs = len(out.epochs)
        return out

    def column(self, key: str, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        rows = [(e["epoch"], e[key]) for e in self.epochs
                if isinstance(e.get(key), (int, float)) and "epoch" in e]
        if not rows:
            return np.zeros(0), np.zeros(0)
        arr = np.asarray(rows, dtype=float)
        return arr[:, 0], arr[:, 1] * scale
