"""The look of the whole application: palette, stylesheet, fonts and icons from gui/theme.py.

One place turns a ``Theme`` into Qt styling, so every widget (and pyqtgraph) follows a theme
switch. Icons are the line SVGs in resources/icons drawn with ``currentColor``; they are
recoloured per theme and rendered at 1x and 2x so they stay crisp on high-DPI screens.
"""

from __future__ import annotations

import os
import tempfile
from functools import lru_cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontDatabase, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

from gui import theme as themes
from gui.theme import Theme

ICON_DIR = Path(__file__).resolve().parent.parent / "resources" / "icons"

# One type scale, in points relative to the system UI font size.
SCALE = {"small": -1, "base": 0, "large": 2, "title": 4}
_base_point_size = 10.0


def mix(a: str, b: str, t: float) -> str:
    """Colour ``t`` of the way from ``a`` to ``b`` (hover and selection shades)."""
    ca, cb = QColor(a), QColor(b)
    return QColor(
        round(ca.red() + (cb.red() - ca.red()) * t),
        round(ca.green() + (cb.green() - ca.green()) * t),
        round(ca.blue() + (cb.blue() - ca.blue()) * t),
    ).name()


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours (1 to 21)."""
    def luminance(colour: str) -> float:
        c = QColor(colour)
        linear = [v / 255 / 12.92 if v / 255 <= 0.03928 else ((v / 255 + 0.055) / 1.055) ** 2.4
                  for v in (c.red(), c.green(), c.blue())]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


CONTROL_CONTRAST = 3.0  # WCAG's least contrast for the parts of a control one must see


def indicator_border(t: Theme) -> str:
    """The ring of check boxes and radio buttons: the theme's border moved toward its text
    just far enough to stand out from the window and from input fields."""
    for step in range(21):
        colour = mix(t.border, t.text, step / 20)
        if min(contrast(colour, t.window), contrast(colour, t.base)) >= CONTROL_CONTRAST:
            return colour
    return t.text


def font(size: str = "base", bold: bool = False, mono: bool = False) -> QFont:
    """A font from the one scale: the system UI font (or fixed font) at a scale step."""
    f = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont) if mono else QFont(
        QApplication.font())
    f.setPointSizeF(max(6.0, _base_point_size + SCALE.get(size, 0)))
    f.setBold(bold)
    return f


def _svg_text(name: str) -> str:
    path = ICON_DIR / f"{name}.svg"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


@lru_cache(maxsize=512)
def pixmap(name: str, size: int, color: str, ratio: float = 1.0) -> QPixmap:
    """The icon ``name`` drawn in ``color`` at ``size`` logical pixels."""
    pm = QPixmap(round(size * ratio), round(size * ratio))
    pm.fill(Qt.GlobalColor.transparent)
    text = _svg_text(name)
    if text:
        renderer = QSvgRenderer(QByteArray(text.replace("currentColor", color).encode()))
        painter = QPainter(pm)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter, QRectF(0, 0, pm.width(), pm.height()))
        painter.end()
    pm.setDevicePixelRatio(ratio)
    return pm


def icon(name: str, color: str | None = None) -> QIcon:
    """A themed icon with normal, active and disabled looks at 16-32 px, 1x and 2x."""
    t = themes.current()
    normal = color or t.text
    disabled = mix(t.window, normal, 0.35)
    result = QIcon()
    for size in (16, 20, 24, 32):
        for ratio in (1.0, 2.0):
            result.addPixmap(pixmap(name, size, normal, ratio), QIcon.Mode.Normal)
            result.addPixmap(pixmap(name, size, normal, ratio), QIcon.Mode.Active)
            result.addPixmap(pixmap(name, size, disabled, ratio), QIcon.Mode.Disabled)
    return result


def swatch(color: str, size: int = 12) -> QIcon:
    """A small rounded colour square (category swatches in the palette)."""
    result = QIcon()
    for ratio in (1.0, 2.0):
        pm = QPixmap(round(size * ratio), round(size * ratio))
        pm.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pm)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(color))
        r = pm.width()
        painter.drawRoundedRect(QRectF(r * 0.1, r * 0.1, r * 0.8, r * 0.8), r * 0.2, r * 0.2)
        painter.end()
        pm.setDevicePixelRatio(ratio)
        result.addPixmap(pm)
    return result


_arrow_dir: str | None = None


def _arrow_files(t: Theme) -> dict[str, str]:
    """Small arrow and check SVGs in the theme's colour, for stylesheet ``image: url()``."""
    global _arrow_dir
    if _arrow_dir is None:
        _arrow_dir = tempfile.mkdtemp(prefix="plexus-style-")
    shapes = {
        "down": '<path d="M6 9.5l6 6 6-6"/>',
        "up": '<path d="M6 14.5l6-6 6 6"/>',
        "right": '<path d="M9.5 6l6 6-6 6"/>',
        "check": '<path d="M5.5 12.5l4.5 4.5 8.5-9.5"/>',
    }
    files = {}
    for name, body in shapes.items():
        for variant, color in (("", t.text_dim), ("-on", t.text), ("-white", "#f4f6f8"),
                               ("-faint", mix(t.base, t.text_dim, 0.35))):
            path = os.path.join(_arrow_dir, f"{t.name}-{name}{variant}.svg")
            if not os.path.exists(path):
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(
                        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" '
                        f'width="24" height="24" fill="none" stroke="{color}" '
                        'stroke-width="2.4" stroke-linecap="round" stroke-linejoin="round">'
                        f"{body}</svg>")
            files[name + variant] = path.replace(os.sep, "/")
    return files


def palette(t: Theme) -> QPalette:
    p = QPalette()
    role, group = QPalette.ColorRole, QPalette.ColorGroup
    colors = {
        role.Window: t.window, role.WindowText: t.text, role.Base: t.base,
        role.AlternateBase: mix(t.base, t.window, 0.5), role.ToolTipBase: t.node_body,
        role.ToolTipText: t.text, role.PlaceholderText: t.text_dim, role.Text: t.text,
        role.Button: t.node_body, role.ButtonText: t.text, role.BrightText: t.error,
        role.Highlight: t.accent, role.HighlightedText: "#f4f6f8", role.Link: t.accent,
        role.Light: mix(t.node_body, t.text, 0.2), role.Midlight: mix(t.node_body, t.text, 0.1),
        role.Mid: t.border, role.Dark: mix(t.window, t.base, 0.5), role.Shadow: t.base,
    }
    for r, c in colors.items():
        p.setColor(r, QColor(c))
    for r in (role.WindowText, role.Text, role.ButtonText):
        p.setColor(group.Disabled, r, QColor(mix(t.window, t.text_dim, 0.7)))
    return p


def stylesheet(t: Theme) -> str:
    """The application stylesheet: flat surfaces, one accent, rounded inputs."""
    a = _arrow_files(t)
    hover = mix(t.window, t.text, 0.08)
    pressed = mix(t.window, t.text, 0.14)
    header = mix(t.window, t.base, 0.55)
    select = mix(t.base, t.accent, 0.35)
    field_border = mix(t.border, t.text, 0.08)
    ring = indicator_border(t)
    return f"""
QMainWindow, QDialog {{ background: {t.window}; }}
QMainWindow::separator {{ background: {t.border}; width: 1px; height: 1px; }}
QMainWindow::separator:hover {{ background: {t.accent}; }}
QToolTip {{ background: {t.node_body}; color: {t.text}; border: 1px solid {t.border};
    padding: 4px 6px; }}

QMenuBar {{ background: {t.window}; border-bottom: 1px solid {t.border}; padding: 1px 4px; }}
QMenuBar::item {{ padding: 4px 9px; border-radius: 4px; background: transparent; }}
QMenuBar::item:selected {{ background: {hover}; }}
QMenu {{ background: {t.node_body}; border: 1px solid {t.border}; padding: 4px; }}
QMenu::item {{ padding: 5px 28px 5px 10px; border-radius: 4px; }}
QMenu::item:selected {{ background: {t.accent}; color: #f4f6f8; }}
QMenu::item:disabled {{ color: {mix(t.node_body, t.text_dim, 0.6)}; }}
QMenu::separator {{ height: 1px; background: {t.border}; margin: 4px 6px; }}
QMenu::icon {{ padding-left: 6px; }}

QToolBar {{ background: {t.window}; border: none; border-bottom: 1px solid {t.border};
    padding: 3px 6px; spacing: 2px; }}
QToolBar::separator {{ background: {t.border}; width: 1px; margin: 5px 6px; }}
QToolButton {{ background: transparent; border: 1px solid transparent; border-radius: 5px;
    padding: 4px; }}
QToolButton:hover {{ background: {hover}; border-color: {t.border}; }}
QToolButton:pressed, QToolButton:checked {{ background: {pressed}; }}

QDockWidget {{ color: {t.text_dim}; }}
QDockWidget::title {{ background: {header}; padding: 5px 8px; text-align: left;
    border-bottom: 1px solid {t.border}; }}
QDockWidget > QWidget {{ background: {t.window}; }}
QWidget#dock_title {{ background: {header}; border-bottom: 1px solid {t.border}; }}
QLabel#dock_title_label {{ color: {t.text_dim}; }}
QWidget#dock_title QToolButton {{ padding: 2px; border-radius: 3px; }}
QTabBar {{ qproperty-drawBase: 0; background: {header}; }}
QTabBar::tab {{ background: {header}; color: {t.text_dim}; padding: 6px 16px;
    border: none; border-top: 2px solid transparent; margin: 0; }}
QTabBar::tab:selected {{ background: {t.window}; color: {t.text};
    border-top: 2px solid {t.accent}; }}
QTabBar::tab:hover:!selected {{ background: {hover}; color: {t.text}; }}
QTabWidget::pane {{ border: 1px solid {t.border}; top: -1px; }}

QStatusBar {{ background: {header}; color: {t.text_dim}; border-top: 1px solid {t.border}; }}
QStatusBar::item {{ border: none; }}
QStatusBar QLabel {{ color: {t.text_dim}; padding: 0 6px; }}

QLineEdit, QSpinBox, QDoubleSpinBox, QComboBox, QPlainTextEdit, QTextEdit {{
    background: {t.base}; color: {t.text}; border: 1px solid {field_border};
    border-radius: 4px; padding: 2px 6px; selection-background-color: {t.accent};
    selection-color: #f4f6f8; }}
QLineEdit, QComboBox {{ min-height: 20px; }}
QAbstractSpinBox QLineEdit {{ border: none; padding: 0; margin: 0; min-height: 0;
    background: transparent; }}
QLineEdit:focus, QSpinBox:focus, QDoubleSpinBox:focus, QComboBox:focus,
QPlainTextEdit:focus, QTextEdit:focus {{ border-color: {t.accent}; }}
QLineEdit:disabled, QSpinBox:disabled, QDoubleSpinBox:disabled, QComboBox:disabled {{
    color: {t.text_dim}; background: {t.window}; }}
QLineEdit[invalid="true"] {{ border-color: {t.error}; }}
QSpinBox, QDoubleSpinBox {{ padding: 2px 18px 2px 2px; min-height: 20px; }}
QSpinBox::up-button, QDoubleSpinBox::up-button {{ subcontrol-origin: border;
    subcontrol-position: top right; width: 16px; border: none;
    border-top-right-radius: 4px; margin: 1px 1px 0 0; }}
QSpinBox::down-button, QDoubleSpinBox::down-button {{ subcontrol-origin: border;
    subcontrol-position: bottom right; width: 16px; border: none;
    border-bottom-right-radius: 4px; margin: 0 1px 1px 0; }}
QSpinBox::up-button:hover, QDoubleSpinBox::up-button:hover,
QSpinBox::down-button:hover, QDoubleSpinBox::down-button:hover {{ background: {hover}; }}
QSpinBox::up-arrow, QDoubleSpinBox::up-arrow {{ image: url({a['up']}); width: 9px;
    height: 9px; }}
QSpinBox::down-arrow, QDoubleSpinBox::down-arrow {{ image: url({a['down']}); width: 9px;
    height: 9px; }}
QSpinBox::up-arrow:disabled, QSpinBox::up-arrow:off, QDoubleSpinBox::up-arrow:disabled,
QDoubleSpinBox::up-arrow:off {{ image: url({a['up-faint']}); }}
QSpinBox::down-arrow:disabled, QSpinBox::down-arrow:off,
QDoubleSpinBox::down-arrow:disabled, QDoubleSpinBox::down-arrow:off {{
    image: url({a['down-faint']}); }}
QComboBox {{ padding-right: 22px; }}
QComboBox::drop-down {{ border: none; width: 20px; }}
QComboBox::down-arrow {{ image: url({a['down']}); width: 10px; height: 10px; }}
QComboBox::down-arrow:on {{ image: url({a['down-on']}); }}
QComboBox QAbstractItemView {{ background: {t.node_body}; border: 1px solid {t.border};
    selection-background-color: {t.accent}; selection-color: #f4f6f8; outline: 0; }}

QCheckBox, QRadioButton {{ spacing: 6px; }}
QCheckBox::indicator {{ width: 14px; height: 14px; border: 1px solid {ring};
    border-radius: 3px; background: {t.base}; }}
QCheckBox::indicator:hover, QRadioButton::indicator:hover {{ border-color: {t.accent}; }}
QCheckBox::indicator:checked {{ background: {t.accent}; border-color: {t.accent};
    image: url({a['check-white']}); }}
QRadioButton::indicator {{ width: 14px; height: 14px; border: 1px solid {ring};
    border-radius: 8px; background: {t.base}; }}
QRadioButton::indicator:checked {{ border-color: {t.accent}; background: qradialgradient(
    cx: 0.5, cy: 0.5, radius: 0.5, fx: 0.5, fy: 0.5, stop: 0 #f4f6f8, stop: 0.38 #f4f6f8,
    stop: 0.48 {t.accent}, stop: 1 {t.accent}); }}

QPushButton {{ background: {t.node_body}; color: {t.text}; border: 1px solid {t.border};
    border-radius: 4px; padding: 4px 12px; }}
QPushButton:hover {{ background: {mix(t.node_body, t.text, 0.08)}; }}
QPushButton:pressed {{ background: {mix(t.node_body, t.text, 0.14)}; }}
QPushButton:default {{ border-color: {t.accent}; }}
QPushButton:disabled {{ color: {t.text_dim}; }}

QTreeView, QListView, QTableView, QTreeWidget, QListWidget, QTableWidget {{
    background: {t.base}; alternate-background-color: {mix(t.base, t.window, 0.5)};
    border: none; outline: 0; selection-background-color: {select};
    selection-color: {t.text}; gridline-color: {t.border}; }}
QTreeWidget#palette_tree {{ background: {t.window}; }}
QTreeView::item, QListView::item {{ padding: 3px 2px; min-height: 20px; }}
QTreeView::item:hover, QListView::item:hover {{ background: {hover}; }}
QTreeView::item:selected, QListView::item:selected {{ background: {select};
    color: {t.text}; }}
QTreeView::branch:has-children:!has-siblings:closed, QTreeView::branch:closed:has-children {{
    image: url({a['right']}); }}
QTreeView::branch:open:has-children {{ image: url({a['down']}); }}
QHeaderView::section {{ background: {header}; color: {t.text_dim}; border: none;
    border-right: 1px solid {t.border}; border-bottom: 1px solid {t.border};
    padding: 3px 6px; }}
QTableCornerButton::section {{ background: {header}; border: none; }}

QScrollBar:vertical {{ background: transparent; width: 10px; margin: 0; }}
QScrollBar:horizontal {{ background: transparent; height: 10px; margin: 0; }}
QScrollBar::handle {{ background: {mix(t.window, t.text, 0.22)}; border-radius: 4px;
    min-height: 24px; min-width: 24px; margin: 2px; }}
QScrollBar::handle:hover {{ background: {mix(t.window, t.text, 0.35)}; }}
QScrollBar::add-line, QScrollBar::sub-line {{ width: 0; height: 0; }}
QScrollBar::add-page, QScrollBar::sub-page {{ background: none; }}
QScrollArea {{ border: none; background: transparent; }}
QScrollArea > QWidget > QWidget {{ background: transparent; }}

QLabel[role="section"] {{ color: {t.text_dim}; font-weight: bold; padding: 10px 0 2px 0; }}
QLabel[role="dim"] {{ color: {t.text_dim}; }}
QLabel[role="title"] {{ color: {t.text}; font-weight: bold; }}
QLabel[role="error"] {{ color: {t.error}; }}
QLabel[role="ok"] {{ color: {t.ok}; }}
QLabel[role="warning"] {{ color: {t.warning}; }}
QFrame[role="rule"] {{ background: {t.border}; max-height: 1px; min-height: 1px;
    border: none; }}
QFrame[role="card"] {{ background: {mix(t.window, t.base, 0.5)}; border: 1px solid {t.border};
    border-radius: 6px; }}
QProgressBar {{ background: {t.base}; border: 1px solid {t.border}; border-radius: 4px;
    text-align: center; color: {t.text}; max-height: 14px; }}
QProgressBar::chunk {{ background: {t.accent}; border-radius: 3px; }}
"""


def apply_theme(name: str, app: QApplication | None = None) -> Theme:
    """Switch the application (palette, stylesheet, pyqtgraph defaults) to theme ``name``."""
    global _base_point_size
    t = themes.set_current(name)
    app = app or QApplication.instance()
    if app is None:
        return t
    if not app.property("plexus_styled"):
        app.setStyle("Fusion")
        size = app.font().pointSizeF()
        _base_point_size = size if size >= 9 else 10.0
        f = QFont(app.font())
        f.setPointSizeF(_base_point_size)
        app.setFont(f)
        app.setProperty("plexus_styled", True)
    app.setPalette(palette(t))
    app.setStyleSheet(stylesheet(t))
    icon_cache_clear()
    try:
        import pyqtgraph as pg

        pg.setConfigOptions(background=t.window, foreground=t.text_dim, antialias=True)
    except ImportError:  # pragma: no cover - pyqtgraph is a dependency
        pass
    return t


def icon_cache_clear() -> None:
    """Forget rendered icons (after a theme switch their colour changes)."""
    pixmap.cache_clear()


def icon_size() -> QSize:
    return QSize(20, 20)
