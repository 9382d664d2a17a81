"""Learned tensors: a parameter that forward uses directly (a class token, a positional
embedding, a layer scale) is one source node with its weights, through compile, export and
the fx and ONNX imports."""

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


def tiny_vit_graph(layers: str = "TransformerEncoderLayer") -> Graph:
    """Patches (N x 4 x 8) -> [class token; patches] + positions -> encoder -> token 0 head."""
    g = Graph()
    x = g.add_node("Input", {"shape": (4, 8)}, name="patches")
    token = g.add_node("LearnedTensor", {"shape": (1, 8), "init": "zeros"}, name="cls")
    pos = g.add_node("LearnedTensor", {"shape": (5, 8)}, name="pos")
    join = g.add_node("Concat", {"dim": 1}, name="tokens")
    add = g.add_node("Add", name="placed")
    encoder = g.add_node(layers, {"nhead": 2, "dim_feedforward": 16, "dropout": 0.0},
                         name="encoder")
    head = g.add_node("Output", name="y")
    g.connect(Edge(x.id, "out", token.id, "like"))
    g.connect(Edge(token.id, "out", join.id, "in1"))
    g.connect(Edge(x.id, "out", join.id, "in2"))
    g.connect(Edge(join.id, "out", add.id, "in1"))
    g.connect(Edge(pos.id, "out", add.id, "in2"))
    g.connect(Edge(add.id, "out", encoder.id, "in"))
    g.connect(Edge(encoder.id, "out", head.id, "in"))
    return g


def test_a_learned_tensor_is_one_for_all_samples_or_repeated_like_its_input():
    g = tiny_vit_graph()
    analysis = analyze(g)
    assert analysis.ok, [d.message for d in analysis.diagnostics]
    shapes = analysis.shapes
    token, pos = g.node_by_name("cls").id, g.node_by_name("pos").id
    assert format_shape(shapes.outputs[pos]["out"]) == "1 x 5 x 8"
    assert format_shape(shapes.outputs[token]["out"]) == "N x 1 x 8"
    assert shapes.params[pos] == 40 and shapes.params[token] == 8
    compiled = compile_graph(g)
    assert torch.equal(compiled.module.cls.value, torch.zeros(1, 8))
    assert float(compiled.module.pos.value.detach().std()) < 0.1  # normal(std=0.02)
    x = torch.randn(3, 4, 8)
    assert compiled.module(x).shape == (3, 5, 8)


def test_a_source_is_not_reported_as_unreached():
    messages = [d.message for d in analyze(tiny_vit_graph()).diagnostics]
    assert not any("not reached" in m for m in messages), messages


def test_export_and_fx_import_round_trip(tmp_path):
    project = with_weights(Project(name="vit", graph=tiny_vit_graph()))
    path = tmp_path / "vit.py"
    export.write_python(project, path)
    text = path.read_text()
    assert 'self.cls = LearnedTensor((1, 8), init="zeros")' in text
    assert "cls = self.cls(patches)" in text
    model = load_exported(path)().eval()
    model.load_weights(str(path.with_suffix(".safetensors")))
    x = torch.randn(2, 4, 8)
    want = compiled_outputs(project, [x])
    with torch.no_grad():
        assert float((model(x) - want[0]).abs().max()) < 1e-6
    imported = import_module(path)
    assert len(imported.graph.nodes_of_type("LearnedTensor")) == 2
    assert float((outputs_of(imported, [x])[0] - want[0]).abs().max()) < 1e-5


class ViT(nn.Module):
    """A small ViT as torchvision writes it: class token expanded to the batch, positional
    embedding added, a Transformer encoder, the class token's output classified."""

    def __init__(self, layers: int = 2) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, 16, kernel_size=4, stride=4)
        self.to_tokens = nn.Linear(64, 64)  # (torchvision permutes; that is another layer's)
        self.class_token = nn.Parameter(torch.randn(1, 1, 16))
        self.pos_embedding = nn.Parameter(torch.randn(1, 5, 16) * 0.02)
        layer = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(5 * 16, 3)  # (x[:, 0], the class token, is Slice's to import)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        x = self.patch(x).reshape(n, 16, 4)  # N x D x L: the patch grid's 2 x 2 positions
        x = self.to_tokens(x.reshape(n, 64)).reshape(n, 4, 16)
        token = self.class_token.expand(n, -1, -1)
        x = torch.cat([token, x], dim=1)
        x = x + self.pos_embedding
        x = self.encoder(x)
        return self.head(x.flatten(1))


class LayerScale(nn.Module):
    """ConvNeXt's layer scale: a per-channel parameter multiplying a block's output."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.layer_scale = nn.Parameter(torch.rand(4, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layer_scale * self.conv(x)


def test_fx_import_of_a_layer_scale():
    torch.manual_seed(0)
    model = LayerScale().eval()
    project = import_module(model, input_shape=(4, 6, 6))
    (scale,) = project.graph.nodes_of_type("LearnedTensor")
    assert scale.params["shape"] == (4, 1, 1)
    x = torch.randn(2, 4, 6, 6)
    with torch.no_grad():
        want = model(x)
    assert float((outputs_of(project, [x])[0] - want).abs().max()) < 1e-5


class Buffered(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("offset", torch.ones(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.offset


def test_fx_import_refuses_a_buffer_by_name():
    with pytest.raises(ModelImportError, match="buffer 'offset' used directly in forward"):
        import_module(Buffered(), input_shape=(5,))


class Positions(nn.Module):
    """A positional embedding added to a sequence, then a layer scale."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.pos_embedding = nn.Parameter(torch.randn(1, 5, 8))
        self.scale = nn.Parameter(torch.rand(8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.fc(x) + self.pos_embedding) * self.scale


@pytest.mark.parametrize("dynamo", [True, False])
def test_onnx_import_makes_initializer_operands_learned_tensors(tmp_path, dynamo):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    from runtime.export_onnx import _quiet_exporter
    from runtime.importer import import_onnx

    torch.manual_seed(0)
    model = Positions().eval()
    path = tmp_path / "positions.onnx"
    x = torch.randn(2, 5, 8)
    with _quiet_exporter():
        if dynamo:
            torch.onnx.export(model, (x,), str(path), dynamo=True, external_data=False,
                              input_names=["x"],
                              dynamic_shapes=({0: torch.export.Dim("batch", min=1)},))
        else:
            torch.onnx.export(model, (x,), str(path), dynamo=False, input_names=["x"],
                              dynamic_axes={"x": {0: "batch"}})
    project = import_onnx(path)
    shapes = sorted(tuple(n.params["shape"])
                    for n in project.graph.nodes_of_type("LearnedTensor"))
    assert shapes == [(5, 8), (8,)]
    x = torch.randn(3, 5, 8)
    with torch.no_grad():
        want = model(x)
    assert float((outputs_of(project, [x])[0] - want).abs().max()) < 1e-5


def test_vit_with_a_transformer_encoder_imports_compiles_and_exports(tmp_path):
    """The ViT pattern end to end: fx import (class token, positions, nn.TransformerEncoder),
    then the imported project's Python export, re-imported, all within 1e-5."""
    torch.manual_seed(0)
    model = ViT().eval()
    project = import_module(model, input_shape=(3, 8, 8))
    types = sorted(n.type for n in project.graph.nodes.values())
    assert types.count("LearnedTensor") == 2 and types.count("TransformerEncoder") == 1
    encoder = project.graph.nodes_of_type("TransformerEncoder")[0]
    assert encoder.params["num_layers"] == 2 and encoder.params["nhead"] == 4
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        want = model(x)
    assert float((outputs_of(project, [x])[0] - want).abs().max()) < 1e-5
    project.name = "vit"
    path = tmp_path / "vit.py"
    export.write_python(project, path)
    text = path.read_text()
    assert "class EncoderStack(nn.Module):" in text
    again = import_module(path)
    assert float((outputs_of(again, [x])[0] - want).abs().max()) < 1e-5


@pytest.mark.parametrize("layers", ["TransformerEncoderLayer", "TransformerEncoder"])
def test_onnx_export_of_learned_tensors_runs_the_same(tmp_path, layers):
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    from runtime.export_onnx import export_onnx

    project = with_weights(Project(name="vit", graph=tiny_vit_graph(layers)))
    path = export_onnx(project, tmp_path / "vit.onnx")
    x = torch.randn(3, 4, 8)
    want = compiled_outputs(project, [x])
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    assert float((torch.from_numpy(got) - want[0]).abs().max()) < 1e-5


def scaled_graph(shape: tuple[int, ...]) -> Graph:
    """N x 5 x 8 times a Learned tensor of ``shape`` (one for all samples: 1 x shape)."""
    g = Graph()
    x = g.add_node("Input", {"shape": (5, 8)}, name="x")
    scale = g.add_node("LearnedTensor", {"shape": shape}, name="scale")
    mul = g.add_node("Multiply", name="scaled")
    head = g.add_node("Output", name="y")
    g.connect(Edge(x.id, "out", mul.id, "in1"))
    g.connect(Edge(scale.id, "out", mul.id, "in2"))
    g.connect(Edge(mul.id, "out", head.id, "in"))
    return g


def test_a_tensor_for_all_samples_may_have_fewer_dimensions_than_the_batch():
    g = scaled_graph((8,))  # 1 x 8 against N x 5 x 8: torch aligns from the right
    analysis = analyze(g)
    assert analysis.ok, [d.message for d in analysis.diagnostics]
    mul = g.node_by_name("scaled").id
    assert format_shape(analysis.shapes.outputs[mul]["out"]) == "N x 5 x 8"
    x = torch.randn(3, 5, 8)
    compiled = compile_graph(g)
    assert torch.allclose(compiled.module(x), x * compiled.module.scale.value)


def test_a_tensor_for_all_samples_with_more_dimensions_is_refused():
    # 1 x 2 x 5 x 8 against N x 5 x 8 would meet the batch with a sample size
    messages = [d.message for d in analyze(scaled_graph((2, 5, 8))).diagnostics]
    assert any("different numbers of dimensions" in m for m in messages), messages
