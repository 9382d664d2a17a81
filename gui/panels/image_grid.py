"""Image grids: many small (h, w) maps tiled into one array, so a panel draws them with one
``ImageItem`` (one texture upload instead of dozens of items), and the tile under a pixel."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QWidget


def grid_columns(count: int, tile_h: int, tile_w: int, aspect: float = 1.0) -> int:
    """Columns that make ``count`` tiles of (tile_h, tile_w) fill a view of width/height
    ``aspect`` best (the largest tiles that fit)."""
    if count <= 1:
        return 1
    options = []
    for cols in range(1, count + 1):
        rows = -(-count // cols)
        grid_w, grid_h = cols * (tile_w + 1), rows * (tile_h + 1)
        options.append((min(aspect / grid_w, 1.0 / grid_h), rows * cols - count, cols))
    best = max(scale for scale, _, _ in options)
    # among layouts almost as large, the one with the fewest empty slots (full rows)
    near = [o for o in options if o[0] >= best * 0.9]
    return min(near, key=lambda o: (o[1], -o[0]))[2]


def tile_grid(images: np.ndarray, columns: int | None = None, pad: int | None = None,
              aspect: float = 1.0) -> tuple[np.ndarray, int, int, int]:
    """(N, h, w) -> one (H, W) float array with the tiles in rows, NaN (drawn transparent)
    between them. Returns (grid, columns, rows, pad)."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 2:
        images = images[None]
    n, h, w = images.shape
    if pad is None:
        pad = max(1, round(max(h, w) / 8))
    cols = columns or grid_columns(n, h, w, aspect)
    cols = max(1, min(cols, max(1, n)))
    rows = max(1, -(-n // cols))
    grid = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad), np.nan, np.float32)
    for index in range(n):
        r, c = divmod(index, cols)
        grid[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = images[index]
    return grid, cols, rows, pad


def tile_at(x: float, y: float, shape: tuple[int, int], columns: int, pad: int, count: int
            ) -> tuple[int, int, int] | None:
    """(tile index, row, column inside the tile) under grid pixel (x, y), or None."""
    h, w = shape
    if x < 0 or y < 0:
        return None
    c, cx = divmod(int(x), w + pad)
    r, cy = divmod(int(y), h + pad)
    if cx >= w or cy >= h or c >= columns:
        return None
    index = r * columns + c
    return (index, cy, cx) if index < count else None



def tile_value(grid: np.ndarray, x: float, y: float, shape: tuple[int, int], columns: int,
               pad: int, count: int) -> tuple[int, int, int, float] | None:
    """(tile index, row, column inside the tile, value) under pixel (x, y) of a ``tile_grid``
    result, or None between and beyond the tiles."""
    hit = tile_at(x, y, shape, columns, pad, count)
    if hit is None:
        return None
    index, row, col = hit
    h, w = shape
    return index, row, col, float(grid[(index // columns) * (h + pad) + row,
                                       (index % columns) * (w + pad) + col])

def view_aspect(area: QWidget, fallback: float = 2.0) -> float:
    """Width / height of ``area`` (the fallback while it has no size yet)."""
    w, h = area.width(), area.height()
    return w / h if w > 20 and h > 20 else fallback
