"""One type-to-widget map: every form (layer parameters, project settings) is built from it.

An editor shows a typed, bounded value declared as a ``graph.catalog.Param`` and emits
``committed(value)`` only when the user finishes a change with a valid value. Out-of-range
input is refused by the widget itself (validators and spin-box ranges), so the model never sees
it. ``set_value`` updates the widget without emitting, so the form can follow undo and redo.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from graph.catalog import BOOL, CHOICE, FLOAT, INT, INTS, STR, Param

INT_LIMIT = 2**31 - 1

def format_float(value: float) -> str:
    """Short, exact-enough text for a float: 0.001, 1e-5, 12.5."""
    text = f"{value:.6g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text


def format_ints(values: Any) -> str:
    return ", ".join(str(v) for v in values)


class _NoWheelUnlessFocused:
    """Scrolling a form must scroll the form, not change whatever value passes the mouse."""

    def _pad_text(self) -> None:
        # Style sheets cannot pad a spin box's inner line edit; align it with line edits.
        edit = self.lineEdit() if hasattr(self, "lineEdit") else None
        if edit is not None:
            edit.setTextMargins(5, 0, 0, 0)

    def wheelEvent(self, event: Any) -> None:  # noqa: N802 (Qt override)
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()


class _NumberEditor(_NoWheelUnlessFocused):
    """What the int and float spin boxes share: values of one Python ``number`` type within
    bounds, committed on Enter, the arrows or focus out (not per keystroke), and never while
    the form itself sets the value."""

    number: type = float

    def _bound(self, low: float, high: float) -> None:
        self.setRange(low, high)
        self._pad_text()
        self.setKeyboardTracking(False)
        self.setAccelerated(True)
        self.valueChanged.connect(lambda v: self.committed.emit(self.number(v)))

    def set_value(self, value: Any) -> None:
        with QSignalBlocker(self):
            self.setValue(self.number(value))

    def current(self) -> Any:
        return self.number(self.value())


class IntEditor(_NumberEditor, QSpinBox):
    """Whole number within the declaration's bounds; arrows and Enter commit."""

    committed = Signal(object)
    number = int

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        low = -INT_LIMIT if param.minimum is None else int(max(param.minimum, -INT_LIMIT))
        high = INT_LIMIT if param.maximum is None else int(min(param.maximum, INT_LIMIT))
        self._bound(low, high)


class FloatEditor(_NumberEditor, QDoubleSpinBox):
    """A number within bounds, shown compactly (1e-5), stepped by a tenth of its magnitude."""

    committed = Signal(object)
    number = float

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(12)
        low = -1e12 if param.minimum is None else float(param.minimum)
        high = 1e12 if param.maximum is None else float(param.maximum)
        self._zero_step = 0.1 if high - low <= 10 else 1.0
        self._bound(low, high)

    # -- text <-> value -------------------------------------------------------------------------
    def textFromValue(self, value: float) -> str:  # noqa: N802 (Qt override)
        return format_float(value)

    def valueFromText(self, text: str) -> float:  # noqa: N802
        if self.specialValueText() and text.strip() == self.specialValueText():
            return self.minimum()  # the "auto" shown at the minimum (QAbstractSpinBox's rule)
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> object:
        stripped = text.strip()
        if self.specialValueText() and stripped == self.specialValueText():
            return QValidator.State.Acceptable, text, pos
        if stripped in ("", "-", "+", ".", "-.", "+.") or re.fullmatch(
                r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?", stripped):
            return QValidator.State.Intermediate, text, pos
        try:
            value = float(stripped)
        except ValueError:
            return QValidator.State.Invalid, text, pos
        if math.isnan(value) or math.isinf(value):
            return QValidator.State.Invalid, text, pos
        if self.minimum() <= value <= self.maximum():
            return QValidator.State.Acceptable, text, pos
        # More digits can raise a too-small positive number or a too-large negative one; any
        # other out-of-range value only gets further away, so it is refused outright.
        if (value > self.maximum() and value >= 0) or (value < self.minimum() and value < 0):
            return QValidator.State.Invalid, text, pos
        return QValidator.State.Intermediate, text, pos

    def fixup(self, text: str) -> str:
        return self.textFromValue(self.value())

    def stepBy(self, steps: int) -> None:  # noqa: N802
        magnitude = abs(self.value())
        step = self._zero_step if magnitude == 0 else 10 ** (math.floor(math.log10(magnitude))
                                                              - (1 if magnitude >= 1 else 0))
        if magnitude >= 1:
            step = max(step, 0.1)
        self.setValue(min(self.maximum(), max(self.minimum(), self.value() + steps * step)))


class BoolEditor(QCheckBox):
    committed = Signal(object)

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.toggled.connect(lambda on: self.committed.emit(bool(on)))

    def set_value(self, value: Any) -> None:
        with QSignalBlocker(self):
            self.setChecked(bool(value))

    def current(self) -> bool:
        return self.isChecked()


class ChoiceEditor(_NoWheelUnlessFocused, QComboBox):
    committed = Signal(object)

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        for choice in param.choices:
            self.addItem(param.choice_label(choice), choice)
        # A long choice ("Shapes (32x32, procedurally drawn)") must not widen the inspector:
        # the closed box elides, the open list shows every label in full.
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(12)
        self.currentIndexChanged.connect(lambda i: self.committed.emit(self.itemData(i)))

    def set_value(self, value: Any) -> None:
        with QSignalBlocker(self):
            index = self.findData(value)
            if index < 0:  # a value the declaration does not know (an old file): show it
                self.addItem(str(value), value)
                index = self.count() - 1
            self.setCurrentIndex(index)

    def current(self) -> Any:
        return self.currentData()


class StrEditor(QLineEdit):
    committed = Signal(object)

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._last = ""
        self.editingFinished.connect(self._finish)

    def _finish(self) -> None:
        if self.text() != self._last:
            self._last = self.text()
            self.committed.emit(self.text())

    def set_value(self, value: Any) -> None:
        with QSignalBlocker(self):
            self._last = str(value)
            self.setText(self._last)
            self.setCursorPosition(0)  # a long text shows its beginning

    def current(self) -> str:
        return self.text()


class TupleEditor(QWidget):
    """A fixed-length tuple of whole numbers: one spin box per value ("3 x 3")."""

    committed = Signal(object)

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        item = Param(param.name, INT, 0, minimum=param.minimum, maximum=param.maximum)
        self.boxes: list[IntEditor] = []
        for i in range(param.length or 1):
            if i:
                sep = QLabel("\u00d7")
                sep.setProperty("role", "dim")
                layout.addWidget(sep)
            box = IntEditor(item)
            box.committed.connect(lambda _v: self.committed.emit(self.current()))
            self.boxes.append(box)
            layout.addWidget(box, 1)

    def set_value(self, value: Any) -> None:
        for box, v in zip(self.boxes, value, strict=False):
            box.set_value(v)

    def current(self) -> tuple[int, ...]:
        return tuple(box.current() for box in self.boxes)


class IntsValidator(QValidator):
    """Comma-separated whole numbers within bounds: "1, 8, 8"."""

    def __init__(self, minimum: float | None, maximum: float | None,
                 length: int | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        self.minimum, self.maximum, self.length = minimum, maximum, length

    def validate(self, text: str, pos: int) -> object:
        if not re.fullmatch(r"[\d\s,\-]*", text):
            return QValidator.State.Invalid, text, pos
        parts = [p.strip() for p in text.split(",")]
        state = QValidator.State.Acceptable
        if self.length is not None and len(parts) > self.length:
            return QValidator.State.Invalid, text, pos
        for part in parts:
            if part in ("", "-"):
                state = QValidator.State.Intermediate
                continue
            if not re.fullmatch(r"-?\d+", part):
                return QValidator.State.Invalid, text, pos
            value = int(part)
            if self.maximum is not None and value > self.maximum:
                return QValidator.State.Invalid, text, pos
            if self.minimum is not None and value < self.minimum:
                if value < 0:
                    return QValidator.State.Invalid, text, pos
                state = QValidator.State.Intermediate
        if self.length is not None and len(parts) < self.length:
            state = QValidator.State.Intermediate
        return state, text, pos


def parse_ints(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.replace(" ", "").split(",") if p)


class IntsEditor(QLineEdit):
    """A tuple of whole numbers of any length, typed as "1, 8, 8" and validated as you type."""

    committed = Signal(object)

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setValidator(IntsValidator(param.minimum, param.maximum, param.length, self))
        self.setPlaceholderText("e.g. 1, 8, 8")
        self._last: tuple[int, ...] = ()
        self.editingFinished.connect(self._finish)

    def _finish(self) -> None:
        value = parse_ints(self.text())
        if value and value != self._last:
            self._last = value
            self.committed.emit(value)

    def set_value(self, value: Any) -> None:
        with QSignalBlocker(self):
            self._last = tuple(value)
            self.setText(format_ints(value))

    def current(self) -> tuple[int, ...]:
        return parse_ints(self.text())


def _ints_editor(param: Param) -> QWidget:
    if param.length is not None and param.length <= 4:
        return TupleEditor(param)
    return IntsEditor(param)


# The one map from a declared kind to its widget.
EDITORS: dict[str, Callable[[Param], QWidget]] = {
    INT: IntEditor, FLOAT: FloatEditor, BOOL: BoolEditor, CHOICE: ChoiceEditor,
    STR: StrEditor, INTS: _ints_editor,
}


def make_editor(param: Param, value: Any = None) -> QWidget:
    """The widget for ``param`` showing ``value`` (default: the declared default).

    Every editor has ``committed(value)``, ``set_value(value)`` and ``current()``.
    """
    editor = EDITORS.get(param.kind, StrEditor)(param)
    editor.set_value(param.default if value is None else value)
    tip = param.help
    if param.minimum is not None or param.maximum is not None:
        bounds = f"{_num(param.minimum)} to {_num(param.maximum)}"
        tip = f"{tip}\nAllowed: {bounds}." if tip else f"Allowed: {bounds}."
    editor.setToolTip(tip)
    editor.setObjectName(f"edit_{param.name}")
    if isinstance(editor, QAbstractSpinBox):
        editor.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # wheel scrolling won't steal edits
    return editor


def _num(value: float | None) -> str:
    if value is None:
        return "any"
    return format_float(value) if isinstance(value, float) else str(value)
