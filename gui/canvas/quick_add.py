"""Quick add: a small search popup (Tab or double-click on the canvas) that places a layer."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QGuiApplication, QPainter
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

import graph.layers
from graph import catalog
from gui import theme

VISIBLE_ROWS = 9
LAYER_ROLE = Qt.ItemDataRole.UserRole
CATEGORY_ROLE = Qt.ItemDataRole.UserRole + 1


def search_layers(text: str) -> list[catalog.LayerSpec]:
    """Layers matching ``text`` (case-insensitive), best first.

    Ranking: id or title starts with the text, then contains it, then the description or
    category does. Every word of the text must match somewhere.
    """
    words = text.lower().split()
    category_titles = dict(catalog.CATEGORIES)
    ranked: list[tuple[int, int, catalog.LayerSpec]] = []
    for index, spec in enumerate(graph.layers.LAYERS):
        names = f"{spec.id} {spec.title}".lower()
        everything = f"{names} {spec.description} {category_titles.get(spec.category, '')}"
        everything = everything.lower()
        if not all(w in everything for w in words):
            continue
        if not words:
            rank = 0
        elif spec.id.lower().startswith(words[0]) or spec.title.lower().startswith(words[0]):
            rank = 0
        elif all(w in names for w in words):
            rank = 1
        else:
            rank = 2
        ranked.append((rank, index, spec))
    ranked.sort(key=lambda r: (r[0], r[1]))
    return [spec for _, _, spec in ranked]


class _RowDelegate(QStyledItemDelegate):
    """Layer title on the left, its category dimmed on the right."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex) -> None:
        colours = theme.current()
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.save()
        rect: QRect = option.rect
        if selected:
            painter.fillRect(rect, QColor(colours.accent))
        category = index.data(CATEGORY_ROLE) or ""
        swatch = QRect(rect.left() + 8, rect.center().y() - 4, 8, 8)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(theme.category_color(category)))
        painter.drawEllipse(swatch)
        painter.setPen(QColor(colours.text if not selected else "#ffffff"))
        painter.setFont(option.font)
        text_rect = rect.adjusted(24, 0, -8, 0)
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                         index.data(Qt.ItemDataRole.DisplayRole))
        painter.setPen(QColor(colours.text_dim if not selected else "#e8f0fa"))
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                         dict(catalog.CATEGORIES).get(category, category))
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return QSize(240, QFontMetrics(option.font).height() + 10)


class QuickAddPopup(QFrame):
    """Search box over a filtered list of layers; Enter emits ``chosen``, Esc closes."""

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("quickAdd")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search layers\u2026")
        self.search.setClearButtonEnabled(True)
        self.list = QListWidget(self)
        self.list.setItemDelegate(_RowDelegate(self.list))
        self.list.setUniformItemSizes(True)
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.hint = QLabel(self)
        self.hint.setWordWrap(True)
        self.hint.setObjectName("quickAddHint")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addWidget(self.search)
        layout.addWidget(self.list)
        layout.addWidget(self.hint)
        self.setFixedWidth(320)
        self._apply_style()
        self.search.textChanged.connect(self.refilter)
        self.search.installEventFilter(self)
        self.list.itemActivated.connect(lambda item: self._choose(item))
        self.list.itemClicked.connect(lambda item: self._choose(item))
        self.list.currentItemChanged.connect(self._show_description)
        self.refilter("")

    def _apply_style(self) -> None:
        t = theme.current()
        self.setStyleSheet(
            f"#quickAdd {{ background: {t.window}; border: 1px solid {t.border};"
            f" border-radius: 6px; }}"
            f"QLineEdit {{ background: {t.base}; color: {t.text}; border: 1px solid {t.border};"
            f" border-radius: 4px; padding: 4px 6px; selection-background-color: {t.accent}; }}"
            f"QLineEdit:focus {{ border-color: {t.accent}; }}"
            f"QListWidget {{ background: {t.base}; color: {t.text}; border: none; }}"
            f"#quickAddHint {{ color: {t.text_dim}; padding: 2px 4px; }}"
        )

    def open_at(self, global_pos: QPoint) -> None:
        """Show the popup with its search box at ``global_pos``, cleared and focused."""
        self._apply_style()
        self.search.clear()
        self.refilter("")
        self.adjustSize()
        screen = QGuiApplication.screenAt(global_pos) or QGuiApplication.primaryScreen()
        if screen is not None:  # keep the whole popup on screen
            area = screen.availableGeometry()
            x = min(global_pos.x(), area.right() - self.width())
            y = min(global_pos.y(), area.bottom() - self.height())
            global_pos = QPoint(max(area.left(), x), max(area.top(), y))
        self.move(global_pos)
        self.show()
        self.raise_()
        self.activateWindow()
        self.search.setFocus(Qt.FocusReason.PopupFocusReason)

    def refilter(self, text: str) -> None:
        self.list.clear()
        for spec in search_layers(text):
            item = QListWidgetItem(spec.title)
            item.setData(LAYER_ROLE, spec.id)
            item.setData(CATEGORY_ROLE, spec.category)
            item.setToolTip(spec.description)
            self.list.addItem(item)
        rows = min(max(self.list.count(), 1), VISIBLE_ROWS)
        self.list.setFixedHeight(rows * self.list.sizeHintForRow(0) + 4
                                 if self.list.count() else 8)
        if self.list.count():
            self.list.setCurrentRow(0)
        else:
            self.hint.setText("No layer matches; try another word.")
        self.adjustSize()

    def current_layer(self) -> str | None:
        item = self.list.currentItem()
        return item.data(LAYER_ROLE) if item is not None else None

    def _show_description(self, item: QListWidgetItem | None, _previous: object = None) -> None:
        if item is not None:
            spec = catalog.get(item.data(LAYER_ROLE))
            self.hint.setText(spec.description if spec else "")

    def _choose(self, item: QListWidgetItem | None) -> None:
        if item is None:
            return
        layer_id = item.data(LAYER_ROLE)
        self.close()
        self.chosen.emit(layer_id)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.search and event.type() == QEvent.Type.KeyPress:
            key = event.key()
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up, Qt.Key.Key_PageDown, Qt.Key.Key_PageUp):
                step = {Qt.Key.Key_Down: 1, Qt.Key.Key_Up: -1,
                        Qt.Key.Key_PageDown: 8, Qt.Key.Key_PageUp: -8}[key]
                row = max(0, min(self.list.count() - 1, self.list.currentRow() + step))
                self.list.setCurrentRow(row)
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self._choose(self.list.currentItem())
                return True
            if key == Qt.Key.Key_Escape:
                self.close()
                return True
        return super().eventFilter(watched, event)
