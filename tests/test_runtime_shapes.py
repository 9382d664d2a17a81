"""Shape inference on the meta device: exact shapes, parameter counts, user-worded errors."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from graph_builder import Builder

from graph.model import Edge, Graph, Node
from runtime import shapes
from runtime.shape_text import format_shape
from runtime.shapes import BATCH, analyze, describe_failure, infer_shapes


def errors(analysis: shapes.Analysis) -> list[str]:
    return [d.message for d in analysis.diagnostics if d.severity == "error"]


def single_error(build: Builder) -> str:
    found = errors(analyze(build.graph))
    assert len(found) == 1, found
    return found[0]


def lenet(build: Builder) -> dict[str, Node]:
    x = build("Input", "x", shape=(1, 8, 8))
    conv1 = build("Conv2d", "conv1", x, out_channels=16, padding=(1, 1))
    relu1 = build("ReLU", "relu1", conv1)
    pool1 = build("MaxPool2d", "pool1", relu1)
    conv2 = build("Conv2d", "conv2", pool1, out_channels=32, padding=(1, 1))
    pool2 = build("MaxPool2d", "pool2", build("ReLU", "relu2", conv2))
    flat = build("Flatten", "flat", pool2)
    fc1 = build("Linear", "fc1", flat, out_features=64)
    fc2 = build("Linear", "fc2", build("ReLU", "relu3", fc1), out_features=10)
    out = build("Output", "out", fc2)
    return {n.name: n for n in (x, conv1, pool1, conv2, pool2, flat, fc1, fc2, out)}


def test_format_shape_names_the_batch_n() -> None:
    assert format_shape((2, 16, 8, 8)) == "N x 16 x 8 x 8"
    assert format_shape((BATCH,)) == "N"


def test_lenet_shapes_and_parameter_counts() -> None:
    build = Builder()
    n = lenet(build)
    analysis = analyze(build.graph)
    assert analysis.ok and analysis.diagnostics == []
    result = analysis.shapes
    out = {name: result.outputs[node.id].get("out") for name, node in n.items()}
    assert out["x"] == (BATCH, 1, 8, 8)
    assert out["conv1"] == (BATCH, 16, 8, 8)
    assert out["pool1"] == (BATCH, 16, 4, 4)
    assert out["pool2"] == (BATCH, 32, 2, 2)
    assert out["flat"] == (BATCH, 128)
    assert out["fc2"] == (BATCH, 10)
    assert result.outputs[n["out"].id] == {}
    (edge,) = build.graph.in_edges(n["out"].id)
    assert result.edges[edge] == (BATCH, 10)
    assert len(result.edges) == len(build.graph.edges)
    assert result.params[n["conv1"].id] == 16 * 9 + 16
    assert result.params[n["conv2"].id] == 32 * 16 * 9 + 32
    assert result.params[n["fc1"].id] == 128 * 64 + 64
    assert result.params[n["pool1"].id] == 0
    assert result.total_params == 160 + 4640 + 8256 + 650
    assert result.inputs[n["fc1"].id] == [(BATCH, 128)]
    assert not result.not_inferred


def test_recurrent_outputs_and_token_inputs() -> None:
    build = Builder()
    tokens = build("Input", "tokens", shape=(7,), dtype="long")
    emb = build("Embedding", "emb", tokens, num_embeddings=50, embedding_dim=8)
    seq = build("LSTM", "seq", emb, hidden_size=5, bidirectional=True)
    last = build("GRU", "last", seq, hidden_size=3, bidirectional=True, output="last")
    rnn = build("RNN", "rnn", seq, hidden_size=4, output="last")
    enc = build("TransformerEncoderLayer", "enc", emb, nhead=2)
    build("Output", "o1", last)
    build("Output", "o2", rnn)
    build("Output", "o3", enc)
    analysis = analyze(build.graph)
    assert analysis.ok, errors(analysis)
    out = analysis.shapes.outputs
    assert out[emb.id]["out"] == (BATCH, 7, 8)
    assert out[seq.id]["out"] == (BATCH, 7, 10)
    assert out[last.id]["out"] == (BATCH, 6)
    assert out[rnn.id]["out"] == (BATCH, 4)
    assert out[enc.id]["out"] == (BATCH, 7, 8)
    assert analysis.shapes.params[emb.id] == 400


def test_linear_mismatch_message_verbatim() -> None:
    # in_features is read from the input, so inference never builds a mis-sized Linear; the
    # wording applies whenever torch reports one (CPU and meta phrase it differently).
    fc1 = Node(1, "Linear", "fc1", {"out_features": 64})
    sources = [((BATCH, 400), "Flatten 'flat'")]
    expected = "Linear 'fc1' expects 256 input features but receives 400 from Flatten 'flat'"
    for device in ("cpu", "meta"):
        layer = torch.nn.Linear(256, 64, device=device)
        with pytest.raises(RuntimeError) as caught:
            layer(torch.zeros(BATCH, 400, device=device))
        assert describe_failure(fc1, str(caught.value), sources) == expected


def test_add_mismatch_names_both_inputs_and_stops_downstream() -> None:
    build = Builder()
    x = build("Input", "x", shape=(3, 8, 8))
    a = build("Conv2d", "a", x, out_channels=16, padding=(1, 1))
    b = build("Conv2d", "b", x, out_channels=8, padding=(1, 1))
    add = build("Add", "add", a, b)
    after = build("ReLU", "after", add)
    out = build("Output", "out", after)
    analysis = analyze(build.graph)
    assert errors(analysis) == [
        "Add 'add' cannot add N x 16 x 8 x 8 from Conv2d 'a' and N x 8 x 8 x 8 from Conv2d 'b'; "
        "the shapes must be equal (or 1 where they differ), so change the layers before it to "
        "match"]
    assert analysis.shapes.not_inferred == {add.id, after.id, out.id}
    assert [d.node_id for d in analysis.diagnostics] == [add.id]
    assert not analysis.ok


def test_add_of_three_and_multiply_infer() -> None:
    build = Builder()
    x = build("Input", "x", shape=(4,))
    y = build("Input", "y", shape=(1,))
    add = build("Add", "add", x, x, y)
    mul = build("Multiply", "mul", add, x)
    build("Output", "out", mul)
    result = analyze(build.graph).shapes
    assert result.outputs[add.id]["out"] == (BATCH, 4)
    assert result.outputs[mul.id]["out"] == (BATCH, 4)


def test_concat_messages() -> None:
    build = Builder()
    x = build("Input", "x", shape=(3, 8, 8))
    a = build("Conv2d", "a", x, out_channels=16, padding=(1, 1))
    b = build("Conv2d", "b", x, out_channels=8)
    build("Output", "out", build("Concat", "cat", a, b))
    assert single_error(build) == (
        "Concat 'cat' cannot join N x 16 x 8 x 8 from Conv2d 'a' and N x 8 x 6 x 6 from Conv2d "
        "'b' along dimension 1: all other dimensions must be equal; change the layers before it "
        "to match")

    build = Builder()
    x = build("Input", "x", shape=(16,))
    build("Output", "out", build("Concat", "cat", x, x, dim=3))
    assert single_error(build) == (
        "Concat 'cat': dimension 3 does not exist in its input N x 16 from Input 'x'; choose a "
        "dimension from -2 to 1")

    build = Builder()
    x = build("Input", "x", shape=(16,))
    cat = build("Concat", "cat", x, x, x)
    build("Output", "out", cat)
    assert analyze(build.graph).shapes.outputs[cat.id]["out"] == (BATCH, 48)


def test_reshape_messages() -> None:
    cases = {
        (3, 5): "Reshape 'r' cannot reshape N x 64 from Input 'x' (64 values per sample) to "
                "N x 3 x 5 (15 values); choose a shape with 64 values",
        (-1, 5): "Reshape 'r' cannot reshape N x 64 from Input 'x' (64 values per sample) to "
                 "N x -1 x 5: 64 is not a multiple of 5; choose sizes whose product divides 64",
        (-1, -1): "Reshape 'r' can infer only one size (-1) but its shape N x -1 x -1 has 2; "
                  "give the other sizes",
    }
    for target, message in cases.items():
        build = Builder()
        build("Output", "out", build("Reshape", "r", build("Input", "x", shape=(64,)),
                                     shape=target))
        assert single_error(build) == message
    build = Builder()
    r = build("Reshape", "r", build("Input", "x", shape=(64,)), shape=(4, -1, 4))
    build("Output", "out", r)
    assert analyze(build.graph).shapes.outputs[r.id]["out"] == (BATCH, 4, 4, 4)


def test_kernel_larger_than_input() -> None:
    build = Builder()
    pool2 = build("MaxPool2d", "pool2", build("Input", "x", shape=(32, 4, 4)))
    build("Output", "out", build("Conv2d", "conv3", pool2))
    assert single_error(build) == (
        "Conv2d 'conv3' has a 3 x 3 kernel but its input is only 2 x 2 (N x 32 x 2 x 2 from "
        "MaxPool2d 'pool2'); use a smaller kernel, add padding or remove a pooling layer before "
        "it")


def test_pooling_to_nothing() -> None:
    build = Builder()
    build("Output", "out", build("MaxPool2d", "pool3", build("Input", "x", shape=(32, 1, 1))))
    assert single_error(build) == (
        "MaxPool2d 'pool3' would shrink its input N x 32 x 1 x 1 from Input 'x' to nothing; use "
        "a smaller kernel, stride or padding, or remove a pooling layer before it")


def test_wrong_rank_inputs() -> None:
    build = Builder()
    fc = build("Linear", "fc", build("Input", "x", shape=(10,)))
    build("Output", "out", build("LSTM", "lstm", fc))
    assert single_error(build) == (
        "LSTM 'lstm' expects a sequence N x L x F but receives N x 64 from Linear 'fc'; add a "
        "Reshape (to L x F) or an Embedding before it")

    build = Builder()
    fc = build("Linear", "fc", build("Input", "x", shape=(10,)))
    build("Output", "out", build("Conv2d", "conv", fc))
    assert single_error(build) == (
        "Conv2d 'conv' expects N x C x H x W input but receives N x 64 from Linear 'fc'; add a "
        "Reshape before it")

    build = Builder()
    build("Output", "out", build("MaxPool2d", "pool", build("Input", "x", shape=(4, 16))))
    assert single_error(build) == (
        "MaxPool2d 'pool' expects N x C x H x W input but receives N x 4 x 16 from Input 'x'; "
        "add a Reshape before it")


def test_dtype_messages() -> None:
    build = Builder()
    build("Output", "out", build("Embedding", "emb", build("Input", "x", shape=(10,))))
    assert single_error(build) == (
        "Embedding 'emb' expects integer token ids but receives float values from Input 'x'; "
        "feed it from an Input whose dtype is long")

    build = Builder()
    tokens = build("Input", "tokens", shape=(10,), dtype="long")
    build("Output", "out", build("Linear", "fc", tokens))
    assert single_error(build) == (
        "Linear 'fc' receives integer token ids from Input 'tokens'; add an Embedding before it "
        "or set the Input's dtype to float")


def test_transformer_heads_must_divide_features() -> None:
    build = Builder()
    x = build("Input", "x", shape=(6, 30))
    build("Output", "out", build("TransformerEncoderLayer", "enc", x))
    assert single_error(build) == (
        "TransformerEncoderLayer 'enc' has 4 heads, which do not divide its 30 input features "
        "(N x 6 x 30 from Input 'x'); choose a number of heads that divides 30")


def test_dimension_and_output_padding_messages() -> None:
    build = Builder()
    build("Output", "out", build("Softmax", "sm", build("Input", "x", shape=(10,)), dim=3))
    assert single_error(build) == (
        "Softmax 'sm': dimension 3 does not exist in its input N x 10 from Input 'x'; choose a "
        "dimension from -2 to 1")

    build = Builder()
    build("Output", "out", build("Flatten", "flat", build("Input", "x", shape=(10,)),
                                 start_dim=3))
    assert single_error(build) == (
        "Flatten 'flat': dimension 3 does not exist in its input N x 10 from Input 'x'; choose a "
        "dimension from -2 to 1")

    build = Builder()
    x = build("Input", "x", shape=(3, 4, 4))
    build("Output", "out", build("ConvTranspose2d", "up", x, output_padding=(2, 2)))
    assert single_error(build) == (
        "ConvTranspose2d 'up': output padding 2 x 2 must be smaller than the stride 2 x 2; lower "
        "the output padding or raise the stride")


def test_unrecognized_torch_errors_fall_back_to_torchs_first_line() -> None:
    node = Node(1, "Linear", "fc", {})
    assert describe_failure(node, "something odd happened\nmore detail", []) == (
        "Linear 'fc': something odd happened")


def test_torch_warnings_become_warning_diagnostics() -> None:
    build = Builder()
    build("Output", "out", build("GRU", "gru", build("Input", "x", shape=(6, 8)), dropout=0.5))
    analysis = analyze(build.graph)
    assert analysis.ok
    assert [(d.severity, d.message) for d in analysis.diagnostics] == [
        ("warning", "GRU 'gru': dropout only acts between stacked layers, so with 1 layer it "
                    "does nothing; set layers to 2 or more, or dropout to 0")]


def test_structural_errors_skip_inference_without_extra_messages() -> None:
    build = Builder()
    x = build("Input", "x", shape=(6,))
    fc = build("Linear", "fc", x, out_features=0)
    relu = build("ReLU", "relu", fc)
    build("Output", "out", relu)
    analysis = analyze(build.graph)
    assert errors(analysis) == [
        "Linear 'fc': out features must be at least 1, not 0; change it in the inspector"]
    assert {fc.id, relu.id} <= analysis.shapes.not_inferred
    assert analysis.shapes.outputs[x.id]["out"] == (BATCH, 6)


def test_duplicate_names_do_not_stop_shapes() -> None:
    build = Builder()
    fc = build("Linear", "fc", build("Input", "x", shape=(6,)), out_features=3)
    relu = build("ReLU", "fc", fc)
    build("Output", "out", relu)
    analysis = analyze(build.graph)
    assert not analysis.ok  # the duplicate name is an error...
    assert analysis.shapes.outputs[relu.id]["out"] == (BATCH, 3)  # ...but shapes still show


def test_cycles_and_open_inputs_are_not_inferred_quietly() -> None:
    graph = Graph()
    x = graph.add_node("Input", {"shape": (4,)}, name="x")
    a = graph.add_node("Add", name="add")
    relu = graph.add_node("ReLU", name="relu")
    lonely = graph.add_node("ReLU", name="lonely")
    graph.connect(Edge(x.id, "out", a.id, "in1"))
    graph.connect(Edge(a.id, "out", relu.id, "in"))
    graph.connect(Edge(relu.id, "out", a.id, "in2"), check=False)  # a cycle
    result = infer_shapes(graph)
    assert result.diagnostics == []
    assert result.not_inferred == {a.id, relu.id, lonely.id}
    assert result.outputs[x.id]["out"] == (BATCH, 4)


def test_edits_only_rerun_changed_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    build = Builder()
    n = lenet(build)
    ran: list[str] = []
    original = shapes._run

    def counting(spec: Any, params: Any, inputs: Any) -> Any:
        ran.append(spec.id)
        return original(spec, params, inputs)

    monkeypatch.setattr(shapes, "_CACHE", {})
    monkeypatch.setattr(shapes, "_run", counting)
    first = analyze(build.graph)
    assert len(ran) == 10  # each layer once: no two have the same type and input shape
    ran.clear()
    assert analyze(build.graph).shapes == first.shapes
    assert ran == []
    build.graph.set_param(n["fc1"].id, "out_features", 32)
    changed = analyze(build.graph)
    assert ran == ["Linear", "ReLU", "Linear"]  # fc1, relu3 (new width), fc2 (new input)
    assert changed.shapes.outputs[n["fc1"].id]["out"] == (BATCH, 32)
    build.graph.rename(n["fc1"].id, "hidden")
    ran.clear()
    analyze(build.graph)
    assert ran == []


def test_analysis_ok_reflects_errors_only() -> None:
    build = Builder()
    x = build("Input", "x", shape=(4,))
    build("Output", "out", build("Linear", "fc", x, out_features=2))
    build("ReLU", "dangling", x)  # a warning: its result is never used
    analysis = analyze(build.graph)
    assert analysis.ok
    assert any(d.severity == "warning" for d in analysis.diagnostics)
