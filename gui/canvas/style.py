"""Fonts, colours and small text helpers shared by the canvas items.

Fonts come from one scale based on the system UI font, in pixels so the canvas looks the same
at every screen DPI; colours are read from the current theme at paint time.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, lru_cache

from PySide6.QtGui import QColor, QFont, QFontMetricsF
from PySide6.QtWidgets import QApplication

from gui import theme

# One type scale for the canvas (pixel sizes): node titles, body text, small labels.
TITLE_PX, BODY_PX, SMALL_PX = 13, 12, 11
READABLE_PX = 10.0  # the smallest text size on screen that reads comfortably
# The least zoom at which every canvas text (wire labels included) is READABLE_PX or more:
# a freshly opened project is never shown smaller (it scrolls instead).
READABLE_ZOOM = READABLE_PX / SMALL_PX

HEADER_TEXT = QColor(245, 247, 250)
HEADER_TEXT_DIM = QColor(245, 247, 250, 175)


@cache
def font(role: str) -> QFont:
    """The font for a text role: "title", "name", "body", "small" or "badge"."""
    app = QApplication.instance()
    base = QFont(app.font()) if app is not None else QFont()  # type: ignore[attr-defined]
    size = {"title": TITLE_PX, "name": BODY_PX, "body": BODY_PX, "small": SMALL_PX,
            "badge": SMALL_PX}[role]
    base.setPixelSize(size)
    base.setBold(role in ("title", "badge"))
    base.setHintingPreference(QFont.HintingPreference.PreferNoHinting)
    return base


@cache
def metrics(role: str) -> QFontMetricsF:
    return QFontMetricsF(font(role))


@lru_cache(maxsize=4096)
def text_width(role: str, text: str) -> float:
    return metrics(role).horizontalAdvance(text)


def color(name: str) -> QColor:
    """A colour of the current theme by field name ("accent", "error", ...)."""
    return _color(theme.current().name, name)


@cache
def _color(theme_name: str, name: str) -> QColor:
    return QColor(getattr(theme.THEMES[theme_name], name))


@cache
def category_color(category: str) -> QColor:
    return QColor(theme.category_color(category))


def edge_color() -> QColor:
    """Wires: a calm grey-blue that reads on both themes."""
    return QColor("#7f8896") if theme.current().name == "dark" else QColor("#8b93a0")


@lru_cache(maxsize=4096)
def format_shape(shape: tuple[int, ...]) -> str:
    """"N x 16 x 8 x 8" via runtime.shapes when it is available (one vocabulary)."""
    return _shape_formatter()(tuple(shape))


@lru_cache(maxsize=1)
def _shape_formatter() -> Callable[[tuple[int, ...]], str]:
    try:
        from runtime.shape_text import format_shape as runtime_format
    except ImportError:  # the shapes module is optional for the canvas itself
        return lambda shape: " x ".join(["N", *(str(d) for d in shape[1:])])
    return runtime_format
