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
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from graph.catalog import INT, Param
from graph.fields import Field
from graph.settings import DatasetSettings
from runtime.datasets.core import (
    GENERATE_STREAM,
    DataBundle,
    DataError,
    DatasetInfo,
    ScriptData,
    from_arrays,
    option_int,
    register,
)

_TWO_D_USES = ("samples", "noise")
_TWO_D_NAMES = ["x", "y"]


def _rng(settings: DatasetSettings) -> np.random.Generator:
    return np.random.default_rng([settings.seed, GENERATE_STREAM])


def _samples_and_noise(settings: DatasetSettings) -> dict[str, Any]:
    return {"SAMPLES": int(settings.samples), "NOISE": float(settings.noise)}


def two_d_points(n: int, k: int, noise: float, jitter: float,
                 make: Callable[[np.ndarray, np.random.Generator], np.ndarray],
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(points, labels): n balanced labels of k classes in random order, points from
    ``make(labels, rng)`` plus Gaussian noise of std ``noise * jitter``."""
    labels = rng.permutation(np.arange(n) % k)
    made = make(labels, rng)
    return made + rng.normal(0.0, noise * jitter, made.shape), labels


def _two_d(settings: DatasetSettings, k: int,
           make: Callable[[np.ndarray, np.random.Generator], np.ndarray],
           jitter: float) -> DataBundle:
    """A 2-D classification bundle of ``two_d_points``."""
    points, labels = two_d_points(settings.samples, k, settings.noise, jitter, make,
                                  _rng(settings))
    return from_arrays(settings.name, points, labels, "classification", settings,
                       class_names=[str(c) for c in range(k)], feature_names=_TWO_D_NAMES)


def _two_d_script(make: Callable[..., np.ndarray], jitter: float, classes: str = "2",
                  extra: Callable[[DatasetSettings], dict[str, Any]] | None = None,
                  ) -> ScriptData:
    """How a script rebuilds a 2-D set: two_d_points with the set's ``make`` (the call
    ``classes`` gives the class count and, for blobs, the maker)."""
    maker = make.__name__ if classes == "2" else f"functools.partial({make.__name__}, " \
        f"classes={classes})"
    return ScriptData(
        f'''
def load_data() -> tuple[TensorDataset, TensorDataset]:
    """Balanced classes, points from {make.__name__}, Gaussian jitter."""
    rng = np.random.default_rng([SEED, GENERATE_STREAM])
    points, labels = two_d_points(SAMPLES, {classes}, NOISE, {jitter!r}, {maker}, rng)
    return make_split(points, labels, classify=True)
''', (two_d_points, make),
        lambda settings: {**_samples_and_noise(settings), **(extra(settings) if extra else {})},
        ("from collections.abc import Callable",
         *(("import functools",) if classes != "2" else ())))


def xor_points(n: int, noise: float, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray]:
    """(points, labels) of the XOR set."""
    # half the points in the same-sign quadrants (class 1), half in the others (class 0)
    labels = rng.permutation(np.arange(n) % 2)
    sx = rng.choice([-1.0, 1.0], n)
    sy = np.where(labels == 1, sx, -sx)
    points = 0.5 * np.stack([sx, sy], 1) + rng.normal(0.0, noise, (n, 2))
    # the label is read from the final position: sign(x) * sign(y), as classes 0 / 1
    return points, (np.sign(points[:, 0]) * np.sign(points[:, 1]) > 0).astype(np.int64)


@register(DatasetInfo(
    "xor", "XOR",
    "Four Gaussian clusters, one per quadrant; class 1 where x and y have the same sign. "
    "No single straight line separates the classes.",
    "classification", "2d", _TWO_D_USES,
    script=ScriptData('''
def load_data() -> tuple[TensorDataset, TensorDataset]:
    """XOR: four Gaussian clusters, one per quadrant."""
    rng = np.random.default_rng([SEED, GENERATE_STREAM])
    return make_split(*xor_points(SAMPLES, NOISE, rng), classify=True)
''', (xor_points,), _samples_and_noise)))
def xor(settings: DatasetSettings) -> DataBundle:
    points, labels = xor_points(settings.samples, settings.noise, _rng(settings))
    return from_arrays(settings.name, points, labels, "classification", settings,
                       class_names=["0", "1"], feature_names=_TWO_D_NAMES)


def spiral_points(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Two interleaved spirals of 1.75 turns."""
    r = rng.uniform(0.05, 1.0, len(labels))
    t = 3.5 * np.pi * r + np.pi * labels  # the second arm is the first turned by pi
    return np.stack([r * np.sin(t), r * np.cos(t)], 1)


def circle_points(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A disc (class 0) inside a ring (class 1)."""
    n = len(labels)
    inner = 0.5 * np.sqrt(rng.uniform(0.0, 1.0, n))  # uniform over the disc
    outer = rng.uniform(0.75, 1.0, n)
    r = np.where(labels == 0, inner, outer)
    a = rng.uniform(0.0, 2 * np.pi, n)
    return np.stack([r * np.cos(a), r * np.sin(a)], 1)


def moon_points(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Two interleaving half circles."""
    t = rng.uniform(0.0, np.pi, len(labels))
    upper = np.stack([np.cos(t), np.sin(t)], 1)
    lower = np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], 1)
    points = np.where(labels[:, None] == 0, upper, lower)
    return (points - [0.5, 0.25]) * 0.6  # centred, within about [-0.9, 0.9]


# The two-class sets of a point maker: (id, title, description, maker, jitter).
_TWO_CLASS_SETS = (
    ("spirals", "Two spirals",
     "Two interleaved spirals of 1.75 turns; a network needs several layers of curved "
     "boundaries to follow them.", spiral_points, 0.4),
    ("circles", "Circles",
     "A disc (class 0) inside a ring (class 1); separable by distance from the centre.",
     circle_points, 0.5),
    ("moons", "Moons", "Two interleaving half circles.", moon_points, 0.5),
)


def _register_two_class(dataset_id: str, title: str, description: str,
                        make: Callable[[np.ndarray, np.random.Generator], np.ndarray],
                        jitter: float) -> None:
    """Register a two-class 2-D set of ``make``'s points with its export recipe."""
    register(DatasetInfo(dataset_id, title, description, "classification", "2d", _TWO_D_USES,
                         script=_two_d_script(make, jitter)))(
        functools.partial(_two_d, k=2, make=make, jitter=jitter))


for _two_class in _TWO_CLASS_SETS:
    _register_two_class(*_two_class)


BLOBS = Param("classes", INT, 3, "Number of blobs, one class each.", 2, 10, label="Classes")


def blob_points(labels: np.ndarray, rng: np.random.Generator, classes: int) -> np.ndarray:
    """One round cluster per class, evenly spaced on a circle."""
    angle = 2 * np.pi * labels / classes + np.pi / 2
    return 0.6 * np.stack([np.cos(angle), np.sin(angle)], 1)


@register(DatasetInfo(
    "blobs", "Gaussian blobs",
    "Round Gaussian clusters, one per class, evenly spaced on a circle.",
    "classification", "2d", _TWO_D_USES,
    options=(Field(BLOBS),),
    script=_two_d_script(blob_points, 1.0, "CLASSES",
                         lambda settings: {"CLASSES": option_int(settings, BLOBS)})))
def blobs(settings: DatasetSettings) -> DataBundle:
    k = option_int(settings, BLOBS)
    return _two_d(settings, k, functools.partial(blob_points, classes=k), jitter=1.0)


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
    "regression", "tabular", ("samples", "noise", "scaling"),
    script=ScriptData('''
def load_data() -> tuple[TensorDataset, TensorDataset]:
    """Made-up houses and their price; features (but has_garden, 0 or 1) and price scaled."""
    rng = np.random.default_rng([SEED, GENERATE_STREAM])
    features, price = house_table(SAMPLES, NOISE, rng)
    keep = np.array([name == "has_garden" for name in HOUSE_FEATURES])
    return make_split(features, price, classify=False, scaling=SCALING, keep=keep,
                      scale_target=True)
''', (house_table,), lambda settings: {**_samples_and_noise(settings),
                                        "SCALING": settings.scaling,
                                        "HOUSE_FEATURES": HOUSE_FEATURES})))
def house_prices(settings: DatasetSettings) -> DataBundle:
    features, price = house_table(settings.samples, settings.noise, _rng(settings))
    keep = np.array([name == "has_garden" for name in HOUSE_FEATURES])
    return from_arrays(settings.name, features, price, "regression", settings,
                       feature_names=HOUSE_FEATURES, target_names=["price_eur"],
                       scaling=settings.scaling, keep=keep, scale_target=True)


# -- digits -------------------------------------------------------------------------------------

def digit_images() -> tuple[np.ndarray, np.ndarray]:
    """(images N x 1 x 8 x 8 scaled to [0, 1] as float32, labels) of scikit-learn's digits."""
    pixels, labels = digits_table()
    return (pixels / 16.0).reshape(-1, 1, 8, 8).astype(np.float32), labels


def digit_image_bundle(settings: DatasetSettings, train: Dataset, val: Dataset,
                       class_names: list[str]) -> DataBundle:
    """A classification bundle of digit_images whose splits and labels a builder made itself
    (the sets that relabel the digits: anomaly, multi-task)."""
    return DataBundle(
        train=train, val=val, input_shape=(1, 8, 8), input_dtype="float",
        task="classification", num_classes=len(class_names), class_names=class_names,
        feature_names=[], value_range=(0.0, 1.0), name=settings.name)


@functools.cache
def digits_table() -> tuple[np.ndarray, np.ndarray]:
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


@register(DatasetInfo(
    "digits", "Digits (8x8)",
    "1797 real handwritten digits, 8x8 pixels, 10 classes (scikit-learn's bundled copy of "
    "the UCI set). Pixels scaled to [0, 1].",
    "classification", "image",
    script=ScriptData('''
def load_data() -> tuple[TensorDataset, TensorDataset]:
    """1797 handwritten digits, 8x8 pixels scaled to [0, 1] (scikit-learn's copy of the UCI
    set; scikit-learn must be installed)."""
    return make_split(*digit_images(), classify=True)
''', (digits_table, digit_images), imports=("import functools", "import importlib.util",
                                            "from pathlib import Path"))))
def digits(settings: DatasetSettings) -> DataBundle:
    images, labels = digit_images()
    return from_arrays(settings.name, images, labels, "classification", settings,
                       class_names=[str(d) for d in range(10)], value_range=(0.0, 1.0))
