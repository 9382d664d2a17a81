"""Typed events: they cross a Pipe (pickle), their records keep the history's and the command
line's format, and the session picks one trainer per mode."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from graph.settings import TrainingSettings
from runtime import events as ev
from runtime.gan import GanTrainer
from runtime.session import trainer_for
from runtime.train import StandardTrainer

SAMPLES = [
    ev.Started(device="cpu", epochs=2, steps_per_epoch=3, params=10, samples=30, val_samples=5),
    ev.Batch(epoch=1, step=2, steps_per_epoch=3, global_step=2, loss=0.5, samples_per_s=9.0),
    ev.Epoch(epoch=1, metrics={"train_loss": 0.4, "val_loss": 0.5, "lr": 0.1}, best_epoch=1,
             seconds=0.2),
    ev.Probe(probe="histograms", values={"bins": [1, 2]}, epoch=1),
    ev.Weights(epoch=1, weights=b"\x00"),
    ev.Finished(status="completed", message="trained 2 epochs", best_epoch=1),
    ev.Devices(devices=[{"id": "cpu", "name": "CPU"}]),
    ev.Ready(pid=1, qt_loaded=False),
    ev.Notice(message="hello"),
    ev.ProbesDone(ok=True),
    ev.Paused(),
    ev.Resumed(),
    ev.Heartbeat(),
]


def test_every_event_kind_is_covered_and_pickles():
    kinds = {cls.kind for cls in ev.Event.__subclasses__()}
    assert kinds == {e.kind for e in SAMPLES}
    for event in SAMPLES:
        assert pickle.loads(pickle.dumps(event)) == event
        assert event.record()["type"] == event.kind


def test_records_keep_the_wire_format():
    epoch = SAMPLES[2].record()
    assert list(epoch) == ["type", "epoch", "train_loss", "val_loss", "lr", "best_epoch",
                           "seconds"]
    assert SAMPLES[5].record() == {"type": "finished", "status": "completed",
                                   "message": "trained 2 epochs", "best_epoch": 1}
    assert "mode" not in SAMPLES[0].record()  # optional fields are left out while None
    gan = dataclasses.replace(SAMPLES[1], d_loss=0.5, g_loss=0.7).record()
    assert (gan["d_loss"], gan["g_loss"]) == (0.5, 0.7)


def test_probe_bundles_unpack_into_results():
    bundle = ev.Probe.of({"probe": "batch", "results": [{"probe": "a"}, {"probe": "b", "x": 1}]},
                         epoch=2, step=3, global_step=9)
    assert bundle.results() == [{"epoch": 2, "step": 3, "global_step": 9, "probe": "a"},
                                {"epoch": 2, "step": 3, "global_step": 9, "probe": "b", "x": 1}]
    final = ev.Probe.of({"probe": "confusion", "matrix": 1}, epoch=4, final=True)
    assert final.results() == [{"epoch": 4, "final": True, "probe": "confusion", "matrix": 1}]


def test_the_mode_picks_the_trainer_once():
    assert isinstance(trainer_for(TrainingSettings()), StandardTrainer)
    assert isinstance(trainer_for(TrainingSettings(options={"mode": "gan"})), GanTrainer)
    with pytest.raises(ValueError, match="training option 'mode'"):
        trainer_for(TrainingSettings(options={"mode": "diffusion"}))
