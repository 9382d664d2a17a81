"""Pretrained weights for an imported module: .safetensors and .pth/.pt state dicts (read with
weights_only=True), checkpoint wrappers and DataParallel prefixes, one-line refusals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from graph.project import load_project
from runtime.compile import compile_graph, load_node_state, weights_from_bytes
from runtime.import_fx import load_factory
from runtime.importer import ModelImportError, import_module

ROOT = Path(__file__).resolve().parents[1]
BACKBONE = ROOT / "resources" / "examples" / "tiny_resnet.py"
SHAPE = (3, 32, 32)


class NotATensor:
    """Pickled into a file: weights_only refuses to rebuild it."""


def backbone(seed: int, classes: int = 7) -> torch.nn.Module:
    """The torchvision-style example network with random weights and BatchNorm statistics."""
    torch.manual_seed(seed)
    model = load_factory(BACKBONE, "tiny_resnet")(num_classes=classes)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 1.5)
    return model.eval()


def outputs(project, x: torch.Tensor) -> torch.Tensor:
    compiled = compile_graph(project.graph)
    assert load_node_state(compiled, weights_from_bytes(project.weights)) == []
    with torch.no_grad():
        return compiled.module.eval()(x)


def imported(weights: Path, classes: int = 7):
    return import_module(BACKBONE, "tiny_resnet", kwargs={"num_classes": classes},
                         input_shape=SHAPE, weights=weights)


def test_a_pth_state_dict_imports_with_the_modules_outputs(tmp_path):
    model = backbone(1)
    path = tmp_path / "tiny.pth"
    torch.save(model.state_dict(), path)
    x = torch.randn(4, *SHAPE)
    with torch.no_grad():
        want = model(x)
    got = outputs(imported(path), x)
    assert got.shape == (4, 7)
    assert float((got - want).abs().max()) < 1e-5
    other = outputs(import_module(BACKBONE, "tiny_resnet", kwargs={"num_classes": 7},
                                  input_shape=SHAPE), x)
    assert float((other - want).abs().max()) > 1e-2  # the weights did come from the file


def test_a_checkpoint_with_state_dict_and_module_prefixes_is_unwrapped(tmp_path):
    model = backbone(2)
    wrapped = {f"module.{k}": v for k, v in model.state_dict().items()}
    path = tmp_path / "checkpoint.pt"
    torch.save({"epoch": 90, "state_dict": wrapped, "best_acc1": torch.tensor(0.7)}, path)
    x = torch.randn(3, *SHAPE)
    with torch.no_grad():
        want = model(x)
    assert float((outputs(imported(path), x) - want).abs().max()) < 1e-5
    path2 = tmp_path / "other.pth"
    torch.save({"model": model.state_dict(), "optimizer": {"lr": 0.1}}, path2)
    assert float((outputs(imported(path2), x) - want).abs().max()) < 1e-5


def test_a_pickle_weights_only_refuses_gets_one_line(tmp_path):
    path = tmp_path / "whole_model.pth"
    torch.save({"net": NotATensor()}, path)
    with pytest.raises(ModelImportError) as info:
        imported(path)
    message = str(info.value)
    assert message == ("whole_model.pth: not a state dict that loads safely (it holds objects "
                       "other than tensors, or is damaged); save model.state_dict() with "
                       "torch.save, or convert the file to safetensors")
    numbers = tmp_path / "numbers.pth"
    torch.save([1, 2, 3], numbers)
    with pytest.raises(ModelImportError, match=r"^numbers.pth: holds a list, not a state dict "
                                               "of tensors; save model.state_dict"):
        imported(numbers)
    with pytest.raises(ModelImportError, match=r"^w.bin: weights must be a .safetensors, .pth "
                                               r"or .pt file$"):
        (tmp_path / "w.bin").write_bytes(b"x")
        imported(tmp_path / "w.bin")


def test_keys_and_shapes_that_do_not_fit_are_named_with_their_layers(tmp_path):
    state = backbone(3, classes=5).state_dict()
    path = tmp_path / "five.pth"
    torch.save(state, path)
    with pytest.raises(ModelImportError) as info:
        imported(path, classes=7)
    assert str(info.value) == (
        "five.pth does not fit tiny_resnet.py: tiny_resnet: fc.weight is 5x64 in the file but "
        "7x64 in layer 'fc' (+1 more mis-shaped); save the state_dict of this class built "
        "with the same constructor arguments")
    del state["fc.weight"], state["fc.bias"], state["layer3.0.bn2.running_var"]
    state["head.weight"] = torch.zeros(2)
    torch.save(state, path)
    with pytest.raises(ModelImportError) as info:
        imported(path, classes=5)
    message = str(info.value)
    assert "\n" not in message
    assert ("missing keys layer3.0.bn2.running_var, fc.weight, fc.bias (layers layer3.0.bn2, "
            "fc); unexpected key head.weight (layer head)") in message


def test_cli_imports_a_pth_state_dict(tmp_path):
    model = backbone(4, classes=3)
    weights = tmp_path / "tiny.pth"
    torch.save(model.state_dict(), weights)
    out = tmp_path / "tiny.plexus"
    command = [sys.executable, str(ROOT / "main.py"), "import", str(BACKBONE), "--class",
               "tiny_resnet", "--args", '{"num_classes": 3}', "--input-shape", "3,32,32",
               "--weights", str(weights), "-o", str(out)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "from tiny_resnet.py (with weights)" in result.stdout
    x = torch.randn(2, *SHAPE)
    with torch.no_grad():
        want = model(x)
    assert float((outputs(load_project(out), x) - want).abs().max()) < 1e-5
    bad = tmp_path / "bad.pth"
    torch.save({"net": NotATensor()}, bad)
    result = subprocess.run(command[:-4] + ["--weights", str(bad), "-o", str(out)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "plexus: bad.pth: not a state dict that loads safely (it holds objects other than "
        "tensors, or is damaged); save model.state_dict() with torch.save, or convert the file to "
        "safetensors"]


TORCHVISION_RESNET = '''
import sys
import types

# torchvision's compiled ops do not register beside this torch; its model classes are plain
# Python and work once the part that loads them is kept out.
sys.modules.setdefault("torchvision._meta_registrations",
                       types.ModuleType("torchvision._meta_registrations"))
from torchvision.models import resnet18  # noqa: E402,F401
'''


def test_torchvisions_resnet18_with_a_pth_checkpoint_becomes_a_frozen_backbone(tmp_path):
    """The user's path: torchvision's own class, its weights as a .pth checkpoint (here
    random, saved from DataParallel), imported, then its trunk frozen under a new head."""
    from graph.model import Graph
    from graph.project import Project
    from graph.settings import DatasetSettings
    from runtime.backbone import NewHead
    from runtime.shapes import analyze
    from runtime.transfer import import_layers, trunk_ids

    source = tmp_path / "resnet.py"
    source.write_text(TORCHVISION_RESNET)
    try:
        factory = load_factory(source, "resnet18")
    except ModelImportError as exc:
        pytest.skip(f"torchvision does not load here: {exc}")
    torch.manual_seed(5)
    model = factory().eval()
    path = tmp_path / "resnet18.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}, path)
    shape = (3, 64, 64)  # layer4 still gives 2x2 maps, so the trunk is all four stages
    project = import_module(source, "resnet18", input_shape=shape, weights=path)
    x = torch.randn(2, *shape)
    with torch.no_grad():
        assert float((outputs(project, x) - model(x)).abs().max()) < 1e-4
    target = Project(graph=Graph(), dataset=DatasetSettings(name="shapes"))
    import_layers(project, trunk_ids(project.graph), target, freeze=True,
                  head=NewHead(10, "classification", shape))
    assert analyze(target.graph).ok
    assert sum(n.frozen for n in target.graph.nodes.values()) == 40  # 20 convs, 20 norms
    assert target.graph.nodes_of_type("Linear")[0].params["out_features"] == 10
