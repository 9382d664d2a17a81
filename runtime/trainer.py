"""The trainer shell: what every training loop shares, and the protocol a loop plugs into.

A mode's trainer (``runtime.train.StandardTrainer``, ``runtime.gan.GanTrainer``) prepares a
project's networks and data and runs its loop as a ``Loop``; ``run_loop`` wraps any loop in the
same shell: the CPU threads, the mapping of failures to a one-line message (out of memory
included), restoring weights, and the ``Finished`` event, always the last one. The session
picks the trainer once from the mode (``runtime.session.trainer_for``).

Threads: on the CPU a run uses ``default_threads()`` (all cores but one). Measured on the 2-core
machine, digits_cnn with 2 threads took the same wall time as with 1 at twice the CPU when
idle, and 6x longer when other processes competed for the cores.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from runtime.events import Batch, Event, Finished, Paused, Resumed
from runtime.heads import TrainingFailed
from runtime.memory import failed_allocation

Callback = Callable[[Event], None]
StepHook = Callable[[nn.Module, int, int, int], "dict[str, Any] | None"]
EpochHook = Callable[[nn.Module, int], "dict[str, Any] | None"]
BatchHook = Callable[[nn.Module, Any, Any], tuple[Any, Any]]

BATCH_EVENT_INTERVAL = 0.05  # seconds between batch events: at most 20 a second
CUDA_MISSING = "CUDA was requested but no CUDA device is available; choose CPU or auto"


# -- control and result ---------------------------------------------------------------------------
class TrainControl:
    """Stop and pause flags that another thread (or process) sets while a run goes on.

    Pass a multiprocessing context (``multiprocessing.get_context("spawn")``) to back the flags
    with process-shared events, so the GUI can hand the control to its training process.
    Pass ``report`` to hear when the run actually stops at its pause (``Paused``) and goes on
    (``Resumed``): a pause takes effect only at the next step, so whoever paused learns from
    these, not from a guess of how long that takes.
    """

    def __init__(self, context: Any = None, report: Callback | None = None) -> None:
        make = context.Event if context is not None else threading.Event
        self._stop = make()
        self._running = make()  # set while not paused
        self._running.set()
        self._report = report

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

    def pause_point(self) -> float:
        """Wait here while paused; the seconds waited (left out of an epoch's time)."""
        if not self.paused:
            return 0.0
        start = time.perf_counter()
        if self._report is not None:
            self._report(Paused())
        self.wait_while_paused()
        if self._report is not None:
            self._report(Resumed())
        return time.perf_counter() - start


@dataclass
class TrainResult:
    status: str  # "completed" | "stopped" | "early_stopped" | "failed"
    message: str
    epochs: list[dict[str, Any]] = field(default_factory=list)  # Epoch records, as in history
    steps: list[tuple[int, float]] = field(default_factory=list)  # (global step, loss), all
    best_state: dict[str, Tensor] = field(default_factory=dict)  # node keyed, on the CPU
    best_epoch: int = 0  # 0: no epoch finished
    device: str = "cpu"


@dataclass
class Hooks:
    """What a session plugs into a loop that takes hooks (``Trainer.takes_hooks``).

    ``step`` / ``epoch_end``: called after each optimizer step / each epoch's validation; a
    returned payload ({"probe": name, ...}) becomes a ``Probe`` event. Epoch-end hooks run with
    the module in eval mode, gradients enabled. ``batch``: ``(module, x, y) -> (x, y)`` before
    each forward pass (adversarial training).
    """

    step: Sequence[StepHook] = ()
    epoch_end: Sequence[EpochHook] = ()
    batch: Sequence[BatchHook] = ()


# -- the protocol ----------------------------------------------------------------------------------
class Prepared(Protocol):
    """A project's networks and data, ready for its trainer."""

    data: Any

    def state(self) -> dict[str, Tensor]:
        """The networks' weights now, node keyed (the training process sends them per epoch)."""
        ...


class Trainer(Protocol):
    """One training mode: how a project is prepared and trained."""

    takes_hooks: bool  # whether Hooks apply (live probes, adversarial batches)

    def prepare(self, project: Any) -> Prepared:
        """Compile the networks, load the data and weights; ValueError with a one-line message."""
        ...

    def train(self, prepared: Any, settings: Any, callback: Callback | None = None,
              control: TrainControl | None = None, hooks: Hooks | None = None) -> TrainResult:
        """Train; never raises for user errors, ``Finished`` is the last event."""
        ...


class Loop(Protocol):
    """One run's state, as ``run_loop`` drives it."""

    result: TrainResult
    where: tuple[int, int]  # (epoch, step) for messages
    name: str  # "training" | "GAN training": the start of a failure message
    smaller: str  # "a smaller network" | "smaller networks": the out-of-memory advice

    def execute(self) -> TrainResult: ...

    def finish(self) -> None:
        """Load the weights to keep, unfreeze, leave the modules on the CPU in eval mode."""
        ...


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


# -- the shell ------------------------------------------------------------------------------------
def snapshot(module: nn.Module) -> dict[str, Tensor]:
    """Detached copies of a module's state (the best epoch's weights, kept on the device)."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def reads_each_step(device: torch.device) -> bool:
    """Whether a loop reads each step's loss at once. Reading (``.item()``) waits for the
    device to finish the step: on CUDA the losses stay on the device and are read once per
    epoch (``read_losses``), batch events read their window's mean; on the CPU reading costs
    nothing, and a NaN stops the run at its own step."""
    return device.type != "cuda"


def read_losses(pending: Sequence[tuple[int, int, Tensor]]) -> list[tuple[int, int, float]]:
    """``(step, global step, loss)`` rows with the losses read from the device in one transfer:
    a loss kept on the device while the steps run makes the host wait for none of them."""
    if not pending:
        return []
    values = torch.stack([loss for _, _, loss in pending]).float().cpu().tolist()
    return [(step, global_step, value)
            for (step, global_step, _), value in zip(pending, values, strict=True)]


def not_finite(value: float) -> str:
    """How a loss that is no longer a number reads in a message."""
    return "NaN" if math.isnan(value) else "infinite"


class BatchWindow:
    """Batch events throttled over the whole run: the mean losses of the steps since the last
    event, and samples per second over training time only (probes and pauses left out)."""

    def __init__(self) -> None:
        self.last = -math.inf
        self._reset()

    def _reset(self) -> None:
        self.losses: dict[str, float] = {}
        self.steps = self.samples = 0
        self.busy = 0.0

    def add(self, samples: int, busy: float, **losses: float | Tensor) -> None:
        """Count one step; losses may stay tensors on the device (read when an event is due)."""
        for key, value in losses.items():
            self.losses[key] = self.losses.get(key, 0.0) + value
        self.steps += 1
        self.samples += samples
        self.busy += busy

    def take(self, now: float, epoch: int, step: int, steps_per_epoch: int, global_step: int
             ) -> Batch | None:
        """The batch event when one is due (then the window starts over), else None."""
        if now - self.last < BATCH_EVENT_INTERVAL:
            return None
        means = {key: float(total) / self.steps for key, total in self.losses.items()}
        event = Batch(epoch=epoch, step=step, steps_per_epoch=steps_per_epoch,
                      global_step=global_step, loss=means.pop("loss"),
                      samples_per_s=self.samples / max(self.busy, 1e-9), **means)
        self.last = now
        self._reset()
        return event


class StepClock:
    """The per-step bookkeeping every training loop shares: batch events through a
    ``BatchWindow``, a pause point after each step, and an epoch's seconds without pauses."""

    def __init__(self, control: TrainControl, emit: Callable[[Any], None]) -> None:
        self.window = BatchWindow()
        self.control = control
        self.emit = emit
        self.started = self.step_start = time.perf_counter()
        self.paused_for = 0.0

    def start_epoch(self) -> None:
        self.started = self.step_start = time.perf_counter()
        self.paused_for = 0.0

    def step_done(self, samples: int, epoch: int, step: int, steps_per_epoch: int,
                  global_step: int, **losses: float | Tensor) -> bool:
        """Count a finished step (a batch event when one is due), wait here while paused;
        True when the user stopped the run."""
        now = time.perf_counter()
        self.window.add(samples, now - self.step_start, **losses)
        event = self.window.take(now, epoch, step, steps_per_epoch, global_step)
        if event is not None:
            self.emit(event)
        self.paused_for += self.control.pause_point()
        self.step_start = time.perf_counter()
        return self.control.stopped

    def epoch_seconds(self) -> float:
        """Seconds since the epoch started, pauses left out."""
        return time.perf_counter() - self.started - self.paused_for


def failure_message(loop: Loop, exc: BaseException) -> str:
    """One line for a run that raised: out of memory (torch.OutOfMemoryError, MemoryError or
    the allocator's raw text) says so, with the size asked for and what to do; anything else
    names the loop, where it was, and the first line of the error."""
    epoch, step = loop.where
    asked = failed_allocation(exc)
    if asked is not None:
        size = f" (it could not allocate {asked})" if asked else ""
        return (f"the {loop.result.device} device ran out of memory at epoch {epoch}, "
                f"step {step}{size}; lower the batch size or use {loop.smaller}")
    where = f" at epoch {epoch}, step {step}" if epoch else ""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"{loop.name} failed{where}: {text}"


def run_loop(loop: Loop, settings: Any, callback: Callback | None) -> TrainResult:
    """Run ``loop`` in the shell: threads, one-line failures, ``finish``, the Finished event.

    Failures (CUDA missing, NaN loss, shape mismatch between the network and the data, out of
    memory) give status "failed" and a message that says where and what to do.
    """
    options = getattr(settings, "options", None) or {}
    previous_threads = torch.get_num_threads()
    result = loop.result
    try:
        torch.set_num_threads(int(options.get("threads") or default_threads()))
        loop.execute()
    except TrainingFailed as exc:
        result.status, result.message = "failed", str(exc)
    except (RuntimeError, ValueError, IndexError, MemoryError) as exc:
        result.status, result.message = "failed", failure_message(loop, exc)
    finally:
        try:
            loop.finish()
        finally:
            torch.set_num_threads(previous_threads)
    if callback is not None:
        callback(Finished(status=result.status, message=result.message,
                          best_epoch=result.best_epoch))
    return result
