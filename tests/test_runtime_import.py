"""Import: PyTorch modules through torch.fx and ONNX files become graphs that validate,
compile, carry their weights and compute what the original computes."""

from __future__ import annotations

import re
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import torch
from networkx.algorithms import isomorphism
from torch import nn
from torch.nn import functional as F

from graph.model import Graph
from graph.project import Project, load_project, save_project
from resources.examples import make
from runtime import export
from runtime.compile import compile_graph, load_node_state, weights_from_bytes
from runtime.importer import ModelImportError, import_file, import_module, import_onnx
from runtime.shapes import analyze
from tests.test_runtime_export import example_input, mixed_design, with_weights

# A residual CNN as someone would write it in plain PyTorch (not Plexus code): Sequential
# stems, a block class, functional relu, a projection shortcut, BatchNorm, global pooling,
# torch.flatten and an x.view(x.size(0), -1).
RESIDUAL_CNN = '''
import torch
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    def __init__(self, channels_in, channels_out, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, stride=stride, padding=1,
                               bias=False)
        self.bn1 = nn.BatchNorm2d(channels_out)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, padding="same", bias=False)
        self.bn2 = nn.BatchNorm2d(channels_out)
        self.shortcut = nn.Identity()
        if stride != 1 or channels_in != channels_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(channels_in, channels_out, 1, stride=stride, bias=False),
                nn.BatchNorm2d(channels_out))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class TinyResNet(nn.Module):
    """A two-block residual network for 1 x 12 x 12 images."""

    def __init__(self, classes=10, width=8):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.BatchNorm2d(width),
                                  nn.ReLU(inplace=True))
        self.layer1 = Block(width, width)
        self.layer2 = Block(width, 2 * width, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(2 * width, classes))

    def forward(self, x):
        x = self.stem(x)
        x = self.layer2(self.layer1(x))
        x = torch.flatten(self.pool(x), 1)
        x = x.view(x.size(0), -1)
        return self.head(x)


def build_model(classes=10):
    return TinyResNet(classes=classes)
'''


def load_source(path: Path, name: str) -> dict:
    namespace: dict = {"__name__": "residual_test"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace[name]


@pytest.fixture(scope="module")
def residual(tmp_path_factory):
    """The residual CNN's file and an instance with non-trivial BatchNorm statistics."""
    folder = tmp_path_factory.mktemp("residual")
    path = folder / "tiny_resnet.py"
    path.write_text(RESIDUAL_CNN)
    torch.manual_seed(3)
    model = load_source(path, "TinyResNet")(classes=5)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return path, model.eval()


def compiled_of(project: Project):
    compiled = compile_graph(project.graph)
    if project.weights:
        assert load_node_state(compiled, weights_from_bytes(project.weights)) == []
    compiled.module.eval()
    return compiled


def run(project: Project, *inputs: torch.Tensor) -> list[torch.Tensor]:
    with torch.no_grad():
        out = compiled_of(project).module(*inputs)
    return list(out) if isinstance(out, tuple) else [out]


def structure(graph: Graph) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    for node in graph.nodes.values():
        params = {k: list(v) if isinstance(v, tuple) else v
                  for k, v in sorted(node.all_params().items())}
        g.add_node(node.id, key=(node.type, repr(params)))
    for edge in graph.edges:
        g.add_edge(edge.src, edge.dst, ports=(edge.src_port, edge.dst_port))
    return g


def same_structure(a: Graph, b: Graph) -> bool:
    """Same layer types, params and connections (ports included), whatever the ids."""
    return nx.is_isomorphic(structure(a), structure(b),
                            node_match=lambda x, y: x["key"] == y["key"],
                            edge_match=isomorphism.categorical_multiedge_match("ports", None))


def layer_names(graph: Graph) -> set[tuple[str, str]]:
    return {(n.type, n.name) for n in graph.nodes.values()
            if n.type not in ("Add", "Multiply", "Concat")}


# -- round trip of every example ------------------------------------------------------------------
@pytest.mark.parametrize("name", [*make.EXAMPLES, "mixed_net"])
def test_export_then_import_gives_the_same_network(name, tmp_path):
    project = with_weights(mixed_design() if name == "mixed_net" else make.build(name), seed=5)
    written = export.write_python(project, tmp_path / f"{name}.py")
    back = import_module(written[0])  # the weights beside it come along
    assert back.name == export.class_name(project.name)
    assert same_structure(project.graph, back.graph)
    assert layer_names(project.graph) == layer_names(back.graph)
    assert analyze(back.graph).ok
    inputs = example_input(project, batch=4)
    for a, b in zip(run(project, *inputs), run(back, *inputs), strict=True):
        assert float((a - b).abs().max()) < 1e-5


def test_round_trip_survives_the_project_file(tmp_path):
    project = with_weights(make.build("digits_resnet"))
    written = export.write_python(project, tmp_path / "resnet.py")
    back = import_module(written[0], project_name="resnet again")
    save_project(back, tmp_path / "back.plexus")
    loaded = load_project(tmp_path / "back.plexus")
    assert loaded.name == "resnet again" and loaded.weights == back.weights
    x = torch.randn(2, 1, 8, 8)
    assert torch.equal(run(loaded, x)[0], run(project, x)[0])
    # laid out automatically: every node has a place of its own
    positions = [n.pos for n in loaded.graph.nodes.values()]
    assert len(set(positions)) == len(positions)


# -- a residual CNN written in plain PyTorch -------------------------------------------------------
def test_residual_cnn_imports_through_fx(residual):
    path, model = residual
    project = import_module(model, input_shape=(1, 12, 12))
    assert analyze(project.graph).ok
    types = sorted(n.type for n in project.graph.nodes.values())
    assert types.count("Conv2d") == 6 and types.count("BatchNorm2d") == 6
    assert types.count("Add") == 2 and "AdaptiveAvgPool2d" in types
    names = {n.name for n in project.graph.nodes.values()}
    assert {"stem_0", "layer1_conv1", "layer2_shortcut_0", "head_1"} <= names
    conv2 = project.graph.node_by_name("layer1_conv2")
    assert conv2.params["padding"] == (1, 1) and conv2.params["bias"] is False
    x = torch.randn(3, 1, 12, 12)
    with torch.no_grad():
        want = model(x)
    got = run(project, x)[0]
    assert float((got - want).abs().max()) < 1e-5

    # from the file, by factory function with arguments
    from_file = import_module(path, "build_model", kwargs={"classes": 5}, input_shape=[1, 12, 12])
    assert same_structure(from_file.graph, project.graph)
    assert from_file.name == "TinyResNet"
    assert from_file.description == "A two-block residual network for 1 x 12 x 12 images."


def test_residual_cnn_imports_through_onnx(residual, tmp_path):
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    _, model = residual
    path = tmp_path / "tiny_resnet.onnx"
    torch.onnx.export(model, (torch.randn(2, 1, 12, 12),), str(path), dynamo=True,
                      external_data=False, input_names=["image"], verbose=False,
                      dynamic_shapes=({0: torch.export.Dim("batch", min=1)},))
    project = import_onnx(path)
    assert analyze(project.graph).ok
    assert project.graph.node_by_name("image").params["shape"] == (1, 12, 12)
    types = sorted(n.type for n in project.graph.nodes.values())
    assert types.count("Conv2d") == 6 and types.count("Add") == 2 and "Linear" in types
    x = torch.randn(3, 1, 12, 12)
    with torch.no_grad():
        want = model(x)
    got = run(project, x)[0]
    assert float((got - want).abs().max()) < 1e-4
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    onnx_out = session.run(None, {"image": x.numpy()})[0]
    assert float(np.abs(onnx_out - got.numpy()).max()) < 1e-4


# -- functions, recurrent layers, refusals ---------------------------------------------------------
class Functional(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(36, 6)
        self.gate = nn.Linear(36, 6)

    def forward(self, x, extra):
        x = F.max_pool2d(torch.relu(self.conv(x)), 2)
        x = F.dropout(x.view(x.size(0), -1), p=0.3, training=self.training)
        y = torch.cat([self.fc(x), torch.sigmoid(self.gate(x))], dim=1)
        return F.softmax(y * extra.reshape(-1, 12), dim=1), torch.tanh(extra + extra)



def test_functions_become_nodes():
    torch.manual_seed(0)
    model = Functional().eval()
    project = import_module(model, input_shape=[(3, 8, 8), (3, 4)])
    types = {n.name: n.type for n in project.graph.nodes.values()}
    assert types["max_pool2d"] == "MaxPool2d" and types["dropout"] == "Dropout"
    assert types["view"] == "Flatten" and types["cat"] == "Concat"
    assert types["mul"] == "Multiply" and types["reshape"] == "Reshape"
    assert types["softmax"] == "Softmax" and types["add"] == "Add"
    assert sorted(n.name for n in project.graph.nodes_of_type("Output")) == ["output_1",
                                                                              "output_2"]
    assert project.graph.node_by_name("dropout").params["p"] == 0.3
    x, extra = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 4)
    with torch.no_grad():
        want = model(x, extra)
    for a, b in zip(run(project, x, extra), want, strict=True):
        assert float((a - b).abs().max()) < 1e-5


class LastStep(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(30, 8, padding_idx=0)
        self.lstm = nn.LSTM(8, 16, batch_first=True, num_layers=2)
        self.fc = nn.Linear(16, 3)

    def forward(self, tokens):
        out, _ = self.lstm(self.embed(tokens))
        return self.fc(out[:, -1])


def test_plain_lstm_and_last_step_become_an_lstm_node():
    torch.manual_seed(0)
    model = LastStep().eval()
    project = import_module(model, input_shape=(7,))
    lstm = project.graph.node_by_name("lstm")
    assert lstm.type == "LSTM" and lstm.params["output"] == "last"
    assert lstm.params["num_layers"] == 2 and lstm.params["hidden_size"] == 16
    assert project.graph.node_by_name("tokens").params["dtype"] == "long"
    assert "padding_idx=0 dropped" in project.metadata["import_notes"][0]
    tokens = torch.randint(0, 30, (4, 7))
    with torch.no_grad():
        want = model(tokens)
    assert float((run(project, tokens)[0] - want).abs().max()) < 1e-5


class Unsupported(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.grouped = nn.Conv1d(8, 8, 4, padding="same")
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        x = x.permute(0, 2, 1).roll(1, 2)
        x = self.grouped(x).permute(0, 2, 1).roll(1, 1)
        return self.fc(x + 1.0)


def test_unsupported_parts_are_all_listed():
    with pytest.raises(ModelImportError) as info:
        import_module(Unsupported(), input_shape=(5, 8))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("cannot import Unsupported: no Plexus layer for")
    for part in ("Tensor.roll", "'grouped' (Conv1d: padding='same' with an even kernel "
                 "(asymmetric padding))",
                 "operator.add (node 'add': adds a constant)"):
        assert part in message
    assert len(info.value.unsupported) == 4


def test_import_errors_say_what_to_do(tmp_path, residual):
    path, _ = residual
    with pytest.raises(ModelImportError, match="defines Block, TinyResNet; choose"):
        import_module(path, input_shape=(1, 12, 12))
    with pytest.raises(ModelImportError, match="give the input shape"):
        import_module(path, "TinyResNet")
    with pytest.raises(ModelImportError, match="no class or function 'Nope'"):
        import_module(path, "Nope")
    with pytest.raises(ModelImportError, match="fails on an input of shape 3x12x12"):
        import_module(path, "TinyResNet", input_shape=(3, 12, 12))
    with pytest.raises(ModelImportError, match=r"TinyResNet\(...\) failed: TypeError"):
        import_module(path, "TinyResNet", args=[1, 2, 3], input_shape=(1, 12, 12))
    broken = tmp_path / "broken.py"
    broken.write_text("import no_such_module\n")
    with pytest.raises(ModelImportError, match="broken.py: running the file failed: "
                                               "ModuleNotFoundError"):
        import_module(broken)
    with pytest.raises(ModelImportError, match=r"reads Python \(.py\) or ONNX"):
        import_file(tmp_path / "model.pt")


def test_onnx_operators_without_equivalent_are_listed(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((4, 4), np.float32), "fc.weight")
    graph = helper.make_graph(
        [helper.make_node("Transpose", ["x"], ["t"], perm=[2, 1, 0], name="swap"),
         helper.make_node("Gemm", ["t", "fc.weight"], ["y"], transB=1, name="fc"),
         helper.make_node("Erf", ["y"], ["e"], name="erf1"),
         helper.make_node("Erf", ["e"], ["out"], name="erf2")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 4])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 4, 4])], [weight])
    path = tmp_path / "odd.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                 ir_version=8), path)
    with pytest.raises(ModelImportError) as info:
        import_onnx(path)
    assert str(info.value) == ("cannot import odd.onnx: no Plexus layer for Transpose "
                               "(node 'swap': perm=[2, 1, 0]); Erf (2 nodes, e.g. 'erf1')")


def test_onnx_matmul_add_softmax_and_concat(tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(size=(5, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.normal(size=(3,)).astype(np.float32), "b")]
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]),
             helper.make_node("Add", ["m", "b"], ["lin"]),
             helper.make_node("LeakyRelu", ["lin"], ["act"], alpha=0.2),
             helper.make_node("Concat", ["act", "lin"], ["cat"], axis=1),
             helper.make_node("Softmax", ["cat"], ["out"], axis=-1)]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 5])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 6])], inits)
    path = tmp_path / "mlp.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                 ir_version=8), path)
    project = import_onnx(path)
    types = sorted(n.type for n in project.graph.nodes.values())
    assert types == ["Concat", "Input", "LeakyReLU", "Linear", "Output", "Softmax"]
    assert project.graph.nodes_of_type("Linear")[0].params["bias"] is True
    x = rng.normal(size=(4, 5)).astype(np.float32)
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"x": x})[0]
    got = run(project, torch.from_numpy(x))[0].numpy()
    assert float(np.abs(got - want).max()) < 1e-5


def test_cli_import(tmp_path, residual, capsys):
    from main import main

    path, _ = residual
    out = tmp_path / "imported.plexus"
    code = main(["import", str(path), "-o", str(out), "--class", "build_model",
                 "--args", '{"classes": 4}', "--input-shape", "1,12,12"])
    assert code == 0, capsys.readouterr().err
    assert re.search(r"imported \d+ layers from tiny_resnet.py \(with weights\)",
                     capsys.readouterr().out)
    project = load_project(out)
    assert project.graph.node_by_name("head_1").params["out_features"] == 4
    assert main(["import", str(path), "-o", str(out), "--class", "TinyResNet",
                 "--input-shape", "1,x"]) == 1
    assert "--input-shape '1,x'" in capsys.readouterr().err
    assert main(["import", str(path), "-o", str(out), "--class", "Block",
                 "--args", "[2, 2]", "--input-shape", "2,6,6"]) == 0


def test_onnx_lstm_and_gru_as_exporters_lay_them_out(tmp_path):
    """Time-major LSTM (bidirectional, full sequence) and GRU (last step) in the layout
    torch.onnx writes: transposes around the ONNX op, gates in ONNX order."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)

    def const(name: str, *shape: int, dtype=np.float32) -> None:
        inits.append(numpy_helper.from_array((0.5 * rng.normal(size=shape)).astype(dtype),
                                             name))

    inits: list = []
    features, hidden, steps = 3, 4, 5
    const("W", 2, 4 * hidden, features)
    const("R", 2, 4 * hidden, hidden)
    const("B", 2, 8 * hidden)
    const("Wg", 1, 3 * hidden, 2 * hidden)
    const("Rg", 1, 3 * hidden, hidden)
    const("Bg", 1, 6 * hidden)
    const("fc.weight", 2, hidden)
    const("fc.bias", 2)
    inits.append(numpy_helper.from_array(np.array([0, 0, -1], np.int64), "shape3"))
    inits.append(numpy_helper.from_array(np.array(-1, np.int64), "last"))
    inits.append(numpy_helper.from_array(np.array([1], np.int64), "axis1"))
    nodes = [
        helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
        helper.make_node("LSTM", ["xt", "W", "R", "B"], ["y"], hidden_size=hidden,
                         direction="bidirectional", name="node_lstm"),
        helper.make_node("Transpose", ["y"], ["yt"], perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["yt", "shape3"], ["seq_tm"]),
        helper.make_node("GRU", ["seq_tm", "Wg", "Rg", "Bg"], ["g"], hidden_size=hidden,
                         linear_before_reset=1, name="node_gru"),
        helper.make_node("Squeeze", ["g", "axis1"], ["g_tm"]),
        helper.make_node("Transpose", ["g_tm"], ["g_seq"], perm=[1, 0, 2]),
        helper.make_node("Gather", ["g_seq", "last"], ["g_last"], axis=1),
        helper.make_node("Gemm", ["g_last", "fc.weight", "fc.bias"], ["out"], transB=1),
    ]
    graph = helper.make_graph(
        nodes, "rnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", steps,
                                                                               features])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 2])], inits)
    path = tmp_path / "rnn.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                ir_version=8), path)
    project = import_onnx(path)
    lstm, gru = project.graph.node_by_name("lstm"), project.graph.node_by_name("gru")
    assert (lstm.type, lstm.params["bidirectional"], lstm.params["output"]) == (
        "LSTM", True, "sequence")
    assert (gru.type, gru.params["bidirectional"], gru.params["output"]) == (
        "GRU", False, "last")
    x = rng.normal(size=(3, steps, features)).astype(np.float32)
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"x": x})[0]
    got = run(project, torch.from_numpy(x))[0].numpy()
    assert float(np.abs(got - want).max()) < 1e-5


# A tutorial's positional encodings: classes that share the name of Plexus' layer but not its
# code, traced through rather than taken for it.
USER_POSITIONS = '''
import math

import torch
from torch import nn


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=50):
        super().__init__()
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(1, max_len, d_model)
        pe[0, :, 0::2] = torch.sin(position * div_term)
        pe[0, :, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe)

    def forward(self, x):
        return x + self.pe[:, :x.size(1)]


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(4, 8)
        self.pos = PositionalEncoding(8)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.pos(self.embed(x)).mean(1))
'''


class PositionalEncoding(nn.Module):
    """Learned positions under Plexus' layer's name: fx traces it into a Learned tensor."""

    def __init__(self, length: int, features: int) -> None:
        super().__init__()
        self.pe = nn.Parameter(torch.randn(1, length, features))

    def forward(self, x):
        return x + self.pe


def test_a_user_class_named_like_a_plexus_layer_is_traced_through():
    model = nn.Sequential(nn.Linear(4, 8), PositionalEncoding(6, 8), nn.ReLU())
    project = import_module(model, input_shape=(6, 4))
    types = sorted(n.type for n in project.graph.nodes.values())
    assert "PositionalEncoding" not in types and "LearnedTensor" in types
    compiled = compile_graph(project.graph)
    load_node_state(compiled, weights_from_bytes(project.weights))
    x = torch.randn(3, 6, 4)
    with torch.no_grad():
        assert float((compiled.module.eval()(x) - model(x)).abs().max()) < 1e-6


def test_a_user_class_named_like_a_plexus_layer_is_refused_for_what_it_does(tmp_path):
    path = tmp_path / "tutorial.py"
    path.write_text(USER_POSITIONS)
    with pytest.raises(ModelImportError) as error:
        import_file(path, "Model", input_shape=(5, 4))
    message = str(error.value)
    assert "buffer 'pos.pe' used directly in forward" in message
    assert "do not fit" not in message and "'pos' (PositionalEncoding" not in message


def test_a_layer_built_for_other_sizes_than_its_input_is_refused_by_name():
    from runtime import ops

    model = nn.Sequential(nn.Linear(4, 8), ops.PositionalEncoding(9, 8, kind="learned"))
    with pytest.raises(ModelImportError, match=r"'1' \(PositionalEncoding: its position is "
                                               r"9x8 but the layer Plexus builds for this "
                                               r"input has 5x8"):
        import_module(model, input_shape=(5, 4))


def test_a_torch_module_the_catalog_does_not_declare_is_refused_by_path_and_class():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.PixelShuffle(2))
    with pytest.raises(ModelImportError) as info:
        import_module(model, input_shape=(3, 6, 6))
    assert str(info.value) == ("cannot import Sequential: no Plexus layer for '1' (PixelShuffle: "
                               "not in Plexus' catalog; rebuild it from catalog layers or leave "
                               "it out)")


class PatchTokens(nn.Module):
    """ViT's patching as torchvision writes it: sizes read from x.shape, checked with
    torch._assert and computed with //; a channels-last LayerNorm through F.layer_norm."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, 8, 2, stride=2)
        self.norm = nn.LayerNorm(8)

    def forward(self, x):
        n, c, h, w = x.shape
        torch._assert(x.dim() == 4, "not an image")
        torch._assert(h == 6, "wrong image size")
        x = self.proj(x)
        x = x.reshape(n, 8, (h // 2) * (w // 2)).permute(0, 2, 1)
        return F.layer_norm(x, self.norm.normalized_shape, self.norm.weight, self.norm.bias,
                            1e-6)


def test_sizes_of_the_sample_are_constants_and_layer_norm_calls_become_nodes():
    model = PatchTokens()
    nn.init.normal_(model.norm.weight)
    project = import_module(model, input_shape=(3, 6, 4))
    norms = [n for n in project.graph.nodes.values() if n.type == "LayerNorm"]
    assert [n.params["eps"] for n in norms] == [1e-6]
    reshape = next(n for n in project.graph.nodes.values() if n.type == "Reshape")
    assert tuple(reshape.params["shape"]) == (8, 6)
    compiled = compile_graph(project.graph)
    load_node_state(compiled, weights_from_bytes(project.weights))
    x = torch.randn(2, 3, 6, 4)
    with torch.no_grad():
        assert float((compiled.module.eval()(x) - model(x)).abs().max()) < 1e-5


def test_a_failed_size_check_and_sizes_with_the_batch_are_refused_by_node():
    with pytest.raises(ModelImportError) as info:
        import_module(PatchTokens(), input_shape=(3, 4, 4))
    assert str(info.value) == ("PatchTokens fails on an input of shape 3x4x4 at node "
                               "'_assert_1': wrong image size; check the input shape")

    class Sizes(nn.Module):
        def forward(self, x):
            return x.reshape(x.shape[:2] + (-1,))

    with pytest.raises(ModelImportError, match=r"reads the sizes slice\(None, 2, None\), "
                                               r"which include the batch size"):
        import_module(Sizes(), input_shape=(3, 4, 4))


class Linear(nn.Linear):
    """A user's Linear under Plexus' layer's name, doing more than it: traced through."""

    def forward(self, x):
        return torch.relu(super().forward(x))


def test_a_subclass_of_a_torch_layer_with_its_own_forward_is_traced_through():
    model = nn.Sequential(Linear(4, 3), nn.Tanh())
    project = import_module(model, input_shape=(4,))
    graph = project.graph
    order = [graph.nodes[i].type for i in nx.topological_sort(graph.to_networkx())]
    assert order == ["Input", "Linear", "ReLU", "Tanh", "Output"]
    compiled = compile_graph(graph)
    load_node_state(compiled, weights_from_bytes(project.weights))
    x = torch.randn(5, 4)
    with torch.no_grad():
        assert float((compiled.module.eval()(x) - model(x)).abs().max()) < 1e-6
