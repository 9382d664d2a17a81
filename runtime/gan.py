"""GANs: a generator and a discriminator in one project, trained against each other.

A GAN project marks two groups of its graph: the group with role "generator" (an Input of
noise, layers, an Output with one sample) and the group with role "discriminator" (an Input
of one sample, layers, an Output of one logit: real or fake). ``compile_gan`` compiles each
group into its own ``Compiled`` module; node ids are kept, so both networks' weights live in
``project.weights`` keyed by node id like any other project.

``train_gan`` is the loop chosen when ``training.options["mode"] == "gan"`` (through
``runtime.session.run_training``). Each step trains the discriminator on a batch of real
samples and one of generated samples (``d_steps`` times), then the generator once with the
non-saturating loss: ``BCE(D(G(z)), 1)``, which keeps its gradient alive while D wins.
One-sided label smoothing (real targets ``1 - label_smoothing``) keeps D from growing
overconfident. Options (``training.options``): ``d_lr`` and ``g_lr`` (default ``training.lr``),
``d_steps`` (1), ``label_smoothing`` (0.1), ``beta1`` (0.5, Adam's first momentum; the usual
GAN choice), ``r1`` (0: off; the weight of an R1 gradient penalty on real samples, which
steadies the discriminator and keeps the generator from dropping modes). The optimizer,
schedule (per step), batch size, epochs (passes over the real data), gradient clipping, seed
and device are the project's training settings.

Events mirror ``runtime.train``: started, batch (``loss`` is the discriminator's, with
``d_loss`` and ``g_loss``), epoch (``d_loss``, ``g_loss``, ``d_real_accuracy``,
``d_fake_accuracy``, ``d_lr``, ``g_lr``, ``best_epoch``, ``seconds``; for data with known
modes, e.g. ``gan_ring``, also ``modes``, ``modes_covered`` and ``high_quality_share``; for
other data ``sample_diversity``), probe (``"probe": "gan_samples"``: generated points over real
ones, or a grid of images from fixed noise; ``"probe": "gan_hint"`` when the samples collapse
onto few modes and when they recover) and finished. Measured on fixed noise, so the numbers
of two epochs compare.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from graph.model import Graph, Group
from graph.settings import TRAINING_OPTIONS
from runtime.compile import Compiled, compile_graph, load_node_state, node_state
from runtime.train import (
    BATCH_EVENT_INTERVAL,
    Batches,
    TrainControl,
    TrainingFailed,
    TrainResult,
    default_threads,
    make_optimizer,
    make_schedule,
    param_groups,
    resolve_device,
)

GENERATOR, DISCRIMINATOR = "generator", "discriminator"
EVAL_SAMPLES = 2500  # generated samples measured each epoch (fixed noise)
GRID_SAMPLES = 36  # images in the sample grid (6 x 6)
SHOWN_POINTS = 1000  # generated and real points sent for the 2-D scatter
COVERED_SHARE = 0.2  # a mode counts as covered with a fifth of its fair share of good samples
COLLAPSE_QUALITY = 0.25  # collapse hint: this share of samples sits on modes ...
COLLAPSE_MODES = 0.5  # ... but on at most this share of the modes
COLLAPSE_DIVERSITY = 0.35  # no known modes: samples closer together than this share of real
COLLAPSE_EPOCHS = 3  # ... for this many epochs in a row (a generator finding modes passes by)
DIVERSITY_SAMPLES = 256

Event = dict[str, Any]
Callback = Callable[[Event], None]
Modes = tuple[np.ndarray, float]  # mode centres (k, d) and the spread of each mode


# -- the two networks ---------------------------------------------------------------------------
def is_gan(project: Any) -> bool:
    """Whether the project trains as a GAN (``training.options["mode"] == "gan"``)."""
    return (getattr(project.training, "options", None) or {}).get("mode") == "gan"


def gan_groups(graph: Graph) -> tuple[Group, Group]:
    """The generator and discriminator groups; ValueError says what to do when one is missing."""
    found = []
    for role in (GENERATOR, DISCRIMINATOR):
        group = graph.group_by_role(role)
        if group is None or not graph.group_members(group.id):
            raise ValueError(
                f"a GAN needs a {role} group: select the {role}'s layers, group them (Ctrl+G) "
                f"and set the group's role to {role} (right-click the group)")
        found.append(group)
    return found[0], found[1]


def group_graph(graph: Graph, group: Group) -> Graph:
    """The group's nodes and the edges between them, with their ids (weights stay keyed)."""
    members = set(graph.group_members(group.id))
    for edge in graph.edges:
        if edge.dst in members and edge.src not in members:
            inside, outside = graph.nodes[edge.dst], graph.nodes[edge.src]
            raise ValueError(
                f"{inside.label} in the {_role(group)} group '{group.name}' takes its input "
                f"from {outside.label} outside the group; each network of a GAN runs on its "
                "own, so move that layer into the group or remove the connection")
    return Graph.from_dict(graph.subgraph_dict(members), layout=None)


def _role(group: Group) -> str:
    return group.role or "plain"


def compile_gan(project_or_graph: Any) -> tuple[Compiled, Compiled]:
    """(generator, discriminator) compiled from the two role groups; ValueError (one line,
    naming the group and node) when a group is not a complete network or they do not fit."""
    from runtime.shapes import analyze

    graph: Graph = getattr(project_or_graph, "graph", project_or_graph)
    compiled: list[Compiled] = []
    out_shapes: list[tuple[int, ...]] = []
    for group in gan_groups(graph):
        sub = group_graph(graph, group)
        where = f"{group.role} '{group.name}'"
        inputs, outputs = sub.nodes_of_type("Input"), sub.nodes_of_type("Output")
        if len(inputs) != 1 or len(outputs) != 1:
            what = ("noise" if group.role == GENERATOR else "sample")
            raise ValueError(
                f"the {where} group has {len(inputs)} Input and {len(outputs)} Output nodes; "
                f"it needs exactly one of each (Input: the {what}, Output: "
                f"{'the sample' if group.role == GENERATOR else 'one logit'})")
        if inputs[0].param("dtype") != "float":
            raise ValueError(f"{inputs[0].label} of the {where} group must have dtype float")
        analysis = analyze(sub)
        for diag in analysis.diagnostics:
            if diag.severity == "error":
                raise ValueError(f"{where} group: {diag.message}")
        into = sub.in_edges(outputs[0].id)
        shape = analysis.shapes.edges.get(into[0]) if into else None
        out_shapes.append(tuple(shape[1:]) if shape is not None else ())
        compiled.append(compile_graph(sub))
    generator, discriminator = compiled
    sample = out_shapes[0]
    d_input = graph.nodes[discriminator.input_nodes[0]]
    d_shape = tuple(d_input.param("shape"))
    if sample != d_shape:
        raise ValueError(
            f"the generator makes samples of shape {_dims(sample)} but the discriminator's "
            f"{d_input.label} takes {_dims(d_shape)}; make them equal (a Reshape at the end "
            "of the generator, or the Input's shape)")
    if math.prod(out_shapes[1]) != 1:
        out = graph.nodes[discriminator.output_nodes[0]]
        raise ValueError(
            f"the discriminator's {out.label} gets {_dims(out_shapes[1])} values per sample; "
            "it must get one logit (end the discriminator with a Linear of 1 output)")
    return generator, discriminator


def _dims(shape: tuple[int, ...]) -> str:
    return " x ".join(map(str, shape)) if shape else "nothing"


def noise_shape(generator: Compiled) -> tuple[int, ...]:
    return tuple(generator.graph.nodes[generator.input_nodes[0]].param("shape"))


def sample_shape(discriminator: Compiled) -> tuple[int, ...]:
    return tuple(discriminator.graph.nodes[discriminator.input_nodes[0]].param("shape"))


def gan_state(generator: Compiled, discriminator: Compiled) -> dict[str, Tensor]:
    """Both networks' weights keyed "<node_id>.<param path>" (detached clones on the CPU)."""
    state = {**node_state(generator), **node_state(discriminator)}
    return {k: v.detach().to("cpu").clone() for k, v in state.items()}


def known_modes(dataset: Any) -> Modes | None:
    """Mode centres and spread of data sets that have them (gan_ring), else None."""
    if getattr(dataset, "name", "") == "gan_ring":
        from runtime.datasets.gan import ring_modes

        return ring_modes(dataset)
    return None


def prepare_gan(project: Any) -> tuple[Compiled, Compiled, Any]:
    """Compile both networks, load the data and the project's weights (seeded first, so fresh
    networks start the same every time); ValueError with a one-line message."""
    from runtime.compile import weights_from_bytes
    from runtime.data import load_dataset

    torch.manual_seed(project.training.seed)
    generator, discriminator = compile_gan(project)
    data = load_dataset(project.dataset)
    shape = sample_shape(discriminator)
    if tuple(data.input_shape) != shape:
        node = discriminator.graph.nodes[discriminator.input_nodes[0]]
        want = ", ".join(map(str, data.input_shape))
        raise ValueError(f"{node.label} of the discriminator has shape "
                         f"{', '.join(map(str, shape))} but dataset {data.name} gives samples "
                         f"of shape {want}; set the Input's shape to {want} and make the "
                         "generator's samples that shape too")
    if data.input_dtype != "float":
        raise ValueError(f"dataset {data.name} holds token ids; a GAN generates float samples")
    if project.weights:
        tensors = weights_from_bytes(project.weights)
        load_node_state(generator, tensors)
        load_node_state(discriminator, tensors)
    return generator, discriminator, data


# -- measuring samples --------------------------------------------------------------------------
def mode_metrics(samples: np.ndarray, modes: Modes) -> dict[str, Any]:
    """How well 2-D samples cover known modes.

    A sample is high quality within three standard deviations of its nearest mode; a mode is
    covered when it holds at least ``COVERED_SHARE`` of its fair share (n / modes) of the
    high-quality samples.
    """
    centres, std = modes
    samples = np.asarray(samples, dtype=np.float64).reshape(len(samples), -1)
    dist = np.linalg.norm(samples[:, None, :] - centres[None, :, :], axis=2)
    nearest = dist.argmin(1)
    good = dist[np.arange(len(samples)), nearest] <= 3 * std
    counts = np.bincount(nearest[good], minlength=len(centres))
    need = COVERED_SHARE * len(samples) / len(centres)
    return {"modes": len(centres), "modes_covered": int((counts >= need).sum()),
            "high_quality_share": float(good.mean()) if len(samples) else 0.0}


def diversity(fake: np.ndarray, real: np.ndarray) -> float:
    """Mean distance between generated samples over the same for real ones (1 = as varied as
    the data; near 0 = the generator makes one thing)."""
    def spread(x: np.ndarray) -> float:
        x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        diff = x[:, None, :] - x[None, :, :]
        return float(np.sqrt((diff ** 2).sum(-1)).mean())

    base = spread(real)
    return spread(fake) / base if base > 0 else 0.0


def collapse_hint(metrics: dict[str, Any]) -> str:
    """The hint for a collapsed generator, or "" when its samples look varied."""
    advice = ("try a lower generator learning rate (g_lr), more discriminator steps (d_steps) "
              "or more label smoothing")
    if "modes_covered" in metrics:
        k, covered = metrics["modes"], metrics["modes_covered"]
        if metrics["high_quality_share"] >= COLLAPSE_QUALITY and covered <= COLLAPSE_MODES * k:
            return (f"Mode collapse: the generator's samples sit on only {covered} of {k} "
                    f"modes; {advice}.")
        return ""
    value = metrics.get("sample_diversity")
    if value is not None and value < COLLAPSE_DIVERSITY:
        return (f"Mode collapse: generated samples vary {value:.0%} as much as real ones (they "
                f"look alike); {advice}.")
    return ""


def sample_kind(shape: tuple[int, ...]) -> str:
    """How the panel shows samples: "points" (2-D), "image" (C x H x W) or "vector"."""
    if shape == (2,):
        return "points"
    if len(shape) == 3 and shape[0] in (1, 3):
        return "image"
    return "vector"


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


# -- the loop -----------------------------------------------------------------------------------
class _GanRun:
    """State of one GAN run; ``train_gan`` builds it and calls ``execute``."""

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
        self.collapsed = False
        self.collapse_streak = 0

    def emit(self, event: Event) -> None:
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
        gen, disc = self.g.module.to(device), self.d.module.to(device)
        self.initial = gan_state(self.g, self.d)
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
        real_shown = self._real_samples(SHOWN_POINTS if kind == "points" else DIVERSITY_SAMPLES)
        self.emit({"type": "started", "mode": "gan", "device": str(device),
                   "epochs": settings.epochs, "steps_per_epoch": d_per_epoch,
                   "params": sum(p.numel() for p in d_params + g_params),
                   "g_params": sum(p.numel() for p in g_params),
                   "d_params": sum(p.numel() for p in d_params),
                   "samples": len(self.data.train), "val_samples": 0, "sample_kind": kind,
                   "d_steps": options.d_steps})
        self._measure(0, eval_noise, real_shown, kind)  # what the untrained generator makes

        bce = nn.functional.binary_cross_entropy_with_logits
        real_target = 1.0 - options.label_smoothing
        global_step = 0
        status, message = "completed", f"trained {settings.epochs} epochs"
        last_event, window_d, window_g, window_busy = -math.inf, 0.0, 0.0, 0.0
        window_steps = window_samples = 0
        for epoch in range(1, settings.epochs + 1):
            started, paused_for = time.perf_counter(), 0.0
            gen.train()
            disc.train()
            sums = {"d_loss": 0.0, "g_loss": 0.0, "real": 0, "fake": 0, "n": 0, "g_n": 0}
            stopped = False
            step_start = time.perf_counter()
            g_value = float("nan")
            for step, (real, _labels) in enumerate(batches, start=1):
                self.where = (epoch, step)
                n = real.shape[0]
                fake = gen(torch.randn((n, *z_shape), device=device))
                d_opt.zero_grad(set_to_none=True)
                if options.r1:
                    real = real.detach().requires_grad_(True)
                logits = disc(torch.cat([real, fake.detach()])).reshape(-1)
                targets = torch.cat([torch.full((n,), real_target, device=device),
                                     torch.zeros(n, device=device)])
                d_loss = 2.0 * bce(logits, targets)  # mean over real + mean over fake
                d_value = self._finite(float(d_loss.item()), "discriminator", d_opt)
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
                    sums["real"] += int((logits[:n] > 0).sum())
                    sums["fake"] += int((logits[n:] < 0).sum())
                sums["d_loss"] += d_value * n
                sums["n"] += n
                if step % options.d_steps == 0 or step == d_per_epoch:
                    g_opt.zero_grad(set_to_none=True)
                    g_loss = bce(disc(fake).reshape(-1), torch.ones(n, device=device))
                    g_value = self._finite(float(g_loss.item()), "generator", g_opt)
                    g_loss.backward()
                    if settings.grad_clip > 0:
                        nn.utils.clip_grad_norm_(g_params, settings.grad_clip)
                    g_opt.step()
                    disc.zero_grad(set_to_none=True)  # the G step left gradients in D
                    if g_sched is not None and g_per_step:
                        g_sched.step()
                    sums["g_loss"] += g_value * n
                    sums["g_n"] += n
                global_step += 1
                self.result.steps.append((global_step, d_value))
                now = time.perf_counter()
                window_d += d_value
                window_g += g_value if math.isfinite(g_value) else 0.0
                window_steps += 1
                window_samples += n
                window_busy += now - step_start
                if now - last_event >= BATCH_EVENT_INTERVAL:
                    self.emit({"type": "batch", "epoch": epoch, "step": step,
                               "steps_per_epoch": d_per_epoch, "global_step": global_step,
                               "loss": window_d / window_steps,
                               "d_loss": window_d / window_steps,
                               "g_loss": window_g / window_steps,
                               "samples_per_s": window_samples / max(window_busy, 1e-9)})
                    last_event = now
                    window_d, window_g, window_busy = 0.0, 0.0, 0.0
                    window_steps = window_samples = 0
                if self.control.paused:
                    wait = time.perf_counter()
                    self.control.wait_while_paused()
                    paused_for += time.perf_counter() - wait
                step_start = time.perf_counter()
                if self.control.stopped:
                    stopped = True
                    break
            if stopped:
                status, message = "stopped", f"stopped by the user in epoch {epoch}"
                break
            lrs = {"d_lr": _lr(d_opt), "g_lr": _lr(g_opt)}
            for schedule, per_step in ((d_sched, d_per_step), (g_sched, g_per_step)):
                if schedule is not None and not per_step:
                    schedule.step()
            event: Event = {
                "type": "epoch", "epoch": epoch,
                "d_loss": sums["d_loss"] / max(1, sums["n"]),
                "g_loss": sums["g_loss"] / max(1, sums["g_n"]),
                "d_real_accuracy": sums["real"] / max(1, sums["n"]),
                "d_fake_accuracy": sums["fake"] / max(1, sums["n"]), **lrs}
            event.update(self._measure(epoch, eval_noise, real_shown, kind))
            key = ((event["modes_covered"], event["high_quality_share"]) if "modes_covered"
                   in event else (float(epoch),))
            if self.best_key is None or key >= self.best_key:
                self.best_key, self.result.best_epoch = key, epoch
                self.best_snapshot = gan_state(self.g, self.d)
            event["best_epoch"] = self.result.best_epoch
            event["seconds"] = time.perf_counter() - started - paused_for
            self.result.epochs.append(event)
            self.emit(event)
            if self.control.stopped:
                status, message = "stopped", f"stopped by the user after epoch {epoch}"
                break
        self.result.status, self.result.message = status, message + self._summary()
        return self.result

    def _finite(self, value: float, which: str, optimizer: torch.optim.Optimizer) -> float:
        if not math.isfinite(value):
            epoch, step = self.where
            raise TrainingFailed(
                f"the {which} loss became {'NaN' if math.isnan(value) else 'infinite'} at "
                f"epoch {epoch}, step {step}; lower the learning rates (now {_lr(optimizer):g}) "
                "or turn on gradient clipping")
        return value

    def _real_samples(self, count: int) -> np.ndarray:
        dataset = self.data.train
        index = np.linspace(0, len(dataset) - 1, min(count, len(dataset))).astype(int)
        return np.stack([np.asarray(dataset[int(i)][0], dtype=np.float32) for i in index])

    @torch.no_grad()
    def _measure(self, epoch: int, noise: Tensor, real: np.ndarray, kind: str) -> Event:
        """Metrics of samples from fixed noise, the samples probe and, on a change, the hint."""
        gen = self.g.module
        was_training = gen.training
        gen.eval()
        try:
            fake = gen(noise).float().cpu().numpy()
        finally:
            gen.train(was_training)
        metrics: Event = {}
        if self.modes is not None and kind == "points":
            metrics.update(mode_metrics(fake, self.modes))
        else:
            metrics["sample_diversity"] = diversity(fake[:DIVERSITY_SAMPLES],
                                                    real[:DIVERSITY_SAMPLES])
        probe: Event = {"type": "probe", "probe": "gan_samples", "epoch": epoch,
                        "kind": kind, **metrics}
        if kind == "points":
            probe.update(fake=fake[:SHOWN_POINTS].astype(np.float32), real=real)
            if self.modes is not None:
                probe.update(centres=self.modes[0].astype(np.float32), std=self.modes[1])
        elif kind == "image":
            probe.update(images=fake[:GRID_SAMPLES].astype(np.float32),
                         value_range=tuple(getattr(self.data, "value_range", (0.0, 1.0))))
        self.emit(probe)
        warming_up = epoch <= max(2, self.settings.epochs // 5)  # untrained samples look alike
        hint = "" if warming_up else collapse_hint(metrics)
        self.collapse_streak = self.collapse_streak + 1 if hint else 0
        collapsed = self.collapse_streak >= COLLAPSE_EPOCHS or (self.collapsed and bool(hint))
        if collapsed != self.collapsed:
            self.collapsed = collapsed
            self.emit({"type": "probe", "probe": "gan_hint", "epoch": epoch,
                       "collapsed": collapsed,
                       "message": hint if collapsed else "The generator's samples vary again."})
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
            snapshot = getattr(self, "initial", None)
        for compiled in (self.g, self.d):
            compiled.module.to("cpu")
            if snapshot is not None:
                load_node_state(compiled, snapshot)
            compiled.module.eval()
        for p in self.frozen:
            p.requires_grad_(True)
        if hasattr(self, "initial"):
            self.result.best_state = gan_state(self.g, self.d)


def _lr(optimizer: torch.optim.Optimizer) -> float:
    group = optimizer.param_groups[0]
    return float(group["lr"]) / (group.get("lr_mult") or 1.0)


def train_gan(generator: Compiled, discriminator: Compiled, data: Any, settings: Any,
              callback: Callback | None = None, control: TrainControl | None = None,
              modes: Modes | None = None) -> TrainResult:
    """Train a GAN; never raises for user errors (a failed result and a one-line message).

    ``modes`` (centres, spread) turn on mode coverage metrics for 2-D data. Returns the
    result with both networks' weights of the best epoch (most modes covered, then the highest
    high-quality share; the last epoch when modes are unknown), node keyed, and leaves them
    loaded. The "finished" event is always the last event.
    """
    options = getattr(settings, "options", None) or {}
    previous_threads = torch.get_num_threads()
    run = _GanRun(generator, discriminator, data, settings, callback, control, modes)
    try:
        torch.set_num_threads(int(options.get("threads") or default_threads()))
        run.execute()
    except TrainingFailed as exc:
        run.result.status, run.result.message = "failed", str(exc)
    except torch.cuda.OutOfMemoryError:
        epoch, step = run.where
        run.result.status = "failed"
        run.result.message = (f"the {run.result.device} device ran out of memory at epoch "
                              f"{epoch}, step {step}; lower the batch size or use smaller "
                              "networks")
    except (RuntimeError, ValueError, IndexError) as exc:
        epoch, step = run.where
        where = f" at epoch {epoch}, step {step}" if epoch else ""
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        run.result.status, run.result.message = "failed", f"GAN training failed{where}: {text}"
    finally:
        try:
            run.finish()
        finally:
            torch.set_num_threads(previous_threads)
    run.emit({"type": "finished", "status": run.result.status, "message": run.result.message,
              "best_epoch": run.result.best_epoch})
    return run.result


def run_gan_training(project: Any, settings: Any = None, callback: Callback | None = None,
                     control: TrainControl | None = None, started: str | None = None
                     ) -> TrainResult:
    """Train a GAN project and store its weights and a history run in it (what
    ``runtime.session.run_training`` does for GAN projects). ``settings`` defaults to the
    project's training settings. A project that cannot be prepared gives a failed result (and
    a "finished" event) and is left unchanged."""
    from runtime.session import store_result

    settings = settings or project.training
    started = started or datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    try:
        generator, discriminator, data = prepare_gan(project)
    except ValueError as exc:
        if callback is not None:
            callback({"type": "finished", "status": "failed", "message": str(exc),
                      "best_epoch": 0})
        return TrainResult("failed", str(exc))
    result = train_gan(generator, discriminator, data, settings, callback, control,
                       known_modes(project.dataset))
    store_result(project, result, started)
    return result


def train_for_worker(project: Any, send: Callback, control: TrainControl | None = None,
                     epochs: int | None = None, device: str | None = None) -> TrainResult:
    """A GAN run in the GUI's training process, in ``runtime.worker``'s protocol: every event
    to ``send``, both networks' weights ({"type": "weights", "epoch", "weights"}) just before
    each epoch event, and last the finished event with "weights" (the best epoch's bytes or
    None), "history_run" and "device". ``epochs`` and ``device`` override the settings."""
    from runtime.compile import weights_to_bytes
    from runtime.session import store_result

    overrides: dict[str, Any] = {}
    if epochs is not None:
        overrides["epochs"] = int(epochs)
    if device:
        overrides["device"] = str(device)
    settings = dataclasses.replace(project.training, **overrides)
    started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    try:
        generator, discriminator, data = prepare_gan(project)
    except ValueError as exc:
        send({"type": "finished", "status": "failed", "message": str(exc), "best_epoch": 0,
              "weights": None, "history_run": None})
        return TrainResult("failed", str(exc))
    steps_per_epoch = 0
    final: list[Event] = []

    def callback(event: Event) -> None:
        nonlocal steps_per_epoch
        kind = event["type"]
        if kind == "started":
            steps_per_epoch = int(event.get("steps_per_epoch", 0))
        elif kind == "epoch":
            send({"type": "weights", "epoch": event["epoch"],
                  "weights": weights_to_bytes(gan_state(generator, discriminator))})
        elif kind == "finished":
            final.append(event)
            return
        send(event)

    result = train_gan(generator, discriminator, data, settings, callback, control,
                       known_modes(project.dataset))
    store_result(project, result, started)
    run = project.history[-1]
    if steps_per_epoch:
        run["steps_per_epoch"] = steps_per_epoch
    finished = final[-1] if final else {"type": "finished", "status": result.status,
                                        "message": result.message,
                                        "best_epoch": result.best_epoch}
    send({**finished, "weights": project.weights if result.best_state else None,
          "history_run": run, "device": result.device})
    return result


def sample_project(project: Any, count: int = EVAL_SAMPLES) -> Event:
    """The "gan_samples" probe of the project's stored weights, measured as during training
    (the GAN panel shows it for a trained project that is not training)."""
    generator, discriminator, data = prepare_gan(project)
    run = _GanRun(generator, discriminator, data, project.training, None, None,
                  known_modes(project.dataset))
    events: list[Event] = []
    run.callback = events.append
    kind = sample_kind(sample_shape(discriminator))
    fixed = torch.Generator().manual_seed(project.training.seed + 1)
    noise = torch.randn((count, *noise_shape(generator)), generator=fixed)
    real = run._real_samples(SHOWN_POINTS if kind == "points" else DIVERSITY_SAMPLES)
    run._measure(1, noise, real, kind)
    return next(e for e in events if e.get("probe") == "gan_samples")


def evaluate_gan(project: Any) -> dict[str, Any]:
    """Metrics of the stored generator: modes_covered and high_quality_share (data with known
    modes) or sample_diversity, plus "trained"."""
    probe = sample_project(project)
    keys = ("modes", "modes_covered", "high_quality_share", "sample_diversity")
    return {**{k: probe[k] for k in keys if k in probe}, "trained": bool(project.weights)}


def epoch_summary(event: Event) -> str:
    """One line about a GAN epoch for the command line."""
    parts = [f"D loss {event['d_loss']:.4f}", f"G loss {event['g_loss']:.4f}",
             f"D acc real {event['d_real_accuracy']:.2f} fake {event['d_fake_accuracy']:.2f}"]
    if "modes_covered" in event:
        parts.append(f"modes {event['modes_covered']}/{event['modes']}")
        parts.append(f"high quality {event['high_quality_share']:.2f}")
    elif "sample_diversity" in event:
        parts.append(f"diversity {event['sample_diversity']:.2f}")
    if "seconds" in event:
        parts.append(f"{event['seconds']:.1f} s")
    return "  ".join(parts)
