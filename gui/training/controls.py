"""Run controls: the Train/Pause/Stop/Reset actions, the device selector and the status-bar
progress (epoch and step bar, samples per second, ETA, device).

The main window creates disabled Train/Pause/Stop placeholders and a device combo; these
classes take them over, so menus, toolbar and shortcuts stay where the window put them.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMessageBox, QProgressBar, QWidget

from gui import style, theme
from runtime.events import Batch, Epoch, Finished, Started

LABEL_INTERVAL = 0.25  # seconds between updates of the speed and ETA labels (readable)
EMPTY_NETWORK = "Add layers to the network first: an empty network has nothing to train."


def format_duration(seconds: float) -> str:
    """0:42, 12:05, 1:02:03."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_rate(samples_per_s: float) -> str:
    """1.2k samples/s."""
    if samples_per_s >= 1e6:
        return f"{samples_per_s / 1e6:.1f}M samples/s"
    if samples_per_s >= 1e3:
        return f"{samples_per_s / 1e3:.1f}k samples/s"
    return f"{samples_per_s:.0f} samples/s"


def device_label(device_id: str, devices: list[dict[str, Any]]) -> str:
    """'CPU', 'GPU 0: NVIDIA H100 (79.1 GB)' for a device id."""
    if device_id.startswith("cpu"):
        return "CPU"
    for device in devices:
        if device["id"] == device_id or (device_id == "cuda" and device["id"] == "cuda:0"):
            index = device["id"].split(":")[-1]
            memory = f" ({device['memory_gb']:g} GB)" if device.get("memory_gb") else ""
            return f"GPU {index}: {device['name']}{memory}"
    return device_id.upper() if device_id == "cuda" else device_id


class TrainingStatus(QWidget):
    """Status-bar progress: 'epoch 3/20' bar with the step, samples/s, ETA, device."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("training_status")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        self.state_label = QLabel()
        self.state_label.setObjectName("training_state")
        self.bar = QProgressBar()
        self.bar.setObjectName("training_progress")
        self.bar.setFixedWidth(210)
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(True)
        self.bar.setToolTip("Progress of the whole run; the text shows the epoch and the step "
                            "within it")
        self.speed = QLabel()
        self.speed.setObjectName("training_speed")
        self.speed.setToolTip("Training samples per second (validation and probes excluded)")
        self.eta = QLabel()
        self.eta.setObjectName("training_eta")
        self.eta.setToolTip("Estimated time until the run ends")
        self.device = QLabel()
        self.device.setObjectName("training_device")
        self.device.setToolTip("Where training runs")
        for widget in (self.state_label, self.bar, self.speed, self.eta, self.device):
            layout.addWidget(widget)
        self.bar.hide()
        self.speed.hide()
        self.eta.hide()

    def set_state_text(self, text: str, role: str = "dim") -> None:
        self.state_label.setText(text)
        self.state_label.setProperty("role", role)
        self.state_label.style().unpolish(self.state_label)
        self.state_label.style().polish(self.state_label)
        self.state_label.setVisible(bool(text))

    def set_progress(self, epoch: int, epochs: int, step: int, steps: int) -> None:
        total = max(1, epochs * steps)
        done = (epoch - 1) * steps + step
        self.bar.setValue(round(1000 * min(1.0, done / total)))
        self.bar.setFormat(f"epoch {epoch}/{epochs} \u00b7 step {step}/{steps}")
        self.bar.show()


class TrainingControls(QObject):
    """Connects the window's Train menu, toolbar, device combo and status bar to a
    TrainingController."""

    def __init__(self, window: Any, controller: Any, panel: Any = None) -> None:
        super().__init__(window)
        self.window = window
        self.controller = controller
        self.panel = panel
        self.status = TrainingStatus()
        self.combo = getattr(window, "device_combo", None)
        self._run: Started | None = None
        self._t0 = 0.0
        self._paused_at: float | None = None
        self._paused_total = 0.0
        self._last_label = 0.0
        self._last_batch: dict[str, Any] | None = None
        self._take_over_actions()
        self._setup_combo()
        controller.state_changed.connect(self._state_changed)
        controller.started.connect(self._started)
        controller.batch.connect(self._batch)
        controller.epoch.connect(self._epoch)
        controller.finished.connect(self._finished)
        controller.devices_changed.connect(self._fill_devices)
        controller.project_updated.connect(self._project_updated)
        controller.unresponsive.connect(self._unresponsive)
        analysis_updated = getattr(window, "analysis_updated", None)
        if analysis_updated is not None:
            analysis_updated.connect(self._analysis_updated)  # layers added or removed
        self._fill_devices(controller.devices())
        self._state_changed(controller.state)

    # -- actions --------------------------------------------------------------------------------
    def _take_over_actions(self) -> None:
        w = self.window
        actions: dict[str, QAction] = w.actions
        self.train_action = actions["train"]
        self.pause_action = actions["pause"]
        self.stop_action = actions["stop"]
        for action, slot in ((self.train_action, self.train), (self.pause_action,
                                                               self.toggle_pause),
                             (self.stop_action, self.stop)):
            action.triggered.connect(slot)  # the window's placeholders have no slot
        self.train_action.setStatusTip("Train the network from its current weights")
        self.pause_action.setStatusTip("Pause training; Resume goes on from the same step")
        self.stop_action.setStatusTip("Stop training; the best weights so far are kept")
        reset = actions.get("reset_weights")
        if reset is None:
            reset = QAction("&Reset Weights", w)
            reset.setObjectName("action_reset_weights")
            reset.setProperty("icon_name", "reset")
            reset.setIcon(style.icon("reset"))
            actions["reset_weights"] = reset
            w.addAction(reset)
            menu = getattr(w, "menus", {}).get("train")
            if menu is not None:
                menu.addSeparator()
                menu.addAction(reset)
        reset.setStatusTip("Forget the trained weights: the next run starts from random ones")
        reset.triggered.connect(self.reset_weights)
        self.reset_action = reset
        for action in (self.train_action, self.pause_action, self.stop_action, reset):
            self._tooltip(action)

    @staticmethod
    def _tooltip(action: QAction) -> None:
        from PySide6.QtGui import QKeySequence

        text = action.text().replace("&", "").replace("\u2026", "")
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        tip = action.statusTip()
        action.setToolTip(f"{text} ({keys})" + (f": {tip}" if tip else "") if keys
                          else text + (f": {tip}" if tip else ""))

    def device_id(self) -> str:
        if self.combo is None or self.combo.currentData() is None:
            return "auto"
        return str(self.combo.currentData())

    def train(self) -> bool:
        w = self.window
        device = self.device_id()
        if not self._trainable():
            w.show_message(EMPTY_NETWORK, 6000)
            return False
        if self.controller.start(w.project, device=device):
            # Never raise Metrics over the tab the user chose: the training layout puts it
            # beside that tab, and that tab's panel keeps getting its probes.
            enter = getattr(w, "enter_training_layout", None)
            if callable(enter):
                enter()
            where = device_label(device, self.controller.devices()) if device != "auto" \
                or self.combo is None else self.combo.currentText()
            start = "from its trained weights" if w.project.weights else "from random weights"
            w.show_message(f"Training {w.project.name} on {where}, {start}\u2026", 5000)
            return True
        return False

    def toggle_pause(self) -> None:
        if self.controller.state == "paused":
            self.controller.resume()
        else:
            self.controller.pause()

    def stop(self) -> None:
        self.controller.stop()
        self.window.show_message("Stopping after this step; the best weights so far are "
                                 "kept\u2026", 5000)

    def _trainable(self) -> bool:
        """A network to train: at least one layer (Train stays disabled on an empty one)."""
        graph = getattr(getattr(self.window, "project", None), "graph", None)
        return graph is None or bool(graph.nodes)

    def _analysis_updated(self, _analysis: Any) -> None:
        self._update_actions()

    def reset_weights(self) -> bool:
        w = self.window
        if not w.project.weights:
            return False
        if getattr(w, "interactive", False):
            answer = QMessageBox.question(
                w, "Reset weights",
                f"Forget the trained weights of {w.project.name}? The next run starts from "
                "random weights. The curves of earlier runs stay.",
                QMessageBox.StandardButton.Reset | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel)
            if answer != QMessageBox.StandardButton.Reset:
                return False
        return self.controller.reset_weights(w.project)

    # -- device selector ------------------------------------------------------------------------
    def _setup_combo(self) -> None:
        combo = self.combo
        if combo is None:
            return
        combo.setToolTip("Where training runs: Auto picks a CUDA GPU when there is one")
        combo.setSizeAdjustPolicy(combo.SizeAdjustPolicy.AdjustToContents)
        combo.activated.connect(self._device_chosen)

    def _fill_devices(self, devices: list[dict[str, Any]]) -> None:
        combo = self.combo
        if combo is None:
            return
        wanted = combo.currentData() or self._project_device()
        combo.blockSignals(True)
        combo.clear()
        cuda = [d for d in devices if d["id"].startswith("cuda")]
        auto_to = device_label(cuda[0]["id"], devices) if cuda else "CPU"
        combo.addItem(f"Auto ({auto_to.split(':')[0]})", "auto")
        combo.setItemData(0, f"Auto: {auto_to}", Qt.ItemDataRole.ToolTipRole)
        combo.addItem("CPU", "cpu")
        cpu = next((d for d in devices if d["id"] == "cpu"), None)
        if cpu is not None:
            combo.setItemData(1, cpu["name"], Qt.ItemDataRole.ToolTipRole)
        for device in cuda:
            combo.addItem(device_label(device["id"], devices), device["id"])
        if not cuda and self.controller.devices_known:
            combo.addItem("CUDA (not available)", "cuda")
            index = combo.count() - 1
            combo.setItemData(index, QColor(theme.current().warning),
                              Qt.ItemDataRole.ForegroundRole)
            combo.setItemData(index, self._cuda_message(), Qt.ItemDataRole.ToolTipRole)
        self._select(wanted)
        combo.blockSignals(False)
        self._update_device_label()

    def _project_device(self) -> str:
        project = getattr(self.window, "project", None)
        return str(getattr(getattr(project, "training", None), "device", "auto") or "auto")

    def _select(self, device: str) -> None:
        combo = self.combo
        if combo is None:
            return
        index = combo.findData(device)
        if index < 0 and device.startswith("cuda"):
            index = next((i for i in range(combo.count())
                          if str(combo.itemData(i)).startswith("cuda")), -1)
        combo.setCurrentIndex(max(0, index))
        if str(combo.currentData()).startswith("cuda") and self.controller.devices_known \
                and not self.controller.cuda_available():
            self.window.show_message(self._cuda_message(), 12000)

    def _cuda_message(self) -> str:
        note = self.controller.cuda_note or "no CUDA device was found"
        return f"CUDA is not available: {note}. Training on CUDA will fail; choose CPU or Auto."

    def _device_chosen(self, _index: int) -> None:
        device = self.device_id()
        if device.startswith("cuda") and not self.controller.cuda_available():
            self.window.show_message(self._cuda_message(), 12000)
        self._update_device_label()

    def _update_device_label(self, actual: str | None = None) -> None:
        devices = self.controller.devices()
        if actual is not None:
            text = device_label(actual, devices)
        else:
            device = self.device_id()
            text = self.combo.currentText() if self.combo is not None and device == "auto" \
                else device_label(device, devices)
        self.status.device.setText(text)

    def project_changed(self, project: Any) -> None:
        """A new project is open: its device setting, a fresh status."""
        if self.controller.state in ("running", "paused") \
                and self.controller.run_project is not project:
            self.controller.stop()
            self.window.show_message("Training of the previous project was stopped.", 6000)
        self._select(self._project_device())
        self._update_device_label()
        self._update_actions()
        if self.controller.state not in ("running", "paused", "stopping"):
            self.status.bar.hide()
            self.status.speed.hide()
            self.status.eta.hide()
            self._state_changed(self.controller.state)

    # -- following the controller ---------------------------------------------------------------
    def _update_actions(self) -> None:
        state = self.controller.state
        active = state in ("running", "paused", "stopping")
        project = getattr(self.window, "project", None)
        trainable = self._trainable()
        self.train_action.setEnabled(not active and trainable)
        self.pause_action.setEnabled(state in ("running", "paused"))
        self.stop_action.setEnabled(state in ("running", "paused"))
        self.reset_action.setEnabled(not active and bool(getattr(project, "weights", None)))
        paused = state == "paused"
        self.pause_action.setText("&Resume" if paused else "&Pause")
        self.pause_action.setStatusTip("Go on training from where it paused" if paused
                                       else "Pause training; Resume goes on from the same step")
        self.pause_action.setIcon(style.icon("train" if paused else "pause"))
        trained = bool(getattr(project, "weights", None))
        self.train_action.setStatusTip(
            EMPTY_NETWORK if not trainable
            else "Train the network, continuing from its trained weights" if trained
            else "Train the network from random weights")
        for action in (self.train_action, self.pause_action, self.stop_action,
                       self.reset_action):
            self._tooltip(action)
        if self.combo is not None:
            self.combo.setEnabled(not active)

    def _state_changed(self, state: str) -> None:
        self._update_actions()
        s = self.status
        if state == "starting":
            s.set_state_text("Starting the training process\u2026")
        elif state == "idle":
            s.set_state_text("")
        elif state == "paused":
            self._paused_at = time.monotonic()
            s.set_state_text("Paused", "warning")
            s.eta.hide()
        elif state == "stopping":
            s.set_state_text("Stopping\u2026", "warning")
        elif state == "running":
            if self._paused_at is not None:
                self._paused_total += time.monotonic() - self._paused_at
                self._paused_at = None
            s.set_state_text("" if self._run else "Preparing\u2026")
        if state in ("idle", "starting"):
            s.speed.hide()
            s.eta.hide()
            self._update_device_label()

    def _unresponsive(self, silent: bool) -> None:
        """The watchdog's word on the training process, shown where the run's state is."""
        if silent:
            self.status.set_state_text("Training process not responding\u2026", "error")
            self.status.speed.hide()
            self.status.eta.hide()
        else:
            self._state_changed(self.controller.state)

    def _started(self, event: Started) -> None:
        self._run = event
        self._t0 = time.monotonic()
        self._paused_total = 0.0
        self._paused_at = None
        self._last_label = 0.0
        self.status.set_state_text("")
        self.status.set_progress(1, event.epochs, 0, event.steps_per_epoch)
        self._update_device_label(event.device)
        if event.accelerate:
            self.status.device.setToolTip(f"Accelerate: {event.accelerate}")
            if not event.accelerate.startswith("off"):
                self.window.show_message(f"Accelerate: {event.accelerate}", 8000)

    def _batch(self, event: Batch, _points: list[list[float]]) -> None:
        run = self._run
        if not run:
            return
        now = time.monotonic()
        if now - self._last_label < LABEL_INTERVAL:
            return  # a few updates a second are readable; each one repaints the status bar
        self._last_label = now
        epochs, steps = run.epochs, event.steps_per_epoch
        self.status.set_progress(event.epoch, epochs, event.step, steps)
        self.status.speed.setText(format_rate(event.samples_per_s))
        self.status.speed.show()
        done = event.global_step
        elapsed = now - self._t0 - self._paused_total
        if done > 0 and elapsed > 0.5 and self.controller.state == "running":
            left = elapsed / done * max(0, epochs * steps - done)
            self.status.eta.setText(f"ETA {format_duration(left)}")
            self.status.eta.show()

    def _epoch(self, event: Epoch) -> None:
        run = self._run
        if run:
            steps = run.steps_per_epoch
            self.status.set_progress(event.epoch, run.epochs, steps, steps)

    def _finished(self, event: Finished) -> None:
        status, message = event.status, event.message
        self._run = None
        leave = getattr(self.window, "leave_training_layout", None)
        if callable(leave):
            leave()
        self.status.speed.hide()
        self.status.eta.hide()
        if status == "failed":
            self.status.set_state_text("Training failed", "error")
            self.status.bar.hide()
        else:
            best = event.best_epoch
            text = {"completed": "Trained", "stopped": "Stopped",
                    "early_stopped": "Stopped early"}.get(str(status), str(status).title())
            self.status.set_state_text(f"{text} \u00b7 best epoch {best}" if best else text,
                                       "ok" if status == "completed" else "dim")
            name = getattr(self.window.project, "name", "")
            self.window.show_message(f"{name}: {message}; the weights of the best epoch ({best}) "
                                     "are in the project." if best else f"{name}: {message}",
                                     8000)

    def _project_updated(self, project: Any) -> None:
        w = self.window
        if project is getattr(w, "project", None):
            w.mark_project_changed()  # weights and history changed: save asks, autosave runs
        self._update_actions()
