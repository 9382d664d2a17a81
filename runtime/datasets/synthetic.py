"""Built-in data sets: TensorFlow-Playground-like 2-D sets, house prices, and digits.

The 2-D sets stay in their own geometry (about [-1, 1], not standardized) so a decision
boundary plot shows the shapes users expect. ``noise`` is the spread of Gaussian jitter,
sized per set so that 0 is clean, 0.1 is mild (the default) and 0.5 heavily overlapped.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from pathlib import Path

import numpy as np

from graph.catalog import INT, Param
from graph.fields import Field
from graph.settings import DatasetSettings
from runtime.datasets.core import (
    GENERATE_STREAM,
    DataBundle,
    DataError,
    DatasetInfo,
    from_arrays,
    option_int,
    register,
)

_TWO_D_USES = ("samples", "noise")
_TWO_D_NAMES = ["x", "y"]


def _rng(settings: DatasetSettings) -> np.random.Generator:
    return np.random.default_rng([settings.seed, GENERATE_STREAM])


def _balanced_labels(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """n labels, each of k classes n//k or n//k + 1 times, in random order."""
    return rng.permutation(np.arange(n) % k)


def _two_d(settings: DatasetSettings, k: int,
           make: Callable[[np.ndarray, np.random.Generator], np.ndarray],
           jitter: float) -> DataBundle:
    """Points from ``make(labels, rng)`` plus Gaussian noise of std ``noise * jitter``, as a
    2-D classification bundle."""
    rng = _rng(settings)
    labels = _balanced_labels(settings.samples, k, rng)
    made = make(labels, rng)
    points = made + rng.normal(0.0, settings.noise * jitter, made.shape)
    return from_arrays(settings.name, points, labels, "classification", settings,
                       class_names=[str(c) for c in range(k)], feature_names=_TWO_D_NAMES)


@register(DatasetInfo(
    "xor", "XOR",
    "Four Gaussian clusters, one per quadrant; class 1 where x and y have the same sign. "
    "No single straight line separates the classes.",
    "classification", "2d", _TWO_D_USES))
def xor(settings: DatasetSettings) -> DataBundle:
    rng = _rng(settings)
    n = settings.samples
    # half the points in the same-sign quadrants (class 1), half in the others (class 0)
    labels = _balanced_labels(n, 2, rng)
    sx = rng.choice([-1.0, 1.0], n)
    sy = np.where(labels == 1, sx, -sx)
    points = 0.5 * np.stack([sx, sy], 1) + rng.normal(0.0, settings.noise, (n, 2))
    # the label is read from the final position: sign(x) * sign(y), as classes 0 / 1
    labels = (np.sign(points[:, 0]) * np.sign(points[:, 1]) > 0).astype(np.int64)
    return from_arrays(settings.name, points, labels, "classification", settings,
                       class_names=["0", "1"], feature_names=_TWO_D_NAMES)


def _spiral(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    r = rng.uniform(0.05, 1.0, len(labels))
    t = 3.5 * np.pi * r + np.pi * labels  # 1.75 turns; the second arm is the first turned by pi
    return np.stack([r * np.sin(t), r * np.cos(t)], 1)


@register(DatasetInfo(
    "spirals", "Two spirals",
    "Two interleaved spirals of 1.75 turns; a network needs several layers of curved "
    "boundaries to follow them.",
    "classification", "2d", _TWO_D_USES))
def spirals(settings: DatasetSettings) -> DataBundle:
    return _two_d(settings, 2, _spiral, jitter=0.4)


def _circle(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = len(labels)
    inner = 0.5 * np.sqrt(rng.uniform(0.0, 1.0, n))  # uniform over the disc
    outer = rng.uniform(0.75, 1.0, n)
    r = np.where(labels == 0, inner, outer)
    a = rng.uniform(0.0, 2 * np.pi, n)
    return np.stack([r * np.cos(a), r * np.sin(a)], 1)


@register(DatasetInfo(
    "circles", "Circles",
    "A disc (class 0) inside a ring (class 1); separable by distance from the centre.",
    "classification", "2d", _TWO_D_USES))
def circles(settings: DatasetSettings) -> DataBundle:
    return _two_d(settings, 2, _circle, jitter=0.5)


def _moon(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    t = rng.uniform(0.0, np.pi, len(labels))
    upper = np.stack([np.cos(t), np.sin(t)], 1)
    lower = np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], 1)
    points = np.where(labels[:, None] == 0, upper, lower)
    return (points - [0.5, 0.25]) * 0.6  # centred, within about [-0.9, 0.9]


@register(DatasetInfo(
    "moons", "Moons",
    "Two interleaving half circles.",
    "classification", "2d", _TWO_D_USES))
def moons(settings: DatasetSettings) -> DataBundle:
    return _two_d(settings, 2, _moon, jitter=0.5)


BLOBS = Param("classes", INT, 3, "Number of blobs, one class each.", 2, 10, label="Classes")


@register(DatasetInfo(
    "blobs", "Gaussian blobs",
    "Round Gaussian clusters, one per class, evenly spaced on a circle.",
    "classification", "2d", _TWO_D_USES,
    options=(Field(BLOBS),)))
def blobs(settings: DatasetSettings) -> DataBundle:
    k = option_int(settings, BLOBS)

    def make(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        angle = 2 * np.pi * labels / k + np.pi / 2
        return 0.6 * np.stack([np.cos(angle), np.sin(angle)], 1)

    return _two_d(settings, k, make, jitter=1.0)


# -- house prices -------------------------------------------------------------------------------

HOUSE_FEATURES = ["size_m2", "bedrooms", "bathrooms", "age_years", "distance_to_center_km",
                  "neighbourhood_wealth", "has_garden"]


def house_table(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(features in HOUSE_FEATURES order, price in euros) of n made-up houses.

    Price per square metre grows with neighbourhood wealth and falls with distance to the
    centre; age costs value until houses become old enough to be sought after; bathrooms
    and a garden add fixed amounts. ``noise`` is the relative spread of the price (0.1 = 10%).
    """
    size = np.round(np.clip(rng.lognormal(np.log(95.0), 0.5, n), 25.0, 400.0))
    bedrooms = np.clip(np.round(size / 28.0 + rng.normal(0.0, 0.7, n)), 1, 7)
    bathrooms = np.clip(np.round(1.0 + (size - 60.0) / 70.0 + rng.normal(0.0, 0.5, n)), 1, 4)
    age = np.round(np.clip(rng.gamma(2.0, 15.0, n), 0.0, 120.0))
    distance = np.round(np.clip(rng.gamma(2.0, 4.0, n), 0.2, 50.0), 1)
    wealth = np.round(np.clip(rng.normal(6.0 - 0.1 * distance, 1.8), 1.0, 10.0), 1)
    garden = (rng.random(n) < np.clip(0.15 + 0.04 * distance, 0.0, 0.9)).astype(float)
    per_m2 = 2800.0 * np.exp(0.18 * (wealth - 5.0) - 0.04 * distance)
    age_factor = 1.0 - 0.0045 * age + 0.00002 * age**2
    price = (size**0.95 * per_m2 * age_factor + 9000.0 * bathrooms + 4000.0 * bedrooms
             + 18000.0 * garden)
    price *= np.exp(rng.normal(0.0, noise, n))
    features = np.stack([size, bedrooms, bathrooms, age, distance, wealth, garden], 1)
    return features, price


@register(DatasetInfo(
    "house_prices", "House prices",
    "Made-up houses with named features (size, bedrooms, bathrooms, age, distance to the "
    "centre, neighbourhood wealth, garden) and their price, to regress. Features and price "
    "are standardized; the bundle keeps the statistics to read predictions in euros.",
    "regression", "tabular", ("samples", "noise", "scaling")))
def house_prices(settings: DatasetSettings) -> DataBundle:
    features, price = house_table(settings.samples, settings.noise, _rng(settings))
    keep = np.array([name == "has_garden" for name in HOUSE_FEATURES])
    return from_arrays(settings.name, features, price, "regression", settings,
                       feature_names=HOUSE_FEATURES, target_names=["price_eur"],
                       scaling=settings.scaling, keep=keep, scale_target=True)


# -- digits -------------------------------------------------------------------------------------

@register(DatasetInfo(
    "digits", "Digits (8x8)",
    "1797 real handwritten digits, 8x8 pixels, 10 classes (scikit-learn's bundled copy of "
    "the UCI set). Pixels scaled to [0, 1].",
    "classification", "image"))
def digits(settings: DatasetSettings) -> DataBundle:
    pixels, labels = _digits_table()
    images = (pixels / 16.0).reshape(-1, 1, 8, 8)
    return from_arrays(settings.name, images, labels, "classification", settings,
                       class_names=[str(d) for d in range(10)], value_range=(0.0, 1.0))


@functools.cache
def _digits_table() -> tuple[np.ndarray, np.ndarray]:
    """(pixels 0..16, labels) of scikit-learn's bundled digits.

    Read straight from the CSV that scikit-learn ships, because importing scikit-learn itself
    takes seconds; its load_digits is the fallback should the file ever move.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is not None and spec.origin:
        path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            table = np.loadtxt(path, delimiter=",")
            return table[:, :-1], table[:, -1].astype(np.int64)
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - scikit-learn is a dependency
        raise DataError("dataset 'digits' needs scikit-learn; install it with "
                        "pip install scikit-learn") from exc
    raw = load_digits()
    return raw.data, raw.target.astype(np.int64)
