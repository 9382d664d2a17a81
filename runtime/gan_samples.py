"""Measuring what a GAN's generator makes: mode coverage, diversity, the collapse hint.

Data with known modes (``gan_ring``) are measured by how many modes the samples cover and how
many samples sit on a mode; other data by how varied the samples are next to real ones.
"""

from __future__ import annotations

from typing import Any, TypedDict

import numpy as np

from runtime.gan_networks import Modes

COVERED_SHARE = 0.2  # a mode counts as covered with a fifth of its fair share of good samples
COLLAPSE_QUALITY = 0.25  # collapse hint: this share of samples sits on modes ...
COLLAPSE_MODES = 0.5  # ... but on at most this share of the modes
COLLAPSE_DIVERSITY = 0.35  # no known modes: samples closer together than this share of real


class ModeMetrics(TypedDict):
    """``mode_metrics``: they join the epoch's metrics, so they stay a dict."""

    modes: int
    modes_covered: int
    high_quality_share: float


class GanSamples(TypedDict, total=False):
    """The ``gan_samples`` probe's values (a ``runtime.events.Probe`` payload, hence a dict):
    ``kind`` says which of the other keys are there."""

    kind: str  # sample_kind: "points", "image" or "vector"
    modes: int  # ModeMetrics, with known modes and 2-D points
    modes_covered: int
    high_quality_share: float
    sample_diversity: float  # without known modes
    fake: np.ndarray  # points: (n, 2) generated
    real: np.ndarray  # points: real ones
    centres: np.ndarray  # points with known modes: (modes, 2)
    std: float
    images: np.ndarray  # image: (n, C, H, W)
    value_range: tuple[float, ...]


def mode_metrics(samples: np.ndarray, modes: Modes) -> ModeMetrics:
    """How well 2-D samples cover known modes.

    A sample is high quality within three standard deviations of its nearest mode; a mode is
    covered when it holds at least ``COVERED_SHARE`` of its fair share (n / modes) of the
    high-quality samples.
    """
    centres, std = modes
    samples = np.asarray(samples, dtype=np.float64).reshape(len(samples), -1)
    dist = np.linalg.norm(samples[:, None, :] - centres[None, :, :], axis=2)
    nearest = dist.argmin(1)
    good = dist[np.arange(len(samples)), nearest] <= 3 * std
    counts = np.bincount(nearest[good], minlength=len(centres))
    need = COVERED_SHARE * len(samples) / len(centres)
    return {"modes": len(centres), "modes_covered": int((counts >= need).sum()),
            "high_quality_share": float(good.mean()) if len(samples) else 0.0}


def diversity(fake: np.ndarray, real: np.ndarray) -> float:
    """Mean distance between generated samples over the same for real ones (1 = as varied as
    the data; near 0 = the generator makes one thing)."""
    def spread(x: np.ndarray) -> float:
        x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        diff = x[:, None, :] - x[None, :, :]
        return float(np.sqrt((diff ** 2).sum(-1)).mean())

    base = spread(real)
    return spread(fake) / base if base > 0 else 0.0


def collapse_hint(metrics: dict[str, Any]) -> str:
    """The hint for a collapsed generator, or "" when its samples look varied."""
    advice = ("try a lower generator learning rate (g_lr), more discriminator steps (d_steps) "
              "or more label smoothing")
    if "modes_covered" in metrics:
        k, covered = metrics["modes"], metrics["modes_covered"]
        if metrics["high_quality_share"] >= COLLAPSE_QUALITY and covered <= COLLAPSE_MODES * k:
            return (f"Mode collapse: the generator's samples sit on only {covered} of {k} "
                    f"modes; {advice}.")
        return ""
    value = metrics.get("sample_diversity")
    if value is not None and value < COLLAPSE_DIVERSITY:
        return (f"Mode collapse: generated samples vary {value:.0%} as much as real ones (they "
                f"look alike); {advice}.")
    return ""


def sample_kind(shape: tuple[int, ...]) -> str:
    """How the panel shows samples: "points" (2-D), "image" (C x H x W) or "vector"."""
    if shape == (2,):
        return "points"
    if len(shape) == 3 and shape[0] in (1, 3):
        return "image"
    return "vector"




def epoch_summary(event: dict[str, Any]) -> str:
    """One line about a GAN epoch for the command line."""
    parts = [f"D loss {event['d_loss']:.4f}", f"G loss {event['g_loss']:.4f}",
             f"D acc real {event['d_real_accuracy']:.2f} fake {event['d_fake_accuracy']:.2f}"]
    if "modes_covered" in event:
        parts.append(f"modes {event['modes_covered']}/{event['modes']}")
        parts.append(f"high quality {event['high_quality_share']:.2f}")
    elif "sample_diversity" in event:
        parts.append(f"diversity {event['sample_diversity']:.2f}")
    if "seconds" in event:
        parts.append(f"{event['seconds']:.1f} s")
    return "  ".join(parts)
