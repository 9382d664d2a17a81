"""The GUI's training process: a plain Python + torch loop that runs commands from a queue.

The editor starts this in a *spawned* process (never forked: the parent holds Qt state) as soon
as the window opens, so the 2-5 s of importing torch and warming it up are paid before anyone
presses Train. The child never imports Qt. Training in a separate process also means a crash,
an out-of-memory kill or a runaway loop cannot take the project down with it.

Commands (dicts on ``commands``):
    {"type": "start", "project": project_to_json(...), "weights": bytes | None,
     "device": "auto" | "cpu" | "cuda:0" ..., "epochs": int | None, "probes": probe config}
    {"type": "pause"} / {"type": "resume"} / {"type": "stop"}   (act on the run in progress)
    {"type": "configure_probes", "config": {...}}   (runtime.probes config, applied live)
    {"type": "probe_now", "project": ..., "weights": bytes, "config": {...} | None}
    {"type": "quit"}

Events (``runtime.events`` dataclasses sent on ``events``, the write end of a one-way
``multiprocessing.Pipe``; the parent closes its copy, so when this process dies the parent reads
EOF, never half a message it would wait on forever): Devices, then Ready once torch is imported
and warm; during a run every trainer event (Started, Batch, Epoch, Probe: live probes come as
``Probe(probe="batch", values={"results": [{"probe": name, ...}, ...]})`` bundles, within a
time budget, see ``ProbeBudget``) plus Weights just *before* each Epoch (so the GUI holds the
last completed epoch's weights if this process dies), and finally Finished with the kept
weights (or None), the project's new history run and the device, just after one last round of
probes on the final (best) weights (``final=True``). A pause is answered by Paused when the run
actually stops at it, and Resumed when it goes on. ``probe_now`` answers with Probe events
(``live=False``) and ProbesDone. Problems that are not a run's failure arrive as Notice. From the
Devices event to the end, a thread of its own sends a Heartbeat every ``HEARTBEAT_INTERVAL``,
whatever the training loop does: the editor's watchdog tells a busy process from a hung one.

A reader thread takes commands off the queue all the time, so pause/stop/configure reach a run
in progress at once (they only set flags; probe configs are applied by the training thread
between two hooks). The process exits by itself when its parent dies.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import multiprocessing
import os
import queue
import sys
import threading
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from runtime.events import (
    HEARTBEAT_INTERVAL,
    Devices,
    Epoch,
    Event,
    Finished,
    Heartbeat,
    Notice,
    Probe,
    ProbesDone,
    Ready,
    Started,
    Weights,
)

if TYPE_CHECKING:
    from runtime.trainer import Hooks, TrainResult

Command = dict[str, Any]  # editor -> training process: {"type": "start", ...}

READ_TIMEOUT = 0.5  # seconds between checks that the parent process is still alive


def list_devices() -> tuple[list[dict[str, Any]], str]:
    """([{"id", "name", ["memory_gb"]}, ...], a note on why CUDA is missing or "")."""
    import torch

    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    devices: list[dict[str, Any]] = [{"id": "cpu", "name": f"CPU ({cores} cores)"}]
    note = ""
    if torch.version.cuda is None:
        note = (f"this PyTorch {torch.__version__} is a CPU-only build; install a CUDA build "
                "of PyTorch to train on a GPU")
    elif not torch.cuda.is_available():
        note = "no CUDA device was found (check the NVIDIA driver); train on the CPU"
    else:
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            devices.append({"id": f"cuda:{index}", "name": props.name,
                            "memory_gb": round(props.total_memory / 1024 ** 3, 1)})
    return devices, note


class Worker:
    """One training process: the reader thread and the main (training) loop."""

    def __init__(self, commands: Any, send: Callable[[Event], None]) -> None:
        self.commands = commands
        self.send = send
        self.inbox: collections.deque[Command] = collections.deque()
        self.wake = threading.Condition()
        self.control: Any = None  # the TrainControl of the run queued or in progress
        self.probe_config: dict[str, Any] = {}
        self.pending_config: dict[str, Any] | None = None
        self.lock = threading.Lock()
        self._prepared: tuple[str, Any, Any] | None = None  # probe_now's (key, compiled, data)

    # -- reader thread -----------------------------------------------------------------------
    def listen(self) -> None:
        """Take commands off the queue; flags at once, everything else to the main loop."""
        parent = multiprocessing.parent_process()
        while True:
            try:
                message = self.commands.get(timeout=READ_TIMEOUT)
            except queue.Empty:
                if parent is not None and not parent.is_alive():
                    os._exit(0)  # the editor is gone: nobody is listening
                continue
            except (EOFError, OSError):
                os._exit(0)
            kind = message.get("type")
            if kind in ("pause", "resume", "stop"):
                control = self.control
                if control is not None:
                    getattr(control, kind)()
            elif kind == "configure_probes":
                with self.lock:
                    self.probe_config = dict(message.get("config") or {})
                    self.pending_config = self.probe_config
            else:
                if kind == "start":
                    from runtime.trainer import TrainControl

                    # made here, so a stop sent right after start reaches this run
                    message["control"] = self.control = TrainControl(report=self.send)
                with self.wake:
                    self.inbox.append(message)
                    self.wake.notify()
                if kind == "quit":
                    return

    def next_message(self) -> Command:
        """The next command for the main loop; of several queued probe_now only the last."""
        with self.wake:
            while not self.inbox:
                self.wake.wait()
            message = self.inbox.popleft()
            while message.get("type") == "probe_now" and self.inbox \
                    and self.inbox[0].get("type") == "probe_now":
                message = self.inbox.popleft()
            return message

    # -- main loop ---------------------------------------------------------------------------
    def run(self) -> None:
        import torch

        from runtime.trainer import default_threads, warm_up

        torch.set_num_threads(default_threads())
        devices, note = list_devices()
        self.send(Devices(devices=devices, cuda_note=note, torch=torch.__version__))
        threading.Thread(target=beat, args=(self.send,), name="plexus-heartbeat",
                         daemon=True).start()  # after Devices: the protocol opens with it
        warm_up()
        import runtime.compile  # noqa: F401  (imported now, not when Train is pressed)
        import runtime.data  # noqa: F401
        import runtime.probes.schedule  # noqa: F401
        import runtime.session  # noqa: F401

        self.send(Ready(pid=os.getpid(), qt_loaded=_qt_loaded()))
        while True:
            message = self.next_message()
            kind = message.get("type")
            if kind == "quit":
                return
            try:
                if kind == "start":
                    self.train(message)
                elif kind == "probe_now":
                    self.probe_now(message)
                else:
                    self.send(Notice(message=f"the training process got an unknown command "
                                      f"{kind!r}; ignored"))
            except Exception as exc:  # noqa: BLE001 - report a bug, keep the process alive
                text = f"{type(exc).__name__}: {exc}".splitlines()[0]
                self.send(Notice(message=f"training process error: {text}",
                                 traceback=traceback.format_exc()))
                if kind == "start":
                    self.send(Finished(status="failed", message=f"training failed: {text}",
                                       best_epoch=0))
            finally:
                if kind == "start" and self.control is message.get("control"):
                    self.control = None

    def _project(self, message: Command) -> Any:
        from graph.project import project_from_json

        project = project_from_json(message["project"], "the editor's project")
        project.weights = message.get("weights")
        return project

    def _apply_pending(self, schedule: Any) -> None:
        with self.lock:
            config, self.pending_config = self.pending_config, None
        if config is not None:
            try:
                schedule.configure(config)
            except ValueError as exc:
                self.send(Notice(message=f"probes: {exc}"))

    def train(self, message: Command) -> TrainResult | None:
        """One run: prepare, train (with the probe schedule when the trainer takes hooks),
        send the results; the result, or None when the project could not be prepared."""
        from runtime.compile import weights_to_bytes
        from runtime.session import open_session

        control = message["control"]
        if "probes" in message and message["probes"] is not None:
            with self.lock:
                self.probe_config = dict(message["probes"])
        try:
            session = open_session(self._project(message), message.get("epochs"),
                                   message.get("device"))
        except Exception as exc:  # noqa: BLE001 - ValueError/ProjectError: a message to show
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.send(Finished(status="failed", message=text, best_epoch=0))
            return None
        if session.notice:
            self.send(Notice(message=session.notice))
        prepared = session.prepared
        steps_per_epoch = 0
        final: list[Finished] = []

        def callback(event: Event) -> None:
            nonlocal steps_per_epoch
            if isinstance(event, Started):
                steps_per_epoch = event.steps_per_epoch
            elif isinstance(event, Epoch):
                self.send(Weights(epoch=event.epoch, weights=weights_to_bytes(prepared.state())))
            elif isinstance(event, Finished):
                final.append(event)  # sent below, with the weights and the history run
                return
            self.send(event)

        schedule = self._schedule(prepared) if session.trainer.takes_hooks else None
        try:
            result = session.train(callback, control, self._probe_hooks(schedule))
            if schedule is not None and result.status != "failed" and result.epochs:
                # the panels end on the weights the project keeps (the best epoch's)
                self._apply_pending(schedule)
                for payload in schedule.run_all():
                    self.send(Probe.of(payload, epoch=result.best_epoch, final=True))
        finally:
            if schedule is not None:
                schedule.close()
        project = session.project
        run = project.history[-1]
        if steps_per_epoch:
            run["steps_per_epoch"] = steps_per_epoch
        finished = final[-1] if final else Finished(status=result.status,
                                                    message=result.message,
                                                    best_epoch=result.best_epoch)
        self.send(dataclasses.replace(
            finished, weights=project.weights if result.best_state else None,
            history_run=run, device=result.device))
        return result

    def _schedule(self, prepared: Any) -> Any:
        """The live probes of the current config over the run's network and data."""
        from runtime.probes.schedule import ProbeSchedule

        with self.lock:
            config, self.pending_config = dict(self.probe_config), None
        schedule = ProbeSchedule(prepared.compiled, prepared.data)
        try:
            schedule.configure(config)
        except ValueError as exc:
            self.send(Notice(message=f"probes: {exc}"))
        return schedule

    def _probe_hooks(self, schedule: Any) -> Hooks:
        """Step and epoch-end hooks that run the schedule's probes within their budget."""
        from runtime.trainer import Hooks

        if schedule is None:
            return Hooks()
        budget = ProbeBudget(schedule)

        def step_hook(module: Any, epoch: int, step: int, global_step: int) -> Any:
            self._apply_pending(schedule)
            return budget.run() if budget.due() else None

        def epoch_hook(module: Any, epoch: int) -> Any:
            self._apply_pending(schedule)
            return budget.run() if budget.due() else None

        return Hooks(step=[step_hook], epoch_end=[epoch_hook])

    def probe_now(self, message: Command) -> None:
        """The probes of ``config`` once, on the project's weights (the editor is idle)."""
        from runtime.compile import load_node_state, weights_from_bytes
        from runtime.prepare import prepare
        from runtime.probes.schedule import ProbeSchedule

        try:
            project = self._project(message)
            key = json.dumps([project.graph.to_dict(), dataclasses.asdict(project.dataset),
                              project.training.seed], sort_keys=True, default=str)
            if self._prepared is not None and self._prepared[0] == key and project.weights:
                _, compiled, data = self._prepared
                load_node_state(compiled, weights_from_bytes(project.weights))
            else:
                compiled, data = prepare(project)
                self._prepared = (key, compiled, data)
        except Exception as exc:  # noqa: BLE001 - shown as a one-line notice
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.send(Notice(message=f"probes: {text}"))
            self.send(ProbesDone(ok=False))
            return
        config = message.get("config")
        if config is None:
            with self.lock:
                config = dict(self.probe_config)
        schedule = ProbeSchedule(compiled, data)
        try:
            schedule.configure(config)
            for payload in schedule.run_all():
                self.send(Probe.of(payload, live=False))
        except ValueError as exc:
            self.send(Notice(message=f"probes: {exc}"))
        finally:
            schedule.close()
        self.send(ProbesDone(ok=True))


class ProbeBudget:
    """When live probes may run: at most every ``min_interval`` seconds and for at most
    ``budget`` of the time since they last ran, shared by the step and epoch-end hooks.

    With short epochs the probes mostly run at an epoch's end, where the confusion matrix and
    the hidden representation reuse the trainer's validation pass; long epochs get updates
    between steps too. Either way they cost training at most about ``budget``.
    """

    def __init__(self, schedule: Any, min_interval: float = 0.5, budget: float = 0.05) -> None:
        import time

        self.clock = time.perf_counter
        self.schedule = schedule
        self.min_interval = min_interval
        self.budget = budget
        self.last = self.clock()
        self.cost = 0.0

    def due(self) -> bool:
        waited = self.clock() - self.last
        return waited >= self.min_interval and self.cost <= self.budget * waited

    def run(self) -> dict[str, Any] | None:
        """Every enabled probe, as one ``{"probe": "batch", "results": [...]}`` payload."""
        started = self.clock()
        results = self.schedule.run_all()
        self.last = self.clock()
        self.cost = self.last - started
        return {"probe": "batch", "results": results} if results else None


def _qt_loaded() -> bool:
    return any(name.split(".")[0] in ("PySide6", "PyQt5", "PyQt6", "PySide2")
               for name in sys.modules)


def beat(send: Callable[[Event], None], interval: float = HEARTBEAT_INTERVAL) -> None:
    """Send a Heartbeat every ``interval`` seconds, forever (a daemon thread's loop)."""
    import time

    while True:
        send(Heartbeat())
        time.sleep(interval)


def allow_data_workers() -> None:
    """Let this process start DataLoader workers, which decode an image folder too large for
    the memory cache in parallel. The window starts it daemonic, so that it ends with the
    window, and multiprocessing refuses children to a daemonic process; here the flag only
    decides that (and that its own exit would wait for children, which DataLoader workers are
    not: they are daemonic, and end when their parent does). The window still ends it."""
    multiprocessing.current_process().daemon = False


def main(commands: Any, events: Any) -> None:
    """Entry point of the spawned process: ``commands`` a multiprocessing queue, ``events``
    the write end of a one-way pipe.

    A sender thread pickles and writes the events, so the training thread never waits for the
    editor to read them (the same reason ``multiprocessing.Queue`` has a feeder thread).
    """
    allow_data_workers()
    outbox: queue.SimpleQueue[Event | None] = queue.SimpleQueue()

    def deliver() -> None:
        while True:
            event = outbox.get()
            if event is None:
                return
            try:
                events.send(event)
            except (BrokenPipeError, EOFError, OSError):
                os._exit(0)  # the editor is gone

    sender = threading.Thread(target=deliver, name="plexus-events", daemon=True)
    sender.start()
    worker = Worker(commands, outbox.put)
    reader = threading.Thread(target=worker.listen, name="plexus-commands", daemon=True)
    reader.start()
    code = 0
    try:
        worker.run()
    except BaseException:  # noqa: BLE001 - print it, then end with an error code
        traceback.print_exc()
        code = 1
    finally:
        outbox.put(None)
        sender.join()  # everything sent before the process ends
        events.close()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip the interpreter's teardown: with torch loaded it takes 2-4 s on a busy machine,
    # and nothing is left to save.
    os._exit(code)
