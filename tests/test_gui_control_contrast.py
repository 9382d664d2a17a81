"""Check boxes and radio buttons stand out from the surfaces they sit on (WCAG 3:1 for the
parts of a control one must see); the Export dialog's format choices were 1.13:1."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QDialog, QRadioButton, QVBoxLayout  # noqa: E402

from gui import style, theme  # noqa: E402


@pytest.mark.parametrize("name", sorted(theme.THEMES))
def test_indicator_rings_have_three_to_one_contrast(name):
    t = theme.THEMES[name]
    ring = style.indicator_border(t)
    assert style.contrast(ring, t.window) >= 3.0 and style.contrast(ring, t.base) >= 3.0
    assert style.contrast(style.mix(t.border, t.text, 0.08), t.window) < 2  # what it was
    sheet = style.stylesheet(t)
    assert f"QRadioButton::indicator {{ width: 14px; height: 14px; border: 1px solid {ring};" \
        in sheet


def test_a_radio_button_ring_is_drawn_in_that_colour(qtbot, qapp):
    style.apply_theme("dark", qapp)
    t = theme.current()
    dialog = QDialog()
    qtbot.addWidget(dialog)
    button = QRadioButton("Python code")
    QVBoxLayout(dialog).addWidget(button)
    dialog.show()
    qtbot.waitExposed(dialog)
    image = button.grab().toImage()
    strongest = max(style.contrast(image.pixelColor(x, y).name(), t.window)
                  for x in range(min(18, image.width())) for y in range(image.height()))
    assert strongest >= 3.0  # the ring's pixels, not only the stylesheet's words
