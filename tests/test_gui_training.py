"""Training from the editor: a real spawned training process driven through the window.

One window (and one training process) is shared by the tests of this module: spawning a
process that imports torch costs seconds on the shared 2-core machine. The tests wait with
generous timeouts and assert what happened, never how fast.
"""

from __future__ import annotations

import os
import re
import signal

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from editor_driver import open_example  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402

from graph.project import load_project  # noqa: E402
from runtime.events import Batch, Epoch, Event, Probe  # noqa: E402

WAIT = 120_000  # ms: the machine is busy; a stuck test still ends


@pytest.fixture(scope="module")
def window(qapp, tmp_path_factory):
    from gui.main_window import MainWindow
    from gui.training import install_training

    folder = tmp_path_factory.mktemp("training_gui")
    settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, data_dir=folder / "appdata", restore_layout=False,
                        interactive=False)
    window.ask_unsaved = lambda: "discard"
    install_training(window)
    window.resize(1400, 900)
    window.show()
    yield window
    window.training.shutdown()
    window.undo_stack.setClean()
    window.persist = False
    window.close()


def wait_idle(qtbot, controller) -> None:
    qtbot.waitUntil(lambda: controller.state == "idle", timeout=WAIT)


def open_idle(qtbot, window, tmp_path, **settings):
    """Open the example (``settings`` as open_example takes them) and wait until the training
    process is idle; the window's controller and the example's path."""
    path = open_example(window, tmp_path, **settings)
    wait_idle(qtbot, window.training)
    return window.training, path


@pytest.mark.slow
def test_xor_run_from_the_gui_reaches_accuracy_one_and_fills_the_curves(qtbot, window,
                                                                         tmp_path):
    controller, _ = open_idle(qtbot, window, tmp_path, epochs=25)
    assert controller.qt_in_child is False  # the training process never imports Qt
    assert [d["id"] for d in controller.devices()][0] == "cpu"
    epochs, finished = [], []
    controller.epoch.connect(epochs.append)
    controller.finished.connect(finished.append)
    status = window.training_controls.status
    shown: list[tuple[str, str, str]] = []  # the status bar after each batch event

    def read_status(_event: Batch, _points: list) -> None:
        shown.append((status.bar.format(), status.speed.text(),
                      status.eta.text() if status.eta.isVisible() else ""))

    controller.batch.connect(read_status)
    assert window.actions["train"].isEnabled()
    window.actions["train"].trigger()
    assert controller.state == "running"
    assert not window.actions["train"].isEnabled() and window.actions["stop"].isEnabled()
    qtbot.waitUntil(lambda: bool(finished), timeout=WAIT)
    controller.epoch.disconnect(epochs.append)
    controller.finished.disconnect(finished.append)
    controller.batch.disconnect(read_status)
    bars, speeds, etas = zip(*shown, strict=True)
    assert all(re.fullmatch(r"epoch \d+/25 \u00b7 step \d+/10", b) for b in bars), bars
    assert any(re.fullmatch(r"[\d.]+k? samples/s", s) for s in speeds), speeds
    assert all(re.fullmatch(r"ETA \d+:\d\d", e) for e in etas if e), etas
    assert finished[0].status == "completed"
    assert finished[0].weights is None
    assert len(epochs) == 25
    assert epochs[-1].metrics["val_accuracy"] == 1.0
    wait_idle(qtbot, controller)
    project = window.project
    assert project.weights  # the best weights went into the project
    assert len(project.history) == 1 and project.history[0]["status"] == "completed"
    assert project.history[0]["steps_per_epoch"] == 10  # 320 training samples / 32
    assert window.isWindowModified()  # and it asks to be saved
    panel = window.metrics
    panel.redraw()
    x, y = panel.curve_data("train_step")
    assert len(x) > 0 and np.all(np.isfinite(y))
    assert x.max() <= 25.0 + 1e-9  # steps drawn at their fractional epoch
    x, y = panel.curve_data("val_metric")
    assert list(x) == list(range(1, 26)) and y[-1] == pytest.approx(100.0)  # percent
    assert len(panel.curve_data("val_loss")[0]) == 25
    assert len(panel.curve_data("lr")[0]) == 25
    # The read-out names the nearest epoch and the recorded step under the mouse (batch events
    # are throttled, so hover just past a recorded step, the one nearest to epoch 3).
    xs = panel.curve_data("train_step")[0]
    recorded = xs[np.abs(xs - 3.0).argmin()]
    panel.hover(recorded + 1e-3)
    epoch = min(range(1, 26), key=lambda e: abs(e - recorded - 1e-3))
    assert f"epoch</span> <b>{epoch}</b>" in panel.readout.text()
    step = int(re.search(r"step</span> (\d+)", panel.readout.text()).group(1))
    assert step == round(recorded * 10)
    panel.hover(None)
    panel.log_box.setChecked(True)
    panel.redraw()
    low, high = panel.loss_plot.viewRange()[1]  # log10 units, around the losses
    assert high < 1.0 and low < np.log10(panel.curve_data("val_loss")[1].min())
    panel.log_box.setChecked(False)
    bar = window.training_controls.status.bar
    assert bar.value() == 1000 and "epoch 25/25" in bar.format()
    assert window.training_controls.reset_action.isEnabled()


@pytest.mark.slow
def test_pause_resume_and_stop_keep_the_best_weights(qtbot, window, tmp_path):
    controller, _ = open_idle(qtbot, window, tmp_path, epochs=400)
    epochs, finished, log = [], [], []
    controller.epoch.connect(epochs.append)
    controller.finished.connect(finished.append)
    for name in ("epoch", "batch", "paused", "resumed"):
        getattr(controller, name).connect(lambda *_, name=name: log.append(name))
    assert controller.start(window.project, device="cpu")
    qtbot.waitUntil(lambda: len(epochs) >= 2, timeout=WAIT)
    window.actions["pause"].trigger()
    assert controller.state == "paused"
    assert window.actions["pause"].text() == "&Resume"
    qtbot.waitUntil(lambda: "paused" in log, timeout=WAIT)  # the run has stopped at its pause
    seen = len(epochs)
    window.actions["pause"].trigger()
    assert controller.state == "running"
    qtbot.waitUntil(lambda: "resumed" in log, timeout=WAIT)
    assert log[log.index("paused") + 1] == "resumed"  # nothing new while paused
    qtbot.waitUntil(lambda: len(epochs) >= seen + 3, timeout=WAIT)
    window.actions["stop"].trigger()
    assert controller.state == "stopping"
    qtbot.waitUntil(lambda: bool(finished), timeout=WAIT)
    controller.epoch.disconnect(epochs.append)
    controller.finished.disconnect(finished.append)
    assert finished[0].status == "stopped"
    assert 5 <= len(epochs) < 400
    wait_idle(qtbot, controller)
    run = window.project.history[-1]
    assert run["status"] == "stopped" and len(run["epochs"]) == len(epochs)
    assert run["best_epoch"] >= 1 and window.project.weights


@pytest.mark.slow
def test_killing_the_training_process_keeps_the_gui_and_last_epoch_weights(qtbot, window,
                                                                          tmp_path):
    from runtime.compile import weights_from_bytes

    controller, _ = open_idle(qtbot, window, tmp_path, epochs=400)
    epochs, failures, weights = [], [], []
    controller.epoch.connect(epochs.append)
    controller.failed.connect(failures.append)
    assert controller.start(window.project)
    qtbot.waitUntil(lambda: len(epochs) >= 3, timeout=WAIT)
    first_pid = controller.pid
    os.kill(first_pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: bool(failures), timeout=WAIT)
    controller.epoch.disconnect(epochs.append)
    controller.failed.disconnect(failures.append)
    assert "was killed (SIGKILL" in failures[0]
    assert "Kept the weights of epoch" in failures[0]
    project = window.project
    run = project.history[-1]
    assert run["status"] == "failed" and len(run["epochs"]) >= 3
    kept = weights_from_bytes(project.weights)
    assert kept and all(np.isfinite(t.numpy()).all() for t in kept.values())
    assert window.metrics.banner.isVisibleTo(window.metrics)
    assert "was killed" in window.metrics.banner_label.text()
    assert "killed" in window.statusBar().currentMessage()
    assert window.graph.nodes  # the project is intact
    # the window still works and a fresh process takes the next run
    window.validate_now()
    wait_idle(qtbot, controller)
    assert controller.pid != first_pid
    finished = []
    controller.finished.connect(finished.append)
    assert controller.start(project, epochs=2)
    weights.append(project.weights)
    qtbot.waitUntil(lambda: bool(finished), timeout=WAIT)
    controller.finished.disconnect(finished.append)
    assert finished[0].status == "completed"
    assert project.history[-1]["status"] == "completed"
    assert project.weights != weights[0]


@pytest.mark.slow
def test_a_healthy_run_and_an_idle_process_keep_the_watchdog_quiet(qtbot, window, tmp_path):
    import time

    controller, _ = open_idle(qtbot, window, tmp_path, epochs=30)
    alarms, notices, finished = [], [], []
    controller.unresponsive.connect(alarms.append)
    controller.notice.connect(notices.append)
    controller.finished.connect(finished.append)
    # idle, the process sends nothing but its heartbeats: they keep arriving
    qtbot.wait(2500)
    assert time.monotonic() - controller.watchdog.heard_at < 2.0
    assert controller.start(window.project)
    qtbot.waitUntil(lambda: bool(finished), timeout=WAIT)
    controller.unresponsive.disconnect(alarms.append)
    controller.notice.disconnect(notices.append)
    controller.finished.disconnect(finished.append)
    assert finished[0].status == "completed"
    assert alarms == [] and not controller.watchdog.silent and not controller.watchdog.ended
    assert not [n for n in notices if "answer" in n], notices


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="SIGSTOP is POSIX")
def test_stop_ends_a_hung_training_process_and_keeps_the_last_epoch(qtbot, window, tmp_path):
    import time

    from runtime.compile import weights_from_bytes

    controller, _ = open_idle(qtbot, window, tmp_path, epochs=400)
    epochs, failures, alarms = [], [], []
    controller.epoch.connect(epochs.append)
    controller.failed.connect(failures.append)
    controller.unresponsive.connect(alarms.append)
    assert controller.start(window.project)
    qtbot.waitUntil(lambda: len(epochs) >= 3, timeout=WAIT)
    hung = controller.pid
    os.kill(hung, signal.SIGSTOP)  # hangs: no events, no heartbeats, no answer to Stop
    try:
        window.actions["stop"].trigger()
        assert controller.state == "stopping"
        assert not window.actions["train"].isEnabled()
        pressed = time.monotonic()
        qtbot.waitUntil(lambda: window.actions["train"].isEnabled(), timeout=10_000)
        assert time.monotonic() - pressed < 10.0
    finally:
        try:
            os.kill(hung, signal.SIGKILL)  # never leave a stopped process behind
        except ProcessLookupError:
            pass
    controller.epoch.disconnect(epochs.append)
    controller.failed.disconnect(failures.append)
    controller.unresponsive.disconnect(alarms.append)
    assert controller.pid != hung and controller.state in ("starting", "idle")
    assert len(failures) == 1
    assert "did not stop when asked, so it was ended" in failures[0]
    kept = re.search(r"Kept the weights of epoch (\d+)\.", failures[0])
    assert kept, failures[0]
    run = window.project.history[-1]
    assert run["status"] == "failed" and len(run["epochs"]) >= 3
    assert int(kept.group(1)) >= len(run["epochs"])  # the last completed epoch's weights
    weights = weights_from_bytes(window.project.weights)
    assert weights and all(np.isfinite(t.numpy()).all() for t in weights.values())
    assert "ended" in window.statusBar().currentMessage()
    assert alarms in ([], [True, False])  # a warning, if any, is taken back
    wait_idle(qtbot, controller)  # and the fresh process takes the next run


@pytest.mark.slow
def test_reopening_a_trained_project_shows_its_curves_and_continues(qtbot, window, tmp_path):
    controller, path = open_idle(qtbot, window, tmp_path, epochs=4)
    finished = []
    controller.finished.connect(finished.append)
    assert controller.start(window.project)
    qtbot.waitUntil(lambda: bool(finished), timeout=WAIT)
    wait_idle(qtbot, controller)
    first_loss = window.project.history[-1]["epochs"][-1]["val_loss"]
    assert window.save_to(path)
    saved = load_project(path)
    assert saved.weights and len(saved.history) == 1
    window.new_project()
    window.metrics.redraw()
    assert len(window.metrics.curve_data("val_loss")[0]) == 0
    assert window.open_project(path, ask=False)
    panel = window.metrics
    panel.redraw()
    assert panel.stack.currentWidget() is panel.plots_widget
    assert len(panel.curve_data("val_loss")[0]) == 4
    assert len(panel.curve_data("train_step")[0]) > 0
    # a second run continues from the stored weights; the first stays as a faint curve
    finished.clear()
    assert controller.start(window.project, epochs=1)
    qtbot.waitUntil(lambda: bool(finished), timeout=WAIT)
    controller.finished.disconnect(finished.append)
    history = window.project.history
    assert len(history) == 2
    assert history[-1]["epochs"][0]["val_loss"] < history[0]["epochs"][0]["val_loss"]
    assert history[-1]["epochs"][0]["val_loss"] <= first_loss * 1.5
    panel.redraw()
    assert len(panel.curve_data("earlier_loss")[0]) == 4
    assert len(panel.curve_data("val_loss")[0]) == 1


def test_reset_weights_and_a_cuda_choice_without_cuda(qtbot, window, tmp_path):
    controller, _ = open_idle(qtbot, window, tmp_path)
    window.project.weights = b"placeholder"
    window.training_controls._update_actions()
    assert window.training_controls.reset_weights()  # not interactive: no question
    assert window.project.weights is None
    assert window.isWindowModified()
    combo = window.device_combo
    assert combo.itemData(0) == "auto" and combo.findData("cpu") >= 0
    if controller.cuda_available():
        pytest.skip("this machine has CUDA")
    index = combo.findData("cuda")
    assert index >= 0 and "not available" in combo.itemText(index)
    failures = []
    controller.failed.connect(failures.append)
    combo.setCurrentIndex(index)
    combo.activated.emit(index)
    assert "CUDA is not available" in window.statusBar().currentMessage()
    assert not window.training_controls.train()
    controller.failed.disconnect(failures.append)
    assert "CUDA was chosen but is not available" in failures[0]
    assert controller.state == "idle"
    combo.setCurrentIndex(combo.findData("auto"))


@pytest.mark.parametrize("code,words", [(-9, "was killed (SIGKILL"), (-11, "crashed (SIGSEGV"),
                                        (3, "exited unexpectedly with code 3")])
def test_exit_codes_in_words(code, words):
    from gui.training.controller import describe_exit

    assert words in describe_exit(code)


def test_probe_config_parts_from_several_sources_are_merged(qtbot):
    from gui.training.controller import TrainingController

    controller = TrainingController(start_process=False)
    controller.set_probe_config({"filters": 2, "histograms": True})
    controller.set_probe_config({"robustness": {"eps": 0.1}}, source="adversarial")
    assert controller.probe_config == {"filters": 2, "histograms": True,
                                       "robustness": {"eps": 0.1}}
    controller.set_probe_config({"confusion": True})  # the panels' part is replaced
    assert controller.probe_config == {"confusion": True, "robustness": {"eps": 0.1}}
    controller.set_probe_config({}, source="adversarial")
    assert controller.probe_config == {"confusion": True}
    assert controller.state == "idle" and controller.pid is None



class FakePipe:
    """The read end of the training process' event pipe, fed by the test."""

    def __init__(self, events: list[Event]) -> None:
        self.events = list(events)

    def poll(self) -> bool:
        return bool(self.events)

    def recv(self) -> Event:
        return self.events.pop(0)


def test_probe_results_reach_the_panels_one_per_tick_in_order(qtbot):
    """A bundle of probe results is handed out one a tick (each panel redraws in a tick of
    its own); an epoch event first delivers what is still queued, so order is kept."""
    from gui.training.controller import TrainingController

    controller = TrainingController(start_process=False)
    got: list[str] = []
    controller.probe.connect(lambda p: got.append(p["probe"] + ("*" if p.get("fresh") else "")))
    controller.epoch.connect(lambda e: got.append(f"epoch {e.epoch}"))
    bundle = Probe(probe="batch", epoch=1, values={
        "results": [{"probe": name} for name in ("filters", "confusion", "histograms")]})
    controller._events = FakePipe([bundle])
    controller.poll()
    assert got == ["filters"]
    controller.poll()
    assert got == ["filters", "confusion"]
    newer = Probe(probe="batch", epoch=2, values={
        "results": [{"probe": "histograms", "fresh": True}, {"probe": "filters"}]})
    controller._events = FakePipe([newer, Epoch(epoch=2)])
    controller.poll()  # the newer histograms replace the queued ones; the epoch flushes all
    assert got == ["filters", "confusion", "histograms*", "filters", "epoch 2"]
    controller._events = None


class FakeProcess:
    """A training process that never dies by itself; records what it was sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def is_alive(self) -> bool:
        return True

    def terminate(self) -> None:
        self.sent.append("terminate")

    def kill(self) -> None:
        self.sent.append("kill")


def test_the_watchdog_shows_a_silent_process_and_ends_one_that_ignores_stop(qtbot,
                                                                           editor_window):
    import time

    from gui.training import install_training
    from runtime.events import Heartbeat

    controller = install_training(editor_window, start_process=False)
    status = editor_window.training_controls.status
    process, notices, alarms = FakeProcess(), [], []
    controller.notice.connect(notices.append)
    controller.unresponsive.connect(alarms.append)
    controller._process, controller._events = process, FakePipe([])
    controller._set_state("running")
    controller.watchdog.reset(time.monotonic() - 6.0)  # nothing heard for 6 s
    controller.poll()
    assert alarms == [True]
    assert notices == ["The training process has not answered for 5 s; Stop ends it if it "
                       "does not answer."]
    assert status.state_label.text() == "Training process not responding\u2026"
    controller._events = FakePipe([Heartbeat()])
    controller.poll()
    assert alarms == [True, False] and notices[-1] == "The training process answers again."
    assert status.state_label.text() == "Preparing\u2026"  # the running state's text again
    editor_window.actions["stop"].trigger()
    assert controller.state == "stopping"
    controller.poll()
    assert process.sent == []  # it was just heard: the polite stop gets its grace
    controller.watchdog.heard_at = controller.watchdog.stop_asked_at = time.monotonic() - 2.5
    controller.poll()
    assert process.sent == ["terminate"]
    controller.watchdog.terminated_at = time.monotonic() - 2.5
    controller.poll()
    assert process.sent == ["terminate", "kill"]
    controller.poll()
    assert process.sent == ["terminate", "kill"]  # each once
    controller._process = controller._events = None
