"""GANs: compiling the two role groups, the training loop's events, metrics and targets."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from graph.model import Edge
from graph.project import load_project, save_project
from graph.settings import DatasetSettings
from resources.examples import make
from runtime.compile import weights_from_bytes
from runtime.datasets.gan import ring_modes
from runtime.events import Epoch
from runtime.gan import evaluate_gan
from runtime.gan_networks import compile_gan, noise_shape, sample_shape
from runtime.gan_samples import collapse_hint, diversity, mode_metrics
from runtime.session import run_training
from runtime.trainer import TrainControl

ROOT = Path(__file__).resolve().parents[1]


def test_compile_gan_builds_one_module_per_role_with_node_ids_kept():
    project = make.build("gan_ring")
    generator, discriminator = compile_gan(project)
    g_group = project.graph.group_by_role("generator")
    assert set(generator.graph.nodes) == set(g_group.node_ids)
    assert noise_shape(generator) == (16,) and sample_shape(discriminator) == (2,)
    out = generator.module(torch.zeros(5, 16))
    assert out.shape == (5, 2)
    assert discriminator.module(out).shape == (5, 1)


@pytest.mark.parametrize("edit, message", [
    (lambda g: g.set_group_role("g2", ""), "a GAN needs a discriminator group"),
    (lambda g: g.set_param(6, "out_features", 3),
     "the generator makes samples of shape 3 but the discriminator's Input 'point' takes 2"),
    (lambda g: g.set_param(13, "out_features", 2),
     "the discriminator's Output 'real_or_fake' gets 2 values per sample"),
    (lambda g: g.remove_node(1), "the generator 'Generator' group has 0 Input and 1 Output"),
    (lambda g: (g.disconnect(Edge(3, "out", 4, "in")), g.connect(Edge(10, "out", 4, "in"))),
     "Linear 'g_fc2' in the generator group 'Generator' takes its input from LeakyReLU "
     "'d_relu1' outside the group"),
])
def test_compile_gan_says_what_is_wrong(edit, message):
    project = make.build("gan_ring")
    edit(project.graph)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        compile_gan(project)


def test_mode_metrics_and_collapse_hint():
    centres, std = ring_modes(DatasetSettings(name="gan_ring"))
    assert centres.shape == (8, 2) and std == pytest.approx(0.02)
    rng = np.random.default_rng(0)
    spread = centres[rng.integers(0, 8, 800)] + rng.normal(0, std, (800, 2))
    metrics = mode_metrics(spread, (centres, std))
    assert metrics["modes_covered"] == 8 and metrics["high_quality_share"] > 0.98
    assert collapse_hint(metrics) == ""
    two = centres[rng.integers(0, 2, 800)] + rng.normal(0, std, (800, 2))
    collapsed = mode_metrics(two, (centres, std))
    assert collapsed["modes_covered"] == 2
    assert collapse_hint(collapsed).startswith("Mode collapse: the generator's samples sit on "
                                               "only 2 of 8 modes")
    far = mode_metrics(np.zeros((100, 2)), (centres, std))  # untrained: near the origin
    assert far["high_quality_share"] == 0.0 and collapse_hint(far) == ""
    assert diversity(np.zeros((10, 4)), rng.normal(size=(10, 4))) == 0.0
    assert collapse_hint({"sample_diversity": 0.1}).startswith("Mode collapse: generated")


def test_training_events_weights_and_history(short_example):
    project = short_example("gan_ring", epochs=3)
    events = []
    result = run_training(project, callback=lambda e: events.append(e.record()))
    assert result.status == "completed", result.message
    kinds = [e["type"] for e in events]
    assert kinds[0] == "started" and kinds[-1] == "finished" and kinds.count("epoch") == 3
    started = events[0]
    assert started["mode"] == "gan" and started["params"] == \
        started["g_params"] + started["d_params"] > 0
    epoch = next(e for e in events if e["type"] == "epoch")
    for key in ("d_loss", "g_loss", "d_real_accuracy", "d_fake_accuracy", "d_lr", "g_lr",
                "modes_covered", "high_quality_share", "best_epoch", "seconds"):
        assert key in epoch, key
    assert 0.0 <= epoch["d_real_accuracy"] <= 1.0 and epoch["modes"] == 8
    probes = [e for e in events if e.get("probe") == "gan_samples"]
    assert [p["epoch"] for p in probes] == [0, 1, 2, 3]  # before training, then every epoch
    assert probes[-1]["kind"] == "points" and probes[-1]["fake"].shape == (1000, 2)
    assert probes[-1]["real"].shape == (1000, 2) and probes[-1]["centres"].shape == (8, 2)
    batch = next(e for e in events if e["type"] == "batch")
    assert batch["loss"] == batch["d_loss"] and "g_loss" in batch
    # both networks' weights, keyed by node id, and a history run
    from runtime.compile import weights_from_bytes

    keys = {k.split(".")[0] for k in weights_from_bytes(project.weights)}
    assert keys == {"2", "4", "6", "9", "11", "13"}  # the six Linear layers
    assert project.history[-1]["status"] == "completed"
    assert len(project.history[-1]["epochs"]) == 3


def test_digit_samples_come_as_an_image_grid(short_example):
    project = short_example("gan_digits", epochs=1)
    events = []
    result = run_training(project, callback=lambda e: events.append(e.record()))
    assert result.status == "completed", result.message
    probe = [e for e in events if e.get("probe") == "gan_samples"][-1]
    assert probe["kind"] == "image" and probe["images"].shape == (36, 1, 8, 8)
    assert 0.0 <= probe["images"].min() and probe["images"].max() <= 1.0
    epoch = next(e for e in events if e["type"] == "epoch")
    assert "sample_diversity" in epoch and "modes_covered" not in epoch


def test_options_are_checked_and_failures_leave_the_project_unchanged(short_example):
    project = short_example("gan_ring", d_steps=0)
    events = []
    result = run_training(project, callback=lambda e: events.append(e.record()))
    assert result.status == "failed"
    assert result.message == "training option 'd_steps' must be a number from 1 to 100, not 0"
    assert events[-1]["type"] == "finished"
    broken = short_example("gan_ring")
    broken.graph.set_group_role("g1", "")
    result = run_training(broken)
    assert result.status == "failed" and "a GAN needs a generator group" in result.message
    assert broken.weights is None and broken.history == []


def test_d_steps_and_separate_learning_rates(short_example):
    project = short_example("gan_ring", epochs=1, d_steps=2, d_lr=0.004, g_lr=0.001)
    project.training.schedule = "none"
    events = []
    run_training(project, callback=lambda e: events.append(e.record()))
    epoch = next(e for e in events if e["type"] == "epoch")
    assert (epoch["d_lr"], epoch["g_lr"]) == (0.004, 0.001)
    assert events[0]["d_steps"] == 2


def test_stop_keeps_the_best_epoch(short_example):
    project = short_example("gan_ring", epochs=50)
    control = TrainControl()

    def stop_after_two(event):
        if isinstance(event, Epoch) and event.epoch == 2:
            control.stop()

    result = run_training(project, callback=stop_after_two, control=control)
    assert result.status == "stopped" and len(result.epochs) == 2 and project.weights


@pytest.mark.slow
def test_gan_ring_reaches_its_target_and_the_cli_writes_the_metrics(tmp_path):
    """The issue's target: >= 7 of 8 modes, high-quality share >= 0.7 after default training,
    through the command line (15-35 s on the shared 2-core machine)."""
    path = tmp_path / "gan_ring.plexus"
    save_project(make.build("gan_ring"), path)
    metrics = tmp_path / "metrics.jsonl"
    done = subprocess.run([sys.executable, "main.py", "train", str(path), "--in-place",
                           "--metrics-jsonl", str(metrics)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert len(lines) == make.build("gan_ring").training.epochs
    assert {"modes_covered", "high_quality_share", "d_loss", "g_loss"} <= set(lines[-1])
    best = max(lines, key=lambda e: (e["modes_covered"], e["high_quality_share"]))
    assert best["modes_covered"] >= 7 and best["high_quality_share"] >= 0.7, best
    assert lines[-1]["modes_covered"] >= 7 and lines[-1]["high_quality_share"] >= 0.7
    epochs = make.build("gan_ring").training.epochs
    assert "modes_covered" in done.stdout and f"epoch 1/{epochs}  D loss" in done.stderr
    trained = load_project(path)
    measured = evaluate_gan(trained)  # the stored weights are the best epoch's
    assert measured["modes_covered"] == best["modes_covered"]
    assert measured["high_quality_share"] == pytest.approx(best["high_quality_share"])


def test_settings_copy_is_used_for_overrides(short_example):
    project = short_example("gan_ring", epochs=5)
    settings = dataclasses.replace(project.training, epochs=1)
    result = run_training(project, epochs=settings.epochs)
    assert len(result.epochs) == 1


def test_worker_protocol_sends_weights_before_each_epoch_and_the_result_last(short_example):
    import queue

    from graph.project import project_to_json
    from runtime.worker import Worker

    def start(project, **extra):
        return {"type": "start", "project": project_to_json(project), "weights": None,
                "device": "cpu", "epochs": None, "probes": None, "control": TrainControl(),
                **extra}

    project = short_example("gan_ring", epochs=2)
    sent = []
    result = Worker(queue.Queue(), sent.append).train(start(project, epochs=1))
    assert result.status == "completed"
    kinds = [e.kind for e in sent]
    assert kinds[kinds.index("epoch") - 1] == "weights" and kinds[-1] == "finished"
    assert weights_from_bytes(sent[-1].weights) and sent[-1].history_run["epochs"]
    broken = short_example("gan_ring")
    broken.graph.set_group_role("g2", "")
    sent = []
    Worker(queue.Queue(), sent.append).train(start(broken))
    assert [e.kind for e in sent] == ["finished"]
    assert sent[0].status == "failed" and sent[0].best_epoch == 0
    assert sent[0].weights is None and sent[0].history_run is None
    assert "discriminator group" in sent[0].message


@pytest.mark.parametrize("channels_last", [False, True])
def test_accelerate_mixed_trains_both_networks_in_bfloat16(short_example, monkeypatch,
                                                           channels_last):
    """Mixed precision runs both networks' forward passes in bf16 autocast (channels_last too
    for a convolutional discriminator on images, forced here on the 8x8 digits); the weights
    stay float32 in the usual layout, and Auto on a short run says why it chose nothing."""
    if channels_last:
        monkeypatch.setattr("runtime.accelerate.network_kind", lambda graph: "image convolution")
    project = short_example("gan_digits", epochs=1)
    project.training.accelerate = "mixed"
    events = []
    result = run_training(project, callback=lambda e: events.append(e.record()))
    assert result.status == "completed", result.message
    assert events[0]["accelerate"].startswith(
        "bfloat16 autocast + channels_last (" if channels_last else "bfloat16 autocast (")
    epoch = next(e for e in events if e["type"] == "epoch")
    assert np.isfinite(epoch["d_loss"]) and np.isfinite(epoch["g_loss"])
    weights = weights_from_bytes(project.weights)
    assert {t.dtype for t in weights.values()} == {torch.float32}
    assert all(t.is_contiguous() for t in weights.values())
    probe = [e for e in events if e.get("probe") == "gan_samples"][-1]
    assert 0.0 <= probe["images"].min() and probe["images"].max() <= 1.0

    ring = short_example("gan_ring")
    events = []
    assert run_training(ring, callback=lambda e: events.append(e.record())).status == "completed"
    assert events[0]["accelerate"] == \
        "off (a short run: 2,048 training samples x epochs, under 10,000)"
