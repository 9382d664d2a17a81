"""The generated shapes set and the two-target digits set."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from graph.settings import DatasetSettings
from runtime.data import DATASETS, DataError, load_dataset
from runtime.datasets import shapes as shapes_module
from runtime.datasets.shapes import DEFAULT_CLASSES, SHAPES, render


def _shapes(**options) -> DatasetSettings:
    samples = options.pop("samples", 200)
    noise = options.pop("noise", 0.1)
    seed = options.pop("seed", 0)
    return DatasetSettings(name="shapes", samples=samples, noise=noise, seed=seed,
                           options=options)


def test_registered_as_an_image_classification_set():
    info = DATASETS["shapes"]
    assert (info.task, info.kind) == ("classification", "image")
    assert {"classes", "channels", "train_per_class"} <= {p.name for p in info.options}


def test_shapes_classes_and_value_range():
    bundle = load_dataset(_shapes())
    assert bundle.input_shape == (1, 32, 32)
    assert bundle.class_names == list(DEFAULT_CLASSES)
    assert bundle.num_classes == 10
    assert (len(bundle.train), len(bundle.val)) == (160, 40)
    x, y = bundle.train.tensors
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert x.shape == (160, 1, 32, 32)
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert bundle.value_range == (0.0, 1.0)
    every = torch.cat([y, bundle.val.tensors[1]])
    assert every.bincount(minlength=10).tolist() == [20] * 10  # balanced


def test_same_seed_same_images_other_seed_other_images():
    a = load_dataset(_shapes(seed=3)).train.tensors
    b = load_dataset(_shapes(seed=3)).train.tensors
    c = load_dataset(_shapes(seed=4)).train.tensors
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_class_list_picks_and_orders_the_classes():
    bundle = load_dataset(_shapes(classes=["star", "ring", "L"], samples=60))
    assert bundle.class_names == ["star", "ring", "L"]
    assert sorted(torch.cat([bundle.train.tensors[1], bundle.val.tensors[1]]).unique()
                  .tolist()) == [0, 1, 2]
    text = load_dataset(_shapes(classes="star, ring,L", samples=60))
    assert text.class_names == ["star", "ring", "L"]


def test_rgb_option_gives_three_coloured_channels():
    bundle = load_dataset(_shapes(channels=3, samples=40))
    x = bundle.train.tensors[0]
    assert bundle.input_shape == (3, 32, 32) and x.shape[1:] == (3, 32, 32)
    # colours: the channels of an image differ (grey would repeat one channel)
    assert float((x[:, 0] - x[:, 1]).abs().mean()) > 0.02


def test_noise_setting_controls_pixel_noise():
    labels = np.zeros(20, dtype=np.int64)

    def roughness(noise: float) -> float:
        images = render(labels, ["square"], noise, 1, np.random.default_rng(0))
        return float(np.abs(np.diff(images, axis=-1)).mean())

    clean, noisy = roughness(0.0), roughness(0.3)
    assert noisy > 3 * clean
    # without noise the shape is clearly brighter than its background everywhere
    image = render(labels[:1], ["circle"], 0.0, 1, np.random.default_rng(1))[0, 0]
    assert image.max() - np.median(image) > 0.2


def test_every_shape_draws_a_visible_shape_inside_the_image():
    names = list(SHAPES)
    labels = np.repeat(np.arange(len(names)), 4)
    images = render(labels, names, 0.0, 1, np.random.default_rng(0))
    for index, name in enumerate(names):
        for image in images[labels == index, 0]:
            background = np.median(image[[0, -1]])  # top and bottom rows are background
            covered = (image > background + 0.15).mean()
            assert 0.02 < covered < 0.6, name
            border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
            assert (border > background + 0.15).mean() < 0.05, name


def test_train_per_class_keeps_few_training_samples_and_the_same_validation():
    full = load_dataset(_shapes(samples=300, classes=["ring", "L", "T"]))
    few = load_dataset(_shapes(samples=300, classes=["ring", "L", "T"], train_per_class=5))
    assert few.train.tensors[1].bincount().tolist() == [5, 5, 5]
    assert torch.equal(few.val.tensors[0], full.val.tensors[0])
    with pytest.raises(DataError, match="train_per_class"):
        load_dataset(_shapes(samples=30, classes=["ring", "L", "T"], train_per_class=50))


@pytest.mark.parametrize("options, message", [
    ({"classes": ["circle", "hexagon"]}, "unknown shape 'hexagon'"),
    ({"classes": ["circle"]}, "at least 2"),
    ({"classes": ["circle", "circle"]}, "twice"),
    ({"channels": 2}, "'channels' must be one of 1, 3"),
])
def test_bad_options_name_the_option(options, message):
    with pytest.raises(DataError, match=message):
        load_dataset(_shapes(**options))


def test_all_images_are_rendered_in_one_vectorized_call(monkeypatch):
    calls = []
    original = shapes_module.render
    monkeypatch.setattr(shapes_module, "render",
                        lambda *a, **k: calls.append(len(a[0])) or original(*a, **k))
    load_dataset(_shapes(samples=2000))
    assert calls == [2000]


# -- digits with two targets -----------------------------------------------------------------------
def test_digits_multitask_gives_dict_targets_on_the_digits_split():
    bundle = load_dataset(DatasetSettings(name="digits_multitask", seed=0))
    digits = load_dataset(DatasetSettings(name="digits", seed=0))
    x, targets = bundle.train.as_tensors()
    assert set(targets) == {"digit", "even"}
    assert torch.equal(x, digits.train.tensors[0])
    assert torch.equal(targets["digit"], digits.train.tensors[1])
    assert torch.equal(targets["even"], (targets["digit"] % 2 == 0).long())
    image, item = bundle.val[0]
    assert image.shape == (1, 8, 8) and set(item) == {"digit", "even"}
    assert len(bundle.val) == len(digits.val)


def test_digits_multitask_single_target_options():
    even = load_dataset(DatasetSettings(name="digits_multitask", seed=0,
                                        options={"target": "even"}))
    assert even.class_names == ["odd", "even"] and even.num_classes == 2
    x, y = even.train.tensors
    assert set(y.unique().tolist()) == {0, 1}
    digit = load_dataset(DatasetSettings(name="digits_multitask", seed=0,
                                         options={"target": "digit"}))
    assert digit.num_classes == 10
    assert torch.equal(digit.train.tensors[1] % 2 == 0, y.bool())
