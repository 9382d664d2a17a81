"""Which probes run during training, and the hooks that run them.

``ProbeSchedule`` turns a panel configuration into hooks for ``runtime.train.train``
(``epoch_end_hooks`` and the cheaper, throttled ``step_hooks``); each hook returns one
``{"probe": <name>, ...}`` dict, which the trainer sends as a ``{"type": "probe"}`` event.
What the views need again and again (the evaluation set on the module's device, probe
samples, the boundary grid, one pass over the set) is prepared once here and shared.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from runtime.batches import map_tensors, tensor_pair
from runtime.capture import Sweep, first_classifier, output_list, sweep, value_nodes
from runtime.compile import Compiled
from runtime.evaluation import (
    class_probabilities,
    dataset_tensors,
    evaluation_set,
    model_device,
    take_rows,
)
from runtime.probes.payloads import (
    Activations,
    Boundary,
    Confusion,
    Filters,
    Hidden,
    Histograms,
    ProbeSamples,
    Robustness,
)
from runtime.probes.robustness import (
    ROBUSTNESS_EXAMPLES,
    ROBUSTNESS_SAMPLES,
    robustness,
    robustness_checks,
    robustness_subset,
)
from runtime.probes.views import (
    activations,
    boundary_grid,
    check_two_d,
    confusion,
    conv_filters,
    decision_boundary,
    hidden_representation,
    histograms,
    pick_probe_samples,
)

PROBES = ("filters", "activations", "boundary", "hidden", "confusion", "histograms",
          "robustness")
EPOCH_ONLY = ("robustness",)  # too costly for the step hook: at epoch ends only

ProbeHook = Callable[[nn.Module, int], "dict[str, Any] | None"]


class _Recorder:
    """Keeps the outputs of the module's evaluation passes (eval mode, no gradients) over the
    evaluation set, batch by batch, as long as each batch is the next slice of that set.

    The trainer validates at every epoch's end just before the epoch-end hooks run; reusing
    that pass saves the probes a second sweep of the validation set (most of their cost).
    Any other call (a decision-boundary grid, a training step, other data) is ignored, and a
    pass only counts when it covered the whole set with unchanged weights.
    """

    def __init__(self, schedule: ProbeSchedule, hidden: nn.Module | None, capture: int) -> None:
        self.schedule = schedule
        self.capture = capture
        self.reference: Tensor | None = None
        self.offset = 0
        self.current: tuple[int, int] | None = None  # (offset, rows kept) of the running call
        self.version: tuple[int, ...] | None = None
        self.outputs: list[list[Tensor]] = []
        self.hidden: list[Tensor] = []
        module = schedule.compiled.module
        self.handles = [module.register_forward_pre_hook(self._before),
                        module.register_forward_hook(self._after)]
        if hidden is not None:
            self.handles.append(hidden.register_forward_hook(self._hidden))
        self.has_hidden = hidden is not None

    def detach(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []

    def _reference(self, x: Tensor) -> Tensor | None:
        ref = self.reference
        if ref is None or ref.device != x.device:
            ref, _ = self.schedule._eval_tensors(self.schedule._sweep_limit())
            self.reference = ref = ref if isinstance(ref, Tensor) else None
        return ref

    def _before(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        self.current = None
        if module.training or torch.is_grad_enabled() or len(args) != 1 \
                or not isinstance(args[0], Tensor):
            return
        x = args[0]
        ref = self._reference(x)
        if ref is None or x.dim() != ref.dim() or x.shape[1:] != ref.shape[1:] \
                or x.dtype != ref.dtype or x.device != ref.device:
            return
        version = self.schedule._weights_version()

        def matches(offset: int) -> int:
            rows = min(x.shape[0], ref.shape[0] - offset)
            return rows if rows > 0 and torch.equal(x[:rows], ref[offset:offset + rows]) else 0

        rows = matches(self.offset) if 0 < self.offset < ref.shape[0] \
            and version == self.version else 0
        if rows:
            self.current = (self.offset, rows)
            return
        rows = matches(0)
        if rows:
            self.offset, self.version, self.outputs, self.hidden = 0, version, [], []
            self.current = (0, rows)

    def _hidden(self, module: nn.Module, args: Any, output: Any) -> None:
        output = output[0] if isinstance(output, tuple) else output  # a multi-output layer
        if self.current is not None and isinstance(output, Tensor):
            offset, rows = self.current
            keep = min(rows, self.capture - offset)
            if keep > 0:
                self.hidden.append(output[:keep].detach())

    def _after(self, module: nn.Module, args: Any, output: Any) -> None:
        if self.current is None:
            return
        offset, rows = self.current
        self.outputs.append([o[:rows].detach() for o in output_list(output)])
        self.offset = offset + rows
        self.current = None

    def result(self, x: Any, version: tuple[int, ...]
               ) -> tuple[list[Tensor], Tensor | None] | None:
        """(outputs, hidden layer's first rows or None) of a complete pass over ``x`` made
        with the weights of ``version``; None when there is none."""
        if not isinstance(x, Tensor) or self.reference is None or not self.outputs \
                or self.version != version or self.offset < x.shape[0] \
                or self.reference.shape[0] != x.shape[0]:
            return None
        outputs = [torch.cat(parts) for parts in zip(*self.outputs, strict=True)]
        hidden = torch.cat(self.hidden) if self.has_hidden and self.hidden else None
        if hidden is not None and hidden.shape[0] < min(self.capture, x.shape[0]):
            hidden = None
        return outputs, hidden


class ProbeSchedule:
    """Which probes run, and the hooks that run them inside ``runtime.train.train``.

    ``config`` keys (absent or falsy = off): ``"filters": node_id`` (or ``{"node_id",
    "in_channel"}``), ``"activations": {"node_ids": [...] or None, "sample_index": i}``
    (an index into ``pick_probe_samples``' list, or ``"val_index"`` for any validation
    sample), ``"boundary": True`` (or ``{"resolution"}``), ``"hidden": node_id``,
    ``"confusion": True`` (or ``{"max_wrong", "max_samples"}``), ``"histograms": True`` (or
    ``{"bins"}``), ``"robustness": {"method": "fgsm" | "pgd", "eps", "samples", "steps",
    "examples"}`` (or True; epoch ends only, never in the step hook: an attack costs several
    passes). ``configure`` swaps the configuration between two hooks, so a panel can
    follow the node selected on the canvas while training runs.

    What every call needs again and again (probe inputs, the evaluation set on the module's
    device, the boundary grid) is prepared once, and the confusion matrix and the hidden
    representation share one pass over the evaluation set while the weights are unchanged.
    A data set that is not held in memory (image folders) is swept up to ``LAZY_LIMIT``
    samples unless ``max_samples`` says otherwise. Each probe's last cost in seconds is kept
    in ``costs``.
    """

    LAZY_LIMIT = 2000

    def __init__(self, compiled: Compiled, data: Any, config: Mapping[str, Any] | None = None
                 ) -> None:
        self.compiled = compiled
        self.data = data
        self.config: dict[str, Any] = {}
        self.costs: dict[str, float] = {}
        self._samples: ProbeSamples | None = None
        self._grid: tuple[np.ndarray, np.ndarray] | None = None
        self._grid_resolution = 0
        self._last_hidden: tuple[int, np.ndarray] | None = None
        self._tensors: tuple[Any, Any, Any] | None = None  # (key, x, y)
        self._sweep: tuple[Any, Sweep] | None = None  # (key, sweep)
        self._recorder: _Recorder | None = None
        self._robust_subset: tuple[int, ProbeSamples] | None = None  # (samples, picks)
        self.configure(config or {})

    def configure(self, config: Mapping[str, Any]) -> None:
        unknown = sorted(set(config) - set(PROBES))
        if unknown:
            raise ValueError(f"unknown probe(s) {', '.join(unknown)}; choose from "
                             f"{', '.join(PROBES)}")
        self.config = dict(config)
        self._sweep = None
        self._attach_recorder()

    def close(self) -> None:
        """Take the schedule's hooks off the module (they cost next to nothing if left)."""
        if self._recorder is not None:
            self._recorder.detach()
            self._recorder = None

    def enabled(self) -> list[str]:
        return [name for name in PROBES if self.config.get(name) not in (None, False)]

    # one probe -------------------------------------------------------------------------------
    def run(self, name: str) -> dict[str, Any] | None:
        """Run one probe now; ``{"probe": name, ...}``, or None when it is off. A probe that
        cannot run (the node was removed, the data is not 2-D) gives ``{"probe", "error"}``."""
        option = self.config.get(name)
        if option is None or option is False:
            return None
        started = time.perf_counter()
        try:
            payload = getattr(self, f"_{name}")(option)
        except ValueError as exc:
            payload = {"error": str(exc)}
        self.costs[name] = time.perf_counter() - started
        return {"probe": name, **payload}

    def run_all(self) -> list[dict[str, Any]]:
        return [p for p in (self.run(name) for name in self.enabled()) if p is not None]

    def _filters(self, option: Any) -> Filters:
        if isinstance(option, Mapping):
            return conv_filters(self.compiled, int(option["node_id"]), option.get("in_channel"))
        return conv_filters(self.compiled, int(option))

    def samples(self) -> ProbeSamples:
        if self._samples is None:
            self._samples = pick_probe_samples(self.data)
        return self._samples

    def _activations(self, option: Any) -> Activations:
        option = option if isinstance(option, Mapping) else {}
        if option.get("val_index") is not None:
            index = int(option["val_index"])
            source = evaluation_set(self.data)
            if not 0 <= index < len(source):
                raise ValueError(f"validation sample {index} does not exist; choose one from 0 "
                                 f"to {len(source) - 1}")
            sample, target = source[index]
            target = torch.as_tensor(target) if not isinstance(target, (tuple, dict)) else None
            label = int(target) if target is not None and target.numel() == 1 \
                and not target.is_floating_point() else None
        else:
            picks = self.samples()
            index = min(int(option.get("sample_index", 0)), len(picks["indices"]) - 1)
            sample = take_rows(picks["inputs"], slice(index, index + 1))
            label = picks["labels"][index] if picks["labels"] else None
            index = picks["indices"][index]
        payload = activations(self.compiled, sample, option.get("node_ids"))
        payload["val_index"], payload["label"] = index, label
        return payload

    def _boundary(self, option: Any) -> Boundary:
        resolution = int(option.get("resolution", 64)) if isinstance(option, Mapping) else 64
        if self._grid is None or self._grid_resolution != resolution:
            check_two_d(self.compiled, self.data)
            self._grid = boundary_grid(self.data, resolution)
            self._grid_resolution = resolution
        return decision_boundary(self.compiled, self.data, grid=self._grid)

    def _hidden_choice(self) -> tuple[int, int] | None:
        option = self.config.get("hidden")
        if option is None or option is False:
            return None
        if isinstance(option, Mapping):
            return int(option["node_id"]), int(option.get("max_points", 500))
        return int(option), 500

    def _confusion_choice(self) -> dict[str, Any] | None:
        option = self.config.get("confusion")
        if option is None or option is False:
            return None
        return dict(option) if isinstance(option, Mapping) else {}

    def _weights_version(self) -> tuple[int, ...]:
        """Changes whenever a parameter or buffer is written in place (optimizer steps,
        BatchNorm statistics, loading weights): the key of the shared sweep."""
        module = self.compiled.module
        return (id(module), *(t._version for t in module.parameters()),
                *(t._version for t in module.buffers()))

    def _eval_tensors(self, limit: int | None) -> tuple[Any, Any]:
        """The evaluation set's first ``limit`` samples, kept on the module's device."""
        source = evaluation_set(self.data)
        if limit is None and tensor_pair(source) is None:
            limit = self.LAZY_LIMIT
        device = model_device(self.compiled.module)
        key = (limit, str(device))
        if self._tensors is None or self._tensors[0] != key:
            x, y = dataset_tensors(source, limit)
            self._tensors = (key, map_tensors(x, lambda t: t.to(device)),
                             map_tensors(y, lambda t: t.to(device)))
        return self._tensors[1], self._tensors[2]

    def _sweep_limit(self) -> int | None:
        """How many evaluation samples the shared sweep covers (None: all)."""
        matrix = self._confusion_choice()
        if matrix is not None:
            limit = matrix.get("max_samples")
            return None if limit is None else int(limit)
        hidden = self._hidden_choice()
        return hidden[1] if hidden is not None else 0

    def _attach_recorder(self) -> None:
        """Watch the trainer's own validation pass, so the epoch-end sweep can reuse it."""
        self.close()
        hidden = self._hidden_choice()
        if self._confusion_choice() is None and hidden is None:
            return
        if len(self.compiled.input_nodes) != 1:
            return
        sub = None
        if hidden is not None and hidden[0] in self.compiled.module_names:
            sub = self.compiled.module.get_submodule(self.compiled.module_names[hidden[0]])
        self._recorder = _Recorder(self, sub, hidden[1] if hidden else 0)

    def shared_sweep(self) -> Sweep:
        """One pass over the evaluation set for the confusion matrix and the hidden
        representation: the trainer's validation pass when it was watched and the weights
        have not changed since, else a pass of our own (kept until the weights change)."""
        hidden = self._hidden_choice()
        limit = self._sweep_limit()
        version = self._weights_version()
        key = (version, hidden, limit)
        if self._sweep is not None and self._sweep[0] == key:
            return self._sweep[1]
        x, y = self._eval_tensors(limit)
        recorded = self._recorder.result(x, version) if self._recorder is not None else None
        swept: Sweep | None = None
        if recorded is not None:
            outputs, captured = recorded
            found = first_classifier(self.compiled, outputs)
            probs = class_probabilities(found[1], found[2]).cpu() if found else None
            swept = Sweep(x, y, probs, {})
            # a merge node has no module to watch: hidden_representation makes a short pass
            if hidden is not None and captured is not None:
                swept.captured[hidden[0]] = captured.float().cpu()
            elif hidden is not None and hidden[0] in self.compiled.input_nodes:
                swept.captured[hidden[0]] = x[:hidden[1]].float().cpu()
        if swept is None:
            ids = [hidden[0]] if hidden is not None and hidden[0] in value_nodes(
                self.compiled) else []
            swept = sweep(self.compiled, self.data, ids, hidden[1] if hidden else 0,
                          tensors=(x, y))
        self._sweep = (key, swept)
        return swept

    def _hidden(self, option: Any) -> Hidden:
        choice = self._hidden_choice()
        assert choice is not None
        node_id, limit = choice
        payload = hidden_representation(self.compiled, self.data, node_id, limit,
                                        swept=self.shared_sweep())
        points = payload["points"]
        last = self._last_hidden
        if payload["method"] == "pca" and last is not None and last[0] == node_id \
                and last[1].shape == points.shape:
            # keep the axes pointing the same way as last time, so the animation is smooth
            for axis in range(2):
                if float(np.dot(points[:, axis], last[1][:, axis])) < 0:
                    points[:, axis] = -points[:, axis]
        self._last_hidden = (node_id, points)
        return payload

    def _confusion(self, option: Any) -> Confusion:
        choice = self._confusion_choice() or {}
        return confusion(self.compiled, self.data, int(choice.get("max_wrong", 12)),
                         swept=self.shared_sweep())

    def _histograms(self, option: Any) -> Histograms:
        bins = int(option.get("bins", 30)) if isinstance(option, Mapping) else 30
        return histograms(self.compiled, bins)

    def _robustness(self, option: Any) -> Robustness:
        option = option if isinstance(option, Mapping) else {}
        samples = max(1, int(option.get("samples", ROBUSTNESS_SAMPLES)))
        if self._robust_subset is None or self._robust_subset[0] != samples:
            robustness_checks(self.compiled, self.data)
            self._robust_subset = (samples, robustness_subset(self.data, samples))
        eps = option.get("eps")
        return robustness(self.compiled, self.data, str(option.get("method", "fgsm")),
                          None if eps is None else float(eps), samples,
                          int(option.get("steps", 5)),
                          int(option.get("examples", ROBUSTNESS_EXAMPLES)),
                          subset=self._robust_subset[1], value_range=option.get("value_range"))

    # hooks -----------------------------------------------------------------------------------
    def epoch_hooks(self) -> list[ProbeHook]:
        """One ``epoch_end_hooks`` entry per probe (each checks the current config, so
        probes switched on later by ``configure`` run too)."""
        def hook_for(name: str) -> ProbeHook:
            def hook(module: nn.Module, epoch: int) -> dict[str, Any] | None:
                return self.run(name)
            hook.__name__ = f"probe_{name}"
            return hook
        return [hook_for(name) for name in PROBES]

    def step_hook(self, every: int = 0, min_interval: float = 0.5, budget: float = 0.05
                  ) -> Callable[[nn.Module, int, int, int], dict[str, Any] | None]:
        """A ``step_hooks`` entry that runs the enabled probes while an epoch is under way:
        every ``every`` steps (0: no step count), at most every ``min_interval`` seconds,
        and only when the probes' last cost is within ``budget`` of the time since then, so
        live panels never slow training by more than about that share.

        Returns one dict per call holding every probe's result:
        ``{"probe": "batch", "results": [{"probe": name, ...}, ...]}`` (train sends one
        event per hook call).
        """
        state = {"last": time.perf_counter(), "cost": 0.0, "steps": 0}

        def hook(module: nn.Module, epoch: int, step: int, global_step: int
                 ) -> dict[str, Any] | None:
            state["steps"] += 1
            now = time.perf_counter()
            waited = now - state["last"]
            if every and state["steps"] < every:
                return None
            if waited < min_interval or state["cost"] > budget * waited:
                return None
            results = [p for p in (self.run(name) for name in self.enabled()
                                   if name not in EPOCH_ONLY) if p is not None]
            ended = time.perf_counter()
            state.update(last=ended, cost=ended - now, steps=0)
            return {"probe": "batch", "results": results} if results else None
        return hook


def make_epoch_probes(compiled: Compiled, data: Any, config: Mapping[str, Any]) -> list[ProbeHook]:
    """Hooks for ``train(..., epoch_end_hooks=...)``: each enabled probe runs at every epoch's
    end and sends ``{"probe": name, ...}``."""
    schedule = ProbeSchedule(compiled, data, config)
    return [hook for name, hook in zip(PROBES, schedule.epoch_hooks(), strict=True)
            if name in schedule.enabled()]


def make_step_probes(compiled: Compiled, data: Any, config: Mapping[str, Any], every: int = 0,
                     min_interval: float = 0.5, budget: float = 0.05
                     ) -> list[Callable[[nn.Module, int, int, int], dict[str, Any] | None]]:
    """Hooks for ``train(..., step_hooks=...)``: the enabled probes during an epoch, throttled
    (see ``ProbeSchedule.step_hook``)."""
    return [ProbeSchedule(compiled, data, config).step_hook(every, min_interval, budget)]

