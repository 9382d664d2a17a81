"""The trainer and the training session: targets on XOR, determinism, control, failures."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest
import torch
from torch.utils.data import Dataset, Subset, TensorDataset

from graph.model import Edge, Graph
from graph.project import Project
from graph.settings import DatasetSettings, TrainingSettings
from runtime.compile import compile_graph, node_state
from runtime.data import load_dataset
from runtime.events import Batch, Epoch
from runtime.history import downsample
from runtime.prepare import prepare
from runtime.session import evaluate, run_training
from runtime.train import train
from runtime.trainer import (
    BATCH_EVENT_INTERVAL,
    CUDA_MISSING,
    TrainControl,
    resolve_device,
)

XOR = DatasetSettings(name="xor", samples=400, noise=0.1, seed=0)
FAST = {"threads": 1}  # two shared cores: keep each test on one


pytestmark = pytest.mark.usefixtures("warm_trainer")


@pytest.fixture(scope="module")
def xor_data():
    return load_dataset(XOR)


def mlp(inputs: int, hidden: list[int], outputs: int, activation: str = "Tanh",
        task: str = "classification", **output_params) -> Graph:
    """Input -> (Linear, activation)* -> Linear 'logits' -> Output 'output'."""
    graph = Graph()
    previous = graph.add_node("Input", {"shape": (inputs,)}, name="input")
    layers = []
    for index, width in enumerate(hidden, start=1):
        layers += [("Linear", {"out_features": width}, f"fc{index}"),
                   (activation, {}, f"act{index}")]
    layers += [("Linear", {"out_features": outputs}, "logits"),
               ("Output", {"task": task, **output_params}, "output")]
    for layer_type, params, name in layers:
        node = graph.add_node(layer_type, params, name=name)
        graph.connect(Edge(previous.id, "out", node.id, "in"))
        previous = node
    return graph


def compiled_mlp(*args, seed: int = 0, **kwargs):
    torch.manual_seed(seed)
    return compile_graph(mlp(*args, **kwargs))


def settings(**values) -> TrainingSettings:
    values.setdefault("options", dict(FAST))
    return TrainingSettings(**values)


def bundle(train_set, val_set, num_classes=2, task="classification"):
    return SimpleNamespace(train=train_set, val=val_set, num_classes=num_classes, task=task,
                           value_range=(-2.0, 2.0), input_shape=(2,), name="test")


def best_epoch(result) -> dict:
    return next(e for e in result.epochs if e["epoch"] == result.best_epoch)


def state_copy(compiled) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in node_state(compiled).items()}


def same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# -- targets ---------------------------------------------------------------------------------------
def test_two_two_one_mlp_solves_xor(xor_data):
    compiled = compiled_mlp(2, [2], 1)
    result = train(compiled, xor_data, settings(lr=0.05, epochs=60))
    assert result.status == "completed", result.message
    assert best_epoch(result)["val_accuracy"] == 1.0


def test_single_linear_layer_cannot_solve_xor(xor_data):
    compiled = compiled_mlp(2, [], 1)
    result = train(compiled, xor_data, settings(lr=0.05, epochs=40))
    assert result.status == "completed", result.message
    assert max(e["val_accuracy"] for e in result.epochs) <= 0.75


def test_cnn_learns_a_digits_subset():
    data = load_dataset(DatasetSettings(name="digits", seed=0))
    data.train = Subset(data.train, range(400))
    graph = Graph()
    previous = graph.add_node("Input", {"shape": (1, 8, 8)}, name="image")
    for layer_type, params in [("Conv2d", {"out_channels": 8, "padding": (1, 1)}),
                               ("ReLU", {}), ("MaxPool2d", {}), ("Flatten", {}),
                               ("Linear", {"out_features": 10}),
                               ("Output", {"task": "classification"})]:
        node = graph.add_node(layer_type, params)
        graph.connect(Edge(previous.id, "out", node.id, "in"))
        previous = node
    torch.manual_seed(0)
    compiled = compile_graph(graph)
    result = train(compiled, data, settings(lr=0.01, epochs=3))
    assert result.status == "completed", result.message
    assert result.epochs[-1]["val_accuracy"] > 0.5  # chance is 0.1
    assert {"train_loss", "train_accuracy", "val_loss", "lr", "seconds"} <= result.epochs[0].keys()


def test_regression_reports_r2():
    data = load_dataset(DatasetSettings(name="house_prices", samples=300, seed=0))
    width = data.input_shape[0]
    compiled = compiled_mlp(width, [16], 1, "ReLU", task="regression")
    result = train(compiled, data, settings(lr=0.01, epochs=5))
    assert result.status == "completed", result.message
    last = result.epochs[-1]
    assert "val_accuracy" not in last and "train_r2" in last
    assert 0.3 < last["val_r2"] <= 1.0


# -- determinism and batching ----------------------------------------------------------------------
def test_same_seed_gives_identical_losses(xor_data):
    runs = [train(compiled_mlp(2, [8], 1), xor_data, settings(epochs=3, seed=5))
            for _ in range(2)]
    assert runs[0].steps == runs[1].steps
    assert [e["val_loss"] for e in runs[0].epochs] == [e["val_loss"] for e in runs[1].epochs]
    other = train(compiled_mlp(2, [8], 1), xor_data, settings(epochs=3, seed=6))
    assert other.steps != runs[0].steps


class PlainDataset(Dataset):
    """Not in memory as far as the trainer knows: batches go through a DataLoader."""

    def __init__(self, inner):
        self.inner = inner

    def __len__(self):
        return len(self.inner)

    def __getitem__(self, index):
        return self.inner[index]


def test_loader_path_matches_the_in_memory_path(xor_data):
    fast = train(compiled_mlp(2, [8], 1), xor_data, settings(epochs=2, batch_size=30))
    slow_data = bundle(PlainDataset(xor_data.train), PlainDataset(xor_data.val))
    slow = train(compiled_mlp(2, [8], 1), slow_data, settings(epochs=2, batch_size=30))
    assert [s for _, s in fast.steps] == pytest.approx([s for _, s in slow.steps], abs=1e-6)


def test_a_last_batch_of_one_sample_joins_the_one_before():
    x = torch.randn(33, 2)
    data = bundle(TensorDataset(x, (x[:, 0] > 0).long()), TensorDataset(x, (x[:, 0] > 0).long()))
    events = []
    result = train(compiled_mlp(2, [4], 1), data, settings(epochs=1, batch_size=16),
                   callback=lambda e: events.append(e.record()))
    assert result.status == "completed"
    assert events[0]["steps_per_epoch"] == 2 and len(result.steps) == 2


# -- early stopping, best weights, control ---------------------------------------------------------
def flipped_validation(xor_data):
    """Validation labels opposite to training: the better it trains, the worse it validates."""
    x, y = xor_data.train.tensors
    return bundle(xor_data.train, TensorDataset(x, 1 - y))


def test_early_stopping_stops_and_restores_the_best_weights(xor_data):
    compiled = compiled_mlp(2, [8], 1)
    snapshots = {}

    def remember(module, epoch):
        snapshots[epoch] = state_copy(compiled)
        return None

    result = train(compiled, flipped_validation(xor_data),
                   settings(lr=0.05, epochs=30, early_stopping=3),
                   epoch_end_hooks=[remember])
    assert result.status == "early_stopped"
    assert result.best_epoch == 1
    assert len(result.epochs) == 4  # the best epoch and three without improvement
    assert "no better validation loss for 3 epochs" in result.message
    assert same_state(result.best_state, snapshots[1])
    assert same_state(state_copy(compiled), snapshots[1])
    assert not same_state(snapshots[4], snapshots[1])


def test_stop_ends_after_the_current_step_and_keeps_the_best_weights(xor_data):
    compiled = compiled_mlp(2, [8], 1)
    control = TrainControl()
    snapshots = {}

    def on_event(event):
        if isinstance(event, Epoch):
            snapshots[event.epoch] = state_copy(compiled)

    def stop_in_epoch_3(module, epoch, step, global_step):
        if epoch == 3:
            control.stop()

    result = train(compiled, xor_data, settings(epochs=20), callback=on_event, control=control,
                   step_hooks=[stop_in_epoch_3])
    assert result.status == "stopped"
    assert [e["epoch"] for e in result.epochs] == [1, 2]
    assert len(result.steps) == 2 * 10 + 1  # two epochs of 10 steps and the current step
    assert same_state(result.best_state, snapshots[result.best_epoch])
    assert same_state(state_copy(compiled), result.best_state)


def test_pause_blocks_between_steps_until_resumed(xor_data):
    waiting = threading.Event()
    woke_paused: list[bool] = []

    class WatchedControl(TrainControl):
        """Says when the trainer starts waiting, and whether it woke while still paused."""

        def wait_while_paused(self, timeout=None):
            waiting.set()
            resumed = super().wait_while_paused(timeout)
            woke_paused.append(self.paused)
            return resumed

    control = WatchedControl()
    seen: list[int] = []
    during_pause: list[int] = []

    def watcher():
        if waiting.wait(60):  # the trainer has stopped at the pause: count what came before
            during_pause.append(len(seen))
        control.resume()

    def on_event(event):
        if isinstance(event, Batch):
            seen.append(event.global_step)
            if len(seen) == 1:
                control.pause()
                threading.Thread(target=watcher, daemon=True).start()

    result = train(compiled_mlp(2, [4], 1), xor_data, settings(epochs=2), callback=on_event,
                   control=control)
    assert result.status == "completed"
    assert during_pause == [1]
    assert woke_paused == [False]  # blocked until resumed
    assert not control.paused


def test_stop_wakes_a_paused_run(xor_data):
    control = TrainControl()

    def on_event(event):
        if isinstance(event, Batch):
            control.pause()
            threading.Timer(0.1, control.stop).start()

    result = train(compiled_mlp(2, [4], 1), xor_data, settings(epochs=5), callback=on_event,
                   control=control)
    assert result.status == "stopped" and len(result.steps) == 1


# -- failures --------------------------------------------------------------------------------------
def test_nan_loss_fails_with_epoch_and_step():
    x = torch.randn(64, 2) * 100
    y = x @ torch.tensor([[30.0], [-20.0]])
    data = bundle(TensorDataset(x, y), TensorDataset(x, y), num_classes=0, task="regression")
    compiled = compiled_mlp(2, [16], 1, "ReLU", task="regression")
    events = []
    result = train(compiled, data, settings(optimizer="sgd", lr=10.0, epochs=5, batch_size=8),
                   callback=lambda e: events.append(e.record()))
    assert result.status == "failed"
    assert result.message.startswith(("loss became NaN at epoch 1, step ",
                                      "loss became infinite at epoch 1, step "))
    assert "lower the learning rate (now 10)" in result.message
    assert all(torch.isfinite(t).all() for t in result.best_state.values())
    assert events[-1] == {"type": "finished", "status": "failed", "message": result.message,
                          "best_epoch": 0}


def test_cuda_requested_without_cuda_fails_clearly(xor_data, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    events = []
    result = train(compiled_mlp(2, [2], 1), xor_data, settings(device="cuda"),
                   callback=lambda e: events.append(e.record()))
    assert result.status == "failed"
    assert result.message == CUDA_MISSING == (
        "CUDA was requested but no CUDA device is available; choose CPU or auto")
    assert [e["type"] for e in events] == ["finished"]
    assert resolve_device("auto").type == "cpu"


def test_too_few_class_scores_is_named():
    data = load_dataset(DatasetSettings(name="digits", seed=0))
    graph = Graph()
    image = graph.add_node("Input", {"shape": (1, 8, 8)}, name="image")
    flat = graph.add_node("Flatten", name="flat")
    fc = graph.add_node("Linear", {"out_features": 3}, name="fc")
    out = graph.add_node("Output", name="digit")
    for a, b in [(image, flat), (flat, fc), (fc, out)]:
        graph.connect(Edge(a.id, "out", b.id, "in"))
    result = train(compile_graph(graph), data, settings(epochs=1))
    assert result.status == "failed"
    assert result.message == ("Output 'digit' gives 3 class scores but the dataset has 10 "
                              "classes; give the layer before it 10 outputs")


# -- frozen nodes and learning-rate multipliers ----------------------------------------------------
def node_params(compiled, name):
    node = compiled.graph.node_by_name(name)
    return {k: v for k, v in state_copy(compiled).items() if k.startswith(f"{node.id}.")}


def test_frozen_node_does_not_change(xor_data):
    graph = mlp(2, [8], 1)
    graph.set_node_options(graph.node_by_name("fc1").id, frozen=True)
    torch.manual_seed(0)
    compiled = compile_graph(graph)
    before_fc1, before_logits = node_params(compiled, "fc1"), node_params(compiled, "logits")
    result = train(compiled, xor_data, settings(epochs=3))
    assert result.status == "completed"
    assert same_state(node_params(compiled, "fc1"), before_fc1)
    assert not same_state(node_params(compiled, "logits"), before_logits)
    assert all(p.requires_grad for p in compiled.module.parameters())  # restored afterwards


def test_lr_mult_zero_behaves_like_frozen(xor_data):
    runs = []
    for options in ({"frozen": True}, {"lr_mult": 0.0}):
        graph = mlp(2, [8], 1)
        graph.set_node_options(graph.node_by_name("fc1").id, **options)
        torch.manual_seed(0)
        compiled = compile_graph(graph)
        before = node_params(compiled, "fc1")
        runs.append(train(compiled, xor_data, settings(epochs=3, optimizer="adamw",
                                                       weight_decay=0.1)))
        assert same_state(node_params(compiled, "fc1"), before)
    assert runs[0].steps == runs[1].steps


def test_lr_mult_scales_the_learning_rate(xor_data):
    graph = mlp(2, [8], 1)
    graph.set_node_options(graph.node_by_name("fc1").id, lr_mult=0.1)
    torch.manual_seed(0)
    compiled = compile_graph(graph)
    before = node_params(compiled, "fc1")
    train(compiled, xor_data, settings(optimizer="sgd", momentum=0.0, lr=0.1, epochs=1))
    after = node_params(compiled, "fc1")
    moved = max((after[k] - before[k]).abs().max().item() for k in before)
    assert 0 < moved < 0.1


# -- optimizers and schedules ----------------------------------------------------------------------
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "rmsprop"])
def test_every_optimizer_lowers_the_loss(xor_data, optimizer):
    lr = {"sgd": 0.1, "rmsprop": 0.003}.get(optimizer, 0.02)
    result = train(compiled_mlp(2, [8], 1), xor_data,
                   settings(optimizer=optimizer, lr=lr, epochs=4, weight_decay=1e-4,
                            grad_clip=1.0))
    assert result.status == "completed", result.message
    assert result.epochs[-1]["train_loss"] < result.epochs[0]["train_loss"]


def test_step_schedule_decays_per_epoch(xor_data):
    result = train(compiled_mlp(2, [4], 1), xor_data,
                   settings(lr=0.1, schedule="step", step_size=1, gamma=0.5, epochs=3))
    assert [e["lr"] for e in result.epochs] == pytest.approx([0.1, 0.05, 0.025])


def test_cosine_and_onecycle_schedules(xor_data):
    cosine = train(compiled_mlp(2, [4], 1), xor_data,
                   settings(lr=0.1, schedule="cosine", epochs=4))
    lrs = [e["lr"] for e in cosine.epochs]
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] < 0.01
    onecycle = train(compiled_mlp(2, [4], 1), xor_data,
                     settings(lr=0.1, schedule="onecycle", epochs=6))
    lrs = [e["lr"] for e in onecycle.epochs]
    assert onecycle.status == "completed", onecycle.message
    assert max(lrs) == pytest.approx(0.1, rel=0.1) and lrs[0] < max(lrs) and lrs[-1] < 0.01


# -- events and hooks ------------------------------------------------------------------------------
def test_events_arrive_in_order(xor_data):
    events = []
    result = train(compiled_mlp(2, [4], 1), xor_data, settings(epochs=3),
                   callback=lambda e: events.append(e.record()))
    kinds = [e["type"] for e in events]
    assert kinds[0] == "started" and kinds[-1] == "finished"
    assert kinds.count("epoch") == 3 and "batch" in kinds
    started = events[0]
    assert started["device"] == "cpu" and started["epochs"] == 3
    assert started["steps_per_epoch"] == 10 and started["params"] == 2 * 4 + 4 + 4 + 1
    epoch = 1
    last_step = 0
    for event in events[1:-1]:
        if event["type"] == "batch":
            assert event["epoch"] == epoch and event["global_step"] > last_step
            assert event["loss"] > 0 and event["samples_per_s"] > 0
            last_step = event["global_step"]
        else:
            assert event["epoch"] == epoch
            epoch += 1
    assert events[-1]["status"] == "completed" and events[-1]["best_epoch"] == result.best_epoch
    assert result.epochs == [e for e in events if e["type"] == "epoch"]


def test_batch_events_are_throttled(xor_data):
    events = []
    began = time.perf_counter()
    result = train(compiled_mlp(2, [4], 1), xor_data, settings(epochs=30),
                   callback=lambda e: events.append(e.record()))
    elapsed = time.perf_counter() - began
    batches = [e for e in events if e["type"] == "batch"]
    assert len(result.steps) == 300
    assert 1 <= len(batches) <= elapsed / BATCH_EVENT_INTERVAL + 1  # at most 20 a second


def test_hooks_send_probes_and_transform_batches(xor_data):
    events = []
    calls = []

    def batch_hook(module, x, y):
        calls.append(x.shape[0])
        return x * 0.5, y

    result = train(compiled_mlp(2, [4], 1), xor_data, settings(epochs=2),
                   callback=lambda e: events.append(e.record()), batch_hooks=[batch_hook],
                   epoch_end_hooks=[lambda module, epoch: {"name": "mode", "eval":
                                                           not module.training}],
                   step_hooks=[lambda m, e, s, g: {"name": "step"} if g == 5 else None])
    assert result.status == "completed"
    assert len(calls) == 20
    probes = [e for e in events if e["type"] == "probe"]
    assert probes[0] == {"type": "probe", "epoch": 1, "step": 5, "global_step": 5,
                         "name": "step"}
    assert [p["eval"] for p in probes[1:]] == [True, True]


def test_adversarial_option_uses_the_attacks_hook(xor_data):
    pytest.importorskip("runtime.attacks")
    result = train(compiled_mlp(2, [4], 1), xor_data,
                   settings(epochs=1, options={"threads": 1, "adversarial": "fgsm",
                                               "adv_eps": 0.1}))
    assert result.status == "completed", result.message


# -- several heads ---------------------------------------------------------------------------------
class TwoTargets(Dataset):
    def __init__(self, x, labels, values, in_memory):
        self.x, self.labels, self.values = x, labels, values
        if in_memory:
            self.as_tensors = lambda: (self.x, {"kind": self.labels, "size": self.values})

    def __len__(self):
        return len(self.x)

    def __getitem__(self, index):
        return self.x[index], {"kind": self.labels[index], "size": self.values[index]}


def two_head_graph() -> Graph:
    graph = Graph()
    nodes = [graph.add_node("Input", {"shape": (2,)}, name="input"),
             graph.add_node("Linear", {"out_features": 16}, name="trunk"),
             graph.add_node("ReLU", name="relu"),
             graph.add_node("Linear", {"out_features": 3}, name="kind_logits"),
             graph.add_node("Output", {"task": "classification"}, name="kind"),
             graph.add_node("Linear", {"out_features": 1}, name="size_value"),
             graph.add_node("Output", {"task": "regression", "weight": 0.5}, name="size")]
    for a, b in [(0, 1), (1, 2), (2, 3), (3, 4), (2, 5), (5, 6)]:
        graph.connect(Edge(nodes[a].id, "out", nodes[b].id, "in"))
    return graph


@pytest.mark.parametrize("in_memory", [True, False])
def test_several_heads_train_together(in_memory):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(200, 2, generator=generator)
    labels = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    values = (x[:, :1] * 2 + x[:, 1:]).float()
    data = bundle(TwoTargets(x[:160], labels[:160], values[:160], in_memory),
                  TwoTargets(x[160:], labels[160:], values[160:], in_memory), num_classes=3)
    torch.manual_seed(0)
    result = train(compile_graph(two_head_graph()), data, settings(lr=0.02, epochs=15))
    assert result.status == "completed", result.message
    last = result.epochs[-1]
    assert last["val_accuracy"] == last["val_accuracy/kind"] > 0.8
    assert last["val_r2"] == last["val_r2/size"] > 0.8
    assert last["val_loss"] == pytest.approx(last["val_loss/kind"] + 0.5 * last["val_loss/size"],
                                             rel=1e-4)


# -- session ---------------------------------------------------------------------------------------
def xor_project(**training) -> Project:
    return Project(graph=mlp(2, [2], 1), name="xor", dataset=XOR,
                   training=settings(lr=0.05, epochs=3, **training))


def test_run_training_stores_weights_and_history():
    project = xor_project()
    result = run_training(project, epochs=2)
    assert result.status == "completed" and len(result.epochs) == 2
    assert project.weights and project.metadata["torch_version"] == torch.__version__
    (run,) = project.history
    assert run["status"] == "completed" and run["device"] == "cpu"
    assert run["epochs"] == result.epochs and len(run["steps"]) == 20
    assert run["started"][:2] == "20"
    compiled, _ = prepare(project)
    assert same_state(state_copy(compiled), result.best_state)
    metrics = evaluate(project)
    assert metrics["val_loss"] == pytest.approx(best_epoch(result)["val_loss"], rel=1e-5)
    assert metrics["val_accuracy"] == best_epoch(result)["val_accuracy"]
    assert metrics["n"] == 80 and metrics["trained"]


def test_run_training_reports_a_project_that_does_not_fit_its_data():
    project = xor_project()
    project.graph.set_param(project.graph.node_by_name("input").id, "shape", (3,))
    events = []
    result = run_training(project, callback=lambda e: events.append(e.record()))
    assert result.status == "failed"
    assert result.message == ("Input 'input' has shape 3 but dataset xor gives samples of "
                              "shape 2; set the Input's shape to 2")
    assert events[-1]["type"] == "finished" and not project.history and not project.weights


def test_downsample_keeps_at_most_the_limit():
    steps = [(i, float(i % 7)) for i in range(1, 10_001)]
    points = downsample(steps, 2000)
    assert len(points) == 2000
    assert points[0] == [3, pytest.approx(3.0)]  # steps 1-5 averaged
    assert downsample(steps[:10]) == [[s, v] for s, v in steps[:10]]


def test_initial_state_is_loaded_before_the_first_step(xor_data):
    first = train(compiled_mlp(2, [4], 1), xor_data, settings(epochs=2))
    compiled = compiled_mlp(2, [4], 1, seed=1)
    seen = []

    def capture(module, x, y):
        if not seen:
            seen.append(state_copy(compiled))
        return x, y

    train(compiled, xor_data, settings(epochs=1), initial_state=first.best_state,
          batch_hooks=[capture])
    assert same_state(seen[0], first.best_state)
