"""The torch.fx compiler: readable code, node-named submodules, merges, outputs, weights."""

from __future__ import annotations

import pytest
import torch
from graph_builder import Builder
from torch import nn

from graph.model import Edge, Graph, Node
from runtime.compile import (
    build_layer,
    compile_graph,
    load_node_state,
    node_state,
    weights_from_bytes,
    weights_to_bytes,
)


def mlp(build: Builder, hidden: int = 8) -> dict[str, Node]:
    x = build("Input", "x", shape=(4,))
    fc1 = build("Linear", "fc1", x, out_features=hidden)
    act = build("ReLU", "act", fc1)
    fc2 = build("Linear", "fc2", act, out_features=3)
    out = build("Output", "out", fc2)
    return {n.name: n for n in (x, fc1, act, fc2, out)}


def test_build_layer_reads_the_catalog_and_the_input_shape() -> None:
    graph = Graph()
    conv = graph.add_node("Conv2d", {"out_channels": 8, "kernel_size": (5, 3)}, name="c")
    layer = build_layer(conv, [(2, 3, 16, 16)])
    assert isinstance(layer, nn.Conv2d)
    assert (layer.in_channels, layer.out_channels, layer.kernel_size) == (3, 8, (5, 3))
    lstm = build_layer(graph.add_node("LSTM", {"hidden_size": 6}), [(2, 5, 7)])
    assert lstm is not None and lstm.rnn.input_size == 7 and lstm.rnn.batch_first
    for layer_id in ("Input", "Output", "Add", "Multiply", "Concat"):
        assert build_layer(graph.add_node(layer_id), [(2, 4)]) is None


def test_code_reads_like_hand_written_pytorch() -> None:
    build = Builder()
    mlp(build)
    compiled = compile_graph(build.graph)
    code = compiled.module.code
    assert "def forward(self, x):" in code
    assert "fc1 = self.fc1(x)" in code
    assert "act = self.act(fc1)" in code
    assert "return fc2" in code
    assert "getattr" not in code and "= None" not in code
    assert type(compiled.module).__name__ == "PlexusModel"
    assert compiled.module_names == {2: "fc1", 3: "act", 4: "fc2"}
    assert isinstance(compiled.module.fc1, nn.Linear) and compiled.module.fc1.in_features == 4
    assert compiled.input_nodes == [1] and compiled.output_nodes == [5]
    assert compiled.module(torch.randn(5, 4)).shape == (5, 3)


def test_module_names_are_valid_unique_identifiers() -> None:
    build = Builder()
    x = build("Input", "input", shape=(4,))
    a = build("Linear", "conv 1", x, out_features=4)
    b = build("Linear", "2nd layer", a, out_features=4)
    c = build("ReLU", "class", b)
    d = build("ReLU", "forward", c)
    e = build("Tanh", "conv-1", d)
    f = build("Sigmoid", "self", e)
    g = build("GELU", "_modules", f)
    build("Output", "out", g)
    compiled = compile_graph(build.graph)
    names = compiled.module_names
    assert [names[n.id] for n in (a, b, c, d, e, f, g)] == [
        "conv_1", "layer_2nd_layer", "class_", "forward_", "conv_1_2", "self_", "modules_"]
    code = compiled.module.code
    assert "def forward(self, input_):" in code
    for name in names.values():
        assert name.isidentifier() and f"self.{name}(" in code
    assert compiled.module(torch.randn(2, 4)).shape == (2, 4)


def test_residual_add_and_three_input_add() -> None:
    build = Builder()
    x = build("Input", "x", shape=(4, 6, 6))
    conv = build("Conv2d", "conv", x, out_channels=4, padding=(1, 1))
    relu = build("ReLU", "relu", conv)
    skip = build("Add", "skip", relu, x)
    triple = build("Add", "sum3", skip, x, relu)
    build("Output", "out", triple)
    compiled = compile_graph(build.graph)
    code = compiled.module.code
    assert "skip = torch.add(relu, x)" in code
    assert "sum3_partial = torch.add(skip, x)" in code
    assert "sum3 = torch.add(sum3_partial, relu)" in code
    inputs = torch.randn(2, 4, 6, 6)
    m = compiled.module
    with torch.no_grad():
        r = torch.relu(m.conv(inputs))
        expected = (r + inputs) + inputs + r
        assert torch.allclose(m(inputs), expected)


def test_concat_multiply_and_reshape() -> None:
    build = Builder()
    x = build("Input", "x", shape=(12,))
    gate = build("Sigmoid", "gate", x)
    mul = build("Multiply", "gated", x, gate)
    cat = build("Concat", "joined", mul, x)
    grid = build("Reshape", "grid", cat, shape=(2, -1))
    build("Output", "out", grid)
    compiled = compile_graph(build.graph)
    code = compiled.module.code
    assert "gated = torch.mul(x, gate)" in code
    assert "joined = torch.cat([gated, x], dim = 1)" in code
    assert "grid = self.grid(joined)" in code
    inputs = torch.randn(3, 12)
    expected = torch.cat([inputs * torch.sigmoid(inputs), inputs], 1).reshape(3, 2, 12)
    assert torch.allclose(compiled.module(inputs), expected)


def test_multiple_outputs_return_a_tuple_in_node_id_order() -> None:
    build = Builder()
    x = build("Input", "x", shape=(4,))
    y = build("Input", "y", shape=(2,))
    trunk = build("Linear", "trunk", x, out_features=6)
    second = build("Output", "regression", build("Linear", "value", trunk, out_features=1),
                   task="regression")
    first = build("Output", "classes", build("Linear", "logits", trunk, out_features=3))
    build("Output", "aux", y)
    compiled = compile_graph(build.graph)
    assert compiled.input_nodes == [x.id, y.id]
    assert compiled.output_nodes == sorted([first.id, second.id, second.id + 3])
    result = compiled.module(torch.randn(5, 4), torch.randn(5, 2))
    assert isinstance(result, tuple) and [tuple(t.shape) for t in result] == [
        (5, 1), (5, 3), (5, 2)]
    assert "return (value, logits, y)" in compiled.module.code


def test_nodes_that_lead_nowhere_are_left_out() -> None:
    build = Builder()
    n = mlp(build)
    dangling = build("Linear", "unused", n["act"], out_features=2)
    compiled = compile_graph(build.graph)
    assert dangling.id not in compiled.module_names
    assert "unused" not in compiled.module.code


def test_invalid_graph_raises_the_first_error_message() -> None:
    build = Builder()
    x = build("Input", "x", shape=(10,))
    build("Output", "out", build("LSTM", "lstm", build("Linear", "fc", x)))
    with pytest.raises(ValueError) as caught:
        compile_graph(build.graph)
    assert str(caught.value) == (
        "LSTM 'lstm' expects a sequence N x L x F but receives N x 64 from Linear 'fc'; add a "
        "Reshape (to L x F) or an Embedding before it")
    with pytest.raises(ValueError, match="the network has no Input node"):
        compile_graph(Builder().graph)


def test_compiled_graph_is_a_snapshot() -> None:
    build = Builder()
    n = mlp(build)
    compiled = compile_graph(build.graph)
    build.graph.set_param(n["fc1"].id, "out_features", 99)
    assert compiled.graph.nodes[n["fc1"].id].param("out_features") == 8
    assert compiled.graph is not build.graph


def test_bidirectional_last_step_is_final_forward_and_first_backward_state() -> None:
    build = Builder()
    x = build("Input", "x", shape=(5, 3))
    lstm = build("LSTM", "lstm", x, hidden_size=4, num_layers=2, bidirectional=True,
                 output="last")
    build("Output", "out", lstm)
    compiled = compile_graph(build.graph)
    inputs = torch.randn(2, 5, 3)
    with torch.no_grad():
        _, (h_n, _) = compiled.module.lstm.rnn(inputs)
        result = compiled.module(inputs)
    assert torch.allclose(result, torch.cat([h_n[-2], h_n[-1]], dim=1), atol=1e-6)


def test_node_state_round_trip_and_rename_stability() -> None:
    torch.manual_seed(0)
    build = Builder()
    n = mlp(build)
    bn = build("BatchNorm1d", "bn", n["fc2"])
    build.graph.connect(Edge(bn.id, "out", n["out"].id, "in"), check=False)
    build.graph.disconnect(Edge(n["fc2"].id, "out", n["out"].id, "in"))
    first = compile_graph(build.graph)
    state = node_state(first)
    fc1, fc2 = n["fc1"].id, n["fc2"].id
    assert set(state) == {f"{fc1}.weight", f"{fc1}.bias", f"{fc2}.weight", f"{fc2}.bias",
                          f"{bn.id}.weight", f"{bn.id}.bias", f"{bn.id}.running_mean",
                          f"{bn.id}.running_var", f"{bn.id}.num_batches_tracked"}
    first.module.train()
    first.module(torch.randn(8, 4))  # move the running statistics
    first.module.eval()
    inputs = torch.randn(6, 4)
    expected = first.module(inputs)

    build.graph.rename(fc1, "encoder")
    second = compile_graph(build.graph)
    assert second.module_names[fc1] == "encoder"
    assert load_node_state(second, weights_from_bytes(weights_to_bytes(node_state(first)))) == []
    second.module.eval()
    assert torch.equal(second.module(inputs), expected)


def test_changed_shapes_are_skipped_and_reported() -> None:
    build = Builder()
    n = mlp(build)
    state = node_state(compile_graph(build.graph))
    build.graph.set_param(n["fc1"].id, "out_features", 16)  # fc1 and fc2's weight change
    resized = compile_graph(build.graph)
    kept = resized.module.fc2.bias.detach().clone()
    fc1, fc2 = n["fc1"].id, n["fc2"].id
    state["99.weight"] = torch.zeros(1)  # a node that no longer exists
    skipped = load_node_state(resized, state)
    assert skipped == sorted(["99.weight", f"{fc1}.bias", f"{fc1}.weight", f"{fc2}.weight"])
    assert torch.equal(resized.module.fc2.bias, state[f"{fc2}.bias"])
    assert not torch.equal(kept, state[f"{fc2}.bias"])


def test_weights_bytes_are_safetensors() -> None:
    tensors = {"1.weight": torch.arange(6.0).reshape(2, 3), "1.steps": torch.tensor(3)}
    data = weights_to_bytes(tensors)
    assert isinstance(data, bytes)
    back = weights_from_bytes(data)
    assert set(back) == set(tensors)
    assert all(torch.equal(back[k], tensors[k]) for k in tensors)
    with pytest.raises(ValueError, match="not a valid safetensors file"):
        weights_from_bytes(b"not weights")
