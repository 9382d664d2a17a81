"""The controls column of the analysis panels (Adversarial pages, Explain): one form layout,
its spin boxes, dim notes and class pickers, in a fixed-width column beside the drawing."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QScrollArea,
    QSpinBox,
    QWidget,
)

from gui import form_layout, style


def control_form() -> tuple[QWidget, QFormLayout]:
    """A widget holding a form: labels right-aligned, fields growing."""
    widget = QWidget()
    form = QFormLayout(widget)
    form.setContentsMargins(0, 2, 6, 2)
    form.setHorizontalSpacing(8)
    form.setVerticalSpacing(5)
    form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    return widget, form


def spin(low: int, high: int, value: int, tip: str) -> QSpinBox:
    """An integer field that applies on Enter or focus loss, not on every key."""
    box = QSpinBox()
    box.setRange(low, high)
    box.setValue(value)
    box.setToolTip(tip)
    box.setKeyboardTracking(False)
    return box


def dim_label(text: str, wrap: bool = True) -> QLabel:
    """A small, dim note (the inspector's dim note in the panels' small font)."""
    label = form_layout.dim_label(text, wrap)
    label.setFont(style.font("small"))
    return label


def fill_class_combo(combo: QComboBox, names: list[str], first: str | None = None) -> None:
    """One item per class ("3: cat", or "3" when the name is the index), after ``first``
    (an item with no class, e.g. "Untargeted") when given; the choice made stays."""
    current = combo.currentData()
    combo.blockSignals(True)
    combo.clear()
    if first is not None:
        combo.addItem(first, None)
    for i, name in enumerate(names):
        combo.addItem(name if name == str(i) else f"{i}: {name}", i)
    combo.setCurrentIndex(max(0, combo.findData(current)))
    combo.blockSignals(False)


def controls_column(content: QWidget, width: int = 212) -> QScrollArea:
    """A fixed-width, frameless scroll area around a column of controls, so a short dock
    scrolls the controls instead of clipping them."""
    area = QScrollArea()
    area.setWidget(content)
    area.setWidgetResizable(True)
    area.setFixedWidth(width)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    return area


def controls_beside(page: QWidget, controls: QWidget, content: QWidget | QLayout,
                    width: int) -> None:
    """Lay ``page`` out as the controls column (``width`` wide) left of ``content``."""
    row = QHBoxLayout(page)
    row.setContentsMargins(0, 6, 0, 0)
    row.setSpacing(10)
    row.addWidget(controls_column(controls, width))
    if isinstance(content, QWidget):
        row.addWidget(content, 1)
    else:
        row.addLayout(content, 1)


__all__ = ["control_form", "controls_beside", "controls_column", "dim_label",
           "fill_class_combo", "spin"]
