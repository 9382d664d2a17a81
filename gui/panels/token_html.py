"""Words coloured by one hidden unit, as rich text for the Sequences panel: each token on a
diverging colour of its activation, a line per sample with its label, and the scale's legend."""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtGui import QColor

from gui import style, theme

if TYPE_CHECKING:
    from runtime.sequences import TokenActivations

NEGATIVE, POSITIVE = "#3f7fd8", "#e04a3c"


def unit_color(value: float, vmax: float, base: str) -> str:
    """``value`` on a diverging scale: ``base`` at 0, blue at -vmax, red at +vmax."""
    if not vmax or not math.isfinite(value):
        return base
    t = max(-1.0, min(1.0, value / vmax))
    return style.mix(base, POSITIVE if t > 0 else NEGATIVE, abs(t) ** 0.8 * 0.9)


def readable_text(background: str) -> str:
    c = QColor(background)
    return "#111111" if 0.299 * c.red() + 0.587 * c.green() + 0.114 * c.blue() > 140 else \
        "#f4f4f4"


def tokens_html(view: TokenActivations, unit: int, tokenizer: str = "word") -> str:
    """The shown samples as rich text: each token on its unit's colour, a line per sample."""
    t = theme.current()
    values = view.values
    vmax = max((float(np.abs(v[:, unit]).max()) for v in values if len(v)), default=0.0)
    joiner = "" if tokenizer == "char" else " "
    rows = []
    for index, tokens, vals, label, predicted in zip(
            view.indices, view.tokens, values, view.labels, view.predicted,
            strict=False):
        parts = []
        for token, value in zip(tokens, vals[:, unit] if len(vals) else [], strict=False):
            bg = unit_color(float(value), vmax, t.base)
            shown = html.escape(token).replace(" ", "&nbsp;") or "&nbsp;"
            parts.append(f'<span style="background-color:{bg}; color:{readable_text(bg)}"'
                         f' title="{float(value):+.3f}">&nbsp;{shown}&nbsp;</span>')
        verdict = ""
        if label:
            ok = predicted == label
            mark = t.ok if ok else t.error
            guess = "" if ok or not predicted else f" (predicted {html.escape(predicted)})"
            verdict = (f'<span style="color:{mark}">\u25cf</span> '
                       f'<b>{html.escape(label)}</b>{guess}&nbsp;&nbsp;')
        rows.append(f'<p style="margin:0 0 7px 0; line-height:150%">'
                    f'<span style="color:{t.text_dim}">#{index}</span>&nbsp;{verdict}'
                    f'{joiner.join(parts)}</p>')
    return "".join(rows)


def legend_html(vmax: float) -> str:
    t = theme.current()
    cells = []
    for step in np.linspace(-1, 1, 9):
        bg = unit_color(step * vmax, vmax, t.base)
        cells.append(f'<span style="background-color:{bg}">&nbsp;&nbsp;&nbsp;</span>')
    return (f'<span style="color:{t.text_dim}">{-vmax:+.2f}</span>&nbsp;{"".join(cells)}'
            f'&nbsp;<span style="color:{t.text_dim}">{vmax:+.2f}</span>')
