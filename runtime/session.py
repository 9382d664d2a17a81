"""A project's training session: pick the trainer, prepare, train, store the results.

The command line and the GUI's training process both go through here, so a run from either
leaves the same weights and history in the project. The trainer is chosen once, from the
project's training mode (``TRAINERS``); the session injects the hooks a run needs
(adversarial training, and whatever its caller adds, such as live probes).
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graph.roles import GAN_MODE, STANDARD_MODE, training_mode
from runtime.events import Finished, Notice
from runtime.gan import GanTrainer
from runtime.heads import Metrics
from runtime.history import store_result
from runtime.memory import check_fits
from runtime.prepare import prepare
from runtime.train import StandardTrainer, evaluate_model
from runtime.trainer import Callback, Hooks, Prepared, TrainControl, Trainer, TrainResult

TRAINERS: dict[str, Callable[[], Trainer]] = {
    STANDARD_MODE: StandardTrainer,
    GAN_MODE: GanTrainer,
}


def trainer_for(settings: Any) -> Trainer:
    """The trainer of the settings' mode; ValueError for a mode no trainer has."""
    mode = training_mode(settings)
    if mode not in TRAINERS:
        raise ValueError(f"training option 'mode' must be one of {', '.join(TRAINERS)}, "
                         f"not {mode!r}")
    return TRAINERS[mode]()


@dataclass
class Session:
    """One run of a project, prepared: its settings for this run, trainer, networks and data."""

    project: Any
    settings: Any
    trainer: Trainer
    prepared: Prepared
    started: str
    hooks: Hooks = field(default_factory=Hooks)  # those the session itself injects
    notice: str = ""  # which layers start fresh because their saved weights do not fit

    def train(self, callback: Callback | None = None, control: TrainControl | None = None,
              hooks: Hooks | None = None) -> TrainResult:
        """Train with the session's hooks and ``hooks``; store the weights and a history run
        in the project."""
        extra = hooks or Hooks()
        both = Hooks(step=[*self.hooks.step, *extra.step],
                     epoch_end=[*self.hooks.epoch_end, *extra.epoch_end],
                     batch=[*self.hooks.batch, *extra.batch])
        result = self.trainer.train(self.prepared, self.settings, callback, control, both)
        store_result(self.project, result, self.started)
        return result


def open_session(project: Any, epochs: int | None = None, device: str | None = None
                 ) -> Session:
    """Prepare a run of the project; ``epochs`` and ``device`` override its settings for this
    run only. ValueError (one line) when the project cannot be compiled, its data loaded, its
    training options used, or its network trained in the device's free memory (checked on
    the meta device, before anything is allocated)."""
    settings = project.training
    overrides: dict[str, Any] = {}
    if epochs is not None:
        if int(epochs) < 1:  # would record an empty "completed" run
            raise ValueError(f"epochs must be 1 or more, not {int(epochs)}")
        overrides["epochs"] = int(epochs)
    if device:
        overrides["device"] = str(device)
    if overrides:
        settings = dataclasses.replace(settings, **overrides)
    started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    trainer = trainer_for(settings)
    check_fits(project.graph, settings)
    prepared = trainer.prepare(project)
    hooks = Hooks(batch=adversarial_hooks(prepared, settings)) if trainer.takes_hooks \
        else Hooks()
    return Session(project, settings, trainer, prepared, started, hooks, fresh_notice(project))


def fresh_notice(project: Any) -> str:
    """The layers this run starts fresh because the project's weights do not fit them (a
    layer resized since it was trained), as one sentence; "" when every layer keeps its
    weights. Loading skips those tensors quietly; the user is told here."""
    if not project.weights:
        return ""
    from runtime.weights_check import check_weights, fresh_sentence

    sentence = fresh_sentence(check_weights(project.graph, project.weights))
    return f"Training: {sentence}." if sentence else ""


def adversarial_hooks(prepared: Any, settings: Any) -> list[Any]:
    """The adversarial-training batch hook when ``settings.options["adversarial"]`` is set."""
    options = getattr(settings, "options", None) or {}
    if not options.get("adversarial"):
        return []
    from runtime.adversarial_training import adversarial_batch_hook
    from runtime.heads import make_loss

    data = prepared.data
    return [adversarial_batch_hook(options, getattr(data, "value_range", (0.0, 1.0)),
                                   make_loss(prepared.compiled, getattr(data, "num_classes", 0)))]


def run_training(project: Any, callback: Callback | None = None,
                 control: TrainControl | None = None, epochs: int | None = None,
                 device: str | None = None, hooks: Hooks | None = None) -> TrainResult:
    """Train the project; store its best weights and a history run in it. The callback
    hears a ``Notice`` first when some layers start fresh (``fresh_notice``).

    ``epochs`` and ``device`` override the project's settings for this run only; ``hooks``
    join the session's (trainers that take no hooks, such as the GAN's, ignore them). A
    project that cannot be prepared gives a failed result (and a Finished event) and is left
    unchanged.
    """
    try:
        session = open_session(project, epochs, device)
    except ValueError as exc:
        if callback is not None:
            callback(Finished(status="failed", message=str(exc), best_epoch=0))
        return TrainResult("failed", str(exc))
    if session.notice and callback is not None:
        callback(Notice(message=session.notice))
    return session.train(callback, control, hooks)


def evaluate(project: Any, device: str = "cpu") -> Metrics:
    """Validation metrics of the project's stored weights: {"val_loss", "val_accuracy" or
    "val_r2", "n", "trained"}; ValueError (one line) if the project cannot be prepared."""
    compiled, data = prepare(project)
    metrics = evaluate_model(compiled, data, max(project.training.batch_size, 256), device)
    return {**metrics, "trained": bool(project.weights)}
