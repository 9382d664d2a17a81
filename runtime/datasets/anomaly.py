"""An anomaly-detection set: an autoencoder learns what normal digits look like.

``digits_anomaly`` trains on every digit but one and validates on held-out normal digits plus
every image of the held-out digit, the anomaly. Labels are 0 (normal) and 1 (anomaly): a
reconstruction head never trains on them, but they score its reconstruction error as an
anomaly detector (ROC-AUC, precision and recall at a threshold), as fraud or fault detection
does with data that is mostly normal.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import TensorDataset

from graph.catalog import INT, Param
from graph.fields import Field
from graph.settings import DatasetSettings
from runtime.datasets.core import DataBundle, DatasetInfo, option_int, register, split_indices
from runtime.datasets.synthetic import digit_image_bundle, digit_images

DEFAULT_ANOMALY = 7
ANOMALY = Param("anomaly", INT, DEFAULT_ANOMALY, "The digit left out of training: the anomaly "
                "the autoencoder should flag.", 0, 9, label="Anomaly digit")


@register(DatasetInfo(
    "digits_anomaly", "Digits with an anomaly (autoencoders)",
    "The 8x8 digits without one digit for training; validation holds unseen normal digits and "
    "every image of the left-out digit, labelled anomaly. Train an autoencoder (Output task "
    "reconstruction) and flag the images it rebuilds badly.",
    "classification", "image",
    options=(Field(ANOMALY),)))
def digits_anomaly(settings: DatasetSettings) -> DataBundle:
    anomaly = option_int(settings, ANOMALY)
    images, digits = digit_images()
    normal = np.flatnonzero(digits != anomaly)
    odd = np.flatnonzero(digits == anomaly)
    train, val = split_indices(len(normal), settings.val_split, settings.seed, digits[normal])
    train_idx = normal[train]
    val_idx = np.concatenate([normal[val], odd])
    labels = (digits == anomaly).astype(np.int64)

    def part(index: np.ndarray) -> TensorDataset:
        return TensorDataset(torch.from_numpy(images[index]), torch.from_numpy(labels[index]))

    return digit_image_bundle(settings, part(train_idx), part(val_idx),
                              ["normal", f"anomaly (digit {anomaly})"])
