"""How much memory a network needs, estimated on the meta device, checked before allocation.

Asking torch for 4 TB gives the allocator's own text ("DefaultCPUAllocator: can't allocate
4000000000000 bytes") after the machine may already be swapping. Shape inference already runs
every layer on meta tensors (``runtime.shapes``), so its parameter counts and output shapes
give the estimate for free: per layer its weights (plus their gradients and the optimizer's
state when training), per batch the activations (every output, kept for the backward pass,
and as much again for their gradients). A run that cannot fit in the device's free memory is
refused with one line naming the largest layer, before anything is built for real.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

import torch

from graph.model import Graph

FLOAT_BYTES = 4  # float32: what the compiler builds every parameter as
ACTIVATION_COPIES = 2  # the outputs kept for backward, and their gradients
OPTIMIZER_STATE = {"adam": ("Adam state", 2), "adamw": ("AdamW state", 2)}


@dataclass(frozen=True)
class LayerNeed:
    """One layer's memory: its trainable parameters and the bytes they take with their
    gradients and optimizer state (only the weights when not training, or frozen)."""

    node_id: int
    label: str  # "Linear 'fc1'", as messages name nodes
    params: int
    bytes: int


@dataclass(frozen=True)
class Estimate:
    """What a run needs: every layer's parameters and one batch's activations."""

    layers: tuple[LayerNeed, ...]
    activations: int  # bytes of one batch's outputs and their gradients (0 when not training)
    state_name: str  # "Adam state", "momentum", "" (how the message names the optimizer's part)

    @property
    def total(self) -> int:
        return sum(layer.bytes for layer in self.layers) + self.activations

    @property
    def largest(self) -> LayerNeed | None:
        return max(self.layers, key=lambda layer: layer.bytes, default=None)


def optimizer_state(settings: Any) -> tuple[str, int]:
    """(how to name it, floats per parameter) that the settings' optimizer keeps."""
    name = str(getattr(settings, "optimizer", "adam"))
    if name in OPTIMIZER_STATE:
        return OPTIMIZER_STATE[name]
    momentum = float(getattr(settings, "momentum", 0.0) or 0.0)
    if name == "rmsprop":
        return ("RMSprop state", 1 + (momentum > 0))
    return ("momentum", 1) if momentum > 0 else ("", 0)


def estimate(graph: Graph, settings: Any = None) -> Estimate | None:
    """The memory ``graph`` needs: to train with ``settings`` (its optimizer and batch size),
    or, without settings, only to hold its weights. None when the graph has errors (the
    compiler reports those)."""
    from runtime.shapes import analyze

    analysis = analyze(graph)
    if not analysis.ok:
        return None
    shapes = analysis.shapes
    state_name, states = optimizer_state(settings) if settings is not None else ("", 0)
    layers = []
    for node_id, count in shapes.params.items():
        node = graph.nodes[node_id]
        copies = 1 if settings is None or node.frozen else 2 + states
        layers.append(LayerNeed(node_id, node.label, count,
                                count * FLOAT_BYTES * copies))
    activations = 0
    if settings is not None:
        batch = max(1, int(getattr(settings, "batch_size", 1) or 1))
        per_sample = sum(_numel(shape[1:]) for outputs in shapes.outputs.values()
                         for shape in outputs.values())
        activations = per_sample * batch * FLOAT_BYTES * ACTIVATION_COPIES
    return Estimate(tuple(layers), activations, state_name)


def _numel(shape: Any) -> int:
    count = 1
    for size in shape:
        count *= int(size)
    return count


# -- free memory ---------------------------------------------------------------------------------
def free_bytes(device: torch.device) -> int | None:
    """Memory free for a new allocation on ``device``; None when it cannot be told."""
    if device.type == "cuda":
        try:
            free, _total = torch.cuda.mem_get_info(device)
        except (RuntimeError, AssertionError):
            return None
        return int(free)
    if device.type != "cpu":
        return None
    available = _meminfo_available()
    if available is not None:
        return available
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def _meminfo_available() -> int | None:
    """MemAvailable from /proc/meminfo (Linux): free memory plus what the kernel can reclaim."""
    try:
        with open("/proc/meminfo", encoding="ascii") as lines:
            for line in lines:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def training_device(settings: Any) -> torch.device:
    """The device a run with ``settings`` uses (as ``runtime.trainer.resolve_device`` picks it,
    without its errors: those come when training starts)."""
    requested = str(getattr(settings, "device", "cpu") or "cpu")
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and torch.cuda.is_available():
        try:
            return torch.device(requested)
        except RuntimeError:
            return torch.device("cuda")
    return torch.device("cpu")


# -- the check -----------------------------------------------------------------------------------
def format_bytes(count: float) -> str:
    """Decimal units, two or three significant figures: "4.0 TB", "18 GB", "512 kB"."""
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if count < 1000 or unit == "PB":
            break
        count /= 1000
    return f"{count:.1f} {unit}" if count < 10 and unit != "B" else f"{count:.0f} {unit}"


def check_fits(graph: Graph, settings: Any = None, device: torch.device | None = None,
               free: int | None = None) -> None:
    """ValueError (one line, naming the largest layer) when the network cannot fit in the free
    memory of ``device`` (default: the settings' training device, or the CPU without
    settings); ``free`` overrides the measured free memory. Nothing is allocated."""
    target = device or (training_device(settings) if settings is not None
                        else torch.device("cpu"))
    free = free_bytes(target) if free is None else free
    if free is None:
        return
    need = estimate(graph, settings)
    if need is None or need.total <= free:
        return
    where = "this machine" if target.type == "cpu" else f"the {target} device"
    has = f"{where} has {format_bytes(free)} free: make it smaller"
    largest = need.largest
    if largest is not None and largest.bytes > free:
        raise ValueError(f"{largest.label} needs {format_bytes(largest.bytes)} for "
                         f"{_describe_weights(graph, largest, need.state_name, settings)}; "
                         f"{has}")
    batch = int(getattr(settings, "batch_size", 1) or 1)
    parts = [f"{format_bytes(need.total - need.activations)} for the weights"]
    if need.activations:
        parts.append(f"{format_bytes(need.activations)} for the activations of a batch of "
                     f"{batch}")
    biggest = f"; the largest layer, {largest.label}, needs {format_bytes(largest.bytes)}" \
        if largest is not None and largest.bytes else ""
    advice = "make the network or the batch smaller" if need.activations else "make it smaller"
    raise ValueError(f"the network needs {format_bytes(need.total)} "
                     f"({', '.join(parts)}){biggest}; {where} has {format_bytes(free)} free: "
                     f"{advice}")


def _describe_weights(graph: Graph, layer: LayerNeed, state_name: str, settings: Any) -> str:
    """"its weights (1,000,000 x 1,000,000 floats, 4.0 TB), their gradients and Adam state"."""
    shape = largest_parameter_shape(graph, layer.node_id)
    floats = " x ".join(f"{size:,}" for size in shape) if shape else f"{layer.params:,}"
    text = f"its weights ({floats} floats, {format_bytes(layer.params * FLOAT_BYTES)})"
    if settings is None or graph.nodes[layer.node_id].frozen:
        return text
    return f"{text}, their gradients" + (f" and {state_name}" if state_name else "")


def largest_parameter_shape(graph: Graph, node_id: int) -> tuple[int, ...]:
    """The shape of the node's largest parameter, from its module built on the meta device
    (no memory); () when it cannot be built there."""
    from runtime import ops
    from runtime.shapes import analyze

    node = graph.nodes[node_id]
    inputs = analyze(graph).shapes.inputs.get(node_id)
    if node.spec is None or inputs is None:
        return ()
    try:
        with torch.device("meta"):
            module = ops.build_module(node.spec, node.all_params(), inputs)
    except Exception:  # noqa: BLE001 - only a nicer message is lost
        return ()
    if module is None:
        return ()
    shapes = [tuple(int(d) for d in p.shape) for p in module.parameters()]
    return max(shapes, key=_numel, default=())


# -- failures that still happen (the estimate is rough; other processes take memory too) ---------
_ALLOCATOR = re.compile(r"(?:can't allocate|tried to allocate)\s+([\d.]+)\s*(bytes|[KMGT]iB)",
                        re.IGNORECASE)
_UNITS = {"bytes": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}


def failed_allocation(exc: BaseException) -> str | None:
    """For an out-of-memory failure (torch.OutOfMemoryError, MemoryError, or an allocator's
    RuntimeError), the size it asked for ("4.0 TB"), or "" when the text does not say; None
    for any other exception."""
    text = str(exc)
    found = _ALLOCATOR.search(text)
    if found is not None:
        return format_bytes(float(found.group(1)) * _UNITS[found.group(2).lower()])
    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)) or "out of memory" in text:
        return ""
    return None
