"""backbone_transfer: a torchvision-style network imported, cut after its trunk, frozen, and
given a new head for the procedural shapes (issue 13).

The backbone is ``tiny_resnet.py`` beside this file, a ResNet written as torchvision writes
its models, imported through ``runtime.importer`` exactly as ``main.py import`` does. Its
weights are random (seeded; nothing is downloaded), which keeps the example small; the
project's description tells how to do the same with downloaded pretrained weights.
"""

from __future__ import annotations

from pathlib import Path

from graph.model import Graph
from graph.project import Project
from graph.settings import DatasetSettings, TrainingSettings

BACKBONE_FILE = Path(__file__).resolve().parent / "tiny_resnet.py"
BACKBONE_FACTORY = "tiny_resnet"
BACKBONE_SEED = 0
IMAGE_SHAPE = (3, 32, 32)
CLASSES = ["circle", "square", "triangle", "cross", "bar"]


def imported_backbone() -> Project:
    """tiny_resnet with seeded random weights, as ``main.py import`` makes it."""
    import torch

    from runtime.importer import import_module

    torch.manual_seed(BACKBONE_SEED)
    return import_module(BACKBONE_FILE, BACKBONE_FACTORY, input_shape=IMAGE_SHAPE)


def backbone_transfer() -> Project:
    from resources.examples.make import _project
    from runtime.backbone import NewHead, default_end, trunk_until
    from runtime.transfer import import_layers, trunk_ids

    source = imported_backbone()
    end = default_end(source.graph, trunk_ids(source.graph))
    assert end is not None, "tiny_resnet has a trunk"
    project = Project(graph=Graph())
    import_layers(source, trunk_until(source.graph, end), project, (0.0, 0.0), freeze=True,
                  head=NewHead(len(CLASSES), "classification", IMAGE_SHAPE))
    result = _project(
        "backbone_transfer", project.graph,
        "Transfer learning on an imported backbone: a small ResNet written like torchvision's "
        "(tiny_resnet.py beside this example, imported with main.py import), cut after its "
        "last residual block, frozen, with a new head (global average pooling, BatchNorm1d, "
        "Linear, Output) for five colour shapes. Its weights here are random, so the frozen "
        "trunk is a fixed random feature extractor and only the head learns: about 45% right "
        "against 20% by chance, far below what a pretrained trunk gives. To use downloaded "
        "pretrained weights: python main.py import "
        "resnet.py --class resnet18 --input-shape 3,224,224 --weights resnet18.pth -o "
        "resnet18.plexus (a .pth state dict or .safetensors), then in a project with your "
        "data File > Import Layers from Project..., choose resnet18.plexus, keep the trunk "
        "ticked, Freeze and New head, and train.",
        DatasetSettings(name="shapes", samples=2000, noise=0.1, seed=0,
                        options={"classes": list(CLASSES), "channels": "3"}),
        TrainingSettings(optimizer="adam", lr=0.01, batch_size=64, epochs=15, seed=0,
                         device="cpu"))
    result.weights = project.weights
    return result
