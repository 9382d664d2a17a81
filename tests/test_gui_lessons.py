"""The Lessons panel in the real window: Help > Lessons opens it, a lesson opens its example,
steps tick from the training controller's events, the graph and the panels on screen, and
progress is remembered."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from graph.model import Edge  # noqa: E402
from runtime.events import Epoch, Finished, Started  # noqa: E402


@pytest.fixture
def window(lessons_window):
    return lessons_window


def _run(controller, **metrics: float) -> None:
    controller.feed(Started(device="cpu", epochs=1, steps_per_epoch=1, params=9, samples=4,
                            val_samples=4))
    controller.feed(Epoch(epoch=1, metrics=metrics))
    controller.feed(Finished(status="completed", message="", best_epoch=1))


def test_the_xor_lesson_ticks_from_what_the_learner_does(window, fake_controller,
                                                         flush_events):
    panel = window.lessons
    dock = window.docks["lessons"]
    assert not dock.isVisible()
    help_actions = {a.objectName() for a in window.menus["help"].actions()}
    assert "action_lessons" in help_actions
    next(a for a in window.menus["help"].actions()
         if a.objectName() == "action_lessons").trigger()
    assert dock.isVisible()
    assert dock.height() >= window.docks["inspector"].height() // 2
    assert panel.catalogue.count() >= 12
    assert panel.catalogue.item(0).text() == "1. The perceptron and XOR  \u00b7  0/4"

    assert panel.start("perceptron_xor")
    assert window.project.name == "perceptron_xor"
    assert panel.counter.text().startswith("Step 1 of 4")
    assert "Your turn:" in panel.step_text.text()

    window.docks["filters"].raise_()  # the boundary tab behind it
    flush_events()
    _run(fake_controller, val_accuracy=0.5)
    flush_events()
    assert panel.progress.done == {0} and panel.progress.current == 1

    assert "boundary" not in panel.watch.visible_panels()
    window.docks["boundary"].raise_()
    flush_events()
    assert panel.progress.current == 2

    graph = window.graph
    source, logits = graph.node_by_name("input"), graph.node_by_name("logits")
    graph.disconnect(graph.edge_into(logits.id, "in"))
    hidden = graph.add_node("Linear", {"out_features": 2}, name="hidden1")
    act = graph.add_node("Tanh", name="act1")
    graph.connect(Edge(source.id, "out", hidden.id, "in"))
    graph.connect(Edge(hidden.id, "out", act.id, "in"))
    flush_events()
    assert panel.progress.current == 2  # act1 does not reach logits yet
    graph.connect(Edge(act.id, "out", logits.id, "in"))
    flush_events()
    assert panel.progress.current == 3

    _run(fake_controller, val_accuracy=0.8)
    flush_events()
    assert not panel.progress.finished  # 80% is not yet solved
    _run(fake_controller, val_accuracy=1.0)
    flush_events()
    assert panel.progress.finished
    assert "Lesson complete" in panel.status.text()

    panel.close_lesson()
    assert panel.catalogue.item(0).text() == "\u2713 1. The perceptron and XOR  \u00b7  4/4"
    again = type(panel)(window, fake_controller)  # a new session remembers the progress
    assert again.catalogue.item(0).text().endswith("4/4")


def test_skip_back_restart_and_a_flipping_attack(window, fake_controller, flush_events):
    panel = window.lessons
    assert panel.start("adversarial")
    assert not panel.back_button.isEnabled()
    panel.skip_button.click()
    assert panel.progress.step.highlight == {"panel": "adversarial"}
    flush_events()
    on_screen = panel.watch.visible_panels
    assert "adversarial" not in on_screen()  # its tab is marked, not opened for the learner
    panel.show_button.click()
    assert "adversarial" in on_screen()
    flush_events()
    assert panel.progress.done == {1}  # opening it was the step
    assert panel.progress.current == 2
    assert panel.back_button.isEnabled()

    page = window.docks["adversarial"].widget().attack_page
    result = SimpleNamespace(method="fgsm", eps=0.3, labels=np.array([1, 2]),
                             clean_pred=np.array([1, 2]), success=np.array([True, False]))
    page.attacked.emit(result)
    flush_events()
    assert panel.progress.current == 2  # epsilon 0.3 is more than the step allows
    page.attacked.emit(SimpleNamespace(method="fgsm", eps=0.1, labels=np.array([1, 2]),
                                       clean_pred=np.array([0, 2]),
                                       success=np.array([True, False])))
    flush_events()
    assert panel.progress.current == 2  # it "fooled" a sample the network had wrong anyway
    page.attacked.emit(SimpleNamespace(method="fgsm", eps=0.1, labels=np.array([1, 2]),
                                       clean_pred=np.array([1, 2]),
                                       success=np.array([False, True])))
    flush_events()
    assert panel.progress.done == {1, 2} and panel.progress.current == 3

    panel.back_button.click()
    assert panel.progress.current == 2
    window.graph.add_node("ReLU", name="stray")
    panel.restart_button.click()
    assert panel.progress.current == 0 and panel.progress.done == set()
    assert window.graph.node_by_name("stray") is None  # the example opened afresh
    assert panel.watch.attacks == []
