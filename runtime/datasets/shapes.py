"""A procedurally generated image set of geometric shapes, for transfer and few-shot learning.

8x8 digits are too easy to show transfer: a small CNN learns digits 5-9 from 10 samples each
about as well from scratch as from features of digits 0-4. Shapes at random position, size,
rotation and intensity over a noisy, shaded background are hard enough that features learned
on some shapes (edges, corners, strokes, blobs) help to learn others from a few samples, and
32x32 images make filters, activations and attacks easy to see.

Every shape is a signed distance function in the shape's own coordinates (about -1..1);
one vectorized numpy pass per class turns it into anti-aliased pixel coverage (float32), so
10,000 images take about a second on one core. The same seed gives the same images.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import TensorDataset

from graph.catalog import CHOICE, INT, STR, Param
from graph.fields import Field
from graph.settings import DatasetSettings
from runtime.datasets.core import (
    GENERATE_STREAM,
    DataBundle,
    DataError,
    DatasetInfo,
    check_generated_size,
    from_arrays,
    option_choice,
    option_int,
    register,
)

SIZE = 32  # image height and width
RENDER_CHUNK = 4096  # images composed at a time: bounds the temporaries whatever the samples
Sdf = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _box(u: np.ndarray, v: np.ndarray, a: float, b: float) -> np.ndarray:
    """Distance-like field of an axis-aligned rectangle with half sizes a, b (< 0 inside)."""
    return np.maximum(np.abs(u) - a, np.abs(v) - b)


def _disc(u: np.ndarray, v: np.ndarray, cx: float, cy: float, r: float) -> np.ndarray:
    return np.hypot(u - cx, v - cy) - r


def _outline(d: np.ndarray, width: float) -> np.ndarray:
    """A stroke of ``width`` along the inside of a filled shape's boundary."""
    return np.abs(d + width / 2) - width / 2


def _triangle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Equilateral triangle, circumradius 1, apex up (v grows downwards)."""
    k = np.sqrt(3.0) / 2
    return np.maximum.reduce([v, -k * u - 0.5 * v, k * u - 0.5 * v]) - 0.5


def _star(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    angle = np.arctan2(v, u)
    return np.hypot(u, v) - (0.62 + 0.38 * np.cos(5 * angle))


# name -> signed distance in shape units; order fixes nothing (labels follow the class list)
SHAPES: dict[str, Sdf] = {
    "circle": lambda u, v: _disc(u, v, 0.0, 0.0, 0.9),
    "square": lambda u, v: _box(u, v, 0.75, 0.75),
    "triangle": lambda u, v: _triangle(u, v + 0.2),
    "cross": lambda u, v: np.minimum(_box(u, v, 0.95, 0.26), _box(u, v, 0.26, 0.95)),
    "bar": lambda u, v: _box(u, v, 1.0, 0.26),
    "ring": lambda u, v: _outline(_disc(u, v, 0.0, 0.0, 0.95), 0.38),
    "hollow_square": lambda u, v: _outline(_box(u, v, 0.8, 0.8), 0.36),
    "L": lambda u, v: np.minimum(_box(u + 0.5, v, 0.26, 0.95), _box(u, v - 0.7, 0.76, 0.26)),
    "T": lambda u, v: np.minimum(_box(u, v + 0.7, 0.95, 0.26), _box(u, v + 0.05, 0.26, 0.9)),
    "two_dots": lambda u, v: np.minimum(_disc(u, v, -0.58, 0.0, 0.38),
                                        _disc(u, v, 0.58, 0.0, 0.38)),
    "hollow_triangle": lambda u, v: _outline(_triangle(u, v + 0.2), 0.4),
    "three_dots": lambda u, v: np.minimum.reduce([
        _disc(u, v, 0.62 * np.cos(a), 0.62 * np.sin(a), 0.32)
        for a in (-np.pi / 2, np.pi / 6, 5 * np.pi / 6)]),
    "half_disc": lambda u, v: np.maximum(_disc(u, v, 0.0, 0.4, 1.0), v - 0.4),
    "crescent": lambda u, v: np.maximum(_disc(u, v, 0.0, 0.0, 0.95),
                                        -_disc(u, v, 0.5, 0.0, 0.8)),
    "star": _star,
}
DEFAULT_CLASSES = ("circle", "square", "triangle", "cross", "bar", "ring", "hollow_square", "L",
                   "T", "two_dots")


def class_list(settings: DatasetSettings) -> list[str]:
    """The shape names of settings.options["classes"] (a list or a comma-separated text)."""
    raw = settings.options.get("classes", list(DEFAULT_CLASSES))
    names = [s.strip() for s in raw.split(",")] if isinstance(raw, str) else raw
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise DataError("dataset option 'classes' must be a list of shape names, not "
                        f"{raw!r}")
    names = [n for n in names if n]
    unknown = [n for n in names if n not in SHAPES]
    if unknown:
        raise DataError(f"dataset option 'classes': unknown shape {unknown[0]!r}; choose from "
                        f"{', '.join(SHAPES)}")
    if len(set(names)) != len(names):
        raise DataError("dataset option 'classes' names a shape twice; list each once")
    if len(names) < 2:
        raise DataError("dataset option 'classes' needs at least 2 shapes to classify")
    return list(names)


def render(labels: np.ndarray, names: list[str], noise: float, channels: int,
           rng: np.random.Generator) -> np.ndarray:
    """Images (N, channels, 32, 32) float32 in [0, 1] of the shapes ``names[labels]``.

    Per image: a random size (half-extent 6 to 11 pixels), centre (the shape stays inside),
    rotation, foreground and background intensity (colours when channels is 3), a linear
    shading of the background and Gaussian pixel noise of standard deviation ``noise``.
    """
    n = len(labels)
    scale = rng.uniform(6.0, 11.0, n)
    cx = rng.uniform(scale + 1.0, SIZE - 2.0 - scale)
    cy = rng.uniform(scale + 1.0, SIZE - 2.0 - scale)
    angle = rng.uniform(0.0, 2 * np.pi, n)
    fg = rng.uniform(0.55, 1.0, n)
    bg = rng.uniform(0.0, 0.3, n)
    tilt = rng.uniform(-0.15, 0.15, (n, 2))  # background shading across the image
    if channels == 3:
        fg_color = rng.uniform(0.25, 1.0, (n, 3))
        bg_color = rng.uniform(0.25, 1.0, (n, 3))
        fg_color /= fg_color.max(1, keepdims=True)
        bg_color /= bg_color.max(1, keepdims=True)
    else:
        fg_color = bg_color = np.ones((n, 1))

    images = np.empty((n, channels, SIZE, SIZE), np.float32)
    for start in range(0, n, RENDER_CHUNK):  # temporaries for a chunk, not for the whole set
        part = slice(start, start + RENDER_CHUNK)
        images[part] = _compose(labels[part], names, scale[part], cx[part], cy[part],
                                angle[part], fg[part], bg[part], tilt[part], fg_color[part],
                                bg_color[part])
    for start in range(0, n, RENDER_CHUNK):  # the same noise stream as one draw
        if noise > 0:
            chunk = images[start:start + RENDER_CHUNK]
            chunk += np.float32(noise) * rng.standard_normal(chunk.shape, dtype=np.float32)
    return np.clip(images, 0.0, 1.0, out=images)


def _compose(labels: np.ndarray, names: list[str], scale: np.ndarray, cx: np.ndarray,
             cy: np.ndarray, angle: np.ndarray, fg: np.ndarray, bg: np.ndarray,
             tilt: np.ndarray, fg_color: np.ndarray, bg_color: np.ndarray) -> np.ndarray:
    """Noise-free images of one chunk of samples, from their drawn parameters."""
    n = len(labels)
    grid = np.arange(SIZE, dtype=np.float32) + 0.5
    coverage = np.empty((n, SIZE, SIZE), np.float32)
    for index, name in enumerate(names):
        members = np.flatnonzero(labels == index)
        if not len(members):
            continue
        # shape coordinates of every pixel: centred, rotated, in units of the shape's size
        x = grid[None, None, :] - cx[members, None, None].astype(np.float32)
        y = grid[None, :, None] - cy[members, None, None].astype(np.float32)
        cos = np.cos(angle[members]).astype(np.float32)[:, None, None]
        sin = np.sin(angle[members]).astype(np.float32)[:, None, None]
        s = scale[members, None, None].astype(np.float32)
        u = (x * cos + y * sin) / s
        v = (y * cos - x * sin) / s
        distance = SHAPES[name](u, v) * s  # in pixels
        coverage[members] = np.clip(0.5 - distance, 0.0, 1.0)

    tilt, bg, fg = tilt.astype(np.float32), bg.astype(np.float32), fg.astype(np.float32)
    ramp = (tilt[:, 0, None, None] * (grid[None, None, :] / SIZE - 0.5)
            + tilt[:, 1, None, None] * (grid[None, :, None] / SIZE - 0.5))
    background = (bg[:, None, None] + ramp)[:, None] * bg_color.astype(np.float32)[:, :, None, None]
    foreground = fg[:, None, None, None] * fg_color.astype(np.float32)[:, :, None, None]
    return background + coverage[:, None] * (foreground - background)


CLASSES = Param("classes", STR, ", ".join(DEFAULT_CLASSES), "The shapes to tell apart, in "
                "label order, separated by commas. Also available: "
                f"{', '.join(s for s in SHAPES if s not in DEFAULT_CLASSES)}.", label="Shapes")
CHANNELS = Param("channels", CHOICE, "1", "Grey images (1 channel) or colour (3).",
                 choices=("1", "3"), label="Channels",
                 choice_labels=("1 (grey)", "3 (colour)"))
TRAIN_PER_CLASS = Param("train_per_class", INT, 0, "Keep only this many training images per "
                        "class (few-shot learning); 0 keeps all. Validation is unchanged.",
                        0, 10_000_000, label="Train per class")


@register(DatasetInfo(
    "shapes", "Shapes (32x32)",
    "Generated 32x32 images of geometric shapes (circle, square, triangle, cross, bar, ring, "
    "hollow square, L, T, two dots, ...) at random position, size, rotation and intensity "
    "over a shaded, noisy background. Choose the shapes, grey or colour, and how many "
    "labelled training samples per class (few-shot learning).",
    "classification", "image", ("samples", "noise"),
    options=(Field(CLASSES), Field(CHANNELS), Field(TRAIN_PER_CLASS))))
def shapes(settings: DatasetSettings) -> DataBundle:
    names = class_list(settings)
    channels = int(option_choice(settings, CHANNELS))
    per_class = option_int(settings, TRAIN_PER_CLASS)
    check_generated_size(settings, channels * SIZE * SIZE * 4)
    rng = np.random.default_rng([settings.seed, GENERATE_STREAM])
    labels = rng.permutation(np.arange(settings.samples) % len(names))
    images = render(labels, names, settings.noise, channels, rng)
    bundle = from_arrays(settings.name, images, labels, "classification", settings,
                         class_names=names, value_range=(0.0, 1.0))
    if per_class:
        bundle.train = few_per_class(bundle.train, per_class)
    return bundle


def few_per_class(dataset: TensorDataset, per_class: int) -> TensorDataset:
    """The first ``per_class`` samples of each class (the split is already shuffled), in their
    order; DataError when a class has fewer."""
    x, y = dataset.tensors
    labels = y.numpy()
    keep = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < per_class:
            raise DataError(f"dataset option 'train_per_class' is {per_class} but the training "
                            f"split has only {len(members)} samples of class {int(label)}; "
                            "raise samples or lower the validation split")
        keep.extend(members[:per_class].tolist())
    index = torch.as_tensor(sorted(keep), dtype=torch.long)
    return TensorDataset(x[index], y[index])
