"""Samples shown small: an image-like sample as a crisp pixmap, anything else as short text."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QLabel, QVBoxLayout

from gui import style


def array_image(sample: np.ndarray) -> np.ndarray | None:
    """A sample as a displayable (H, W) grey or (H, W, 3) image scaled to 0..255, or None
    when it is not image-like (vectors, sequences)."""
    a = np.asarray(sample, dtype=np.float32)
    if a.ndim == 3 and a.shape[0] in (1, 3, 4):
        a = a[0] if a.shape[0] == 1 else np.moveaxis(a[:3], 0, -1)
    elif a.ndim == 3:
        a = a.mean(0)
    if a.ndim not in (2, 3) or min(a.shape[:2]) < 2:
        return None
    finite = a[np.isfinite(a)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if low >= 0 and high <= 1:
        low, high = 0.0, 1.0
    span = high - low if high > low else 1.0
    return np.clip((np.nan_to_num(a) - low) / span * 255, 0, 255).astype(np.uint8)


def thumbnail(sample: np.ndarray, side: int = 48) -> QPixmap | None:
    """A crisp (nearest neighbour) pixmap of an image sample, ``side`` pixels on its long
    side; None when the sample is not an image."""
    a = array_image(sample)
    if a is None:
        return None
    return crisp_pixmap(a, side)


def crisp_pixmap(pixels: np.ndarray, side: int) -> QPixmap:
    """A (H, W) grey or (H, W, 3) RGB uint8 array as a pixmap enlarged by a whole factor
    towards ``side`` pixels on its long side, nearest neighbour, so pixels stay sharp."""
    a = np.ascontiguousarray(pixels, dtype=np.uint8)
    h, w = a.shape[:2]
    if a.ndim == 2:
        qimage = QImage(a.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    else:
        qimage = QImage(a.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    scale = max(1, side // max(h, w))
    return QPixmap.fromImage(qimage.scaled(w * scale, h * scale,
                                           Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.FastTransformation))


def describe_sample(sample: Any, limit: int = 3) -> str:
    """Short text for a non-image sample: "(0.12, -0.53)" or "(0.1, 0.2, 0.3, ... 13 values)"."""
    a = np.asarray(sample).reshape(-1)
    if a.dtype.kind in "iu":
        parts = [str(int(v)) for v in a[:limit]]
    else:
        parts = [f"{float(v):.2f}" for v in a[:limit]]
    more = f", \u2026 {a.size} values" if a.size > limit else ""
    return f"({', '.join(parts)}{more})"


def picture_with_caption(layout: QVBoxLayout) -> tuple[QLabel, QLabel]:
    """A sample card's two labels, added to ``layout``: the picture centred, and under it a
    small centred rich-text caption."""
    picture = QLabel()
    picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
    caption = QLabel()
    caption.setTextFormat(Qt.TextFormat.RichText)
    caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
    caption.setFont(style.font("small"))
    layout.addWidget(picture)
    layout.addWidget(caption)
    return picture, caption
