"""Layers that start fresh when a run starts (issue 14 item 9, issue 15): weights that do not
fit a layer (resized since training) were skipped quietly by ``load_node_state``; the session
now names them, and the CLI, the training process and the window pass it on."""

from __future__ import annotations

import queue
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from graph.project import save_project
from resources.examples.make import build
from runtime.compile import weights_to_bytes
from runtime.events import Notice
from runtime.session import fresh_notice, open_session, run_training

ROOT = Path(__file__).resolve().parent.parent
RESIZED = ("Training: hidden1 starts fresh, because the saved weights do not fit (hidden1: "
           "weight is 7x7 but the layer has 4x2; it will start fresh).")


def resized_xor(epochs: int = 1):
    """xor_mlp (2 -> Linear 'hidden1' (4) -> Tanh -> Linear 'logits' (1)) whose saved
    hidden1 weight is 7x7: trained before the layer was resized."""
    project = build("xor_mlp")
    project.training.epochs = epochs
    hidden = project.graph.node_by_name("hidden1")
    hidden.params["out_features"] = 4
    logits = project.graph.node_by_name("logits")
    project.weights = weights_to_bytes({
        f"{hidden.id}.weight": torch.zeros(7, 7), f"{hidden.id}.bias": torch.zeros(4),
        f"{logits.id}.weight": torch.ones(1, 4), f"{logits.id}.bias": torch.zeros(1)})
    return project


def test_the_session_names_the_layers_that_start_fresh():
    project = resized_xor()
    assert fresh_notice(project) == RESIZED
    assert open_session(project).notice == RESIZED
    assert fresh_notice(build("xor_mlp")) == ""  # no weights: nothing to announce
    fitting = resized_xor()
    fitting.graph.node_by_name("hidden1").params["out_features"] = 7
    fitting.weights = None
    assert open_session(fitting).notice == ""


def test_a_run_tells_its_callback_first_and_keeps_the_fitting_layers():
    project = resized_xor()
    logits = project.graph.node_by_name("logits")
    heard = []
    session = open_session(project)
    assert torch.equal(session.prepared.compiled.module.get_submodule(
        session.prepared.compiled.module_names[logits.id]).weight, torch.ones(1, 4))
    result = run_training(project, callback=heard.append, epochs=1)
    assert result.status == "completed"
    assert isinstance(heard[0], Notice) and heard[0].message == RESIZED
    assert sum(isinstance(e, Notice) for e in heard) == 1


def test_the_training_process_sends_the_notice_before_it_starts():
    from test_runtime_worker import start_message

    from runtime.worker import Worker

    events = []
    Worker(queue.Queue(), events.append).train(start_message(resized_xor()))
    kinds = [e.kind for e in events]
    assert kinds[0] == "notice" and events[0].message == RESIZED
    assert kinds[1] == "started" and kinds[-1] == "finished"


@pytest.mark.slow
def test_the_cli_prints_which_layers_start_fresh(tmp_path):
    path = tmp_path / "resized.plexus"
    save_project(resized_xor(), path)
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "train", str(path), "-o",
                           str(tmp_path / "out.plexus")], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"note: {RESIZED}" in done.stderr.splitlines()
    assert "Traceback" not in done.stderr


def test_the_window_shows_the_notice(editor_window):
    """The process's Notice, handled by the controller, reaches the status bar."""
    from gui.training import install_training

    window = editor_window
    controller = install_training(window, start_process=False)
    controller._handle(Notice(message=RESIZED))
    assert window.statusBar().currentMessage() == RESIZED
