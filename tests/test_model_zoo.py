"""torchvision's classification families, from their own model classes with random weights:
each imports through torch.fx with the original's outputs, validates, shows shapes, trains one
epoch on the procedural colour shapes and exports to ONNX that onnxruntime runs alike.

torchvision is installed without its compiled operators (``make`` adds it with --no-deps),
which fail to register beside this torch; its pure-Python model classes work once the module
that registers them is kept from loading. The tests skip where torchvision is missing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from graph.settings import DatasetSettings
from runtime.compile import compile_graph, load_node_state, weights_from_bytes
from runtime.importer import import_module
from runtime.shapes import analyze

pytestmark = pytest.mark.slow

SAMPLE = (3, 32, 32)  # the shapes dataset's colour images
CLASSES = "circle,square,triangle,cross,bar"
TOLERANCE = 1e-4


def _vit(models: Any) -> nn.Module:
    return models.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2,
                                    hidden_dim=32, mlp_dim=64, num_classes=5)


def _vgg(models: Any) -> nn.Module:
    """VGG-11 with its classifier's layers 64 wide instead of 4096: the same layers in the
    same order, without the 120M weights that made each export and training step take a
    minute on the CI machine (width is not what an import or export test checks)."""
    model = models.vgg11(num_classes=5)
    model.classifier = nn.Sequential(
        nn.Linear(512 * 7 * 7, 64), nn.ReLU(True), nn.Dropout(),
        nn.Linear(64, 64), nn.ReLU(True), nn.Dropout(),
        nn.Linear(64, 5))
    return model


FAMILIES: dict[str, Callable[[Any], nn.Module]] = {
    "resnet": lambda m: m.resnet18(num_classes=5),
    "vgg": _vgg,
    "densenet": lambda m: m.DenseNet(growth_rate=8, block_config=(2, 2, 2, 2),
                                     num_init_features=16, num_classes=5),
    "mobilenet_v2": lambda m: m.mobilenet_v2(num_classes=5, width_mult=0.5),
    "mobilenet_v3": lambda m: m.mobilenet_v3_small(num_classes=5),
    "efficientnet": lambda m: m.efficientnet_b0(num_classes=5),
    "squeezenet": lambda m: m.squeezenet1_1(num_classes=5),
    "shufflenet_v2": lambda m: m.shufflenet_v2_x0_5(num_classes=5),
    "regnet": lambda m: m.regnet_y_400mf(num_classes=5),
    "convnext": lambda m: m.convnext_tiny(num_classes=5),
    "vit": _vit,
}


def _original(family: str, models: Any) -> nn.Module:
    torch.manual_seed(0)
    model = FAMILIES[family](models)
    # random but not degenerate batch-norm statistics: the import must carry them over
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return model.eval()


@pytest.fixture(scope="module")
def imported(torchvision_models: Any) -> Callable[[str], tuple[nn.Module, Any]]:
    """``imported(family)``: the original module and its imported project, made once."""
    cache: dict[str, tuple[nn.Module, Any]] = {}

    def get(family: str) -> tuple[nn.Module, Any]:
        if family not in cache:
            original = _original(family, torchvision_models)
            cache[family] = (original, import_module(original, input_shape=SAMPLE))
        return cache[family]

    return get


def _outputs(project: Any, x: torch.Tensor) -> torch.Tensor:
    compiled = compile_graph(project.graph)
    assert load_node_state(compiled, weights_from_bytes(project.weights)) == []
    compiled.module.eval()
    with torch.no_grad():
        return compiled.module(x)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_imports_with_equal_outputs_and_shapes(family, imported):
    original, project = imported(family)
    x = torch.rand(3, *SAMPLE)
    with torch.no_grad():
        want = original(x)
    got = _outputs(project, x)
    assert got.shape == want.shape == (3, 5)
    assert float((got - want).abs().max()) < TOLERANCE
    analysis = analyze(project.graph)
    assert [d.message for d in analysis.diagnostics if d.severity == "error"] == []


def _trains_one_epoch_on_colour_shapes(project) -> None:
    from runtime.session import run_training

    project.dataset = DatasetSettings(name="shapes", samples=40, seed=0,
                                      options={"channels": "3", "classes": CLASSES})
    project.training.epochs = 1
    project.training.batch_size = 8
    result = run_training(project, epochs=1, device="cpu")
    assert result.status == "completed", result.message
    assert len(result.epochs) == 1
    assert all(np.isfinite(loss) for _, loss in result.steps) and result.steps


@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_trains_one_epoch_on_colour_shapes(family, imported):
    _, project = imported(family)
    _trains_one_epoch_on_colour_shapes(project)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_exports_to_onnx_that_runs_alike(family, imported, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from runtime.export_onnx import export_onnx

    _, project = imported(family)
    path = export_onnx(project, tmp_path / f"{family}.onnx")
    x = torch.rand(2, *SAMPLE)
    want = _outputs(project, x).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    assert got.shape == want.shape
    assert float(np.abs(got - want).max()) < TOLERANCE


# --- the originals through torch.onnx.export, then the ONNX importer -------------------------

EXPORTERS = {"dynamo": True, "legacy": False}
# pairs torch.onnx.export itself refuses, before the importer sees a file: the test checks that
# torch still refuses them (with this message) and skips
TORCH_REFUSES: dict[tuple[str, str], str] = {
    ("vgg", "legacy"): "adaptive_avg_pool2d, output size that are not factor of input size",
}
# the pairs whose exports once needed more than the layers' own operators (gathered windows,
# shapes computed at run time, a class token, attention): they also train, as the fx imports do
PATTERNS = [("vgg", "dynamo"), ("shufflenet_v2", "legacy"), ("vit", "dynamo"), ("vit", "legacy")]


def _export_original(original: nn.Module, exporter: str, path: Any) -> None:
    x = torch.rand(2, *SAMPLE)
    if EXPORTERS[exporter]:
        torch.onnx.export(original, (x,), str(path), dynamo=True, external_data=False,
                          input_names=["x"], dynamic_shapes={"x": {0: torch.export.Dim("batch")}})
    else:
        torch.onnx.export(original, (x,), str(path), dynamo=False, input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})


@pytest.fixture(scope="module")
def onnx_imported(torchvision_models: Any, tmp_path_factory: Any
                  ) -> Callable[[str, str], tuple[nn.Module, Any]]:
    """``onnx_imported(family, exporter)``: the original and its import from
    torch.onnx.export's file, made once per pair (skips where torch refuses to export it,
    after checking that it still does)."""
    pytest.importorskip("onnx")
    from runtime.importer import import_onnx

    folder = tmp_path_factory.mktemp("onnx")
    cache: dict[tuple[str, str], tuple[nn.Module, Any]] = {}

    def get(family: str, exporter: str) -> tuple[nn.Module, Any]:
        if (family, exporter) in cache:
            return cache[family, exporter]
        original = _original(family, torchvision_models)
        path = folder / f"{family}-{exporter}.onnx"
        refusal = TORCH_REFUSES.get((family, exporter))
        if refusal is not None:
            with pytest.raises(torch.onnx.errors.OnnxExporterError, match=re.escape(refusal)):
                _export_original(original, exporter, path)
            pytest.skip(f"torch.onnx.export (dynamo={EXPORTERS[exporter]}) refuses {family}: "
                        f"{refusal}")
        _export_original(original, exporter, path)
        cache[family, exporter] = (original, import_onnx(path))
        return cache[family, exporter]

    return get


@pytest.mark.parametrize("exporter", list(EXPORTERS))
@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_exported_by_torch_onnx_imports_with_equal_outputs(family, exporter,
                                                                   onnx_imported):
    original, project = onnx_imported(family, exporter)
    x = torch.rand(3, *SAMPLE)
    with torch.no_grad():
        want = original(x)
    got = _outputs(project, x)
    assert got.shape == want.shape == (3, 5)
    assert float((got - want).abs().max()) < TOLERANCE
    analysis = analyze(project.graph)
    assert [d.message for d in analysis.diagnostics if d.severity == "error"] == []
    assert analysis.shapes.not_inferred == set()
    assert len(analysis.shapes.edges) == len(project.graph.edges)


@pytest.mark.parametrize(("family", "exporter"), PATTERNS)
def test_family_exported_by_torch_onnx_trains_one_epoch(family, exporter, onnx_imported):
    """After the import test of the same pair (the shared project is trained here)."""
    _, project = onnx_imported(family, exporter)
    _trains_one_epoch_on_colour_shapes(project)
