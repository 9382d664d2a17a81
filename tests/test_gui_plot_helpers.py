"""The small shared pieces of the monitor panels: the tile under a pixel of an image grid,
hover places over side-by-side views, crisp pixmaps, and the empty state of a panel whose
payload has nothing to draw."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from gui.panels.image_grid import tile_at, tile_grid, tile_value  # noqa: E402
from gui.panels.monitor_panel import MonitorPanel  # noqa: E402
from gui.panels.node_choice import combo_node, fill_node_combo  # noqa: E402
from gui.panels.thumbnails import crisp_pixmap  # noqa: E402


def test_tile_value_reads_the_tile_under_a_pixel() -> None:
    tiles = np.arange(5 * 3 * 4, dtype=np.float32).reshape(5, 3, 4)
    grid, columns, _rows, pad = tile_grid(tiles, columns=2, pad=1)
    for y in range(grid.shape[0]):
        for x in range(grid.shape[1]):
            hit = tile_value(grid, x + 0.5, y + 0.5, (3, 4), columns, pad, 5)
            where = tile_at(x + 0.5, y + 0.5, (3, 4), columns, pad, 5)
            if where is None:
                assert hit is None
                continue
            index, row, col = where
            assert hit == (index, row, col, float(tiles[index, row, col]))


def test_crisp_pixmap_enlarges_by_a_whole_factor(qapp) -> None:
    grey = crisp_pixmap(np.zeros((4, 6), np.uint8), 48)
    rgb = crisp_pixmap(np.zeros((4, 6, 3), np.uint8), 48)
    assert (grey.width(), grey.height()) == (48, 32)
    assert (rgb.width(), rgb.height()) == (48, 32)


def test_drawable_shows_the_empty_state_or_the_error(qtbot) -> None:
    panel = MonitorPanel("nothing yet")
    qtbot.addWidget(panel)
    panel.show_body()
    assert not panel.drawable(None, "Filters")
    assert panel.is_empty and panel.empty.text() == "nothing yet"
    assert not panel.drawable({"error": "no such layer"}, "Filters")
    assert panel.title.text() == "Filters" and panel.empty.text() == "no such layer"
    assert panel.drawable({"nodes": {}}, "Filters")


def test_combo_node_reads_the_current_item(qtbot) -> None:
    from PySide6.QtWidgets import QComboBox

    combo = QComboBox()
    qtbot.addWidget(combo)
    assert combo_node(combo) is None
    fill_node_combo(combo, [(3, "conv"), (7, "linear")], 7, placeholder="(none)")
    assert combo_node(combo) == 7
    combo.setCurrentIndex(0)
    assert combo_node(combo) is None
