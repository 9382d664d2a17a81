"""The GAN panel: draws runtime.gan's events as the controller delivers them; its dock."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gui.panels.gan import NOT_GAN_TEXT, UNTRAINED_TEXT, GanPanel
from gui.panels.registry import install_panels
from resources.examples import make
from runtime.events import Epoch, Probe, Started
from runtime.session import run_training


def test_panel_draws_a_ring_run(qtbot, tmp_path: Path, fake_controller, short_example) -> None:
    controller = fake_controller
    panel = GanPanel(controller)
    qtbot.addWidget(panel)
    panel.resize(1200, 380)
    panel.show()
    project = short_example("gan_ring", epochs=3)
    panel.set_project(project)
    assert panel.is_empty and panel.empty.text() == UNTRAINED_TEXT
    run_training(project, callback=controller.feed)
    panel.flush()
    assert not panel.is_empty and len(panel.epochs) == 3
    assert len(panel.d_curve.getData()[0]) == len(panel.loss_x) > 0
    assert list(panel.fake_curve.getData()[0]) == [1, 2, 3]
    assert panel.sample_stack.currentWidget() is panel.points_view
    assert panel.fake_points.data.size == 1000 and panel.real_points.data.size == 1000
    assert len(panel.mode_rings.data) == 8
    assert "epoch <b>3/3</b>" in panel.status.text() and "modes covered" in panel.status.text()
    assert panel.readout.text().startswith("D loss ")
    assert not panel.hint_label.isVisibleTo(panel)
    controller.feed(Probe(probe="gan_hint", epoch=3, values={
        "collapsed": True,
        "message": "Mode collapse: the generator's samples sit on only 2 of 8 modes; try ..."}))
    panel.flush()
    assert panel.hint_label.isVisibleTo(panel)
    assert panel.hint_label.text().startswith("Mode collapse")
    out = tmp_path / "gan_panel.png"
    assert panel.grab().save(str(out)) and out.stat().st_size > 10_000


def test_panel_shows_a_digit_grid_and_ignores_other_runs(qtbot, fake_controller,
                                                          short_example) -> None:
    controller = fake_controller
    panel = GanPanel(controller)
    qtbot.addWidget(panel)
    project = short_example("gan_digits", epochs=1)
    panel.set_project(project)
    run_training(project, callback=controller.feed)
    panel.flush()
    assert panel.sample_stack.currentWidget() is panel.grid_view
    image = panel.grid_image.image
    assert image.shape == (6 * 8 + 5, 6 * 8 + 5) and np.nanmax(image) <= 1.0
    assert "sample diversity" in panel.status.text()
    other = make.build("xor_mlp")
    panel.set_project(other)
    assert panel.is_empty and panel.empty.text() == NOT_GAN_TEXT
    controller.feed(Started(device="cpu", epochs=3, steps_per_epoch=4, params=1, samples=1,
                            val_samples=1))
    controller.feed(Epoch(epoch=1, metrics={"train_loss": 0.5, "val_loss": 0.5}))
    panel.flush()
    assert panel.is_empty and panel.epochs == []


def test_trained_project_shows_its_history_and_samples(qtbot, short_example) -> None:
    project = short_example("gan_ring", epochs=2)
    run_training(project)
    panel = GanPanel()
    qtbot.addWidget(panel)
    panel.set_project(project)
    qtbot.waitUntil(lambda: panel.samples is not None, timeout=10_000)
    panel.flush()
    assert [e["epoch"] for e in panel.epochs] == [1, 2]
    assert panel.samples["kind"] == "points" and "modes_covered" in panel.samples
    assert panel.sample_stack.currentWidget() is panel.points_view


def test_the_registry_adds_a_gan_dock_that_follows_the_window(tmp_path, editor_window,
                                                               fake_controller) -> None:
    from graph.project import save_project

    window = editor_window
    controller = fake_controller
    panel = install_panels(window, controller, ("gan",))["gan"]
    assert window.docks["gan"].widget() is panel
    path = tmp_path / "gan_ring.plexus"
    save_project(make.build("gan_ring"), path)
    assert window.open_project(path, ask=False)
    assert panel.project is window.project and panel.empty.text() == UNTRAINED_TEXT
    controller.feed(Started(mode="gan", device="cpu", epochs=2, steps_per_epoch=2, params=1,
                            samples=1, val_samples=0))
    assert panel.active and not panel.is_empty
