"""Layers with several output ports: each port is wired on its own, has its own shape, compiles
to an unpacked tuple, exports as ``a, b = self.layer(x)`` and comes back through fx."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from graph.model import Edge, Graph
from graph.project import Project
from runtime import export
from runtime.compile import compile_graph
from runtime.importer import ModelImportError, import_module
from runtime.shape_text import format_shape
from runtime.shapes import analyze
from tests.test_catalog_wide import load_exported, outputs_of
from tests.test_runtime_export import compiled_outputs, with_weights


def connect(graph: Graph, src: int, src_port: str, dst: int, dst_port: str = "in") -> None:
    graph.connect(Edge(src, src_port, dst, dst_port))


def lstm_graph(bidirectional: bool = False, num_layers: int = 2) -> Graph:
    """x -> LSTM; its h_n -> Linear -> Output, its out -> a second Output."""
    g = Graph()
    x = g.add_node("Input", {"shape": (6, 8)}, name="x")
    lstm = g.add_node("LSTM", {"hidden_size": 5, "num_layers": num_layers,
                               "bidirectional": bidirectional}, name="lstm")
    fc = g.add_node("Linear", {"out_features": 3}, name="fc")
    head = g.add_node("Output", name="logits")
    steps = g.add_node("Output", {"task": "regression"}, name="steps")
    connect(g, x.id, "out", lstm.id)
    connect(g, lstm.id, "h_n", fc.id)
    connect(g, fc.id, "out", head.id)
    connect(g, lstm.id, "out", steps.id)
    return g


def test_each_output_port_has_its_own_shape():
    g = lstm_graph(bidirectional=True)
    analysis = analyze(g)
    assert analysis.ok, [d.message for d in analysis.diagnostics]
    lstm = g.node_by_name("lstm").id
    assert analysis.shapes.outputs[lstm] == {"out": (2, 6, 10), "h_n": (2, 10)}
    edges = {e.src_port: format_shape(analysis.shapes.edges[e]) for e in g.out_edges(lstm)}
    assert edges == {"out": "N x 6 x 10", "h_n": "N x 10"}


def test_h_n_is_the_top_layers_final_state_directions_side_by_side():
    torch.manual_seed(0)
    compiled = compile_graph(lstm_graph(bidirectional=True))
    x = torch.randn(3, 6, 8)
    logits, steps = compiled.module(x)
    rnn = compiled.module.lstm.rnn
    _, (h_n, _) = rnn(x)
    final = torch.cat([h_n[-2], h_n[-1]], dim=1)
    assert torch.allclose(compiled.module.fc(final), logits)
    assert torch.allclose(final[:, :5], steps[:, -1, :5])  # forward: the last step
    assert torch.allclose(final[:, 5:], steps[:, 0, 5:])  # backward: the first step


def test_export_unpacks_the_tuple_and_runs(tmp_path):
    project = with_weights(Project(name="h n", graph=lstm_graph()))
    path = tmp_path / "h_n.py"
    export.write_python(project, path)
    text = path.read_text()
    assert "        lstm, lstm_h_n = self.lstm(x)\n" in text
    model = load_exported(path)().eval()
    model.load_weights(str(path.with_suffix(".safetensors")))
    x = torch.randn(2, 6, 8)
    want = compiled_outputs(project, [x])
    with torch.no_grad():
        got = model(x)
    for a, b in zip(got, want, strict=True):
        assert float((a - b).abs().max()) < 1e-6
    imported = import_module(path)
    assert sorted(e.src_port for e in imported.graph.edges
                  if imported.graph.nodes[e.src].type == "LSTM") == ["h_n", "out"]
    for a, b in zip(outputs_of(imported, [x]), want, strict=True):
        assert float((a - b).abs().max()) < 1e-5


def test_unused_h_n_exports_as_an_ignored_name():
    g = lstm_graph()
    g.disconnect(next(e for e in g.edges if e.src_port == "h_n"))
    g.remove_node(g.node_by_name("fc").id)
    g.remove_node(g.node_by_name("logits").id)
    text = export.export_python(Project(name="seq", graph=g))
    assert "lstm, _ = self.lstm(x)" in text


class LastHidden(nn.Module):
    """An LSTM whose final hidden state feeds a Linear, as tutorials write it."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(8, 16, num_layers=2, batch_first=True)
        self.fc = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.lstm(x)
        return self.fc(h[-1])


class GruHidden(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(8, 16, batch_first=True)
        self.fc = nn.Linear(16, 4)
        self.skip = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, h = self.gru(x)
        return self.fc(h[-1]) + self.skip(out[:, -1])


class BothDirections(nn.Module):
    """A bidirectional GRU's two final states joined, as sentiment tutorials write it."""

    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(8, 16, num_layers=2, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(32, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, hidden = self.gru(x)
        return self.fc(torch.cat([hidden[-2], hidden[-1]], dim=1))


class Squeezed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.RNN(8, 16, batch_first=True)
        self.fc = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, hidden = self.rnn(x)
        return self.fc(hidden.squeeze(0))


@pytest.mark.parametrize("cls", [LastHidden, GruHidden, BothDirections, Squeezed])
def test_fx_import_reads_h_n_into_the_h_n_port(cls):
    torch.manual_seed(0)
    model = cls().eval()
    project = import_module(model, input_shape=(6, 8))
    edges = project.graph.edges
    rnn = next(n for n in project.graph.nodes.values() if n.type in ("LSTM", "GRU", "RNN"))
    fcs = [e for e in edges if e.src == rnn.id and e.src_port == "h_n"]
    assert len(fcs) == 1 and project.graph.nodes[fcs[0].dst].type == "Linear"
    x = torch.randn(3, 6, 8)
    with torch.no_grad():
        want = model(x)
    (got,) = outputs_of(project, [x])
    assert float((got - want).abs().max()) < 1e-5


class CellState(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(8, 16, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (_, c) = self.lstm(x)
        return c[-1]


class OneDirection(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(8, 16, batch_first=True, bidirectional=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gru(x)[1][-1]


def test_fx_import_refuses_one_direction_and_says_how_to_join_both():
    with pytest.raises(ModelImportError, match=r"join both: torch.cat\(\[h_n\[-2\], "):
        import_module(OneDirection(), input_shape=(6, 8))


def test_fx_import_refuses_the_cell_state_by_name():
    with pytest.raises(ModelImportError, match="cell state c_n of 'lstm'"):
        import_module(CellState(), input_shape=(6, 8))


# -- Chunk and Split ----------------------------------------------------------------------------
def chunk_graph(chunks: int = 2) -> Graph:
    """x (8 features) -> Chunk -> out1 through a Linear, out2 through a ReLU -> Concat."""
    g = Graph()
    x = g.add_node("Input", {"shape": (8,)}, name="x")
    chunk = g.add_node("Chunk", {"chunks": chunks, "dim": 1}, name="halves")
    fc = g.add_node("Linear", {"out_features": 4}, name="fc")
    act = g.add_node("ReLU", name="act")
    join = g.add_node("Concat", {"dim": 1}, name="join")
    head = g.add_node("Output", name="y")
    connect(g, x.id, "out", chunk.id)
    connect(g, chunk.id, "out1", fc.id)
    connect(g, chunk.id, "out2", act.id)
    connect(g, fc.id, "out", join.id, "in1")
    connect(g, act.id, "out", join.id, "in2")
    connect(g, join.id, "out", head.id)
    return g


def test_chunk_feeds_two_branches():
    g = chunk_graph()
    analysis = analyze(g)
    assert analysis.ok, [d.message for d in analysis.diagnostics]
    chunk = g.node_by_name("halves").id
    assert analysis.shapes.outputs[chunk] == {"out1": (2, 4), "out2": (2, 4)}
    compiled = compile_graph(g)
    x = torch.randn(3, 8)
    with torch.no_grad():
        got = compiled.module(x)
        want = torch.cat([compiled.module.fc(x[:, :4]), torch.relu(x[:, 4:])], dim=1)
    assert torch.allclose(got, want)
    text = export.export_python(Project(name="chunky", graph=g))
    assert "        halves, halves_out2 = self.halves(x)\n" in text


def test_a_wired_output_the_params_do_not_give_is_an_error():
    g = chunk_graph(chunks=3)
    g.set_param(g.node_by_name("halves").id, "chunks", 2)
    extra = g.add_node("Output", name="third")
    connect(g, g.node_by_name("halves").id, "out3", extra.id)
    messages = [d.message for d in analyze(g).diagnostics if d.severity == "error"]
    assert messages == ["Chunk 'halves' gives only out1, out2 with its parameters, but out3 "
                        "is connected; raise its number of outputs or move the connection"]
    with pytest.raises(ValueError, match="gives only out1, out2"):
        compile_graph(g)


def test_split_sizes_that_do_not_add_up_are_explained():
    g = Graph()
    x = g.add_node("Input", {"shape": (8,)}, name="x")
    split = g.add_node("Split", {"sizes": (3, 4), "dim": 1}, name="cut")
    head = g.add_node("Output", name="y")
    connect(g, x.id, "out", split.id)
    connect(g, split.id, "out1", head.id)
    messages = [d.message for d in analyze(g).diagnostics if d.severity == "error"]
    assert messages == ["Split 'cut': its sizes 3 + 4 add up to 7 but dimension 1 of its "
                        "input has 8; make them add up to 8"]


class Gated(nn.Module):
    """A GLU-style block: the features cut in two, one half gating the other."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(6, 8)
        self.head = nn.Linear(4, 3)
        self.side = nn.Linear(2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.fc(x).chunk(2, dim=1)
        c, d, e = torch.split(x, [2, 2, 2], dim=-1)
        return self.head(a * torch.sigmoid(b)) + self.side(c + d + e)


def test_fx_import_of_chunk_and_split_wires_each_piece():
    torch.manual_seed(0)
    model = Gated().eval()
    project = import_module(model, input_shape=(6,))
    types = sorted(n.type for n in project.graph.nodes.values())
    assert types.count("Chunk") == 1 and types.count("Split") == 1
    split = project.graph.nodes_of_type("Split")[0]
    assert split.params["sizes"] == (2, 2, 2) and split.params["dim"] == -1
    assert sorted(e.src_port for e in project.graph.out_edges(split.id)) == \
        ["out1", "out2", "out3"]
    x = torch.randn(4, 6)
    with torch.no_grad():
        want = model(x)
    (got,) = outputs_of(project, [x])
    assert float((got - want).abs().max()) < 1e-5


@pytest.mark.parametrize("make", [lstm_graph, chunk_graph], ids=["h_n", "chunk"])
def test_onnx_export_of_several_outputs_runs_the_same(make, tmp_path):
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    from runtime.export_onnx import export_onnx

    project = with_weights(Project(name="several", graph=make()))
    path = export_onnx(project, tmp_path / "several.onnx")
    x = torch.randn(3, *project.graph.node_by_name("x").param("shape"))
    want = compiled_outputs(project, [x])
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert float((torch.from_numpy(a) - b).abs().max()) < 1e-5
