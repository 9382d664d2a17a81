"""The Accelerate training setting: which speed features a run uses, chosen by measurement.

``plan_for`` turns ``training.accelerate`` ("auto", "off", "mixed", "compile") into a ``Plan``
for one network on one device; the loop runs its forward passes through the plan and reports
``Plan.describe()`` in the ``Started`` event (the command line prints it, the window's status
bar shows it).

What Auto picks, measured on the 2-core development CPU (it has AVX-512-BF16), one thread,
batch 64, side by side (benchmarks/accelerate.py measures the whole trainer):

- convolutional networks on images of 16x16 pixels or more: bfloat16 autocast plus
  channels_last memory, 2.9-3.5x the float32 speed (bf16 alone 2.0-2.2x, channels_last alone
  1.5x), so Auto turns both on where the CPU has AMX or AVX-512-BF16;
- LeNet on 8x8 digits, MLPs and an LSTM: 0.6-1.4x from one run to the next, noise around no
  gain, so Auto leaves them in float32 (their results stay exactly as before);
- short runs stay in float32 on every device: fewer than ``MIN_SAMPLE_PASSES`` training
  samples times epochs. bf16 saves seconds at most there, and a tiny data set's result turns
  on every rounding: fewshot_scratch (50 images, 25 epochs; 1,250 passes) trained 2.9x faster
  in CPU time with bf16, but over 8 training seeds its best validation accuracy moved by
  -8.8 to +4.8 points from float32's (mean -0.15, standard error 1.6: noise, not a loss;
  float32's own spread from seed to seed is 2.1), for 4.6 -> 1.9 CPU-seconds. shapes_source
  (38,400 passes) scores 99.88 both ways and saves 16 CPU-seconds;
- CUDA: bfloat16 autocast (no loss scaling needed) on GPUs that support it, float32 otherwise;
- ``torch.compile`` was slower than eager mode on every example here and its first compile
  took about 27 s, so it is only an explicit choice.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from graph import catalog
from graph.catalog import FILTERS, INPUT, RECURRENT

BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")  # /proc/cpuinfo flags of CPUs with fast bf16
MIN_IMAGE_PIXELS = 16 * 16  # smaller images (digits' 8x8) gained nothing from bf16
MIN_SAMPLE_PASSES = 10_000  # training samples x epochs below which Auto stays in float32


@dataclass(frozen=True)
class Plan:
    """The speed features of one run and why they were chosen."""

    device_type: str = "cpu"
    autocast: torch.dtype | None = None  # mixed precision with this dtype, or float32
    channels_last: bool = False  # 4-D activations stored channels-last
    compile: bool = False  # forward passes through torch.compile
    reason: str = ""

    def describe(self) -> str:
        """One line for the training log: what is on and why ("off (...)" when nothing)."""
        features = []
        if self.autocast is not None:
            features.append(f"{str(self.autocast).removeprefix('torch.')} autocast")
        if self.channels_last:
            features.append("channels_last")
        if self.compile:
            features.append("torch.compile")
        chosen = " + ".join(features) or "off"
        return f"{chosen} ({self.reason})" if self.reason else chosen

    @contextlib.contextmanager
    def precision(self) -> Iterator[None]:
        """The autocast region forward passes and losses run in (nothing when float32)."""
        if self.autocast is None:
            yield
        else:
            with torch.autocast(self.device_type, dtype=self.autocast):
                yield

    def prepare(self, module: nn.Module) -> nn.Module:
        """Convert ``module`` in place to channels_last when chosen; returns what forward
        passes call (the compiled wrapper, or ``module`` itself: snapshots keep using it)."""
        if self.channels_last:
            module.to(memory_format=torch.channels_last)
        return torch.compile(module) if self.compile else module

    def restore(self, module: nn.Module) -> None:
        """Put ``module`` back in the usual memory layout after training (in place)."""
        if self.channels_last:
            module.to(memory_format=torch.contiguous_format)

    def inputs(self, x: Any) -> Any:
        """A batch's inputs with 4-D float tensors channels-last when chosen."""
        if not self.channels_last:
            return x
        from runtime.batches import map_tensors

        return map_tensors(x, _channels_last)


def _channels_last(tensor: torch.Tensor) -> torch.Tensor:
    if tensor.dim() == 4 and tensor.is_floating_point():
        return tensor.contiguous(memory_format=torch.channels_last)
    return tensor


@functools.cache
def cpu_bf16_flag() -> str | None:
    """The CPU's fast-bf16 feature (``amx_bf16`` or ``avx512_bf16``), or None.

    Read from /proc/cpuinfo: ``torch.backends.cpu.get_cpu_capability()`` says AVX512 for CPUs
    with and without the bf16 instructions, and oneDNN emulates bf16 (slowly) on the others.
    """
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return None
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
            break
    return next((flag for flag in BF16_CPU_FLAGS if flag in flags), None)


def network_kind(graph: Any) -> str:
    """"image convolution", "recurrent" or "other": what decides whether mixed precision
    pays, read from the layers' declared traits (FILTERS, RECURRENT) and the Input shapes."""
    specs = [(node, catalog.get(node.type)) for node in graph.nodes.values()]
    if any(spec is not None and spec.has(RECURRENT) for _, spec in specs):
        return "recurrent"
    images = [node for node, spec in specs if spec is not None and spec.role == INPUT
              and len(node.params.get("shape") or ()) == 3
              and node.params["shape"][1] * node.params["shape"][2] >= MIN_IMAGE_PIXELS]
    if images and any(spec is not None and spec.has(FILTERS) for _, spec in specs):
        return "image convolution"
    return "other"


def plan_for(graph: Any, device: torch.device, accelerate: str,
             sample_passes: int | None = None) -> Plan:
    """The features ``accelerate`` asks for, for the network of ``graph`` on ``device``;
    ``sample_passes`` (training samples times epochs, when known) keeps short runs in
    float32 under Auto."""
    kind = device.type
    if accelerate == "off":
        return Plan(kind, reason="Accelerate is off")
    compile_ = accelerate == "compile"
    forced = accelerate == "mixed"
    if not forced and sample_passes is not None and sample_passes < MIN_SAMPLE_PASSES:
        return Plan(kind, compile=compile_, reason=f"a short run: {sample_passes:,} training "
                    f"samples x epochs, under {MIN_SAMPLE_PASSES:,}")
    if kind == "cuda":
        if not torch.cuda.is_bf16_supported():
            return Plan(kind, compile=compile_, reason="this GPU has no bfloat16")
        return Plan(kind, torch.bfloat16, compile=compile_, reason="CUDA")
    net = network_kind(graph)
    flag = cpu_bf16_flag()
    if forced:
        return Plan(kind, torch.bfloat16, channels_last=net == "image convolution",
                    compile=compile_, reason="Accelerate is Mixed precision"
                    + ("" if flag else "; this CPU emulates bfloat16, which is slow"))
    if flag is None:
        return Plan(kind, compile=compile_, reason="this CPU has no fast bfloat16")
    if net != "image convolution":
        return Plan(kind, compile=compile_, reason=f"no gain measured for {net} networks"
                    if net == "recurrent" else "no gain measured for networks other than "
                    "convolutional ones on images")
    return Plan(kind, torch.bfloat16, channels_last=True, compile=compile_,
                reason=f"convolutional network, CPU has {flag}")
