"""A run's entry in the project's history, and its best weights stored in the project.

Kept apart from the session so that the trainers, the training process and the editor (which
saves what a crashed process left) write history runs the same way.
"""

from __future__ import annotations

from typing import Any

import torch

from graph.settings import to_dict
from runtime.trainer import TrainResult

MAX_STEP_POINTS = 2000  # loss points per run kept in the project's history


def history_run(started: str, device: str, epochs: list[dict[str, Any]],
                steps: list[tuple[int, float]], status: str, message: str, best_epoch: int,
                steps_per_epoch: int = 0, project: Any = None) -> dict[str, Any]:
    """One run as the project's history keeps it (epoch records, the steps downsampled, and
    the project's settings, so runs can be compared by what changed)."""
    run: dict[str, Any] = {
        "started": started,
        "device": device,
        "epochs": [dict(e) for e in epochs],
        "steps": downsample(steps),
        "status": status,
        "message": message,
        "best_epoch": best_epoch,
    }
    if steps_per_epoch:
        run["steps_per_epoch"] = steps_per_epoch
    if project is not None:
        run["settings"] = {"training": to_dict(project.training),
                           "dataset": to_dict(project.dataset)}
    return run


def store_result(project: Any, result: TrainResult, started: str, steps_per_epoch: int = 0
                 ) -> dict[str, Any]:
    """Put a run's best weights and its history entry into the project; the entry."""
    from runtime.compile import weights_to_bytes

    if result.best_state:
        project.weights = weights_to_bytes(result.best_state)
    run = history_run(started, result.device, result.epochs, result.steps, result.status,
                      result.message, result.best_epoch, steps_per_epoch, project)
    project.history.append(run)
    project.metadata["torch_version"] = torch.__version__
    return run


def downsample(steps: list[tuple[int, float]], limit: int = MAX_STEP_POINTS
               ) -> list[list[float]]:
    """At most ``limit`` [global_step, loss] points: consecutive steps averaged in buckets."""
    if len(steps) <= limit:
        return [[int(s), float(v)] for s, v in steps]
    out = []
    for index in range(limit):
        bucket = steps[index * len(steps) // limit:(index + 1) * len(steps) // limit]
        out.append([round(sum(s for s, _ in bucket) / len(bucket)),
                    sum(v for _, v in bucket) / len(bucket)])
    return out
