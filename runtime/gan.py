"""GANs: a generator and a discriminator in one project, trained against each other.

``GanTrainer`` is the session's trainer for ``training.options["mode"] == "gan"``; its networks
come from the project's role groups (``runtime.gan_networks``). Each step trains the
discriminator on a batch of real samples and one of generated samples (``d_steps`` times), then
the generator once with the non-saturating loss: ``BCE(D(G(z)), 1)``, which keeps its gradient
alive while D wins. One-sided label smoothing (real targets ``1 - label_smoothing``) keeps D
from growing overconfident. Options (``training.options``, declared in
``graph.settings.TRAINING_OPTIONS``): ``d_lr`` and ``g_lr`` (default ``training.lr``),
``d_steps``, ``label_smoothing``, ``beta1`` (Adam's first momentum; 0.5 is the usual GAN
choice), ``r1`` (0: off; the weight of an R1 gradient penalty on real samples, which steadies
the discriminator and keeps the generator from dropping modes). The optimizer, schedule (per
step), batch size, epochs (passes over the real data), gradient clipping, seed and device are
the project's training settings. Hooks do not apply.

Events mirror ``runtime.train``: Started (with the GAN fields), Batch (``loss`` is the
discriminator's, with ``d_loss`` and ``g_loss``), Epoch (``d_loss``, ``g_loss``,
``d_real_accuracy``, ``d_fake_accuracy``, ``d_lr``, ``g_lr``; for data with known modes, e.g.
``gan_ring``, also ``modes``, ``modes_covered`` and ``high_quality_share``; for other data
``sample_diversity``), Probe (``gan_samples``: generated points over real ones, or a grid of
images from fixed noise; ``gan_hint`` when the samples collapse onto few modes and when they
recover) and Finished. Measured on fixed noise, so the numbers of two epochs compare.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor, nn

from graph.roles import GAN_MODE
from graph.settings import TRAINING_OPTIONS
from runtime.accelerate import Plan, plan_for
from runtime.batches import Batches
from runtime.compile import Compiled, load_node_state
from runtime.events import Epoch, Probe, Started
from runtime.gan_networks import (
    Modes,
    gan_state,
    known_modes,
    noise_shape,
    prepare_gan,
    sample_shape,
)
from runtime.gan_samples import (
    GanSamples,
    collapse_hint,
    diversity,
    mode_metrics,
    sample_kind,
)
from runtime.heads import Metrics, TrainingFailed
from runtime.optim import base_lr, make_optimizer, make_schedule, param_groups
from runtime.trainer import (
    Callback,
    Hooks,
    StepClock,
    TrainControl,
    TrainResult,
    not_finite,
    reads_each_step,
    resolve_device,
    run_loop,
)

EVAL_SAMPLES = 2500  # generated samples measured each epoch (fixed noise)
GRID_SAMPLES = 36  # images in the sample grid (6 x 6)
SHOWN_POINTS = 1000  # generated and real points sent for the 2-D scatter
COLLAPSE_EPOCHS = 3  # collapse hint after this many epochs in a row (a generator finding
#                      modes passes by)
DIVERSITY_SAMPLES = 256


@dataclass
class GanOptions:
    """The GAN entries of ``training.options``, checked."""

    d_lr: float
    g_lr: float
    d_steps: int
    label_smoothing: float
    beta1: float
    r1: float  # weight of the R1 gradient penalty on real samples (0: off)

    @classmethod
    def from_settings(cls, settings: Any) -> GanOptions:
        options = getattr(settings, "options", None) or {}

        def number(key: str) -> float:
            """The option as graph.settings.TRAINING_OPTIONS declares it (None: the lr)."""
            param = TRAINING_OPTIONS[key].param
            low, high = param.minimum, param.maximum
            value = options.get(key, settings.lr if param.default is None else param.default)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not low <= value <= high:
                raise TrainingFailed(f"training option '{key}' must be a number from {low:g} "
                                     f"to {high:g}, not {value!r}")
            return float(value)

        steps = number("d_steps")
        if steps != int(steps):
            raise TrainingFailed(f"training option 'd_steps' must be a whole number, not {steps}")
        return cls(d_lr=number("d_lr"), g_lr=number("g_lr"), d_steps=int(steps),
                   label_smoothing=number("label_smoothing"), beta1=number("beta1"),
                   r1=number("r1"))


# -- the loop -------------------------------------------------------------------------------------
@dataclass
class StepValues:
    """One step's values, kept on the device until read (per epoch on CUDA: reading each step
    would make the host wait for the device every step)."""

    step: int
    global_step: int
    n: int  # real samples in the step
    g_step: bool  # whether the generator trained in this step
    tensor: Tensor  # discriminator loss, real and generated samples it got right, G loss


class GanLoop:
    """State of one GAN run; ``train_gan`` builds it and ``run_loop`` drives it."""

    name, smaller = "GAN training", "smaller networks"

    def __init__(self, generator: Compiled, discriminator: Compiled, data: Any, settings: Any,
                 callback: Callback | None, control: TrainControl | None,
                 modes: Modes | None) -> None:
        self.g, self.d = generator, discriminator
        self.data = data
        self.settings = settings
        self.callback = callback
        self.control = control or TrainControl()
        self.modes = modes
        self.result = TrainResult("failed", "", device="cpu")
        self.where = (0, 0)
        self.best_key: tuple[float, ...] | None = None
        self.best_snapshot: dict[str, Tensor] | None = None
        self.frozen: list[nn.Parameter] = []
        self.initial: dict[str, Tensor] | None = None
        self.plan: Plan | None = None  # the Accelerate features chosen when training starts
        self.collapsed = False
        self.collapse_streak = 0

    def emit(self, event: Any) -> None:
        if self.callback is not None:
            self.callback(event)

    def _optimizer(self, compiled: Compiled, lr: float, beta1: float, total: int
                   ) -> tuple[torch.optim.Optimizer, Any, bool]:
        groups, frozen = param_groups(compiled)
        self.frozen += frozen
        if not groups:
            raise TrainingFailed(
                f"nothing to train in the {'generator' if compiled is self.g else 'discriminator'}"
                ": every layer is frozen or has learning-rate multiplier 0; unfreeze one")
        settings = dataclasses.replace(self.settings, lr=lr)
        optimizer = make_optimizer(groups, settings)
        if settings.optimizer in ("adam", "adamw"):
            for group in optimizer.param_groups:
                group["betas"] = (beta1, group["betas"][1])
        schedule, per_step = make_schedule(optimizer, settings, total)
        return optimizer, schedule, per_step

    def execute(self) -> TrainResult:
        settings, options = self.settings, GanOptions.from_settings(self.settings)
        device = resolve_device(settings.device)
        self.result.device = str(device)
        torch.manual_seed(settings.seed)
        self.g.module.to(device)
        self.d.module.to(device)
        self.initial = gan_state(self.g, self.d)
        # the discriminator reads the samples: its network decides (a convolutional one on
        # images of 16 x 16 or more gains from bf16 and channels_last on a CPU that has them)
        self.plan = plan = plan_for(self.d.graph, device,
                                    getattr(settings, "accelerate", "auto"),
                                    sample_passes=len(self.data.train) * settings.epochs)
        gen, disc = plan.prepare(self.g.module), plan.prepare(self.d.module)
        z_shape = noise_shape(self.g)
        shape = sample_shape(self.d)
        kind = sample_kind(shape)
        batches = Batches(self.data.train, settings.batch_size, device, shuffle=True,
                          seed=settings.seed)
        if len(batches) == 0:
            raise TrainingFailed("the training set is empty; add samples or lower the "
                                 "validation split")
        d_per_epoch = len(batches)
        g_per_epoch = math.ceil(d_per_epoch / options.d_steps)
        d_opt, d_sched, d_per_step = self._optimizer(self.d, options.d_lr, options.beta1,
                                                     settings.epochs * d_per_epoch)
        g_opt, g_sched, g_per_step = self._optimizer(self.g, options.g_lr, options.beta1,
                                                     settings.epochs * g_per_epoch)
        d_params = [p for group in d_opt.param_groups for p in group["params"]]
        g_params = [p for group in g_opt.param_groups for p in group["params"]]
        fixed = torch.Generator().manual_seed(settings.seed + 1)
        eval_noise = torch.randn((EVAL_SAMPLES, *z_shape), generator=fixed).to(device)
        real_shown = self.real_samples(SHOWN_POINTS if kind == "points" else DIVERSITY_SAMPLES)
        self.emit(Started(mode=GAN_MODE, device=str(device), epochs=settings.epochs,
                          steps_per_epoch=d_per_epoch,
                          params=sum(p.numel() for p in d_params + g_params),
                          g_params=sum(p.numel() for p in g_params),
                          d_params=sum(p.numel() for p in d_params),
                          samples=len(self.data.train), val_samples=0, sample_kind=kind,
                          d_steps=options.d_steps,
                          accelerate=plan.describe()))
        self.measure(0, eval_noise, real_shown, kind)  # what the untrained generator makes

        bce = nn.functional.binary_cross_entropy_with_logits
        real_target = 1.0 - options.label_smoothing
        global_step = 0
        status, message = "completed", f"trained {settings.epochs} epochs"
        clock = StepClock(self.control, self.emit)
        read_each_step = reads_each_step(device)
        for epoch in range(1, settings.epochs + 1):
            clock.start_epoch()
            gen.train()
            disc.train()
            sums = {"d_loss": 0.0, "g_loss": 0.0, "real": 0, "fake": 0, "n": 0, "g_n": 0}
            pending: list[StepValues] = []  # steps whose values are still on the device
            stopped = False
            g_value: Tensor | float = 0.0  # the last generator loss, for batch events
            for step, (real, _labels) in enumerate(batches, start=1):
                self.where = (epoch, step)
                n = real.shape[0]
                real = plan.inputs(real)
                with plan.precision():
                    fake = gen(torch.randn((n, *z_shape), device=device))
                d_opt.zero_grad(set_to_none=True)
                if options.r1:
                    real = real.detach().requires_grad_(True)
                with plan.precision():
                    logits = disc(torch.cat([real, fake.detach()])).reshape(-1)
                targets = torch.cat([torch.full((n,), real_target, device=device),
                                     torch.zeros(n, device=device)])
                d_loss = 2.0 * bce(logits.float(), targets)  # mean over real + over fake
                d_value = d_loss.detach()
                if options.r1:  # keep D flat around real data (Mescheder et al. 2018)
                    (grad,) = torch.autograd.grad(logits[:n].sum(), real, create_graph=True)
                    d_loss = d_loss + options.r1 / 2 * grad.pow(2).flatten(1).sum(1).mean()
                d_loss.backward()
                if settings.grad_clip > 0:
                    nn.utils.clip_grad_norm_(d_params, settings.grad_clip)
                d_opt.step()
                if d_sched is not None and d_per_step:
                    d_sched.step()
                with torch.no_grad():
                    real_ok, fake_ok = (logits[:n] > 0).sum(), (logits[n:] < 0).sum()
                g_step = step % options.d_steps == 0 or step == d_per_epoch
                g_read = d_value  # a stand-in where the generator does not train
                if g_step:
                    g_opt.zero_grad(set_to_none=True)
                    with plan.precision():
                        judged = disc(fake).reshape(-1)
                    g_loss = bce(judged.float(), torch.ones(n, device=device))
                    g_loss.backward()
                    if settings.grad_clip > 0:
                        nn.utils.clip_grad_norm_(g_params, settings.grad_clip)
                    g_opt.step()
                    disc.zero_grad(set_to_none=True)  # the G step left gradients in D
                    if g_sched is not None and g_per_step:
                        g_sched.step()
                    g_value = g_read = g_loss.detach()
                global_step += 1
                pending.append(StepValues(step, global_step, n, g_step, torch.stack(
                    [d_value.float(), real_ok.float(), fake_ok.float(), g_read.float()])))
                if read_each_step:
                    self._read_steps(pending, sums, epoch, d_opt, g_opt)
                if clock.step_done(n, epoch, step, d_per_epoch, global_step, loss=d_value,
                                   d_loss=d_value, g_loss=g_value):
                    stopped = True
                    break
            self._read_steps(pending, sums, epoch, d_opt, g_opt)
            if stopped:
                status, message = "stopped", f"stopped by the user in epoch {epoch}"
                break
            lrs = {"d_lr": base_lr(d_opt), "g_lr": base_lr(g_opt)}
            for schedule, per_step in ((d_sched, d_per_step), (g_sched, g_per_step)):
                if schedule is not None and not per_step:
                    schedule.step()
            metrics = {
                "d_loss": sums["d_loss"] / max(1, sums["n"]),
                "g_loss": sums["g_loss"] / max(1, sums["g_n"]),
                "d_real_accuracy": sums["real"] / max(1, sums["n"]),
                "d_fake_accuracy": sums["fake"] / max(1, sums["n"]), **lrs}
            metrics.update(self.measure(epoch, eval_noise, real_shown, kind))
            key = ((metrics["modes_covered"], metrics["high_quality_share"]) if "modes_covered"
                   in metrics else (float(epoch),))
            if self.best_key is None or key >= self.best_key:
                self.best_key, self.result.best_epoch = key, epoch
                self.best_snapshot = gan_state(self.g, self.d)
            record = Epoch(epoch=epoch, metrics=metrics, best_epoch=self.result.best_epoch,
                           seconds=clock.epoch_seconds())
            self.result.epochs.append(record.record())
            self.emit(record)
            if self.control.stopped:
                status, message = "stopped", f"stopped by the user after epoch {epoch}"
                break
        self.result.status, self.result.message = status, message + self._summary()
        return self.result

    def _read_steps(self, pending: list[StepValues], sums: dict[str, Any], epoch: int,
                    d_opt: torch.optim.Optimizer, g_opt: torch.optim.Optimizer) -> None:
        """Read the values of the ``pending`` steps from the device in one transfer, add them
        to the epoch's ``sums`` and the run's steps, and empty ``pending``. A loss that is no
        longer a number fails the run naming its own step, as when read at once."""
        if not pending:
            return
        rows = torch.stack([values.tensor for values in pending]).cpu().tolist()
        for values, (d_value, real_ok, fake_ok, g_value) in zip(pending, rows, strict=True):
            self.where = (epoch, values.step)
            self._finite(d_value, "discriminator", d_opt)
            sums["d_loss"] += d_value * values.n
            sums["real"] += int(real_ok)
            sums["fake"] += int(fake_ok)
            sums["n"] += values.n
            if values.g_step:
                self._finite(g_value, "generator", g_opt)
                sums["g_loss"] += g_value * values.n
                sums["g_n"] += values.n
            self.result.steps.append((values.global_step, d_value))
        pending.clear()

    def _finite(self, value: float, which: str, optimizer: torch.optim.Optimizer) -> float:
        if not math.isfinite(value):
            epoch, step = self.where
            raise TrainingFailed(
                f"the {which} loss became {not_finite(value)} at epoch {epoch}, step {step}; "
                f"lower the learning rates (now {base_lr(optimizer):g}) or turn on gradient "
                "clipping")
        return value

    def real_samples(self, count: int) -> np.ndarray:
        dataset = self.data.train
        index = np.linspace(0, len(dataset) - 1, min(count, len(dataset))).astype(int)
        return np.stack([np.asarray(dataset[int(i)][0], dtype=np.float32) for i in index])

    @torch.no_grad()
    def measure(self, epoch: int, noise: Tensor, real: np.ndarray, kind: str
                 ) -> dict[str, Any]:
        """Metrics of samples from fixed noise, the samples probe and, on a change, the hint."""
        gen = self.g.module
        was_training = gen.training
        gen.eval()
        try:
            fake = gen(noise).float().cpu().numpy()
        finally:
            gen.train(was_training)
        metrics: dict[str, Any] = {}
        if self.modes is not None and kind == "points":
            metrics.update(mode_metrics(fake, self.modes))
        else:
            metrics["sample_diversity"] = diversity(fake[:DIVERSITY_SAMPLES],
                                                    real[:DIVERSITY_SAMPLES])
        values = cast(GanSamples, {"kind": kind, **metrics})
        if kind == "points":
            values.update(fake=fake[:SHOWN_POINTS].astype(np.float32), real=real)
            if self.modes is not None:
                values.update(centres=self.modes[0].astype(np.float32), std=self.modes[1])
        elif kind == "image":
            values.update(images=fake[:GRID_SAMPLES].astype(np.float32),
                          value_range=tuple(getattr(self.data, "value_range", (0.0, 1.0))))
        self.emit(Probe(probe="gan_samples", values=values, epoch=epoch))
        warming_up = epoch <= max(2, self.settings.epochs // 5)  # untrained samples look alike
        hint = "" if warming_up else collapse_hint(metrics)
        self.collapse_streak = self.collapse_streak + 1 if hint else 0
        collapsed = self.collapse_streak >= COLLAPSE_EPOCHS or (self.collapsed and bool(hint))
        if collapsed != self.collapsed:
            self.collapsed = collapsed
            self.emit(Probe(probe="gan_hint", epoch=epoch, values={
                "collapsed": collapsed,
                "message": hint if collapsed else "The generator's samples vary again."}))
        if epoch > 0:
            metrics["mode_collapse"] = self.collapsed
        return metrics

    def _summary(self) -> str:
        best = next((e for e in self.result.epochs if e["epoch"] == self.result.best_epoch),
                    None)
        if best is None or "modes_covered" not in best:
            return ""
        return (f"; best epoch {best['epoch']}: {best['modes_covered']} of {best['modes']} "
                f"modes, {best['high_quality_share']:.0%} of samples high quality")

    def finish(self) -> None:
        """Keep the best epoch's weights (the first ones after a failure), unfreeze, and leave
        both modules on the CPU in eval mode."""
        snapshot = self.best_snapshot
        if snapshot is None and self.result.status == "failed":
            snapshot = self.initial
        for compiled in (self.g, self.d):
            if self.plan is not None:
                self.plan.restore(compiled.module)
            compiled.module.to("cpu")
            if snapshot is not None:
                load_node_state(compiled, snapshot)
            compiled.module.eval()
        for p in self.frozen:
            p.requires_grad_(True)
        if self.initial is not None:
            self.result.best_state = gan_state(self.g, self.d)


def train_gan(generator: Compiled, discriminator: Compiled, data: Any, settings: Any,
              callback: Callback | None = None, control: TrainControl | None = None,
              modes: Modes | None = None) -> TrainResult:
    """Train a GAN; never raises for user errors (a failed result and a one-line message).

    ``modes`` (centres, spread) turn on mode coverage metrics for 2-D data. Returns the
    result with both networks' weights of the best epoch (most modes covered, then the highest
    high-quality share; the last epoch when modes are unknown), node keyed, and leaves them
    loaded. The Finished event is always the last event.
    """
    loop = GanLoop(generator, discriminator, data, settings, callback, control, modes)
    return run_loop(loop, settings, callback)


# -- the trainer of the GAN mode ------------------------------------------------------------------
@dataclass
class GanRun:
    """A GAN's two networks, its data and their known modes (``runtime.trainer.Prepared``)."""

    generator: Compiled
    discriminator: Compiled
    data: Any
    modes: Modes | None

    def state(self) -> dict[str, Tensor]:
        return gan_state(self.generator, self.discriminator)


class GanTrainer:
    """A generator against a discriminator (``runtime.trainer.Trainer``); no hooks."""

    takes_hooks = False

    def prepare(self, project: Any) -> GanRun:
        return GanRun(*prepare_gan(project), known_modes(project.dataset))

    def train(self, prepared: GanRun, settings: Any, callback: Callback | None = None,
              control: TrainControl | None = None, hooks: Hooks | None = None) -> TrainResult:
        return train_gan(prepared.generator, prepared.discriminator, prepared.data, settings,
                         callback, control, prepared.modes)


# -- a trained GAN --------------------------------------------------------------------------------
def sample_project(project: Any, count: int = EVAL_SAMPLES) -> Probe:
    """The "gan_samples" probe of the project's stored weights, measured as during training
    (the GAN panel shows it for a trained project that is not training)."""
    generator, discriminator, data = prepare_gan(project)
    events: list[Any] = []
    loop = GanLoop(generator, discriminator, data, project.training, events.append, None,
                   known_modes(project.dataset))
    kind = sample_kind(sample_shape(discriminator))
    fixed = torch.Generator().manual_seed(project.training.seed + 1)
    noise = torch.randn((count, *noise_shape(generator)), generator=fixed)
    loop.measure(1, noise, loop.real_samples(SHOWN_POINTS if kind == "points"
                                             else DIVERSITY_SAMPLES), kind)
    return next(e for e in events if isinstance(e, Probe) and e.probe == "gan_samples")


def evaluate_gan(project: Any) -> Metrics:
    """Metrics of the stored generator: modes_covered and high_quality_share (data with known
    modes) or sample_diversity, plus "trained"."""
    values = sample_project(project).values
    keys = ("modes", "modes_covered", "high_quality_share", "sample_diversity")
    return {**{k: values[k] for k in keys if k in values}, "trained": bool(project.weights)}
