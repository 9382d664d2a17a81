"""ONNX import of the operator patterns torch's exporters write for one layer or step of
torchvision's families: adaptive pooling as gathered windows (VGG, dynamo), a channel split
and shuffle with shapes computed at run time (ShuffleNetV2, legacy), a class token expanded to
the batch (ViT), Softplus with its threshold and 1-D adaptive pooling lifted to 2-D."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from runtime import export_onnx
from runtime.importer import import_onnx
from tests.test_catalog_wide import layer_project, layer_types, outputs_of
from tests.test_runtime_export import example_input
from tests.test_runtime_import_onnx import assert_imports_equal, export

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxscript")
pytest.importorskip("onnxruntime")

EXPORTERS = pytest.mark.parametrize("dynamo", [True, False], ids=["dynamo", "legacy"])


def _ops(path) -> set[str]:
    return {n.op_type for n in onnx.load(str(path)).graph.node}


class Upsampled(nn.Module):
    """A 2 x 2 map pooled adaptively to 4 x 4: every window is one pixel, which the dynamo
    exporter writes as Transpose, GatherND, Transpose and ReduceMean."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.pool = nn.AdaptiveAvgPool2d((4, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(x)).flatten(1)


def test_adaptive_pooling_written_as_gathered_windows_imports_as_the_layer(tmp_path):
    torch.manual_seed(0)
    model, path = Upsampled(), tmp_path / "windows.onnx"
    export(model, torch.rand(2, 3, 4, 4), path, dynamo=True)
    assert {"GatherND", "Transpose", "ReduceMean"} <= _ops(path)
    assert "AdaptiveAvgPool2d" in assert_imports_equal(path, model, torch.rand(3, 3, 4, 4))
    pool = next(iter(import_onnx(path).graph.nodes_of_type("AdaptiveAvgPool2d")))
    assert pool.params["output_size"] == (4, 4)


class Shuffle(nn.Module):
    """ShuffleNetV2's unit: half the channels pass, half go through a convolution, and the
    halves are interleaved (view, transpose, view by sizes read from the tensor)."""

    def __init__(self) -> None:
        super().__init__()
        self.branch = nn.Sequential(nn.Conv2d(4, 4, 1), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _ in range(2):  # twice: the second unit reads shapes ONNX no longer knows
            kept, changed = x.chunk(2, dim=1)
            x = torch.cat((kept, self.branch(changed)), dim=1)
            n, c, h, w = x.size()
            x = x.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, -1, h, w)
        return x.flatten(1)


@EXPORTERS
def test_channel_split_and_shuffle_with_run_time_shapes_import(tmp_path, dynamo):
    torch.manual_seed(1)
    model, path = Shuffle(), tmp_path / "shuffle.onnx"
    export(model, torch.rand(2, 8, 3, 3), path, dynamo=dynamo)
    types = assert_imports_equal(path, model, torch.rand(3, 8, 3, 3))
    assert {"Reshape", "Transpose", "Concat"} <= types


class ClassToken(nn.Module):
    """ViT's class token: a parameter expanded to the batch and joined before the patches."""

    def __init__(self) -> None:
        super().__init__()
        self.token = nn.Parameter(torch.randn(1, 1, 6))
        self.project = nn.Linear(6, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        token = self.token.expand(x.shape[0], -1, -1)
        return self.project(torch.cat((token, x), dim=1))


@EXPORTERS
def test_class_token_expanded_to_the_batch_imports_as_a_learned_tensor(tmp_path, dynamo):
    torch.manual_seed(2)
    model, path = ClassToken(), tmp_path / "token.onnx"
    export(model, torch.rand(2, 4, 6), path, dynamo=dynamo)
    assert "Expand" in _ops(path)
    assert "LearnedTensor" in assert_imports_equal(path, model, torch.rand(3, 4, 6))
    token = next(iter(import_onnx(path).graph.nodes_of_type("LearnedTensor")))
    assert token.params["shape"] == (1, 6)


def _reimported(layer: str, params: dict, tmp_path) -> tuple[dict, float]:
    """Export one ``layer`` with ``params`` from Plexus and import it back: the imported
    layer's params and the largest difference of the outputs."""
    from graph import layers

    spec = next(s for s in layers.LAYERS if s.id == layer)
    project = layer_project(spec)
    node = next(iter(project.graph.nodes_of_type(layer)))
    node.params.update(params)
    path = export_onnx.export_onnx(project, tmp_path / f"{layer}.onnx")
    imported = import_onnx(path)
    assert layer in layer_types(imported)
    x = example_input(project, 3)
    got, want = outputs_of(imported, x)[0], outputs_of(project, x)[0]
    found = next(iter(imported.graph.nodes_of_type(layer))).params
    return {k: found[k] for k in params}, float((got - want).abs().max())


@pytest.mark.parametrize("params", [{"beta": 1.0, "threshold": 20.0},
                                    {"beta": 2.0, "threshold": 10.0},
                                    {"beta": 0.5, "threshold": 3.0}])
def test_softplus_imports_with_its_beta_and_threshold(params, tmp_path):
    found, diff = _reimported("Softplus", params, tmp_path)
    assert found == params
    assert diff < 1e-6


@pytest.mark.parametrize("size", [1, 2, 4])
def test_adaptive_average_pooling_1d_lifted_to_2d_imports(size, tmp_path):
    found, diff = _reimported("AdaptiveAvgPool1d", {"output_size": size}, tmp_path)
    assert found == {"output_size": size}
    assert diff < 1e-6
