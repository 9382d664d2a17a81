"""On CUDA a loop must not make the host wait for the device each step: the standard loop and
the GAN loop read their losses back once per epoch (and once per batch event). Run here on the
CPU with the CUDA path forced (``reads_each_step`` False): the reads Plexus' own code makes
(``.item()``, ``.tolist()``, ``float()``, ``int()``, ``bool()`` of a tensor) are counted, and
must not grow with the steps of an epoch."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch

from graph.settings import TrainingSettings
from runtime import trainer
from runtime.compile import compile_graph
from runtime.session import run_training
from runtime.train import train

pytestmark = pytest.mark.usefixtures("warm_trainer")
RUNTIME = str(Path(trainer.__file__).resolve().parent)
READS = ("item", "tolist", "__float__", "__int__", "__bool__")


@pytest.fixture
def host_reads(monkeypatch) -> dict[str, int]:
    """Counts tensor reads made by runtime/ code (torch's own, e.g. Adam reading its step
    counter on the CPU, are not Plexus' to remove), with the CUDA path and one batch event
    per run (the first: later ones are due by the clock, which would make counts vary)."""
    counts = {"reads": 0}
    for name in READS:
        original = getattr(torch.Tensor, name)

        def counting(self: torch.Tensor, *args: Any, _original: Callable = original,
                     **kwargs: Any) -> Any:
            if sys._getframe(1).f_code.co_filename.startswith(RUNTIME):
                counts["reads"] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counting)
    monkeypatch.setattr("runtime.trainer.BATCH_EVENT_INTERVAL", math.inf)
    for module in ("runtime.train", "runtime.gan"):
        monkeypatch.setattr(f"{module}.reads_each_step", lambda device: False)
    return counts


def _standard_reads(counts: dict[str, int], batch_size: int) -> tuple[int, int]:
    """(host reads, steps) of two epochs of a small image CNN at ``batch_size``."""
    from tests.test_runtime_accelerate import _image_cnn, _small_images

    settings = TrainingSettings(optimizer="adam", lr=0.01, batch_size=batch_size, epochs=2,
                                seed=0, accelerate="off", options={"threads": 1})
    torch.manual_seed(0)
    counts["reads"] = 0
    result = train(compile_graph(_image_cnn()), _small_images(), settings)
    assert result.status == "completed", result.message
    return counts["reads"], len(result.steps)


def test_the_standard_loop_reads_per_epoch_not_per_step(host_reads) -> None:
    few, few_steps = _standard_reads(host_reads, 64)
    many, many_steps = _standard_reads(host_reads, 16)
    assert (few_steps, many_steps) == (2 * 3, 2 * 12)
    assert many == few  # four times the steps, the same reads
    assert few <= 2 * 12  # a dozen per epoch at most: losses, metrics, validation


def _gan_reads(counts: dict[str, int], short_example: Callable, batch_size: int
               ) -> tuple[int, list[tuple[int, float]], dict[str, Any]]:
    """(host reads, steps, the epoch) of one epoch of gan_ring at ``batch_size``."""
    project = short_example("gan_ring", epochs=1)
    project.training = replace(project.training, batch_size=batch_size)
    counts["reads"] = 0
    result = run_training(project, device="cpu")
    assert result.status == "completed", result.message
    return counts["reads"], result.steps, result.epochs[-1]


def test_the_gan_loop_reads_per_epoch_not_per_step(host_reads, short_example,
                                                   monkeypatch) -> None:
    few, few_steps, _ = _gan_reads(host_reads, short_example, 256)
    many, many_steps, deferred = _gan_reads(host_reads, short_example, 64)
    assert (len(few_steps), len(many_steps)) == (4, 16)
    assert many == few
    assert few <= 12
    # read per step (the CPU path) the run is the same: losses, counts and metrics
    monkeypatch.setattr("runtime.gan.reads_each_step", lambda device: True)
    _, eager_steps, eager = _gan_reads(host_reads, short_example, 64)
    assert many_steps == eager_steps
    for key in ("d_loss", "g_loss", "d_real_accuracy", "d_fake_accuracy", "modes_covered",
                "high_quality_share"):
        assert deferred[key] == eager[key], key
