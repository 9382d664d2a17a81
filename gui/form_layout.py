"""How every form and dialog in the editor is laid out: section titles, dim notes, a label
column of one width, pages that take exactly their own height, a dialog's margins."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QLabel, QVBoxLayout, QWidget

from gui import style


class Pages(QWidget):
    """Shows one of several widgets and takes exactly its size (a QStackedWidget is as tall as
    its tallest page, which leaves gaps and needless scroll bars in a form)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._pages: list[QWidget] = []
        self._current: QWidget | None = None

    def addWidget(self, widget: QWidget) -> None:  # noqa: N802 (QStackedWidget's name)
        self._pages.append(widget)
        self._layout.addWidget(widget)
        widget.setVisible(self._current is None)
        if self._current is None:
            self._current = widget

    def setCurrentWidget(self, widget: QWidget) -> None:  # noqa: N802
        self._current = widget
        for page in self._pages:
            page.setVisible(page is widget)

    def currentWidget(self) -> QWidget | None:  # noqa: N802
        return self._current


def section_label(text: str) -> QLabel:
    label = QLabel(text.upper())
    label.setIndent(0)
    label.setProperty("role", "section")
    label.setFont(style.font("small", bold=True))
    return label


def dim_label(text: str = "", wrap: bool = True) -> QLabel:
    label = QLabel(text)
    label.setProperty("role", "dim")
    label.setWordWrap(wrap)
    return label


def page_layout(page: QWidget) -> QVBoxLayout:
    """The column of an inspector page (the project's or a layer's form): every page keeps
    the same margins, so switching pages does not shift the text."""
    layout = QVBoxLayout(page)
    layout.setContentsMargins(12, 10, 12, 12)
    layout.setSpacing(6)
    return layout


def dialog_layout(dialog: QWidget, intro: str, spacing: int) -> QVBoxLayout:
    """A dialog's column, with the margins every dialog has, opened by a dim line that says
    what the dialog is for."""
    layout = QVBoxLayout(dialog)
    layout.setContentsMargins(16, 16, 16, 12)
    layout.setSpacing(spacing)
    layout.addWidget(dim_label(intro))
    return layout


def make_form() -> QFormLayout:
    form = QFormLayout()
    form.setContentsMargins(0, 0, 0, 0)
    form.setHorizontalSpacing(10)
    form.setVerticalSpacing(6)
    form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
    return form


def form_label(text: str, tip: str = "") -> QLabel:
    label = QLabel(text)
    label.setToolTip(tip)
    label.setMinimumWidth(96)
    label.setMinimumHeight(26)  # one field's height, so the text centres on the field
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    return label


def align_label_columns(*forms: QFormLayout) -> None:
    """Give forms stacked on one page one label column: each label as wide as the widest,
    hidden rows included, so the fields line up and do not shift when a row appears."""
    labels = []
    for form in forms:
        for row in range(form.rowCount()):
            item = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            if item is not None and isinstance(item.widget(), QLabel):
                labels.append(item.widget())
    width = max((label.sizeHint().width() for label in labels), default=0)
    for label in labels:
        label.setMinimumWidth(max(width, label.minimumWidth()))
