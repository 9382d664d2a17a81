"""The Accelerate setting: what Auto picks for which network and CPU, that the chosen features
train (and report themselves), and that losses kept on the device are read back exactly."""

from __future__ import annotations

import io
import math
import re
from dataclasses import replace

import pytest
import torch

from graph.settings import TRAINING_FIELDS, TrainingSettings
from resources.examples.make import build
from runtime import accelerate
from runtime.accelerate import Plan, network_kind, plan_for
from runtime.compile import compile_graph
from runtime.data import from_arrays
from runtime.events import Started
from runtime.train import train
from runtime.trainer import BatchWindow, read_losses

CPU = torch.device("cpu")
pytestmark = pytest.mark.usefixtures("warm_trainer")


@pytest.fixture
def bf16_cpu(monkeypatch):
    monkeypatch.setattr(accelerate, "cpu_bf16_flag", lambda: "avx512_bf16")


@pytest.fixture
def plain_cpu(monkeypatch):
    monkeypatch.setattr(accelerate, "cpu_bf16_flag", lambda: None)


def test_the_setting_is_declared_with_auto_as_default() -> None:
    field = TRAINING_FIELDS["accelerate"]
    assert TrainingSettings().accelerate == "auto"
    assert field.param.choices == ("auto", "off", "mixed", "compile")
    assert "tens of seconds" in field.help and "slower" in field.help


@pytest.mark.parametrize("name, kind", [("shapes_source", "image convolution"),
                                        ("digits_cnn", "other"),  # 8x8 images: no gain
                                        ("xor_mlp", "other"),
                                        ("sentiment_lstm", "recurrent")])
def test_network_kind_reads_traits_and_input_size(name: str, kind: str) -> None:
    assert network_kind(build(name).graph) == kind


def test_auto_on_a_bf16_cpu_picks_bf16_and_channels_last_for_image_cnns_only(bf16_cpu) -> None:
    plan = plan_for(build("shapes_source").graph, CPU, "auto")
    assert (plan.autocast, plan.channels_last, plan.compile) == (torch.bfloat16, True, False)
    assert plan.describe() == ("bfloat16 autocast + channels_last (convolutional network, "
                               "CPU has avx512_bf16)")
    for name in ("digits_cnn", "xor_mlp", "sentiment_lstm"):
        other = plan_for(build(name).graph, CPU, "auto")
        assert (other.autocast, other.channels_last) == (None, False), name
        assert other.describe().startswith("off (no gain measured"), name



def test_auto_leaves_short_runs_in_float32(bf16_cpu) -> None:
    """fewshot_scratch's 50 images x 25 epochs: bf16 moved its accuracy by -8.8 to +4.8
    points from one training seed to the next for a few seconds saved, so Auto stays off
    below MIN_SAMPLE_PASSES; shapes_source (3,200 x 12) keeps bf16; Mixed is the user's."""
    graph = build("shapes_source").graph
    short = plan_for(graph, CPU, "auto", sample_passes=50 * 25)
    assert (short.autocast, short.channels_last) == (None, False)
    assert short.describe() == "off (a short run: 1,250 training samples x epochs, under 10,000)"
    assert plan_for(graph, torch.device("cuda"), "auto", sample_passes=1250).autocast is None
    assert plan_for(graph, CPU, "auto", sample_passes=3200 * 12).autocast == torch.bfloat16
    assert plan_for(graph, CPU, "auto", sample_passes=accelerate.MIN_SAMPLE_PASSES
                    ).autocast == torch.bfloat16
    assert plan_for(graph, CPU, "mixed", sample_passes=1250).autocast == torch.bfloat16
    assert plan_for(graph, CPU, "compile", sample_passes=1250).compile

def test_auto_on_a_cpu_without_bf16_changes_nothing(plain_cpu) -> None:
    plan = plan_for(build("shapes_source").graph, CPU, "auto")
    assert plan == Plan("cpu", reason="this CPU has no fast bfloat16")
    assert plan.describe() == "off (this CPU has no fast bfloat16)"


def test_off_mixed_and_compile(plain_cpu) -> None:
    graph = build("shapes_source").graph
    assert plan_for(graph, CPU, "off").describe() == "off (Accelerate is off)"
    mixed = plan_for(graph, CPU, "mixed")
    assert (mixed.autocast, mixed.channels_last) == (torch.bfloat16, True)
    assert "emulates bfloat16" in mixed.describe()
    compiled = plan_for(graph, CPU, "compile")
    assert compiled.compile and compiled.autocast is None
    assert compiled.describe().startswith("torch.compile (")


def test_plan_inputs_converts_only_4d_float_tensors() -> None:
    plan = Plan(channels_last=True)
    image, tokens = torch.zeros(2, 3, 4, 5), torch.zeros(2, 3, 4, 5, dtype=torch.long)
    out = plan.inputs({"a": image, "b": tokens, "c": torch.zeros(2, 3)})
    assert out["a"].is_contiguous(memory_format=torch.channels_last)
    assert not out["a"].is_contiguous()
    assert out["b"].is_contiguous() and out["c"].is_contiguous()
    assert Plan().inputs(image) is image


def _small_images(samples: int = 256):
    """Two classes of 16x16 images: bright top half or bright bottom half, with noise."""
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(samples) % 2
    images = torch.rand(samples, 1, 16, 16, generator=generator) * 0.5
    images[labels == 0, :, :8] += 0.5
    images[labels == 1, :, 8:] += 0.5
    settings = replace(build("xor_mlp").dataset, val_split=0.25, seed=0)
    return from_arrays("images", images.numpy(), labels.numpy(), "classification", settings)


def _image_cnn():
    from graph.model import Graph
    from resources.examples.make import chain

    graph = Graph()
    chain(graph, None, ("Input", {"shape": (1, 16, 16)}, "image"),
          ("Conv2d", {"out_channels": 4, "kernel_size": (3, 3), "padding": (1, 1)}, "conv"),
          ("ReLU", {}, "relu"), ("MaxPool2d", {}, "pool"), ("Flatten", {}, "flatten"),
          ("Linear", {"out_features": 2}, "logits"),
          ("Output", {"task": "classification"}, "label"))
    return graph


@pytest.mark.parametrize("setting", ["off", "mixed"])
def test_training_with_each_setting_reports_it_and_learns(setting: str, bf16_cpu) -> None:
    torch.manual_seed(0)
    compiled = compile_graph(_image_cnn())
    events: list = []
    settings = TrainingSettings(optimizer="adam", lr=0.01, batch_size=32, epochs=4, seed=0,
                                accelerate=setting, options={"threads": 1})
    result = train(compiled, _small_images(), settings, events.append)
    assert result.status == "completed", result.message
    started = next(e for e in events if isinstance(e, Started))
    expected = ("off (Accelerate is off)" if setting == "off" else
                "bfloat16 autocast + channels_last (Accelerate is Mixed precision)")
    assert started.accelerate == expected
    assert started.record()["accelerate"] == expected
    assert result.epochs[-1]["val_accuracy"] >= 0.9
    for parameter in compiled.module.parameters():  # back in the usual layout after training
        assert parameter.is_contiguous()
    assert len(result.steps) == 4 * 6 and all(math.isfinite(v) for _, v in result.steps)



def test_a_short_run_on_auto_trains_exactly_as_off(bf16_cpu) -> None:
    """192 images x 2 epochs: Auto says why it chose nothing, and the run is Off's, step for
    step (so a tiny example's accuracy is exactly what it was)."""
    runs = {}
    for setting in ("off", "auto"):
        settings = TrainingSettings(optimizer="adam", lr=0.01, batch_size=32, epochs=2, seed=0,
                                    accelerate=setting, options={"threads": 1})
        torch.manual_seed(0)
        events: list = []
        runs[setting] = train(compile_graph(_image_cnn()), _small_images(), settings,
                              events.append)
        started = next(e for e in events if isinstance(e, Started))
    assert started.accelerate == "off (a short run: 384 training samples x epochs, under 10,000)"
    assert runs["auto"].steps == runs["off"].steps
    assert runs["auto"].epochs[-1]["val_accuracy"] == runs["off"].epochs[-1]["val_accuracy"]

def test_losses_kept_on_the_device_are_read_back_per_epoch(monkeypatch) -> None:
    """The CUDA path (no read per step), run on the CPU: the same steps and losses."""
    settings = TrainingSettings(optimizer="adam", lr=0.01, batch_size=32, epochs=2, seed=0,
                                accelerate="off", options={"threads": 1})
    torch.manual_seed(0)
    eager = train(compile_graph(_image_cnn()), _small_images(), settings)
    monkeypatch.setattr("runtime.train.reads_each_step", lambda device: False)
    torch.manual_seed(0)
    deferred = train(compile_graph(_image_cnn()), _small_images(), settings)
    assert [s for s, _ in deferred.steps] == list(range(1, 13))
    assert [v for _, v in deferred.steps] == pytest.approx([v for _, v in eager.steps])
    assert deferred.epochs[-1]["train_loss"] == pytest.approx(eager.epochs[-1]["train_loss"])


def test_a_nan_found_at_the_end_of_the_epoch_names_its_step(monkeypatch) -> None:
    """Read per epoch, a NaN loss fails the run with the same message as read per step."""
    data = _small_images()
    data.train.tensors[0][5] = float("nan")
    settings = TrainingSettings(batch_size=32, epochs=2, seed=0, accelerate="off",
                                options={"threads": 1})
    eager = train(compile_graph(_image_cnn()), data, settings)
    monkeypatch.setattr("runtime.train.reads_each_step", lambda device: False)
    deferred = train(compile_graph(_image_cnn()), data, settings)
    assert eager.status == deferred.status == "failed"
    assert re.match(r"loss became NaN at epoch 1, step [1-6]; lower the learning rate",
                    deferred.message)
    assert deferred.message == eager.message


def test_read_losses_and_the_batch_window_take_tensors() -> None:
    pending = [(1, 11, torch.tensor(0.5)), (2, 12, torch.tensor(0.25))]
    assert read_losses(pending) == [(1, 11, 0.5), (2, 12, 0.25)]
    assert read_losses([]) == []
    window = BatchWindow()
    window.add(4, 0.5, loss=torch.tensor(1.0))
    window.add(4, 0.5, loss=torch.tensor(3.0))
    event = window.take(1.0, 1, 2, 10, 2)
    assert event is not None and event.loss == 2.0 and isinstance(event.loss, float)
    assert event.samples_per_s == pytest.approx(8.0)


def test_the_command_line_prints_the_choice() -> None:
    from runtime.cli import ProgressPrinter

    stream = io.StringIO()
    ProgressPrinter(stream, None)(Started(device="cpu", epochs=2, steps_per_epoch=3, params=10,
                                          samples=5, val_samples=1,
                                          accelerate="bfloat16 autocast (CUDA)"))
    assert stream.getvalue().splitlines()[1] == "accelerate: bfloat16 autocast (CUDA)"
