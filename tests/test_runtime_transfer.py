"""Transfer learning (importing trained layers), few-shot and multi-task targets."""

from __future__ import annotations

import pytest
import torch

from graph.model import Graph
from graph.project import Project
from resources.examples import transfer as examples
from runtime.compile import compile_graph, node_state, weights_from_bytes, weights_to_bytes
from runtime.session import run_training
from runtime.transfer import (
    apply_plan,
    import_layers,
    list_importable,
    plan_import,
    remove_plan,
    trunk_ids,
)


@pytest.fixture(scope="module")
def source() -> Project:
    project = examples.shapes_source()  # the shipped, trained network
    assert project.weights, "shapes_source.plexus must ship trained"
    return project


def _names(project: Project, ids) -> list[str]:
    return [project.graph.nodes[i].name for i in ids]


def _best(result) -> dict:
    assert result.status in ("completed", "early_stopped"), result.message
    return next(e for e in result.epochs if e["epoch"] == result.best_epoch)


def test_the_default_selection_is_the_convolutional_trunk(source):
    trunk = trunk_ids(source.graph)
    assert _names(source, trunk) == [f"{kind}{i}" for i in (1, 2, 3)
                                     for kind in ("conv", "bn", "relu", "pool")]
    layers = list_importable(source)
    assert layers[0].type == "Input" and layers[-1].type == "Output"  # topological order
    ticked = [layer.name for layer in layers if layer.trunk]
    assert ticked == _names(source, trunk)
    conv1 = next(layer for layer in layers if layer.name == "conv1")
    assert conv1.values == 16 * 9 + 16 and conv1.summary == "16@3x3"
    bn1 = next(layer for layer in layers if layer.name == "bn1")
    assert bn1.values == 4 * 16 + 1  # weight, bias, running mean and var, batch count
    assert next(layer for layer in layers if layer.name == "relu1").values == 0


def test_an_mlp_trunk_is_everything_but_the_classifier():
    from resources.examples import make

    project = make.build("spirals_mlp")
    assert _names(project, trunk_ids(project.graph)) == [
        "hidden1", "act1", "hidden2", "act2", "hidden3", "act3"]


def test_import_copies_layers_edges_options_and_weights_exactly(source):
    target = Project(graph=Graph())
    trunk = trunk_ids(source.graph)
    new_ids = import_layers(source, trunk, target, freeze=True)
    assert len(new_ids) == len(trunk) == len(target.graph.nodes)
    old_to_new = dict(zip(trunk, new_ids, strict=True))
    for old, new in old_to_new.items():
        a, b = source.graph.nodes[old], target.graph.nodes[new]
        assert (a.type, a.name, a.params) == (b.type, b.name, b.params)
    # internal edges kept, re-numbered; nothing connects to the rest of the source
    inside = [e for e in source.graph.edges if e.src in old_to_new and e.dst in old_to_new]
    assert sorted((old_to_new[e.src], old_to_new[e.dst]) for e in inside) == sorted(
        (e.src, e.dst) for e in target.graph.edges)
    assert len(target.graph.edges) == len(trunk) - 1
    # frozen where weights came along, not on parameter-free layers
    assert [target.graph.nodes[i].frozen for i in new_ids] == [
        t in {"Conv2d", "BatchNorm2d"} for t in (target.graph.nodes[i].type for i in new_ids)]
    # every tensor copied bit for bit under the new id
    before = weights_from_bytes(source.weights)
    after = weights_from_bytes(target.weights)
    expected = {f"{old_to_new[int(k.split('.')[0])]}.{k.split('.', 1)[1]}": v
                for k, v in before.items() if int(k.split(".")[0]) in old_to_new}
    assert set(after) == set(expected) and expected
    for key, tensor in expected.items():
        assert torch.equal(after[key], tensor), key
    # positions: the imported block starts at the origin of an empty project
    assert min(target.graph.nodes[i].pos[0] for i in new_ids) == 0.0


def test_import_into_a_trained_project_keeps_its_weights_and_names(source):
    target = examples.fewshot_scratch()
    compiled = compile_graph(target.graph)
    own = {k: v.clone() for k, v in node_state(compiled).items()}
    stale_id = target.graph.next_id  # a deleted node's leftover tensor under the next id
    stale = f"{stale_id}.old_param"  # the new conv1 gets that id but has no such tensor
    target.weights = weights_to_bytes({**own, stale: torch.ones(3)})
    plan = plan_import(source, trunk_ids(source.graph), target, freeze=False, lr_mult=0.1)
    assert target.graph.nodes.keys().isdisjoint(plan.new_ids)  # planning changes nothing
    new_ids = apply_plan(target, plan)
    names = _names(target, new_ids)
    assert names[0] == "conv1_1" and len(set(n.name for n in target.graph.nodes.values())) \
        == len(target.graph.nodes)
    assert all(target.graph.nodes[i].lr_mult == 0.1 for i in new_ids
               if target.graph.nodes[i].type == "Conv2d")
    merged = weights_from_bytes(target.weights)
    assert stale not in merged and f"{stale_id}.weight" in merged
    for key, tensor in own.items():
        assert torch.equal(merged[key], tensor)
    remove_plan(target, plan)
    assert not set(new_ids) & set(target.graph.nodes)
    assert set(weights_from_bytes(target.weights)) == set(own) | {stale}


def test_bad_selections_are_refused_with_a_message(source):
    target = Project(graph=Graph())
    with pytest.raises(ValueError, match="at least one layer"):
        plan_import(source, [], target)
    with pytest.raises(ValueError, match="no node with id 999"):
        plan_import(source, [999], target)


def test_frozen_imported_layers_do_not_change_while_the_head_trains(source):
    project = examples.with_training(examples.fewshot_transfer(freeze=True), epochs=2)
    before = weights_from_bytes(project.weights)
    result = run_training(project)
    assert result.status == "completed", result.message
    after = weights_from_bytes(project.weights)
    trunk = {n.id for n in project.graph.nodes.values() if n.frozen}
    assert len(trunk) == 6  # three convolutions, three batch norms
    frozen_keys = [k for k in before if int(k.split(".")[0]) in trunk]
    assert frozen_keys
    for key in frozen_keys:
        assert torch.equal(after[key], before[key]), key
    (logits,) = [n.id for n in project.graph.nodes.values() if n.name == "logits"]
    assert f"{logits}.weight" in after and f"{logits}.weight" not in before


@pytest.mark.slow
def test_fewshot_transfer_beats_learning_from_scratch():
    scratch = _best(run_training(examples.fewshot_scratch()))["val_accuracy"]
    transfer = _best(run_training(examples.fewshot_transfer()))["val_accuracy"]
    print(f"10 samples per class: scratch {scratch:.3f}, transfer {transfer:.3f}")
    assert transfer >= scratch + 0.15


@pytest.mark.slow
def test_each_multitask_head_is_as_good_as_the_head_trained_alone():
    both = _best(run_training(examples.digits_multitask()))
    digit = _best(run_training(examples.digits_single_task("digit")))["val_accuracy"]
    even = _best(run_training(examples.digits_single_task("even")))["val_accuracy"]
    print(f"digit {both['val_accuracy/digit']:.3f} (alone {digit:.3f}), "
          f"even {both['val_accuracy/even']:.3f} (alone {even:.3f})")
    assert both["val_accuracy/digit"] >= digit - 0.03
    assert both["val_accuracy/even"] >= even - 0.03
    assert both["val_accuracy/digit"] >= 0.95


def test_confusion_probe_of_a_multitask_network_uses_the_first_classification_head():
    from runtime.prepare import prepare
    from runtime.probes.views import confusion

    compiled, data = prepare(examples.digits_multitask())
    result = confusion(compiled, data)
    assert result["matrix"].shape == (10, 10) and result["samples"] == len(data.val)
