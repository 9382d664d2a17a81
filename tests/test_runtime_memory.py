"""runtime.memory (issue 15): the estimate per layer and per batch from the meta device, a run
refused before anything is allocated, and out-of-memory failures as one line."""

from __future__ import annotations

import dataclasses
import resource

import pytest
import torch

from graph.settings import TrainingSettings
from resources.examples import make
from runtime import memory
from runtime.memory import check_fits, estimate, failed_allocation, format_bytes
from runtime.session import run_training
from runtime.trainer import TrainResult, run_loop


def huge_xor():
    """xor_mlp with a Linear of 1,000,000 x 1,000,000 (4 TB of float32 weights)."""
    project = make.build("xor_mlp")
    graph = project.graph
    graph.nodes_of_type("Input")[0].params["shape"] = (1_000_000,)
    graph.node_by_name("hidden1").params["out_features"] = 1_000_000
    return project


def test_estimate_counts_weights_gradients_optimizer_state_and_activations() -> None:
    project = make.build("xor_mlp")  # 2 -> Linear(2) -> Tanh -> Linear(1)
    weights = estimate(project.graph)
    assert weights is not None and weights.activations == 0
    assert {layer.label: layer.bytes for layer in weights.layers if layer.params} == {
        "Linear 'hidden1'": 6 * 4, "Linear 'logits'": 3 * 4}
    adam = dataclasses.replace(project.training, optimizer="adam", batch_size=10)
    need = estimate(project.graph, adam)
    assert need is not None and need.state_name == "Adam state"
    assert need.largest.label == "Linear 'hidden1'" and need.largest.bytes == 6 * 4 * 4
    # outputs per sample: input 2, hidden1 2, act1 2, logits 1 (the Output node adds its own)
    assert need.activations >= (2 + 2 + 2 + 1) * 10 * 4 * 2
    sgd = dataclasses.replace(adam, optimizer="sgd", momentum=0.0)
    assert estimate(project.graph, sgd).largest.bytes == 6 * 4 * 2


def test_format_bytes() -> None:
    assert [format_bytes(n) for n in (512, 4e12, 18e9, 1.5e6, 16e12)] == [
        "512 B", "4.0 TB", "18 GB", "1.5 MB", "16 TB"]


def test_a_layer_too_big_is_refused_before_allocation(monkeypatch) -> None:
    project = huge_xor()

    def no_compile(*_args, **_kwargs):
        raise AssertionError("the network was built for real")

    monkeypatch.setattr("runtime.compile.compile_graph", no_compile)
    monkeypatch.setattr(memory, "free_bytes", lambda device: 18 * 10 ** 9)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    settings = dataclasses.replace(project.training, optimizer="adam", device="cpu")
    project.training = settings
    result = run_training(project)
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert result.status == "failed"
    assert result.message == ("Linear 'hidden1' needs 16 TB for its weights (1,000,000 x "
                              "1,000,000 floats, 4.0 TB), their gradients and Adam state; this "
                              "machine has 18 GB free: make it smaller")
    assert grown_kb < 200_000  # nothing near 4 TB (nor 4 GB) was touched
    assert not project.history and not project.weights


def test_prepare_refuses_weights_that_cannot_fit_for_evaluation(monkeypatch) -> None:
    monkeypatch.setattr(memory, "free_bytes", lambda device: 10 ** 9)
    from runtime.prepare import prepare

    with pytest.raises(ValueError, match=r"^Linear 'hidden1' needs 4\.0 TB for its weights "
                       r"\(1,000,000 x 1,000,000 floats, 4\.0 TB\); this machine has 1\.0 GB "
                       r"free: make it smaller$"):
        prepare(huge_xor())


def test_many_layers_that_together_do_not_fit_name_the_largest() -> None:
    project = make.build("xor_mlp")
    project.graph.node_by_name("hidden1").params["out_features"] = 3000
    settings = dataclasses.replace(project.training, optimizer="sgd", momentum=0.9,
                                   batch_size=100)
    need = estimate(project.graph, settings)
    largest = need.largest.bytes
    with pytest.raises(ValueError) as err:
        check_fits(project.graph, settings, torch.device("cpu"), free=largest + 1)
    text = str(err.value)
    assert text.startswith("the network needs ") and "for the activations of a batch of 100" \
        in text
    assert need.largest.label == "Linear 'hidden1'" and need.largest.params == 3000 * 3
    assert f"the largest layer, Linear 'hidden1', needs {format_bytes(largest)};" in text
    assert text.endswith("make the network or the batch smaller")
    check_fits(project.graph, settings, torch.device("cpu"), free=need.total)  # fits exactly


def test_free_memory_is_read_on_the_cpu() -> None:
    free = memory.free_bytes(torch.device("cpu"))
    assert free is not None and free > 10 ** 6
    assert memory.free_bytes(torch.device("meta")) is None


# -- out of memory while training ---------------------------------------------------------------
@pytest.mark.parametrize("exc, asked", [
    (RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't "
                  "allocate memory: you tried to allocate 4000000000000 bytes. Error code 12"),
     "4.0 TB"),
    (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (GPU 0; 79.1 GiB "
                            "total capacity)"), "21 GB"),
    (MemoryError(), ""),
    (RuntimeError("mat1 and mat2 shapes cannot be multiplied"), None),
])
def test_failed_allocation_reads_the_size(exc: BaseException, asked: str | None) -> None:
    assert failed_allocation(exc) == asked


class RaisingLoop:
    """A loop whose step raises, as the allocator does in the middle of a run."""

    name = "training"
    smaller = "a smaller network"

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
        self.result = TrainResult("completed", "")
        self.where = (2, 5)
        self.finished = False

    def execute(self) -> TrainResult:
        raise self.exc

    def finish(self) -> None:
        self.finished = True


def test_allocator_errors_become_one_line_in_the_shell() -> None:
    events = []
    loop = RaisingLoop(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to "
                                    "allocate 4000000000000 bytes. Error code 12 (Cannot "
                                    "allocate memory)\nmore allocator text"))
    result = run_loop(loop, TrainingSettings(), events.append)
    assert result.status == "failed" and loop.finished
    assert result.message == ("the cpu device ran out of memory at epoch 2, step 5 (it could "
                              "not allocate 4.0 TB); lower the batch size or use a smaller "
                              "network")
    assert events[-1].message == result.message
    plain = run_loop(RaisingLoop(torch.OutOfMemoryError("")), TrainingSettings(), None)
    assert plain.message == ("the cpu device ran out of memory at epoch 2, step 5; lower the "
                             "batch size or use a smaller network")
    other = run_loop(RaisingLoop(RuntimeError("shapes differ\nsecond line")),
                     TrainingSettings(), None)
    assert other.message == "training failed at epoch 2, step 5: shapes differ"

