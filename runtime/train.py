"""The standard training loop: pure torch, events to a callback, cancellable, deterministic.

``train`` runs one network on a ``DataBundle`` inside the shell of ``runtime.trainer`` (threads,
one-line failures, the ``Finished`` event); ``StandardTrainer`` is its entry in the session's
mode registry. What later features need (probes, adversarial batches, weight snapshots) plugs
in through ``Hooks`` instead of edits to the loop. The loss and metric of each task live in
``runtime.heads``; a new task is a new head there, not a new loop.

Events (``runtime.events``): Started, Batch (at most one per BATCH_EVENT_INTERVAL; its loss is
the mean of the steps since the previous one, every step's loss is in ``TrainResult.steps``),
Epoch (train_/val_ metrics, "lr"; with several heads also "<metric>/<head name>"), Probe, and
Finished, always last.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from runtime.accelerate import Plan, plan_for
from runtime.batches import Batches, first_tensor, forward, input_names
from runtime.compile import Compiled
from runtime.events import Epoch, Probe, Started
from runtime.gradient_ratio import GradientRatio
from runtime.heads import (
    LossFunction,
    Meter,
    Metrics,
    TrainingFailed,
    make_loss,
    prefixed,
    summarize,
)
from runtime.optim import base_lr, frozen_modules, make_optimizer, make_schedule, param_groups
from runtime.trainer import (
    BatchHook,
    Callback,
    EpochHook,
    Hooks,
    StepClock,
    StepHook,
    TrainControl,
    TrainResult,
    not_finite,
    read_losses,
    reads_each_step,
    resolve_device,
    run_loop,
    snapshot,
)

EVAL_BATCH = 1024  # largest validation batch (no gradients, so bigger is cheaper per sample)


# -- evaluation -----------------------------------------------------------------------------------
@torch.no_grad()
def evaluate_batches(module: nn.Module, loss_fn: LossFunction, batches: Iterable[tuple[Any, Any]],
                     input_names: Sequence[str] = ()) -> Metrics:
    """Loss and metrics over every batch, in eval mode; keys as in the epoch event, unprefixed.

    Returns {"loss", "accuracy" or "r2", and "<key>/<head name>" per head when several}.
    """
    was_training = module.training
    module.eval()
    meters = [Meter(h) for h in loss_fn.heads]
    total, samples = 0.0, 0
    try:
        for x, y in batches:
            outputs = forward(module, x, input_names)
            triples = loss_fn.split(outputs, y)
            loss, losses = loss_fn.total(triples, x)
            batch = first_tensor(x).shape[0]
            total = total + loss.double() * batch
            samples += batch
            for meter, (_, out, target), head_loss in zip(meters, triples, losses, strict=True):
                meter.update(out, target, head_loss, batch, x)
    finally:
        module.train(was_training)
    return summarize(float(total / samples) if samples else float("nan"), meters)


def evaluate_model(compiled: Compiled, data: Any, batch_size: int = 256, device: str = "cpu",
                   dataset: Any = None) -> Metrics:
    """Validation metrics of the module as it is: {"val_loss", "val_accuracy"|"val_r2", "n"}."""
    target = resolve_device(device)
    dataset = data.val if dataset is None else dataset
    loss_fn = make_loss(compiled, getattr(data, "num_classes", 0))
    module = compiled.module.to(target)
    try:
        batches = Batches(dataset, batch_size, target)
        summary = evaluate_batches(module, loss_fn, batches, input_names(compiled))
    finally:
        compiled.module.to("cpu")
    return {**prefixed("val", summary), "n": len(dataset)}


# -- the loop -------------------------------------------------------------------------------------
class StandardLoop:
    """State of one training run; ``train`` builds it and ``run_loop`` drives it."""

    name, smaller = "training", "a smaller network"

    def __init__(self, compiled: Compiled, data: Any, settings: Any, callback: Callback | None,
                 control: TrainControl | None, hooks: Hooks,
                 initial_state: dict[str, Tensor] | None = None) -> None:
        self.compiled = compiled
        self.initial_state = initial_state
        self.data = data
        self.settings = settings
        self.callback = callback
        self.control = control or TrainControl()
        self.step_hooks = list(hooks.step)
        self.epoch_end_hooks = list(hooks.epoch_end)
        self.batch_hooks = list(hooks.batch)
        self.result = TrainResult("failed", "", device="cpu")
        self.best_loss = math.inf
        self.best_snapshot: dict[str, Tensor] | None = None
        self.initial: dict[str, Tensor] | None = None
        self.frozen_params: list[nn.Parameter] = []
        self.plan = Plan()
        self.where = (0, 0)  # (epoch, step) for messages

    def emit(self, event: Any) -> None:
        if self.callback is not None:
            self.callback(event)

    def execute(self) -> TrainResult:
        settings, compiled = self.settings, self.compiled
        module: nn.Module = compiled.module
        if self.initial_state:
            from runtime.compile import load_node_state

            load_node_state(compiled, self.initial_state)
        device = resolve_device(settings.device)
        self.result.device = str(device)
        torch.manual_seed(settings.seed)
        module.to(device)
        self.initial = snapshot(module)
        self.plan = plan = plan_for(compiled.graph, device,
                                    getattr(settings, "accelerate", "auto"),
                                    sample_passes=len(self.data.train) * settings.epochs)
        runner = plan.prepare(module)
        read_each_step = reads_each_step(device)
        ratio = (GradientRatio(compiled) if settings.options.get("gradient_ratio") else None)
        groups, self.frozen_params = param_groups(compiled)
        if not groups:
            raise TrainingFailed("nothing to train: every node is frozen or has learning-rate "
                                 "multiplier 0; unfreeze a node")
        self.trainable = [p for g in groups for p in g["params"]]
        self.frozen_subs = frozen_modules(compiled)
        self.loss_fn = make_loss(compiled, getattr(self.data, "num_classes", 0))
        self.input_names = input_names(compiled)
        train_set = Batches(self.data.train, settings.batch_size, device, shuffle=True,
                            seed=settings.seed)
        if len(train_set) == 0:
            raise TrainingFailed("the training set is empty; add samples or lower the "
                                 "validation split")
        val_data = self.data.val if len(self.data.val) else self.data.train
        eval_batch = max(settings.batch_size, min(EVAL_BATCH, 4 * settings.batch_size))
        self.val_set = Batches(val_data, eval_batch, device)
        steps_per_epoch = len(train_set)
        total_steps = settings.epochs * steps_per_epoch
        optimizer = make_optimizer(groups, settings)
        schedule, per_step = make_schedule(optimizer, settings, total_steps)
        self.emit(Started(device=str(device), epochs=settings.epochs,
                          steps_per_epoch=steps_per_epoch,
                          params=sum(p.numel() for p in self.trainable),
                          samples=len(self.data.train), val_samples=len(val_data),
                          accelerate=plan.describe()))
        patience = settings.early_stopping
        stale = 0
        global_step = 0
        status, message = "completed", f"trained {settings.epochs} epochs"
        clock = StepClock(self.control, self.emit)
        for epoch in range(1, settings.epochs + 1):
            clock.start_epoch()
            self._train_mode()
            meters = [Meter(h) for h in self.loss_fn.heads]
            total_loss: Tensor | float = 0.0
            total_samples = 0
            pending: list[tuple[int, int, Tensor]] = []  # (step, global step, loss) unread
            stopped = False
            for step, (x, y) in enumerate(train_set, start=1):
                self.where = (epoch, step)
                for hook in self.batch_hooks:
                    x, y = hook(module, x, y)
                    self._train_mode()
                optimizer.zero_grad(set_to_none=True)
                with plan.precision():
                    outputs = forward(runner, plan.inputs(x), self.input_names)
                    triples = self.loss_fn.split(outputs, y)
                    loss, losses = self.loss_fn.total(triples, x)
                value: Tensor | float = loss.detach()
                if read_each_step:
                    value = float(value)
                    self._check_loss(value, epoch, step, optimizer)
                loss.backward()
                if ratio is not None:
                    ratio.observe()
                if settings.grad_clip > 0:
                    nn.utils.clip_grad_norm_(self.trainable, settings.grad_clip)
                optimizer.step()
                if schedule is not None and per_step and global_step < total_steps - 1:
                    schedule.step()
                global_step += 1
                batch = first_tensor(x).shape[0]
                total_loss = total_loss + value * batch
                total_samples += batch
                for meter, (_, out, target), head_loss in zip(meters, triples, losses, strict=True):
                    meter.update(out, target, head_loss, batch, x)
                if isinstance(value, Tensor):
                    pending.append((step, global_step, value))
                else:
                    self.result.steps.append((global_step, value))
                if self.step_hooks:
                    for hook in self.step_hooks:
                        self._probe(hook(module, epoch, step, global_step), epoch=epoch,
                                    step=step, global_step=global_step)
                    self._train_mode()
                if clock.step_done(batch, epoch, step, steps_per_epoch, global_step, loss=value):
                    stopped = True
                    break
            for at_step, at_global_step, read in read_losses(pending):
                self._check_loss(read, epoch, at_step, optimizer)
                self.result.steps.append((at_global_step, read))
            if stopped:
                status, message = "stopped", f"stopped by the user in epoch {epoch}"
                break
            lr = base_lr(optimizer)
            if schedule is not None and not per_step:
                schedule.step()
            with plan.precision():
                val = evaluate_batches(runner, self.loss_fn,
                                       ((plan.inputs(x), y) for x, y in self.val_set),
                                       self.input_names)
            train_summary = summarize(float(total_loss) / max(1, total_samples), meters)
            record = Epoch(epoch=epoch, metrics={**prefixed("train", train_summary),
                                                 **prefixed("val", val), "lr": lr,
                                                 **(ratio.take() if ratio else {})})
            if not math.isfinite(val["loss"]):
                raise TrainingFailed(
                    f"validation loss became {not_finite(val['loss'])} at epoch {epoch}; lower "
                    f"the learning rate (now {lr:g}) or turn on gradient clipping")
            if val["loss"] < self.best_loss:
                self.best_loss = val["loss"]
                self.best_snapshot = snapshot(module)
                self.result.best_epoch = epoch
                stale = 0
            else:
                stale += 1
            record.best_epoch = self.result.best_epoch
            if self.epoch_end_hooks:
                module.eval()
                for epoch_hook in self.epoch_end_hooks:
                    self._probe(epoch_hook(module, epoch), epoch=epoch)
            record.seconds = clock.epoch_seconds()
            self.result.epochs.append(record.record())
            self.emit(record)
            if patience and stale >= patience:
                status = "early_stopped"
                message = (f"stopped early after epoch {epoch}: no better validation loss for "
                           f"{patience} epochs (best at epoch {self.result.best_epoch})")
                break
            if self.control.stopped:
                status, message = "stopped", f"stopped by the user after epoch {epoch}"
                break
        self.result.status, self.result.message = status, message
        return self.result

    @staticmethod
    def _check_loss(value: float, epoch: int, step: int, optimizer: Any) -> None:
        if not math.isfinite(value):
            raise TrainingFailed(
                f"loss became {not_finite(value)} at epoch {epoch}, step {step}; lower "
                f"the learning rate (now {base_lr(optimizer):g}), turn on gradient "
                "clipping or check the data for missing values")

    def _train_mode(self) -> None:
        self.compiled.module.train()
        for sub in self.frozen_subs:
            sub.eval()

    def _probe(self, payload: dict[str, Any] | None, **where: Any) -> None:
        if payload:
            self.emit(Probe.of(payload, **where))

    def finish(self) -> None:
        """Restore the best weights (or, before any epoch, the current ones; after a failure,
        the initial ones), unfreeze, and leave the module on the CPU in eval mode."""
        module: nn.Module = self.compiled.module
        snapshot_ = self.best_snapshot
        if snapshot_ is None and self.result.status == "failed":
            snapshot_ = self.initial
        if snapshot_ is not None:
            module.load_state_dict(snapshot_)
        self.plan.restore(module)
        for p in self.frozen_params:
            p.requires_grad_(True)
        module.to("cpu")
        module.eval()
        if self.initial is not None:
            from runtime.compile import node_state

            self.result.best_state = {k: v.detach().cpu().clone()
                                      for k, v in node_state(self.compiled).items()}


def train(compiled: Compiled, data: Any, settings: Any, callback: Callback | None = None,
          control: TrainControl | None = None, initial_state: dict[str, Tensor] | None = None,
          *, step_hooks: Sequence[StepHook] = (), epoch_end_hooks: Sequence[EpochHook] = (),
          batch_hooks: Sequence[BatchHook] = ()) -> TrainResult:
    """Train ``compiled.module`` on ``data`` with ``settings``; never raises for user errors.

    Returns the result with the best weights (lowest validation loss; the training set stands
    in when the validation set is empty) node keyed, and leaves them loaded in the module.
    ``initial_state`` (node keyed) is loaded first. Failures give status "failed" and a
    one-line message; the Finished event is always the last event.
    """
    hooks = Hooks(step=step_hooks, epoch_end=epoch_end_hooks, batch=batch_hooks)
    loop = StandardLoop(compiled, data, settings, callback, control, hooks, initial_state)
    return run_loop(loop, settings, callback)


# -- the trainer of the standard mode -------------------------------------------------------------
@dataclass
class StandardRun:
    """One network and its data (``runtime.trainer.Prepared``)."""

    compiled: Compiled
    data: Any

    def state(self) -> dict[str, Tensor]:
        from runtime.compile import node_state

        return node_state(self.compiled)


class StandardTrainer:
    """One network, trained on its data set's targets (``runtime.trainer.Trainer``)."""

    takes_hooks = True

    def prepare(self, project: Any) -> StandardRun:
        from runtime.prepare import prepare

        return StandardRun(*prepare(project))

    def train(self, prepared: StandardRun, settings: Any, callback: Callback | None = None,
              control: TrainControl | None = None, hooks: Hooks | None = None) -> TrainResult:
        hooks = hooks or Hooks()
        return train(prepared.compiled, prepared.data, settings, callback, control,
                     step_hooks=hooks.step, epoch_end_hooks=hooks.epoch_end,
                     batch_hooks=hooks.batch)
