"""A project's training session: compile, load data and weights, train, store the results.

The command line and the GUI's training process both go through here, so a run from either
leaves the same weights and history in the project.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import torch

from runtime.train import Callback, TrainControl, TrainResult, evaluate_model, train

MAX_STEP_POINTS = 2000  # loss points per run kept in the project's history


def prepare(project: Any) -> tuple[Any, Any]:
    """Compile the graph, load the dataset and the project's weights.

    Seeds torch with the training seed first, so a fresh network starts from the same weights
    every time. Raises ValueError (compile or data errors, an Input that does not fit the data)
    with a one-line message.
    """
    from runtime.compile import compile_graph, load_node_state, weights_from_bytes
    from runtime.data import load_dataset

    torch.manual_seed(project.training.seed)
    compiled = compile_graph(project.graph)
    data = load_dataset(project.dataset)
    check_input_fits(compiled, data)
    if project.weights:
        load_node_state(compiled, weights_from_bytes(project.weights))
    return compiled, data


def check_input_fits(compiled: Any, data: Any) -> None:
    """ValueError naming the Input node when its shape differs from the dataset's samples."""
    if len(compiled.input_nodes) != 1:
        return
    node = compiled.graph.nodes[compiled.input_nodes[0]]
    shape = tuple(node.param("shape"))
    expected = tuple(data.input_shape)
    if shape != expected:
        have = ", ".join(map(str, shape))
        want = ", ".join(map(str, expected))
        raise ValueError(f"{node.label} has shape {have} but dataset {data.name} gives samples "
                         f"of shape {want}; set the Input's shape to {want}")


def run_training(project: Any, callback: Callback | None = None,
                 control: TrainControl | None = None, epochs: int | None = None,
                 device: str | None = None, **hooks: Any) -> TrainResult:
    """Train the project; store its best weights and a history run in it.

    ``epochs`` and ``device`` override the project's settings for this run only. Projects with
    ``training.options["mode"] == "gan"`` train with ``runtime.gan`` (hooks do not apply). ``hooks``
    (step_hooks, epoch_end_hooks, batch_hooks) go to ``runtime.train.train``. A project that
    cannot be compiled or whose data cannot be loaded gives a failed result (and a "finished"
    event) and is left unchanged.
    """
    settings = project.training
    overrides: dict[str, Any] = {}
    if epochs is not None:
        overrides["epochs"] = int(epochs)
    if device is not None:
        overrides["device"] = device
    if overrides:
        settings = dataclasses.replace(settings, **overrides)
    started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    if (settings.options or {}).get("mode") == "gan":  # a generator and a discriminator
        from runtime.gan import run_gan_training

        return run_gan_training(project, settings, callback, control, started)
    try:
        compiled, data = prepare(project)
    except ValueError as exc:
        result = TrainResult("failed", str(exc))
        if callback is not None:
            callback({"type": "finished", "status": "failed", "message": str(exc),
                      "best_epoch": 0})
        return result
    result = train(compiled, data, settings, callback=callback, control=control, **hooks)
    store_result(project, result, started)
    return result


def store_result(project: Any, result: TrainResult, started: str) -> None:
    """Put a run's best weights and its history entry into the project."""
    from runtime.compile import weights_to_bytes

    if result.best_state:
        project.weights = weights_to_bytes(result.best_state)
    project.history.append({
        "started": started,
        "device": result.device,
        "epochs": [dict(e) for e in result.epochs],
        "steps": downsample(result.steps),
        "status": result.status,
        "message": result.message,
        "best_epoch": result.best_epoch,
    })
    project.metadata["torch_version"] = torch.__version__


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


def evaluate(project: Any, device: str = "cpu") -> dict[str, Any]:
    """Validation metrics of the project's stored weights: {"val_loss", "val_accuracy" or
    "val_r2", "n", "trained"}; ValueError (one line) if the project cannot be prepared."""
    compiled, data = prepare(project)
    metrics = evaluate_model(compiled, data, max(project.training.batch_size, 256), device)
    return {**metrics, "trained": bool(project.weights)}
