"""Digits with two targets per image, for networks with several Output heads.

``digits_multitask`` gives each 8x8 digit its class and whether it is even. Targets are a dict
keyed by Output node name ({"digit": ..., "even": ...}), the form ``runtime.heads`` matches to
heads by name, so the order of the Output nodes does not matter. ``options["target"]`` keeps
one of the two as a plain target, so the same head can be trained alone on the very same
split (the split is the one the ``digits`` set uses for the same seed).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, TensorDataset

from graph.catalog import CHOICE, Param
from graph.fields import Field
from graph.settings import DatasetSettings
from runtime.datasets.core import DataBundle, DatasetInfo, option_choice, register, split_indices
from runtime.datasets.synthetic import digit_image_bundle, digit_images

TARGETS = ("digit", "even")  # the Output node names the dict targets are keyed by


class MultiTargetDataset(Dataset):
    """In-memory samples whose target is a dict of tensors, one entry per Output head.

    ``as_tensors`` lets the trainer batch it by indexing, like a TensorDataset.
    """

    def __init__(self, x: Tensor, targets: dict[str, Tensor]) -> None:
        self.x = x
        self.targets = targets

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[Tensor, dict[str, Tensor]]:
        return self.x[i], {name: t[i] for name, t in self.targets.items()}

    def as_tensors(self) -> tuple[Tensor, dict[str, Tensor]]:
        return self.x, dict(self.targets)


TARGET = Param("target", CHOICE, "both", "Both targets (named digit and even, one per Output "
               "head), or one plain target to train a head alone.",
               choices=("both", "digit", "even"), label="Targets",
               choice_labels=("Both", "digit", "even"))


@register(DatasetInfo(
    "digits_multitask", "Digits, two tasks (multi-task)",
    "The 8x8 digits with two targets per image: the digit (10 classes) and whether it is even "
    "(odd / even). Name the network's two Output nodes 'digit' and 'even'; with option "
    "target 'digit' or 'even' only that target is kept, to train one head alone for "
    "comparison.",
    "classification", "image",
    options=(Field(TARGET),)))
def digits_multitask(settings: DatasetSettings) -> DataBundle:
    which = option_choice(settings, TARGET)
    pixels, digits = digit_images()
    images = torch.from_numpy(pixels)
    labels = {"digit": torch.from_numpy(digits.astype(np.int64)),
              "even": torch.from_numpy((digits % 2 == 0).astype(np.int64))}
    train_idx, val_idx = split_indices(len(digits), settings.val_split, settings.seed, digits)

    def part(index: np.ndarray) -> Any:
        rows = torch.from_numpy(index)
        if which == "both":
            return MultiTargetDataset(images[rows], {k: v[rows] for k, v in labels.items()})
        return TensorDataset(images[rows], labels[which][rows])

    names = ["odd", "even"] if which == "even" else [str(d) for d in range(10)]
    return digit_image_bundle(settings, part(train_idx), part(val_idx), names)
