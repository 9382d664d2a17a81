"""Live probes: filters, activations, decision boundary, hidden space, confusion, histograms."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.metrics import confusion_matrix

from graph.model import Edge, Graph
from graph.settings import DatasetSettings, TrainingSettings
from runtime.capture import value_nodes
from runtime.compile import compile_graph
from runtime.data import load_dataset
from runtime.heads import make_loss
from runtime.probes import schedule as schedule_module
from runtime.probes import views
from runtime.probes.schedule import ProbeSchedule, make_epoch_probes, make_step_probes
from runtime.probes.views import (
    activations,
    confusion,
    conv_filters,
    decision_boundary,
    grad_histograms_from_batch,
    hidden_representation,
    histograms,
    pick_probe_samples,
)
from runtime.shapes import infer_shapes
from runtime.train import train


def chain(graph: Graph, *layers: tuple) -> dict[str, int]:
    """Add (type, params, name) layers one after another; returns name -> node id."""
    ids: dict[str, int] = {}
    previous = None
    for layer_type, params, name in layers:
        node = graph.add_node(layer_type, params, name=name)
        if previous is not None:
            graph.connect(Edge(previous.id, "out", node.id, "in"))
        previous = node
        ids[name] = node.id
    return ids


def digits_cnn():
    graph = Graph()
    ids = chain(graph,
                ("Input", {"shape": (1, 8, 8)}, "image"),
                ("Conv2d", {"out_channels": 16, "kernel_size": (3, 3), "padding": (1, 1)},
                 "conv1"),
                ("ReLU", {}, "relu1"), ("MaxPool2d", {}, "pool1"),
                ("Conv2d", {"out_channels": 8, "kernel_size": (3, 3), "padding": (1, 1)},
                 "conv2"),
                ("ReLU", {}, "relu2"), ("Flatten", {}, "flatten"),
                ("Linear", {"out_features": 32}, "fc1"), ("ReLU", {}, "relu3"),
                ("Dropout", {"p": 0.2}, "dropout"),
                ("Linear", {"out_features": 10}, "logits"),
                ("Output", {"task": "classification"}, "digit"))
    torch.manual_seed(0)
    return compile_graph(graph), ids, graph


def mlp(outputs: int = 2, hidden: int = 8):
    graph = Graph()
    ids = chain(graph, ("Input", {"shape": (2,)}, "input"),
                ("Linear", {"out_features": hidden}, "fc1"), ("Tanh", {}, "act1"),
                ("Linear", {"out_features": outputs}, "logits"),
                ("Output", {"task": "classification"}, "output"))
    torch.manual_seed(0)
    return compile_graph(graph), ids


@pytest.fixture(scope="module")
def digits():
    return load_dataset(DatasetSettings(name="digits", seed=0))


@pytest.fixture(scope="module")
def xor():
    return load_dataset(DatasetSettings(name="xor", samples=200, noise=0.1, seed=0))


@pytest.fixture(scope="module")
def cnn():
    return digits_cnn()


# -- filters ---------------------------------------------------------------------------------------
def test_filters_of_a_conv_give_one_kernel_per_output_channel(cnn):
    compiled, ids, _ = cnn
    out = conv_filters(compiled, ids["conv1"])
    weight = compiled.module.conv1.weight.detach().numpy()
    assert out["kind"] == "conv" and out["node_id"] == ids["conv1"]
    assert out["kernels"].shape == (16, 3, 3) and out["kernels"].dtype == np.float32
    np.testing.assert_allclose(out["kernels"], weight[:, 0])
    assert out["vmax"] == pytest.approx(float(np.abs(weight).max()))


def test_filters_average_or_pick_input_channels(cnn):
    compiled, ids, _ = cnn
    weight = compiled.module.conv2.weight.detach().numpy()
    mean = conv_filters(compiled, ids["conv2"])
    np.testing.assert_allclose(mean["kernels"], weight.mean(1), rtol=1e-5, atol=1e-7)
    assert mean["in_channels"] == 16 and mean["vmax"] == pytest.approx(
        float(np.abs(weight.mean(1)).max()))
    third = conv_filters(compiled, ids["conv2"], in_channel=3)
    np.testing.assert_array_equal(third["kernels"], weight[:, 3])
    with pytest.raises(ValueError, match="conv2.*input channel from 0 to 15"):
        conv_filters(compiled, ids["conv2"], in_channel=16)


def test_filters_of_a_linear_layer_are_its_weight_matrix(cnn):
    compiled, ids, _ = cnn
    out = conv_filters(compiled, ids["logits"])
    assert out["kind"] == "dense"
    np.testing.assert_array_equal(out["weights"], compiled.module.logits.weight.detach().numpy())


def test_filters_of_a_layer_without_weights_say_so(cnn):
    compiled, ids, _ = cnn
    with pytest.raises(ValueError, match="ReLU 'relu1' has no weights"):
        conv_filters(compiled, ids["relu1"])


# -- activations -----------------------------------------------------------------------------------
def test_activation_grids_have_the_layer_output_shapes(cnn, digits):
    compiled, ids, graph = cnn
    shapes = infer_shapes(graph).outputs
    x = digits.val[0][0]
    out = activations(compiled, x)
    assert set(out["nodes"]) == set(value_nodes(compiled)) == set(ids.values())
    np.testing.assert_array_equal(out["nodes"][ids["digit"]]["values"],
                                  out["nodes"][ids["logits"]]["values"])
    conv = out["nodes"][ids["conv1"]]
    assert conv["kind"] == "maps" and conv["maps"].shape == shapes[ids["conv1"]]["out"][1:]
    assert conv["maps"].shape == (16, 8, 8)
    dense = out["nodes"][ids["fc1"]]
    assert dense["kind"] == "strip" and dense["values"].shape == (32,)
    for node_id, entry in out["nodes"].items():
        if node_id != ids["digit"]:
            assert entry["shape"] == shapes[node_id]["out"][1:]
    expected = compiled.module.eval()(x[None]).softmax(1)[0].detach().numpy()
    assert out["probabilities"].sum() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(out["probabilities"], expected, rtol=1e-5, atol=1e-6)
    assert out["predicted"] == int(expected.argmax())


def test_activations_of_chosen_nodes_and_a_merge():
    graph = Graph()
    ids = chain(graph, ("Input", {"shape": (4,)}, "input"),
                ("Linear", {"out_features": 6}, "a"), ("Tanh", {}, "t"))
    b = graph.add_node("Linear", {"out_features": 6}, name="b")
    graph.connect(Edge(ids["input"], "out", b.id, "in"))
    add = graph.add_node("Add", name="skip")
    graph.connect(Edge(ids["t"], "out", add.id, "in1"))
    graph.connect(Edge(b.id, "out", add.id, "in2"))
    head = graph.add_node("Linear", {"out_features": 1}, name="score")
    graph.connect(Edge(add.id, "out", head.id, "in"))
    output = graph.add_node("Output", {"task": "classification"}, name="out")
    graph.connect(Edge(head.id, "out", output.id, "in"))
    compiled = compile_graph(graph)
    x = torch.randn(4)
    out = activations(compiled, x, [add.id, head.id])
    assert set(out["nodes"]) == {add.id, head.id}
    module = compiled.module
    expected = (torch.tanh(module.a(x)) + module.b(x)).detach().numpy()
    np.testing.assert_allclose(out["nodes"][add.id]["values"], expected, rtol=1e-5, atol=1e-6)
    p = torch.sigmoid(module.score(torch.as_tensor(expected))).item()
    np.testing.assert_allclose(out["probabilities"], [1 - p, p], rtol=1e-5)  # one logit


def test_big_layers_are_shrunk_and_big_probes_capped(cnn, digits, monkeypatch):
    graph = Graph()
    ids = chain(graph, ("Input", {"shape": (300,)}, "input"),
                ("Linear", {"out_features": 600}, "wide"),
                ("Output", {"task": "classification"}, "out"))
    wide = conv_filters(compile_graph(graph), ids["wide"])
    assert wide["weights"].shape == (256, 256) and wide["shape"] == (600, 300)
    monkeypatch.setattr(views, "MAX_ACTIVATION_VALUES", 500)
    compiled, cnn_ids, _ = cnn
    out = activations(compiled, digits.val[0][0])["nodes"]
    assert out[cnn_ids["image"]]["kind"] == "maps" and out[cnn_ids["conv1"]]["kind"] == "maps"
    assert out[cnn_ids["relu1"]] == {"kind": "omitted", "shape": (16, 8, 8), "name": "relu1"}


def test_pick_probe_samples_covers_every_class(digits):
    picked = pick_probe_samples(digits, n=10)
    assert sorted(picked["labels"]) == list(range(10))
    assert picked["inputs"].shape == (10, 1, 8, 8)
    for index, x, label in zip(picked["indices"], picked["inputs"], picked["labels"],
                               strict=True):
        np.testing.assert_array_equal(x, digits.val[index][0].numpy())
        assert int(digits.val[index][1]) == label
    assert picked["label_names"][0] == digits.class_names[picked["labels"][0]]
    assert pick_probe_samples(digits, n=10, seed=1)["indices"] != picked["indices"]


# -- decision boundary and hidden representation ---------------------------------------------------
def test_decision_boundary_covers_the_plane(xor):
    compiled, _ = mlp()
    out = decision_boundary(compiled, xor, resolution=32)
    assert out["xs"].shape == (32,) and out["ys"].shape == (32,)
    assert out["probabilities"].shape == (32, 32, 2) and out["predicted"].shape == (32, 32)
    np.testing.assert_allclose(out["probabilities"].sum(-1), 1.0, atol=1e-5)
    assert out["points"].shape == (len(xor.val), 2) and out["labels"].shape == (len(xor.val),)
    points = xor.val.tensors[0].numpy()
    assert out["xs"][0] < points[:, 0].min() and out["ys"][-1] > points[:, 1].max()
    j, i = 5, 20  # row j is ys[j], column i is xs[i]
    logits = compiled.module(torch.tensor([[out["xs"][i], out["ys"][j]]]))
    assert out["predicted"][j, i] == int(logits.argmax())


def test_decision_boundary_refuses_images(cnn, digits):
    compiled, _, _ = cnn
    with pytest.raises(ValueError, match="needs 2-D inputs .* digits gives samples of shape "
                                         "1 x 8 x 8"):
        decision_boundary(compiled, digits)


def test_hidden_representation_is_a_pca_of_the_layer(cnn, digits):
    compiled, ids, _ = cnn
    out = hidden_representation(compiled, digits, ids["fc1"], max_points=200)
    assert out["points"].shape == (200, 2) and out["labels"].shape == (200,)
    assert out["method"] == "pca" and out["dims"] == 32
    ratios = out["explained_variance"]
    assert ratios[0] >= ratios[1] > 0 and sum(ratios) <= 1
    x = digits.val.tensors[0][:200]
    with torch.no_grad():
        module = compiled.module.eval()
        hidden = module.fc1(module.flatten(module.relu2(module.conv2(
            module.pool1(module.relu1(module.conv1(x))))))).numpy()
    reference = PCA(2).fit(hidden)
    np.testing.assert_allclose(ratios, reference.explained_variance_ratio_, rtol=1e-3)
    np.testing.assert_allclose(np.abs(out["points"]), np.abs(reference.transform(hidden)),
                               atol=1e-3)


def test_hidden_representation_pads_a_single_unit(xor):
    compiled, ids = mlp(hidden=1)
    out = hidden_representation(compiled, xor, ids["act1"])
    assert out["points"].shape == (len(xor.val), 2) and out["method"] == "raw"
    assert np.all(out["points"][:, 1] == 0) and out["explained_variance"] == [1.0, 0.0]


# -- confusion -------------------------------------------------------------------------------------
def test_confusion_matches_sklearn(cnn, digits):
    compiled, _, _ = cnn
    out = confusion(compiled, digits, max_wrong=5)
    x, y = digits.val.tensors
    with torch.no_grad():
        probs = compiled.module.eval()(x).softmax(1)
    predicted = probs.argmax(1).numpy()
    assert out["matrix"].sum() == len(digits.val) == out["samples"]
    np.testing.assert_array_equal(out["matrix"],
                                  confusion_matrix(y.numpy(), predicted, labels=range(10)))
    rows = out["matrix"].sum(1)
    np.testing.assert_allclose(out["per_class_accuracy"], np.diag(out["matrix"]) / rows)
    assert out["class_names"] == digits.class_names
    wrong = out["wrong"]
    assert len(wrong) == 5 and out["wrong_inputs"].shape == (5, 1, 8, 8)
    confidences = [w["confidence"] for w in wrong]
    assert confidences == sorted(confidences, reverse=True)
    wrong_all = predicted != y.numpy()
    assert confidences[0] == pytest.approx(float(probs.max(1).values[wrong_all].max()))
    for item, image in zip(wrong, out["wrong_inputs"], strict=True):
        assert item["pred"] != item["true"] == int(y[item["index"]])
        np.testing.assert_array_equal(image, x[item["index"]].numpy())


# -- histograms ------------------------------------------------------------------------------------
def test_histograms_count_every_parameter_and_gradients_only_after_backward(cnn, digits):
    compiled, ids, _ = cnn
    compiled.module.zero_grad(set_to_none=True)
    out = histograms(compiled, bins=20)["nodes"]
    assert set(out) == {ids["conv1"], ids["conv2"], ids["fc1"], ids["logits"]}
    for node_id, entry in out.items():
        sub = compiled.module.get_submodule(compiled.module_names[node_id])
        total = sum(p.numel() for p in sub.parameters())
        counts, edges = entry["weights"]
        assert counts.sum() == total == entry["params"] and edges.shape == (21,)
        assert entry["grads"] is None and entry["grad_norm"] is None
        flat = torch.cat([p.detach().reshape(-1) for p in sub.parameters()])
        assert entry["weight_norm"] == pytest.approx(float(flat.norm()), rel=1e-5)
    x, y = digits.train.tensors[0][:32], digits.train.tensors[1][:32]
    loss_fn = make_loss(compiled, 10)
    grads = grad_histograms_from_batch(compiled, loss_fn, x, y)["nodes"]
    assert all(p.grad is None for p in compiled.module.parameters())  # nothing written
    for entry in grads.values():
        assert entry["grads"][0].sum() == entry["params"] and entry["grad_norm"] > 0
    loss_fn(compiled.module(x), y).backward()
    after = histograms(compiled)["nodes"][ids["conv1"]]
    assert after["grads"][0].sum() == 160
    assert after["grad_norm"] == pytest.approx(grads[ids["conv1"]]["grad_norm"], rel=1e-4)
    compiled.module.zero_grad(set_to_none=True)


# -- schedule --------------------------------------------------------------------------------------
def config_for(ids: dict[str, int]) -> dict:
    return {"filters": ids["conv1"], "activations": {"node_ids": None, "sample_index": 2},
            "hidden": ids["fc1"], "confusion": {"max_wrong": 4}, "histograms": True}


def test_probes_restore_every_training_flag(cnn, digits):
    compiled, ids, _ = cnn
    module = compiled.module
    module.train()
    module.conv2.eval()  # a frozen layer stays in eval mode while the rest trains
    flags = {name: m.training for name, m in module.named_modules()}
    schedule = ProbeSchedule(compiled, digits, {**config_for(ids), "boundary": True})
    results = schedule.run_all()
    schedule.close()
    assert [r["probe"] for r in results] == ["filters", "activations", "boundary", "hidden",
                                             "confusion", "histograms"]
    assert "needs 2-D inputs" in results[2]["error"]
    assert all("error" not in r for i, r in enumerate(results) if i != 2)
    assert {name: m.training for name, m in module.named_modules()} == flags
    x, y = digits.train.tensors[0][:8], digits.train.tensors[1][:8]
    grad_histograms_from_batch(compiled, make_loss(compiled, 10), x, y)
    assert {name: m.training for name, m in module.named_modules()} == flags
    module.eval()


def test_unknown_probe_is_refused(cnn, digits):
    compiled, _, _ = cnn
    with pytest.raises(ValueError, match="unknown probe.*saliency"):
        ProbeSchedule(compiled, digits, {"saliency": True})


def test_epoch_probes_ride_along_with_training_without_changing_it(digits):
    subset = dataclasses.replace(
        digits, train=torch.utils.data.TensorDataset(*(t[:128] for t in digits.train.tensors)),
        val=torch.utils.data.TensorDataset(*(t[:100] for t in digits.val.tensors)))
    settings = TrainingSettings(optimizer="adam", lr=0.01, batch_size=64, epochs=2, seed=0,
                                options={"threads": 1})
    runs = []
    for with_probes in (False, True):
        compiled, ids, _ = digits_cnn()
        hooks = make_epoch_probes(compiled, subset, config_for(ids)) if with_probes else []
        events: list[dict] = []
        result = train(compiled, subset, settings,
                       callback=lambda e, out=events: out.append(e.record()),
                       epoch_end_hooks=hooks)
        assert result.status == "completed", result.message
        runs.append((result, events))
    (plain, _), (probed, events) = runs
    # probes never touch the global random stream that dropout draws from
    assert [e["train_loss"] for e in plain.epochs] == [e["train_loss"] for e in probed.epochs]
    probes = [e for e in events if e["type"] == "probe"]
    assert [(e["epoch"], e["probe"]) for e in probes] == [
        (epoch, name) for epoch in (1, 2)
        for name in ("filters", "activations", "hidden", "confusion", "histograms")]
    for event in probes:
        assert "error" not in event
        assert len(pickle.dumps(event)) < 200_000
    for epoch in plain.epochs:  # the confusion matrix reads the trainer's validation pass
        matrix = next(e for e in probes if e["epoch"] == epoch["epoch"]
                      and e["probe"] == "confusion")
        assert matrix["accuracy"] == pytest.approx(epoch["val_accuracy"])
    last = {e["probe"]: e for e in probes if e["epoch"] == 2}
    assert last["confusion"]["matrix"].sum() == 100
    assert last["activations"]["nodes"][ids["conv1"]]["maps"].shape == (16, 8, 8)
    assert last["histograms"]["nodes"][ids["conv1"]]["grads"] is not None  # last batch's


def test_schedule_reuses_the_trainers_validation_pass(cnn, digits, monkeypatch):
    compiled, ids, _ = cnn
    module = compiled.module
    schedule = ProbeSchedule(compiled, digits, config_for(ids))
    fresh_matrix = confusion(compiled, digits)
    fresh_hidden = hidden_representation(compiled, digits, ids["fc1"])
    x = digits.val.tensors[0]
    with torch.no_grad():  # what the trainer's validation does: eval batches in order
        module.eval()
        for start in range(0, len(x), 128):
            module(x[start:start + 128])
        module(torch.zeros(5, 1, 8, 8))  # other calls are ignored
    def no_second_pass(*args, **kwargs):
        raise AssertionError("swept the validation set again")

    monkeypatch.setattr(schedule_module, "sweep", no_second_pass)
    monkeypatch.setattr(views, "sweep", no_second_pass)
    matrix = schedule.run("confusion")
    hidden = schedule.run("hidden")
    np.testing.assert_array_equal(matrix["matrix"], fresh_matrix["matrix"])
    np.testing.assert_allclose(hidden["points"], fresh_hidden["points"], atol=1e-4)
    monkeypatch.undo()
    with torch.no_grad():  # new weights: the recorded pass no longer counts
        module.logits.bias += 5.0 * torch.arange(10.0)
    try:
        changed = schedule.run("confusion")
        assert (changed["matrix"].sum(0)[9] == len(x)) and "error" not in changed
    finally:
        with torch.no_grad():
            module.logits.bias -= 5.0 * torch.arange(10.0)
        schedule.close()


def test_step_probes_are_throttled(xor):
    compiled, ids = mlp()
    settings = TrainingSettings(optimizer="adam", lr=0.05, batch_size=16, epochs=1, seed=0,
                                options={"threads": 1})
    hooks = make_step_probes(compiled, xor, {"boundary": {"resolution": 16},
                                             "hidden": ids["fc1"]},
                             every=3, min_interval=0.0, budget=1e9)
    events: list[dict] = []
    train(compiled, xor, settings, callback=lambda e: events.append(e.record()), step_hooks=hooks)
    probes = [e for e in events if e["type"] == "probe"]
    steps = next(e for e in events if e["type"] == "started")["steps_per_epoch"]
    assert [e["step"] for e in probes] == list(range(3, steps + 1, 3))
    boundary = probes[-1]["results"][0]
    assert boundary["probe"] == "boundary" and boundary["probabilities"].shape == (16, 16, 2)
    assert probes[-1]["results"][1]["points"].shape == (len(xor.val), 2)
