"""ONNX import of what torch's two exporters write: weights computed in the graph, shape
arithmetic over the batch, recurrent states, Plexus' own padding masks and position tables,
and refusals that name the true cause."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from graph import catalog
from graph.model import Edge, Graph
from graph.project import Project
from resources.examples import make
from runtime import export_onnx
from runtime.importer import ModelImportError, import_onnx
from runtime.onnx_fold import Sym, evaluate, has_symbols
from tests.test_catalog_wide import layer_types, outputs_of
from tests.test_runtime_export import compiled_outputs, example_input, with_weights

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxscript")
ort = pytest.importorskip("onnxruntime")

TOLERANCE = 1e-5


def export(module: nn.Module, example: torch.Tensor, path, dynamo: bool) -> None:
    """``torch.onnx.export`` as a user calls it, with a dynamic batch."""
    module.eval()
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            torch.onnx.export(module, (example,), str(path), dynamo=True, external_data=False,
                              input_names=["x"], verbose=False,
                              dynamic_shapes=({0: torch.export.Dim("batch", min=1)},))
        else:
            torch.onnx.export(module, (example,), str(path), dynamo=False, input_names=["x"],
                              dynamic_axes={"x": {0: "batch"}})


def assert_imports_equal(path, module: nn.Module, example: torch.Tensor) -> set[str]:
    """Import ``path``; the imported graph computes what ``module`` and onnxruntime do."""
    project = import_onnx(path)
    with torch.no_grad():
        want = module(example)
    got = outputs_of(project, [example])[0]
    assert tuple(got.shape) == tuple(want.shape)
    assert float((got - want).abs().max()) < TOLERANCE
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    theirs = session.run(None, {"x": example.numpy()})[0]
    assert float(np.abs(theirs - got.numpy()).max()) < TOLERANCE
    return layer_types(project)


# -- constant folding --------------------------------------------------------------------------
def _fold(op: str, *inputs, outputs: int = 1, **attrs):
    from onnx import numpy_helper

    return evaluate(op, [None if i is None else np.asarray(i) for i in inputs], attrs,
                    outputs, numpy_helper.to_array)


def test_folding_evaluates_the_operators_exporters_build_weights_with():
    w = np.arange(24, dtype=np.float32).reshape(8, 3)
    gates = [_fold("Slice", w, [2 * i], [2 * i + 2], [0], [1])[0] for i in range(4)]
    assert gates[1].tolist() == w[2:4].tolist()
    stacked = _fold("Concat", gates[0], gates[3], gates[1], gates[2], axis=0)[0]
    assert stacked[2:4].tolist() == w[6:8].tolist()
    assert _fold("Unsqueeze", stacked, [0])[0].shape == (1, 8, 3)
    assert _fold("Unsqueeze", stacked, axes=[0, -1])[0].shape == (1, 8, 3, 1)  # opset < 13
    assert _fold("Squeeze", w[None], [0])[0].shape == (8, 3)
    assert _fold("Transpose", w, perm=[1, 0])[0].shape == (3, 8)
    assert _fold("Reshape", w, [0, -1])[0].shape == (8, 3)  # 0 keeps that size
    assert _fold("Reshape", w, [4, -1])[0].shape == (4, 6)
    assert _fold("Gather", w, -1, axis=0)[0].tolist() == w[-1].tolist()
    assert _fold("Cast", w, to=7)[0].dtype == np.int64
    parts = _fold("Split", w, [2, 6], outputs=2, axis=0)
    assert [p.shape for p in parts] == [(2, 3), (6, 3)]
    assert [p.shape for p in _fold("Split", w, outputs=4, axis=0)] == [(2, 3)] * 4
    assert _fold("Identity", w)[0] is not None
    zeros = _fold("ConstantOfShape", [1, 2, 5])[0]
    assert zeros.shape == (1, 2, 5) and not zeros.any()
    assert _fold("Shape", w, start=1)[0].tolist() == [3]
    assert _fold("Slice", np.arange(10), [8], [2], [0], [-2])[0].tolist() == [8, 6, 4]
    assert _fold("NoSuchOperator", w) is None


def test_folding_keeps_the_batch_as_a_symbol_through_shape_arithmetic():
    shape = np.array([Sym("batch", batch=True), 4, 6, 6], dtype=object)
    first = _fold("Gather", shape, 0, axis=0)[0]
    target = _fold("Concat", _fold("Unsqueeze", first, [0])[0], np.array([-1]), axis=0)[0]
    assert has_symbols(target) and target[0].batch and target[1] == -1
    product = _fold("Mul", shape[2:3], shape[0:1])[0]
    assert has_symbols(product) and not product[0].batch  # arithmetic: an unknown size


# -- what torch's exporters write ------------------------------------------------------------
class Reader(nn.Module):
    """An LSTM (hidden 128) then a Linear on its last step, or on h_n, or on c_n."""

    def __init__(self, use: str = "last") -> None:
        super().__init__()
        self.lstm = nn.LSTM(8, 128, batch_first=True)
        self.head = nn.Linear(128, 3)
        self.use = use

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, (h, c) = self.lstm(x)
        picked = {"last": lambda: y[:, -1], "h_n": lambda: h[-1], "c_n": lambda: c[-1],
                  "both": lambda: y[:, -1] + h[-1]}[self.use]()
        return self.head(picked)


@pytest.mark.parametrize("dynamo", [True, False], ids=["dynamo", "legacy"])
def test_lstm_of_hidden_128_imports_from_both_exporters(tmp_path, dynamo):
    torch.manual_seed(0)
    model, x = Reader(), torch.randn(3, 5, 8)
    path = tmp_path / "lstm.onnx"
    export(model, x, path, dynamo)
    if dynamo:  # the recurrent weights are computed in the graph, not one initializer
        ops = [n.op_type for n in onnx.load(str(path)).graph.node]
        assert {"Slice", "Concat", "Unsqueeze"} <= set(ops)
    assert assert_imports_equal(path, model, x) == {"Input", "LSTM", "Linear", "Output"}


@pytest.mark.parametrize("dynamo", [True, False], ids=["dynamo", "legacy"])
def test_lstm_final_hidden_state_imports(tmp_path, dynamo):
    torch.manual_seed(1)
    model, x = Reader("h_n"), torch.randn(2, 4, 8)
    path = tmp_path / "lstm_h.onnx"
    export(model, x, path, dynamo)
    assert "LSTM" in assert_imports_equal(path, model, x)


class BothWays(nn.Module):
    """A bidirectional GRU whose two final states, joined, feed a Linear (the tutorial way)."""

    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(6, 16, batch_first=True, bidirectional=True)
        self.head = nn.Linear(32, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.gru(x)[1]
        return self.head(torch.cat((h[-2], h[-1]), dim=1))


@pytest.mark.parametrize("dynamo", [True, False], ids=["dynamo", "legacy"])
def test_bidirectional_final_states_joined_import(tmp_path, dynamo):
    torch.manual_seed(5)
    model, x = BothWays(), torch.randn(2, 4, 6)
    path = tmp_path / "bigru.onnx"
    export(model, x, path, dynamo)
    assert "GRU" in assert_imports_equal(path, model, x)


def test_lstm_cell_state_is_refused_with_its_true_cause(tmp_path):
    torch.manual_seed(2)
    model, x = Reader("c_n"), torch.randn(2, 4, 8)
    path = tmp_path / "lstm_c.onnx"
    export(model, x, path, dynamo=False)
    with pytest.raises(ModelImportError) as info:
        import_onnx(path)
    message = str(info.value)
    assert "no Output node" not in message
    assert message.startswith("cannot import lstm_c.onnx: no Plexus layer for Gather (node '")
    assert "an LSTM's final cell state Y_c (torch's c_n), which no Plexus layer gives; read " \
           "the final hidden state (h_n) or the sequence output instead" in message


def test_lstm_state_as_a_graph_output_names_it(tmp_path):
    class States(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(4, 6, batch_first=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lstm(x)[1][0]

    path = tmp_path / "states.onnx"
    export(States(), torch.randn(2, 3, 4), path, dynamo=False)
    with pytest.raises(ModelImportError) as info:
        import_onnx(path)
    message = str(info.value)
    assert "no Output node" not in message
    assert "the graph output '" in message
    assert "is a recurrent layer's final hidden state Y_h (directions x N x H)" in message


def test_lstm_sequence_and_final_state_together(tmp_path):
    """With an h_n port (declared by the recurrent layers) both import; without one the
    refusal says what to write instead."""
    torch.manual_seed(3)
    model, x = Reader("both"), torch.randn(2, 4, 8)
    path = tmp_path / "both.onnx"
    export(model, x, path, dynamo=False)
    if catalog.spec("LSTM").output_port("h_n") is not None:
        assert "LSTM" in assert_imports_equal(path, model, x)
        return
    with pytest.raises(ModelImportError) as info:
        import_onnx(path)
    assert "reads both the sequence (Y) and the final hidden state (Y_h) of 'lstm', and " \
           "Plexus' LSTM gives one of them; read the last step of the sequence (y[:, -1]) " \
           "instead of h_n" in str(info.value)


class ViewCnn(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.fc = nn.Linear(4 * 6 * 6, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv(x))
        return self.fc(x.view(x.size(0), -1))


@pytest.mark.parametrize("dynamo", [True, False], ids=["dynamo", "legacy"])
def test_view_by_the_batch_size_imports_as_a_flatten(tmp_path, dynamo):
    torch.manual_seed(4)
    model, x = ViewCnn(), torch.randn(3, 1, 8, 8)
    path = tmp_path / "cnn.onnx"
    export(model, x, path, dynamo)
    if not dynamo:  # Shape -> Gather -> Unsqueeze -> Concat -> Reshape
        ops = [n.op_type for n in onnx.load(str(path)).graph.node]
        assert {"Shape", "Gather", "Unsqueeze", "Concat", "Reshape"} <= set(ops)
    assert "Flatten" in assert_imports_equal(path, model, x)


class Pieces(nn.Module):
    """A ShuffleNet-like branch: channels cut by torch.chunk and torch.split, then rejoined."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        left, right = x.chunk(2, dim=1)
        a, b, c = right.split([1, 2, 1], dim=1)
        return torch.cat([torch.relu(left), c, a * b.sum(1, keepdim=True)], dim=1)


@pytest.mark.parametrize("dynamo", [True, False], ids=["dynamo", "legacy"])
def test_split_into_pieces_imports_with_one_port_per_piece(tmp_path, dynamo):
    model, x = Pieces(), torch.randn(3, 8, 4)
    path = tmp_path / "pieces.onnx"
    export(model, x, path, dynamo)
    assert "Split" in {n.op_type for n in onnx.load(str(path)).graph.node}
    assert "Split" in assert_imports_equal(path, model, x)


class StepsFirstAttention(nn.Module):
    """nn.MultiheadAttention of batch_first=False, between transposes (L x N x D inside)."""

    def __init__(self) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(0, 1)
        return self.attention(x, x, x, need_weights=False)[0].transpose(0, 1)


@pytest.mark.parametrize("dynamo", [True, False], ids=["dynamo", "legacy"])
def test_multihead_attention_imports_from_its_module_scope(tmp_path, dynamo):
    """The dynamo exporter's module metadata, or the legacy exporter's name scope around the
    Softmax, marks the attention's operators; a sequence-first module imports batch first."""
    torch.manual_seed(3)
    model, x = StepsFirstAttention(), torch.randn(3, 5, 8)
    path = tmp_path / "attention.onnx"
    export(model, torch.randn(2, 5, 8), path, dynamo=dynamo)
    assert {"MatMul", "Softmax"} <= {n.op_type for n in onnx.load(str(path)).graph.node}
    assert assert_imports_equal(path, model, x) == {"Input", "MultiheadAttention", "Output"}
    layer = next(iter(import_onnx(path).graph.nodes_of_type("MultiheadAttention")))
    assert (layer.name, layer.params["num_heads"]) == ("attention", 2)


class HandWrittenAttention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.query, self.key = nn.Linear(8, 8), nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scores = (self.query(x) @ self.key(x).transpose(1, 2)).softmax(-1)
        return scores @ x


def test_hand_written_attention_is_refused_with_its_true_cause(tmp_path):
    path = tmp_path / "attention.onnx"
    export(HandWrittenAttention(), torch.randn(2, 5, 8), path, dynamo=True)
    with pytest.raises(ModelImportError) as info:
        import_onnx(path)
    message = str(info.value)
    assert "recurrent layer's output" not in message
    assert message.startswith("cannot import attention.onnx: no Plexus layer for MatMul (2 "
                              "nodes, e.g. 'node_matmul': multiplies two computed tensors")
    assert message.endswith("as attention multiplies queries by keys and weights by values; "
                            "Plexus has no product of two computed tensors: attention imports, "
                            "from ONNX as from Python, as a whole nn.MultiheadAttention or "
                            "nn.TransformerEncoderLayer (from the module scopes torch's "
                            "exporters write); write the model's attention with those "
                            "modules)")


def test_weights_that_cannot_be_folded_name_the_operator(tmp_path):
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((3, 2), np.float32), "w")
    nodes = [helper.make_node("Erf", ["w"], ["odd_w"], name="odd"),
             helper.make_node("Gemm", ["x", "odd_w"], ["y"], name="fc")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", 1, ["N", 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])],
                              [w])
    path = tmp_path / "erf.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    with pytest.raises(ModelImportError) as info:
        import_onnx(path)
    assert str(info.value) == ("cannot import erf.onnx: no Plexus layer for Gemm (node 'fc': "
                               "the weight B is computed from constants by Erf node 'odd', "
                               "which the importer cannot evaluate)")


class Encoder(nn.Module):
    """A Transformer encoder layer with every weight moved off its initial value (a zero
    bias would hide a weight read from the wrong operator)."""

    def __init__(self, activation: str) -> None:
        super().__init__()
        self.encoder = nn.TransformerEncoderLayer(16, 4, 40, batch_first=True,
                                                  activation=activation)
        self.head = nn.Linear(16, 3)
        with torch.no_grad():
            for parameter in self.parameters():
                parameter.add_(torch.randn_like(parameter) * 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_transformer_encoder_layer_imports_from_its_module_scope(tmp_path, activation):
    torch.manual_seed(6)
    model, x = Encoder(activation), torch.randn(2, 7, 16)
    path = tmp_path / "encoder.onnx"
    export(model, x, path, dynamo=True)
    assert {"MatMul", "Softmax"} <= {n.op_type for n in onnx.load(str(path)).graph.node}
    assert "TransformerEncoderLayer" in assert_imports_equal(path, model, x)
    layer = next(iter(import_onnx(path).graph.nodes_of_type("TransformerEncoderLayer")))
    assert (layer.name, layer.params["nhead"], layer.params["dim_feedforward"],
            layer.params["activation"]) == ("encoder", 4, 40, activation)


# -- Plexus re-imports what it exports -------------------------------------------------------
def reimport(name: str, tmp_path) -> None:
    project = with_weights(make.build(name))
    path = export_onnx.export_onnx(project, tmp_path / f"{name}.onnx")
    imported = import_onnx(path)
    x = example_input(project, 3)
    want = compiled_outputs(project, x)
    got = outputs_of(imported, x)
    assert len(got) == len(want), name
    for a, b in zip(got, want, strict=True):
        assert tuple(a.shape) == tuple(b.shape), name
        assert float((a - b).abs().max()) < TOLERANCE, name
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {i.name: t.numpy() for i, t in zip(session.get_inputs(), x, strict=True)}
    for a, b in zip(session.run(None, feed), got, strict=True):
        assert float(np.abs(a - b.numpy()).max()) < TOLERANCE, name


def test_own_transformer_export_reimports(tmp_path):
    """sentiment_transformer: positions, attention and the masked mean all come back."""
    reimport("sentiment_transformer", tmp_path)
    types = layer_types(import_onnx(tmp_path / "sentiment_transformer.onnx"))
    assert {"PositionalEncoding", "TransformerEncoderLayer", "SequenceReduce"} <= types


def test_own_export_with_a_padding_mask_reimports(tmp_path):
    """sentiment_lstm: SequenceReduce's masked mean comes back from Equal, Not, Cast,
    Unsqueeze, Mul, ReduceSum, Clip and Div."""
    reimport("sentiment_lstm", tmp_path)
    project = import_onnx(tmp_path / "sentiment_lstm.onnx")
    reduce = next(iter(project.graph.nodes_of_type("SequenceReduce")))
    assert reduce.params["mode"] == "mean"
    masks = [e for e in project.graph.in_edges(reduce.id) if e.dst_port == "mask"]
    assert [project.graph.nodes[e.src].type for e in masks] == ["Input"]


def masked_reduce(mode: str) -> Project:
    """Token ids -> Embedding -> SequenceReduce(mode) with the ids as its mask."""
    graph = Graph()
    tokens = graph.add_node("Input", {"shape": (6,), "dtype": "long"}, name="tokens")
    embed = graph.add_node("Embedding", {"num_embeddings": 20, "embedding_dim": 4},
                           name="embed")
    reduce = graph.add_node("SequenceReduce", {"mode": mode}, name="reduce")
    head = graph.add_node("Output", {"task": "regression"}, name="out")
    for src, dst, port in [(tokens, embed, "in"), (embed, reduce, "in"),
                           (tokens, reduce, "mask"), (reduce, head, "in")]:
        graph.connect(Edge(src.id, "out", dst.id, port))
    return with_weights(Project(graph=graph, name=f"masked_{mode}"))


@pytest.mark.parametrize("mode", ["max", "last"])
def test_masked_max_and_last_reimport(tmp_path, mode):
    project = masked_reduce(mode)
    path = export_onnx.export_onnx(project, tmp_path / f"masked_{mode}.onnx")
    assert "Where" in {n.op_type for n in onnx.load(str(path)).graph.node}
    imported = import_onnx(path)
    x = example_input(project, 4)
    x[0][1] = 0  # one review all padding: zeros
    x[0][2, 3:] = 0
    want, got = compiled_outputs(project, x), outputs_of(imported, x)
    assert float((want[0] - got[0]).abs().max()) < TOLERANCE
    assert not got[0][1].any()
    reduce = next(iter(imported.graph.nodes_of_type("SequenceReduce")))
    assert reduce.params["mode"] == mode
    assert {e.dst_port for e in imported.graph.in_edges(reduce.id)} == {"in", "mask"}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(make.EXAMPLES))
def test_every_example_reimports_from_its_onnx_export(name, tmp_path):
    refused = [n.type for n in make.build(name).graph.nodes.values() if not n.spec.onnx.importable]
    if refused:  # the catalog says why (test_catalog_wide checks the refusal)
        pytest.skip(f"ONNX cannot bring back {', '.join(refused)}")
    reimport(name, tmp_path)
