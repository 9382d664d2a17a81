"""The training loop: pure torch, events to a callback, cancellable, deterministic for a seed.

``train`` is what every client runs (command line, the GUI's training process, tests). It owns
the loop and nothing else: data comes as a ``DataBundle``, the network as a ``Compiled`` graph,
and what later features need (probes, adversarial batches, weight snapshots) plugs in through
hooks instead of edits to the loop:

- ``step_hooks`` / ``epoch_end_hooks``: called after each optimizer step / each epoch's
  validation; a returned dict becomes a ``{"type": "probe", ...}`` event (a hook may set its own
  ``"type"``). Epoch-end hooks run with the module in eval mode, gradients enabled.
- ``batch_hooks``: ``(module, x, y) -> (x, y)`` before each forward pass. With
  ``settings.options["adversarial"]`` set,
  ``runtime.adversarial_training.adversarial_batch_hook`` is added.
- Output heads: the loss and metric of each task live in ``runtime.heads`` (``Head``,
  ``LossFunction``, ``Meter``; re-exported here); a new task is a new branch there, not a new
  loop.

Events are plain, picklable dicts (see the contracts): started, batch (at most one per
BATCH_EVENT_INTERVAL; its "loss" is the mean of the steps since the previous batch event, every
step's loss is in ``TrainResult.steps``), epoch (plus "best_epoch"; with several heads also
"<metric>/<head name>" keys), probe, and finished, always last.

Threads: on the CPU a run uses ``default_threads()`` (all cores but one). Measured on the 2-core
machine, digits_cnn with 2 threads took the same wall time as with 1 at twice the CPU when
idle, and 6x longer when other processes competed for the cores.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from runtime.heads import (  # noqa: F401  (Head, Meter, make_heads: public names of this module)
    Head,
    LossFunction,
    Meter,
    TrainingFailed,
    make_heads,
    make_loss,
    prefixed,
    summarize,
)

Event = dict[str, Any]
Callback = Callable[[Event], None]
StepHook = Callable[[nn.Module, int, int, int], "dict[str, Any] | None"]
EpochHook = Callable[[nn.Module, int], "dict[str, Any] | None"]
BatchHook = Callable[[nn.Module, Any, Any], tuple[Any, Any]]

BATCH_EVENT_INTERVAL = 0.05  # seconds between batch events: at most 20 a second
EVAL_BATCH = 1024  # largest validation batch (no gradients, so bigger is cheaper per sample)
CUDA_MISSING = "CUDA was requested but no CUDA device is available; choose CPU or auto"


# -- control ------------------------------------------------------------------------------------
class TrainControl:
    """Stop and pause flags that another thread (or process) sets while ``train`` runs.

    Pass a multiprocessing context (``multiprocessing.get_context("spawn")``) to back the flags
    with process-shared events, so the GUI can hand the control to its training process.
    """

    def __init__(self, context: Any = None) -> None:
        make = context.Event if context is not None else threading.Event
        self._stop = make()
        self._running = make()  # set while not paused
        self._running.set()

    def stop(self) -> None:
        """End the run after the current step; the best weights so far are kept."""
        self._stop.set()
        self._running.set()  # a paused run must wake up to stop

    def pause(self) -> None:
        if not self._stop.is_set():
            self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_while_paused(self, timeout: float | None = None) -> bool:
        """Block while paused (until resumed or stopped); False if ``timeout`` ran out."""
        return bool(self._running.wait(timeout))


@dataclass
class TrainResult:
    status: str  # "completed" | "stopped" | "early_stopped" | "failed"
    message: str
    epochs: list[dict[str, Any]] = field(default_factory=list)  # the epoch events
    steps: list[tuple[int, float]] = field(default_factory=list)  # (global step, loss), all
    best_state: dict[str, Tensor] = field(default_factory=dict)  # node keyed, on the CPU
    best_epoch: int = 0  # 0: no epoch finished
    device: str = "cpu"


# -- devices and threads ------------------------------------------------------------------------
def resolve_device(requested: str) -> torch.device:
    """auto -> cuda when available, else cpu; TrainingFailed for cuda without a device."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise TrainingFailed(CUDA_MISSING)
        device = torch.device(requested)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise TrainingFailed(f"CUDA device {device.index} does not exist "
                                 f"({torch.cuda.device_count()} found); choose another device")
        return device
    if requested == "cpu":
        return torch.device("cpu")
    raise TrainingFailed(f"training.device must be auto, cpu or cuda, not {requested!r}")


def warm_up() -> None:
    """Do once what the first run would otherwise pay for: building an optimizer imports
    torch._dynamo (about 2.5 s on the 2-core machine). The GUI's background training process
    calls this right after it starts, so pressing Train does not wait for it."""
    weight = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([weight], lr=0.1)
    nn.functional.mse_loss(weight, torch.ones(1)).backward()
    optimizer.step()


def default_threads() -> int:
    """CPU threads for one training run: every core but one, at least one.

    The GUI trains in a separate process and draws live plots at a fixed frame rate; leaving
    it a core keeps its timers on time (ARCHITECTURE.md measured >100 ms spikes with two torch
    threads on two cores). On the 2-core development machine this is 1 thread, which for the
    small example networks is also about as fast as 2 (their per-op overhead dominates).
    ``settings.options["threads"]`` overrides it.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


# -- batches --------------------------------------------------------------------------------------
def _map(obj: Any, fn: Callable[[Tensor], Tensor]) -> Any:
    """Apply ``fn`` to every tensor in a tensor, tuple/list or dict of tensors."""
    if isinstance(obj, Tensor):
        return fn(obj)
    if isinstance(obj, dict):
        return {k: _map(v, fn) for k, v in obj.items()}
    if isinstance(obj, (tuple, list)):
        return type(obj)(_map(v, fn) for v in obj)
    return obj


def _first(obj: Any) -> Tensor:
    if isinstance(obj, Tensor):
        return obj
    values = obj.values() if isinstance(obj, dict) else obj
    return _first(next(iter(values)))


def tensor_pair(dataset: Any) -> tuple[Any, Any] | None:
    """(x, y) of an in-memory dataset, for fast batching by indexing; None if not in memory.

    Recognised: TensorDataset(x, y), a Subset of one, or any dataset with ``as_tensors()``
    returning (x, y) where each is a tensor, tuple or dict of tensors with one row per sample.
    """
    if hasattr(dataset, "as_tensors"):
        return dataset.as_tensors()
    if isinstance(dataset, torch.utils.data.TensorDataset) and len(dataset.tensors) == 2:
        return dataset.tensors[0], dataset.tensors[1]
    if isinstance(dataset, torch.utils.data.Subset):
        inner = tensor_pair(dataset.dataset)
        if inner is not None:
            index = torch.as_tensor(list(dataset.indices), dtype=torch.long)
            return _map(inner[0], lambda t: t[index]), _map(inner[1], lambda t: t[index])
    return None


class Batches:
    """The batches of one dataset: a seeded shuffle per epoch, or in order for evaluation.

    In-memory sets are indexed directly on the device (no DataLoader, no collation); others go
    through a single-process DataLoader with the same batch order.
    """

    def __init__(self, dataset: Any, batch_size: int, device: torch.device,
                 shuffle: bool = False, seed: int = 0) -> None:
        self.dataset = dataset
        self.size = len(dataset)
        self.batch_size = max(1, batch_size)
        self.device = device
        self.shuffle = shuffle
        self.generator = torch.Generator().manual_seed(seed)
        pair = tensor_pair(dataset)
        self.tensors = None if pair is None else _map(pair, lambda t: t.to(device))

    def __len__(self) -> int:
        return len(self._bounds())

    def _bounds(self) -> list[tuple[int, int]]:
        """Batch [start, end) ranges. A last batch of one sample joins the one before it, since
        BatchNorm cannot train on a single sample."""
        bounds = [(s, min(s + self.batch_size, self.size))
                  for s in range(0, self.size, self.batch_size)]
        if self.shuffle and len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
            bounds[-2:] = [(bounds[-2][0], bounds[-1][1])]
        return bounds

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        order = (torch.randperm(self.size, generator=self.generator) if self.shuffle
                 else torch.arange(self.size))
        bounds = self._bounds()
        if self.tensors is not None:
            order = order.to(self.device)
            x_all, y_all = self.tensors
            for start, end in bounds:
                index = order[start:end]
                if not self.shuffle:
                    yield (_map(x_all, lambda t, s=start, e=end: t[s:e]),
                           _map(y_all, lambda t, s=start, e=end: t[s:e]))
                else:
                    yield (_map(x_all, lambda t, i=index: t[i]),
                           _map(y_all, lambda t, i=index: t[i]))
            return
        sampler = [order[start:end].tolist() for start, end in bounds]
        loader = torch.utils.data.DataLoader(self.dataset, batch_sampler=sampler, num_workers=0)
        for x, y in loader:
            yield _map(x, lambda t: t.to(self.device)), _map(y, lambda t: t.to(self.device))


def forward(module: nn.Module, x: Any, input_names: Sequence[str] = ()) -> Any:
    """Call the module with one input, a tuple of inputs, or a dict keyed by Input name."""
    if isinstance(x, dict):
        return module(*(x[name] for name in input_names))
    if isinstance(x, (tuple, list)):
        return module(*x)
    return module(x)


# -- evaluation -----------------------------------------------------------------------------------
@torch.no_grad()
def evaluate_batches(module: nn.Module, loss_fn: LossFunction, batches: Iterable[tuple[Any, Any]],
                     input_names: Sequence[str] = ()) -> dict[str, Any]:
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
            batch = _first(x).shape[0]
            total = total + loss.double() * batch
            samples += batch
            for meter, (_, out, target), head_loss in zip(meters, triples, losses, strict=True):
                meter.update(out, target, head_loss, batch, x)
    finally:
        module.train(was_training)
    return summarize(float(total / samples) if samples else float("nan"), meters)


def evaluate_model(compiled: Any, data: Any, batch_size: int = 256, device: str = "cpu",
                   dataset: Any = None) -> dict[str, Any]:
    """Validation metrics of the module as it is: {"val_loss", "val_accuracy"|"val_r2", "n"}."""
    target = resolve_device(device)
    dataset = data.val if dataset is None else dataset
    loss_fn = make_loss(compiled, getattr(data, "num_classes", 0))
    module = compiled.module.to(target)
    try:
        batches = Batches(dataset, batch_size, target)
        summary = evaluate_batches(module, loss_fn, batches, _input_names(compiled))
    finally:
        compiled.module.to("cpu")
    return {**prefixed("val", summary), "n": len(dataset)}


def _input_names(compiled: Any) -> list[str]:
    return [compiled.graph.nodes[i].name for i in compiled.input_nodes]


# -- optimizer -----------------------------------------------------------------------------------
def param_groups(compiled: Any) -> tuple[list[dict[str, Any]], list[nn.Parameter]]:
    """Optimizer groups by per-node lr multiplier, and the parameters frozen for this run.

    A frozen node, or one with lr_mult 0, gets requires_grad False (no gradient is even
    computed). Groups carry ``lr_mult``; the multiplier 1 group comes first.
    """
    module: nn.Module = compiled.module
    seen: set[int] = set()
    frozen: list[nn.Parameter] = []
    by_mult: dict[float, list[nn.Parameter]] = {}
    for node_id, name in sorted(compiled.module_names.items()):
        node = compiled.graph.nodes.get(node_id)
        try:
            sub = module.get_submodule(name)
        except AttributeError:
            continue
        mult = float(getattr(node, "lr_mult", 1.0))
        is_frozen = bool(getattr(node, "frozen", False)) or mult == 0.0
        for p in sub.parameters():
            if id(p) in seen:
                continue
            seen.add(id(p))
            if is_frozen:
                if p.requires_grad:
                    p.requires_grad_(False)
                    frozen.append(p)
            elif p.requires_grad:
                by_mult.setdefault(mult, []).append(p)
    for p in module.parameters():  # parameters outside any node train normally
        if id(p) not in seen and p.requires_grad:
            seen.add(id(p))
            by_mult.setdefault(1.0, []).append(p)
    order = sorted(by_mult, key=lambda m: (m != 1.0, m))
    return [{"params": by_mult[m], "lr_mult": m} for m in order], frozen


def frozen_modules(compiled: Any) -> list[nn.Module]:
    """Submodules of frozen nodes: kept in eval mode while training (BatchNorm statistics and
    dropout stay as they were, as transfer learning expects)."""
    out = []
    for node_id, name in compiled.module_names.items():
        node = compiled.graph.nodes.get(node_id)
        if node is not None and (node.frozen or node.lr_mult == 0.0):
            try:
                out.append(compiled.module.get_submodule(name))
            except AttributeError:
                pass
    return out


def make_optimizer(groups: list[dict[str, Any]], settings: Any) -> torch.optim.Optimizer:
    for group in groups:
        group["lr"] = settings.lr * group["lr_mult"]
    name, decay = settings.optimizer, settings.weight_decay
    if name == "sgd":
        return torch.optim.SGD(groups, lr=settings.lr, momentum=settings.momentum,
                               weight_decay=decay)
    if name == "adam":
        return torch.optim.Adam(groups, lr=settings.lr, weight_decay=decay)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=settings.lr, weight_decay=decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(groups, lr=settings.lr, momentum=settings.momentum,
                                   weight_decay=decay)
    raise TrainingFailed(f"training.optimizer must be sgd, adam, adamw or rmsprop, not {name!r}")


def make_schedule(optimizer: torch.optim.Optimizer, settings: Any, total_steps: int
                  ) -> tuple[Any, bool]:
    """(scheduler or None, whether it steps per batch rather than per epoch)."""
    name = settings.schedule
    if name == "none":
        return None, False
    if name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, settings.step_size, settings.gamma), False
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(1, total_steps)), True
    if name == "onecycle":
        cycle_momentum = settings.optimizer in ("adam", "adamw") or settings.momentum > 0
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=[g["lr"] for g in optimizer.param_groups],
            total_steps=max(1, total_steps), cycle_momentum=cycle_momentum), True
    raise TrainingFailed(f"training.schedule must be none, step, cosine or onecycle, not {name!r}")


def _base_lr(optimizer: torch.optim.Optimizer) -> float:
    group = optimizer.param_groups[0]
    return float(group["lr"]) / (group.get("lr_mult") or 1.0)


# -- the loop ------------------------------------------------------------------------------------
def _snapshot(module: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


class _Run:
    """State of one training run; ``train`` builds it and calls ``execute``."""

    def __init__(self, compiled: Any, data: Any, settings: Any, callback: Callback | None,
                 control: TrainControl | None, step_hooks: Sequence[StepHook],
                 epoch_end_hooks: Sequence[EpochHook], batch_hooks: Sequence[BatchHook]) -> None:
        self.compiled = compiled
        self.data = data
        self.settings = settings
        self.callback = callback
        self.control = control or TrainControl()
        self.step_hooks = list(step_hooks)
        self.epoch_end_hooks = list(epoch_end_hooks)
        self.batch_hooks = list(batch_hooks)
        self.result = TrainResult("failed", "", device="cpu")
        self.best_loss = math.inf
        self.best_snapshot: dict[str, Tensor] | None = None
        self.where = (0, 0)  # (epoch, step) for messages

    def emit(self, event: Event) -> None:
        if self.callback is not None:
            self.callback(event)

    def execute(self) -> TrainResult:
        settings, compiled = self.settings, self.compiled
        module: nn.Module = compiled.module
        device = resolve_device(settings.device)
        self.result.device = str(device)
        torch.manual_seed(settings.seed)
        module.to(device)
        self.initial = _snapshot(module)
        groups, self.frozen_params = param_groups(compiled)
        if not groups:
            raise TrainingFailed("nothing to train: every node is frozen or has learning-rate "
                                 "multiplier 0; unfreeze a node")
        self.trainable = [p for g in groups for p in g["params"]]
        self.frozen_subs = frozen_modules(compiled)
        self.loss_fn = make_loss(compiled, getattr(self.data, "num_classes", 0))
        self.input_names = _input_names(compiled)
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
        self.emit({"type": "started", "device": str(device), "epochs": settings.epochs,
                   "steps_per_epoch": steps_per_epoch,
                   "params": sum(p.numel() for p in self.trainable),
                   "samples": len(self.data.train), "val_samples": len(val_data)})
        patience = settings.early_stopping
        stale = 0
        global_step = 0
        status, message = "completed", f"trained {settings.epochs} epochs"
        # batch events: throttled over the whole run; samples/s over training time only
        last_event, window_loss, window_busy = -math.inf, 0.0, 0.0
        window_steps = window_samples = 0
        for epoch in range(1, settings.epochs + 1):
            started = time.perf_counter()
            paused_for = 0.0
            self._train_mode()
            meters = [Meter(h) for h in self.loss_fn.heads]
            total_loss, total_samples = 0.0, 0
            stopped = False
            step_start = time.perf_counter()
            for step, (x, y) in enumerate(train_set, start=1):
                self.where = (epoch, step)
                for hook in self.batch_hooks:
                    x, y = hook(module, x, y)
                    self._train_mode()
                optimizer.zero_grad(set_to_none=True)
                outputs = forward(module, x, self.input_names)
                triples = self.loss_fn.split(outputs, y)
                loss, losses = self.loss_fn.total(triples, x)
                value = float(loss.item())
                if not math.isfinite(value):
                    what = "NaN" if math.isnan(value) else "infinite"
                    raise TrainingFailed(
                        f"loss became {what} at epoch {epoch}, step {step}; lower the learning "
                        f"rate (now {_base_lr(optimizer):g}), turn on gradient clipping or "
                        "check the data for missing values")
                loss.backward()
                if settings.grad_clip > 0:
                    nn.utils.clip_grad_norm_(self.trainable, settings.grad_clip)
                optimizer.step()
                if schedule is not None and per_step and global_step < total_steps - 1:
                    schedule.step()
                global_step += 1
                batch = _first(x).shape[0]
                total_loss += value * batch
                total_samples += batch
                for meter, (_, out, target), head_loss in zip(meters, triples, losses, strict=True):
                    meter.update(out, target, head_loss, batch, x)
                self.result.steps.append((global_step, value))
                if self.step_hooks:
                    for hook in self.step_hooks:
                        self._probe(hook(module, epoch, step, global_step),
                                    {"epoch": epoch, "step": step, "global_step": global_step})
                    self._train_mode()
                now = time.perf_counter()
                window_loss += value
                window_steps += 1
                window_samples += batch
                window_busy += now - step_start
                if now - last_event >= BATCH_EVENT_INTERVAL:
                    self.emit({"type": "batch", "epoch": epoch, "step": step,
                               "steps_per_epoch": steps_per_epoch, "global_step": global_step,
                               "loss": window_loss / window_steps,
                               "samples_per_s": window_samples / max(window_busy, 1e-9)})
                    last_event = now
                    window_loss, window_steps, window_samples, window_busy = 0.0, 0, 0, 0.0
                if self.control.paused:
                    wait_start = time.perf_counter()
                    self.control.wait_while_paused()
                    paused_for += time.perf_counter() - wait_start
                step_start = time.perf_counter()
                if self.control.stopped:
                    stopped = True
                    break
            if stopped:
                status, message = "stopped", f"stopped by the user in epoch {epoch}"
                break
            lr = _base_lr(optimizer)
            if schedule is not None and not per_step:
                schedule.step()
            val = evaluate_batches(module, self.loss_fn, self.val_set, self.input_names)
            train_summary = summarize(total_loss / max(1, total_samples), meters)
            event: Event = {"type": "epoch", "epoch": epoch,
                            **prefixed("train", train_summary), **prefixed("val", val),
                            "lr": lr}
            if not math.isfinite(val["loss"]):
                raise TrainingFailed(
                    f"validation loss became {'NaN' if math.isnan(val['loss']) else 'infinite'}"
                    f" at epoch {epoch}; lower the learning rate (now {lr:g}) or turn on "
                    "gradient clipping")
            if val["loss"] < self.best_loss:
                self.best_loss = val["loss"]
                self.best_snapshot = _snapshot(module)
                self.result.best_epoch = epoch
                stale = 0
            else:
                stale += 1
            event["best_epoch"] = self.result.best_epoch
            if self.epoch_end_hooks:
                module.eval()
                for epoch_hook in self.epoch_end_hooks:
                    self._probe(epoch_hook(module, epoch), {"epoch": epoch})
            event["seconds"] = time.perf_counter() - started - paused_for
            self.result.epochs.append(event)
            self.emit(event)
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

    def _train_mode(self) -> None:
        self.compiled.module.train()
        for sub in self.frozen_subs:
            sub.eval()

    def _probe(self, payload: dict[str, Any] | None, where: dict[str, Any]) -> None:
        if payload:
            self.emit({"type": "probe", **where, **payload})

    def finish(self) -> None:
        """Restore the best weights (or, before any epoch, the current ones; after a failure,
        the initial ones), unfreeze, and leave the module on the CPU in eval mode."""
        module: nn.Module = self.compiled.module
        snapshot = self.best_snapshot
        if snapshot is None and self.result.status == "failed":
            snapshot = getattr(self, "initial", None)
        if snapshot is not None:
            module.load_state_dict(snapshot)
        for p in getattr(self, "frozen_params", []):
            p.requires_grad_(True)
        module.to("cpu")
        module.eval()
        if hasattr(self, "initial"):
            from runtime.compile import node_state

            self.result.best_state = {k: v.detach().cpu().clone()
                                      for k, v in node_state(self.compiled).items()}


def train(compiled: Any, data: Any, settings: Any, callback: Callback | None = None,
          control: TrainControl | None = None, initial_state: dict[str, Tensor] | None = None,
          *, step_hooks: Sequence[StepHook] = (), epoch_end_hooks: Sequence[EpochHook] = (),
          batch_hooks: Sequence[BatchHook] = ()) -> TrainResult:
    """Train ``compiled.module`` on ``data`` with ``settings``; never raises for user errors.

    Returns the result with the best weights (lowest validation loss; the training set stands
    in when the validation set is empty) node keyed, and leaves them loaded in the module.
    ``initial_state`` (node keyed) is loaded first. Failures (CUDA missing, NaN loss, shape
    mismatch between the network and the data, out of memory) give status "failed" and a
    one-line message; the "finished" event is always the last event.
    """
    hooks = list(batch_hooks)
    options = getattr(settings, "options", None) or {}
    adversarial = options.get("adversarial")
    previous_threads = torch.get_num_threads()
    run = _Run(compiled, data, settings, callback, control, step_hooks, epoch_end_hooks, hooks)
    try:
        torch.set_num_threads(int(options.get("threads") or default_threads()))
        if initial_state:
            from runtime.compile import load_node_state

            load_node_state(compiled, initial_state)
        if adversarial:
            from runtime.adversarial_training import adversarial_batch_hook  # issue 7

            run.batch_hooks.append(adversarial_batch_hook(  # _Run copied ``hooks``
                options, getattr(data, "value_range", (0.0, 1.0)),
                make_loss(compiled, getattr(data, "num_classes", 0))))
        run.execute()
    except TrainingFailed as exc:
        run.result.status, run.result.message = "failed", str(exc)
    except torch.cuda.OutOfMemoryError:
        epoch, step = run.where
        run.result.status = "failed"
        run.result.message = (f"the {run.result.device} device ran out of memory at epoch "
                              f"{epoch}, step {step}; lower the batch size or use a smaller "
                              "network")
    except (RuntimeError, ValueError, IndexError) as exc:
        epoch, step = run.where
        where = f" at epoch {epoch}, step {step}" if epoch else ""
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        run.result.status = "failed"
        run.result.message = f"training failed{where}: {text}"
    finally:
        try:
            run.finish()
        finally:
            torch.set_num_threads(previous_threads)
    run.emit({"type": "finished", "status": run.result.status, "message": run.result.message,
              "best_epoch": run.result.best_epoch})
    return run.result
