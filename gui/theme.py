"""Colours shared by every widget: one accent, muted category colours, dark and light themes."""

from __future__ import annotations

from dataclasses import dataclass

# Node header colours per catalog category: muted, distinguishable, same in palette and canvas.
CATEGORY_COLORS: dict[str, str] = {
    "io": "#5b8c5a",
    "core": "#4f74a8",
    "convolution": "#8a5fa8",
    "pooling": "#a86f9b",
    "recurrent": "#b07a3c",
    "normalization": "#3f8f8f",
    "activation": "#a85c5c",
    "merge": "#7d7d45",
    "reshape": "#6b6f78",
}


@dataclass(frozen=True)
class Theme:
    name: str
    window: str  # dock and panel background (also pyqtgraph background)
    base: str  # input fields, lists
    canvas: str  # node canvas background
    grid: str
    node_body: str
    text: str
    text_dim: str
    border: str
    accent: str
    error: str
    warning: str
    ok: str


DARK = Theme(
    name="dark", window="#25272b", base="#1e2024", canvas="#1b1d21", grid="#2a2d33",
    node_body="#30333a", text="#dcdfe4", text_dim="#9aa0a8", border="#3b3f47",
    accent="#4c9be8", error="#e05757", warning="#e0a040", ok="#5cb85c",
)
LIGHT = Theme(
    name="light", window="#eceef1", base="#fafbfc", canvas="#f3f4f6", grid="#e2e4e8",
    node_body="#ffffff", text="#1f2328", text_dim="#5c6370", border="#c8ccd2",
    accent="#2f7fd0", error="#c93c3c", warning="#c7871f", ok="#3d8b3d",
)
THEMES = {"dark": DARK, "light": LIGHT}

_current = DARK


def current() -> Theme:
    return _current


def set_current(name: str) -> Theme:
    global _current
    _current = THEMES.get(name, DARK)
    return _current


def category_color(category: str) -> str:
    return CATEGORY_COLORS.get(category, CATEGORY_COLORS["reshape"])
