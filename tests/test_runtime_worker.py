"""The training process: commands in, events out; in-process and as a real spawned process."""

from __future__ import annotations

import multiprocessing
import os
import queue
import time

import pytest
import torch

from graph.project import project_to_json
from resources.examples.make import build
from runtime.batches import Batches
from runtime.compile import weights_from_bytes
from runtime.events import Probe
from runtime.trainer import TrainControl
from runtime.worker import Worker, allow_data_workers, list_devices, main


def start_message(project, **extra):
    return {"type": "start", "project": project_to_json(project), "weights": project.weights,
            "device": "cpu", "epochs": None, "probes": None, "control": TrainControl(),
            **extra}


def xor(epochs: int = 3):
    project = build("xor_mlp")
    project.training.epochs = epochs
    return project


@pytest.mark.slow
def test_a_run_sends_weights_before_each_epoch_and_results_at_the_end():
    events: list[dict] = []
    worker = Worker(queue.Queue(), events.append)
    worker.train(start_message(xor(3)))
    kinds = [e.kind for e in events]
    assert kinds[0] == "started" and kinds[-1] == "finished"
    epoch_at = [i for i, k in enumerate(kinds) if k == "epoch"]
    assert len(epoch_at) == 3
    for index in epoch_at:  # the epoch's weights come just before it
        assert events[index - 1].kind == "weights"
        assert events[index - 1].epoch == events[index].epoch
        assert weights_from_bytes(events[index - 1].weights)
    finished = events[-1]
    assert finished.status == "completed" and finished.best_epoch >= 1
    assert weights_from_bytes(finished.weights)
    run = finished.history_run
    assert run["status"] == "completed" and len(run["epochs"]) == 3
    assert run["steps_per_epoch"] == 10 and run["steps"][-1][0] == 30
    assert finished.device == "cpu"


def probe_payloads(events: list[dict]) -> list[dict]:
    """Every probe payload, the live bundles unpacked."""
    out = []
    for event in events:
        if isinstance(event, Probe):
            out += event.results()
    return out


def test_probes_run_during_the_run_and_a_new_config_applies_live():
    events: list[dict] = []
    worker = Worker(queue.Queue(), events.append)
    project = xor(2)
    worker.train(start_message(project, probes={"histograms": True}))
    names = {p["probe"] for p in probe_payloads(events)}
    assert names == {"histograms"}
    final = [e for e in events if isinstance(e, Probe) and e.final]
    assert [e.probe for e in final] == ["histograms"]  # once more on the kept weights
    assert events.index(final[0]) < len(events) - 1  # before "finished"
    events.clear()
    worker.pending_config = worker.probe_config = {"boundary": {"resolution": 16}}
    worker.train(start_message(project, probes=None))  # the pending config is used
    probes = [p for p in probe_payloads(events) if p["probe"] == "boundary"]
    assert probes and probes[-1]["probabilities"].shape[:2] == (16, 16)


def test_the_probe_budget_limits_how_often_and_how_long_probes_run():
    from runtime.worker import ProbeBudget

    class Schedule:
        calls = 0

        def run_all(self):
            Schedule.calls += 1
            return [{"probe": "histograms"}]

    now = [100.0]
    budget = ProbeBudget(Schedule(), min_interval=0.5, budget=0.05)
    budget.clock = lambda: now[0]
    budget.last = 100.0
    assert not budget.due()  # too soon
    now[0] = 100.6
    assert budget.due()
    assert budget.run() == {"probe": "batch", "results": [{"probe": "histograms"}]}
    budget.cost = 0.1  # an expensive round: wait 0.1 / 0.05 = 2 s
    now[0] = 101.6
    assert not budget.due()
    now[0] = 102.7
    assert budget.due()


def test_a_project_that_cannot_be_prepared_fails_with_its_message():
    events: list[dict] = []
    worker = Worker(queue.Queue(), events.append)
    project = xor(1)
    node = project.graph.nodes_of_type("Input")[0]
    project.graph.set_param(node.id, "shape", [3])
    worker.train(start_message(project))
    assert [e.kind for e in events] == ["finished"]
    assert events[0].status == "failed" and events[0].weights is None
    assert "Input" in events[0].message and "set the Input's shape" in events[0].message


def test_probe_now_uses_the_given_weights_and_coalesces_requests():
    events: list[dict] = []
    worker = Worker(queue.Queue(), events.append)
    project = xor(1)
    worker.train(start_message(project))
    project.weights = events[-1].weights
    events.clear()
    message = {"type": "probe_now", "project": project_to_json(project),
               "weights": project.weights, "config": {"histograms": True}}
    worker.inbox.extend([dict(message), dict(message), {"type": "quit"}])
    assert worker.next_message()["type"] == "probe_now"
    assert worker.next_message()["type"] == "quit"  # the two requests became one
    worker.probe_now(message)
    worker.probe_now(message)  # the second reuses the compiled network
    probes = [e for e in events if isinstance(e, Probe)]
    assert len(probes) == 2 and all(p.live is False for p in probes)
    assert [e.kind for e in events].count("probes_done") == 2


def test_devices_always_list_the_cpu_and_say_why_cuda_is_missing():
    devices, note = list_devices()
    assert devices[0]["id"] == "cpu" and "cores" in devices[0]["name"]
    if not torch.cuda.is_available():
        assert "CUDA" in note
    else:
        assert devices[1]["id"] == "cuda:0" and devices[1]["memory_gb"] > 0


def _read(reader, until, timeout: float = 120.0) -> list[dict]:
    """Events until one satisfies ``until`` (inclusive)."""
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if reader.poll(0.2):
            event = reader.recv()
            seen.append(event)
            if until(event):
                return seen
    raise AssertionError(f"timed out; got {[e.kind for e in seen]}")


@pytest.mark.slow
def test_the_spawned_process_trains_pauses_stops_probes_and_quits():
    context = multiprocessing.get_context("spawn")
    commands = context.Queue()
    reader, writer = context.Pipe(duplex=False)
    process = context.Process(target=main, args=(commands, writer), daemon=True)
    process.start()
    writer.close()
    try:
        first = _read(reader, lambda e: e.kind == "ready")
        assert first[0].kind == "devices" and first[0].devices[0]["id"] == "cpu"
        assert first[-1].qt_loaded is False and first[-1].pid == process.pid
        project = xor(500)
        commands.put({"type": "start", "project": project_to_json(project), "weights": None,
                      "device": "cpu", "epochs": None, "probes": {}})
        _read(reader, lambda e: e.kind == "epoch")
        commands.put({"type": "configure_probes", "config": {"histograms": True}})
        _read(reader, lambda e: e.kind == "probe" and e.probe == "batch")
        commands.put({"type": "pause"})
        _read(reader, lambda e: e.kind == "paused")  # the run has stopped at its pause
        commands.put({"type": "resume"})
        events = _read(reader, lambda e: e.kind == "resumed")
        assert [e.kind for e in events] == ["resumed"]  # paused: silence until resumed
        _read(reader, lambda e: e.kind == "epoch")
        commands.put({"type": "stop"})
        events = _read(reader, lambda e: e.kind == "finished")
        finished = events[-1]
        assert finished.status == "stopped" and finished.weights
        assert finished.history_run["status"] == "stopped"
        project.weights = finished.weights
        commands.put({"type": "probe_now", "project": project_to_json(project),
                      "weights": project.weights, "config": {"histograms": True}})
        events = _read(reader, lambda e: e.kind == "probes_done")
        assert any(e.kind == "probe" and e.live is False for e in events)
        commands.put({"type": "quit"})
        process.join(30)
        assert process.exitcode == 0
    finally:
        if process.is_alive():
            process.kill()
            process.join(5)
        commands.close()
        reader.close()


def test_a_stop_sent_right_after_start_reaches_that_run():
    events: list[dict] = []
    commands: queue.Queue = queue.Queue()
    worker = Worker(commands, events.append)
    project = xor(300)
    commands.put({"type": "start", "project": project_to_json(project), "weights": None,
                  "device": "cpu", "epochs": None, "probes": None})
    commands.put({"type": "stop"})
    commands.put({"type": "quit"})
    worker.listen()  # returns after quit; the stop reached the control made for the start
    message = worker.next_message()
    assert message["type"] == "start" and message["control"].stopped
    worker.train(message)
    assert events[-1].status == "stopped"
    assert len([e for e in events if e.kind == "epoch"]) <= 1


def test_a_pause_is_answered_when_the_run_reaches_it_and_then_nothing_until_resumed():
    events: list = []
    commands: queue.Queue = queue.Queue()

    def send(event) -> None:
        events.append(event)
        if event.kind == "paused":
            worker.control.resume()

    worker = Worker(commands, send)
    project = xor(1)
    commands.put({"type": "start", "project": project_to_json(project), "weights": None,
                  "device": "cpu", "epochs": None, "probes": None})
    commands.put({"type": "pause"})
    commands.put({"type": "quit"})
    worker.listen()
    worker.train(worker.next_message())
    kinds = [e.kind for e in events]
    assert kinds.count("paused") == 1 and kinds.count("resumed") == 1
    assert kinds[kinds.index("paused") + 1] == "resumed"
    assert kinds[-1] == "finished" and events[-1].status == "completed"


class _Numbers(torch.utils.data.Dataset):
    """Sample i is [i], labelled with the pid of the process that read it."""

    loader_workers = 2

    def __len__(self) -> int:
        return 20

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.tensor([float(i)]), os.getpid()


def _read_numbers(allow: bool, out) -> None:
    """In a daemonic process, as the window's training process: the batches and who read them."""
    if allow:
        allow_data_workers()
    found = [(x.flatten().tolist(), y.tolist())
             for x, y in Batches(_Numbers(), 6, torch.device("cpu"), shuffle=True, seed=3)]
    out.put((found, os.getpid()))


def test_the_training_process_reads_a_set_with_dataloader_workers():
    """The window's training process is daemonic; allow_data_workers (its main's first call)
    lets a set that is not in memory be read by DataLoader workers, in the same batch order
    as reading it in the process itself (which a daemonic process otherwise does)."""
    context = multiprocessing.get_context("spawn")
    expected = [x.flatten().tolist() for x, _ in
                Batches(_Numbers(), 6, torch.device("cpu"), shuffle=True, seed=3)]
    for allow in (True, False):
        out = context.Queue()
        process = context.Process(target=_read_numbers, args=(allow, out), daemon=True)
        process.start()
        found, pid = out.get(timeout=120)
        process.join(30)
        assert process.exitcode == 0
        assert [x for x, _ in found] == expected
        readers = {p for _, pids in found for p in pids}
        assert (pid not in readers and len(readers) == 2) if allow else readers == {pid}
