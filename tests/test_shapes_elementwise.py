"""The element-wise trait: shape inference takes a declared element-wise layer's output as its
input's shape and dtype without running it, so the declaration must say what torch does."""

from __future__ import annotations

import pytest
import torch

from graph.catalog import ELEMENTWISE, by_category
from graph.model import Edge, Graph
from runtime import ops
from runtime.shapes import BATCH, _execute, _run, analyze

ELEMENTWISE_SPECS = [spec for _, _, specs in by_category() for spec in specs
                     if spec.has(ELEMENTWISE)]


def test_the_common_element_wise_layers_are_declared_and_the_others_are_not() -> None:
    ids = {spec.id for spec in ELEMENTWISE_SPECS}
    assert {"ReLU", "GELU", "Sigmoid", "Tanh", "Dropout", "Identity", "LeakyReLU"} <= ids
    # Softmax reads a whole row, PReLU has slopes that must match the channels, Conv2d and
    # Dropout2d (a 4-D layer) change or check the shape: none of them may skip running.
    assert not ids & {"Softmax", "PReLU", "Conv2d", "Dropout2d", "Linear", "Flatten"}
    assert all(not spec.weights for spec in ELEMENTWISE_SPECS)


@pytest.mark.parametrize("spec", ELEMENTWISE_SPECS, ids=lambda spec: spec.id)
def test_the_declaration_matches_running_the_layer_on_meta(spec) -> None:
    params = spec.defaults()
    for shape in ((BATCH, 5), (BATCH, 3, 4, 6)):
        inputs = [(shape, torch.float32, "in")]
        ran = _execute(spec, params, inputs, "meta")
        declared = _run(spec, params, inputs)
        assert (declared.shapes, declared.dtypes, declared.params) == \
            (ran.shapes, ran.dtypes, ran.params) == (((*shape,),), (torch.float32,), 0)
        assert ops.build_module(spec, params, [shape]) is not None  # it still builds


def test_an_element_wise_layer_still_gets_the_checks_running_would_give() -> None:
    graph = Graph()
    tokens = graph.add_node("Input", {"shape": (7,), "dtype": "long"}, name="ids")
    relu = graph.add_node("ReLU", name="relu")
    graph.connect(Edge(tokens.id, "out", relu.id, "in"))
    found = analyze(graph)
    messages = [d.message for d in found.diagnostics if d.node_id == relu.id]
    assert messages == ["ReLU 'relu' receives integer token ids from Input 'ids'; add an "
                        "Embedding before it or set the Input's dtype to float"]
    assert relu.id in found.shapes.not_inferred

    identity = graph.add_node("Identity", name="same")  # any dtype: long stays long
    graph.connect(Edge(tokens.id, "out", identity.id, "in"))
    shapes = analyze(graph).shapes
    assert shapes.outputs[identity.id] == {"out": (BATCH, 7)}
