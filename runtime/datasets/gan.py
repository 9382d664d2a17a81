"""Data made for GANs: a ring of Gaussians whose modes are known, so coverage can be measured.

``gan_ring`` is the usual mode-collapse benchmark (Metz et al., unrolled GANs): eight tight
Gaussians evenly spaced on a circle of radius 2. A generator that collapses puts its samples
on a few of them; ``ring_modes`` gives the centres and spread that ``runtime.gan`` measures
samples against (modes covered, share of samples within three standard deviations of a mode).
"""

from __future__ import annotations

import numpy as np

from graph.catalog import INT, Param
from graph.fields import Field
from graph.settings import DatasetSettings
from runtime.datasets.core import (
    GENERATE_STREAM,
    DataBundle,
    DatasetInfo,
    from_arrays,
    option_int,
    register,
)

RING_RADIUS = 2.0
RING_MODES = 8
MODES = Param("modes", INT, RING_MODES, "Gaussian clusters on the ring.", 2, 64,
              label="Modes")
STD_PER_NOISE = 0.2  # the default noise 0.1 gives the benchmark's standard deviation, 0.02
MIN_STD = 1e-3  # noise 0 still has a spread, so "within three standard deviations" means something


def ring_modes(settings: DatasetSettings) -> tuple[np.ndarray, float]:
    """(mode centres as a (k, 2) array, standard deviation of each mode) for ``gan_ring``."""
    k = option_int(settings, MODES)
    angles = 2 * np.pi * np.arange(k) / k
    centres = RING_RADIUS * np.stack([np.cos(angles), np.sin(angles)], 1)
    return centres, max(MIN_STD, settings.noise * STD_PER_NOISE)


@register(DatasetInfo(
    "gan_ring", "Ring of Gaussians (GAN)",
    "Eight tight Gaussian clusters on a circle of radius 2, the classic test of whether a GAN "
    "covers every mode or collapses onto a few. Labels are the cluster index (they only colour "
    "the plots). Noise 0.1 gives each cluster a standard deviation of 0.02.",
    "classification", "2d", ("samples", "noise"),
    options=(Field(MODES),)))
def gan_ring(settings: DatasetSettings) -> DataBundle:
    centres, std = ring_modes(settings)
    rng = np.random.default_rng([settings.seed, GENERATE_STREAM])
    labels = rng.permutation(np.arange(settings.samples) % len(centres))
    points = centres[labels] + rng.normal(0.0, std, (settings.samples, 2))
    return from_arrays(settings.name, points, labels, "classification", settings,
                       class_names=[f"mode {c}" for c in range(len(centres))],
                       feature_names=["x", "y"])
