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
    conv = build("Conv2d", "depthwise", x, out_channels=8, groups=4, dilation=(2, 2))
    up = build("ConvTranspose2d", "up", conv, out_channels=4, groups=2, dilation=(2, 2))
    build("Output", "out", up)
    back = onnx_round_trip(with_weights(Project(name="g", graph=build.graph)), tmp_path,
                           [(4, 8, 8)])
    (conv,) = nodes_of(back, "Conv2d")
    (up,) = nodes_of(back, "ConvTranspose2d")
    assert (conv.params["groups"], conv.params["dilation"]) == (4, (2, 2))
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
