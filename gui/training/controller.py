"""The GUI side of training: owns the training process and turns its events into Qt signals.

The process (``runtime.worker``) is spawned when the controller is made, i.e. when the window
opens, so Train does not wait for torch to import. A ``QTimer`` polls its event pipe every
``POLL_MS``: each tick reads everything available (bounded by ``TICK_BUDGET`` seconds so a
flood can never freeze the window), merges the batch events of the tick into one ``batch``
signal and keeps only the newest snapshot of each probe, so panels redraw at most ~30 times a
second however fast the trainer runs.

Signals (payloads are the worker's ``runtime.events`` dataclasses):
    started(Started)
    batch(Batch, list)  the newest batch event of the tick, and [[global_step, loss], ...] for
                    every batch event merged into it
    epoch(Epoch)    one per completed epoch (train_loss, val_loss, val_accuracy | val_r2, lr..)
    probe(dict)     one probe's result, {"probe": name, "epoch", ...payload}: one per probe
                    name per tick (the newest); the trainer's "batch" bundles are unpacked, and
                    results of ``request_probes`` carry "live": False
    finished(Finished)  without the weight bytes and history run (the controller stores them);
                    also sent after the process died, with ``crashed`` True
    failed(str)     a one-line message: the run failed, or the process died
    state_changed(str)  "starting", "idle", "running", "paused" or "stopping"; "paused" shows at
                    once, though the run stops only at its next step
    paused(Paused)  the run has actually stopped at the pause: nothing comes until ...
    resumed(Resumed)  ... it goes on (resumed, or woken by Stop)
Extra: devices_changed(list), notice(str) (status-bar notes), project_updated(object) (weights
or history stored in that project: the window marks it modified), probes_done(),
unresponsive(bool) (True: the process of the active run has gone silent; False: it answers
again, or it was replaced).

If the process dies (killed, out of memory, a crash) the controller keeps the weights of the
last completed epoch (the worker sends them before each epoch event), stores them and the
run's history so far in the project, says what happened and spawns a fresh process.

A watchdog (``gui.training.watchdog``) listens for the process's heartbeats: a run whose
process goes silent is reported, and a process that does not stop when asked is terminated,
then killed, within a few seconds; what it leaves is kept as after a crash.
"""

from __future__ import annotations

import dataclasses
import datetime
import multiprocessing
import signal
import time
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from graph.project import project_to_json
from gui.training.watchdog import Watchdog
from runtime.events import (
    Batch,
    Devices,
    Epoch,
    Event,
    Finished,
    Heartbeat,
    Notice,
    Paused,
    Probe,
    ProbesDone,
    Ready,
    Resumed,
    Started,
    Weights,
)

POLL_MS = 33  # ~30 polls a second
TICK_BUDGET = 0.05  # seconds of reading per tick at most; the rest waits for the next tick
MAX_START_FAILURES = 3  # deaths in a row before the process is ready: give up respawning
STATES = ("starting", "idle", "running", "paused", "stopping")
ACTIVE = ("running", "paused", "stopping")


def describe_exit(code: int | None) -> str:
    """What an exit code means, in words: 'was killed (SIGKILL: ...)'."""
    if code is None:
        return "stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        if -code == signal.SIGKILL:
            return (f"was killed ({name}; the system may have run out of memory, try a "
                    "smaller batch size or network)")
        if -code == signal.SIGSEGV:
            return f"crashed ({name})"
        return f"was ended by {name}"
    return f"exited unexpectedly with code {code}"


class TrainingSignals(QObject):
    """The signals of a training controller (see the module docstring), declared once: what
    the window and the panels connect to, and what the tests' stand-in controllers emit."""

    started = Signal(object)
    batch = Signal(object, list)
    epoch = Signal(object)
    probe = Signal(dict)
    finished = Signal(object)
    failed = Signal(str)
    state_changed = Signal(str)
    paused = Signal(object)
    resumed = Signal(object)
    devices_changed = Signal(list)
    notice = Signal(str)
    project_updated = Signal(object)
    probes_done = Signal()
    unresponsive = Signal(bool)


class TrainingController(TrainingSignals):
    """Train, pause, resume, stop, reset weights and live probes for the editor window."""

    def __init__(self, parent: QObject | None = None, start_process: bool = True,
                 poll_ms: int = POLL_MS) -> None:
        super().__init__(parent)
        self._context = multiprocessing.get_context("spawn")
        self._process: Any = None
        self._commands: Any = None
        self._events: Any = None
        self._state = "starting"
        self._ready = False
        self._start_failures = 0
        self._closing = False
        self._devices: list[dict[str, Any]] = [{"id": "cpu", "name": "CPU"}]
        self.cuda_note = ""
        self.devices_known = False  # the process has reported its devices
        self.pid: int | None = None
        self.qt_in_child: bool | None = None
        self._probe_config: dict[str, Any] = {}
        self._probe_sources: dict[str, dict[str, Any]] = {}
        self.watchdog = Watchdog()
        self._reset_run(None)
        self._timer = QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self.poll)
        if start_process:
            self.ensure_process()
        else:
            self._state = "idle"  # the process is spawned by the first start()

    # -- public API ---------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    @property
    def ready(self) -> bool:
        """The process has imported torch and waits for commands."""
        return self._ready

    @property
    def run_project(self) -> Any:
        """The project of the run in progress (or of the last run)."""
        return self._project

    def devices(self) -> list[dict[str, Any]]:
        """[{"id": "cpu", "name"}, {"id": "cuda:0", "name", "memory_gb"}, ...] as the training
        process found them (just the CPU until it has started)."""
        return [dict(d) for d in self._devices]

    def cuda_available(self) -> bool:
        return any(d["id"].startswith("cuda") for d in self._devices)

    def start(self, project: Any, device: str = "auto", epochs: int | None = None) -> bool:
        """Train ``project`` (from its current weights); False when it cannot start now."""
        if self._state in ACTIVE:
            self.notice.emit("Training is already running; stop it before starting again.")
            return False
        device = device or "auto"
        if device.startswith("cuda") and self.devices_known and not self.cuda_available():
            self.failed.emit(f"Device {device}: CUDA was chosen but is not available "
                             f"({self.cuda_note or 'no CUDA device found'}); choose CPU or "
                             "Auto")
            return False
        self.ensure_process()
        self._reset_run(project)
        self._hear_from_fresh(time.monotonic())
        self._run_device = device
        self._send({"type": "start", "project": project_to_json(project),
                    "weights": project.weights, "device": device, "epochs": epochs,
                    "probes": dict(self._probe_config)})
        self._set_state("running")
        return True

    def pause(self) -> None:
        if self._state == "running":
            self._send({"type": "pause"})
            self._set_state("paused")

    def resume(self) -> None:
        if self._state == "paused":
            self._send({"type": "resume"})
            self._set_state("running")

    def stop(self) -> None:
        """End the run after the current step; the best weights so far go into the project."""
        if self._state in ("running", "paused"):
            self._send({"type": "stop"})
            self.watchdog.stop_asked(time.monotonic())
            self._set_state("stopping")

    def reset_weights(self, project: Any) -> bool:
        """Forget the trained weights: the next run starts from fresh (seeded) ones."""
        if self._state in ACTIVE and project is self._project:
            self.notice.emit("Stop training before resetting the weights.")
            return False
        if project.weights is None:
            return False
        project.weights = None
        self.project_updated.emit(project)
        self.notice.emit("Weights reset: the next run starts from new random weights "
                         f"(seed {project.training.seed}).")
        return True

    def set_probe_config(self, config: dict[str, Any], source: str = "panels") -> None:
        """The probes to run (``runtime.probes`` config); applied live to a run in progress.

        Several owners can each keep their part by naming a ``source``: the training process
        gets the union of all parts (on the same key, the source set most recently wins).
        """
        self._probe_sources.pop(source, None)
        self._probe_sources[source] = dict(config)
        merged: dict[str, Any] = {}
        for part in self._probe_sources.values():
            merged.update(part)
        self._probe_config = merged
        if self._process is not None:
            self._send({"type": "configure_probes", "config": dict(merged)})

    @property
    def probe_config(self) -> dict[str, Any]:
        return dict(self._probe_config)

    def request_probes(self, project: Any) -> bool:
        """Compute the configured probes once on the project's weights (while idle); the
        results come as ``probe`` signals with "live": False. False when not possible now."""
        if self._state in ACTIVE or not project.weights or not self._probe_config:
            return False
        self.ensure_process()
        self._send({"type": "probe_now", "project": project_to_json(project),
                    "weights": project.weights, "config": dict(self._probe_config)})
        return True

    def shutdown(self, timeout: float = 2.0) -> None:
        """End the training process (a run in progress is abandoned)."""
        self._closing = True
        self._timer.stop()
        process, self._process = self._process, None
        if process is None:
            return
        try:
            self._commands.put({"type": "stop"})
            self._commands.put({"type": "quit"})
        except (OSError, ValueError):
            pass
        process.join(timeout)
        if process.is_alive():
            process.terminate()
            process.join(1.0)
        if process.is_alive():
            process.kill()
            process.join(1.0)
        self._close_channels()

    # -- the process ----------------------------------------------------------------------------
    def ensure_process(self) -> None:
        """Spawn the training process unless one is alive (never forked: we hold Qt state)."""
        if self._process is not None and self._process.is_alive():
            return
        from runtime import worker

        self._closing = False
        self._close_channels()
        self._commands = self._context.Queue()
        self._commands.put({"type": "configure_probes", "config": dict(self._probe_config)})
        reader, writer = self._context.Pipe(duplex=False)
        process = self._context.Process(target=worker.main, args=(self._commands, writer),
                                        name="plexus-training", daemon=True)
        process.start()
        writer.close()  # only the child writes: its death shows here as end-of-file
        self._process, self._events = process, reader
        self.pid = process.pid
        self._hear_from_fresh(time.monotonic())
        self._ready = False
        if self._state not in ACTIVE:
            self._set_state("starting")
        self._timer.start()

    def _close_channels(self) -> None:
        if self._events is not None:
            try:
                self._events.close()
            except OSError:
                pass
            self._events = None
        if self._commands is not None:
            self._commands.cancel_join_thread()  # never wait on a dead reader at exit
            self._commands.close()
            self._commands = None

    def _send(self, message: dict[str, Any]) -> None:
        if self._commands is None:
            return
        try:
            self._commands.put(message)
        except (OSError, ValueError) as exc:
            self.notice.emit(f"Cannot reach the training process ({exc}); it is restarted.")

    def _hear_from_fresh(self, now: float) -> None:
        """A new process or a new run: the watchdog starts over (and takes back a warning)."""
        was_silent = self.watchdog.silent
        self.watchdog.reset(now)
        if was_silent:
            self.unresponsive.emit(False)

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.state_changed.emit(state)

    def _reset_run(self, project: Any) -> None:
        self._project = project
        self._run_started_at = datetime.datetime.now().astimezone().isoformat(
            timespec="seconds")
        self._run_info: Started | None = None
        self._run_device = "auto"
        self._run_epochs: list[dict[str, Any]] = []
        self._run_steps: list[list[float]] = []
        self._last_weights: tuple[int, bytes] | None = None
        # probe results not yet handed to the panels, oldest first, the newest per probe
        self._probe_queue: dict[str, dict[str, Any]] = {}

    # -- events -----------------------------------------------------------------------------------
    def poll(self) -> None:
        """Read what the process sent; notice when it died. Called by the timer."""
        events = self._events
        if events is None:
            return
        deadline = time.perf_counter() + TICK_BUDGET
        pending_batch: Batch | None = None
        points: list[list[float]] = []
        probes = self._probe_queue
        dead = heard = False

        def flush(probe_limit: int | None = None) -> None:
            nonlocal pending_batch, points
            if pending_batch is not None:
                self.batch.emit(pending_batch, points)
                pending_batch, points = None, []
            for name in list(probes)[:probe_limit]:
                self.probe.emit(probes.pop(name))

        while time.perf_counter() < deadline:
            try:
                if not events.poll():
                    break
                event = events.recv()
            except (EOFError, OSError):
                dead = True
                break
            except Exception as exc:  # noqa: BLE001 - a message we cannot unpickle
                self.notice.emit(f"Unreadable message from the training process ({exc}).")
                continue
            heard = True
            if isinstance(event, Heartbeat):
                continue  # a sign of life, nothing to show
            if isinstance(event, Batch):
                pending_batch = event
                points.append([event.global_step, event.loss])
                self._run_steps.append([event.global_step, event.loss])
            elif isinstance(event, Probe):
                for payload in event.results():
                    probes[str(payload.get("probe"))] = payload
            elif isinstance(event, Weights):
                self._last_weights = (event.epoch, event.weights)
            else:
                flush()  # everything before it, in order
                self._handle(event)
        # One probe result a tick: each panel redraws in a tick of its own, so with every
        # panel on screen the GUI thread still answers within a frame or two.
        flush(probe_limit=1)
        process = self._process
        if self._closing or process is None:
            return
        if dead or not process.is_alive():
            self._died(process)
            return
        self._watch(process, heard)

    def _watch(self, process: Any, heard: bool) -> None:
        """Feed the watchdog what this tick heard and carry out what it answers."""
        now = time.monotonic()
        if heard and self.watchdog.heard(now):
            self.unresponsive.emit(False)
            self.notice.emit("The training process answers again.")
        action = self.watchdog.check(now, self._state in ACTIVE)
        if action == "silent":
            self.unresponsive.emit(True)
            self.notice.emit(f"The training process has not answered for "
                             f"{self.watchdog.silent_after:g} s; Stop ends it if it does not "
                             "answer.")
        elif action == "terminate":
            process.terminate()
        elif action == "kill":
            process.kill()

    def _handle(self, event: Event) -> None:
        if isinstance(event, Devices):
            self._devices = list(event.devices or self._devices)
            self.cuda_note = event.cuda_note
            self.devices_known = True
            self.devices_changed.emit(self.devices())
        elif isinstance(event, Ready):
            self._ready = True
            self._start_failures = 0
            self.qt_in_child = event.qt_loaded
            if self._state == "starting":
                self._set_state("idle")
        elif isinstance(event, Started):
            self._run_info = event
            self.started.emit(event)
        elif isinstance(event, Epoch):
            self._run_epochs.append(event.record())
            self.epoch.emit(event)
        elif isinstance(event, Finished):
            self._finished(event)
        elif isinstance(event, Notice):
            self.notice.emit(event.message)
        elif isinstance(event, ProbesDone):
            self.probes_done.emit()
        elif isinstance(event, Paused):
            self.paused.emit(event)
        elif isinstance(event, Resumed):
            self.resumed.emit(event)

    def _finished(self, event: Finished) -> None:
        self.watchdog.run_ended()
        project = self._project
        weights, run = event.weights, event.history_run
        if project is not None and (weights is not None or run is not None):
            if weights is not None:
                project.weights = weights
            if run is not None:
                project.history.append(run)
            self.project_updated.emit(project)
        shown = dataclasses.replace(event, weights=None, history_run=None)
        self._set_state("idle" if self._ready else "starting")
        self.finished.emit(shown)
        if shown.status == "failed":
            self.failed.emit(shown.message or "training failed")

    def _died(self, process: Any) -> None:
        """The process is gone: keep what we have, say so, start a fresh one."""
        process.join(0.5)
        reason = ("did not stop when asked, so it was ended" if self.watchdog.ended
                  else describe_exit(process.exitcode))
        self._hear_from_fresh(time.monotonic())
        self._process = None
        self._close_channels()
        was = self._state
        if not self._ready:
            self._start_failures += 1
        self._ready = False
        if was in ACTIVE:
            message = self._keep_partial_run(reason)
        else:
            message = f"The training process {reason}."
        if self._start_failures >= MAX_START_FAILURES:
            self._set_state("starting")
            self.failed.emit(f"{message} It failed to start {self._start_failures} times; "
                             "check the Python environment (torch) and restart Plexus.")
            self._timer.stop()
            return
        self._set_state("starting")
        self.ensure_process()
        if was in ACTIVE:
            self.finished.emit(Finished(status="failed", message=message, best_epoch=0,
                                        crashed=True))
        self.failed.emit(f"{message} A fresh training process is starting.")

    def _keep_partial_run(self, reason: str) -> str:
        """Put the last completed epoch's weights and the history so far into the project."""
        project = self._project
        epoch = self._run_epochs[-1]["epoch"] if self._run_epochs else 0
        where = f"during epoch {epoch + 1}" if self._run_info else "before the run started"
        message = f"The training process {reason} {where}."
        if project is None or not self._run_epochs:
            return message + " The project is unchanged."
        from runtime.history import history_run

        if self._last_weights is not None:
            project.weights = self._last_weights[1]
            kept = f" Kept the weights of epoch {self._last_weights[0]}."
        else:
            kept = " The weights are unchanged."
        info = self._run_info
        project.history.append(history_run(
            self._run_started_at, info.device if info else self._run_device,
            self._run_epochs, [(int(s), float(v)) for s, v in self._run_steps], "failed",
            message, int(self._run_epochs[-1].get("best_epoch", 0)),
            info.steps_per_epoch if info else 0, project))
        self.project_updated.emit(project)
        return message + kept

