"""Transfer learning on an imported backbone: where its trunk can end, a new head for the
target's data, frozen weights that stay as they were, and the backbone_transfer example."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from graph.model import Graph
from graph.project import Project
from graph.settings import DatasetSettings, TrainingSettings
from resources.examples import backbone as example
from runtime.backbone import NewHead, default_end, head_for, trunk_ends, trunk_until
from runtime.compile import weights_from_bytes
from runtime.session import run_training
from runtime.shapes import analyze
from runtime.transfer import import_layers, plan_import, trunk_ids

HEAD_TYPES = ["AdaptiveAvgPool2d", "Flatten", "BatchNorm1d", "Linear", "Output"]


@pytest.fixture(scope="module")
def backbone() -> Project:
    """tiny_resnet.py imported as main.py import makes it (seeded random weights)."""
    return example.imported_backbone()


def _names(project: Project, ids) -> list[str]:
    return [project.graph.nodes[i].name for i in ids]


def _shapes_target(samples: int = 2000, epochs: int = 1) -> Project:
    return Project(graph=Graph(), name="target", dataset=DatasetSettings(
        name="shapes", samples=samples, noise=0.1, seed=0,
        options={"classes": ["ring", "L", "T"], "channels": "3"}),
        training=TrainingSettings(optimizer="adam", lr=0.01, batch_size=50, epochs=epochs,
                                  seed=0, device="cpu"))


def test_the_trunk_can_end_only_where_it_has_one_way_out(backbone):
    graph = backbone.graph
    assert _names(backbone, trunk_ends(graph)) == [
        "conv1", "bn1", "relu", "add", "layer1_0_relu_2", "add_1", "layer2_0_relu_2", "add_2",
        "layer3_0_relu_2", "avgpool", "flatten", "fc"]  # never inside a residual block
    end = default_end(graph, trunk_ids(graph))
    assert graph.nodes[end].name == "layer3_0_relu_2"
    assert trunk_until(graph, end) == trunk_ids(graph) and len(trunk_ids(graph)) == 28
    assert _names(backbone, trunk_until(graph, graph.node_by_name("add").id)) == [
        "conv1", "bn1", "relu", "layer1_0_conv1", "layer1_0_bn1", "layer1_0_relu",
        "layer1_0_conv2", "layer1_0_bn2", "add"]


def test_head_for_reads_the_targets_classes_and_values():
    assert head_for(_shapes_target()) == NewHead(3, "classification", (3, 32, 32))
    houses = Project(graph=Graph(), dataset=DatasetSettings(name="house_prices", samples=200))
    head = head_for(houses)
    assert (head.outputs, head.task, head.input_shape) == (1, "regression", (7,))


def test_a_new_head_on_the_imported_trunk_builds_a_project_that_trains(backbone):
    target = _shapes_target(samples=300)
    trunk = trunk_ids(backbone.graph)
    new_ids = import_layers(backbone, trunk, target, freeze=True, head=head_for(target))
    graph = target.graph
    assert len(new_ids) == len(trunk) + 1 + len(HEAD_TYPES)
    assert [graph.nodes[i].type for i in new_ids[len(trunk):]] == ["Input", *HEAD_TYPES]
    (image,) = graph.nodes_of_type("Input")
    assert image.params["shape"] == (3, 32, 32) and image.name == "image"
    assert [graph.nodes[e.dst].name for e in graph.out_edges(image.id)] == ["conv1"]
    (linear,) = graph.nodes_of_type("Linear")
    assert linear.params["out_features"] == 3 and not linear.frozen
    analysis = analyze(graph)
    assert analysis.ok, [d.message for d in analysis.diagnostics]
    assert analysis.shapes.outputs[linear.id]["out"][1:] == (3,)
    frozen = {n.id for n in graph.nodes.values() if n.frozen}
    assert len(frozen) == 18  # nine convolutions, nine batch norms
    before = weights_from_bytes(target.weights)
    assert {int(k.split(".")[0]) for k in before} == frozen
    result = run_training(target)
    assert result.status == "completed", result.message
    after = weights_from_bytes(target.weights)
    for key, tensor in before.items():  # weights and BatchNorm statistics alike
        assert torch.equal(after[key], tensor), key
    assert f"{linear.id}.weight" in after


def test_the_target_input_is_reused_and_bad_trunks_are_refused(backbone):
    graph = backbone.graph
    target = _shapes_target()
    image = target.graph.add_node("Input", {"shape": (3, 32, 32)}, name="photo")
    head = NewHead(3, "classification", (3, 32, 32))
    plan = plan_import(backbone, trunk_until(graph, graph.node_by_name("add_1").id), target,
                       head=head)
    assert [n.type for n in plan.nodes].count("Input") == 0
    assert [(e.src, plan.nodes[0].name) for e in plan.edges if e.src == image.id] == [
        (image.id, "conv1")]
    assert [n.type for n in plan.nodes][-5:] == HEAD_TYPES  # add_1 still gives 16x16 maps
    at_flatten = plan_import(backbone, trunk_until(graph, graph.node_by_name("flatten").id),
                             target, head=head)
    assert [n.type for n in at_flatten.nodes][-3:] == ["BatchNorm1d", "Linear", "Output"]
    inside = graph.node_by_name("layer1_0_bn2").id
    with pytest.raises(ValueError, match=r"^the chosen layers end in 2 places \(ReLU 'relu', "
                                         r"BatchNorm2d 'layer1_0_bn2'\); choose a trunk"):
        plan_import(backbone, trunk_until(graph, inside), target, head=head)
    with pytest.raises(ValueError, match="untick the Inputs and Outputs"):
        plan_import(backbone, list(graph.nodes), target, head=head)
    with pytest.raises(ValueError, match="fed by the network's one Input"):
        plan_import(backbone, [graph.node_by_name("layer1_0_conv1").id], target, head=head)
    target.graph.add_node("Input", {"shape": (3, 32, 32)}, name="second")
    with pytest.raises(ValueError, match="several Inputs"):
        plan_import(backbone, trunk_ids(graph), target, head=head)


def test_backbone_transfer_example_keeps_its_frozen_trunk():
    project = example.backbone_transfer()
    frozen = {n.id for n in project.graph.nodes.values() if n.frozen}
    assert len(frozen) == 18 and project.weights
    before = weights_from_bytes(project.weights)
    assert {int(k.split(".")[0]) for k in before} == frozen
    project.dataset = dataclasses.replace(project.dataset, samples=250)
    project.training = dataclasses.replace(project.training, epochs=1)
    result = run_training(project)
    assert result.status == "completed", result.message
    after = weights_from_bytes(project.weights)
    assert all(torch.equal(after[k], v) for k, v in before.items())


@pytest.mark.slow
def test_backbone_transfer_example_trains_its_head_well_above_chance(train_example):
    best = train_example("backbone_transfer").best["val_accuracy"]
    print(f"backbone_transfer: val_accuracy {best:.3f} (chance 0.2)")
    assert best >= 0.4


def test_the_trunk_can_fine_tune_at_a_learning_rate_factor_under_its_new_head(backbone):
    target = _shapes_target()
    plan = plan_import(backbone, trunk_ids(backbone.graph), target, freeze=False, lr_mult=0.1,
                       head=NewHead(3, "classification", (3, 32, 32)))
    trunk = {n.name: n for n in plan.nodes[:28]}
    assert not any(n.frozen for n in plan.nodes)
    assert {n.lr_mult for n in trunk.values() if n.type in ("Conv2d", "BatchNorm2d")} == {0.1}
    assert {n.lr_mult for n in plan.nodes[28:]} == {1.0}  # the new head learns at full rate
    assert plan.copied == len(weights_from_bytes(backbone.weights)) - 2  # all but fc's two
