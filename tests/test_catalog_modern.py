"""The layers of modern architectures (issue 13): grouped and depthwise convolutions, pooling
options, activations, broadcasting merges, reductions and tensor ops, through the fx and ONNX
imports and the messages validation gives. tests/test_catalog_wide.py runs each declaration's
defaults everywhere; these check the options and cases the defaults do not reach."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from graph.project import Project
from runtime import export_onnx
from runtime.importer import import_module, import_onnx
from runtime.shapes import analyze
from tests.graph_builder import Builder
from tests.test_catalog_wide import assert_same, outputs_of
from tests.test_runtime_export import with_weights


def nodes_of(project: Project, layer_id: str) -> list:
    return [n for n in project.graph.nodes.values() if n.type == layer_id]


def imported(model: nn.Module, *shapes: tuple[int, ...]) -> tuple[Project, list[torch.Tensor]]:
    """``model`` through the fx import; its outputs and the imported graph's must agree."""
    model.eval()
    project = import_module(model, input_shape=list(shapes) if len(shapes) > 1 else shapes[0])
    x = [torch.randn(3, *s) for s in shapes]
    with torch.no_grad():
        want = model(*x)
    assert_same(outputs_of(project, x), [want], "fx import")
    return project, x


def onnx_round_trip(project: Project, tmp_path, shapes: list[tuple[int, ...]]) -> Project:
    """``project`` through ONNX and back; both compute the same."""
    pytest.importorskip("onnxscript")
    back = import_onnx(export_onnx.export_onnx(project, tmp_path / "net.onnx"))
    x = [torch.randn(3, *s) for s in shapes]
    assert_same(outputs_of(back, x), outputs_of(project, x), "ONNX import")
    return back


def errors(graph) -> list[str]:
    return [d.message for d in analyze(graph).diagnostics if d.severity == "error"]


# -- convolutions --------------------------------------------------------------------------------
class DepthwiseSeparable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(4, 4, 3, padding=2, dilation=2, groups=4,
                                   padding_mode="reflect", bias=False)
        self.pointwise = nn.Conv2d(4, 8, 1)
        self.grouped = nn.Conv2d(8, 6, 3, groups=2, padding=1, padding_mode="circular")
        self.up = nn.ConvTranspose2d(6, 4, 2, stride=2, groups=2, dilation=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.grouped(self.pointwise(self.depthwise(x))))


def test_depthwise_and_grouped_convolutions_come_back_from_fx():
    project, _ = imported(DepthwiseSeparable(), (4, 8, 8))
    depthwise, pointwise, grouped = nodes_of(project, "Conv2d")
    assert (depthwise.params["groups"], depthwise.params["padding_mode"],
            depthwise.params["dilation"], depthwise.params["bias"]) == (4, "reflect", (2, 2),
                                                                        False)
    assert pointwise.params["groups"] == 1
    assert (grouped.params["groups"], grouped.params["padding_mode"]) == (2, "circular")
    (up,) = nodes_of(project, "ConvTranspose2d")
    assert up.params["groups"] == 2 and up.params["out_channels"] == 4


def test_grouped_convolutions_come_back_from_onnx(tmp_path):
    build = Builder()
    x = build("Input", "x", shape=(4, 8, 8))
    conv = build("Conv2d", "depthwise", x, out_channels=8, groups=4, dilation=(2, 2),
                 padding=(1, 2), padding_mode="reflect")
    conv = build("Conv1d", "line", build("Reshape", "rows", conv, shape=(8, -1)),
                 out_channels=8, padding=1, padding_mode="replicate")
    conv = build("Reshape", "grid", conv, shape=(8, 8, 6))
    up = build("ConvTranspose2d", "up", conv, out_channels=4, groups=2, dilation=(2, 2))
    build("Output", "out", up)
    back = onnx_round_trip(with_weights(Project(name="g", graph=build.graph)), tmp_path,
                           [(4, 8, 8)])
    (conv,) = nodes_of(back, "Conv2d")
    (up,) = nodes_of(back, "ConvTranspose2d")
    assert (conv.params["groups"], conv.params["dilation"], conv.params["padding"],
            conv.params["padding_mode"]) == (4, (2, 2), (1, 2), "reflect")
    (line,) = nodes_of(back, "Conv1d")
    assert (line.params["padding"], line.params["padding_mode"]) == (1, "replicate")
    assert (up.params["groups"], up.params["out_channels"], up.params["dilation"]) == (
        2, 4, (2, 2))


@pytest.mark.parametrize(("channels", "out", "wrong"), [
    (6, 8, "its input channels (6)"), (8, 6, "its output channels (6)"),
    (6, 6, "its input channels (6) or its output channels (6)")])
def test_groups_that_do_not_divide_the_channels_are_named(channels, out, wrong):
    build = Builder()
    x = build("Input", "x", shape=(channels, 8, 8))
    build("Output", "out", build("Conv2d", "dw", x, out_channels=out, groups=4))
    (message,) = errors(build.graph)
    assert message.startswith(f"Conv2d 'dw' has 4 groups, which do not divide {wrong} ")
    assert f"N x {channels} x 8 x 8 from Input 'x'" in message


def test_depthwise_convolution_validates():
    build = Builder()
    x = build("Input", "x", shape=(6, 8, 8))
    build("Output", "out", build("Conv2d", "dw", x, out_channels=12, groups=6))
    assert errors(build.graph) == []


# -- pooling -------------------------------------------------------------------------------------
class PoolOptions(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.max = nn.MaxPool2d(3, 2, 1, dilation=2, ceil_mode=True)
        self.avg = nn.AvgPool2d(3, 1, 1, ceil_mode=True, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avg(self.max(x))
        return F.max_pool2d(x, 2, None, 0, 1, True)


def test_pool_options_come_back_from_fx():
    project, _ = imported(PoolOptions(), (2, 11, 11))
    first, second = nodes_of(project, "MaxPool2d")
    assert (first.params["dilation"], first.params["ceil_mode"]) == ((2, 2), True)
    assert (second.params["kernel_size"], second.params["stride"], second.params["ceil_mode"]
            ) == ((2, 2), (2, 2), True)
    (avg,) = nodes_of(project, "AvgPool2d")
    assert (avg.params["ceil_mode"], avg.params["count_include_pad"]) == (True, False)


def test_one_dimensional_pools_come_back_from_fx_and_onnx(tmp_path):
    model = nn.Sequential(nn.MaxPool1d(3, 2, 1, dilation=1, ceil_mode=True),
                          nn.AvgPool1d(2, count_include_pad=False, padding=1))
    project, _ = imported(model, (3, 10))
    assert nodes_of(project, "MaxPool1d")[0].params["kernel_size"] == 3
    assert nodes_of(project, "AvgPool1d")[0].params["count_include_pad"] is False
    back = onnx_round_trip(project, tmp_path, [(3, 10)])
    assert nodes_of(back, "AvgPool1d")[0].params["padding"] == 1


# -- tensor ops ----------------------------------------------------------------------------------
class Sliced(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = x[:, 1:3]
        b = x[:, :, ::2][..., 0]
        c = x.select(2, -1).permute(0, 2, 1).transpose(1, 2)
        return torch.cat([a.flatten(1), b.flatten(1), c.flatten(1)], 1)


def test_slicing_selecting_and_permuting_come_back_from_fx():
    project, _ = imported(Sliced(), (4, 6, 5))
    slices = sorted((n.params["dim"], n.params["start"], n.params["end"], n.params["step"])
                    for n in nodes_of(project, "Slice"))
    assert slices == [(1, 1, 3, 1), (2, 0, 1_000_000, 2)]  # x[:, 1:3]; x[:, :, ::2]
    selects = sorted((n.params["dim"], n.params["index"]) for n in nodes_of(project, "Select"))
    assert selects == [(2, -1), (3, 0)]  # x.select(2, -1); [..., 0] of a 4-D tensor
    (permute,) = nodes_of(project, "Permute")
    assert permute.params["dims"] == (2, 1)
    (transpose,) = nodes_of(project, "Transpose")
    assert (transpose.params["dim0"], transpose.params["dim1"]) == (1, 2)


def test_tensor_ops_come_back_from_onnx(tmp_path):
    build = Builder()
    x = build("Input", "x", shape=(4, 6, 5))
    y = build("Slice", "s", x, dim=2, start=1, end=5, step=2)
    y = build("Select", "pick", y, dim=-1, index=1)
    y = build("Transpose", "t", build("Reshape", "r", y, shape=(2, 2, 2)), dim0=1, dim1=-1)
    y = build("Upsample", "up", y, size=(4, 3), mode="bilinear")
    build("Output", "out", build("Permute", "p", y, dims=(3, 1, 2)))
    project = with_weights(Project(name="ops", graph=build.graph))
    assert errors(build.graph) == []
    back = onnx_round_trip(project, tmp_path, [(4, 6, 5)])
    assert {n.type for n in back.graph.nodes.values()} >= {"Slice", "Select", "Permute",
                                                            "Transpose", "Upsample"}
    (up,) = nodes_of(back, "Upsample")
    assert (up.params["size"], up.params["mode"]) == ((4, 3), "bilinear")


@pytest.mark.parametrize(("layer", "params", "wanted"), [
    ("Slice", {"dim": 0}, "dimension 0 is the batch"),
    ("Select", {"dim": 5}, "dimension 5 does not exist"),
    ("Transpose", {"dim0": 0, "dim1": 1}, "dimension 0 is the batch"),
    ("Permute", {"dims": (1, 2)}, "dims (1, 2) must list the sample's dimensions 1 to 3"),
])
def test_tensor_op_messages_name_the_node(layer, params, wanted):
    build = Builder()
    x = build("Input", "x", shape=(3, 4, 4))
    build("Output", "out", build(layer, "op", x, **params))
    (message,) = errors(build.graph)
    assert message.startswith(f"{layer} 'op'") and wanted in message


def test_upsample_and_identity_come_back_from_fx():
    model = nn.Sequential(nn.Upsample(scale_factor=2), nn.Identity(),
                          nn.Upsample(size=(5, 7), mode="bilinear", align_corners=True))
    project, _ = imported(model, (2, 3, 3))
    first, second = nodes_of(project, "Upsample")
    assert (first.params["scale_factor"], first.params["mode"]) == (2.0, "nearest")
    assert (second.params["size"], second.params["align_corners"]) == ((5, 7), True)
    assert len(nodes_of(project, "Identity")) == 1


def test_stochastic_depth_drops_samples_only_while_training():
    from runtime.ops import StochasticDepth

    torch.manual_seed(0)
    x = torch.ones(400, 3)
    row = StochasticDepth(0.25, "row").train()(x)
    kept = (row[:, 0] != 0).float()
    assert torch.equal(row[:, 0], row[:, 2])  # whole samples
    assert torch.allclose(row.unique(), torch.tensor([0.0, 4 / 3]))
    assert 0.65 < float(kept.mean()) < 0.85
    whole = StochasticDepth(0.5, "batch").train()(x)
    assert len(whole.unique()) == 1
    assert torch.equal(StochasticDepth(0.9).eval()(x), x)


# -- merges and reductions -----------------------------------------------------------------------
class SqueezeExcitation(nn.Module):
    """MobileNetV3's block: a per-channel gate from the mean over height and width."""

    def __init__(self, channels: int = 8, squeezed: int = 2) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, squeezed, 1)
        self.expand = nn.Conv2d(squeezed, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = x.mean((2, 3), keepdim=True)
        gate = F.hardsigmoid(self.expand(F.relu(self.reduce(gate))))
        return x * gate - x.amax(1, keepdim=True) / gate.sum(1, keepdim=True)


def test_squeeze_and_excitation_broadcasts_through_fx_and_onnx(tmp_path):
    project, _ = imported(SqueezeExcitation(), (8, 5, 5))
    (mean,) = nodes_of(project, "Mean")
    assert (mean.params["dims"], mean.params["keepdim"]) == ((2, 3), True)
    (multiply,) = nodes_of(project, "Multiply")
    edges = {analyze(project.graph).shapes.edges[e] for e in project.graph.in_edges(multiply.id)}
    assert edges == {(2, 8, 5, 5), (2, 8, 1, 1)}
    assert len(nodes_of(project, "Subtract")) == len(nodes_of(project, "Divide")) == 1
    assert nodes_of(project, "Max")[0].params["dims"] == (1,)
    back = onnx_round_trip(project, tmp_path, [(8, 5, 5)])
    # ONNX writes the kept mean over height and width as global average pooling
    assert {"AdaptiveAvgPool2d", "Multiply", "Subtract", "Divide", "Max", "Sum"} <= {
        n.type for n in back.graph.nodes.values()}


def test_mean_over_height_and_width_from_fx():
    class Pooled(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.mean((2, 3))

    project, _ = imported(Pooled(), (3, 4, 6))
    (mean,) = nodes_of(project, "Mean")
    assert (mean.params["dims"], mean.params["keepdim"]) == ((2, 3), False)
    assert {n.type for n in project.graph.nodes.values()} == {"Input", "Mean", "Output"}


def test_reductions_come_back_from_onnx(tmp_path):
    build = Builder()
    x = build("Input", "x", shape=(3, 4, 6))
    y = build("Sum", "s", build("Mean", "m", x, dims=(-1,), keepdim=True), dims=(1,))
    build("Output", "out", build("Max", "top", y, dims=(1, 2), keepdim=True))
    back = onnx_round_trip(with_weights(Project(name="r", graph=build.graph)), tmp_path,
                           [(3, 4, 6)])
    assert [(n.type, n.params["dims"], n.params["keepdim"]) for n in back.graph.nodes.values()
            if n.type in ("Mean", "Sum", "Max")] == [("Mean", (-1,), True), ("Sum", (1,), False),
                                                      ("Max", (1, 2), True)]


def test_a_reduction_of_the_batch_is_named():
    build = Builder()
    x = build("Input", "x", shape=(3, 4))
    build("Output", "out", build("Sum", "total", x, dims=(0, 1)))
    (message,) = errors(build.graph)
    assert message.startswith("Sum 'total': dimension 0 is the batch, which is never reduced")


def test_concat_joins_eight_inputs():
    build = Builder()
    inputs = [build("Input", f"x{i}", shape=(i + 1, 2)) for i in range(8)]
    join = build("Concat", "all", *inputs)
    build("Output", "out", join)
    analysis = analyze(build.graph)
    assert analysis.ok
    assert analysis.shapes.outputs[join.id]["out"] == (2, 36, 2)


# -- activations and reshapes --------------------------------------------------------------------
class Activations(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.prelu = nn.PReLU(3, init=0.1)
        self.elu = nn.ELU(0.5)
        self.softplus = nn.Softplus(2.0, 10.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.gelu(self.prelu(x), approximate="tanh")
        x = F.relu6(self.softplus(self.elu(x)))
        return F.hardsigmoid(F.mish(F.selu(x))).reshape(x.size(0), -1, 2)


def test_activation_options_and_reshape_come_back_from_fx(tmp_path):
    model = Activations()
    with torch.no_grad():
        model.prelu.weight.copy_(torch.tensor([0.1, -0.5, 2.0]))
    project, _ = imported(model, (3, 4))
    (gelu,) = nodes_of(project, "GELU")
    assert gelu.params["approximate"] == "tanh"
    (prelu,) = nodes_of(project, "PReLU")
    assert prelu.params["num_parameters"] == 3
    assert nodes_of(project, "ELU")[0].params["alpha"] == 0.5
    assert (nodes_of(project, "Softplus")[0].params["beta"],
            nodes_of(project, "Softplus")[0].params["threshold"]) == (2.0, 10.0)
    assert nodes_of(project, "Reshape")[0].params["shape"] == (-1, 2)  # the batch kept first


def test_activation_options_come_back_from_onnx(tmp_path):
    build = Builder()
    y = build("PReLU", "prelu", build("Input", "x", shape=(3, 4)), num_parameters=3)
    y = build("ELU", "elu", build("GELU", "gelu", y, approximate="tanh"), alpha=0.5)
    for layer in ("ReLU6", "SELU", "Mish", "Hardsigmoid"):
        y = build(layer, layer.lower(), y)
    build("Output", "out", y)
    back = onnx_round_trip(with_weights(Project(name="a", graph=build.graph)), tmp_path,
                           [(3, 4)])
    chain = [(n.type, n.params) for n in back.graph.nodes.values()
             if n.type not in ("Input", "Output")]
    assert chain == [("PReLU", {"num_parameters": 3, "init": 0.25}),
                     ("GELU", {"approximate": "tanh"}), ("ELU", {"alpha": 0.5}), ("ReLU6", {}),
                     ("SELU", {}), ("Mish", {}), ("Hardsigmoid", {})]


# -- torchvision's families that need these layers ------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize(("family", "layers"), [
    ("mobilenet_v3_small", {"Hardsigmoid", "Multiply", "Conv2d"}),
    ("efficientnet_b0", {"StochasticDepth", "Multiply", "SiLU"})])
def test_torchvision_families_with_depthwise_convs_and_gates_import(torchvision_models, family,
                                                                    layers):
    torch.manual_seed(0)
    model = getattr(torchvision_models, family)(num_classes=5)
    project, _ = imported(model, (3, 32, 32))  # outputs equal within 1e-4
    assert layers <= {n.type for n in project.graph.nodes.values()}
    assert any(n.params.get("groups", 1) > 1 for n in nodes_of(project, "Conv2d"))


class Functional(nn.Module):
    """The functional spellings, with the defaults of builtins that have no signature."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.hardsigmoid(F.mish(F.selu(F.elu(F.softplus(F.relu6(x))))))
        x = F.adaptive_max_pool2d(F.gelu(x, approximate="tanh"), 2).flatten(2)
        return F.max_pool1d(F.avg_pool1d(x, 2, ceil_mode=True), 1)


def test_functional_activations_and_pools_come_back_from_fx():
    project, _ = imported(Functional(), (3, 4, 4))
    chain = [(n.type, n.params) for n in project.graph.nodes.values()
             if n.type not in ("Input", "Output")]
    assert [t for t, _ in chain] == ["ReLU6", "Softplus", "ELU", "SELU", "Mish", "Hardsigmoid",
                                     "GELU", "AdaptiveMaxPool2d", "Flatten", "AvgPool1d",
                                     "MaxPool1d"]
    params = dict(chain)
    assert params["Softplus"] == {"beta": 1.0, "threshold": 20.0}
    assert params["ELU"] == {"alpha": 1.0} and params["GELU"] == {"approximate": "tanh"}
    assert params["AvgPool1d"]["ceil_mode"] is True and params["MaxPool1d"]["kernel_size"] == 1


class EightWay(nn.Module):
    def forward(self, a, b, c, d, e, f, g, h):
        return torch.cat([a, b, c, d, e, f, g, h], dim=-1)


def test_concat_of_eight_inputs_is_one_node_through_fx_and_onnx(tmp_path):
    shapes = [(2, i + 1) for i in range(8)]
    project, _ = imported(EightWay(), *shapes)
    (concat,) = nodes_of(project, "Concat")
    assert len(project.graph.in_edges(concat.id)) == 8 and concat.params["dim"] == -1
    back = onnx_round_trip(project, tmp_path, shapes)
    assert len(nodes_of(back, "Concat")) == 1
