"""The layer palette: every catalog layer by category, searchable, dragged onto the canvas.

It only reads the catalog; it never touches the graph. A drag carries the layer id under the
mime type the canvas accepts; a double-click (or Enter) emits ``layer_activated`` and the main
window adds the layer at the centre of the view.
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QAction, QColor, QDrag, QFontMetrics, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from graph import catalog
from gui import style, theme
from gui.form_layout import dim_label

LAYER_MIME = "application/x-plexus-layer"
LAYER_ROLE = Qt.ItemDataRole.UserRole + 1
PALETTE_ITEM_CHROME = 44  # px beside a layer's name: indentation, swatch, padding


class LayerTree(QTreeWidget):
    """The tree itself; it starts drags with the layer id and a small node-like pixmap."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderHidden(True)
        self.setRootIsDecorated(False)
        self.setIndentation(10)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setObjectName("palette_tree")
        self.setExpandsOnDoubleClick(False)

    def mimeTypes(self) -> list[str]:  # noqa: N802 (Qt override)
        return [LAYER_MIME]

    def mimeData(self, items: list[QTreeWidgetItem]) -> QMimeData:  # noqa: N802
        mime = QMimeData()
        layer_ids = [item.data(0, LAYER_ROLE) for item in items if item.data(0, LAYER_ROLE)]
        if layer_ids:
            mime.setData(LAYER_MIME, layer_ids[0].encode("utf-8"))
            mime.setText(layer_ids[0])
        return mime

    def startDrag(self, actions: Qt.DropAction) -> None:  # noqa: N802
        item = self.currentItem()
        layer_id = item.data(0, LAYER_ROLE) if item else None
        if not layer_id:
            return
        drag = QDrag(self)
        drag.setMimeData(self.mimeData([item]))
        pm = drag_pixmap(catalog.spec(layer_id), self.devicePixelRatioF())
        drag.setPixmap(pm)
        drag.setHotSpot(QPoint(12, round(pm.height() / pm.devicePixelRatio() / 2)))
        drag.exec(Qt.DropAction.CopyAction)


def drag_pixmap(spec: catalog.LayerSpec, ratio: float = 1.0) -> QPixmap:
    """A small pill in the layer's category colour that follows the cursor while dragging."""
    t = theme.current()
    f = style.font("base", bold=True)
    width = QFontMetrics(f).horizontalAdvance(spec.title) + 28
    height = 26
    pm = QPixmap(round(width * ratio), round(height * ratio))
    pm.setDevicePixelRatio(ratio)
    pm.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pm)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QColor(t.border))
    painter.setBrush(QColor(t.node_body))
    painter.drawRoundedRect(QRectF(0.5, 0.5, width - 1, height - 1), 6, 6)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(theme.category_color(spec.category)))
    painter.drawRoundedRect(QRectF(6, 7, 6, height - 14), 2, 2)
    painter.setPen(QColor(t.text))
    painter.setFont(f)
    painter.drawText(QRectF(18, 0, width - 20, height), Qt.AlignmentFlag.AlignVCenter,
                     spec.title)
    painter.end()
    return pm


class Palette(QWidget):
    """Search box over the layer tree. Signal ``layer_activated(layer_id)`` on double-click."""

    layer_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 4)
        layout.setSpacing(6)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search layers")
        self.search.setClearButtonEnabled(True)
        self.search.setObjectName("palette_search")
        self._search_icon = QAction(self.search)
        self.search.addAction(self._search_icon, QLineEdit.ActionPosition.LeadingPosition)
        layout.addWidget(self.search)
        self.tree = LayerTree()
        layout.addWidget(self.tree, 1)
        self.empty = dim_label("No layer matches.\nTry another word.", wrap=False)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.hide()
        layout.addWidget(self.empty)
        self.hint = dim_label("Drag a layer onto the canvas,\nor double-click to add it.",
                              wrap=False)
        self.hint.setFont(style.font("small"))
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.hint)
        self._categories: dict[str, QTreeWidgetItem] = {}
        self._items: dict[str, QTreeWidgetItem] = {}
        self._build()
        self.search.textChanged.connect(self.filter)
        self.search.returnPressed.connect(self._activate_first_visible)
        self.tree.itemActivated.connect(self._activated)
        self.tree.itemDoubleClicked.connect(self._activated)

    def _build(self) -> None:
        self.tree.clear()
        category_font = style.font("small", bold=True)
        for cid, title, layers in catalog.by_category():
            if not layers:
                continue
            cat = QTreeWidgetItem([title.upper()])
            cat.setSizeHint(0, QSize(0, 30))
            cat.setTextAlignment(0, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom)
            cat.setFont(0, category_font)
            cat.setFlags(Qt.ItemFlag.ItemIsEnabled)
            cat.setData(0, Qt.ItemDataRole.UserRole, cid)
            self.tree.addTopLevelItem(cat)
            self._categories[cid] = cat
            for spec in layers:
                item = QTreeWidgetItem([spec.title])
                item.setSizeHint(0, QSize(0, 24))
                item.setData(0, LAYER_ROLE, spec.id)
                item.setToolTip(0, f"<b>{spec.title}</b><br>{spec.description}")
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                              | Qt.ItemFlag.ItemIsDragEnabled)
                cat.addChild(item)
                self._items[spec.id] = item
            cat.setExpanded(True)
        self.setMinimumWidth(self._readable_width())
        self.refresh_theme()

    def _readable_width(self) -> int:
        """Wide enough for the longest layer name whole ("AdaptiveMaxPool2d", not
        "AdaptiveMaxPool..."): indent, swatch and scroll bar beside the text."""
        metrics = self.tree.fontMetrics()
        longest = max((metrics.horizontalAdvance(item.text(0)) for item in self._items.values()),
                      default=0)
        scroll = self.tree.verticalScrollBar().sizeHint().width()
        margins = self.layout().contentsMargins()
        return longest + PALETTE_ITEM_CHROME + scroll + margins.left() + margins.right()

    def refresh_theme(self) -> None:
        """Recolour swatches and the search icon after a theme switch."""
        t = theme.current()
        self._search_icon.setIcon(style.icon("search", t.text_dim))
        for cid, cat in self._categories.items():
            cat.setForeground(0, QColor(t.text_dim))
            for i in range(cat.childCount()):
                cat.child(i).setIcon(0, style.swatch(theme.category_color(cid), 12))

    def filter(self, text: str) -> int:
        """Show layers whose title, id, category or description contains every word typed."""
        words = text.lower().split()
        shown = 0
        for cid, cat in self._categories.items():
            visible_in_cat = 0
            for i in range(cat.childCount()):
                item = cat.child(i)
                spec = catalog.spec(item.data(0, LAYER_ROLE))
                haystack = " ".join((spec.id, spec.title, cid, cat.text(0),
                                     spec.description)).lower()
                match = all(w in haystack for w in words)
                item.setHidden(not match)
                visible_in_cat += match
            cat.setHidden(visible_in_cat == 0)
            if words and visible_in_cat:
                cat.setExpanded(True)
            shown += visible_in_cat
        self.empty.setVisible(shown == 0)
        return shown

    def visible_layers(self) -> list[str]:
        """Ids of the layers the filter currently shows (tests, keyboard activation)."""
        return [lid for lid, item in self._items.items()
                if not item.isHidden() and not item.parent().isHidden()]

    def _activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        layer_id = item.data(0, LAYER_ROLE)
        if layer_id:
            self.layer_activated.emit(layer_id)
        else:
            item.setExpanded(not item.isExpanded())

    def _activate_first_visible(self) -> None:
        visible = self.visible_layers()
        if visible and self.search.text().strip():
            self.layer_activated.emit(visible[0])
